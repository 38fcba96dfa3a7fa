//! Validated newtypes for untrusted input. Each is parsed once, at the edge (argv, shell line,
//! board or config file, socket request); code past the edge only sees the typed value.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use std::fmt;

/// A login name: 1–32 bytes of `[A-Za-z0-9_.-]`, not starting with `-` or `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserName(String);

impl UserName {
    /// Parses a user name, rejecting anything a passwd file could not hold safely.
    pub fn parse(text: &str) -> Result<UserName> {
        let bytes = text.as_bytes();
        let ok_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        if bytes.is_empty() || bytes.len() > 32 || !bytes.iter().all(ok_char) || matches!(bytes[0], b'-' | b'.') {
            return Err(Error::Usage(format!(
                "invalid user name '{}': expected 1-32 characters of A-Z a-z 0-9 _ . -",
                printable(text)
            )));
        }
        Ok(UserName(text.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A network interface name by its syntax: 1–15 bytes of `[A-Za-z0-9_.-]` (IFNAMSIZ less the
/// NUL). Whether the interface exists is checked where it is used, against the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IfName(String);

impl IfName {
    /// Parses an interface name.
    pub fn parse(text: &str) -> Result<IfName> {
        let bytes = text.as_bytes();
        let ok_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        if bytes.is_empty() || bytes.len() > 15 || !bytes.iter().all(ok_char) || text == "." || text == ".." {
            return Err(Error::Usage(format!(
                "invalid interface name '{}': expected 1-15 characters of A-Z a-z 0-9 _ . -",
                printable(text)
            )));
        }
        Ok(IfName(text.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The file name of a backup in the backup directory: 1–255 bytes of `[A-Za-z0-9._:-]`, not
/// starting with `.` or `-`, ending in `.tar`. No `/`, so it cannot name a file anywhere else.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BackupName(String);

impl BackupName {
    /// Parses a backup file name.
    pub fn parse(text: &str) -> Result<BackupName> {
        let bytes = text.as_bytes();
        let ok_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':');
        if bytes.len() <= ".tar".len()
            || bytes.len() > 255
            || !bytes.iter().all(ok_char)
            || matches!(bytes[0], b'.' | b'-')
            || !text.ends_with(".tar")
        {
            return Err(Error::Usage(format!(
                "invalid backup name '{}': expected a file name of the backup directory ending in .tar (see system backup-list)",
                printable(text)
            )));
        }
        Ok(BackupName(text.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BackupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `text` made safe to echo in a one-line message: control characters and non-ASCII become
/// `\xNN` escapes, and very long values are cut, so an error can never carry a terminal escape
/// sequence or flood a serial console.
pub fn printable(text: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for (count, byte) in text.bytes().enumerate() {
        if count == MAX {
            out.push_str("...");
            break;
        }
        if (0x20..0x7f).contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for good in ["support", "admin", "cyberx_host", "a", "user.name-1", &"x".repeat(32)] {
            assert!(UserName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-rf", ".hidden", "a b", "a:b", "root\n", &"x".repeat(33), "ünï"] {
            assert_eq!(UserName::parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn interface_names() {
        for good in ["eth0", "lo", "veth-a.100", "abcdefghijklmno"] {
            assert!(IfName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "abcdefghijklmnop", "eth0;reboot", "eth 0", "../x", ".", "..", "eth0\0"] {
            assert!(IfName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn backup_names() {
        for good in [
            "e2e-xsense-1664469968212-backup-version-22.3.0.318-r-71e6295-2022-09-29_18:30:20.tar",
            "a.tar",
            "host_1-1-backup-version-0.1.0-abc-1970-01-01_00:00:00.tar",
        ] {
            assert_eq!(BackupName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "", ".tar", "x.tgz", ".hidden.tar", "-rf.tar", "../x.tar", "/var/x.tar", "a b.tar", "a\nb.tar",
            "x.tar/", &format!("{}.tar", "x".repeat(252)), "caf\u{e9}.tar",
        ] {
            assert_eq!(BackupName::parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn printable_escapes_controls_and_cuts_long_values() {
        assert_eq!(printable("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(printable(&"y".repeat(100)).len(), 64 + 3);
    }
}
