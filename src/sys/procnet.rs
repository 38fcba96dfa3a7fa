//! `/proc/net` files of the caller's network namespace. Reading needs no privileges.

use std::io;

/// `/proc/net/if_inet6`: every IPv6 address of the namespace, one line each.
///
/// Only the line *order* is used (see `netlist`): net-tools `ifconfig` prints each interface's
/// IPv6 addresses in this file's order, which is the kernel's address hash table, salted per
/// namespace with a random value, and so cannot be derived from the netlink dump.
///
/// # References
/// - [proc_net(5)](https://man7.org/linux/man-pages/man5/proc_net.5.html)
pub fn if_inet6() -> io::Result<String> {
    use std::io::Read;
    // procfs reports size 0, so size the buffer for a few thousand lines up front instead of
    // letting the reads start at 32 bytes.
    let mut text = String::with_capacity(256 * 1024);
    std::fs::File::open("/proc/net/if_inet6")?.read_to_string(&mut text)?;
    Ok(text)
}
