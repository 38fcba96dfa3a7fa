//! Network device lookups by name. Needs no privileges.

use std::io;

/// `ioctl(SIOCGIFINDEX)` (what if_nametoindex(3) does): the interface's index, or `NotFound`
/// when no interface of that name exists in this network namespace.
#[doc(alias = "if_nametoindex")]
pub fn index_of(interface: &str) -> io::Result<u32> {
    let socket = rustix::net::socket(rustix::net::AddressFamily::INET, rustix::net::SocketType::DGRAM, None)?;
    match rustix::net::netdevice::name_to_index(&socket, interface) {
        Ok(index) => Ok(index),
        Err(rustix::io::Errno::NODEV) => Err(io::Error::from(io::ErrorKind::NotFound)),
        Err(errno) => Err(errno.into()),
    }
}
