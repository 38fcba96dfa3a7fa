//! argh arguments of the `network` category: argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use argh::FromArgs;

/// List the network interfaces in the net-tools ifconfig format (those that are up; -a for all).
#[derive(FromArgs, Debug)]
pub struct ListArgs {
    /// show every interface, also those that are down
    #[argh(switch, short = 'a')]
    pub all: bool,
    /// print JSON with the same fields instead of the ifconfig text
    #[argh(switch)]
    pub json: bool,
}

/// Parses `network list`.
pub fn parse_list(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ListArgs::from_args(name, args)?;
    Ok(Action::NetworkList { all: parsed.all, json: parsed.json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches() {
        let name = ["sensorctl", "network", "list"];
        assert_eq!(parse_list(&name, &[]).unwrap(), Action::NetworkList { all: false, json: false });
        assert_eq!(parse_list(&name, &["-a", "--json"]).unwrap(), Action::NetworkList { all: true, json: true });
        assert_eq!(parse_list(&name, &["--all"]).unwrap(), Action::NetworkList { all: true, json: false });
        assert!(parse_list(&name, &["eth0"]).is_err());
        assert!(parse_list(&name, &["-x"]).is_err());
    }
}
