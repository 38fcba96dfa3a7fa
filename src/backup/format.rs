//! The backup file format, version 1: a gzip-compressed POSIX tar that GNU tar lists and
//! extracts, with a manifest as its first member and an HMAC-SHA256 in its last.
//!
//! ```text
//! offset 0   manifest region, R bytes (three gzip members):
//!              H  stored:   the tar header of SENSORCTL-BACKUP-MANIFEST.jsonl (size |A| + |B|)
//!              A  deflate:  manifest part A, JSON lines: a head line, one line per entry
//!                           (path, type, mode, uid, gid, size, mtime, mtime_ns), an end line
//!              B  stored:   manifest part B, "<sha256 hex>\n" for each file in entry order,
//!                           then the tar padding of the manifest member
//! offset R   data region, L bytes: one deflate member holding the tar entries, in manifest
//!            order: a directory before its contents, names sorted bytewise
//! offset R+L trailer, TRAILER_LEN bytes: one stored member holding the tar entry
//!            SENSORCTL-BACKUP-HMAC ("sensorctl-backup-hmac v1 region=<R> hmac-sha256=<hex>\n")
//!            and the tar end-of-archive blocks
//! ```
//!
//! The HMAC is HMAC-SHA256(key, "sensorctl-backup-v1\n" ‖ R ‖ L ‖ SHA-256(region 0..R) ‖
//! SHA-256(region R..R+L)), R and L as 64-bit big-endian. Hashing the two regions separately is
//! what lets a backup be written in one streaming pass although its first member (which lists
//! every file's SHA-256) is completed last. The trailer must equal, byte for byte, the one this
//! module would write for the R and HMAC it states, so no byte of the file escapes the MAC.
//!
//! Reading needs no layout knowledge beyond the trailer: the first R + L bytes are any sequence
//! of gzip members whose concatenation is a tar stream whose first member is the manifest.
//!
//! Pure but for [`RegionReader`], which reads a file with pread(2) through std.
#![forbid(unsafe_code)]

use crate::archive::gzip;
use crate::archive::tar::{self, Entry, Kind, BLOCK};
use nanoserde::{DeJson, SerJson};
use ring::{digest, hmac};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// The format this build writes and reads.
pub const FORMAT: u32 = 1;

/// The manifest's tar member name.
pub const MANIFEST_NAME: &str = "SENSORCTL-BACKUP-MANIFEST.jsonl";

/// The HMAC's tar member name.
pub const HMAC_NAME: &str = "SENSORCTL-BACKUP-HMAC";

/// The domain-separation prefix of the MAC input.
pub const MAC_CONTEXT: &[u8] = b"sensorctl-backup-v1\n";

/// Bytes of the stored member holding the manifest's tar header.
pub const MANIFEST_HEADER_MEMBER_LEN: u64 = 10 + 5 + BLOCK as u64 + 8;

/// The tar content of the trailer member: header, data block, two end-of-archive blocks.
const TRAILER_CONTENT: usize = 4 * BLOCK;

/// Bytes of the trailer at the end of every backup.
pub const TRAILER_LEN: u64 = 10 + 5 + TRAILER_CONTENT as u64 + 8;

/// Bytes of one hash line of manifest part B.
pub const HASH_LINE: u64 = 65;

/// Longest manifest line accepted.
pub const MAX_LINE: usize = 16 * 1024;

/// The manifest's first line.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct Head {
    /// [`FORMAT`].
    pub format: u32,
    /// `crate::product::version()` of the writer.
    pub product_version: String,
    /// The board the backup was made on.
    pub board: String,
    /// The appliance's host name.
    pub hostname: String,
    /// Creation time, ISO 8601 UTC.
    pub created: String,
    /// Creation time, milliseconds since the epoch (as in the file name).
    pub created_ms: u64,
    /// The data paths of the board, relative to the root, whether present or not.
    pub roots: Vec<String>,
}

/// One manifest entry line as written.
#[derive(Clone, Debug, PartialEq, SerJson)]
pub struct EntryLine {
    /// Relative path.
    pub path: String,
    /// `file` or `dir`.
    #[nserde(rename = "type")]
    pub kind: String,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Bytes of data (0 for a directory).
    pub size: u64,
    /// Modification time, seconds.
    pub mtime: i64,
    /// Nanoseconds of the modification time.
    pub mtime_ns: u32,
}

/// The manifest's last line of part A.
#[derive(Clone, Debug, PartialEq, SerJson)]
pub struct EndLine {
    /// Always true: marks the line.
    pub end: bool,
    /// Entry lines before it.
    pub entries: u64,
    /// Of which files (= hash lines of part B).
    pub files: u64,
}

/// Any line of part A after the head, as read (fields absent in the other kind stay `None`).
#[derive(Clone, Debug, Default, DeJson)]
struct AnyLine {
    #[nserde(default)]
    path: Option<String>,
    #[nserde(default, rename = "type")]
    kind: Option<String>,
    #[nserde(default)]
    mode: Option<u32>,
    #[nserde(default)]
    uid: Option<u64>,
    #[nserde(default)]
    gid: Option<u64>,
    #[nserde(default)]
    size: Option<u64>,
    #[nserde(default)]
    mtime: Option<i64>,
    #[nserde(default)]
    mtime_ns: Option<u32>,
    #[nserde(default)]
    end: Option<bool>,
    #[nserde(default)]
    entries: Option<u64>,
    #[nserde(default)]
    files: Option<u64>,
}

/// A manifest entry as read: the tar metadata plus the nanoseconds tar headers do not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Path, kind, mode, owner, size and mtime seconds.
    pub entry: Entry,
    /// Nanoseconds of the modification time.
    pub mtime_ns: u32,
}

/// A line of part A after the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// An entry.
    Entry(ManifestEntry),
    /// The end line: (entries, files).
    End(u64, u64),
}

impl EntryLine {
    /// The line for `entry` (with its mtime nanoseconds), newline included.
    pub fn text(entry: &Entry, mtime_ns: u32) -> String {
        let line = EntryLine {
            path: entry.path.clone(),
            kind: match entry.kind {
                Kind::File => "file",
                Kind::Dir => "dir",
            }
            .to_string(),
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            size: entry.size,
            mtime: entry.mtime,
            mtime_ns,
        };
        let mut text = line.serialize_json();
        text.push('\n');
        text
    }
}

/// Parses a line of part A after the head.
pub fn parse_line(text: &str) -> Result<Line, String> {
    let line = crate::json::decode::<AnyLine>(text).map_err(|e| format!("manifest line is not valid JSON: {e}"))?;
    if line.end == Some(true) {
        return match (line.entries, line.files, &line.path) {
            (Some(entries), Some(files), None) => Ok(Line::End(entries, files)),
            _ => Err("manifest end line lacks its counts".to_string()),
        };
    }
    let missing = |field: &str| format!("manifest entry lacks '{field}'");
    let path = line.path.ok_or_else(|| missing("path"))?;
    tar::check_path(&path).map_err(|why| format!("manifest entry: {why}"))?;
    let kind = match line.kind.as_deref() {
        Some("file") => Kind::File,
        Some("dir") => Kind::Dir,
        _ => return Err(format!("manifest entry '{}' has no type file or dir", crate::validate::printable(&path))),
    };
    let mtime_ns = line.mtime_ns.unwrap_or(0);
    if mtime_ns >= 1_000_000_000 {
        return Err(format!("manifest entry '{}' has mtime_ns over a second", crate::validate::printable(&path)));
    }
    Ok(Line::Entry(ManifestEntry {
        entry: Entry {
            path,
            kind,
            mode: line.mode.ok_or_else(|| missing("mode"))?,
            uid: line.uid.ok_or_else(|| missing("uid"))?,
            gid: line.gid.ok_or_else(|| missing("gid"))?,
            size: line.size.ok_or_else(|| missing("size"))?,
            mtime: line.mtime.ok_or_else(|| missing("mtime"))?,
        },
        mtime_ns,
    }))
}

/// The tar header of the manifest member holding `len` bytes.
pub fn manifest_header(len: u64) -> Result<Vec<u8>, String> {
    tar::header(&Entry {
        path: MANIFEST_NAME.to_string(),
        kind: Kind::File,
        mode: 0o600,
        uid: 0,
        gid: 0,
        size: len,
        mtime: 0,
    })
}

/// The trailer line stating R and the HMAC.
fn trailer_line(region: u64, mac: &[u8; 32]) -> String {
    format!("sensorctl-backup-hmac v1 region={region:020} hmac-sha256={}\n", hex(mac))
}

/// The trailer for a manifest region of `region` bytes and `mac`.
pub fn trailer(region: u64, mac: &[u8; 32]) -> Vec<u8> {
    let line = trailer_line(region, mac);
    let mut content = Vec::with_capacity(TRAILER_CONTENT);
    // The header cannot fail: a fixed valid name, mode and size.
    let head = tar::header(&Entry {
        path: HMAC_NAME.to_string(),
        kind: Kind::File,
        mode: 0o600,
        uid: 0,
        gid: 0,
        size: line.len() as u64,
        mtime: 0,
    })
    .unwrap_or_default();
    content.extend_from_slice(&head);
    content.extend_from_slice(line.as_bytes());
    content.resize(TRAILER_CONTENT, 0);
    gzip::stored_member(&content)
}

/// Reads R and the HMAC out of a trailer, which must be exactly what [`trailer`] writes.
pub fn parse_trailer(bytes: &[u8]) -> Option<(u64, [u8; 32])> {
    let offset = 10 + 5 + BLOCK;
    let probe = trailer_line(0, &[0; 32]);
    let line = std::str::from_utf8(bytes.get(offset..offset + probe.len())?).ok()?;
    let rest = line.strip_prefix("sensorctl-backup-hmac v1 region=")?;
    let (region, rest) = rest.split_once(" hmac-sha256=")?;
    let region: u64 = region.parse().ok()?;
    let mac = unhex(rest.strip_suffix('\n')?)?;
    (trailer(region, &mac) == bytes).then_some((region, mac))
}

/// The MAC input: context, both region lengths and both region digests.
pub fn mac_message(region: u64, data_len: u64, manifest_digest: &[u8], data_digest: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(MAC_CONTEXT.len() + 16 + 64);
    msg.extend_from_slice(MAC_CONTEXT);
    msg.extend_from_slice(&region.to_be_bytes());
    msg.extend_from_slice(&data_len.to_be_bytes());
    msg.extend_from_slice(manifest_digest);
    msg.extend_from_slice(data_digest);
    msg
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (at, pair) in bytes.chunks(2).enumerate() {
        out[at] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// Reads `[pos, end)` of a file with positioned reads, leaving the file offset alone.
pub struct RegionReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> RegionReader<'a> {
    /// A reader of `file` from `start` to `end`.
    pub fn new(file: &'a File, start: u64, end: u64) -> RegionReader<'a> {
        RegionReader { file, pos: start, end }
    }
}

impl Read for RegionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let got = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// Writes at increasing offsets of a file with positioned writes, leaving the file offset
/// alone, so that regions of one file can be written independently.
pub struct PosWriter<'a> {
    file: &'a File,
    pos: u64,
}

impl<'a> PosWriter<'a> {
    /// A writer of `file` from `start` on.
    pub fn new(file: &'a File, start: u64) -> PosWriter<'a> {
        PosWriter { file, pos: start }
    }

    /// Where the next byte goes.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl io::Write for PosWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Splits a stream into lines of at most [`MAX_LINE`] bytes, with a small buffer of its own.
pub struct Lines<R: Read> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> Lines<R> {
    /// Lines of `src`.
    pub fn new(src: R) -> Lines<R> {
        Lines { src, buf: vec![0; MAX_LINE + 1], start: 0, end: 0, eof: false }
    }

    fn refill(&mut self) -> io::Result<()> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while self.end < self.buf.len() && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.end += n;
                    break;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// The next line without its newline; `None` at the end of the stream. A line that is too
    /// long, or text after the last newline, is an error.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            if let Some(at) = self.buf[self.start..self.end].iter().position(|&b| b == b'\n') {
                let line = self.start..self.start + at;
                self.start += at + 1;
                return Ok(Some(&self.buf[line]));
            }
            if self.end - self.start > MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("manifest line longer than {MAX_LINE} bytes"),
                ));
            }
            if self.eof {
                return if self.start == self.end {
                    Ok(None)
                } else {
                    Err(io::Error::new(io::ErrorKind::InvalidData, "manifest ends inside a line"))
                };
            }
            self.refill()?;
        }
    }

    /// The rest of the stream, which must be at most `limit` bytes, into `sink`.
    pub fn rest(&mut self, limit: usize, sink: &mut Vec<u8>) -> io::Result<()> {
        loop {
            sink.extend_from_slice(&self.buf[self.start..self.end]);
            self.start = self.end;
            if sink.len() > limit {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "more data than expected"));
            }
            if self.eof {
                return Ok(());
            }
            self.refill()?;
        }
    }
}

/// What verification established about a backup file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Bytes before the trailer: the gzip members holding the tar entries.
    pub body_len: u64,
}

/// Checks the trailer and the HMAC of a backup file under `key`, reading the file once; the
/// error says why the file is not a valid backup.
pub fn verify(file: &File, key: &hmac::Key) -> Result<Verified, String> {
    let len = file.metadata().map_err(|e| format!("cannot read it: {}", crate::error::strip_errno(&e)))?.len();
    if len < TRAILER_LEN {
        return Err(if len == 0 {
            "empty file, not a sensorctl backup".to_string()
        } else {
            "too short to be a sensorctl backup".to_string()
        });
    }
    let body_len = len - TRAILER_LEN;
    let mut tail = vec![0u8; TRAILER_LEN as usize];
    file.read_exact_at(&mut tail, body_len)
        .map_err(|e| format!("cannot read it: {}", crate::error::strip_errno(&e)))?;
    let (region, mac) = parse_trailer(&tail)
        .ok_or_else(|| "no valid HMAC trailer: not a sensorctl backup, or its end is damaged or missing".to_string())?;
    if region > body_len {
        return Err("HMAC trailer names a manifest region past the end of the file".to_string());
    }
    let mut buf = vec![0u8; 256 * 1024];
    let mut digest_of = |start: u64, end: u64| -> Result<digest::Digest, String> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut reader = RegionReader::new(file, start, end);
        loop {
            let n = reader.read(&mut buf).map_err(|e| format!("cannot read it: {}", crate::error::strip_errno(&e)))?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
        }
        Ok(ctx.finish())
    };
    let manifest_digest = digest_of(0, region)?;
    let data_digest = digest_of(region, body_len)?;
    let msg = mac_message(region, body_len - region, manifest_digest.as_ref(), data_digest.as_ref());
    hmac::verify(key, &msg, &mac).map_err(|_| {
        "HMAC mismatch: the backup was changed after it was made, or made on another appliance".to_string()
    })?;
    Ok(Verified { body_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_has_a_fixed_length_and_parses_back_only_when_canonical() {
        let mac = [0xab; 32];
        let bytes = trailer(123_456, &mac);
        assert_eq!(bytes.len() as u64, TRAILER_LEN);
        assert_eq!(parse_trailer(&bytes), Some((123_456, mac)));
        for at in [0, 3, 9, 12, 20, 200, 527, 530, 600, 1500, bytes.len() - 5, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1;
            assert_eq!(parse_trailer(&damaged), None, "a change at byte {at} went unnoticed");
        }
    }

    #[test]
    fn manifest_lines_round_trip_and_bad_ones_are_refused() {
        let entry = Entry {
            path: "var/cyberx/keys/caf\u{e9} \"q\"\\".to_string(),
            kind: Kind::File,
            mode: 0o640,
            uid: 5,
            gid: 6,
            size: 1234,
            mtime: -3,
        };
        let text = EntryLine::text(&entry, 999_999_999);
        assert!(text.ends_with('\n') && !text.trim_end().contains('\n'));
        assert_eq!(
            parse_line(text.trim_end()).unwrap(),
            Line::Entry(ManifestEntry { entry: entry.clone(), mtime_ns: 999_999_999 })
        );
        let end = EndLine { end: true, entries: 3, files: 2 }.serialize_json();
        assert_eq!(parse_line(&end).unwrap(), Line::End(3, 2));
        assert!(parse_line(r#"{"path":"../x","type":"file","mode":0,"uid":0,"gid":0,"size":0,"mtime":0}"#).is_err());
        assert!(parse_line(r#"{"path":"x","type":"link","mode":0,"uid":0,"gid":0,"size":0,"mtime":0}"#).is_err());
        assert!(parse_line(r#"{"path":"x","type":"file","uid":0,"gid":0,"size":0,"mtime":0}"#).is_err());
        assert!(parse_line(r#"{"end":true}"#).is_err());
        assert!(parse_line("not json").is_err());
    }

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex(&hex(&bytes).to_uppercase()), None);
        assert_eq!(hex(&[0x00, 0xff, 0x5a]), "00ff5a");
    }
}
