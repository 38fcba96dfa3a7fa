//! `system reboot` and `system shutdown`: flush the filesystems with sync(2), then restart or
//! power off the appliance at once with reboot(2).
//!
//! There is no userspace shutdown sequence: every sensorctl write is atomic and durable, so a
//! service that is cut off leaves old or new files, never torn ones; sync(2) makes sure what
//! other programs wrote is on disk too. (The reference's cyberx `shutdown -r now` reboots; ours
//! powers off, as the command's name says.)
//!
//! Needs CAP_SYS_BOOT (root; callers without it get a clear error, exit 77). In a PID namespace
//! other than the initial one, the kernel ends that namespace's init instead of the machine,
//! which is how the tests exercise this for real.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use std::io::Write;

/// How long a caller who has read the announcement is given to show it.
const SHOW_TIME: std::time::Duration = std::time::Duration::from_millis(300);

/// What happens to the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    /// Restart (`system reboot`).
    Restart,
    /// Power off (`system shutdown`).
    PowerOff,
}

impl Power {
    /// The line the operator sees before the machine goes down.
    pub fn announcement(self) -> &'static str {
        match self {
            Power::Restart => "Rebooting the appliance ...",
            Power::PowerOff => "Powering off the appliance ...",
        }
    }

    fn call(self) -> &'static str {
        match self {
            Power::Restart => "reboot(LINUX_REBOOT_CMD_RESTART)",
            Power::PowerOff => "reboot(LINUX_REBOOT_CMD_POWER_OFF)",
        }
    }
}

/// Announces, syncs and restarts or powers off. Returns only if reboot(2) failed.
pub fn run(ctx: &Context, how: Power, out: &mut dyn Write) -> Result<Status> {
    // Said before, as nothing can be said after. A closed or broken stdout must not stop the
    // reboot the operator asked for, so a failed write is only logged.
    if let Err(err) = emit(out, how.announcement()).and_then(|()| {
        out.flush().map_err(|e| Error::io("flush", "standard output", e))
    }) {
        log::debug!("announcing the {how:?}: {err}");
    }
    // Through the daemon the flush returns once the caller has read the line; the caller still
    // has to show it before the kernel ends every process, which a loaded or emulated machine
    // can take a while to get to.
    std::thread::sleep(SHOW_TIME);
    log::info!("syncing filesystems before {}", how.call());
    crate::sys::reboot::sync();
    log::warn!(
        "{} (uid {}, role {}): filesystems synced, calling {}",
        ctx.caller.user_name(),
        ctx.caller.uid,
        ctx.caller.role,
        how.call()
    );
    let result = match how {
        Power::Restart => crate::sys::reboot::restart(),
        Power::PowerOff => crate::sys::reboot::power_off(),
    };
    match result {
        Err(source) => Err(Error::Sys { call: how.call(), source }),
        // reboot(2) does not return on success; if it ever does, the machine is still up.
        Ok(()) => Err(Error::Problem(format!("{} returned, but the system is still running", how.call()))),
    }
}
