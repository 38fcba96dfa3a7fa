//! argh arguments of `daemon` / `sensord`: argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// Serve the privileged daemon socket (<root>/run/sensorctl/sensord.sock) for callers who are
/// not root. Root only; runs until killed.
#[derive(FromArgs, Debug)]
pub struct DaemonArgs {}

/// Parses `daemon` / `sensord`.
pub fn parse(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    DaemonArgs::from_args(name, args)?;
    Ok(Action::Daemon {})
}
