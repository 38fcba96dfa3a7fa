//! The pcap-filter subset → a condition tree over packet loads, with libpcap's offsets.
//!
//! Offsets are decided while parsing, in the order of the text, because that is how libpcap
//! decides them: `vlan` moves the link-type and payload offsets of everything parsed after it
//! (see the module doc of `bpf`).

use super::{FilterError, B, H, JEQ, JGE, JGT, JSET, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT, W};

/// Where a test reads its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Load {
    /// `size` bytes at a fixed offset of the packet.
    Abs { size: u16, off: u32 },
    /// `size` bytes at `M[0] + off`: after the first `vlan`, whose tag may or may not be in
    /// the packet data.
    Var { size: u16, off: u32 },
    /// The 16 bits at `off` past the IPv4 header that starts at `nl` (its length from the
    /// header's IHL), plus `M[0]` when `var`.
    Tran { nl: u32, off: u32, var: bool },
    /// Kernel metadata (SKF_AD_OFF + `which`).
    Anc { size: u16, which: u32 },
}

/// One test: `(load & mask) op k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Atom {
    pub load: Load,
    pub mask: u32,
    pub op: u16,
    pub k: u32,
}

/// A filter as a condition tree, evaluated left to right with short circuits (as libpcap's
/// blocks are: the order matters for the one side effect, [`Cond::ShiftThen`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Cond {
    Test(Atom),
    /// All hold (empty: true).
    And(Vec<Cond>),
    /// One holds (empty: false).
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// Set `M[0]` (the variable part of the offsets) to 4, then evaluate: the first `vlan`
    /// found its tag in the packet data rather than in the metadata.
    ShiftThen(Box<Cond>),
}

impl Cond {
    pub(super) fn truth() -> Cond {
        Cond::And(Vec::new())
    }
}

const MAX_VLAN: u32 = 0x0fff;
const ETHERTYPE_IP: u32 = 0x0800;
const ETHERTYPE_ARP: u32 = 0x0806;
const ETHERTYPE_REVARP: u32 = 0x8035;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const VLAN_TPIDS: [u32; 3] = [0x8100, 0x88a8, 0x9100];
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPPROTO_SCTP: u32 = 132;
const IPPROTO_FRAGMENT: u32 = 44;
/// The link-type field and the link-layer payload of an Ethernet frame.
const OFF_LINKTYPE: u32 = 12;
const OFF_LINKPL: u32 = 14;
/// Longest expression we read: far more than a 4096-instruction program can come from.
const MAX_EXPRESSION: usize = 64 * 1024;
/// Deepest nesting of parentheses and `not`: keeps the recursion bounded.
const MAX_DEPTH: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    Not,
    And,
    Or,
    Word(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Default,
    Ip,
    Ip6,
    Arp,
    Tcp,
    Udp,
    Icmp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Either,
    Src,
    Dst,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addr {
    Default,
    Host,
    Net,
    Port,
    PortRange,
}

/// The keywords in front of a value (libpcap's `struct qual`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Qual {
    proto: Proto,
    dir: Dir,
    addr: Addr,
}

/// Parses `text`; the empty expression (blanks only) accepts everything.
pub(super) fn parse(text: &str) -> Result<Cond, FilterError> {
    if text.len() > MAX_EXPRESSION {
        return Err(FilterError::BadValue(format!("expression of {} bytes (at most {MAX_EXPRESSION})", text.len())));
    }
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Ok(Cond::truth());
    }
    let mut parser = Parser { tokens, pos: 0, depth: 0, vlans: 0, var: false, shift: 0, last: None };
    let cond = parser.expr()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(cond),
        Some(tok) => Err(unexpected(tok, "after a complete expression")),
    }
}

/// The keywords of the subset; any other word is unsupported wherever it appears.
const KEYWORDS: [&str; 15] =
    ["host", "net", "mask", "src", "dst", "port", "portrange", "tcp", "udp", "icmp", "ip", "ip6", "arp", "vlan", "not"];

/// An error for `tok` where it cannot stand: a word we do not know is named as unsupported.
fn unexpected(tok: &Tok, place: &str) -> FilterError {
    match tok {
        Tok::Word(word) if !KEYWORDS.contains(&word.as_str()) && !word.starts_with(|c: char| c.is_ascii_digit()) => {
            FilterError::Unsupported(word.clone())
        }
        _ => FilterError::Syntax(format!("unexpected {} {place}", shown(tok))),
    }
}

fn shown(tok: &Tok) -> String {
    match tok {
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::Not => "'not'".into(),
        Tok::And => "'and'".into(),
        Tok::Or => "'or'".into(),
        Tok::Word(w) => format!("'{w}'"),
    }
}

/// Splits on blanks and around `(`, `)`, `!`, `&&`, `||`. A word may hold letters, digits and
/// `.`, `/`, `-`, `_`, `:`; anything else (shell metacharacters, quotes, `=`, `[`) is refused
/// as the word it is part of.
fn lex(text: &str) -> Result<Vec<Tok>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '(' | ')' | '!' => {
                chars.next();
                if c == '!' && chars.peek().map(|&(_, n)| n) == Some('=') {
                    return Err(FilterError::Unsupported("!=".into()));
                }
                tokens.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    _ => Tok::Not,
                });
            }
            '&' | '|' => {
                chars.next();
                if chars.peek().map(|&(_, n)| n) != Some(c) {
                    return Err(FilterError::Unsupported(c.to_string()));
                }
                chars.next();
                tokens.push(if c == '&' { Tok::And } else { Tok::Or });
            }
            _ => {
                let mut end = start;
                let mut bad = false;
                while let Some(&(i, c)) = chars.peek() {
                    if matches!(c, ' ' | '\t' | '\n' | '\r' | '(' | ')' | '!' | '&' | '|') {
                        break;
                    }
                    bad |= !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_' | ':'));
                    end = i + c.len_utf8();
                    chars.next();
                }
                let word = &text[start..end];
                if bad {
                    return Err(FilterError::Unsupported(crate::validate::printable(word)));
                }
                tokens.push(match word {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Word(word.to_string()),
                });
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
    /// `vlan` keywords parsed so far.
    vlans: u32,
    /// Whether offsets have the variable part `M[0]` (after the first `vlan`).
    var: bool,
    /// The constant part added by later `vlan`s.
    shift: u32,
    /// The keywords of the last primitive, which a bare value after `and`/`or` takes; `None`
    /// after a primitive that has none (`tcp`, `vlan`).
    last: Option<Qual>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<Tok> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn deeper(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::Syntax(format!("nested more than {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    /// `term { (and|or) (term | value) }`, left to right, one precedence.
    fn expr(&mut self) -> Result<Cond, FilterError> {
        let mut left = self.term()?;
        while let Some(op) = self.peek().filter(|t| matches!(t, Tok::And | Tok::Or)).cloned() {
            self.next();
            let right = if self.value_follows() { self.implicit_value()? } else { self.term()? };
            left = match (op, left) {
                (Tok::And, Cond::And(mut all)) if !all.is_empty() => {
                    all.push(right);
                    Cond::And(all)
                }
                (Tok::And, left) => Cond::And(vec![left, right]),
                (_, Cond::Or(mut any)) if !any.is_empty() => {
                    any.push(right);
                    Cond::Or(any)
                }
                (_, left) => Cond::Or(vec![left, right]),
            };
        }
        Ok(left)
    }

    /// Whether a bare value (after any `not`s) comes next.
    fn value_follows(&self) -> bool {
        let mut at = self.pos;
        while let Some(Tok::Not) = self.tokens.get(at) {
            at += 1;
        }
        matches!(self.tokens.get(at), Some(Tok::Word(w)) if w.starts_with(|c: char| c.is_ascii_digit()))
    }

    fn implicit_value(&mut self) -> Result<Cond, FilterError> {
        match self.last {
            Some(qual) => self.value(qual),
            None => {
                let word = self.peek_word().unwrap_or_default().to_string();
                Err(FilterError::Syntax(format!("'{word}' needs a keyword (host, net, port) before it")))
            }
        }
    }

    fn term(&mut self) -> Result<Cond, FilterError> {
        self.deeper()?;
        let cond = match self.next() {
            Some(Tok::Not) => Cond::Not(Box::new(self.term()?)),
            Some(Tok::Open) => {
                let before = self.last;
                let inner = self.expr()?;
                match self.next() {
                    Some(Tok::Close) => {}
                    Some(tok) => return Err(unexpected(&tok, "where ')' was expected")),
                    None => return Err(FilterError::Syntax("missing ')'".into())),
                }
                self.last = before;
                inner
            }
            Some(Tok::Word(word)) => self.primitive(&word)?,
            Some(tok) => return Err(FilterError::Syntax(format!("unexpected {}", shown(&tok)))),
            None => return Err(FilterError::Syntax("the expression ends too early".into())),
        };
        self.depth -= 1;
        Ok(cond)
    }

    fn primitive(&mut self, word: &str) -> Result<Cond, FilterError> {
        let proto = match word {
            "ip" => Proto::Ip,
            "ip6" => Proto::Ip6,
            "arp" => Proto::Arp,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            "vlan" => {
                self.last = None;
                return self.vlan();
            }
            "src" | "dst" | "host" | "net" | "port" | "portrange" => {
                self.pos -= 1;
                return self.qualified(Proto::Default);
            }
            _ if word.starts_with(|c: char| c.is_ascii_digit()) => {
                return Err(FilterError::Syntax(format!("'{word}' needs a keyword (host, net, port) before it")))
            }
            _ => return Err(FilterError::Unsupported(word.to_string())),
        };
        if matches!(self.peek_word(), Some("src" | "dst" | "host" | "net" | "port" | "portrange")) {
            return self.qualified(proto);
        }
        self.last = None;
        Ok(match proto {
            Proto::Ip => self.linktype(ETHERTYPE_IP),
            Proto::Ip6 => self.linktype(ETHERTYPE_IPV6),
            Proto::Arp => self.linktype(ETHERTYPE_ARP),
            Proto::Tcp => Cond::Or(vec![self.ipv4_proto(IPPROTO_TCP), self.ipv6_proto(IPPROTO_TCP)]),
            Proto::Udp => Cond::Or(vec![self.ipv4_proto(IPPROTO_UDP), self.ipv6_proto(IPPROTO_UDP)]),
            Proto::Icmp | Proto::Default => self.ipv4_proto(IPPROTO_ICMP),
        })
    }

    /// `[src|dst|src or dst|src and dst] [host|net|port|portrange] value`.
    fn qualified(&mut self, proto: Proto) -> Result<Cond, FilterError> {
        let mut dir = Dir::Either;
        if let Some(first @ ("src" | "dst")) = self.peek_word() {
            dir = if first == "src" { Dir::Src } else { Dir::Dst };
            let other = if first == "src" { "dst" } else { "src" };
            self.next();
            let joined = matches!(self.peek(), Some(Tok::And | Tok::Or))
                && matches!(self.tokens.get(self.pos + 1), Some(Tok::Word(w)) if w == other);
            if joined {
                dir = if self.next() == Some(Tok::And) { Dir::Both } else { Dir::Either };
                self.next();
            }
        }
        let addr = match self.peek_word() {
            Some("host") => Addr::Host,
            Some("net") => Addr::Net,
            Some("port") => Addr::Port,
            Some("portrange") => Addr::PortRange,
            _ => Addr::Default,
        };
        if addr != Addr::Default {
            self.next();
        }
        let qual = Qual { proto, dir, addr };
        self.last = Some(qual);
        self.value(qual)
    }

    /// A value under `qual`, or `not` value (libpcap's `nid: not id`).
    fn value(&mut self, qual: Qual) -> Result<Cond, FilterError> {
        self.deeper()?;
        let word = match self.next() {
            Some(Tok::Not) => {
                let inner = self.value(qual)?;
                self.depth -= 1;
                return Ok(Cond::Not(Box::new(inner)));
            }
            Some(Tok::Word(word)) if word != "mask" => word,
            Some(Tok::Open) => return Err(FilterError::Unsupported("(".into())),
            Some(tok) => return Err(FilterError::Syntax(format!("expected a value but found {}", shown(&tok)))),
            None => return Err(FilterError::Syntax("a value is missing at the end".into())),
        };
        let cond = match qual.addr {
            Addr::Port | Addr::PortRange => self.port_value(qual, &word)?,
            Addr::Default | Addr::Host | Addr::Net => self.address_value(qual, &word)?,
        };
        self.depth -= 1;
        Ok(cond)
    }

    fn port_value(&mut self, qual: Qual, word: &str) -> Result<Cond, FilterError> {
        let protos: &[u32] = match qual.proto {
            Proto::Default => &[IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP],
            Proto::Tcp => &[IPPROTO_TCP],
            Proto::Udp => &[IPPROTO_UDP],
            _ => return Err(FilterError::Syntax(format!("illegal qualifier of '{}'", keyword(qual.addr)))),
        };
        let port = |text: &str| -> Result<u32, FilterError> {
            let value = number(text)?;
            if value > 65_535 {
                return Err(FilterError::BadValue(format!("illegal port number {value} > 65535")));
            }
            Ok(value)
        };
        let (lo, hi) = match (qual.addr, word.split_once('-')) {
            (Addr::PortRange, Some((a, b))) if !a.is_empty() && !b.is_empty() => {
                let (a, b) = (port(a)?, port(b)?);
                (a.min(b), a.max(b))
            }
            _ => {
                let value = port(word)?;
                (value, value)
            }
        };
        Ok(self.ports(lo, hi, qual.dir, protos))
    }

    fn address_value(&mut self, qual: Qual, word: &str) -> Result<Cond, FilterError> {
        let (addr, mask) = if let Some((net, bits)) = word.split_once('/') {
            let (value, len) = dotted(net)?;
            let bits = number(bits)?;
            if bits > 32 {
                return Err(FilterError::BadValue("mask length must be <= 32".into()));
            }
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            let value = value << (32 - len);
            if value & !mask != 0 {
                return Err(FilterError::BadValue(format!("non-network bits set in \"{word}\"")));
            }
            if qual.addr != Addr::Net {
                return Err(FilterError::Syntax("mask syntax for networks only".into()));
            }
            (value, mask)
        } else if self.peek_word() == Some("mask") {
            self.next();
            let Some(Tok::Word(mask_word)) = self.next() else {
                return Err(FilterError::Syntax("'mask' needs a netmask after it".into()));
            };
            let (value, len) = dotted(word)?;
            let (mask, mask_len) = dotted(&mask_word)?;
            let (value, mask) = (value << (32 - len), mask << (32 - mask_len));
            if value & !mask != 0 {
                return Err(FilterError::BadValue(format!("non-network bits set in \"{word} mask {mask_word}\"")));
            }
            if qual.addr != Addr::Net {
                return Err(FilterError::Syntax("mask syntax for networks only".into()));
            }
            (value, mask)
        } else if word.contains('.') {
            // A short dotted address names its leading octets: `net 10.1` is 10.1.0.0/16.
            let (value, len) = dotted(word)?;
            (value << (32 - len), u32::MAX << (32 - len))
        } else if word.starts_with(|c: char| c.is_ascii_digit()) {
            let mut value = number(word)?;
            let mut mask = u32::MAX;
            if qual.addr == Addr::Net {
                // A bare number is a classful network number: `net 10` is 10.0.0.0/8.
                while value != 0 && value & 0xff00_0000 == 0 {
                    value <<= 8;
                    mask <<= 8;
                }
            }
            (value, mask)
        } else {
            // Host names are not resolved: a filter that depends on DNS is not reproducible.
            return Err(FilterError::Unsupported(word.to_string()));
        };
        let families: &[(u32, u32, u32)] = match qual.proto {
            Proto::Default => &[(ETHERTYPE_IP, 12, 16), (ETHERTYPE_ARP, 14, 24), (ETHERTYPE_REVARP, 14, 24)],
            Proto::Ip => &[(ETHERTYPE_IP, 12, 16)],
            Proto::Arp => &[(ETHERTYPE_ARP, 14, 24)],
            Proto::Ip6 => return Err(FilterError::Syntax("'ip6' modifier applied to ip host".into())),
            Proto::Tcp | Proto::Udp | Proto::Icmp => {
                return Err(FilterError::Syntax(format!("'{}' modifier applied to host", proto_name(qual.proto))))
            }
        };
        let any = families
            .iter()
            .map(|&(ethertype, src, dst)| {
                let at = |off: u32| Cond::Test(Atom { load: self.payload(W, off), mask, op: JEQ, k: addr });
                Cond::And(vec![self.linktype(ethertype), directions(qual.dir, at(src), at(dst))])
            })
            .collect();
        Ok(Cond::Or(any))
    }

    /// `vlan [id]` at the current offsets, moving the offsets of what follows.
    fn vlan(&mut self) -> Result<Cond, FilterError> {
        let id = match self.peek_word() {
            Some(w) if w.starts_with(|c: char| c.is_ascii_digit()) => {
                let id = number(w)?;
                if id > MAX_VLAN {
                    return Err(FilterError::BadValue(format!("VLAN tag {id} greater than maximum {MAX_VLAN}")));
                }
                self.next();
                Some(id)
            }
            _ => None,
        };
        let tpid = Cond::Or(VLAN_TPIDS.iter().map(|&t| self.linktype(t)).collect());
        let cond = if self.vlans == 0 {
            // The outermost tag: the kernel usually moved it to the metadata. If it did not,
            // it is in the data and everything after it moves by 4 bytes at run time.
            let present = || {
                Cond::Test(Atom {
                    load: Load::Anc { size: B, which: SKF_AD_VLAN_TAG_PRESENT },
                    mask: u32::MAX,
                    op: JEQ,
                    k: 1,
                })
            };
            let tagged = Cond::Or(vec![present(), Cond::ShiftThen(Box::new(tpid))]);
            let cond = match id {
                None => tagged,
                Some(id) => {
                    let tci = |load| Cond::Test(Atom { load, mask: MAX_VLAN, op: JEQ, k: id });
                    let from_metadata = tci(Load::Anc { size: H, which: SKF_AD_VLAN_TAG });
                    let from_data = tci(Load::Abs { size: H, off: OFF_LINKPL });
                    Cond::And(vec![
                        tagged,
                        Cond::Or(vec![
                            Cond::And(vec![present(), from_metadata]),
                            Cond::And(vec![Cond::Not(Box::new(present())), from_data]),
                        ]),
                    ])
                }
            };
            self.var = true;
            cond
        } else {
            let cond = match id {
                None => tpid,
                Some(id) => Cond::And(vec![tpid, Cond::Test(Atom { load: self.payload(H, 0), mask: MAX_VLAN, op: JEQ, k: id })]),
            };
            self.shift += 4;
            cond
        };
        self.vlans += 1;
        Ok(cond)
    }

    /// A load of `size` at `off` into the link-layer payload (the network header).
    fn payload(&self, size: u16, off: u32) -> Load {
        let off = OFF_LINKPL + self.shift + off;
        if self.var {
            Load::Var { size, off }
        } else {
            Load::Abs { size, off }
        }
    }

    fn linktype(&self, ethertype: u32) -> Cond {
        let off = OFF_LINKTYPE + self.shift;
        let load = if self.var { Load::Var { size: H, off } } else { Load::Abs { size: H, off } };
        Cond::Test(Atom { load, mask: u32::MAX, op: JEQ, k: ethertype })
    }

    fn byte_is(&self, off: u32, value: u32) -> Cond {
        Cond::Test(Atom { load: self.payload(B, off), mask: u32::MAX, op: JEQ, k: value })
    }

    fn ipv4_proto(&self, proto: u32) -> Cond {
        Cond::And(vec![self.linktype(ETHERTYPE_IP), self.byte_is(9, proto)])
    }

    /// The IPv6 next header, or the one behind a fragment header.
    fn ipv6_proto(&self, proto: u32) -> Cond {
        Cond::And(vec![
            self.linktype(ETHERTYPE_IPV6),
            Cond::Or(vec![
                self.byte_is(6, proto),
                Cond::And(vec![self.byte_is(6, IPPROTO_FRAGMENT), self.byte_is(40, proto)]),
            ]),
        ])
    }

    /// Ports `lo..=hi` of `protos` in direction `dir`, over IPv6 then IPv4 (libpcap's order).
    fn ports(&self, lo: u32, hi: u32, dir: Dir, protos: &[u32]) -> Cond {
        let nl = OFF_LINKPL + self.shift;
        let range = |load: Load| -> Cond {
            let test = |op, k| Cond::Test(Atom { load, mask: u32::MAX, op, k });
            if lo == hi {
                return test(JEQ, lo);
            }
            // A bound that cannot fail is left out, but the load stays: a load past the end
            // of a short packet ends the filter with a reject, and libpcap's program loads.
            let mut both = Vec::new();
            if lo > 0 || hi == 65_535 {
                both.push(test(JGE, lo));
            }
            if hi < 65_535 {
                both.push(Cond::Not(Box::new(test(JGT, hi))));
            }
            Cond::And(both)
        };
        let v6_port = |off: u32| range(self.payload(H, 40 + off));
        let v4_port = |off: u32| range(Load::Tran { nl, off, var: self.var });
        let not_later_fragment = Cond::Not(Box::new(Cond::Test(Atom {
            load: self.payload(H, 6),
            mask: u32::MAX,
            op: JSET,
            k: 0x1fff,
        })));
        let v6 = Cond::And(vec![
            self.linktype(ETHERTYPE_IPV6),
            Cond::Or(
                protos
                    .iter()
                    .map(|&p| Cond::And(vec![self.byte_is(6, p), directions(dir, v6_port(0), v6_port(2))]))
                    .collect(),
            ),
        ]);
        let v4 = Cond::And(vec![
            self.linktype(ETHERTYPE_IP),
            Cond::Or(
                protos
                    .iter()
                    .map(|&p| {
                        Cond::And(vec![self.byte_is(9, p), not_later_fragment.clone(), directions(dir, v4_port(0), v4_port(2))])
                    })
                    .collect(),
            ),
        ]);
        Cond::Or(vec![v6, v4])
    }
}

fn directions(dir: Dir, src: Cond, dst: Cond) -> Cond {
    match dir {
        Dir::Src => src,
        Dir::Dst => dst,
        Dir::Either => Cond::Or(vec![src, dst]),
        Dir::Both => Cond::And(vec![src, dst]),
    }
}

fn keyword(addr: Addr) -> &'static str {
    match addr {
        Addr::PortRange => "portrange",
        _ => "port",
    }
}

fn proto_name(proto: Proto) -> &'static str {
    match proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Icmp => "icmp",
        Proto::Ip => "ip",
        Proto::Ip6 => "ip6",
        Proto::Arp => "arp",
        Proto::Default => "",
    }
}

/// A number as libpcap reads one: `0x` hexadecimal, a leading `0` octal, else decimal.
fn number(text: &str) -> Result<u32, FilterError> {
    let bad = || FilterError::BadValue(format!("'{text}' is not a number"));
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(if text.starts_with(|c: char| c.is_ascii_digit()) { bad() } else { FilterError::Unsupported(text.into()) });
    }
    u32::from_str_radix(digits, radix).map_err(|_| FilterError::BadValue(format!("number {text} too large")))
}

/// A dotted address of 1 to 4 decimal octets: its value (right-aligned) and its bit length.
fn dotted(text: &str) -> Result<(u32, u32), FilterError> {
    let parts: Vec<&str> = text.split('.').collect();
    let bad = || FilterError::BadValue(format!("invalid IPv4 address '{text}'"));
    if parts.len() > 4 || !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(if text.starts_with(|c: char| c.is_ascii_digit()) { bad() } else { FilterError::Unsupported(text.into()) });
    }
    let mut value = 0u32;
    for part in &parts {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let octet: u32 = part.parse().map_err(|_| bad())?;
        if octet > 255 {
            return Err(bad());
        }
        value = value << 8 | octet;
    }
    // `len` counts whole octets; shifting by 32 - 32 is a shift by 0.
    let len = 8 * parts.len() as u32;
    Ok((value, len))
}
