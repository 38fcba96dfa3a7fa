//! argh arguments of the `ntp` category (also reached as `system ntp …` and through the
//! `cyberx-xsense-ntp-enable|disable` aliases): argv → [`Action`].
//!
//! The server address is validated here, at the edge, so that a bad one is a usage error
//! (exit 2) before anything runs; the domain code checks it again for requests that do not
//! come through argv. Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// Synchronise the clock with an NTP server (IPv4, port 123) and keep it in the server list.
#[derive(FromArgs, Debug)]
pub struct EnableArgs {
    /// the NTP server's IPv4 address, e.g. 129.6.15.28
    #[argh(positional)]
    pub server: String,
}

/// Remove an NTP server from the server list.
#[derive(FromArgs, Debug)]
pub struct DisableArgs {
    /// the NTP server's IPv4 address
    #[argh(positional)]
    pub server: String,
}

/// Show the NTP servers and the last sync: time, offset, delay and stratum.
#[derive(FromArgs, Debug)]
pub struct StatusArgs {
    /// print JSON
    #[argh(switch)]
    pub json: bool,
}

/// Ask an NTP server for the time and show the offset; changes neither the clock nor the list.
#[derive(FromArgs, Debug)]
pub struct QueryArgs {
    /// the NTP server's IPv4 address
    #[argh(positional)]
    pub server: String,
    /// print JSON
    #[argh(switch)]
    pub json: bool,
}

/// A validation error in argh's shape: printed on stderr as one line, exit 2.
fn checked(server: String) -> Result<crate::validate::Host, argh::EarlyExit> {
    crate::validate::Host::parse(&server).map_err(|err| argh::EarlyExit { output: err.to_string(), status: Err(()) })
}

/// Parses `ntp enable` / `system ntp enable` / `cyberx-xsense-ntp-enable`.
pub fn parse_enable(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = EnableArgs::from_args(name, args)?;
    Ok(Action::NtpEnable { server: checked(parsed.server)? })
}

/// Parses `ntp disable` / `system ntp disable` / `cyberx-xsense-ntp-disable`.
pub fn parse_disable(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = DisableArgs::from_args(name, args)?;
    Ok(Action::NtpDisable { server: checked(parsed.server)? })
}

/// Parses `ntp status` / `system ntp status`.
pub fn parse_status(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = StatusArgs::from_args(name, args)?;
    Ok(Action::NtpStatus { json: parsed.json })
}

/// Parses `ntp query` / `system ntp query`.
pub fn parse_query(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = QueryArgs::from_args(name, args)?;
    Ok(Action::NtpQuery { server: checked(parsed.server)?, json: parsed.json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_at_the_edge() {
        assert_eq!(
            parse_enable(&["ntp", "enable"], &["10.0.0.1"]).unwrap(),
            Action::NtpEnable { server: "10.0.0.1".into() }
        );
        assert_eq!(
            parse_query(&["ntp", "query"], &["--json", "127.0.0.1"]).unwrap(),
            Action::NtpQuery { server: "127.0.0.1".into(), json: true }
        );
        let err = parse_disable(&["ntp", "disable"], &["999.1.1.1"]).unwrap_err();
        assert_eq!(err.status, Err(()));
        assert!(err.output.starts_with("invalid IPv4 address '999.1.1.1'"), "{}", err.output);
        assert!(parse_enable(&["ntp", "enable"], &[]).is_err());
        assert!(parse_enable(&["ntp", "enable"], &["1.2.3.4", "5.6.7.8"]).is_err());
    }
}
