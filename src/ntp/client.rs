//! One SNTP exchange with a server (RFC 4330 client mode) over a UDP socket: send a request,
//! wait for the answer with a timeout, send again a few times, and judge every datagram that
//! arrives ([`packet::check_reply`]) before the four timestamps give the offset and delay.
//!
//! Datagrams that do not answer our request — from another address or port, too short, with
//! an origin timestamp we never sent — are ignored while the wait goes on (anybody can send
//! those, so they must not cut the exchange short) and named in the error if no answer comes.
//! A datagram that does answer it is the server's word: a Kiss-o'-Death, a wrong mode or an
//! unsynchronised server ends the query at once, without asking again.
//!
//! Needs no privileges (an unprivileged source port); the clock is only read.
#![forbid(unsafe_code)]

use super::packet::{self, Rejection, Timestamp};
use crate::sys::clock;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;

/// The longest a query waits before it looks at its cancel token again.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// How hard to try.
#[derive(Clone, Debug)]
pub struct Options {
    /// Requests to send before giving up.
    pub tries: u32,
    /// How long to wait for the answer to each.
    pub timeout: Duration,
    /// The server's port: [`packet::PORT`], except in unit tests that cannot bind it.
    pub port: u16,
    /// Stops the wait early (Ctrl-C, the daemon's caller left): the query ends as unanswered.
    pub cancel: crate::cancel::Cancel,
}

impl Default for Options {
    /// Three requests, one second apart: a LAN server answers in a millisecond and a server
    /// across a satellite link in well under a second, and three losses in a row mean it is
    /// not there.
    fn default() -> Options {
        Options { tries: 3, timeout: Duration::from_secs(1), port: packet::PORT, cancel: crate::cancel::Cancel::new() }
    }
}

/// A good answer, measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Add this many nanoseconds to the local clock to agree with the server.
    pub offset: i64,
    /// Round-trip network delay, nanoseconds.
    pub delay: i64,
    /// The server's stratum (1–15).
    pub stratum: u8,
    /// The server's leap indicator (0–2).
    pub leap: u8,
    /// The server's reference ID (its upstream's address or a refclock name).
    pub reference_id: [u8; 4],
    /// When the server sent its reply, Unix nanoseconds by its clock.
    pub server_time: i64,
}

/// Why no sample came back.
#[derive(Debug)]
pub enum QueryError {
    /// No datagram answered any request in time.
    NoReply {
        /// The server and port.
        server: SocketAddrV4,
        /// Requests sent.
        tries: u32,
        /// Total time waited.
        waited: Duration,
        /// Datagrams ignored, and why the last one was.
        ignored: Option<(u32, String)>,
    },
    /// The server answered and the answer cannot be used.
    Refused {
        /// The server.
        server: SocketAddrV4,
        /// What is wrong with the answer.
        why: Rejection,
    },
    /// The socket failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The server.
        server: SocketAddrV4,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::NoReply { server, tries, waited, ignored } => {
                let tries = if *tries == 1 { "1 try".to_string() } else { format!("{tries} tries") };
                let tenths = (waited.as_millis() + 50) / 100;
                write!(f, "no reply from {server} after {tries} ({}.{} s)", tenths / 10, tenths % 10)?;
                match ignored {
                    Some((1, why)) => write!(f, "; ignored 1 datagram: {why}"),
                    Some((count, why)) => write!(f, "; ignored {count} datagrams, the last: {why}"),
                    None => Ok(()),
                }
            }
            QueryError::Refused { server, why: why @ Rejection::KissOfDeath(_) } => {
                write!(f, "{server} refused service: {why}")
            }
            QueryError::Refused { server, why } => write!(f, "bad reply from {server}: {why}"),
            QueryError::Io { op, server, source } => {
                write!(f, "{op} {server}: {}", crate::error::strip_errno(source))
            }
        }
    }
}

impl std::error::Error for QueryError {}

/// The realtime clock in Unix nanoseconds.
fn now_nanos() -> i64 {
    let (secs, nanos) = clock::realtime();
    secs.saturating_mul(1_000_000_000).saturating_add(i64::from(nanos))
}

/// The earliest time the software can run at: its build time. A local clock older than that
/// is surely wrong (no RTC battery), so the era of the server's timestamps is judged from the
/// later of the two.
fn era_pivot(local_nanos: i64) -> i64 {
    let build_secs = env!("SENSORCTL_BUILD_EPOCH").parse::<i64>().unwrap_or(0);
    local_nanos.max(build_secs.saturating_mul(1_000_000_000))
}

/// Asks `server` for the time (see the module doc); does not touch the clock.
pub fn query(server: Ipv4Addr, options: &Options) -> Result<Sample, QueryError> {
    let target = SocketAddrV4::new(server, options.port);
    let io_error = |op: &'static str| move |source: io::Error| QueryError::Io { op, server: target, source };
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).map_err(io_error("open a UDP socket for"))?;
    // Switches on the kernel's receive stamps for this socket (nothing to read yet: ENOENT).
    let _ = crate::sys::socket::last_receive_time(&socket);
    let started = clock::monotonic();
    // Every request sent so far: its transmit timestamp and our clock when it left. A late
    // answer to an earlier request is as good as any (its own t1 goes with it).
    let mut sent: Vec<(Timestamp, i64)> = Vec::new();
    let mut ignored: Option<(u32, String)> = None;
    let mut buf = [0u8; 512];
    for _ in 0..options.tries.max(1) {
        let transmit = random_timestamp().map_err(io_error("draw a random request id for"))?;
        let t1 = now_nanos();
        socket.send_to(&packet::request(transmit), target).map_err(io_error("send a request to"))?;
        sent.push((transmit, t1));
        let deadline = clock::monotonic() + options.timeout;
        loop {
            let now = clock::monotonic();
            if now >= deadline || options.cancel.is_cancelled() {
                break;
            }
            // In slices, so that a cancel from another thread is seen within one.
            socket.set_read_timeout(Some((deadline - now).min(CANCEL_CHECK))).map_err(io_error("set a timeout for"))?;
            let (len, from) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(io_error("receive from")(err)),
            };
            let t4 = arrival_time(&socket, sent.first().map_or(0, |(_, t1)| *t1));
            if from != SocketAddr::V4(target) {
                // The socket is IPv4-only; naming only V4 senders keeps IPv6 formatting out.
                let sender = match from {
                    SocketAddr::V4(v4) => v4.to_string(),
                    SocketAddr::V6(_) => "an IPv6 address".to_string(),
                };
                note(&mut ignored, format!("datagram from {sender}, not from the server's address and port"));
                continue;
            }
            let origins: Vec<Timestamp> = sent.iter().map(|(transmit, _)| *transmit).collect();
            match packet::check_reply(&buf[..len], &origins) {
                Ok(reply) => {
                    let t1 = sent.iter().find(|(transmit, _)| *transmit == reply.origin).map_or(t1, |(_, t1)| *t1);
                    let measured = packet::measure(t1, reply.receive, reply.transmit, t4, era_pivot(t1));
                    return Ok(Sample {
                        offset: measured.offset,
                        delay: measured.delay,
                        stratum: reply.stratum,
                        leap: reply.leap,
                        reference_id: reply.reference_id,
                        server_time: measured.server_time,
                    });
                }
                Err(why) if why.ignorable() => note(&mut ignored, why.to_string()),
                Err(why) => return Err(QueryError::Refused { server: target, why }),
            }
        }
    }
    Err(QueryError::NoReply { server: target, tries: options.tries.max(1), waited: clock::monotonic() - started, ignored })
}

/// When the datagram just read arrived: the kernel's stamp, taken as it entered the network
/// stack, so that the time this process took to be woken and scheduled (tens of microseconds
/// idle, milliseconds on a busy machine) does not count as network delay on the way back and
/// skew the offset. Falls back to the clock now when there is no plausible stamp.
fn arrival_time(socket: &UdpSocket, first_sent: i64) -> i64 {
    let now = now_nanos();
    match crate::sys::socket::last_receive_time(socket) {
        Ok((secs, nanos)) => {
            let stamp = secs.saturating_mul(1_000_000_000).saturating_add(i64::from(nanos));
            if (first_sent..=now).contains(&stamp) {
                stamp
            } else {
                now
            }
        }
        Err(_) => now,
    }
}

fn note(ignored: &mut Option<(u32, String)>, why: String) {
    let count = ignored.as_ref().map_or(0, |(count, _)| *count);
    log::info!("ignored: {why}");
    *ignored = Some((count + 1, why));
}

/// A transmit timestamp nobody can predict (and never zero, which means "unknown").
fn random_timestamp() -> io::Result<Timestamp> {
    let mut bytes = [0u8; 8];
    loop {
        crate::sys::random::fill(&mut bytes)?;
        let value = u64::from_be_bytes(bytes);
        if value != 0 {
            return Ok(Timestamp(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::packet::{MODE_SERVER, PACKET_LEN};
    use std::thread;

    /// A one-socket server on an ephemeral loopback port that answers each request through
    /// `answer(request, reply_template)`; `None` sends nothing.
    fn responder(
        answers: usize,
        answer: impl Fn(&[u8], [u8; PACKET_LEN]) -> Option<Vec<u8>> + Send + 'static,
    ) -> (u16, thread::JoinHandle<()>) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let handle = thread::spawn(move || {
            let mut buf = [0u8; 512];
            for _ in 0..answers {
                let Ok((len, from)) = socket.recv_from(&mut buf) else { return };
                if let Some(reply) = answer(&buf[..len], good_reply(&buf[..len])) {
                    socket.send_to(&reply, from).unwrap();
                }
            }
        });
        (port, handle)
    }

    /// A correct stratum-3 reply with the real clock.
    fn good_reply(request: &[u8]) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        p[0] = (4 << 3) | MODE_SERVER;
        p[1] = 3;
        p[12..16].copy_from_slice(b"\x7f\x7f\x01\x01");
        p[24..32].copy_from_slice(&request[40..48]);
        let now = Timestamp::from_unix_nanos(now_nanos());
        p[32..40].copy_from_slice(&now.0.to_be_bytes());
        p[40..48].copy_from_slice(&now.0.to_be_bytes());
        p
    }

    fn quick(port: u16) -> Options {
        Options { tries: 2, timeout: Duration::from_millis(300), port, ..Options::default() }
    }

    #[test]
    fn a_good_server_gives_a_small_offset_and_a_short_delay() {
        let (port, handle) = responder(1, |_, reply| Some(reply.to_vec()));
        let sample = query(Ipv4Addr::LOCALHOST, &quick(port)).unwrap();
        handle.join().unwrap();
        assert_eq!(sample.stratum, 3);
        // Loopback: well under the half second a loaded machine under qemu-user could need.
        assert!((0..500_000_000).contains(&sample.delay), "{sample:?}");
        // One clock on both ends: the true offset is 0, and NTP's estimate is off by at most
        // half the round trip's asymmetry, so half the delay (a fixed 5 ms failed under
        // qemu-user on a loaded machine: offset -11.4 ms with a delay of 23.9 ms).
        assert!(sample.offset.abs() <= sample.delay / 2 + 1_000_000, "{sample:?}");
    }

    #[test]
    fn requests_are_version_4_client_mode_with_a_fresh_random_transmit_timestamp() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let (port, handle) = responder(2, move |request, _| {
            log.lock().unwrap().push(request.to_vec());
            None
        });
        let err = query(Ipv4Addr::LOCALHOST, &quick(port)).unwrap_err();
        handle.join().unwrap();
        let requests = seen.lock().unwrap();
        assert_eq!(requests.len(), 2, "one request per try");
        for request in requests.iter() {
            assert_eq!(request.len(), PACKET_LEN);
            assert_eq!(request[0], 0x23);
        }
        assert_ne!(requests[0][40..48], requests[1][40..48]);
        let text = err.to_string();
        assert!(text.starts_with(&format!("no reply from 127.0.0.1:{port} after 2 tries (0.")), "{text}");
    }

    #[test]
    fn a_kiss_of_death_ends_the_query_at_once_and_names_the_code() {
        let (port, handle) = responder(1, |_, mut reply| {
            reply[0] = (3 << 6) | (4 << 3) | MODE_SERVER;
            reply[1] = 0;
            reply[12..16].copy_from_slice(b"DENY");
            Some(reply.to_vec())
        });
        let started = std::time::Instant::now();
        let err = query(Ipv4Addr::LOCALHOST, &Options { tries: 3, timeout: Duration::from_secs(2), port, ..Options::default() }).unwrap_err();
        handle.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "no retry after a kiss");
        assert_eq!(err.to_string(), format!("127.0.0.1:{port} refused service: Kiss-o'-Death DENY: access denied"));
    }

    #[test]
    fn garbage_and_forged_origins_are_ignored_and_named_and_a_later_good_reply_still_counts() {
        // The noise comes first, from the server's own port; the good reply after it counts.
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (len, from) = socket.recv_from(&mut buf).unwrap();
            socket.send_to(b"\x24\x01", from).unwrap();
            let mut forged = good_reply(&buf[..len]);
            forged[31] ^= 0x40;
            socket.send_to(&forged, from).unwrap();
            socket.send_to(&good_reply(&buf[..len]), from).unwrap();
        });
        let sample = query(Ipv4Addr::LOCALHOST, &quick(port)).unwrap();
        handle.join().unwrap();
        assert_eq!(sample.stratum, 3);

        let (port, handle) = responder(2, |_, mut reply| {
            reply[24] ^= 0x80;
            Some(reply.to_vec())
        });
        let err = query(Ipv4Addr::LOCALHOST, &quick(port)).unwrap_err().to_string();
        handle.join().unwrap();
        assert!(err.ends_with("; ignored 2 datagrams, the last: origin timestamp does not match our request (stray or forged reply)"), "{err}");
    }

    #[test]
    fn a_reply_from_another_port_is_ignored() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let other_port = other.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (len, from) = server.recv_from(&mut buf).unwrap();
            other.send_to(&good_reply(&buf[..len]), from).unwrap();
        });
        let err = query(Ipv4Addr::LOCALHOST, &Options { tries: 1, timeout: Duration::from_millis(300), port, ..Options::default() }).unwrap_err();
        handle.join().unwrap();
        assert_eq!(
            err.to_string(),
            format!("no reply from 127.0.0.1:{port} after 1 try (0.3 s); ignored 1 datagram: datagram from 127.0.0.1:{other_port}, not from the server's address and port")
        );
    }
}
