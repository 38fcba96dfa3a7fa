//! Validated newtypes for untrusted input. Each is parsed once, at the edge (argv, shell line,
//! board or config file, socket request); code past the edge only sees the typed value.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use std::fmt;

/// Makes validated types travel on the daemon's socket as the text they were parsed from: they
/// are written with `Display` and decoded with their own `parse`, so a request that holds an
/// invalid value is refused when it is decoded, at the socket's edge, with the same message the
/// command line gives.
macro_rules! wire_text {
    ($($ty:ty),* $(,)?) => {$(
        impl nanoserde::SerJson for $ty {
            fn ser_json(&self, depth: usize, state: &mut nanoserde::SerJsonState) {
                nanoserde::SerJson::ser_json(&self.to_string(), depth, state)
            }
        }
        impl nanoserde::DeJson for $ty {
            #[inline(never)]
            fn de_json(
                state: &mut nanoserde::DeJsonState,
                input: &mut std::str::Chars,
            ) -> std::result::Result<Self, nanoserde::DeJsonErr> {
                let text = <String as nanoserde::DeJson>::de_json(state, input)?;
                <$ty>::parse(&text).map_err(|err| state.err_parse(&err.to_string()))
            }
        }
        impl $crate::wire::Wire for $ty {
            fn put(&self, out: &mut String) {
                $crate::wire::put_str(&self.to_string(), out);
            }
            #[inline(never)]
            fn take(json: &mut $crate::wire::Reader<'_>) -> std::result::Result<Self, String> {
                <$ty>::parse(&json.string()?).map_err(|err| err.to_string())
            }
        }
        /// Tests write typed values as text; one that does not parse fails the test.
        #[cfg(test)]
        impl From<&str> for $ty {
            fn from(text: &str) -> $ty {
                <$ty>::parse(text).unwrap_or_else(|err| panic!("{text:?}: {err}"))
            }
        }
    )*};
}
pub(crate) use wire_text;

wire_text!(UserName, IfName, Ipv4, Netmask, Label, DirPath, Rate, BackupName, Host, BackupRef, AbsPath);

/// Whole numbers with a range, checked when parsed from argv and when decoded from the socket.
macro_rules! bounded {
    ($($(#[doc = $doc:literal])* $name:ident: $int:ty = $lo:literal..=$hi:literal, $what:literal;)*) => {$(
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name($int);

        impl $name {
            /// The smallest and largest values.
            pub const RANGE: std::ops::RangeInclusive<$int> = $lo..=$hi;

            /// The value, if it is in [`Self::RANGE`]; else a usage error naming the range.
            pub fn new(value: $int) -> Result<$name> {
                if Self::RANGE.contains(&value) {
                    Ok($name(value))
                } else {
                    Err(Error::Usage(format!("{}: {value} is not {}-{}", $what, $lo, $hi)))
                }
            }

            /// The number.
            pub fn get(self) -> $int {
                self.0
            }
        }

        impl nanoserde::SerJson for $name {
            fn ser_json(&self, depth: usize, state: &mut nanoserde::SerJsonState) {
                nanoserde::SerJson::ser_json(&self.0, depth, state)
            }
        }

        impl nanoserde::DeJson for $name {
            #[inline(never)]
            fn de_json(
                state: &mut nanoserde::DeJsonState,
                input: &mut std::str::Chars,
            ) -> std::result::Result<Self, nanoserde::DeJsonErr> {
                let value = <$int as nanoserde::DeJson>::de_json(state, input)?;
                $name::new(value).map_err(|err| state.err_range(&err.to_string()))
            }
        }

        impl $crate::wire::Wire for $name {
            fn put(&self, out: &mut String) {
                out.push_str(&self.0.to_string());
            }
            #[inline(never)]
            fn take(json: &mut $crate::wire::Reader<'_>) -> std::result::Result<Self, String> {
                let value = json.number()?;
                let value = <$int>::try_from(value).map_err(|_| format!("{}: {value} is not {}-{}", $what, $lo, $hi))?;
                $name::new(value).map_err(|err| err.to_string())
            }
        }

        /// Tests write bounded values as numbers; one out of range fails the test.
        #[cfg(test)]
        impl From<$int> for $name {
            fn from(value: $int) -> $name {
                $name::new(value).unwrap_or_else(|err| panic!("{err}"))
            }
        }

        #[cfg(test)]
        impl PartialEq<$int> for $name {
            fn eq(&self, other: &$int) -> bool {
                self.0 == *other
            }
        }
    )*};
}

bounded! {
    /// How long `network blink` blinks, in seconds.
    BlinkSeconds: u32 = 1..=3600, "--seconds";
    /// How many one-second samples `network load` takes.
    LoadSeconds: u32 = 1..=3600, "--seconds";
    /// Echo requests `ping` sends.
    PingCount: u32 = 1..=100_000, "-c";
    /// Seconds `ping` waits for replies after the last request.
    PingWait: u32 = 1..=60, "-W";
    /// Milliseconds between `ping`'s requests.
    PingIntervalMs: u32 = 200..=60_000, "-i (milliseconds)";
    /// Failed logins from one host before it is locked out.
    MaxFailed: u32 = 1..=100, "--max-failed";
    /// The failed-login window and lockout time, seconds.
    LockoutWindow: u64 = 1..=86_400, "--window";
    /// A shorter idle logout for one shell session, seconds.
    IdleSeconds: u64 = 1..=86_400, "--idle-timeout";
}

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

    /// The kernel's index of this interface (`SIOCGIFINDEX`). The one lookup by name every
    /// command uses, so a missing interface is always the same usage error (exit 2).
    pub fn index(&self) -> Result<u32> {
        crate::sys::netdev::index_of(&self.0).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => self.missing(),
            _ => Error::io("look up interface", self.0.as_str(), err),
        })
    }

    /// This interface in a link dump; see [`IfName::index`].
    pub fn in_dump<'a>(&self, links: &'a [crate::sys::netlink::Link]) -> Result<&'a crate::sys::netlink::Link> {
        links.iter().find(|link| link.name == self.0.as_bytes()).ok_or_else(|| self.missing())
    }

    fn missing(&self) -> Error {
        Error::Usage(format!("interface '{}' does not exist", self.0))
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

impl From<std::net::Ipv4Addr> for Ipv4 {
    /// Every address the kernel reports is a valid dotted quad.
    fn from(addr: std::net::Ipv4Addr) -> Ipv4 {
        Ipv4(addr)
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An IPv4 subnet mask: a dotted quad whose one bits are contiguous from the top
/// (`255.255.192.0`), or the same as a prefix length written `/18`. `0.0.0.0` and holes
/// (`255.0.255.0`) are refused: no management subnet has them, and a mask with a hole has no
/// prefix length the kernel could be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Netmask(u8);

impl Netmask {
    /// Parses `255.255.255.0` or `/24`.
    pub fn parse(text: &str) -> Result<Netmask> {
        let bad = |why: &str| Error::Usage(format!("invalid subnet mask '{}': {why}", printable(text)));
        let expected = "expected a mask like 255.255.255.0 (or /24)";
        if let Some(digits) = text.strip_prefix('/') {
            if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(expected));
            }
            if digits.len() > 1 && digits.starts_with('0') {
                return Err(bad("leading zeros are not allowed"));
            }
            return match digits.parse::<u8>() {
                Ok(prefix @ 1..=32) => Ok(Netmask(prefix)),
                _ => Err(bad("the prefix length must be 1-32")),
            };
        }
        let mask = u32::from(Ipv4::parse(text).map_err(|_| bad(expected))?.addr());
        if mask == 0 {
            return Err(bad("the mask must have at least one bit set"));
        }
        // Contiguous: the ones, inverted, are a block of low ones; adding one makes a power of two.
        if (!mask).wrapping_add(1) & !mask != 0 {
            return Err(bad("the one bits must be contiguous from the left (255.255.255.0, not 255.0.255.0)"));
        }
        Ok(Netmask(mask.leading_ones() as u8))
    }

    /// A mask of `prefix` leading ones (1–32); `None` outside that range.
    pub fn from_prefix(prefix: u8) -> Option<Netmask> {
        (1..=32).contains(&prefix).then_some(Netmask(prefix))
    }

    /// The prefix length (1–32).
    pub fn prefix(self) -> u8 {
        self.0
    }

    /// The mask as a 32-bit number.
    pub fn bits(self) -> u32 {
        u32::MAX << (32 - u32::from(self.0))
    }

    /// The network part of `addr`.
    pub fn network(self, addr: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(u32::from(addr) & self.bits())
    }

    /// The broadcast address of `addr`'s subnet.
    pub fn broadcast(self, addr: std::net::Ipv4Addr) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(u32::from(addr) | !self.bits())
    }

    /// Whether `a` and `b` lie in the same subnet under this mask.
    pub fn same_subnet(self, a: std::net::Ipv4Addr, b: std::net::Ipv4Addr) -> bool {
        self.network(a) == self.network(b)
    }
}

impl fmt::Display for Netmask {
    /// Dotted-quad form, as the seed prints it (`subnet: 255.255.192.0`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::net::Ipv4Addr::from(self.bits()))
    }
}

/// The label of a monitor interface (`local_listener`): 1–32 bytes of `[A-Za-z0-9_.-]`, starting
/// with a letter or digit. Labels are shown to operators and written as `label=device`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label(String);

impl Label {
    /// Parses a label.
    pub fn parse(text: &str) -> Result<Label> {
        let bytes = text.as_bytes();
        let ok_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        if bytes.is_empty() || bytes.len() > 32 || !bytes.iter().all(ok_char) || !bytes[0].is_ascii_alphanumeric() {
            return Err(Error::Usage(format!(
                "invalid label '{}': expected 1-32 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit",
                printable(text)
            )));
        }
        Ok(Label(text.to_string()))
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A directory path as written in settings (`/var/cyberx/backups`): absolute, at most 200 bytes of
/// `[A-Za-z0-9_.-/]`, no empty, `.` or `..` components, not `/` itself and not inside the kernel's
/// trees (`/proc`, `/sys`, `/dev`). It is resolved under the root prefix where it is used.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DirPath(String);

impl DirPath {
    /// Parses a directory path.
    pub fn parse(text: &str) -> Result<DirPath> {
        let bad = |why: &str| Error::Usage(format!("invalid directory '{}': {why}", printable(text)));
        let ok_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/');
        if !text.starts_with('/') {
            return Err(bad("must be an absolute path, like /var/backups"));
        }
        if text.len() > 200 || !text.as_bytes().iter().all(ok_char) {
            return Err(bad("expected at most 200 characters of A-Z a-z 0-9 _ . - /"));
        }
        let parts: Vec<&str> = text[1..].split('/').collect();
        if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
            return Err(bad("no empty, '.' or '..' parts (and no trailing /)"));
        }
        if matches!(parts.first(), Some(&("proc" | "sys" | "dev"))) {
            return Err(bad("must not be inside /proc, /sys or /dev"));
        }
        Ok(DirPath(text.to_string()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DirPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An outbound bandwidth limit as `network limit --limit` takes it: a whole number followed by
/// one of the reference CLI's units, or by none.
///
/// | unit | meaning | bytes per second |
/// |---|---|---|
/// | `kbps` | kilobytes per second | × 1000 |
/// | `mbps` | megabytes per second | × 1 000 000 |
/// | `kbit` | kilobits per second | × 125 |
/// | `mbit` | megabits per second | × 125 000 |
/// | `bps` or none | bytes per second | × 1 |
///
/// The prefixes are decimal (as in `tc`). Units are lower case only: `Mbps` is usually meant as
/// megabits, which here would be `mbit`, so a capitalised unit is refused rather than guessed.
/// The value must be at least [`Rate::MIN_BYTES_PER_SECOND`] (1kbit: below that one full-size
/// frame takes longer than the kernel's token bucket can be told to wait) and at most
/// [`Rate::MAX_BYTES_PER_SECOND`] (100 Gbit/s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rate {
    text: String,
    bytes_per_second: u64,
}

impl Rate {
    /// The smallest limit: 1kbit.
    pub const MIN_BYTES_PER_SECOND: u64 = 125;
    /// The largest limit: 100 Gbit/s.
    pub const MAX_BYTES_PER_SECOND: u64 = 12_500_000_000;

    /// Parses a limit such as `30kbit`, `1000mbps` or `4096`.
    pub fn parse(text: &str) -> Result<Rate> {
        let bad = |why: &str| Error::Usage(format!("invalid limit '{}': {why}", printable(text)));
        let units = "use a whole number with kbps (kilobytes/s), mbps (megabytes/s), kbit (kilobits/s), \
                     mbit (megabits/s), bps or no unit (bytes/s), e.g. 30kbit";
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        if text.is_empty() {
            return Err(bad(&format!("empty; {units}")));
        }
        if number.is_empty() {
            let why = if text.starts_with('-') { "negative" } else { "expected a whole number" };
            return Err(bad(&format!("{why}; {units}")));
        }
        let multiplier: u64 = match unit {
            "" | "bps" => 1,
            "kbps" => 1_000,
            "mbps" => 1_000_000,
            "kbit" => 125,
            "mbit" => 125_000,
            _ => return Err(bad(&format!("unknown unit '{}'; {units}", printable(unit)))),
        };
        let too_large = || bad(&format!("too large: the maximum is 100000mbit ({} bytes per second)", Rate::MAX_BYTES_PER_SECOND));
        let value = number.parse::<u64>().map_err(|_| too_large())?;
        if value == 0 {
            return Err(bad("must be more than 0"));
        }
        let bytes_per_second = value.checked_mul(multiplier).ok_or_else(too_large)?;
        if bytes_per_second > Rate::MAX_BYTES_PER_SECOND {
            return Err(too_large());
        }
        if bytes_per_second < Rate::MIN_BYTES_PER_SECOND {
            return Err(bad(&format!("too small: the minimum is 1kbit ({} bytes per second)", Rate::MIN_BYTES_PER_SECOND)));
        }
        Ok(Rate { text: text.to_string(), bytes_per_second })
    }

    /// The limit in bytes per second.
    pub fn bytes_per_second(&self) -> u64 {
        self.bytes_per_second
    }

    /// The limit as it was typed (`1000mbps`), for messages and the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
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

/// The IPv4 address of one host: a dotted quad ([`Ipv4`]) that is not 0.0.0.0, the broadcast
/// address, multicast or reserved (240.0.0.0/4). What `ping` and `ntp` are given to talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Host(Ipv4);

impl Host {
    /// Parses a host address.
    pub fn parse(text: &str) -> Result<Host> {
        let address = Ipv4::parse(text)?;
        let ip = address.addr();
        if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ip.octets()[0] >= 240 {
            return Err(Error::Usage(format!(
                "{address} is not the address of one host (no 0.0.0.0, broadcast, multicast or reserved 240.0.0.0/4)"
            )));
        }
        Ok(Host(address))
    }

    /// The address.
    pub fn addr(&self) -> std::net::Ipv4Addr {
        self.0.addr()
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A backup as `system restore -f` names it: its file name ([`BackupName`]), or that name in an
/// absolute directory (which must then be the backup directory; checked where it is used).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupRef {
    dir: Option<DirPath>,
    name: BackupName,
}

impl BackupRef {
    /// Parses `NAME` or `/DIR/NAME`.
    pub fn parse(text: &str) -> Result<BackupRef> {
        match text.rsplit_once('/') {
            None => Ok(BackupRef { dir: None, name: BackupName::parse(text)? }),
            Some((dir, name)) => {
                // The name first: it is what the operator meant to give.
                let name = BackupName::parse(name)?;
                Ok(BackupRef { dir: Some(DirPath::parse(dir)?), name })
            }
        }
    }

    /// The directory given with the name, if any.
    pub fn dir(&self) -> Option<&DirPath> {
        self.dir.as_ref()
    }

    /// The backup's file name.
    pub fn name(&self) -> &BackupName {
        &self.name
    }
}

impl fmt::Display for BackupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dir {
            Some(dir) => write!(f, "{dir}/{}", self.name),
            None => self.name.fmt(f),
        }
    }
}

/// An absolute path to a file the caller names (an upgrade package): starts with `/`, at most
/// 4095 bytes, no NUL or other control character. Opened with the caller's permissions where
/// it is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsPath(String);

impl AbsPath {
    /// Parses an absolute path.
    pub fn parse(text: &str) -> Result<AbsPath> {
        if !text.starts_with('/') {
            return Err(Error::Usage(format!("'{}': give an absolute path (starting with /)", printable(text))));
        }
        if text.len() > 4095 || text.chars().any(char::is_control) {
            return Err(Error::Usage(format!("'{}': not a usable path", printable(text))));
        }
        Ok(AbsPath(text.to_string()))
    }

    /// The path.
    pub fn as_path(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl fmt::Display for AbsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest message line [`console_line`] lets through, in bytes.
pub const CONSOLE_LINE_MAX: usize = 1024;

/// A whole message made safe for the console, as the last step before it is printed: control
/// characters (a newline too: a message is one line) become `\xNN` (`\u{NNNN}` beyond ASCII)
/// escapes, and a message longer than [`CONSOLE_LINE_MAX`] bytes is cut with `...`. Unlike
/// [`printable`] it keeps non-ASCII text, since messages may quote file names.
pub fn console_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(CONSOLE_LINE_MAX + 8));
    for ch in text.chars() {
        if out.len() >= CONSOLE_LINE_MAX {
            out.push_str("...");
            break;
        }
        push_safe(&mut out, ch);
    }
    out
}

/// Appends `ch`, or its escape if a terminal would act on it rather than show it: control
/// characters (`\xNN`; C1 controls `\u{NNNN}`) and the bidirectional overrides and isolates
/// that reorder what is shown.
fn push_safe(out: &mut String, ch: char) {
    match ch {
        c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
        c if c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') => {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)))
        }
        c => out.push(c),
    }
}

/// The special characters a certificate key's passphrase may hold, besides ASCII letters and
/// digits. The 2022 reference (`seed/cli-ot-sensor-2022.md`) documents `--pass` only as "A
/// passphrase used to encrypt the certificate" and names no character set, and the newer
/// reference the issue mentions is not available here: this set is our own conservative choice,
/// printable ASCII without blanks and without shell metacharacters (`$`, `` ` ``, quotes, `;`,
/// `&`, `|`, `<`, `>`, `*`), so a passphrase survives any script that quotes it carelessly.
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

/// A path given on this machine's own command line, for a command that is not served over the
/// daemon's socket (`install`, the host tool's `package keygen|build`): 1–4096 bytes without
/// control characters; a relative one is the caller's working directory's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    /// Parses a path.
    pub fn parse(text: &str) -> Result<LocalPath> {
        if text.is_empty() || text.len() > 4096 {
            return Err(Error::Usage("a path must be 1-4096 bytes long".to_string()));
        }
        if text.chars().any(char::is_control) {
            return Err(Error::Usage(format!("path '{}': control characters are not allowed", printable(text))));
        }
        Ok(LocalPath(text.to_string()))
    }

    /// The path.
    pub fn as_path(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl fmt::Display for LocalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

wire_text!(LocalPath);

impl crate::wire::Wire for Passphrase {
    fn put(&self, out: &mut String) {
        crate::wire::put_str(&self.0, out);
    }
    fn take(json: &mut crate::wire::Reader<'_>) -> std::result::Result<Passphrase, String> {
        Passphrase::parse(&json.string()?).map_err(|err| err.to_string())
    }
}

/// A file's contents, read by the caller (with the caller's permissions) and carried in an
/// action: standard base64 on the daemon's wire, decoded (and so checked) when the request is
/// read. The request's line limit bounds it.
#[derive(Clone, PartialEq, Eq)]
pub struct FileBytes(Vec<u8>);

impl FileBytes {
    /// Contents as read.
    pub fn new(bytes: Vec<u8>) -> FileBytes {
        FileBytes(bytes)
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key files are secrets: their length, never their bytes.
        write!(f, "FileBytes({} bytes)", self.0.len())
    }
}

impl crate::wire::Wire for FileBytes {
    fn put(&self, out: &mut String) {
        crate::wire::put_str(&<base64ct::Base64 as base64ct::Encoding>::encode_string(&self.0), out);
    }
    fn take(json: &mut crate::wire::Reader<'_>) -> std::result::Result<FileBytes, String> {
        let text = json.string()?;
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(&text)
            .map(FileBytes)
            .map_err(|_| "the file contents are damaged (not base64)".to_string())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// `text` made safe to echo in a one-line message: control characters (and the bidirectional
/// overrides) become `\xNN` / `\u{NNNN}` escapes, other text (accented letters too) is shown as
/// it is, and very long values are cut, so an error can never carry a terminal escape sequence
/// or flood a serial console.
pub fn printable(text: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for (count, ch) in text.chars().enumerate() {
        if count == MAX {
            out.push_str("...");
            break;
        }
        push_safe(&mut out, ch);
    }
    out
}

/// Bytes that came from the system (an interface name, a file name) made safe to print: valid
/// UTF-8 is shown as [`printable`] text is, without a length limit; other bytes as `\xNN`.
pub fn system_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            push_safe(&mut out, ch);
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_line_escapes_controls_and_cuts_floods() {
        assert_eq!(console_line("plain: caf\u{e9} ok"), "plain: caf\u{e9} ok");
        assert_eq!(console_line("a\nb\r\x1b[2J\x07\x7f"), "a\\x0ab\\x0d\\x1b[2J\\x07\\x7f");
        assert_eq!(console_line("\u{202e}lo\u{85}"), "\\u{202e}lo\\u{0085}");
        let flood = console_line(&"a".repeat(100 * 1024));
        assert_eq!(flood.len(), CONSOLE_LINE_MAX + 3);
        assert!(flood.ends_with("..."));
        assert_eq!(console_line(&"é".repeat(1000)).len(), CONSOLE_LINE_MAX + 3);
    }

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
    fn netmasks_are_contiguous_and_print_dotted() {
        for (good, prefix, dotted) in [
            ("255.255.255.0", 24, "255.255.255.0"),
            ("255.255.192.0", 18, "255.255.192.0"),
            ("255.255.255.255", 32, "255.255.255.255"),
            ("128.0.0.0", 1, "128.0.0.0"),
            ("255.255.255.252", 30, "255.255.255.252"),
            ("/24", 24, "255.255.255.0"),
            ("/1", 1, "128.0.0.0"),
            ("/32", 32, "255.255.255.255"),
            ("/18", 18, "255.255.192.0"),
        ] {
            let mask = Netmask::parse(good).unwrap();
            assert_eq!(mask.prefix(), prefix, "{good}");
            assert_eq!(mask.to_string(), dotted, "{good}");
        }
        for bad in [
            "", "0.0.0.0", "255.0.255.0", "255.255.255.1", "0.255.255.255", "254.255.255.0", "255.255.255",
            "255.255.255.0.0", "24", "/0", "/33", "/024", "/", "/2a", "255.255.255.00", " 255.255.255.0",
            "255.255.255.0\n", "ffffff00", "/-1",
        ] {
            let err = Netmask::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            assert!(err.to_string().starts_with("invalid subnet mask '"), "{err}");
            assert_eq!(err.to_string().lines().count(), 1, "{bad:?}");
        }
        assert!(Netmask::parse("255.0.255.0").unwrap_err().to_string().contains("contiguous"));
        let mask = Netmask::parse("255.255.192.0").unwrap();
        let ip = std::net::Ipv4Addr::new(172, 20, 248, 69);
        assert_eq!(mask.network(ip), std::net::Ipv4Addr::new(172, 20, 192, 0));
        assert_eq!(mask.broadcast(ip), std::net::Ipv4Addr::new(172, 20, 255, 255));
        assert!(mask.same_subnet(ip, std::net::Ipv4Addr::new(172, 20, 192, 1)));
        assert!(!mask.same_subnet(ip, std::net::Ipv4Addr::new(10, 1, 0, 1)));
        assert_eq!(Netmask::from_prefix(0), None);
        assert_eq!(Netmask::from_prefix(33), None);
        assert_eq!(Netmask::from_prefix(32).unwrap().bits(), u32::MAX);
    }

    #[test]
    fn labels() {
        for good in ["local_listener", "span_1", "a", "Tap-3.x", &"x".repeat(32)] {
            assert!(Label::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "_x", "-x", ".x", "a=b", "a b", "a,b", &"x".repeat(33), "ü", "a\n"] {
            assert_eq!(Label::parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn rates_in_every_unit_of_the_reference() {
        for (text, bytes) in [
            ("30kbit", 3_750),
            ("1000mbps", 1_000_000_000),
            ("1mbit", 125_000),
            ("100mbit", 12_500_000),
            ("5kbps", 5_000),
            ("2048bps", 2_048),
            ("2048", 2_048),
            ("125", 125),
            ("1kbit", 125),
            ("100000mbit", 12_500_000_000),
            ("12500000000", 12_500_000_000),
            ("40000mbit", 5_000_000_000), // above 32 bits: the kernel needs TCA_TBF_RATE64
        ] {
            let rate = Rate::parse(text).unwrap();
            assert_eq!(rate.bytes_per_second(), bytes, "{text}");
            assert_eq!(rate.to_string(), text, "echoed as typed");
        }
    }

    #[test]
    fn rates_that_are_refused() {
        for (bad, why) in [
            ("", "empty"),
            ("0", "more than 0"),
            ("0kbit", "more than 0"),
            ("000", "more than 0"),
            ("-5", "negative"),
            ("-5mbit", "negative"),
            ("+5mbit", "whole number"),
            ("mbit", "whole number"),
            (" 5mbit", "whole number"),
            ("5 mbit", "unknown unit ' mbit'"),
            ("5mbit ", "unknown unit 'mbit '"),
            ("5mbits", "unknown unit"),
            ("5Mbit", "unknown unit 'Mbit'"),
            ("5MBPS", "unknown unit"),
            ("5gbit", "unknown unit"),
            ("5kb", "unknown unit"),
            ("1.5mbit", "unknown unit '.5mbit'"),
            ("0x10", "unknown unit"),
            ("5mbit;reboot", "unknown unit"),
            ("124", "too small"),
            ("1bps", "too small"),
            ("100001mbit", "too large"),
            ("12500000001", "too large"),
            ("18446744073709551615mbps", "too large"), // u64::MAX: the multiplication overflows
            ("18446744073709551616", "too large"),     // does not fit u64 at all
            ("99999999999999999999999999kbit", "too large"),
        ] {
            let err = Rate::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            let text = err.to_string();
            assert!(text.starts_with("invalid limit '"), "{bad:?}: {text}");
            assert!(text.contains(why), "{bad:?}: {text}");
            assert_eq!(text.lines().count(), 1, "{bad:?}: {text}");
        }
    }

    #[test]
    fn directory_paths() {
        for good in ["/var/cyberx/backups", "/data/backups", "/b", "/a.b/c-d_e"] {
            assert_eq!(DirPath::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "", "/", "relative/dir", "/a//b", "/a/", "/a/../b", "/a/./b", "/..", "/proc/x", "/sys", "/dev/shm",
            "/a b", "/a;b", "/a\nb", "/ü", &format!("/{}", "x".repeat(200)),
        ] {
            let err = DirPath::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            assert_eq!(err.to_string().lines().count(), 1, "{bad:?}");
        }
        assert!(DirPath::parse("/procfs").is_ok(), "only the kernel trees themselves are refused");
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
        assert_eq!(printable("syst\u{e8}me"), "syst\u{e8}me", "an accented letter is shown as it is");
        assert_eq!(system_text(b"eth\x1b[2J\xff0"), "eth\\x1b[2J\\xff0");
        assert_eq!(printable(&"y".repeat(100)).len(), 64 + 3);
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
}
