//! `network blink <iface>`: make a port's LEDs blink so that an engineer in front of the rack
//! can find it.
//!
//! First choice is the NIC driver's own identify function (ETHTOOL_PHYS_ID). Many drivers (and
//! veth) have none and answer EOPNOTSUPP; then the board's LED for that port, if it names one,
//! is driven through sysfs: its `trigger` is set to `timer` and the previous trigger is put back
//! afterwards — also when Ctrl-C (or a caller of the daemon who goes away) ends the blink early.
//! Without either, a clear error (exit 69) and no "Blinking" line.
//!
//! Needs CAP_NET_ADMIN for the ioctl, write access to the LED's sysfs files for the fallback.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::cancel::Cancel;
use crate::validate::IfName;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default blink time, as the reference CLI.
pub const DEFAULT_SECONDS: u32 = 20;

/// Blinks `interface` for `seconds`; `ctx.cancel` (Ctrl-C, or a caller of the daemon who went
/// away) stops it early, and the LED's trigger is put back.
///
/// One blink per port at a time: a second one is busy (exit 75) rather than fighting over the
/// LED. That lock is the port's own; a blink never holds the daemon's state lock, since it
/// waits for the clock for up to an hour.
pub fn run(ctx: &Context, interface: &IfName, seconds: u32, out: &mut dyn Write) -> Result<Status> {
    interface.index()?;
    let lock_path = ctx.root.resolve(format!("run/sensorctl/blink-{interface}.lock"));
    let _port = crate::store::lock_exclusive(&lock_path, 0o750, &format!("busy: {interface} is already blinking"))?;
    // The driver's identify function, a second at a time, so that a cancel is seen within one.
    let mut announced = false;
    for second in 0..seconds {
        if ctx.cancel.is_cancelled() {
            return stopped_early(out);
        }
        match crate::sys::ethtool::identify_port(interface.as_str(), 1) {
            Ok(()) => {
                if !announced {
                    // Said once the driver has shown it can; a port that cannot gets an error only.
                    announce(out, seconds)?;
                    announced = true;
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return stopped_early(out),
            Err(err) if second == 0 && err.raw_os_error() == Some(libc_eopnotsupp()) => {
                let board = ctx.board()?;
                let Some(led) = board.leds.iter().find(|led| led.interface == *interface) else {
                    return Err(Error::Unsupported(format!(
                        "{interface}: the driver cannot identify the port (ETHTOOL_PHYS_ID: {}) and board {} names no LED for it",
                        crate::error::strip_errno(&err),
                        board.name
                    )));
                };
                let led_dir = ctx.root.resolve(&board.led_dir).join(&led.led);
                return blink_led(&led_dir, seconds, &ctx.cancel, out);
            }
            Err(err) => return Err(Error::io("ETHTOOL_PHYS_ID on", interface.as_str(), err)),
        }
    }
    Ok(Status::Ok)
}

fn announce(out: &mut dyn Write, seconds: u32) -> Result<()> {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    emit(out, &format!("Blinking interface for {seconds} {unit} ..."))?;
    out.flush().map_err(|e| Error::io("write", "standard output", e))
}

fn stopped_early(out: &mut dyn Write) -> Result<Status> {
    emit(out, "Blinking stopped early.")?;
    Ok(Status::Ok)
}

/// `EOPNOTSUPP` as std reports it (errno 95 on Linux, every architecture).
fn libc_eopnotsupp() -> i32 {
    rustix::io::Errno::OPNOTSUPP.raw_os_error()
}

/// Drives a sysfs LED with the `timer` trigger for `seconds`, then restores its trigger.
fn blink_led(led_dir: &Path, seconds: u32, cancel: &Cancel, out: &mut dyn Write) -> Result<Status> {
    let trigger_file = led_dir.join("trigger");
    let current = std::fs::read_to_string(&trigger_file)
        .map_err(|e| Error::Unsupported(format!("LED {}: {}", led_dir.display(), crate::error::strip_errno(&e))))?;
    let previous = active_trigger(&current);
    write_trigger(&trigger_file, "timer")?;
    announce(out, seconds)?;
    let completed = cancel.sleep(Duration::from_secs(u64::from(seconds)));
    // Restore even if the sleep was cut short; report a failure to restore, it leaves a
    // blinking LED behind.
    write_trigger(&trigger_file, &previous)?;
    if completed {
        Ok(Status::Ok)
    } else {
        stopped_early(out)
    }
}

/// The active trigger in the text of a sysfs `trigger` file: the word in brackets
/// (`none [timer] heartbeat` → `timer`); a file without brackets holds just the name.
pub fn active_trigger(text: &str) -> String {
    text.split_whitespace()
        .find_map(|word| word.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .unwrap_or_else(|| text.trim())
        .to_string()
}

fn write_trigger(trigger_file: &PathBuf, trigger: &str) -> Result<()> {
    // A sysfs attribute is written in place (it is not a file that can be renamed over).
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(trigger_file)
        .and_then(|mut file| file.write_all(trigger.as_bytes()))
        .map_err(|e| Error::io("set LED trigger", trigger_file, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_trigger_is_the_bracketed_word() {
        assert_eq!(active_trigger("none rc-feedback [timer] heartbeat\n"), "timer");
        assert_eq!(active_trigger("[none] timer\n"), "none");
        assert_eq!(active_trigger("heartbeat\n"), "heartbeat");
    }
}
