//! Capture filters: a compiler from the pcap-filter language (the subset the capture-filter
//! command writes or accepts as a component's base filter) to classic BPF for Ethernet links,
//! and the `tcpdump -d` listing of the program.
//!
//! The subset: `host`, `net` (`A.B.C.D`, shorter dotted forms, `/len`, `mask M`), `src`, `dst`
//! (and `src or dst`, `src and dst`), `port`, `portrange`, `tcp`, `udp`, `icmp`, `ip`, `ip6`,
//! `arp`, `vlan [id]`, `and`/`or`/`not` (`&&`, `||`, `!`) and parentheses. Any other word is an
//! error naming it ([`FilterError::Unsupported`]), never a silent accept: the components that
//! read the stored expression compile it with libpcap, and what we show and test must be what
//! they run.
//!
//! The semantics are libpcap's code generator's for a live Linux capture (DLT_EN10MB with the
//! kernel's VLAN extensions), checked packet for packet against `tcpdump` on a real veth pair
//! (tests/by-area/capture_filter.rs). The rules that are easy to get wrong, all libpcap's:
//! - `and` and `or` have the same precedence and group left to right (`a or b and c` is
//!   `(a or b) and c`); `not` binds tightest.
//! - `vlan` changes the offsets of every test after it in the text, whatever the parentheses
//!   (`(vlan 10 and ip) or ip` looks for IP after a tag in both halves). The first `vlan` also
//!   accepts a tag the kernel moved into the packet's metadata (SKF_AD_VLAN_TAG_PRESENT); later
//!   ones look in the packet data only.
//! - `host` and `net` match IPv4 and the sender/target addresses of ARP and RARP.
//! - `port` and `portrange` match TCP, UDP and SCTP over IPv4 (first fragments only) and IPv6
//!   (no extension headers); `tcp` and `udp` alone also look behind an IPv6 fragment header.
//! - A value after `and`/`or` without a keyword takes the last primitive's keywords
//!   (`port 502 or 503`).
//!
//! Not libpcap: the code generator. It builds a decision graph of tests, shares equal
//! subgraphs, skips tests whose outcome is known on a path and loads a register only when it
//! does not already hold the value; the programs come out no longer than libpcap's optimised
//! ones on average (figures in the README). Pure computation; needs no privileges.
#![forbid(unsafe_code)]

mod gen;
mod parse;

use std::fmt;

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
pub const KERNEL_MAX_INSNS: usize = 4096;

/// What an accepting program returns: the snapshot length libpcap uses (all of the packet).
pub const SNAPLEN: u32 = 262_144;

/// One classic BPF instruction, as `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Class, size, mode and operation bits.
    pub code: u16,
    /// Jump offset when the condition holds.
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// The constant operand.
    pub k: u32,
}

/// A compiled filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The instructions, ready for SO_ATTACH_FILTER.
    pub insns: Vec<Insn>,
}

/// Why an expression was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// A word outside the supported subset (a keyword we do not compile, a host name, a
    /// character a filter never holds).
    Unsupported(String),
    /// The words are known but do not form an expression here.
    Syntax(String),
    /// A value out of range or malformed (port 70000, vlan 5000, non-network bits set).
    BadValue(String),
    /// The program is longer than the limit.
    TooLong {
        /// Instructions the program needs.
        size: usize,
        /// The limit it was held to.
        limit: usize,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Unsupported(word) => write!(f, "unsupported word in capture filter: '{word}'"),
            FilterError::Syntax(why) => write!(f, "capture filter syntax error: {why}"),
            FilterError::BadValue(why) => write!(f, "bad value in capture filter: {why}"),
            FilterError::TooLong { size, limit } => {
                write!(f, "capture filter too long: {size} instructions, the limit is {limit}")
            }
        }
    }
}

impl std::error::Error for FilterError {}

/// Compiles `expression` (empty: accept everything) into a program of at most `max_insns`
/// instructions (and never more than the kernel's [`KERNEL_MAX_INSNS`]).
pub fn compile(expression: &str, max_insns: usize) -> Result<Program, FilterError> {
    let tree = parse::parse(expression)?;
    let insns = gen::generate(&tree);
    if insns == [Insn { code: RET, jt: 0, jf: 0, k: 0 }] {
        // libpcap refuses such a filter too: a component would fail to start with it.
        return Err(FilterError::Syntax("expression rejects all packets".into()));
    }
    let limit = max_insns.min(KERNEL_MAX_INSNS);
    if insns.len() > limit {
        return Err(FilterError::TooLong { size: insns.len(), limit });
    }
    Ok(Program { insns })
}

/// Checks `expression` without compiling it.
pub fn check(expression: &str) -> Result<(), FilterError> {
    parse::parse(expression).map(|_| ())
}

// Instruction fields (linux/bpf_common.h, linux/filter.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const MSH: u16 = 0xa0;
const ADD: u16 = 0x00;
const AND: u16 = 0x50;
const LSH: u16 = 0x60;
const JA: u16 = 0x00;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JGE: u16 = 0x30;
const JSET: u16 = 0x40;
const X: u16 = 0x08;
const TAX: u16 = 0x00;
/// Where the kernel's ancillary data starts in the load address space (SKF_AD_OFF).
const SKF_AD_OFF: u32 = 0xffff_f000;
/// SKF_AD_VLAN_TAG: the tag the kernel took out of the packet.
const SKF_AD_VLAN_TAG: u32 = 44;
/// SKF_AD_VLAN_TAG_PRESENT: 1 when it did.
const SKF_AD_VLAN_TAG_PRESENT: u32 = 48;

impl Program {
    /// The program as `tcpdump -d` prints it, one instruction a line.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        for (n, insn) in self.insns.iter().enumerate() {
            out.push_str(&insn.image(n));
            out.push('\n');
        }
        out
    }
}

impl Insn {
    /// One line of the listing for the instruction at index `n` (libpcap's bpf_image format).
    pub fn image(&self, n: usize) -> String {
        let k = self.k;
        let size = |code: u16| match code & 0x18 {
            H => "ldh",
            B => "ldb",
            _ => "ld",
        };
        let absolute = || match k.checked_sub(SKF_AD_OFF) {
            Some(SKF_AD_VLAN_TAG) => "[vlan_tci]".to_string(),
            Some(SKF_AD_VLAN_TAG_PRESENT) => "[vlanp]".to_string(),
            Some(other) => format!("[anc {other}]"),
            None => format!("[{k}]"),
        };
        let (op, operand): (&str, String) = match (self.code & 0x07, self.code) {
            (LD, code) if code & 0xe0 == ABS => (size(code), absolute()),
            (LD, code) if code & 0xe0 == IND => (size(code), format!("[x + {k}]")),
            (LD, code) if code & 0xe0 == MEM => ("ld", format!("M[{k}]")),
            (LD, _) => ("ld", format!("#0x{k:x}")),
            (LDX, code) if code & 0xe0 == MSH => ("ldxb", format!("4*([{k}]&0xf)")),
            (LDX, code) if code & 0xe0 == MEM => ("ldx", format!("M[{k}]")),
            (LDX, _) => ("ldx", format!("#0x{k:x}")),
            (ST, _) => ("st", format!("M[{k}]")),
            (ALU, code) => match (code & 0xf0, code & X) {
                (ADD, X) => ("add", "x".to_string()),
                (ADD, _) => ("add", format!("#{k}")),
                (AND, _) => ("and", format!("#0x{k:x}")),
                (LSH, _) => ("lsh", format!("#{k}")),
                _ => ("alu?", format!("#{k}")),
            },
            (JMP, code) if code & 0xf0 == JA => {
                return format!("({n:03}) {:<8} {}", "ja", n + 1 + k as usize);
            }
            (JMP, code) => {
                let op = match code & 0xf0 {
                    JEQ => "jeq",
                    JGT => "jgt",
                    JGE => "jge",
                    JSET => "jset",
                    _ => "j?",
                };
                let operand = format!("#0x{k:x}");
                return format!(
                    "({n:03}) {op:<8} {operand:<16} jt {}\tjf {}",
                    n + 1 + usize::from(self.jt),
                    n + 1 + usize::from(self.jf)
                );
            }
            (RET, _) => ("ret", format!("#{k}")),
            (MISC, code) if code & 0xf8 == TAX => ("tax", String::new()),
            _ => ("unknown", format!("0x{:x}", self.code)),
        };
        format!("({n:03}) {op:<8} {operand}")
    }
}

#[cfg(test)]
mod tests;
