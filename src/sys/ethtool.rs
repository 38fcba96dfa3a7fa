//! The ethtool ioctl (`SIOCETHTOOL`). Identifying a port needs CAP_NET_ADMIN.

use std::io;
use std::os::fd::AsRawFd;

/// `ETHTOOL_PHYS_ID` from `<linux/ethtool.h>` (not in the libc crate): identify the port by
/// blinking its LEDs for `data` seconds (0 = until interrupted).
const ETHTOOL_PHYS_ID: u32 = 0x0000_001c;

/// `struct ethtool_value` from `<linux/ethtool.h>`: two `__u32`, the same on every target.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

// Built by hand (the libc crate has no ethtool structs): pin the kernel's layout.
const _: () = assert!(std::mem::size_of::<EthtoolValue>() == 8);
const _: () = assert!(std::mem::offset_of!(EthtoolValue, data) == 4);

/// `ioctl(fd, SIOCETHTOOL, {ETHTOOL_PHYS_ID, seconds})`: blinks the port's LEDs and returns when
/// the time is up. The kernel stops early with `EINTR` when a signal arrives (so Ctrl-C works
/// when SIGINT has a handler without SA_RESTART); drivers that cannot identify a port answer
/// `EOPNOTSUPP` at once.
///
/// # References
/// - [ethtool.h](https://github.com/torvalds/linux/blob/master/include/uapi/linux/ethtool.h)
#[doc(alias = "ETHTOOL_PHYS_ID")]
pub fn identify_port(interface: &str, seconds: u32) -> io::Result<()> {
    let mut value = EthtoolValue { cmd: ETHTOOL_PHYS_ID, data: seconds };
    // SAFETY: ifreq is a plain C struct (name bytes and a union of plain fields); all zeroes is
    // a valid value for it.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = interface.as_bytes();
    if name.is_empty() || name.len() >= request.ifr_name.len() || name.contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(name) {
        *slot = *byte as libc::c_char;
    }
    request.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    let socket = rustix::net::socket(rustix::net::AddressFamily::INET, rustix::net::SocketType::DGRAM, None)?;
    // SAFETY: `socket` is an open descriptor for the call's duration; `request` is a valid,
    // NUL-terminated ifreq whose data pointer points at `value`, which outlives the call; the
    // kernel reads and writes only those 8 bytes for ETHTOOL_PHYS_ID.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCETHTOOL as _, &mut request) };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
