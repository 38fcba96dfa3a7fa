//! The SNTP reply check and the offset/delay arithmetic (src/ntp/packet.rs): any host that can
//! spoof the server's address reaches `check_reply` with 48+ bytes of its choosing. The target
//! pretends we sent the origin timestamp the datagram carries (else only the origin test
//! would ever run), and takes the local clock readings and the era pivot from the input's
//! tail.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::ntp::packet::{check_reply, measure, seconds, signed_seconds, Timestamp};

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    bytes.get(at..at + 8).map_or(0, |b| i64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
}

fuzz_target!(|data: &[u8]| {
    let origin = data.get(24..32).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
    let sent = [Timestamp(origin)];
    match check_reply(data, &sent) {
        Ok(packet) => {
            // Clock readings: from the input past the packet when present, else a fixed now.
            let now = 1_764_000_000_000_000_000i64;
            let (t1, t4, pivot) = if data.len() >= 48 + 24 {
                (i64_at(data, 48), i64_at(data, 56), i64_at(data, 64))
            } else {
                (now, now + 1_000_000, now)
            };
            let m = measure(t1, packet.receive, packet.transmit, t4, pivot);
            assert!(m.delay >= 0);
            let _ = (seconds(m.offset), signed_seconds(m.offset), seconds(m.delay));
            let _ = packet.transmit.to_unix_nanos(pivot);
        }
        Err(rejection) => {
            let text = rejection.to_string();
            assert!(!text.contains('\n'));
            let _ = rejection.ignorable();
        }
    }
});
