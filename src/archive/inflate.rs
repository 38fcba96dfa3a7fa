//! A streaming raw-deflate (RFC 1951) decoder, the one under [`super::gzip::GzipReader`].
//!
//! Why not miniz_oxide's, which the writer still uses: the release binary is built at
//! opt-level "z", where miniz_oxide's inflate keeps its small helpers (bit reads, table
//! lookups, match copies) as out-of-line calls; `perf` put inflate at 38 % of a restore, and
//! restore must be at least as fast as `tar -xzf` on one thread (issue 7). This decoder keeps
//! the whole symbol loop in one function: one 64-bit refill per symbol (two literals may share
//! one), table entries that carry the length and distance bases with their extra-bit counts,
//! and matches copied 8 or 16 bytes at a time within a linear output buffer.
//!
//! Streaming without partial symbols: a call decodes only while the bit buffer holds a whole
//! worst-case symbol (48 bits) or the input is known to be complete, and only while the output
//! has room for a whole match. Otherwise it stops *between* symbols, hands back the input
//! bytes it had loaded but not used, and keeps at most 7 bits. So its state between calls is
//! the block it is in, its tables and those few bits; a dynamic block header is decoded in one
//! go or not at all (the caller then supplies more input, at most about 560 bytes).
//!
//! Strict like zlib: over-subscribed and incomplete codes are refused (except the single
//! one-bit code zlib also accepts), as are more than 286 length or 30 distance codes, a
//! missing end-of-block code, distances beyond the member's output, and stored lengths whose
//! complement does not match. Errors are `InvalidData` with a short reason; nothing panics.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use super::gzip::{invalid, truncated};
use std::io;
use std::ops::Range;

/// Bytes of history a back-reference can reach.
pub const HISTORY: usize = 32 * 1024;

/// Room the decoder wants past its write position before it decodes a symbol: the longest
/// match (258) plus the up to 15 bytes a chunked copy writes beyond it.
const ROOM: usize = 258 + 16;

/// Bits of a worst-case length/distance pair: 15 + 5 extra + 15 + 13 extra.
const PAIR_BITS: u32 = 48;

/// Primary-table index bits of the literal/length and distance tables; longer codes go
/// through a subtable.
const LITLEN_ROOT: u32 = 10;
const DIST_ROOT: u32 = 8;
/// Table sizes: the primary table plus room for subtables. The worst cases, from zlib's
/// `enough` program as libdeflate records them, are 1334 entries (`enough 288 10 15`) and 402
/// (`enough 32 8 15`); `build` still checks every subtable against the slice it fills.
const LITLEN_TABLE: usize = 1 << 11;
const DIST_TABLE: usize = 1 << 9;
/// The code-length code has at most 7-bit codes, so it needs no subtable.
const CODELEN_ROOT: u32 = 7;

// A table entry is a u32: bits 0-7 the code's length (bits to consume), bits 8-11 the extra
// bits of a length or distance (or the index bits of a subtable), bits 12-15 the kind, bits
// 16-31 the value (literal byte, length or distance base, code-length symbol, subtable start).
const KIND: u32 = 0xf << 12;
const LITERAL: u32 = 0;
const BASE: u32 = 1 << 12;
const END: u32 = 2 << 12;
const SUBTABLE: u32 = 3 << 12;
const INVALID: u32 = 4 << 12;

const LENGTH_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/// The order in which a dynamic header lists the code-length code's lengths.
const CODELEN_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// Where the decoder is between calls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    /// Before a block's 3 header bits.
    BlockHeader,
    /// After a dynamic block's 3 header bits, before its code lengths.
    DynamicHeader,
    /// After a stored block's 3 header bits, before LEN and NLEN.
    StoredHeader,
    /// Inside a stored block, with this many bytes left.
    Stored(usize),
    /// Inside a Huffman-coded block whose tables are loaded.
    Huffman,
    /// After the final block.
    Done,
}

/// What stopped a call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// All usable input is used: call again with more (the unconsumed bytes first).
    NeedInput,
    /// The output buffer is full: take the output, then call again.
    OutputFull,
    /// The final block ended; the input after `consumed` is not deflate data.
    Done,
}

/// The result of one [`Inflater::inflate`] call.
#[derive(Debug)]
pub struct Inflated {
    /// Input bytes used; the caller passes the rest again next time.
    pub consumed: usize,
    /// Where this call's output lies in [`Inflater::output`].
    pub produced: Range<usize>,
    /// Why the call stopped.
    pub progress: Progress,
}

/// The input of one call, read least-significant bit first through a 64-bit buffer.
///
/// Bytes are loaded ahead; only `left` bits of `buf` are loaded and unused. Bits above `left`
/// are either zero or the same bits the next refill would load (a fast refill loads eight
/// bytes and counts only the whole ones it had room for; OR-ing the same bits again changes
/// nothing), so a lookup may peek above `left` and `consume` checks the count.
#[derive(Clone, Copy)]
struct Bits<'a> {
    input: &'a [u8],
    pos: usize,
    buf: u64,
    left: u32,
}

impl Bits<'_> {
    /// Loads input until at least 56 bits are buffered, or the input is used up; never more
    /// than 63, which the shift by `left` needs.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(word) = self.input.get(self.pos..self.pos + 8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            self.buf |= u64::from_le_bytes(bytes) << self.left;
            let whole = (63 - self.left) >> 3;
            self.pos += whole as usize;
            self.left += whole << 3;
        } else {
            while self.left < 56 {
                let Some(&byte) = self.input.get(self.pos) else { break };
                self.buf |= u64::from(byte) << self.left;
                self.pos += 1;
                self.left += 8;
            }
        }
    }

    /// Drops `n` bits; more than are loaded means the input ended inside a symbol.
    #[inline(always)]
    fn consume(&mut self, n: u32) -> io::Result<()> {
        if n > self.left {
            return Err(truncated());
        }
        self.buf >>= n;
        self.left -= n;
        Ok(())
    }

    /// The next `n` (at most 32) bits as a number, consumed.
    #[inline(always)]
    fn take(&mut self, n: u32) -> io::Result<usize> {
        let value = (self.buf & ((1u64 << n) - 1)) as usize;
        self.consume(n)?;
        Ok(value)
    }

    /// Hands back the whole bytes loaded but not used; keeps the other 0-7 bits.
    fn park(&mut self) {
        let back = self.left >> 3;
        self.pos -= back as usize;
        self.left -= back << 3;
        self.buf &= (1u64 << self.left) - 1;
    }
}

/// The entry of the code at the bottom of `bits`: the primary table's, or its subtable's.
#[inline(always)]
fn lookup<const N: usize>(table: &[u32; N], root: u32, bits: u64) -> u32 {
    let entry = table[(bits as usize) & ((1 << root) - 1) & (N - 1)];
    if entry & KIND != SUBTABLE {
        return entry;
    }
    let sub_bits = (entry >> 8) & 0xf;
    let index = (entry >> 16) as usize + ((bits >> root) as usize & ((1 << sub_bits) - 1));
    table.get(index).copied().unwrap_or(INVALID)
}

/// Copies a match of `length` bytes from `from` to `to` (`from` + `N` <= `to`, so every chunk
/// is read wholly before it is written, overlap or not) in `N`-byte chunks; the last chunk may
/// write up to `N` - 1 bytes past the match, within [`ROOM`] (so the `else` branches cannot
/// be taken). Written with `first_chunk` because slice-to-slice copies stay out-of-line calls
/// at opt-level "z".
#[inline(always)]
fn copy_forward<const N: usize>(out: &mut [u8], mut from: usize, mut to: usize, length: usize) {
    let end = to + length;
    while to < end {
        let Some(&chunk) = out.get(from..).and_then(|rest| rest.first_chunk::<N>()) else { return };
        let Some(target) = out.get_mut(to..).and_then(|rest| rest.first_chunk_mut::<N>()) else { return };
        *target = chunk;
        from += N;
        to += N;
    }
}

/// Fills `table` with the decoding entries of the canonical Huffman code whose code lengths
/// are `lengths` (0 = symbol unused); `entry(symbol)` gives a symbol's entry without its
/// length. Refuses an over-subscribed code, and an incomplete one unless `single_ok` and it is
/// one code of one bit. A code with no symbols gives a table of invalid entries.
fn build(table: &mut [u32], root: u32, lengths: &[u8], single_ok: bool, entry: impl Fn(usize) -> u32) -> io::Result<()> {
    let mut count = [0u32; 16];
    for &len in lengths {
        count[usize::from(len)] += 1;
    }
    count[0] = 0;
    let max = (1..16).rev().find(|&len| count[len] > 0).unwrap_or(0);
    let primary = 1usize << root;
    table[..primary].fill(INVALID);
    if max == 0 {
        return Ok(());
    }
    let mut left: i64 = 1;
    for &n in &count[1..] {
        left = (left << 1) - i64::from(n);
        if left < 0 {
            return Err(invalid("corrupt deflate data (over-subscribed Huffman code)"));
        }
    }
    if left > 0 && !(single_ok && max == 1) {
        return Err(invalid("corrupt deflate data (incomplete Huffman code)"));
    }
    // Symbols sorted by (length, symbol), each with its canonical code, bit-reversed because
    // deflate sends a code's most significant bit first into an LSB-first stream.
    let mut next_code = [0u32; 16];
    for len in 2..16 {
        next_code[len] = (next_code[len - 1] + count[len - 1]) << 1;
    }
    let mut offset = [0usize; 16];
    for len in 2..16 {
        offset[len] = offset[len - 1] + count[len - 1] as usize;
    }
    let mut sorted = [(0u16, 0u8, 0u16); 320];
    for (symbol, &len) in lengths.iter().enumerate() {
        if len > 0 {
            let len = usize::from(len);
            let code = next_code[len];
            next_code[len] += 1;
            let reversed = (code.reverse_bits() >> (32 - len)) as u16;
            sorted[offset[len]] = (symbol as u16, len as u8, reversed);
            offset[len] += 1;
        }
    }
    let total = offset[15];
    let mut next_free = primary;
    let mut current: Option<(usize, usize, u32)> = None; // (prefix, start, index bits)
    for i in 0..total {
        let (symbol, len, reversed) = sorted[i];
        let (len, reversed) = (u32::from(len), usize::from(reversed));
        let value = entry(usize::from(symbol)) | len;
        if len <= root {
            for slot in (reversed..primary).step_by(1 << len) {
                table[slot] = value;
            }
            continue;
        }
        let prefix = reversed & (primary - 1);
        let (start, sub_bits) = match current {
            Some((p, start, sub_bits)) if p == prefix => (start, sub_bits),
            _ => {
                // Codes sharing a prefix are adjacent in canonical order with non-decreasing
                // lengths, so the group's last code gives the subtable's depth.
                let deepest = sorted[i..total]
                    .iter()
                    .take_while(|&&(_, l, r)| u32::from(l) > root && usize::from(r) & (primary - 1) == prefix)
                    .last()
                    .map_or(len, |&(_, l, _)| u32::from(l));
                let sub_bits = deepest - root;
                let start = next_free;
                next_free += 1 << sub_bits;
                let Some(sub) = table.get_mut(start..next_free) else {
                    return Err(invalid("corrupt deflate data (Huffman table too large)"));
                };
                sub.fill(INVALID);
                table[prefix] = SUBTABLE | (sub_bits << 8) | ((start as u32) << 16) | root;
                current = Some((prefix, start, sub_bits));
                (start, sub_bits)
            }
        };
        for slot in ((reversed >> root)..(1 << sub_bits)).step_by(1 << (len - root)) {
            table[start + slot] = value;
        }
    }
    Ok(())
}

fn litlen_entry(symbol: usize) -> u32 {
    match symbol {
        0..=255 => LITERAL | (symbol as u32) << 16,
        256 => END,
        257..=285 => {
            let i = symbol - 257;
            BASE | u32::from(LENGTH_EXTRA[i]) << 8 | u32::from(LENGTH_BASE[i]) << 16
        }
        _ => INVALID,
    }
}

fn dist_entry(symbol: usize) -> u32 {
    match (DIST_BASE.get(symbol), DIST_EXTRA.get(symbol)) {
        (Some(&base), Some(&extra)) => BASE | u32::from(extra) << 8 | u32::from(base) << 16,
        _ => INVALID,
    }
}

/// A raw-deflate decoder that writes into its own linear buffer: the last [`HISTORY`] bytes of
/// output followed by room for new output. Used for one member after another
/// ([`Inflater::start_member`]); a back-reference never reaches into an earlier member.
pub struct Inflater {
    state: State,
    final_block: bool,
    /// Bits loaded but not used, at most 7, between calls.
    buf: u64,
    left: u32,
    litlen: Box<[u32; LITLEN_TABLE]>,
    dist: Box<[u32; DIST_TABLE]>,
    /// Whether the tables hold the fixed code (a run of fixed blocks builds them once).
    fixed_loaded: bool,
    out: Box<[u8]>,
    out_pos: usize,
    /// Where the current member's output starts in `out` (0 once it has slid out).
    member_start: usize,
}

impl Inflater {
    /// A decoder whose buffer holds `size` bytes (at least [`HISTORY`] + 2 × the room a
    /// symbol needs; larger means longer pieces of output per call).
    pub fn new(size: usize) -> Inflater {
        Inflater {
            state: State::Done,
            final_block: false,
            buf: 0,
            left: 0,
            litlen: Box::new([INVALID; LITLEN_TABLE]),
            dist: Box::new([INVALID; DIST_TABLE]),
            fixed_loaded: false,
            out: vec![0; size.max(HISTORY + 4 * ROOM)].into_boxed_slice(),
            out_pos: 0,
            member_start: 0,
        }
    }

    /// Begins a new deflate stream (a gzip member's body).
    pub fn start_member(&mut self) {
        self.state = State::BlockHeader;
        self.final_block = false;
        self.buf = 0;
        self.left = 0;
        self.member_start = self.out_pos;
    }

    /// The output buffer; [`Inflated::produced`] says which part a call wrote.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Decodes from `input` (`complete`: no more input follows it) until the input is used
    /// up, the output buffer is full or the stream ends. Output of earlier calls may move, so
    /// the caller takes each call's output before the next call.
    pub fn inflate(&mut self, input: &[u8], complete: bool) -> io::Result<Inflated> {
        if self.out.len() - self.out_pos < ROOM {
            // Keep the history a back-reference can reach; start again after it.
            let shift = self.out_pos - HISTORY;
            self.out.copy_within(shift..self.out_pos, 0);
            self.out_pos = HISTORY;
            self.member_start = self.member_start.saturating_sub(shift);
        }
        let start = self.out_pos;
        let mut bits = Bits { input, pos: 0, buf: self.buf, left: self.left };
        let progress = self.run(&mut bits, complete)?;
        bits.park();
        self.buf = bits.buf;
        self.left = bits.left;
        Ok(Inflated { consumed: bits.pos, produced: start..self.out_pos, progress })
    }

    fn run(&mut self, bits: &mut Bits, complete: bool) -> io::Result<Progress> {
        loop {
            match self.state {
                State::Done => return Ok(Progress::Done),
                State::BlockHeader => {
                    if self.final_block {
                        self.state = State::Done;
                        // The stream ends on a byte boundary: drop the last byte's spare bits.
                        let spare = bits.left & 7;
                        bits.consume(spare)?;
                        return Ok(Progress::Done);
                    }
                    bits.refill();
                    if bits.left < 3 && !complete {
                        return Ok(Progress::NeedInput);
                    }
                    let header = bits.take(3)?;
                    self.final_block = header & 1 == 1;
                    self.state = match header >> 1 {
                        0 => State::StoredHeader,
                        1 => {
                            self.load_fixed()?;
                            State::Huffman
                        }
                        2 => State::DynamicHeader,
                        _ => return Err(invalid("corrupt deflate data (reserved block type)")),
                    };
                }
                State::DynamicHeader => {
                    if !self.read_dynamic_header(bits, complete)? {
                        return Ok(Progress::NeedInput);
                    }
                    self.state = State::Huffman;
                }
                State::StoredHeader => {
                    // Stored data starts at the next byte boundary; hand the loaded whole
                    // bytes back so LEN and NLEN are read from the input itself.
                    bits.consume(bits.left & 7)?;
                    bits.park();
                    let Some(field) = bits.input.get(bits.pos..bits.pos + 4) else {
                        return if complete { Err(truncated()) } else { Ok(Progress::NeedInput) };
                    };
                    let len = u16::from_le_bytes([field[0], field[1]]);
                    let nlen = u16::from_le_bytes([field[2], field[3]]);
                    if len != !nlen {
                        return Err(invalid("corrupt deflate data (stored block length check)"));
                    }
                    bits.pos += 4;
                    self.state = State::Stored(usize::from(len));
                }
                State::Stored(0) => self.state = State::BlockHeader,
                State::Stored(remaining) => {
                    let available = bits.input.len() - bits.pos;
                    let room = self.out.len() - self.out_pos;
                    let n = remaining.min(available).min(room);
                    if n == 0 {
                        return if room == 0 {
                            Ok(Progress::OutputFull)
                        } else if complete {
                            Err(truncated())
                        } else {
                            Ok(Progress::NeedInput)
                        };
                    }
                    self.out[self.out_pos..self.out_pos + n].copy_from_slice(&bits.input[bits.pos..bits.pos + n]);
                    self.out_pos += n;
                    bits.pos += n;
                    self.state = State::Stored(remaining - n);
                }
                State::Huffman => {
                    let progress = self.decode_symbols(bits, complete)?;
                    if let Some(progress) = progress {
                        return Ok(progress);
                    }
                    self.state = State::BlockHeader;
                }
            }
        }
    }

    fn load_fixed(&mut self) -> io::Result<()> {
        if !self.fixed_loaded {
            let mut lengths = [8u8; 288];
            lengths[144..256].fill(9);
            lengths[256..280].fill(7);
            build(&mut self.litlen[..], LITLEN_ROOT, &lengths, false, litlen_entry)?;
            build(&mut self.dist[..], DIST_ROOT, &[5u8; 32], false, dist_entry)?;
            self.fixed_loaded = true;
        }
        Ok(())
    }

    /// Reads a dynamic block's code lengths and builds its tables; `false` (with nothing
    /// consumed) when the input ends first and more may come.
    fn read_dynamic_header(&mut self, bits: &mut Bits, complete: bool) -> io::Result<bool> {
        let saved = *bits;
        // Makes sure `n` bits are loaded, or gives up until more input comes.
        macro_rules! need {
            ($n:expr) => {
                bits.refill();
                if bits.left < $n && !complete {
                    *bits = saved;
                    return Ok(false);
                }
            };
        }
        need!(14);
        let litlen_count = bits.take(5)? + 257;
        let dist_count = bits.take(5)? + 1;
        let codelen_count = bits.take(4)? + 4;
        if litlen_count > 286 || dist_count > 30 {
            return Err(invalid("corrupt deflate data (too many length or distance codes)"));
        }
        let mut codelen_lengths = [0u8; 19];
        for &symbol in &CODELEN_ORDER[..codelen_count] {
            need!(3);
            codelen_lengths[symbol] = bits.take(3)? as u8;
        }
        let mut codelen_table = [INVALID; 1 << CODELEN_ROOT];
        build(&mut codelen_table, CODELEN_ROOT, &codelen_lengths, false, |symbol| (symbol as u32) << 16)?;

        let total = litlen_count + dist_count;
        let mut lengths = [0u8; 286 + 30];
        let mut filled = 0;
        while filled < total {
            need!(7 + 7);
            let entry = codelen_table[(bits.buf as usize) & ((1 << CODELEN_ROOT) - 1)];
            if entry & KIND == INVALID {
                return Err(invalid("corrupt deflate data (invalid code-length code)"));
            }
            bits.consume(entry & 0xff)?;
            let (value, repeat) = match entry >> 16 {
                symbol @ 0..=15 => (symbol as u8, 1),
                16 => {
                    let Some(&previous) = filled.checked_sub(1).and_then(|at| lengths.get(at)) else {
                        return Err(invalid("corrupt deflate data (length repeat with no previous length)"));
                    };
                    (previous, 3 + bits.take(2)?)
                }
                17 => (0, 3 + bits.take(3)?),
                _ => (0, 11 + bits.take(7)?),
            };
            if filled + repeat > total {
                return Err(invalid("corrupt deflate data (too many code lengths)"));
            }
            lengths[filled..filled + repeat].fill(value);
            filled += repeat;
        }
        if lengths[256] == 0 {
            return Err(invalid("corrupt deflate data (no end-of-block code)"));
        }
        self.fixed_loaded = false;
        build(&mut self.litlen[..], LITLEN_ROOT, &lengths[..litlen_count], true, litlen_entry)?;
        build(&mut self.dist[..], DIST_ROOT, &lengths[litlen_count..total], true, dist_entry)?;
        Ok(true)
    }

    /// The hot loop: decodes symbols of the current Huffman block until its end (`None`) or
    /// until input or output room runs short (`Some`, stopped between symbols).
    fn decode_symbols(&mut self, bits: &mut Bits, complete: bool) -> io::Result<Option<Progress>> {
        let litlen = &*self.litlen;
        let dist_table = &*self.dist;
        let out = &mut self.out[..];
        let mut pos = self.out_pos;
        let member_start = self.member_start;
        let result = loop {
            if out.len() - pos < ROOM {
                break Ok(Some(Progress::OutputFull));
            }
            bits.refill();
            // Fewer bits than a worst-case pair: the input is used up. At its true end the
            // lookups below see zero padding, so a bad code there means a cut stream.
            let short = bits.left < PAIR_BITS;
            if short && !complete {
                break Ok(Some(Progress::NeedInput));
            }
            let corrupt = |what: &str| if short { truncated() } else { invalid(what) };
            let entry = lookup(litlen, LITLEN_ROOT, bits.buf);
            let kind = entry & KIND;
            if kind == LITERAL {
                if let Err(err) = bits.consume(entry & 0xff) {
                    break Err(err);
                }
                out[pos] = (entry >> 16) as u8;
                pos += 1;
                // A literal takes at most 15 of the 48 bits: when the next symbol is a literal
                // too, it needs no refill (anything else is decoded again after one).
                let next = lookup(litlen, LITLEN_ROOT, bits.buf);
                if next & KIND == LITERAL {
                    if let Err(err) = bits.consume(next & 0xff) {
                        break Err(err);
                    }
                    out[pos] = (next >> 16) as u8;
                    pos += 1;
                }
                continue;
            }
            if kind != BASE {
                if kind == END {
                    break bits.consume(entry & 0xff).map(|()| None);
                }
                break Err(corrupt("corrupt deflate data (invalid literal/length code)"));
            }
            // A length, then its distance.
            let mut need = entry & 0xff;
            let length_extra = (entry >> 8) & 0xf;
            let length = (entry >> 16) as usize + ((bits.buf >> need) as usize & ((1 << length_extra) - 1));
            need += length_extra;
            let distance_entry = lookup(dist_table, DIST_ROOT, bits.buf >> need);
            if distance_entry & KIND != BASE {
                break Err(corrupt("corrupt deflate data (invalid distance code)"));
            }
            let distance_code = distance_entry & 0xff;
            let distance_extra = (distance_entry >> 8) & 0xf;
            let distance = (distance_entry >> 16) as usize
                + ((bits.buf >> (need + distance_code)) as usize & ((1 << distance_extra) - 1));
            if let Err(err) = bits.consume(need + distance_code + distance_extra) {
                break Err(err);
            }
            if distance > pos - member_start {
                break Err(corrupt("corrupt deflate data (distance beyond the start of the data)"));
            }
            let from = pos - distance;
            if distance >= 16 {
                copy_forward::<16>(out, from, pos, length);
            } else if distance >= 8 {
                copy_forward::<8>(out, from, pos, length);
            } else if distance == 1 {
                let byte = out[from];
                out[pos..pos + length].fill(byte);
            } else {
                for i in 0..length {
                    out[pos + i] = out[from + i];
                }
            }
            pos += length;
        };
        self.out_pos = pos;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::core::{compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush};

    /// Mixed data: runs, short periodic patterns (matches that overlap their own output at
    /// every distance from 2 to 40), text with repeats near and far, and noise.
    fn sample(len: usize, seed: u32) -> Vec<u8> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let words: [&[u8]; 6] = [b"sensor ", b"alert ", b"modbus ", b"\n", b"2026-11-26T06:00:00Z ", b"value=42 "];
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            match next() % 10 {
                0 => out.extend(std::iter::repeat_n(next() as u8, (next() % 300) as usize)),
                1 => out.extend((0..(next() % 2000)).map(|_| next() as u8)),
                3 => {
                    let period: Vec<u8> = (0..2 + next() % 39).map(|_| next() as u8).collect();
                    out.extend(period.iter().cycle().take(40 + (next() % 400) as usize));
                }
                2 if out.len() > 40_000 => {
                    let from = out.len() - 1 - (next() as usize % 40_000);
                    for i in 0..(next() % 300) as usize {
                        out.push(out[from + i]);
                    }
                }
                _ => out.extend_from_slice(words[(next() % 6) as usize]),
            }
        }
        out.truncate(len);
        out
    }

    /// Raw deflate of `data` by miniz_oxide with the given zip-style level and strategy.
    fn deflate(data: &[u8], level: u8, strategy: i32) -> Vec<u8> {
        let mut compressor = CompressorOxide::new(create_comp_flags_from_zip_params(level.into(), -15, strategy));
        let mut out = vec![0u8; data.len() + data.len() / 2 + 1024];
        let (status, _, written) = compress(&mut compressor, data, &mut out, TDEFLFlush::Finish);
        assert_eq!(status, miniz_oxide::deflate::core::TDEFLStatus::Done);
        out.truncate(written);
        out
    }

    /// Decodes `stream` feeding `step` input bytes at a time (all at once when 0), with an
    /// output buffer of `size` bytes; returns the output and the input bytes consumed.
    fn inflate_in_steps(stream: &[u8], step: usize, size: usize) -> io::Result<(Vec<u8>, usize)> {
        let mut inflater = Inflater::new(size);
        inflater.start_member();
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut consumed_total = 0;
        loop {
            let complete = fed == stream.len();
            let result = inflater.inflate(&pending, complete)?;
            out.extend_from_slice(&inflater.output()[result.produced.clone()]);
            pending.drain(..result.consumed);
            consumed_total += result.consumed;
            match result.progress {
                Progress::Done => return Ok((out, consumed_total)),
                Progress::OutputFull => {}
                Progress::NeedInput => {
                    assert!(!complete, "asked for input after the end");
                    let take = if step == 0 { stream.len() - fed } else { step.min(stream.len() - fed) };
                    pending.extend_from_slice(&stream[fed..fed + take]);
                    fed += take;
                }
            }
        }
    }

    #[test]
    fn decodes_miniz_output_at_every_level_and_strategy() {
        // Strategies: 0 default, 1 filtered, 2 Huffman only, 3 RLE, 4 fixed codes.
        for (seed, len) in [(1u32, 0usize), (2, 1), (3, 100), (4, 70_000), (5, 400_000)] {
            let data = sample(len, seed);
            for level in [0u8, 1, 2, 6, 9, 10] {
                for strategy in 0..=4 {
                    let stream = deflate(&data, level, strategy);
                    let (out, consumed) = inflate_in_steps(&stream, 0, 1 << 18).unwrap();
                    assert!(out == data, "len {len} level {level} strategy {strategy}");
                    assert_eq!(consumed, stream.len());
                }
            }
        }
    }

    #[test]
    fn any_input_split_and_a_small_buffer_give_the_same_output() {
        let data = sample(150_000, 7);
        let stream = deflate(&data, 6, 0);
        for step in [1usize, 2, 3, 7, 64, 1000] {
            for size in [0usize, HISTORY + 5000, 1 << 18] {
                let (out, consumed) = inflate_in_steps(&stream, step, size).unwrap();
                assert!(out == data, "step {step} size {size}");
                assert_eq!(consumed, stream.len());
            }
        }
    }

    #[test]
    fn the_bytes_after_the_stream_are_not_consumed() {
        let data = sample(5_000, 9);
        for level in [0u8, 1, 9] {
            let mut stream = deflate(&data, level, 0);
            let len = stream.len();
            stream.extend_from_slice(b"TRAILER!");
            let mut inflater = Inflater::new(0);
            inflater.start_member();
            let result = inflater.inflate(&stream, true).unwrap();
            assert_eq!(result.progress, Progress::Done);
            assert_eq!(result.consumed, len, "level {level}");
        }
    }

    #[test]
    fn a_back_reference_never_reaches_an_earlier_member() {
        // Member 1: stored "abc". Member 2: fixed block, a literal then length 3 distance 4.
        let mut inflater = Inflater::new(0);
        inflater.start_member();
        let first = inflater.inflate(&[0x01, 3, 0, 0xfc, 0xff, b'a', b'b', b'c'], true).unwrap();
        assert_eq!(first.progress, Progress::Done);
        inflater.start_member();
        // Hand-assembled: BFINAL 1, BTYPE 01; literal 'x' (0x30+0x78=0xa8, 8 bits); length
        // code 257 (3; 7 bits 0000001); distance code 3 (4; 5 bits 00011); end (0000000).
        let mut writer = BitWriter::default();
        writer.fields(&[(1, 1), (1, 2)]);
        for (code, bits) in [(0xa8, 8), (1, 7), (3, 5), (0, 7)] {
            writer.code(code, bits);
        }
        // What follows the stream in a gzip member (its trailer), so that the bits are there.
        let mut stream = writer.finish();
        stream.extend([0u8; 8]);
        let err = inflater.inflate(&stream, true).unwrap_err();
        assert!(err.to_string().contains("distance beyond"), "{err}");
    }

    #[test]
    fn damaged_streams_are_refused_with_a_reason() {
        let reason = |bytes: &[u8]| inflate_in_steps(bytes, 0, 0).unwrap_err().to_string();
        assert_eq!(reason(&[0x07]), "corrupt deflate data (reserved block type)");
        assert_eq!(reason(&[0x01, 3, 0, 0xfc, 0xfe, b'a']), "corrupt deflate data (stored block length check)");
        assert_eq!(reason(&[0x01, 3, 0, 0xfc, 0xff, b'a']), "truncated gzip stream");
        assert_eq!(reason(&[]), "truncated gzip stream");
        let data = sample(50_000, 11);
        let stream = deflate(&data, 6, 0);
        assert_eq!(reason(&stream[..stream.len() / 2]), "truncated gzip stream");
        // Dynamic header claiming 287 literal/length codes (HLIT 30).
        let mut writer = BitWriter::default();
        // BFINAL, BTYPE 2, HLIT, HDIST, HCLEN, then zeros.
        writer.fields(&[(1, 1), (2, 2), (30, 5), (0, 5), (0, 4), (0, 32)]);
        assert_eq!(reason(&writer.finish()), "corrupt deflate data (too many length or distance codes)");
        // Code-length code with two 1-bit codes and one more: over-subscribed.
        let mut writer = BitWriter::default();
        // HCLEN 0: four code-length lengths (symbols 16, 17, 18, 0) of 3 bits each.
        writer.fields(&[(1, 1), (2, 2), (0, 5), (0, 5), (0, 4), (1, 3), (1, 3), (1, 3), (0, 3), (0, 32)]);
        assert_eq!(reason(&writer.finish()), "corrupt deflate data (over-subscribed Huffman code)");
        // Every flipped bit of a real stream: an error or some output, never a panic.
        for at in 0..stream.len().min(400) {
            for bit in 0..8 {
                let mut damaged = stream.clone();
                damaged[at] ^= 1 << bit;
                let _ = inflate_in_steps(&damaged, 0, 0);
            }
        }
    }

    /// Builds a deflate bit stream by hand, for streams no compressor would write.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        bits: u64,
        count: u32,
    }

    impl BitWriter {
        /// `n` bits of `value`, least significant first (header fields, extra bits).
        fn put(&mut self, value: u64, n: u32) {
            self.bits |= value << self.count;
            self.count += n;
            while self.count >= 8 {
                self.bytes.push(self.bits as u8);
                self.bits >>= 8;
                self.count -= 8;
            }
        }

        /// Header fields and extra bits: (value, bits) pairs, in order.
        fn fields(&mut self, fields: &[(u64, u32)]) {
            for &(value, n) in fields {
                self.put(value, n);
            }
        }

        /// A Huffman code of `n` bits, most significant first.
        fn code(&mut self, code: u64, n: u32) {
            self.put(code.reverse_bits() >> (64 - n), n);
        }

        fn finish(mut self) -> Vec<u8> {
            if self.count > 0 {
                self.bytes.push(self.bits as u8);
            }
            self.bytes
        }
    }
}
