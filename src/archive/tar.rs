//! POSIX tar (ustar, with pax extended headers where ustar cannot hold a value): a header writer
//! and a strict streaming reader.
//!
//! The writer produces what GNU tar and Python's tarfile read and write themselves: octal number
//! fields zero-padded and NUL-terminated, the checksum as six octal digits, NUL, space, device
//! numbers left empty as tarfile leaves them for files and directories; names
//! over 100 bytes split into prefix and name when a `/` allows it, else a pax `path` record;
//! sizes of 8 GiB and more, mtimes outside 0..8^11 and ids over 2^21 in pax records.
//!
//! The reader accepts regular files and directories only, and refuses — with an error that says
//! what and where — everything an archive could use to escape or surprise an extractor: absolute
//! paths, `..`, `.` and empty path components, control characters, symbolic and hard links,
//! device nodes, FIFOs, setuid and setgid bits, GNU and v7 headers, global pax headers, pax
//! records it does not know (linkpath, sparse maps, xattrs …), base-256 numbers, bad checksums,
//! a directory with data, and data shorter than its header declares. Duplicate names are left to
//! the extractor, which creates every entry with O_EXCL in an empty staging directory.
//!
//! Pure (generic over `Read`); needs no privileges.
#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Read};

/// Bytes per tar block.
pub const BLOCK: usize = 512;

/// Longest path accepted (PATH_MAX).
pub const MAX_PATH: usize = 4096;

/// Largest pax extended header the reader accepts.
const MAX_PAX: u64 = 64 * 1024;

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// An entry's metadata, as written or as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative path, `/`-separated, without a trailing `/`.
    pub path: String,
    /// File or directory.
    pub kind: Kind,
    /// Permission bits (0o7777 at most).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Data bytes (0 for a directory).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

/// Why an archive was refused.
#[derive(Debug)]
pub enum TarError {
    /// Reading the underlying stream failed (including gzip errors).
    Io(io::Error),
    /// The archive breaks a rule; the text says which and where.
    Refused(String),
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TarError::Io(err) => write!(f, "{}", crate::error::strip_errno(err)),
            TarError::Refused(why) => f.write_str(why),
        }
    }
}

impl From<io::Error> for TarError {
    fn from(err: io::Error) -> Self {
        TarError::Io(err)
    }
}

fn refused(why: impl Into<String>) -> TarError {
    TarError::Refused(why.into())
}

/// Zero bytes that pad `size` bytes of data to a whole block.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// Checks a relative archive path against the rules of the module doc.
pub fn check_path(path: &str) -> Result<(), String> {
    let shown = crate::validate::printable(path);
    if path.is_empty() {
        return Err("empty path".to_string());
    }
    if path.len() > MAX_PATH {
        return Err(format!("path longer than {MAX_PATH} bytes: '{shown}'"));
    }
    if path.starts_with('/') {
        return Err(format!("absolute path '{shown}'"));
    }
    if path.chars().any(char::is_control) {
        return Err(format!("control character in path '{shown}'"));
    }
    for part in path.split('/') {
        match part {
            "" => return Err(format!("empty component in path '{shown}'")),
            "." => return Err(format!("'.' component in path '{shown}'")),
            ".." => return Err(format!("'..' component in path '{shown}'")),
            part if part.len() > 255 => return Err(format!("component longer than 255 bytes in '{shown}'")),
            _ => {}
        }
    }
    Ok(())
}

fn write_octal(field: &mut [u8], value: u64) {
    // Digits fill the field but its last byte, which stays NUL (as GNU tar and tarfile write).
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

fn fits_octal(value: u64, field_len: usize) -> bool {
    value < 1u64 << (3 * (field_len as u32 - 1))
}

fn checksum(block: &[u8; BLOCK]) -> u64 {
    block.iter().enumerate().map(|(at, &b)| if (148..156).contains(&at) { u64::from(b' ') } else { u64::from(b) }).sum()
}

struct UstarFields<'a> {
    name: &'a [u8],
    prefix: &'a [u8],
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    typeflag: u8,
}

fn ustar_block(f: &UstarFields<'_>) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..f.name.len()].copy_from_slice(f.name);
    write_octal(&mut block[100..108], u64::from(f.mode));
    write_octal(&mut block[108..116], f.uid);
    write_octal(&mut block[116..124], f.gid);
    write_octal(&mut block[124..136], f.size);
    write_octal(&mut block[136..148], f.mtime);
    block[156] = f.typeflag;
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    // devmajor and devminor stay NUL: nothing written here is a device (tarfile does the same).
    block[345..345 + f.prefix.len()].copy_from_slice(f.prefix);
    let sum = checksum(&block);
    let text = format!("{sum:06o}");
    block[148..154].copy_from_slice(text.as_bytes());
    block[154] = 0;
    block[155] = b' ';
    block
}

/// Splits a name for ustar: `(prefix, name)` with name ≤ 100 and prefix ≤ 155 bytes.
fn split_ustar(full: &str) -> Option<(&str, &str)> {
    if full.len() <= 100 {
        return Some(("", full));
    }
    // The split must leave a non-empty name of at most 100 bytes after a '/'.
    let bytes = full.as_bytes();
    let earliest = full.len().saturating_sub(101);
    (earliest..full.len().min(156)).find(|&at| bytes[at] == b'/').and_then(|at| {
        let (prefix, name) = (&full[..at], &full[at + 1..]);
        (!name.is_empty() && name.len() <= 100 && prefix.len() <= 155).then_some((prefix, name))
    })
}

/// One pax record, `"<len> <key>=<value>\n"`, where `len` counts the whole record.
fn pax_record(key: &str, value: &str) -> String {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

/// The header block(s) of `entry`: a pax extended header when ustar cannot hold a value, then
/// the ustar header. Data (for a file), then [`padding`] zeros, follow.
pub fn header(entry: &Entry) -> Result<Vec<u8>, String> {
    check_path(&entry.path)?;
    if entry.mode > 0o7777 || entry.mode & 0o6000 != 0 {
        // The reader refuses these, so the writer never makes an archive it would not read.
        return Err(format!("mode {:o} of '{}' is not a plain permission mode", entry.mode, entry.path));
    }
    let size = match entry.kind {
        Kind::File => entry.size,
        Kind::Dir => 0,
    };
    let full = match entry.kind {
        Kind::File => entry.path.clone(),
        Kind::Dir => format!("{}/", entry.path),
    };
    let mut records = String::new();
    let (prefix, name) = match split_ustar(&full) {
        Some(split) => split,
        None => {
            records.push_str(&pax_record("path", &full));
            // The ustar name is a placeholder that readers without pax support still extract.
            let mut cut = 100;
            while !full.is_char_boundary(cut) {
                cut -= 1;
            }
            ("", &full[..cut])
        }
    };
    if !fits_octal(size, 12) {
        records.push_str(&pax_record("size", &size.to_string()));
    }
    let mtime = match u64::try_from(entry.mtime) {
        Ok(secs) if fits_octal(secs, 12) => secs,
        _ => {
            records.push_str(&pax_record("mtime", &entry.mtime.to_string()));
            0
        }
    };
    let ids = [("uid", entry.uid), ("gid", entry.gid)].map(|(key, id)| {
        if fits_octal(id, 8) {
            id
        } else {
            records.push_str(&pax_record(key, &id.to_string()));
            0
        }
    });
    let typeflag = match entry.kind {
        Kind::File => b'0',
        Kind::Dir => b'5',
    };
    let mut out = Vec::with_capacity(BLOCK * 3);
    if !records.is_empty() {
        let base = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        let mut pax_name = format!("PaxHeaders/{base}");
        let mut cut = pax_name.len().min(100);
        while !pax_name.is_char_boundary(cut) {
            cut -= 1;
        }
        pax_name.truncate(cut);
        out.extend_from_slice(&ustar_block(&UstarFields {
            name: pax_name.as_bytes(),
            prefix: b"",
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: records.len() as u64,
            mtime,
            typeflag: b'x',
        }));
        out.extend_from_slice(records.as_bytes());
        out.resize(out.len() + padding(records.len() as u64), 0);
    }
    out.extend_from_slice(&ustar_block(&UstarFields {
        name: name.as_bytes(),
        prefix: prefix.as_bytes(),
        mode: entry.mode,
        uid: ids[0],
        gid: ids[1],
        size,
        mtime,
        typeflag,
    }));
    Ok(out)
}

/// Parses an octal number field: optional leading spaces, octal digits, then NUL or space to the
/// end. Base-256 (high bit set) is refused.
fn parse_octal(field: &[u8], what: &str) -> Result<u64, TarError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(refused(format!("{what}: base-256 numbers are not accepted")));
    }
    let text = field.iter().skip_while(|&&b| b == b' ').copied();
    let mut value: u64 = 0;
    let mut digits = 0;
    let mut ended = false;
    for b in text {
        match b {
            b'0'..=b'7' if !ended => {
                value = value
                    .checked_mul(8)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    .ok_or_else(|| refused(format!("{what}: number too large")))?;
                digits += 1;
            }
            0 | b' ' => ended = true,
            _ => return Err(refused(format!("{what}: not an octal number"))),
        }
    }
    if digits == 0 {
        return Err(refused(format!("{what}: empty number field")));
    }
    Ok(value)
}

fn field_text(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Overrides from a pax extended header.
#[derive(Default)]
struct Pax {
    path: Option<String>,
    size: Option<u64>,
    mtime: Option<i64>,
    uid: Option<u64>,
    gid: Option<u64>,
}

fn parse_decimal(value: &str, key: &str) -> Result<u64, TarError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused(format!("pax record '{key}': '{}' is not a number", crate::validate::printable(value))));
    }
    value.parse().map_err(|_| refused(format!("pax record '{key}': number too large")))
}

/// A pax time, `[-]seconds[.fraction]`; the fraction is checked and dropped.
fn parse_pax_time(value: &str, key: &str) -> Result<i64, TarError> {
    let (negative, rest) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (secs, fraction) = rest.split_once('.').unwrap_or((rest, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused(format!("pax record '{key}': bad time '{}'", crate::validate::printable(value))));
    }
    let secs =
        i64::try_from(parse_decimal(secs, key)?).map_err(|_| refused(format!("pax record '{key}': time too large")))?;
    Ok(if negative { -secs } else { secs })
}

fn parse_pax(data: &[u8]) -> Result<Pax, TarError> {
    let mut pax = Pax::default();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ').ok_or_else(|| refused("malformed pax record (no length)"))?;
        let len_text = std::str::from_utf8(&rest[..space]).map_err(|_| refused("malformed pax record length"))?;
        let len = usize::try_from(parse_decimal(len_text, "length")?).unwrap_or(usize::MAX);
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(refused("malformed pax record (length does not match)"));
        }
        let record = std::str::from_utf8(&rest[space + 1..len - 1]).map_err(|_| refused("pax record is not UTF-8"))?;
        let (key, value) = record.split_once('=').ok_or_else(|| refused("malformed pax record (no '=')"))?;
        match key {
            "path" => pax.path = Some(value.to_string()),
            "size" => pax.size = Some(parse_decimal(value, key)?),
            "mtime" => pax.mtime = Some(parse_pax_time(value, key)?),
            "uid" => pax.uid = Some(parse_decimal(value, key)?),
            "gid" => pax.gid = Some(parse_decimal(value, key)?),
            "atime" | "ctime" => {
                parse_pax_time(value, key)?;
            }
            "uname" | "gname" | "comment" => {}
            "hdrcharset" if value == "ISO-IR 10646 2000 UTF-8" => {}
            other => return Err(refused(format!(
                "unsupported pax record '{}' (only path, size, mtime, atime, ctime, uid, gid, uname, gname, comment)",
                crate::validate::printable(other)
            ))),
        }
        rest = &rest[len..];
    }
    Ok(pax)
}

/// Reads a tar stream entry by entry, strictly (see the module doc).
pub struct TarReader<R: Read> {
    src: R,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    pad: usize,
    /// Path of the current entry, for messages.
    current: String,
    ended: bool,
}

impl<R: Read> TarReader<R> {
    /// A reader at the start of a tar stream.
    pub fn new(src: R) -> TarReader<R> {
        TarReader { src, remaining: 0, pad: 0, current: String::new(), ended: false }
    }

    /// Reads up to a whole block; returns how many bytes came (less only at end of input).
    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<usize, TarError> {
        let mut got = 0;
        while got < BLOCK {
            match self.src.read(&mut block[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(got)
    }

    fn skip(&mut self, mut n: u64) -> Result<(), TarError> {
        let mut sink = [0u8; 8192];
        while n > 0 {
            let want = n.min(sink.len() as u64) as usize;
            let got = self.src.read(&mut sink[..want])?;
            if got == 0 {
                return Err(refused(format!(
                    "truncated archive: '{}' ends before its declared size",
                    crate::validate::printable(&self.current)
                )));
            }
            n -= got as u64;
        }
        Ok(())
    }

    /// The next entry, or `None` at the end: the end of input on a block boundary, or the two
    /// zero blocks of an end-of-archive marker. Unread data of the previous entry is skipped.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.ended {
            return Ok(None);
        }
        self.skip(self.remaining + self.pad as u64)?;
        self.remaining = 0;
        self.pad = 0;
        let mut pax: Option<Pax> = None;
        loop {
            let mut block = [0u8; BLOCK];
            match self.read_block(&mut block)? {
                0 if pax.is_none() => {
                    self.ended = true;
                    return Ok(None);
                }
                BLOCK => {}
                _ => return Err(refused("truncated archive: a header block is incomplete")),
            }
            if block.iter().all(|&b| b == 0) {
                if pax.is_some() {
                    return Err(refused("pax extended header not followed by an entry"));
                }
                let mut second = [0u8; BLOCK];
                if self.read_block(&mut second)? != BLOCK || second.iter().any(|&b| b != 0) {
                    return Err(refused("a lone zero block in the archive (damaged end-of-archive marker)"));
                }
                self.ended = true;
                return Ok(None);
            }
            let stored = parse_octal(&block[148..156], "header checksum")?;
            let unsigned = checksum(&block);
            let signed: i64 = block
                .iter()
                .enumerate()
                .map(|(at, &b)| if (148..156).contains(&at) { i64::from(b' ') } else { i64::from(b as i8) })
                .sum();
            if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
                return Err(refused("header checksum mismatch: not a tar header, or a damaged one"));
            }
            if &block[257..263] != b"ustar\0" || &block[263..265] != b"00" {
                return Err(refused("not a POSIX ustar header (GNU or v7 tar format is not accepted)"));
            }
            let name = field_text(&block[0..100]);
            let prefix = field_text(&block[345..500]);
            let mut raw_path = Vec::with_capacity(prefix.len() + 1 + name.len());
            if !prefix.is_empty() {
                raw_path.extend_from_slice(prefix);
                raw_path.push(b'/');
            }
            raw_path.extend_from_slice(name);
            let header_path = String::from_utf8_lossy(&raw_path).into_owned();
            let typeflag = block[156];
            let size = parse_octal(&block[124..136], "size")?;
            if typeflag == b'x' {
                if pax.is_some() {
                    return Err(refused("two pax extended headers in a row"));
                }
                if size > MAX_PAX {
                    return Err(refused(format!("pax extended header of {size} bytes (limit {MAX_PAX})")));
                }
                let mut data = vec![0u8; size as usize];
                self.current = header_path;
                let mut got = 0;
                while got < data.len() {
                    let n = self.src.read(&mut data[got..])?;
                    if n == 0 {
                        return Err(refused("truncated archive: pax extended header ends early"));
                    }
                    got += n;
                }
                self.skip(padding(size) as u64)?;
                pax = Some(parse_pax(&data)?);
                continue;
            }
            let over = pax.take().unwrap_or_default();
            let path = match over.path {
                Some(path) => path,
                None => String::from_utf8(raw_path).map_err(|_| {
                    refused(format!("path '{}' is not UTF-8", crate::validate::printable(&header_path)))
                })?,
            };
            let shown = crate::validate::printable(&path);
            let kind = match typeflag {
                b'0' | 0 => Kind::File,
                b'5' => Kind::Dir,
                b'1' => {
                    return Err(refused(format!("'{shown}' is a hard link (only files and directories are accepted)")))
                }
                b'2' => {
                    return Err(refused(format!(
                        "'{shown}' is a symbolic link (only files and directories are accepted)"
                    )))
                }
                b'3' | b'4' => {
                    return Err(refused(format!(
                        "'{shown}' is a device node (only files and directories are accepted)"
                    )))
                }
                b'6' => return Err(refused(format!("'{shown}' is a FIFO (only files and directories are accepted)"))),
                b'g' => return Err(refused("global pax header (not accepted)")),
                b'L' | b'K' => return Err(refused("GNU long-name header (not POSIX, not accepted)")),
                other => {
                    return Err(refused(format!(
                        "'{shown}' has entry type '{}' (only files and directories are accepted)",
                        (other as char).escape_default()
                    )))
                }
            };
            let path = match kind {
                Kind::Dir => path.strip_suffix('/').unwrap_or(&path).to_string(),
                Kind::File if path.ends_with('/') => {
                    return Err(refused(format!("regular file '{shown}' has a name ending in '/'")))
                }
                Kind::File => path,
            };
            check_path(&path).map_err(refused)?;
            let shown = crate::validate::printable(&path);
            let mode = parse_octal(&block[100..108], "mode")?;
            if mode & 0o6000 != 0 {
                return Err(refused(format!("'{shown}' has the setuid or setgid bit (mode {mode:o})")));
            }
            if mode > 0o7777 {
                return Err(refused(format!("'{shown}' has mode bits beyond 7777 (mode {mode:o})")));
            }
            let size = over.size.unwrap_or(size);
            if kind == Kind::Dir && size != 0 {
                return Err(refused(format!("directory '{shown}' declares {size} bytes of data")));
            }
            let mtime = match over.mtime {
                Some(mtime) => mtime,
                None => i64::try_from(parse_octal(&block[136..148], "mtime")?)
                    .map_err(|_| refused("mtime: number too large"))?,
            };
            let uid = match over.uid {
                Some(uid) => uid,
                None => parse_octal(&block[108..116], "uid")?,
            };
            let gid = match over.gid {
                Some(gid) => gid,
                None => parse_octal(&block[116..124], "gid")?,
            };
            self.remaining = size;
            self.pad = padding(size);
            self.current.clone_from(&path);
            return Ok(Some(Entry { path, kind, mode: mode as u32, uid, gid, size, mtime }));
        }
    }

    /// Reads the current entry's data; 0 once all of it was read. Input that ends early is a
    /// truncated archive.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let got = loop {
            match self.src.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        };
        if got == 0 {
            return Err(refused(format!(
                "truncated archive: '{}' ends before its declared size",
                crate::validate::printable(&self.current)
            )));
        }
        self.remaining -= got as u64;
        Ok(got)
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.src
    }
}

impl<R: io::BufRead> TarReader<R> {
    /// The next piece of the current entry's data, straight from the source's buffer (no
    /// copy); empty once all of it was consumed. Pass its length to [`Self::consume_data`].
    pub fn fill_data(&mut self) -> Result<&[u8], TarError> {
        if self.remaining == 0 {
            return Ok(&[]);
        }
        let remaining = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let current = &self.current;
        let buf = self.src.fill_buf()?;
        if buf.is_empty() {
            return Err(refused(format!(
                "truncated archive: '{}' ends before its declared size",
                crate::validate::printable(current)
            )));
        }
        Ok(&buf[..buf.len().min(remaining)])
    }

    /// Marks `n` bytes of what [`Self::fill_data`] returned as read.
    pub fn consume_data(&mut self, n: usize) {
        let n = n.min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.src.consume(n);
        self.remaining -= n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, data: &[u8]) -> (Entry, Vec<u8>) {
        let entry = Entry {
            path: path.to_string(),
            kind: Kind::File,
            mode: 0o640,
            uid: 1000,
            gid: 1000,
            size: data.len() as u64,
            mtime: 1_700_000_000,
        };
        (entry, data.to_vec())
    }

    fn archive(entries: &[(Entry, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (entry, data) in entries {
            out.extend(header(entry).unwrap());
            out.extend(data);
            out.resize(out.len() + padding(data.len() as u64), 0);
        }
        out
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<(Entry, Vec<u8>)>, TarError> {
        let mut reader = TarReader::new(bytes);
        let mut out = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            let mut data = Vec::new();
            let mut buf = [0u8; 100];
            loop {
                let n = reader.read_data(&mut buf)?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
            }
            out.push((entry, data));
        }
        Ok(out)
    }

    fn refusal(bytes: &[u8]) -> String {
        match read_all(bytes) {
            Ok(entries) => panic!("accepted: {entries:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn headers_round_trip_including_long_names_and_pax_values() {
        let long_dir = "d".repeat(120);
        let dir = Entry {
            path: "var/cyberx".to_string(),
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 1_664_469_968,
        };
        let entries = vec![
            (dir, Vec::new()),
            file("var/cyberx/a.txt", b"hello"),
            file(&format!("{long_dir}/short"), b"split into prefix and name"),
            file(&format!("{}/{}", "x".repeat(200), "y".repeat(200)), b"needs a pax path"),
            file("caf\u{e9}/\u{1f600}", b"utf-8 names"),
            (Entry { mtime: -5, uid: 1 << 22, ..file("old", b"").0 }, Vec::new()),
            file("empty", b""),
            file("exact", &[7u8; 512]),
        ];
        let bytes = archive(&entries);
        assert_eq!(bytes.len() % BLOCK, 0);
        assert_eq!(read_all(&bytes).unwrap(), entries);
    }

    #[test]
    fn ustar_fields_are_written_as_gnu_tar_and_tarfile_write_them() {
        let block = header(&file("etc/x", b"abc").0).unwrap();
        assert_eq!(block.len(), BLOCK);
        assert_eq!(&block[100..108], b"0000640\0");
        assert_eq!(&block[124..136], b"00000000003\0");
        assert_eq!(&block[136..148], b"14524770400\0"); // 1_700_000_000 in octal
        assert_eq!(&block[257..265], b"ustar\x0000");
        assert_eq!(block[154..156], [0, b' ']);
        let stored = u64::from_str_radix(std::str::from_utf8(&block[148..154]).unwrap(), 8).unwrap();
        let mut blanked = [0u8; BLOCK];
        blanked.copy_from_slice(&block);
        assert_eq!(stored, checksum(&blanked));
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        assert_eq!(pax_record("path", "a"), "9 path=a\n");
        let record = pax_record("path", &"y".repeat(91));
        assert_eq!(record.len(), 101);
        assert!(record.starts_with("101 "));
        let parsed = parse_pax(format!("{record}{}", pax_record("mtime", "1.5")).as_bytes()).unwrap();
        assert_eq!(parsed.path.as_deref(), Some(&*"y".repeat(91)));
        assert_eq!(parsed.mtime, Some(1));
    }

    fn with_type(path: &str, typeflag: u8) -> Vec<u8> {
        let mut block = header(&file(path, b"").0).unwrap();
        block[156] = typeflag;
        fix_checksum(&mut block);
        block
    }

    fn fix_checksum(block: &mut [u8]) {
        let mut copy = [0u8; BLOCK];
        copy.copy_from_slice(&block[..BLOCK]);
        let text = format!("{:06o}\0 ", checksum(&copy));
        block[148..156].copy_from_slice(text.as_bytes());
    }

    fn raw_name(name: &[u8], typeflag: u8) -> Vec<u8> {
        let mut block = header(&file("placeholder", b"").0).unwrap();
        block[..100].fill(0);
        block[..name.len()].copy_from_slice(name);
        block[156] = typeflag;
        fix_checksum(&mut block);
        block
    }

    #[test]
    fn escaping_paths_are_refused() {
        assert_eq!(refusal(&raw_name(b"../x", b'0')), "'..' component in path '../x'");
        assert_eq!(refusal(&raw_name(b"a/../../x", b'0')), "'..' component in path 'a/../../x'");
        assert_eq!(refusal(&raw_name(b"/etc/x", b'0')), "absolute path '/etc/x'");
        assert_eq!(refusal(&raw_name(b"./x", b'0')), "'.' component in path './x'");
        assert_eq!(refusal(&raw_name(b"a//x", b'0')), "empty component in path 'a//x'");
        assert_eq!(refusal(&raw_name(b"a/x/", b'0')), "regular file 'a/x/' has a name ending in '/'");
        assert_eq!(refusal(&raw_name(b"a\x1b[2Jx", b'0')), "control character in path 'a\\x1b[2Jx'");
        assert_eq!(refusal(&raw_name(b"\xff\xfe", b'0')), "path '\u{fffd}\u{fffd}' is not UTF-8");
    }

    #[test]
    fn links_devices_fifos_and_foreign_headers_are_refused() {
        assert!(refusal(&with_type("l", b'2')).contains("'l' is a symbolic link"));
        assert!(refusal(&with_type("h", b'1')).contains("'h' is a hard link"));
        assert!(refusal(&with_type("c", b'3')).contains("'c' is a device node"));
        assert!(refusal(&with_type("b", b'4')).contains("'b' is a device node"));
        assert!(refusal(&with_type("f", b'6')).contains("'f' is a FIFO"));
        assert!(refusal(&with_type("s", b'S')).contains("entry type 'S'"));
        assert_eq!(refusal(&with_type("g", b'g')), "global pax header (not accepted)");
        assert_eq!(refusal(&with_type("L", b'L')), "GNU long-name header (not POSIX, not accepted)");
        let mut gnu = header(&file("x", b"").0).unwrap();
        gnu[257..265].copy_from_slice(b"ustar  \0");
        fix_checksum(&mut gnu);
        assert_eq!(refusal(&gnu), "not a POSIX ustar header (GNU or v7 tar format is not accepted)");
    }

    #[test]
    fn setuid_setgid_and_odd_modes_are_refused() {
        for mode in [0o4755, 0o2755] {
            assert!(header(&Entry { mode, ..file("x", b"").0 }).is_err(), "the writer wrote mode {mode:o}");
        }
        let mut block = header(&file("x", b"").0).unwrap();
        block[100..108].copy_from_slice(b"0004755\0");
        fix_checksum(&mut block);
        assert_eq!(refusal(&block), "'x' has the setuid or setgid bit (mode 4755)");
        block[100..108].copy_from_slice(b"0102755\0");
        fix_checksum(&mut block);
        assert_eq!(refusal(&block), "'x' has the setuid or setgid bit (mode 102755)");
        block[100..108].copy_from_slice(b"0100755\0");
        fix_checksum(&mut block);
        assert_eq!(refusal(&block), "'x' has mode bits beyond 7777 (mode 100755)");
    }

    #[test]
    fn damaged_and_truncated_archives_are_refused() {
        let good = archive(&[file("a", &[1u8; 1000]), file("b", b"x")]);
        let mut bad_sum = good.clone();
        bad_sum[0] = b'z';
        assert_eq!(refusal(&bad_sum), "header checksum mismatch: not a tar header, or a damaged one");
        assert_eq!(refusal(&good[..700]), "truncated archive: 'a' ends before its declared size");
        assert_eq!(refusal(&good[..1536 + 100]), "truncated archive: a header block is incomplete");
        // Declared size larger than the data: the next header is read as data, and the stream
        // ends inside the declared size.
        let mut big = archive(&[file("a", b"short")]);
        big[124..136].copy_from_slice(b"00000010000\0");
        fix_checksum(&mut big);
        assert_eq!(refusal(&big), "truncated archive: 'a' ends before its declared size");
        let mut lone = good.clone();
        lone.extend([0u8; BLOCK]);
        assert!(refusal(&lone).contains("lone zero block"));
        let mut dir = header(&Entry { kind: Kind::Dir, ..file("d", b"").0 }).unwrap();
        dir[124..136].copy_from_slice(b"00000000001\0");
        fix_checksum(&mut dir);
        dir.extend([0u8; BLOCK]);
        assert_eq!(refusal(&dir), "directory 'd' declares 1 bytes of data");
        let mut base256 = header(&file("x", b"").0).unwrap();
        base256[124] = 0x80;
        fix_checksum(&mut base256);
        assert_eq!(refusal(&base256), "size: base-256 numbers are not accepted");
    }

    #[test]
    fn pax_headers_are_applied_and_unknown_records_refused() {
        let long = format!("{}/f", "p".repeat(200));
        let bytes = archive(&[file(&long, b"data")]);
        let read = read_all(&bytes).unwrap();
        assert_eq!(read[0].0.path, long);
        let record = pax_record("linkpath", "/etc/shadow");
        let mut pax = header(&file("x", b"").0).unwrap();
        pax[156] = b'x';
        pax[124..136].copy_from_slice(format!("{:011o}\0", record.len()).as_bytes());
        fix_checksum(&mut pax);
        pax.extend(record.as_bytes());
        pax.resize(BLOCK * 2, 0);
        pax.extend(header(&file("x", b"").0).unwrap());
        assert!(refusal(&pax).starts_with("unsupported pax record 'linkpath'"));
        let sparse = pax_record("GNU.sparse.map", "0,10");
        assert!(parse_pax(sparse.as_bytes()).is_err());
        assert!(parse_pax(b"5 a=b").is_err());
        assert!(parse_pax(b"99 path=x\n").is_err());
    }

    #[test]
    fn buffered_data_reads_stop_at_the_entry_and_notice_truncation() {
        let bytes = archive(&[file("a", &[5u8; 700]), file("b", b"xyz")]);
        let mut reader = TarReader::new(io::BufReader::with_capacity(100, &bytes[..]));
        reader.next_entry().unwrap();
        let mut data = Vec::new();
        loop {
            let piece = reader.fill_data().unwrap().to_vec();
            if piece.is_empty() {
                break;
            }
            reader.consume_data(piece.len());
            data.extend(piece);
        }
        assert_eq!(data, vec![5u8; 700]);
        assert_eq!(reader.next_entry().unwrap().unwrap().path, "b");
        assert_eq!(reader.fill_data().unwrap(), b"xyz");
        let cut = &bytes[..1024 + 100];
        let mut reader = TarReader::new(io::BufReader::new(cut));
        reader.next_entry().unwrap();
        let first = reader.fill_data().unwrap().len();
        reader.consume_data(first);
        assert!(reader.fill_data().unwrap_err().to_string().starts_with("truncated archive: 'a'"));
    }

    #[test]
    fn end_of_archive_is_eof_or_two_zero_blocks() {
        let mut bytes = archive(&[file("a", b"1")]);
        assert_eq!(read_all(&bytes).unwrap().len(), 1);
        bytes.extend([0u8; BLOCK * 2]);
        let mut reader = TarReader::new(&bytes[..]);
        assert!(reader.next_entry().unwrap().is_some());
        assert!(reader.next_entry().unwrap().is_none());
        assert!(reader.next_entry().unwrap().is_none());
    }
}
