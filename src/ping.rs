//! `ping <IPv4>`: ICMP echo, with iputils' output shape (reply lines, then the statistics block).
//!
//! Echo requests carry iputils' 56 data bytes (so replies are "64 bytes"); round trips are timed
//! with the monotonic clock. With a raw socket, replies are matched on our identifier and the
//! sequence number; with a datagram socket the kernel owns the identifier and filters for us.
//! Ctrl-C (or SIGTERM) ends the run early and still prints the statistics.
//!
//! Needs CAP_NET_RAW for a raw socket; otherwise the caller's group must be in
//! `net.ipv4.ping_group_range` for a datagram socket.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::cancel::Cancel;
use crate::sys::{clock, icmp};

/// The longest ping waits before it looks at its cancel token again.
const CANCEL_CHECK: Duration = Duration::from_millis(100);
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Bytes of ICMP data after the 8-byte header, as iputils sends by default.
pub const DATA_LEN: usize = 56;
/// ICMP echo request and reply types.
const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;

/// What to send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PingPlan {
    /// Where to.
    pub target: Ipv4Addr,
    /// How many echo requests.
    pub count: u32,
    /// Time between requests.
    pub interval: Duration,
    /// How long to wait for replies after the last request.
    pub timeout: Duration,
}

/// The RFC 1071 Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP echo request: header, then the data bytes 0x00, 0x01, … like iputils' pattern.
pub fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![ECHO_REQUEST, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend((0..DATA_LEN).map(|i| i as u8));
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// An echo reply picked out of a received datagram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    /// ICMP identifier.
    pub id: u16,
    /// ICMP sequence number.
    pub seq: u16,
    /// Bytes of ICMP message (header and data), as ping reports them.
    pub icmp_len: usize,
    /// TTL from the IP header (raw sockets).
    pub ttl: Option<u8>,
}

/// Parses an echo reply; `with_ip_header` for raw sockets. Anything else (other ICMP types,
/// truncated packets, bad header lengths) is `None`.
pub fn parse_reply(packet: &[u8], with_ip_header: bool) -> Option<Reply> {
    let (icmp, ttl) = if with_ip_header {
        let first = *packet.first()?;
        let header_len = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || header_len < 20 || packet.len() < header_len {
            return None;
        }
        (&packet[header_len..], Some(*packet.get(8)?))
    } else {
        (packet, None)
    };
    if icmp.len() < 8 || icmp[0] != ECHO_REPLY || icmp[1] != 0 {
        return None;
    }
    Some(Reply {
        id: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        icmp_len: icmp.len(),
        ttl,
    })
}

/// iputils' round-trip format: 3 decimals under 1 ms, 2 under 10 ms, 1 under 100 ms, then whole.
pub fn format_rtt(rtt: Duration) -> String {
    let micros = rtt.as_micros();
    if micros >= 100_000 - 50 {
        format!("{}", (micros + 500) / 1000)
    } else if micros >= 10_000 - 5 {
        format!("{}.{:01}", (micros + 50) / 1000, ((micros + 50) % 1000) / 100)
    } else if micros >= 1000 {
        format!("{}.{:02}", (micros + 5) / 1000, ((micros + 5) % 1000) / 10)
    } else {
        format!("{}.{:03}", micros / 1000, micros % 1000)
    }
}

/// C's `%g` for a percentage: six significant digits, trailing zeros dropped.
pub fn format_percent(value: f64) -> String {
    if value == value.trunc() {
        return format!("{value:.0}");
    }
    let int_digits = if value.abs() >= 1.0 { value.abs().log10().floor() as usize + 1 } else { 1 };
    let text = format!("{value:.*}", 6usize.saturating_sub(int_digits));
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Round-trip statistics of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Requests sent.
    pub transmitted: u32,
    /// Round trips seen, in seconds.
    pub rtts: Vec<f64>,
    /// From the first request to the last request or reply.
    pub elapsed: Duration,
}

impl Stats {
    /// iputils' closing block (after an empty line).
    pub fn summary(&self, target: Ipv4Addr) -> Vec<String> {
        let received = self.rtts.len() as u32;
        let loss = if self.transmitted == 0 {
            0.0
        } else {
            f64::from(self.transmitted.saturating_sub(received)) * 100.0 / f64::from(self.transmitted)
        };
        let mut lines = vec![
            String::new(),
            format!("--- {target} ping statistics ---"),
            format!(
                "{} packets transmitted, {received} received, {}% packet loss, time {}ms",
                self.transmitted,
                format_percent(loss),
                self.elapsed.as_millis()
            ),
        ];
        if self.rtts.is_empty() {
            lines.push(String::new());
        } else {
            let n = self.rtts.len() as f64;
            let min = self.rtts.iter().copied().fold(f64::INFINITY, f64::min);
            let max = self.rtts.iter().copied().fold(0.0, f64::max);
            let avg = self.rtts.iter().sum::<f64>() / n;
            let mean_square = self.rtts.iter().map(|t| t * t).sum::<f64>() / n;
            let mdev = (mean_square - avg * avg).max(0.0).sqrt();
            lines.push(format!(
                "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms",
                min * 1e3,
                avg * 1e3,
                max * 1e3,
                mdev * 1e3
            ));
        }
        lines
    }
}

/// Runs the plan, printing as iputils does. Exit 0 when any reply came, 1 when none.
pub fn run(plan: &PingPlan, cancel: &Cancel, out: &mut dyn Write) -> Result<Status> {
    let socket = icmp::open().map_err(|e| Error::io("open ICMP socket for", plan.target.to_string(), e))?;
    let id = (std::process::id() & 0xffff) as u16;
    let write_err = |e: io::Error| Error::io("write", "standard output", e);
    let target = plan.target;
    let ip_len = DATA_LEN + 8 + 20;
    emit(out, &format!("PING {target} ({target}) {DATA_LEN}({ip_len}) bytes of data."))?;
    out.flush().map_err(write_err)?;

    let start = clock::monotonic();
    let mut sent_at: Vec<Duration> = Vec::new();
    let mut seen = vec![false; plan.count as usize];
    let mut stats = Stats::default();
    let mut last_event = Duration::ZERO;
    let mut buf = [0u8; 2048];
    while !cancel.is_cancelled() {
        let now = clock::monotonic() - start;
        let all_sent = sent_at.len() as u32 >= plan.count;
        if !all_sent && now >= plan.interval * sent_at.len() as u32 {
            let seq = (sent_at.len() + 1) as u16;
            socket
                .send_to(&echo_request(id, seq), plan.target)
                .map_err(|e| Error::io("send echo request to", plan.target.to_string(), e))?;
            sent_at.push(clock::monotonic() - start);
            last_event = last_event.max(now);
            stats.transmitted += 1;
            continue;
        }
        let received_all = stats.rtts.len() == sent_at.len();
        let deadline = if all_sent {
            if received_all {
                break;
            }
            sent_at.last().copied().unwrap_or_default() + plan.timeout
        } else {
            plan.interval * sent_at.len() as u32
        };
        if now >= deadline {
            if all_sent {
                break;
            }
            continue;
        }
        // In slices, so that a cancel from another thread (the daemon's caller left) is seen.
        match socket.wait_readable((deadline - now).min(CANCEL_CHECK)) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(Error::io("wait for replies from", plan.target.to_string(), err)),
        }
        let received = match socket.recv(&mut buf) {
            Ok(received) => received,
            Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => continue,
            Err(err) => return Err(Error::io("receive from", plan.target.to_string(), err)),
        };
        let arrived = clock::monotonic() - start;
        let Some(reply) = parse_reply(&buf[..received.len.min(buf.len())], socket.is_raw()) else { continue };
        let index = usize::from(reply.seq).wrapping_sub(1);
        let ours = received.from == plan.target && (!socket.is_raw() || reply.id == id);
        if !ours || index >= sent_at.len() || seen[index] {
            continue;
        }
        seen[index] = true;
        let rtt = arrived.saturating_sub(sent_at[index]);
        // Whole microseconds, as iputils keeps them, so the lines and the summary agree.
        stats.rtts.push(rtt.as_micros() as f64 / 1e6);
        last_event = last_event.max(arrived);
        let ttl = reply.ttl.or(received.ttl).map(|t| format!(" ttl={t}")).unwrap_or_default();
        emit(
            out,
            &format!(
                "{} bytes from {}: icmp_seq={}{ttl} time={} ms",
                reply.icmp_len,
                received.from,
                reply.seq,
                format_rtt(rtt)
            ),
        )?;
        out.flush().map_err(write_err)?;
    }
    stats.elapsed = last_event;
    for line in stats.summary(plan.target) {
        emit(out, &line)?;
    }
    Ok(if stats.rtts.is_empty() { Status::Problem } else { Status::Ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_rfc_1071_example_and_verifies_to_zero() {
        // RFC 1071 section 3 example bytes: the one's complement sum is 0xddf2.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
        let packet = echo_request(0x1234, 7);
        assert_eq!(packet.len(), 8 + DATA_LEN);
        assert_eq!(checksum(&packet), 0, "a packet with its checksum sums to zero");
    }

    #[test]
    fn replies_are_parsed_with_and_without_ip_header_and_junk_is_ignored() {
        let mut reply = echo_request(0xbeef, 3);
        reply[0] = ECHO_REPLY;
        let parsed = parse_reply(&reply, false).unwrap();
        assert_eq!((parsed.id, parsed.seq, parsed.icmp_len, parsed.ttl), (0xbeef, 3, 64, None));
        let mut ip = vec![0x45, 0, 0, 84, 0, 0, 0, 0, 63, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1];
        ip.extend_from_slice(&reply);
        assert_eq!(parse_reply(&ip, true).unwrap().ttl, Some(63));
        assert_eq!(parse_reply(&echo_request(1, 1), false), None, "a request is not a reply");
        for junk in [&[][..], &[0x45][..], &[0x4f, 0, 0][..], &[0x65; 40][..], &reply[..7]] {
            assert_eq!(parse_reply(junk, true), None);
        }
        assert_eq!(parse_reply(&reply[..7], false), None);
    }

    #[test]
    fn round_trips_and_percentages_print_as_iputils_does() {
        assert_eq!(format_rtt(Duration::from_micros(45)), "0.045");
        assert_eq!(format_rtt(Duration::from_micros(1234)), "1.23");
        assert_eq!(format_rtt(Duration::from_micros(12_345)), "12.3");
        assert_eq!(format_rtt(Duration::from_micros(123_456)), "123");
        assert_eq!(format_percent(0.0), "0");
        assert_eq!(format_percent(100.0), "100");
        assert_eq!(format_percent(100.0 / 3.0), "33.3333");
        assert_eq!(format_percent(25.0), "25");
    }

    #[test]
    fn statistics_block() {
        let stats = Stats { transmitted: 3, rtts: vec![0.000058, 0.000077, 0.000161], elapsed: Duration::from_millis(412) };
        assert_eq!(
            stats.summary(Ipv4Addr::new(10, 99, 0, 2)),
            [
                "",
                "--- 10.99.0.2 ping statistics ---",
                "3 packets transmitted, 3 received, 0% packet loss, time 412ms",
                "rtt min/avg/max/mdev = 0.058/0.099/0.161/0.045 ms",
            ]
        );
        let lost = Stats { transmitted: 3, rtts: vec![], elapsed: Duration::from_millis(412) };
        assert_eq!(lost.summary(Ipv4Addr::new(10, 99, 0, 3))[2], "3 packets transmitted, 0 received, 100% packet loss, time 412ms");
        assert_eq!(lost.summary(Ipv4Addr::new(10, 99, 0, 3)).last().unwrap(), "");
    }
}
