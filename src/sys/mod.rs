//! Every system call, ioctl and netlink message of sensorctl, one file per kernel interface.
//!
//! This is the only place where `unsafe` is allowed; every block carries a `// SAFETY:`
//! comment. rustix is used first, libc only where rustix has no wrapper. Each function is a
//! thin wrapper whose doc line names the C call it makes. The privileges each call needs are
//! stated on the function.
#![allow(unsafe_code)]

pub mod clock;
pub mod ethtool;
pub mod filelock;
pub mod fs;
pub mod hardening;
pub mod icmp;
pub mod ids;
pub mod netdev;
pub mod netlink;
pub mod packet;
pub mod poll;
pub mod priority;
pub mod process;
pub mod procfs;
pub mod procnet;
pub mod random;
pub mod reboot;
pub mod route;
pub mod signal;
pub mod socket;
pub mod term;
pub mod tc;
pub mod uname;
pub mod unix_socket;
