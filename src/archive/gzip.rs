//! gzip (RFC 1952) framing around raw deflate (miniz_oxide's compressor, our own
//! [`super::inflate`] decoder): a streaming member writer, a
//! stored (uncompressed) member writer whose length is known in advance, and a strict streaming
//! reader of one or more concatenated members.
//!
//! The writer emits a fixed 10-byte header (no name, mtime 0, OS 3 "Unix") so that the same data
//! always gives the same bytes. The reader accepts what gzip(1) and Python's gzip module write
//! (optional FEXTRA, FNAME, FCOMMENT, FHCRC fields), checks every member's CRC-32 and length, and
//! refuses anything else: a file that is not gzip, reserved flag bits, a truncated member,
//! corrupt deflate data, or bytes after the last member that do not start another member.
//!
//! Pure (generic over `Read`/`Write`); needs no privileges.
#![forbid(unsafe_code)]

use super::crc32::Crc32;
use super::inflate::{Inflater, Progress};
use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::{MZFlush, MZStatus};
use std::io::{self, Read, Write};

/// The header every member we write starts with: magic, CM=8 (deflate), no flags, MTIME 0,
/// XFL 0, OS 3 (Unix).
pub const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// Bytes of a member's CRC-32 + ISIZE trailer.
pub const TRAILER_LEN: u64 = 8;

/// The largest stored deflate block (its LEN field is 16 bits).
const STORED_BLOCK_MAX: usize = 65_535;

/// Output buffer of the deflate writer.
const DEFLATE_OUT: usize = 64 * 1024;

/// Input buffer of the reader.
const READ_IN: usize = 128 * 1024;

/// The reader's output buffer: deflate's 32 KiB history and room after it, so that file data
/// comes out in long pieces (fewer calls, fewer write(2)s).
const WINDOW: usize = 256 * 1024;

/// An `InvalidData` error with its reason, for the gzip reader and the decoder under it.
pub(super) fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// The error of input that ends inside a member (the decoder's too).
pub(super) fn truncated() -> io::Error {
    invalid("truncated gzip stream")
}

fn trailer(crc: &Crc32, isize: u64) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&crc.value().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 section 2.3.1).
    out[4..].copy_from_slice(&(isize as u32).to_le_bytes());
    out
}

/// Input is classified in chunks of this size.
const CHUNK: usize = 64 * 1024;

/// Order-0 entropy (bits per byte) above which a chunk is stored rather than compressed.
///
/// Deflate's literal coding cannot gain more than (8 - H) / 8 on such a chunk (1.25 % at 7.9),
/// and random or already-compressed data has no matches either; miniz spends as long on such
/// data as on text for nothing. Storing it costs a copy. (Measured on the benchmark data set:
/// a quarter of the bytes are random, and storing them halves the compression time.)
const STORE_ENTROPY: f64 = 7.9;

/// Order-0 entropy of `chunk` in bits per byte.
fn entropy(chunk: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in chunk {
        counts[usize::from(b)] += 1;
    }
    let n = chunk.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// One gzip member, deflate-compressed as it is written.
///
/// Input is taken in 64 KiB chunks; a chunk that looks incompressible ([`STORE_ENTROPY`]) is
/// written as a stored deflate block: the compressor is sync-flushed (its output ends on a byte
/// boundary), the stored block follows, and the compressor is reset so that it never refers back
/// to bytes it did not see. A deflate stream is a sequence of blocks, so the result is one valid
/// stream whatever the mix.
pub struct DeflateWriter<W: Write> {
    out: W,
    compressor: Box<CompressorOxide>,
    buffer: Vec<u8>,
    pending: Vec<u8>,
    /// Whether the compressor holds input since its last reset.
    fed: bool,
    crc: Crc32,
    isize: u64,
}

impl<W: Write> DeflateWriter<W> {
    /// Writes the member header to `out`; `level` is miniz's 1 (fastest) to 9 (smallest).
    pub fn new(mut out: W, level: u8) -> io::Result<DeflateWriter<W>> {
        out.write_all(&HEADER)?;
        // Negative window bits: a raw deflate stream, the framing is ours.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        Ok(DeflateWriter {
            out,
            compressor: Box::new(CompressorOxide::new(flags)),
            buffer: vec![0; DEFLATE_OUT],
            pending: Vec::with_capacity(CHUNK),
            fed: false,
            crc: Crc32::new(),
            isize: 0,
        })
    }

    fn run(&mut self, mut input: &[u8], flush: MZFlush) -> io::Result<()> {
        loop {
            let result = miniz_oxide::deflate::stream::deflate(&mut self.compressor, input, &mut self.buffer, flush);
            let status = result.status.map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
            input = &input[result.bytes_consumed..];
            self.out.write_all(&self.buffer[..result.bytes_written])?;
            let finished = match flush {
                MZFlush::Finish => status == MZStatus::StreamEnd,
                _ => input.is_empty() && result.bytes_written < self.buffer.len(),
            };
            if finished {
                return Ok(());
            }
        }
    }

    /// Compresses or stores the pending chunk.
    fn emit(&mut self) -> io::Result<()> {
        let chunk = std::mem::take(&mut self.pending);
        if !chunk.is_empty() && entropy(&chunk) > STORE_ENTROPY {
            if self.fed {
                self.run(&[], MZFlush::Sync)?;
                self.compressor.reset();
                self.fed = false;
            }
            for block in chunk.chunks(STORED_BLOCK_MAX) {
                // A non-final stored block (BFINAL 0, BTYPE 00) on the byte boundary.
                let len = block.len() as u16;
                self.out.write_all(&[0, len as u8, (len >> 8) as u8, !len as u8, (!len >> 8) as u8])?;
                self.out.write_all(block)?;
            }
        } else if !chunk.is_empty() {
            self.run(&chunk, MZFlush::None)?;
            self.fed = true;
        }
        self.pending = chunk;
        self.pending.clear();
        Ok(())
    }

    /// Compresses `data` into the member.
    pub fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.crc.update(data);
        self.isize += data.len() as u64;
        while !data.is_empty() {
            let take = data.len().min(CHUNK - self.pending.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == CHUNK {
                self.emit()?;
            }
        }
        Ok(())
    }

    /// Ends the deflate stream, writes the trailer, and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.emit()?;
        self.run(&[], MZFlush::Finish)?;
        let tail = trailer(&self.crc, self.isize);
        self.out.write_all(&tail)?;
        Ok(self.out)
    }

    /// Uncompressed bytes written so far.
    pub fn uncompressed(&self) -> u64 {
        self.isize
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

/// The exact length of a stored member holding `content_len` bytes: header, one 5-byte block
/// header per 65,535 bytes (at least one block), the content, the trailer.
pub fn stored_member_len(content_len: u64) -> u64 {
    let blocks = content_len.div_ceil(STORED_BLOCK_MAX as u64).max(1);
    HEADER.len() as u64 + blocks * 5 + content_len + TRAILER_LEN
}

/// One gzip member of stored deflate blocks whose content length is fixed in advance, so that
/// its place in a file can be reserved before its content is known.
pub struct StoredWriter<W: Write> {
    out: W,
    total: u64,
    written: u64,
    block: Vec<u8>,
    crc: Crc32,
}

impl<W: Write> StoredWriter<W> {
    /// Writes the member header; exactly `total` content bytes must follow.
    pub fn new(mut out: W, total: u64) -> io::Result<StoredWriter<W>> {
        out.write_all(&HEADER)?;
        Ok(StoredWriter { out, total, written: 0, block: Vec::with_capacity(STORED_BLOCK_MAX), crc: Crc32::new() })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let len = self.block.len() as u16;
        let head = [u8::from(last), len as u8, (len >> 8) as u8, !len as u8, (!len >> 8) as u8];
        self.out.write_all(&head)?;
        self.out.write_all(&self.block)?;
        self.written += self.block.len() as u64;
        self.block.clear();
        Ok(())
    }

    /// Adds content.
    pub fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        if self.written + self.block.len() as u64 + data.len() as u64 > self.total {
            return Err(io::Error::other("stored gzip member: more content than reserved"));
        }
        self.crc.update(data);
        while !data.is_empty() {
            if self.block.len() == STORED_BLOCK_MAX {
                // More content follows (checked above), so this block is not the last.
                self.emit(false)?;
            }
            let take = data.len().min(STORED_BLOCK_MAX - self.block.len());
            self.block.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// Writes the final block and the trailer; the content must be complete.
    pub fn finish(mut self) -> io::Result<W> {
        if self.written + self.block.len() as u64 != self.total {
            return Err(io::Error::other("stored gzip member: less content than reserved"));
        }
        self.emit(true)?;
        let tail = trailer(&self.crc, self.total);
        self.out.write_all(&tail)?;
        Ok(self.out)
    }
}

/// A whole stored member holding `content` (for small fixed members).
pub fn stored_member(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored_member_len(content.len() as u64) as usize);
    // Writing to a Vec cannot fail and the length is exact by construction.
    let result = StoredWriter::new(&mut out, content.len() as u64).and_then(|mut w| {
        w.write_all(content)?;
        w.finish().map(|_| ())
    });
    debug_assert!(result.is_ok());
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ReadState {
    /// Expecting a member header (or the clean end of input after at least one member).
    Header,
    /// Inside a member's deflate data.
    Body,
    /// After the last member.
    End,
}

/// Decompresses one or more concatenated gzip members from `src`, strictly.
pub struct GzipReader<R: Read> {
    src: R,
    input: Box<[u8]>,
    in_pos: usize,
    in_len: usize,
    src_eof: bool,
    inflater: Inflater,
    /// The unread output: this range of `inflater.output()`.
    out_start: usize,
    out_end: usize,
    crc: Crc32,
    isize: u64,
    state: ReadState,
    members: u64,
    compressed_in: u64,
    /// Whether the CRC-32 of each member is computed and checked (see [`GzipReader::authenticated`]).
    check_crc: bool,
}

impl<R: Read> GzipReader<R> {
    /// A reader of the gzip stream in `src`.
    pub fn new(src: R) -> GzipReader<R> {
        GzipReader {
            src,
            input: vec![0; READ_IN].into_boxed_slice(),
            in_pos: 0,
            in_len: 0,
            src_eof: false,
            inflater: Inflater::new(WINDOW),
            out_start: 0,
            out_end: 0,
            crc: Crc32::new(),
            isize: 0,
            state: ReadState::Header,
            members: 0,
            compressed_in: 0,
            check_crc: true,
        }
    }

    /// A reader of a stream whose bytes the caller has already authenticated (a backup whose
    /// HMAC-SHA256 verified): the members' CRC-32 is not computed. It can only catch damage, and
    /// authenticated bytes are the bytes our own writer produced; the length check stays, and
    /// every file's content is still checked against its SHA-256. It saves about 6 % of a
    /// restore's CPU time (perf, on the 300 MB benchmark set).
    pub fn authenticated(src: R) -> GzipReader<R> {
        GzipReader { check_crc: false, ..GzipReader::new(src) }
    }

    /// How many members have been read to their end.
    pub fn members(&self) -> u64 {
        self.members
    }

    /// Compressed bytes consumed so far.
    pub fn compressed_consumed(&self) -> u64 {
        self.compressed_in
    }

    /// Makes sure at least `n` unread input bytes are buffered (fewer only at end of input).
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.in_len - self.in_pos >= n || self.src_eof {
            return Ok(self.in_len - self.in_pos);
        }
        self.input.copy_within(self.in_pos..self.in_len, 0);
        self.in_len -= self.in_pos;
        self.in_pos = 0;
        while self.in_len < n.min(self.input.len()) && !self.src_eof {
            match self.src.read(&mut self.input[self.in_len..]) {
                Ok(0) => self.src_eof = true,
                Ok(got) => self.in_len += got,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(self.in_len - self.in_pos)
    }

    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.fill(n)? < n {
            return Err(truncated());
        }
        let at = self.in_pos;
        self.in_pos += n;
        self.compressed_in += n as u64;
        Ok(&self.input[at..at + n])
    }

    fn skip_zero_terminated(&mut self) -> io::Result<()> {
        loop {
            if self.take(1)?[0] == 0 {
                return Ok(());
            }
        }
    }

    /// Reads a member header; `false` at the clean end of input.
    fn read_header(&mut self) -> io::Result<bool> {
        if self.fill(1)? == 0 {
            return if self.members == 0 { Err(invalid("empty file, not gzip data")) } else { Ok(false) };
        }
        let head = self.take(10).map_err(|_| invalid("not gzip data (too short for a gzip header)"))?;
        let (magic, method, flags) = ([head[0], head[1]], head[2], head[3]);
        if magic != [0x1f, 0x8b] {
            return Err(invalid(if self.members == 0 {
                "not gzip data (bad magic number)"
            } else {
                "trailing data after the last gzip member"
            }));
        }
        if method != 8 {
            return Err(invalid(format!("gzip compression method {method} is not deflate")));
        }
        if flags & 0xe0 != 0 {
            return Err(invalid("gzip header has reserved flag bits set"));
        }
        if flags & 0x04 != 0 {
            let xlen = self.take(2)?;
            let xlen = usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
            let mut left = xlen;
            while left > 0 {
                let step = left.min(READ_IN / 2);
                self.take(step)?;
                left -= step;
            }
        }
        if flags & 0x08 != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & 0x10 != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & 0x02 != 0 {
            self.take(2)?;
        }
        self.inflater.start_member();
        self.crc = Crc32::new();
        self.isize = 0;
        Ok(true)
    }

    fn read_trailer(&mut self) -> io::Result<()> {
        let tail = self.take(8)?;
        let crc = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let isize = u32::from_le_bytes([tail[4], tail[5], tail[6], tail[7]]);
        if self.check_crc && crc != self.crc.value() {
            return Err(invalid("gzip CRC-32 mismatch: the data is corrupt"));
        }
        if isize != self.isize as u32 {
            return Err(invalid("gzip length mismatch: the data is corrupt"));
        }
        self.members += 1;
        Ok(())
    }

    /// Decompresses until some output is pending or the stream ended.
    fn produce(&mut self) -> io::Result<()> {
        while self.out_start == self.out_end {
            match self.state {
                ReadState::End => return Ok(()),
                ReadState::Header => {
                    self.state = if self.read_header()? { ReadState::Body } else { ReadState::End };
                }
                ReadState::Body => {
                    if self.in_pos == self.in_len {
                        self.fill(1)?;
                    }
                    let result = self.inflater.inflate(&self.input[self.in_pos..self.in_len], self.src_eof)?;
                    self.in_pos += result.consumed;
                    self.compressed_in += result.consumed as u64;
                    if !result.produced.is_empty() {
                        if self.check_crc {
                            self.crc.update(&self.inflater.output()[result.produced.clone()]);
                        }
                        self.isize += result.produced.len() as u64;
                        self.out_start = result.produced.start;
                        self.out_end = result.produced.end;
                    }
                    match result.progress {
                        Progress::Done => {
                            self.read_trailer()?;
                            self.state = ReadState::Header;
                        }
                        // Not at the end of the source (the decoder would have said
                        // "truncated"): read at least one more byte.
                        Progress::NeedInput => {
                            self.fill(self.in_len - self.in_pos + 1)?;
                        }
                        Progress::OutputFull => {}
                    }
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for GzipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.produce()?;
        let n = buf.len().min(self.out_end - self.out_start);
        buf[..n].copy_from_slice(&self.inflater.output()[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

impl<R: Read> io::BufRead for GzipReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.produce()?;
        Ok(&self.inflater.output()[self.out_start..self.out_end])
    }

    fn consume(&mut self, amt: usize) {
        self.out_start = (self.out_start + amt).min(self.out_end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        let mut state = 0x1234_5678u32;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                // Half text-like (compressible), half noise.
                if (i / 4096) % 2 == 0 {
                    b"abcdefgh "[(state % 9) as usize]
                } else {
                    state as u8
                }
            })
            .collect()
    }

    fn deflate_member(data: &[u8], level: u8) -> Vec<u8> {
        let mut writer = DeflateWriter::new(Vec::new(), level).unwrap();
        for chunk in data.chunks(7000) {
            writer.write_all(chunk).unwrap();
        }
        writer.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        GzipReader::new(bytes).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn deflate_members_round_trip_at_every_level() {
        let data = sample(300_000);
        for level in [1, 2, 6, 9] {
            let member = deflate_member(&data, level);
            assert_eq!(member[..10], HEADER);
            assert!(member.len() < data.len(), "level {level} compressed nothing");
            assert_eq!(read_all(&member).unwrap(), data, "level {level}");
        }
        assert_eq!(read_all(&deflate_member(b"", 1)).unwrap(), b"");
    }

    #[test]
    fn incompressible_chunks_are_stored_and_the_stream_stays_valid() {
        // Alternating text and noise in 64 KiB chunks, with writes not aligned to them: every
        // switch sync-flushes and resets the compressor.
        let mut state = 0x9e37_79b9u32;
        let mut data = Vec::new();
        for part in 0..9 {
            for i in 0..70_000u32 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                data.push(if part % 2 == 0 { b"lorem ipsum "[(i % 12) as usize] } else { state as u8 });
            }
        }
        let member = deflate_member(&data, 2);
        assert_eq!(read_all(&member).unwrap(), data);
        let noise = 4 * 70_000;
        assert!(member.len() < noise + noise / 50 + 20_000, "stored noise grew: {}", member.len());
        assert!(entropy(&data[70_000..70_000 + CHUNK]) > STORE_ENTROPY);
        assert!(entropy(&data[..CHUNK]) < 4.0);
    }

    #[test]
    fn stored_members_have_the_predicted_length_and_concatenate() {
        for len in [0usize, 1, 65_534, 65_535, 65_536, 200_000] {
            let data = sample(len);
            let member = stored_member(&data);
            assert_eq!(member.len() as u64, stored_member_len(len as u64), "len {len}");
            assert_eq!(read_all(&member).unwrap(), data, "len {len}");
        }
        let mut joined = stored_member(b"first ");
        joined.extend(deflate_member(b"second ", 1));
        joined.extend(stored_member(b"third"));
        let mut reader = GzipReader::new(&joined[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"first second third");
        assert_eq!(reader.members(), 3);
        assert_eq!(reader.compressed_consumed(), joined.len() as u64);
    }

    #[test]
    fn stored_writer_refuses_a_length_other_than_reserved() {
        let mut writer = StoredWriter::new(Vec::new(), 3).unwrap();
        assert!(writer.write_all(b"four").is_err());
        writer.write_all(b"ab").unwrap();
        assert!(writer.finish().is_err());
    }

    /// Runs `program args` with `input` on stdin and returns its stdout.
    fn filter(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::process::{Command, Stdio};
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("{program} (a test peer) cannot run: {err}"));
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let output = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        assert!(output.status.success(), "{program} {args:?} failed");
        output.stdout
    }

    #[test]
    fn reads_what_gnu_gzip_and_zlib_write() {
        // The decoder is ours, so check it against the two common encoders: GNU gzip at its
        // fastest, default and best levels, and zlib (Python's binding) with every strategy
        // (default, filtered, Huffman only, RLE, fixed codes) and small windows and memory,
        // which change its block sizes and distances. Each gives one or more members.
        let data = sample(400_000);
        for level in ["-1", "-6", "-9"] {
            let member = filter("gzip", &["-c", "-n", level], &data);
            assert!(read_all(&member).unwrap() == data, "gzip {level}");
        }
        let script = "import sys, zlib\n\
            data = sys.stdin.buffer.read()\n\
            for level, wbits, mem, strategy in [(1, 15, 8, 0), (6, 15, 8, 1), (9, 15, 9, 2), (6, 15, 8, 3), \
            (6, 15, 8, 4), (9, 9, 1, 0), (4, 12, 4, 0)]:\n\
            \x20   c = zlib.compressobj(level, zlib.DEFLATED, 16 + wbits, mem, strategy)\n\
            \x20   sys.stdout.buffer.write(c.compress(data) + c.flush())\n";
        let members = filter("python3", &["-c", script], &data);
        let mut reader = GzipReader::new(&members[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(reader.members(), 7);
        assert!(out.chunks(data.len()).all(|chunk| chunk == data) && out.len() == 7 * data.len());
    }

    #[test]
    fn reader_accepts_optional_header_fields() {
        // FEXTRA + FNAME + FCOMMENT + FHCRC around an empty fixed-Huffman block ("\x03\x00").
        let mut member = vec![0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3];
        member.extend([4, 0, b'a', b'b', 2, 0]);
        member.extend(b"name\0comment\0");
        member.extend([0xaa, 0xbb]);
        member.extend([0x03, 0x00]);
        member.extend([0u8; 8]);
        assert_eq!(read_all(&member).unwrap(), b"");
    }

    #[test]
    fn reader_refuses_damage_with_a_clear_reason() {
        let good = deflate_member(&sample(100_000), 1);
        let reason = |bytes: &[u8]| read_all(bytes).unwrap_err().to_string();
        assert_eq!(reason(b""), "empty file, not gzip data");
        assert_eq!(reason(b"hello world, plain text"), "not gzip data (bad magic number)");
        assert_eq!(reason(&good[..5]), "not gzip data (too short for a gzip header)");
        assert_eq!(reason(&good[..good.len() / 2]), "truncated gzip stream");
        assert_eq!(reason(&good[..good.len() - 3]), "truncated gzip stream");
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 1;
        assert_eq!(reason(&bad_crc), "gzip CRC-32 mismatch: the data is corrupt");
        let mut bad_len = good.clone();
        let at = bad_len.len() - 1;
        bad_len[at] ^= 1;
        assert_eq!(reason(&bad_len), "gzip length mismatch: the data is corrupt");
        let mut trailing = good.clone();
        trailing.extend(b"junk after the end");
        assert_eq!(reason(&trailing), "trailing data after the last gzip member");
        let mut flags = good.clone();
        flags[3] = 0x80;
        assert_eq!(reason(&flags), "gzip header has reserved flag bits set");
        let mut method = good.clone();
        method[2] = 7;
        assert_eq!(reason(&method), "gzip compression method 7 is not deflate");
        // A flipped bit in the middle of the deflate data: corrupt data or a CRC mismatch,
        // never silently wrong output.
        let mut flipped = good.clone();
        flipped[good.len() / 3] ^= 0x10;
        assert!(read_all(&flipped).is_err());
    }

    #[test]
    fn authenticated_reader_skips_only_the_crc() {
        let data = sample(100_000);
        let good = deflate_member(&data, 1);
        let read = |bytes: &[u8]| {
            let mut out = Vec::new();
            GzipReader::authenticated(bytes).read_to_end(&mut out).map(|_| out)
        };
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 1;
        assert!(read_all(&bad_crc).is_err(), "the checking reader must refuse it");
        assert_eq!(read(&bad_crc).unwrap(), data);
        let mut bad_len = good.clone();
        let at = bad_len.len() - 1;
        bad_len[at] ^= 1;
        assert_eq!(read(&bad_len).unwrap_err().to_string(), "gzip length mismatch: the data is corrupt");
        assert_eq!(read(&good[..good.len() / 2]).unwrap_err().to_string(), "truncated gzip stream");
    }
}
