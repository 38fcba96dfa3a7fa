//! Flushing the filesystems and restarting or powering off the machine.
//!
//! `sync` needs no privileges; `reboot` needs CAP_SYS_BOOT in the user namespace that owns the
//! caller's PID namespace (root on the appliance). Inside a PID namespace other than the initial
//! one, reboot(2) does not touch the machine: the kernel ends that namespace's init (the caller
//! must be it) with SIGHUP for a restart and SIGINT for a power-off, which is how the tests run
//! it for real.

use rustix::system::RebootCommand;
use std::io;

/// `sync()`: commits every filesystem's dirty data and metadata to disk before the machine goes
/// down. Never fails.
///
/// # References
/// - [sync(2)](https://man7.org/linux/man-pages/man2/sync.2.html)
pub fn sync() {
    rustix::fs::sync();
}

/// `reboot(LINUX_REBOOT_CMD_RESTART)`: restarts the machine at once (no userspace shutdown).
/// Returns only on failure: EPERM without CAP_SYS_BOOT, EINVAL in a PID namespace whose init is
/// not the caller.
///
/// # References
/// - [reboot(2)](https://man7.org/linux/man-pages/man2/reboot.2.html)
#[doc(alias = "reboot")]
pub fn restart() -> io::Result<()> {
    rustix::system::reboot(RebootCommand::Restart)?;
    Ok(())
}

/// `reboot(LINUX_REBOOT_CMD_POWER_OFF)`: stops the machine and removes power at once. Returns
/// only on failure, as [`restart`].
///
/// # References
/// - [reboot(2)](https://man7.org/linux/man-pages/man2/reboot.2.html)
#[doc(alias = "reboot")]
pub fn power_off() -> io::Result<()> {
    rustix::system::reboot(RebootCommand::PowerOff)?;
    Ok(())
}
