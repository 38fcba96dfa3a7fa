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

/// An IPv4 address in dotted-quad form: exactly four decimal numbers 0–255 separated by dots.
///
/// Stricter than `inet_aton(3)` on purpose: no leading zeros (`010` is octal 8 to inet_aton and
/// decimal 10 to others, so an operator cannot tell which host they named), no shortened forms
/// (`10.1` is 10.0.0.1 to inet_aton), no hex, no blanks, no port, no IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4(std::net::Ipv4Addr);

impl Ipv4 {
    /// Parses a dotted quad.
    pub fn parse(text: &str) -> Result<Ipv4> {
        let bad = |why: &str| {
            Error::Usage(format!("invalid IPv4 address '{}': {why}", printable(text)))
        };
        let expected = "expected four numbers 0-255 separated by dots, like 192.0.2.10";
        let mut octets = [0u8; 4];
        let mut parts = text.split('.');
        for octet in &mut octets {
            let part = parts.next().ok_or_else(|| bad(expected))?;
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(expected));
            }
            if part.len() > 1 && part.starts_with('0') {
                return Err(bad("leading zeros are not allowed (some tools read them as octal)"));
            }
            *octet = part.parse::<u8>().map_err(|_| bad(expected))?;
        }
        if parts.next().is_some() {
            return Err(bad(expected));
        }
        Ok(Ipv4(std::net::Ipv4Addr::from(octets)))
    }

    /// The address.
    pub fn addr(&self) -> std::net::Ipv4Addr {
        self.0
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The special characters a certificate key's passphrase may hold, besides ASCII letters and
/// digits: the set the newer appliance reference allows for `--pass`. Shell metacharacters
/// (`$`, `` ` ``, quotes, `;`, `&`, `|`, `<`, `>`, `*`, blanks) are not among them.
pub const PASSPHRASE_SPECIALS: &str = "!#%()+,-./:=?@[\\]^_{}~";

/// The passphrase of an encrypted private key: 1–128 characters of ASCII letters, digits and
/// [`PASSPHRASE_SPECIALS`]. Its text is never echoed in an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

impl Passphrase {
    /// Parses a passphrase.
    pub fn parse(text: &str) -> Result<Passphrase> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || PASSPHRASE_SPECIALS.contains(c);
        if text.is_empty() || text.len() > 128 {
            return Err(Error::Usage("the passphrase must be 1-128 characters long".to_string()));
        }
        if let Some(at) = text.chars().position(|c| !allowed(c)) {
            return Err(Error::Usage(format!(
                "character {} of the passphrase is not allowed: use letters, digits and {}",
                at + 1,
                PASSPHRASE_SPECIALS.chars().map(String::from).collect::<Vec<_>>().join(" ")
            )));
        }
        Ok(Passphrase(text.to_string()))
    }

    /// The passphrase itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
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
    fn ipv4_addresses() {
        for (good, octets) in [
            ("129.6.15.28", [129, 6, 15, 28]),
            ("0.0.0.0", [0, 0, 0, 0]),
            ("255.255.255.255", [255, 255, 255, 255]),
            ("127.0.0.1", [127, 0, 0, 1]),
            ("10.0.100.9", [10, 0, 100, 9]),
        ] {
            let parsed = Ipv4::parse(good).unwrap();
            assert_eq!(parsed.addr().octets(), octets, "{good}");
            assert_eq!(parsed.to_string(), good, "prints back as typed");
        }
        for bad in [
            "", "1.2.3", "1.2.3.4.5", "999.1.1.1", "256.0.0.1", "::1", "1.2.3.4;reboot", " 1.2.3.4",
            "1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", "1.2.3.00", "1..3.4", "1.2.3.", ".1.2.3", "0x7f.0.0.1",
            "+1.2.3.4", "1.2.3.-4", "1.2.3.4:123", "localhost", "1.2.3.4/24", "1234.1.1.1", "١.٢.٣.٤",
        ] {
            let err = Ipv4::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            let text = err.to_string();
            assert!(text.starts_with("invalid IPv4 address '"), "{text}");
            assert_eq!(text.lines().count(), 1, "{bad:?}: {text}");
        }
        assert!(Ipv4::parse("01.2.3.4").unwrap_err().to_string().contains("leading zeros"));
        assert_eq!(Ipv4::parse("1.2.3.4\n").unwrap_err().to_string(), "invalid IPv4 address '1.2.3.4\\x0a': expected four numbers 0-255 separated by dots, like 192.0.2.10");
    }

    #[test]
    fn passphrases() {
        for good in ["a", "Secret123", "!#%()+,-./:=?@[\\]^_{}~", &"x".repeat(128)] {
            assert_eq!(Passphrase::parse(good).unwrap().expose(), good);
        }
        for bad in ["", "with space", "dollar$", "back`tick", "quote'", "dq\"", "semi;", "amp&", "pipe|", "lt<", "gt>",
                    "star*", "tab\t", "nl\n", "ünï", "caret^ok but $", &"x".repeat(129)] {
            let err = Passphrase::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            assert!(!err.to_string().contains(bad) || bad.is_empty(), "the passphrase is echoed: {err}");
        }
        assert!(Passphrase::parse("ab$").unwrap_err().to_string().starts_with("character 3 of the passphrase"));
        assert_eq!(format!("{:?}", Passphrase::parse("hidden").unwrap()), "Passphrase(..)");
    }

    #[test]
    fn printable_escapes_controls_and_cuts_long_values() {
        assert_eq!(printable("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(printable(&"y".repeat(100)).len(), 64 + 3);
    }
}
