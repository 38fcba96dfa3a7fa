//! The NTP wire format as an SNTP client uses it (RFC 5905 §7.3, client mode as in RFC 4330):
//! building the request, checking a reply field by field, and the on-wire arithmetic (offset
//! and round-trip delay from the four timestamps, with the 32-bit era wrap of 2036).
//!
//! Pure; needs no privileges. The socket and the clocks are in [`super::client`] and
//! `sys::clock`.
#![forbid(unsafe_code)]

use std::fmt;

/// The NTP port (RFC 5905 §7.2).
pub const PORT: u16 = 123;
/// The fixed part of every NTP packet; extension fields or a MAC may follow and are ignored.
pub const PACKET_LEN: usize = 48;
/// The version we send; servers answer with the request's version.
pub const VERSION: u8 = 4;
/// Seconds from 1900-01-01 (the start of NTP era 0) to 1970-01-01 (the Unix epoch).
pub const UNIX_EPOCH_IN_NTP: i64 = 2_208_988_800;
/// The largest root delay or root dispersion a usable server can report (RFC 5905's MAXDISP
/// is 16 s; a server further than that from its reference is of no use).
pub const MAX_ROOT_NS: i64 = 16_000_000_000;

const NANOS: i64 = 1_000_000_000;
const ERA_SECS: i64 = 1 << 32;

/// Mode 3, client.
pub const MODE_CLIENT: u8 = 3;
/// Mode 4, server.
pub const MODE_SERVER: u8 = 4;

/// A 64-bit NTP timestamp: seconds since the start of the era (32 bits), then the fraction of
/// a second (32 bits). The era number is not on the wire; [`Timestamp::to_unix_nanos`] finds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The timestamp of `unix_nanos` nanoseconds since the Unix epoch (the era is dropped).
    pub fn from_unix_nanos(unix_nanos: i64) -> Timestamp {
        let secs = unix_nanos.div_euclid(NANOS) + UNIX_EPOCH_IN_NTP;
        let nanos = unix_nanos.rem_euclid(NANOS) as u64;
        // Rounded to the nearest 2^-32 s; at most 999_999_999 ns gives 0xffff_fffb, no carry.
        let fraction = ((nanos << 32) + (NANOS as u64 / 2)) / NANOS as u64;
        Timestamp(((secs.rem_euclid(ERA_SECS) as u64) << 32) | fraction)
    }

    /// The instant this timestamp names, in nanoseconds since the Unix epoch, taking the era in
    /// which it lies nearest to `pivot_unix_nanos` (RFC 5905 §6: a timestamp is unambiguous
    /// within 68 years, half an era, of a clock that is roughly right).
    pub fn to_unix_nanos(self, pivot_unix_nanos: i64) -> i64 {
        let pivot_secs = pivot_unix_nanos.div_euclid(NANOS) + UNIX_EPOCH_IN_NTP;
        let seconds_field = (self.0 >> 32) as u32;
        // The signed 32-bit distance from the pivot's seconds field picks the nearest era.
        let step = seconds_field.wrapping_sub(pivot_secs.rem_euclid(ERA_SECS) as u32) as i32;
        let secs = pivot_secs + i64::from(step) - UNIX_EPOCH_IN_NTP;
        let fraction = self.0 & 0xffff_ffff;
        let nanos = ((fraction * NANOS as u64 + (1 << 31)) >> 32) as i64;
        secs.saturating_mul(NANOS).saturating_add(nanos)
    }

    /// Whether the field is all zero ("unknown" in RFC 5905).
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// A client-mode request (RFC 4330 §5): version 4, mode 3, everything zero except the
/// transmit timestamp, which the server copies into its reply's origin field.
///
/// `transmit` need not be the time: a random value (RFC 9109's advice for clients) tells an
/// onlooker nothing about our clock and cannot be guessed by someone forging replies blindly.
pub fn request(transmit: Timestamp) -> [u8; PACKET_LEN] {
    let mut packet = [0u8; PACKET_LEN];
    packet[0] = (VERSION << 3) | MODE_CLIENT;
    packet[40..48].copy_from_slice(&transmit.0.to_be_bytes());
    packet
}

/// The fields of a packet, decoded but not yet judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Leap indicator: 0 none, 1 or 2 a leap second at the end of the day, 3 unsynchronised.
    pub leap: u8,
    /// Protocol version.
    pub version: u8,
    /// Association mode (3 client, 4 server, …).
    pub mode: u8,
    /// 1 primary, 2–15 secondary, 16 unsynchronised, 0 Kiss-o'-Death.
    pub stratum: u8,
    /// Root delay, NTP short format (16.16 seconds).
    pub root_delay: u32,
    /// Root dispersion, NTP short format.
    pub root_dispersion: u32,
    /// Reference ID: the upstream server, a refclock name, or the kiss code.
    pub reference_id: [u8; 4],
    /// Origin timestamp: the client's transmit timestamp, echoed.
    pub origin: Timestamp,
    /// When the server received the request (t2).
    pub receive: Timestamp,
    /// When the server sent the reply (t3).
    pub transmit: Timestamp,
}

impl Packet {
    /// Decodes the fixed 48 bytes; `None` for anything shorter.
    pub fn decode(bytes: &[u8]) -> Option<Packet> {
        if bytes.len() < PACKET_LEN {
            return None;
        }
        let u32_at = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let timestamp_at = |at: usize| Timestamp((u64::from(u32_at(at)) << 32) | u64::from(u32_at(at + 4)));
        Some(Packet {
            leap: bytes[0] >> 6,
            version: (bytes[0] >> 3) & 0x7,
            mode: bytes[0] & 0x7,
            stratum: bytes[1],
            root_delay: u32_at(4),
            root_dispersion: u32_at(8),
            reference_id: [bytes[12], bytes[13], bytes[14], bytes[15]],
            origin: timestamp_at(24),
            receive: timestamp_at(32),
            transmit: timestamp_at(40),
        })
    }
}

/// Why a datagram is not a usable answer to our request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Fewer than 48 bytes.
    Short(usize),
    /// The origin timestamp is not the transmit timestamp of any request we sent: a stray, late,
    /// replayed or forged packet.
    OriginMismatch,
    /// Not version 3 or 4.
    Version(u8),
    /// Not mode 4 (server).
    Mode(u8),
    /// Stratum 0: the server refuses service; the four-character kiss code says why.
    KissOfDeath([u8; 4]),
    /// Leap indicator 3: the server's own clock is not synchronised.
    Unsynchronised,
    /// Stratum 16 or above: the server is not synchronised.
    Stratum(u8),
    /// Root delay or dispersion at or above [`MAX_ROOT_NS`]: `(what, nanoseconds)`.
    RootDistance(&'static str, i64),
    /// A zero receive or transmit timestamp.
    ZeroTimestamp(&'static str),
    /// The server says it sent the reply before it received the request.
    Reversed,
}

impl Rejection {
    /// Whether the datagram may be ignored while waiting on: one that does not answer our
    /// request (anybody can send those) must not cut the exchange short; one that does answer
    /// it (its origin matches) is the server's word and final.
    pub fn ignorable(&self) -> bool {
        matches!(self, Rejection::Short(_) | Rejection::OriginMismatch)
    }
}

/// The meaning of the kiss codes RFC 5905 §7.4 names that a client can meet.
fn kiss_meaning(code: &[u8; 4]) -> Option<&'static str> {
    Some(match code {
        b"DENY" => "access denied",
        b"RSTR" => "access restricted",
        b"RATE" => "rate exceeded, query less often",
        b"AUTH" => "authentication failed",
        b"CRYP" => "cryptographic authentication failed",
        b"NKEY" => "no key found",
        b"AUTO" => "autokey sequence failed",
        b"INIT" => "association not yet synchronised",
        b"STEP" => "server clock stepped",
        _ => return None,
    })
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Short(len) => write!(f, "short packet ({len} bytes, an NTP reply has at least {PACKET_LEN})"),
            Rejection::OriginMismatch => f.write_str("origin timestamp does not match our request (stray or forged reply)"),
            Rejection::Version(v) => write!(f, "unsupported NTP version {v} (expected 3 or 4)"),
            Rejection::Mode(m) => write!(f, "wrong mode {m} in reply (expected 4, server)"),
            Rejection::KissOfDeath(code) => {
                let text: String = code.iter().map(|&b| if (0x21..0x7f).contains(&b) { b as char } else { '?' }).collect();
                match kiss_meaning(code) {
                    Some(meaning) => write!(f, "Kiss-o'-Death {text}: {meaning}"),
                    None => write!(f, "Kiss-o'-Death {text}"),
                }
            }
            Rejection::Unsynchronised => f.write_str("server clock is not synchronised (leap indicator 3)"),
            Rejection::Stratum(s) => write!(f, "server is not synchronised (stratum {s})"),
            Rejection::RootDistance(what, nanos) => write!(f, "root {what} {} s is not below 16 s", seconds(*nanos)),
            Rejection::ZeroTimestamp(which) => write!(f, "{which} timestamp is zero"),
            Rejection::Reversed => f.write_str("server transmit time is before its receive time"),
        }
    }
}

/// The nanoseconds of an NTP short-format (16.16) value.
fn short_to_nanos(value: u32) -> i64 {
    (i64::from(value) * NANOS) >> 16
}

/// Judges a datagram from the server's address and port as the answer to a request whose
/// transmit timestamp was `sent` (RFC 5905 §8 and §9.2 tests, as RFC 4330 §5 asks of a client).
///
/// The origin is checked first: until it matches, the datagram is not an answer to us at all.
pub fn check_reply(bytes: &[u8], sent: &[Timestamp]) -> Result<Packet, Rejection> {
    let packet = Packet::decode(bytes).ok_or(Rejection::Short(bytes.len()))?;
    if packet.origin.is_zero() || !sent.contains(&packet.origin) {
        return Err(Rejection::OriginMismatch);
    }
    if !(3..=4).contains(&packet.version) {
        return Err(Rejection::Version(packet.version));
    }
    if packet.mode != MODE_SERVER {
        return Err(Rejection::Mode(packet.mode));
    }
    if packet.stratum == 0 {
        return Err(Rejection::KissOfDeath(packet.reference_id));
    }
    if packet.leap == 3 {
        return Err(Rejection::Unsynchronised);
    }
    if packet.stratum >= 16 {
        return Err(Rejection::Stratum(packet.stratum));
    }
    for (what, value) in [("delay", packet.root_delay), ("dispersion", packet.root_dispersion)] {
        let nanos = short_to_nanos(value);
        if nanos >= MAX_ROOT_NS {
            return Err(Rejection::RootDistance(what, nanos));
        }
    }
    if packet.receive.is_zero() {
        return Err(Rejection::ZeroTimestamp("receive"));
    }
    if packet.transmit.is_zero() {
        return Err(Rejection::ZeroTimestamp("transmit"));
    }
    if (packet.transmit.0.wrapping_sub(packet.receive.0) as i64) < 0 {
        return Err(Rejection::Reversed);
    }
    Ok(packet)
}

/// The result of one exchange, all in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// How far the local clock is behind the server's (add it to the local clock).
    pub offset: i64,
    /// Round-trip delay of the network path (never negative).
    pub delay: i64,
    /// The server's transmit time t3, as Unix nanoseconds.
    pub server_time: i64,
}

/// Offset and delay from the four timestamps of one exchange (RFC 5905 §8):
/// `t1` request sent and `t4` reply received, by the local clock (Unix nanoseconds);
/// `t2` request received and `t3` reply sent, by the server's clock (NTP timestamps).
///
/// offset = ((t2 − t1) + (t3 − t4)) / 2, delay = (t4 − t1) − (t3 − t2).
///
/// The server's timestamps are placed in the era nearest to `pivot` (the local clock, or the
/// build time when the local clock is older than the software can be); t2 and t3 are then
/// exact instants, so the arithmetic is the same on either side of the 2036 wrap.
pub fn measure(t1: i64, t2: Timestamp, t3: Timestamp, t4: i64, pivot: i64) -> Measurement {
    let t2 = i128::from(t2.to_unix_nanos(pivot));
    let t3_nanos = t3.to_unix_nanos(pivot);
    let t3 = i128::from(t3_nanos);
    let (t1, t4) = (i128::from(t1), i128::from(t4));
    let offset = ((t2 - t1) + (t3 - t4)) / 2;
    let delay = (t4 - t1) - (t3 - t2);
    let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    Measurement { offset: clamp(offset), delay: clamp(delay.max(0)), server_time: t3_nanos }
}

/// `nanos` as seconds with six decimals and no sign (`0.000123`), for messages.
pub fn seconds(nanos: i64) -> String {
    let micros = (i128::from(nanos).abs() + 500) / 1000;
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// `nanos` as seconds with a sign and six decimals (`+0.000123`, `-1.500000`).
pub fn signed_seconds(nanos: i64) -> String {
    format!("{}{}", if nanos < 0 { '-' } else { '+' }, seconds(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2036-02-07T06:28:16Z, the first second of NTP era 1 (`date -u -d @2085978496`).
    const ERA1_UNIX: i64 = 2_085_978_496;
    const S: i64 = NANOS;

    fn server_packet(origin: Timestamp) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        p[0] = (4 << 3) | MODE_SERVER;
        p[1] = 2;
        p[4..8].copy_from_slice(&0x0000_0800u32.to_be_bytes()); // 31.25 ms
        p[8..12].copy_from_slice(&0x0000_0400u32.to_be_bytes());
        p[12..16].copy_from_slice(&[192, 0, 2, 1]);
        p[24..32].copy_from_slice(&origin.0.to_be_bytes());
        let t = Timestamp::from_unix_nanos(1_700_000_000 * S);
        p[32..40].copy_from_slice(&t.0.to_be_bytes());
        p[40..48].copy_from_slice(&(t.0 + 1000).to_be_bytes());
        p
    }

    #[test]
    fn timestamps_of_known_instants() {
        // The Unix epoch is 2_208_988_800 s into era 0; 1900-01-01 is zero.
        assert_eq!(Timestamp::from_unix_nanos(0).0, 2_208_988_800u64 << 32);
        assert_eq!(Timestamp::from_unix_nanos(-UNIX_EPOCH_IN_NTP * S).0, 0);
        // Half a second is 0x8000_0000 in the fraction.
        assert_eq!(Timestamp::from_unix_nanos(S / 2).0 & 0xffff_ffff, 0x8000_0000);
        // The last nanosecond of a second rounds within the second, no carry into the seconds.
        let last = Timestamp::from_unix_nanos(S - 1);
        assert_eq!(last.0 >> 32, 2_208_988_800);
        assert_eq!(last.to_unix_nanos(0), S - 1);
    }

    #[test]
    fn the_2036_wrap_is_seamless() {
        let last_of_era0 = Timestamp::from_unix_nanos((ERA1_UNIX - 1) * S);
        let first_of_era1 = Timestamp::from_unix_nanos(ERA1_UNIX * S);
        assert_eq!(last_of_era0.0 >> 32, 0xffff_ffff);
        assert_eq!(first_of_era1.0, 0, "era 1 starts with an all-zero timestamp");
        for pivot in [ERA1_UNIX - 86_400 * 365 * 60, ERA1_UNIX - 1, ERA1_UNIX, ERA1_UNIX + 86_400 * 365 * 60] {
            assert_eq!(last_of_era0.to_unix_nanos(pivot * S), (ERA1_UNIX - 1) * S, "pivot {pivot}");
            assert_eq!(first_of_era1.to_unix_nanos(pivot * S), ERA1_UNIX * S, "pivot {pivot}");
        }
        // Every second of a day around the wrap round-trips, from a pivot on either side.
        for second in ERA1_UNIX - 43_200..ERA1_UNIX + 43_200 {
            let nanos = second * S + 123_456_789;
            let ts = Timestamp::from_unix_nanos(nanos);
            for pivot in [ERA1_UNIX - 3 * 86_400, ERA1_UNIX + 3 * 86_400] {
                assert!((ts.to_unix_nanos(pivot * S) - nanos).abs() <= 1, "second {second}");
            }
        }
        // The same seconds field means 1900+ or 2036+ depending on the clock it is read against.
        let small = Timestamp(1000 << 32);
        let year_1910 = (10 * 365 * 86_400 - UNIX_EPOCH_IN_NTP) * S;
        assert_eq!(small.to_unix_nanos(year_1910), (1000 - UNIX_EPOCH_IN_NTP) * S);
        // From 1970 that is 70 years back but 66 ahead: more than half an era away, so 2036.
        assert_eq!(small.to_unix_nanos(0), (ERA1_UNIX + 1000) * S);
        assert_eq!(small.to_unix_nanos(ERA1_UNIX * S), (ERA1_UNIX + 1000) * S);
    }

    #[test]
    fn offset_and_delay_from_known_numbers() {
        // Client 1 s behind; 0.1 s each way on the network; server holds it 0.1 s.
        let base = 1_700_000_000 * S;
        let m = measure(
            base,
            Timestamp::from_unix_nanos(base + 1_100_000_000),
            Timestamp::from_unix_nanos(base + 1_200_000_000),
            base + 300_000_000,
            base,
        );
        assert_eq!((m.offset, m.delay), (S, 200_000_000));
        assert_eq!(m.server_time, base + 1_200_000_000);
        // Asymmetry shows as offset: 30 ms out, 10 ms back, clocks equal → offset +10 ms.
        let m = measure(
            base,
            Timestamp::from_unix_nanos(base + 30_000_000),
            Timestamp::from_unix_nanos(base + 30_000_000),
            base + 40_000_000,
            base,
        );
        assert_eq!((m.offset, m.delay), (10_000_000, 40_000_000));
        // Client ahead by 2.5 s.
        let m = measure(
            base,
            Timestamp::from_unix_nanos(base - 2_500_000_000 + 5_000),
            Timestamp::from_unix_nanos(base - 2_500_000_000 + 6_000),
            base + 11_000,
            base,
        );
        assert_eq!((m.offset, m.delay), (-2_500_000_000, 10_000));
    }

    #[test]
    fn offset_across_the_2036_wrap() {
        // The local clock reads just before the wrap, the server answers just after it.
        let t1 = (ERA1_UNIX - 1) * S + 900_000_000;
        let t2 = Timestamp::from_unix_nanos(ERA1_UNIX * S + 200_000_000); // seconds field 0
        let t3 = Timestamp::from_unix_nanos(ERA1_UNIX * S + 250_000_000);
        let t4 = ERA1_UNIX * S;
        let m = measure(t1, t2, t3, t4, t1);
        // ((0.3) + (0.25)) / 2 = 0.275 s; delay 0.1 − 0.05 = 0.05 s.
        assert_eq!((m.offset, m.delay), (275_000_000, 50_000_000));
        assert_eq!(m.server_time, ERA1_UNIX * S + 250_000_000);
        // And the other way round: local clock already in era 1, server still in era 0.
        let m = measure(ERA1_UNIX * S + 10 * S, Timestamp::from_unix_nanos((ERA1_UNIX - 5) * S), Timestamp::from_unix_nanos((ERA1_UNIX - 5) * S), ERA1_UNIX * S + 10 * S, ERA1_UNIX * S + 10 * S);
        assert_eq!(m.offset, -15 * S);
    }

    #[test]
    fn a_dead_clock_reads_the_server_in_the_right_era_through_the_pivot() {
        // The local clock says 1970 (no RTC); the build-time pivot says 2026; the server 2040.
        let server = (ERA1_UNIX + 4 * 365 * 86_400) * S;
        let build = 1_780_000_000 * S;
        let m = measure(0, Timestamp::from_unix_nanos(server), Timestamp::from_unix_nanos(server), 0, build);
        assert_eq!(m.offset, server);
    }

    #[test]
    fn request_layout() {
        let packet = request(Timestamp(0x0102_0304_0506_0708));
        assert_eq!(packet[0], 0x23, "LI 0, version 4, mode 3");
        assert!(packet[1..40].iter().all(|&b| b == 0));
        assert_eq!(&packet[40..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn a_good_reply_passes_and_every_defect_is_named() {
        let sent = Timestamp(0xdead_beef_0123_4567);
        let good = server_packet(sent);
        let packet = check_reply(&good, &[Timestamp(5), sent]).unwrap();
        assert_eq!(packet.stratum, 2);
        assert_eq!(packet.reference_id, [192, 0, 2, 1]);
        // Extension fields or a MAC after the 48 bytes do not matter.
        let mut longer = good.to_vec();
        longer.extend_from_slice(&[0xaa; 20]);
        assert!(check_reply(&longer, &[sent]).is_ok());

        let with = |edit: &dyn Fn(&mut [u8; PACKET_LEN])| {
            let mut p = good;
            edit(&mut p);
            check_reply(&p, &[sent])
        };
        assert_eq!(check_reply(&good[..47], &[sent]), Err(Rejection::Short(47)));
        assert_eq!(check_reply(b"garbage", &[sent]), Err(Rejection::Short(7)));
        assert_eq!(with(&|p| p[31] ^= 1), Err(Rejection::OriginMismatch));
        assert_eq!(with(&|p| p[24..32].fill(0)), Err(Rejection::OriginMismatch));
        assert_eq!(check_reply(&good, &[]), Err(Rejection::OriginMismatch));
        assert_eq!(with(&|p| p[0] = (2 << 3) | 4), Err(Rejection::Version(2)));
        assert_eq!(with(&|p| p[0] = (5 << 3) | 4), Err(Rejection::Version(5)));
        assert!(with(&|p| p[0] = (3 << 3) | 4).is_ok(), "version 3 servers are fine");
        assert_eq!(with(&|p| p[0] = (4 << 3) | 3), Err(Rejection::Mode(3)));
        assert_eq!(with(&|p| p[0] = (4 << 3) | 5), Err(Rejection::Mode(5)));
        let kod = with(&|p| {
            p[0] = (3 << 6) | (4 << 3) | 4;
            p[1] = 0;
            p[12..16].copy_from_slice(b"RATE");
        });
        assert_eq!(kod, Err(Rejection::KissOfDeath(*b"RATE")));
        assert_eq!(kod.unwrap_err().to_string(), "Kiss-o'-Death RATE: rate exceeded, query less often");
        let odd_kiss = Rejection::KissOfDeath([b'X', 0, 0x1b, b'Z']);
        assert_eq!(odd_kiss.to_string(), "Kiss-o'-Death X??Z");
        assert_eq!(with(&|p| p[0] |= 3 << 6), Err(Rejection::Unsynchronised));
        assert!(with(&|p| p[0] |= 1 << 6).is_ok(), "a leap second warning is fine");
        assert_eq!(with(&|p| p[1] = 16), Err(Rejection::Stratum(16)));
        assert!(with(&|p| p[1] = 15).is_ok());
        let far = with(&|p| p[4..8].copy_from_slice(&(16u32 << 16).to_be_bytes()));
        assert_eq!(far, Err(Rejection::RootDistance("delay", 16 * S)));
        assert_eq!(far.unwrap_err().to_string(), "root delay 16.000000 s is not below 16 s");
        assert!(with(&|p| p[8..12].copy_from_slice(&((16u32 << 16) - 1).to_be_bytes())).is_ok());
        assert!(matches!(with(&|p| p[8..12].copy_from_slice(&u32::MAX.to_be_bytes())), Err(Rejection::RootDistance("dispersion", _))));
        assert_eq!(with(&|p| p[32..40].fill(0)), Err(Rejection::ZeroTimestamp("receive")));
        assert_eq!(with(&|p| p[40..48].fill(0)), Err(Rejection::ZeroTimestamp("transmit")));
        let reversed = with(&|p| {
            let receive = u64::from_be_bytes(p[32..40].try_into().unwrap());
            p[40..48].copy_from_slice(&(receive - 1).to_be_bytes());
        });
        assert_eq!(reversed, Err(Rejection::Reversed));
    }

    #[test]
    fn only_unanswering_datagrams_are_ignorable() {
        assert!(Rejection::Short(3).ignorable());
        assert!(Rejection::OriginMismatch.ignorable());
        assert!(!Rejection::KissOfDeath(*b"DENY").ignorable());
        assert!(!Rejection::Mode(3).ignorable());
        assert!(!Rejection::Unsynchronised.ignorable());
    }

    #[test]
    fn seconds_text() {
        assert_eq!(signed_seconds(12_345), "+0.000012");
        assert_eq!(signed_seconds(-1_500_000_000), "-1.500000");
        assert_eq!(signed_seconds(0), "+0.000000");
        assert_eq!(seconds(80_499), "0.000080");
        assert_eq!(signed_seconds(i64::MIN), "-9223372036.854776");
    }
}
