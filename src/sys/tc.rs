//! Traffic control over rtnetlink: the root TBF (token bucket filter) qdisc that
//! `network limit` installs, and its removal.
//!
//! The messages are the ones iproute2's `tc qdisc replace … root tbf rate R burst B limit L` and
//! `tc qdisc del … root` send, byte for byte (the unit tests compare them with captures of
//! iproute2 6.1): a `struct tcmsg`, `TCA_KIND "tbf"` and the nested `TCA_OPTIONS` with
//! `TCA_TBF_PARMS` (`struct tc_tbf_qopt`), `TCA_TBF_BURST`, `TCA_TBF_RATE64` for rates that do
//! not fit the 32-bit `tc_ratespec.rate`, and `TCA_TBF_RTAB`, the 256-entry rate table.
//!
//! libc has none of the tc structures, so they are declared here with `#[repr(C)]` and
//! compile-time checks of their sizes and field offsets against the kernel's uapi
//! `linux/pkt_sched.h` and `linux/rtnetlink.h`; the bytes are written field by field at those
//! offsets (native byte order, as netlink wants), so no `unsafe` is needed.
//!
//! Changing qdiscs needs CAP_NET_ADMIN in the interface's network namespace.
//!
//! # References
//! - [tc-tbf(8)](https://man7.org/linux/man-pages/man8/tc-tbf.8.html)
//! - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)

use crate::sys::netlink::{push_attr, RouteSocket};
use std::io;
use std::mem::{offset_of, size_of};

/// `struct tcmsg` (uapi `linux/rtnetlink.h`).
#[repr(C)]
#[allow(dead_code)] // only its layout is used: the bytes are written at its field offsets
struct TcMsg {
    tcm_family: u8,
    tcm_pad1: u8,
    tcm_pad2: u16,
    tcm_ifindex: i32,
    tcm_handle: u32,
    tcm_parent: u32,
    tcm_info: u32,
}

/// `struct tc_ratespec` (uapi `linux/pkt_sched.h`).
#[repr(C)]
#[allow(dead_code)]
struct TcRateSpec {
    cell_log: u8,
    linklayer: u8,
    overhead: u16,
    cell_align: i16,
    mpu: u16,
    rate: u32,
}

/// `struct tc_tbf_qopt` (uapi `linux/pkt_sched.h`).
#[repr(C)]
#[allow(dead_code)]
struct TcTbfQopt {
    rate: TcRateSpec,
    peakrate: TcRateSpec,
    limit: u32,
    buffer: u32,
    mtu: u32,
}

// The kernel ABI, the same on every architecture: a mismatch would send the kernel garbage.
const _: () = assert!(size_of::<TcMsg>() == 20);
const _: () = assert!(offset_of!(TcMsg, tcm_ifindex) == 4);
const _: () = assert!(offset_of!(TcMsg, tcm_handle) == 8);
const _: () = assert!(offset_of!(TcMsg, tcm_parent) == 12);
const _: () = assert!(offset_of!(TcMsg, tcm_info) == 16);
const _: () = assert!(size_of::<TcRateSpec>() == 12);
const _: () = assert!(offset_of!(TcRateSpec, linklayer) == 1);
const _: () = assert!(offset_of!(TcRateSpec, overhead) == 2);
const _: () = assert!(offset_of!(TcRateSpec, cell_align) == 4);
const _: () = assert!(offset_of!(TcRateSpec, mpu) == 6);
const _: () = assert!(offset_of!(TcRateSpec, rate) == 8);
const _: () = assert!(size_of::<TcTbfQopt>() == 36);
const _: () = assert!(offset_of!(TcTbfQopt, peakrate) == 12);
const _: () = assert!(offset_of!(TcTbfQopt, limit) == 24);
const _: () = assert!(offset_of!(TcTbfQopt, buffer) == 28);
const _: () = assert!(offset_of!(TcTbfQopt, mtu) == 32);

/// `TCA_KIND` and `TCA_OPTIONS` (enum in uapi `linux/rtnetlink.h`).
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
/// TBF's option attributes (uapi `linux/pkt_sched.h`).
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RTAB: u16 = 2;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
/// `TC_H_ROOT`: the qdisc attached to the device itself.
const TC_H_ROOT: u32 = 0xffff_ffff;
/// `TC_LINKLAYER_ETHERNET`: sizes are frame lengths, no ATM cell padding.
const TC_LINKLAYER_ETHERNET: u8 = 1;
/// The rate table's cell size, as a shift: iproute2 derives it from an MTU of 2047 when none is
/// given (the smallest shift with `2047 >> cell_log <= 255`), so 256 cells of 8 bytes.
const RTAB_CELL_LOG: u8 = 3;
/// Scheduler clock ticks per microsecond: the kernel's psched tick is 64 ns (`PSCHED_SHIFT` 6;
/// `/proc/net/psched` reads `000003e8 00000040 …`, 1000 ns per µs over 64 ns per tick).
const TICKS_PER_USEC: f64 = 1000.0 / 64.0;

/// What a root TBF qdisc is told: the rate, the bucket and the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tbf {
    /// Tokens per second, in bytes (frame lengths as the qdisc sees them).
    pub rate: u64,
    /// Bucket size in bytes: how much may leave back to back after a pause.
    pub burst: u32,
    /// Queue length in bytes; a packet that does not fit is dropped.
    pub limit: u32,
}

/// iproute2's `tc_calc_xmittime(rate, size)`: the time `size` bytes take at `rate` bytes per
/// second, in scheduler ticks. Reproduced with its double arithmetic and its truncations (to
/// whole microseconds, then to whole ticks) so that the rate table is the one `tc` sends.
fn xmit_ticks(rate: u32, size: u32) -> u32 {
    if rate == 0 {
        return 0;
    }
    let usecs = (1_000_000.0 * (f64::from(size) / f64::from(rate))) as u32;
    (f64::from(usecs) * TICKS_PER_USEC) as u32
}

/// The `TCA_TBF_RTAB` table: the transmit time of 8, 16, …, 2048 bytes.
fn rate_table(rate: u32) -> Vec<u8> {
    (0..256u32).flat_map(|cell| xmit_ticks(rate, (cell + 1) << RTAB_CELL_LOG).to_ne_bytes()).collect()
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The `struct tcmsg` for the root qdisc of `ifindex`.
fn root_tcmsg(ifindex: u32) -> Vec<u8> {
    let mut msg = vec![0u8; size_of::<TcMsg>()];
    put(&mut msg, offset_of!(TcMsg, tcm_family), &[libc::AF_UNSPEC as u8]);
    put(&mut msg, offset_of!(TcMsg, tcm_ifindex), &ifindex.to_ne_bytes());
    put(&mut msg, offset_of!(TcMsg, tcm_handle), &0u32.to_ne_bytes()); // the kernel picks one
    put(&mut msg, offset_of!(TcMsg, tcm_parent), &TC_H_ROOT.to_ne_bytes());
    msg
}

/// The payload of the `RTM_NEWQDISC` that installs `tbf` as the root qdisc of `ifindex`.
pub fn tbf_payload(ifindex: u32, tbf: Tbf) -> Vec<u8> {
    // Rates of 2^32 bytes/s and more go in TCA_TBF_RATE64; the 32-bit field then says "see
    // there" with its largest value, as iproute2 does.
    let rate32 = u32::try_from(tbf.rate).unwrap_or(u32::MAX);
    let mut qopt = vec![0u8; size_of::<TcTbfQopt>()];
    let rate_at = offset_of!(TcTbfQopt, rate);
    put(&mut qopt, rate_at + offset_of!(TcRateSpec, cell_log), &[RTAB_CELL_LOG]);
    put(&mut qopt, rate_at + offset_of!(TcRateSpec, linklayer), &[TC_LINKLAYER_ETHERNET]);
    put(&mut qopt, rate_at + offset_of!(TcRateSpec, cell_align), &(-1i16).to_ne_bytes());
    put(&mut qopt, rate_at + offset_of!(TcRateSpec, rate), &rate32.to_ne_bytes());
    // peakrate stays all zero: no second bucket.
    put(&mut qopt, offset_of!(TcTbfQopt, limit), &tbf.limit.to_ne_bytes());
    // The bucket as a time. The kernel takes TCA_TBF_BURST instead when it is present (as it
    // is here); the field is filled as iproute2 6.1 fills it, from the 32-bit rate.
    put(&mut qopt, offset_of!(TcTbfQopt, buffer), &xmit_ticks(rate32, tbf.burst).to_ne_bytes());

    let mut options = Vec::with_capacity(1100);
    push_attr(&mut options, TCA_TBF_PARMS, &qopt);
    push_attr(&mut options, TCA_TBF_BURST, &tbf.burst.to_ne_bytes());
    if tbf.rate >= 1 << 32 {
        push_attr(&mut options, TCA_TBF_RATE64, &tbf.rate.to_ne_bytes());
    }
    push_attr(&mut options, TCA_TBF_RTAB, &rate_table(rate32));

    let mut payload = root_tcmsg(ifindex);
    push_attr(&mut payload, TCA_KIND, b"tbf\0");
    push_attr(&mut payload, TCA_OPTIONS, &options);
    payload
}

/// The payload of the `RTM_DELQDISC` that removes the root qdisc of `ifindex`.
pub fn delete_root_payload(ifindex: u32) -> Vec<u8> {
    root_tcmsg(ifindex)
}

/// `RTM_NEWQDISC` with `NLM_F_CREATE | NLM_F_REPLACE`, parent `TC_H_ROOT`, kind `tbf`: puts a
/// token bucket filter at the root of `ifindex`, replacing whatever root qdisc was there.
/// Returns the bytes sent. Needs CAP_NET_ADMIN.
#[doc(alias = "RTM_NEWQDISC")]
pub fn replace_root_tbf(socket: &mut RouteSocket, ifindex: u32, tbf: Tbf) -> io::Result<Vec<u8>> {
    let flags = (libc::NLM_F_CREATE | libc::NLM_F_REPLACE) as u16;
    socket.request_ack(libc::RTM_NEWQDISC, flags, &tbf_payload(ifindex, tbf))
}

/// `RTM_DELQDISC`, parent `TC_H_ROOT`: removes the root qdisc of `ifindex`, so that the device
/// falls back to its default. The kernel answers `ENOENT` or `EINVAL` ("Cannot delete qdisc
/// with handle of zero") when the root qdisc already is the default one. Needs CAP_NET_ADMIN.
#[doc(alias = "RTM_DELQDISC")]
pub fn delete_root_qdisc(socket: &mut RouteSocket, ifindex: u32) -> io::Result<Vec<u8>> {
    socket.request_ack(libc::RTM_DELQDISC, 0, &delete_root_payload(ifindex))
}

/// `unshare(CLONE_NEWNET)` for the calling thread only: tests of code that changes qdiscs run on
/// a thread of their own in a fresh network namespace (programs that thread starts inherit it).
#[cfg(test)]
pub(crate) fn unshare_network_namespace_of_this_thread() -> io::Result<()> {
    // SAFETY: changes the network namespace of the calling thread only; it shares no file
    // descriptor table or filesystem state that unshare could invalidate.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }.map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netlink::build_request;

    /// The bytes of a capture in `tests/fixtures/tc/`: strace's `-e write=3` hex dump lines
    /// (` | 00000  64 04 00 00 …  d...$... |`). Each file starts with the exact commands that
    /// made it: a fresh namespace whose veth `capa0` is ifindex 3, and
    /// `strace -f -e trace=sendmsg -e write=3 -s 4096 tc qdisc …` (the netlink socket is fd 3),
    /// run with iproute2 6.1.0 on Linux 6.18.
    fn capture(text: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        for line in text.lines().filter(|l| l.starts_with(" | ")) {
            let hex = &line[10..59];
            for pair in hex.split_whitespace() {
                bytes.push(u8::from_str_radix(pair, 16).unwrap());
            }
        }
        bytes
    }

    /// The captured message with its sequence number (iproute2 uses the time) replaced by ours.
    fn with_seq(mut msg: Vec<u8>, seq: u32) -> Vec<u8> {
        msg[offset_of!(libc::nlmsghdr, nlmsg_seq)..][..4].copy_from_slice(&seq.to_ne_bytes());
        msg
    }

    fn ours(tbf: Tbf) -> Vec<u8> {
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_REPLACE) as u16;
        build_request(libc::RTM_NEWQDISC, flags, 7, &tbf_payload(3, tbf))
    }

    #[test]
    fn tbf_message_is_byte_for_byte_what_tc_sends() {
        // tc qdisc replace dev capa0 root tbf rate 1mbit burst 3064 limit 15564
        let tc = capture(include_str!("../../tests/fixtures/tc/tbf-1mbit.strace"));
        assert_eq!(tc.len(), 1124);
        assert_eq!(ours(Tbf { rate: 125_000, burst: 3064, limit: 15564 }), with_seq(tc, 7));
    }

    #[test]
    fn rate_table_truncations_match_tc_at_an_odd_rate() {
        // tc qdisc replace dev capa0 root tbf rate 12345bps burst 3100 limit 4334: neither the
        // microseconds nor the ticks come out whole, so every truncation shows.
        let tc = capture(include_str!("../../tests/fixtures/tc/tbf-12345bps.strace"));
        assert_eq!(ours(Tbf { rate: 12_345, burst: 3100, limit: 4334 }), with_seq(tc, 7));
    }

    #[test]
    fn rates_above_32_bits_carry_tca_tbf_rate64() {
        // tc qdisc replace dev capa0 root tbf rate 40gbit burst 50000000 limit 500000000
        let tc = capture(include_str!("../../tests/fixtures/tc/tbf-40gbit.strace"));
        assert_eq!(tc.len(), 1136, "12 bytes more than the 32-bit message: the RATE64 attribute");
        assert_eq!(ours(Tbf { rate: 5_000_000_000, burst: 50_000_000, limit: 500_000_000 }), with_seq(tc, 7));
    }

    #[test]
    fn delete_message_is_what_tc_sends() {
        // tc qdisc del dev capa0 root
        let tc = capture(include_str!("../../tests/fixtures/tc/del-root.strace"));
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        assert_eq!(build_request(libc::RTM_DELQDISC, flags, 7, &delete_root_payload(3)), with_seq(tc, 7));
    }

    #[test]
    fn xmit_time_edges() {
        assert_eq!(xmit_ticks(125_000, 8), 1000); // 64 µs
        assert_eq!(xmit_ticks(3750, 8), 33328); // 2133.33 µs → 2133 µs → 33328.125 ticks → 33328
        assert_eq!(xmit_ticks(u32::MAX, 2048), 0);
        assert_eq!(xmit_ticks(1, 1 << 20), u32::MAX, "saturates instead of wrapping");
        assert_eq!(xmit_ticks(0, 8), 0);
    }
}
