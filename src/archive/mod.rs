//! The archive formats of backups and upgrade packages, written by hand: CRC-32, gzip framing
//! around miniz_oxide's deflate, an inflate of our own, and POSIX tar, all pure; and the
//! extraction rules ([`extract`]), the one part that touches the filesystem, shared by restore
//! and upgrade.
//!
//! The formats need no privileges; extraction needs write access to its staging directory.
#![forbid(unsafe_code)]

pub mod crc32;
pub mod extract;
pub mod gzip;
pub mod inflate;
pub mod tar;
