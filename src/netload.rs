//! `network load` / `cyberx-nload`: how much each interface receives and sends, sampled once a
//! second for six seconds (`--seconds N`), in the reference CLI's nload shape:
//!
//! ```text
//! eth0:
//!         Received: 66.95 KBit/s Sent: 87.94 KBit/s
//! local_listener (virtual adiot0):
//!         Received: 0.0 Bit Sent: 0.0 Bit
//! ```
//!
//! Every interface that is up except loopback, or the one `--interface` names; a monitor
//! interface of the board is shown by its label. All samples of one interface are printed
//! together once the sampling is over, as the reference does.
//!
//! Each sample is one `RTM_GETLINK` dump: the kernel's 64-bit byte counters of every interface at
//! once. A rate is the counter difference over the monotonic time that actually passed between
//! the two dumps, not the nominal second, so a late wake-up does not inflate it. Units are
//! decimal (1 KBit = 1000 bit, as `tc`'s and `network limit`'s kbit); a sample with no traffic
//! at all reads `0.0 Bit`, exactly as the reference prints it.
//!
//! The waits are plain blocking sleeps to deadlines one second apart on the monotonic clock
//! (so that they do not drift), not smol timers: an action runs synchronously, on the caller's
//! thread or, in the daemon, on the request's own thread, so the sleep holds only
//! that thread and the daemon's reactor goes on serving; a timer would need a `block_on` there
//! to do the same thing.
//!
//! Needs no privileges: any user may dump the links of its network namespace.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::sys::clock::monotonic;
use crate::sys::netlink::{Link, RouteSocket};
use crate::validate::IfName;
use nanoserde::SerJson;
use std::io::Write;
use std::time::Duration;

/// Samples taken when `--seconds` is not given, as the reference CLI.
pub const DEFAULT_SECONDS: u32 = 6;

/// The most samples one run may take (an hour).
pub const MAX_SECONDS: u32 = 3600;

/// One sample of one interface, in bits per second.
#[derive(Clone, Copy, Debug, PartialEq, SerJson)]
pub struct Sample {
    /// Time that actually passed since the previous sample, in seconds.
    pub seconds: f64,
    /// Received.
    pub rx_bits_per_second: f64,
    /// Sent.
    pub tx_bits_per_second: f64,
}

/// One interface's samples.
#[derive(Clone, Debug, PartialEq, SerJson)]
pub struct InterfaceLoad {
    /// The kernel's name.
    pub name: String,
    /// The board's label for a monitor interface (`local_listener`).
    pub label: Option<String>,
    /// One per second; fewer if the interface disappeared while it was being sampled.
    pub samples: Vec<Sample>,
}

#[derive(SerJson)]
struct Report {
    interfaces: Vec<InterfaceLoad>,
}

/// Samples `seconds` times, one second apart, and prints the report.
pub fn run(ctx: &Context, interface: Option<&IfName>, seconds: u32, json: bool, out: &mut dyn Write) -> Result<Status> {
    if !(1..=MAX_SECONDS).contains(&seconds) {
        return Err(Error::Usage(format!("--seconds {seconds}: must be 1-{MAX_SECONDS}")));
    }
    let board = ctx.board()?;
    let mut socket = RouteSocket::open().map_err(|source| Error::Sys { call: "socket(AF_NETLINK, NETLINK_ROUTE)", source })?;
    let mut dump = || socket.links().map_err(|source| Error::Sys { call: "RTM_GETLINK dump", source });

    let mut previous = dump()?;
    let start = monotonic();
    let mut then = start;
    let chosen: Vec<&Link> = match interface {
        Some(name) => {
            let link = name.in_dump(&previous)?;
            vec![link]
        }
        None => previous
            .iter()
            .filter(|l| l.flags & libc::IFF_UP as u32 != 0 && l.hw_type != libc::ARPHRD_LOOPBACK)
            .collect(),
    };
    let mut loads: Vec<(u32, InterfaceLoad)> = chosen
        .iter()
        .map(|link| {
            let name = crate::validate::system_text(&link.name);
            let label = board.monitor_interfaces.iter().find(|m| m.device.as_str() == name).map(|m| m.label.clone());
            (link.index, InterfaceLoad { name, label, samples: Vec::new() })
        })
        .collect();
    let mut gone = vec![false; loads.len()];

    for k in 1..=u64::from(seconds) {
        let deadline = start + Duration::from_secs(k);
        let now = monotonic();
        if deadline > now && !ctx.cancel.sleep(deadline - now) {
            // Ctrl-C, or the daemon's caller went away: what was sampled so far is reported.
            break;
        }
        let current = dump()?;
        let now = monotonic();
        // At least a nanosecond: the clock is monotonic, but a rate must never divide by zero.
        let elapsed = now.saturating_sub(then).as_secs_f64().max(1e-9);
        then = now;
        for ((index, load), gone) in loads.iter_mut().zip(gone.iter_mut()) {
            let before = previous.iter().find(|l| l.index == *index).and_then(|l| l.stats);
            let after = current.iter().find(|l| l.index == *index).and_then(|l| l.stats);
            match (before, after) {
                _ if *gone => {}
                (Some(before), Some(after)) => load.samples.push(Sample {
                    seconds: elapsed,
                    rx_bits_per_second: rate(before.rx_bytes, after.rx_bytes, elapsed),
                    tx_bits_per_second: rate(before.tx_bytes, after.tx_bytes, elapsed),
                }),
                // The interface went away: no more samples.
                _ => *gone = true,
            }
        }
        previous = current;
    }

    let loads: Vec<InterfaceLoad> = loads.into_iter().map(|(_, load)| load).collect();
    if json {
        emit(out, &Report { interfaces: loads }.serialize_json())?;
        return Ok(Status::Ok);
    }
    for load in &loads {
        match &load.label {
            Some(label) => emit(out, &format!("{label} (virtual {}):", load.name))?,
            None => emit(out, &format!("{}:", load.name))?,
        }
        for sample in &load.samples {
            emit(
                out,
                &format!(
                    "        Received: {} Sent: {}",
                    format_rate(sample.rx_bits_per_second),
                    format_rate(sample.tx_bits_per_second)
                ),
            )?;
        }
    }
    Ok(Status::Ok)
}

/// Bits per second from two byte counters. A counter that went backwards (the device was
/// reset) gives 0 for that sample rather than a huge number.
fn rate(before: u64, after: u64, seconds: f64) -> f64 {
    after.saturating_sub(before) as f64 * 8.0 / seconds
}

/// A rate as the reference prints it: two decimals in the largest unit that keeps the number
/// below 1000 (`66.95 KBit/s`), and `0.0 Bit` for no traffic at all.
pub fn format_rate(bits_per_second: f64) -> String {
    if bits_per_second <= 0.0 || !bits_per_second.is_finite() {
        return "0.0 Bit".to_string();
    }
    const UNITS: [(&str, f64); 4] = [("Bit/s", 1.0), ("KBit/s", 1e3), ("MBit/s", 1e6), ("GBit/s", 1e9)];
    let mut chosen = UNITS[0];
    for unit in UNITS {
        if bits_per_second >= unit.1 {
            chosen = unit;
        }
    }
    let mut value = bits_per_second / chosen.1;
    // 999.996 KBit/s would print as 1000.00 KBit/s: move up a unit instead.
    if (value * 100.0).round() >= 100_000.0 {
        if let Some(next) = UNITS.iter().skip_while(|u| u.0 != chosen.0).nth(1) {
            chosen = *next;
            value = bits_per_second / chosen.1;
        }
    }
    format!("{value:.2} {}", chosen.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_in_the_reference_shape() {
        assert_eq!(format_rate(0.0), "0.0 Bit");
        assert_eq!(format_rate(66_950.0), "66.95 KBit/s");
        assert_eq!(format_rate(191_470.0), "191.47 KBit/s");
        assert_eq!(format_rate(8.0), "8.00 Bit/s");
        assert_eq!(format_rate(999.0), "999.00 Bit/s");
        assert_eq!(format_rate(1000.0), "1.00 KBit/s");
        assert_eq!(format_rate(999_996.0), "1.00 MBit/s");
        assert_eq!(format_rate(10_485_760.0), "10.49 MBit/s");
        assert_eq!(format_rate(2.5e9), "2.50 GBit/s");
        assert_eq!(format_rate(4.0e12), "4000.00 GBit/s");
        assert_eq!(format_rate(f64::NAN), "0.0 Bit");
    }

    #[test]
    fn rates_come_from_the_time_that_passed() {
        assert_eq!(rate(1000, 2000, 1.0), 8000.0);
        assert_eq!(rate(1000, 2000, 2.0), 4000.0);
        assert_eq!(rate(2000, 1000, 1.0), 0.0, "a reset counter is not a huge rate");
    }
}
