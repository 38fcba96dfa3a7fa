//! argh arguments of `shell`, the restricted login shell: argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// The restricted login shell of the appliance users: runs sensorctl commands only.
#[derive(FromArgs, Debug)]
pub struct ShellArgs {
    /// log out after this many idle seconds (can only shorten the configured timeout)
    #[argh(option)]
    pub idle_timeout: Option<u64>,
}

/// Parses `shell`.
pub fn parse(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ShellArgs::from_args(name, args)?;
    let idle_timeout_s = parsed
        .idle_timeout
        .map(|s| {
            crate::validate::IdleSeconds::new(s).map_err(|_| argh::EarlyExit {
                output: if s == 0 { "--idle-timeout must be at least 1 second" } else { "--idle-timeout must be at most 86400 seconds" }
                    .to_string(),
                status: Err(()),
            })
        })
        .transpose()?;
    Ok(Action::Shell { idle_timeout_s })
}
