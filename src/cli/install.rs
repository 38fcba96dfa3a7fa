//! argh arguments of `install`, which creates the alias symlinks: argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// Create a symlink to this binary in DIR for every alias name (like busybox --install).
/// Idempotent; refuses to replace anything that is not a symlink.
#[derive(FromArgs, Debug)]
pub struct InstallArgs {
    /// directory to create the symlinks in (must exist)
    #[argh(positional)]
    pub dir: String,
}

/// Parses `install DIR`.
pub fn parse(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = InstallArgs::from_args(name, args)?;
    let dir = crate::validate::LocalPath::parse(&parsed.dir)
        .map_err(|e| argh::EarlyExit { output: format!("install: {e}"), status: Err(()) })?;
    Ok(Action::Install { dir })
}
