//! argh arguments of the `network` category: argv → [`Action`].
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::action::Action;
use crate::validate::IfName;
use argh::FromArgs;

fn usage_error(message: String) -> argh::EarlyExit {
    argh::EarlyExit { output: message, status: Err(()) }
}

/// Blink a port's LEDs so it can be found on the appliance (20 seconds; Ctrl-C stops early).
#[derive(FromArgs, Debug)]
pub struct BlinkArgs {
    /// the interface (physical port), e.g. eth0
    #[argh(positional)]
    pub interface: String,
    /// how long to blink, 1-3600 seconds (default 20)
    #[argh(option, default = "crate::blink::DEFAULT_SECONDS")]
    pub seconds: u32,
}

/// Parses `network blink`.
pub fn parse_blink(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = BlinkArgs::from_args(name, args)?;
    let interface = IfName::parse(&parsed.interface).map_err(|e| usage_error(e.to_string()))?;
    if !(1..=3600).contains(&parsed.seconds) {
        return Err(usage_error(format!("--seconds {}: must be 1-3600", parsed.seconds)));
    }
    Ok(Action::NetworkBlink { interface: interface.as_str().to_string(), seconds: parsed.seconds })
}
