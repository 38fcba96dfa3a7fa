//! The archive formats of backups, written by hand and kept pure: CRC-32, gzip framing around
//! miniz_oxide's deflate, and POSIX tar. The backup module composes them; nothing here touches
//! the filesystem.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

pub mod crc32;
pub mod gzip;
pub mod tar;
