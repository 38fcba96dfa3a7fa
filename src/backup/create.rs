//! `system backup`: streams the board's data paths into a new backup file (layout in
//! [`super::format`]), then rotates old backups out until the directory is within its limit.
//!
//! Two passes over the data, one over its contents:
//! 1. list: walk the data paths (a directory before its contents, names sorted bytewise) and
//!    write manifest part A (one line per entry) compressed into the file;
//! 2. copy: read part A back from the file and, entry by entry, write the tar header and the
//!    file's bytes into the data member while hashing them, and each file's SHA-256 into part B,
//!    whose size pass 1 fixed. Then the manifest's tar header, the HMAC and the trailer.
//!
//! Nothing is held per file, so memory stays flat whatever the number or size of files. The file
//! is written under a temporary name, fsynced and renamed: a file with a backup's name is always
//! complete. A file that shrinks or disappears between the passes fails the backup (a backup
//! must not claim bytes it does not have); a file that grows is backed up to its listed size.
//!
//! Needs read access to the data paths and write access to the backup and state directories.
#![forbid(unsafe_code)]

use super::format::{self, EndLine, EntryLine, Head, Line, Lines, PosWriter, RegionReader, HASH_LINE};
use super::{inside, lock, lower_priority, mib, Root, Settings};
use crate::archive::gzip::{self, DeflateWriter, GzipReader, StoredWriter};
use crate::archive::tar::{self, Entry, Kind};
use crate::cancel::Cancel;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::outcome::Status;
use crate::store;
use nanoserde::SerJson;
use ring::digest;
use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Compression level of the data: miniz's fastest. Backups run beside traffic analysis, so
/// CPU matters more than the last percent of size; this level still compresses at least as well
/// as `gzip -1` on the appliance's data (see scripts/bench-backup).
pub const DATA_LEVEL: u8 = 2;

/// Compression level of the manifest (small; better compression is cheap there).
const MANIFEST_LEVEL: u8 = 6;

/// Bytes read from a data file at a time.
const CHUNK: usize = 256 * 1024;

/// Deepest directory nesting backed up (PATH_MAX allows at most 2048 levels).
const MAX_DEPTH: usize = 1024;

/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Totals of one backup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    entries: u64,
    files: u64,
    bytes: u64,
}

/// `system backup`: writes a backup, records its outcome, rotates old ones.
pub fn run(ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    let settings = Settings::of(ctx)?;
    lower_priority();
    let _lock = lock(&settings)?;
    super::restore::recover(&settings, out)?;
    // The backup directory is reached without following a link, and the new file is created
    // in it relative to that descriptor (O_EXCL, O_NOFOLLOW).
    let backup_dir = store::Dir::open(&settings.dir, Some(0o700))?;
    remove_temporaries(&settings.dir)?;
    let key = super::load_or_create_key(ctx)?;
    let started_ms = super::now_ms();
    let name = super::backup_name(&crate::sys::uname::hostname(), started_ms, &crate::product::version());
    let final_path = settings.dir.join(&name);
    let temp_name = format!(".{name}.tmp-{}", std::process::id());
    let temp_path = settings.dir.join(&temp_name);
    let head = Head {
        format: format::FORMAT,
        product_version: crate::product::version(),
        board: ctx.board()?.name.clone(),
        hostname: crate::sys::uname::hostname(),
        created: crate::time::Utc::from_unix(i64::try_from(started_ms / 1000).unwrap_or(0)).iso8601(),
        created_ms: started_ms,
        roots: settings.roots.iter().map(|r| r.rel.clone()).collect(),
    };
    let created =
        backup_dir.create_new(std::ffi::OsStr::new(&temp_name), 0o600).map_err(|e| Error::io("create", &temp_path, e));
    let written = created
        .and_then(|file| write_backup(&settings, &key, file, &temp_path, &head, &ctx.cancel, out))
        .and_then(|counts| {
            crate::sys::fs::rename_noreplace(&temp_path, &final_path)
                .map_err(|e| Error::io("rename into place", &final_path, e))?;
            store::sync_dir(&settings.dir)?;
            Ok(counts)
        });
    let counts = match written {
        Ok(counts) => counts,
        Err(err) => {
            let _ = fs::remove_file(&temp_path);
            if let Err(state_err) = super::write_state(ctx, "FAILED", &err.to_string()) {
                log::warn!("could not record the failed backup: {state_err}");
            }
            return Err(err);
        }
    };
    let size = fs::metadata(&final_path).map_err(|e| Error::io("stat", &final_path, e))?.len();
    let ratio = u128::from(counts.bytes) * 100 / u128::from(size.max(1));
    emit(
        out,
        &format!(
            "Backed up {} files ({}) into {} ({}.{:02}:1)",
            counts.files,
            mib(counts.bytes),
            mib(size),
            ratio / 100,
            ratio % 100
        ),
    )?;
    emit(out, &format!("Finished backup. Backup is stored at {}", final_path.display()))?;
    super::write_state(ctx, "SUCCESS", &name)?;
    emit(out, &format!("Setting backup status 'SUCCESS' in {}", ctx.root.resolve(super::STATE_FILE).display()))?;
    rotate(&settings, &name, out)?;
    Ok(Status::Ok)
}

/// Removes `.<name>.tmp-<pid>` files of backups that were killed: with the lock held, no other
/// backup is writing one.
fn remove_temporaries(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))? {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains("-backup-version-") && name.contains(".tar.tmp-") {
            let path = entry.path();
            log::info!("removing the leftover {}", path.display());
            fs::remove_file(&path).map_err(|e| Error::io("remove leftover", &path, e))?;
        }
    }
    Ok(())
}

/// Removes the oldest backups until the directory's backups fit the limit; never `newest`.
fn rotate(settings: &Settings, newest: &str, out: &mut dyn Write) -> Result<()> {
    let backups = super::list_backups(&settings.dir)?;
    let mut total: u64 = backups.iter().map(|b| b.size).sum();
    for old in backups.iter().rev() {
        if total <= settings.limit {
            break;
        }
        if old.name == newest {
            continue;
        }
        fs::remove_file(&old.path).map_err(|e| Error::io("remove old backup", &old.path, e))?;
        total -= old.size;
        emit(out, &format!("Removed old backup {} (backup limit is {})", old.name, super::limit_text(settings.limit)))?;
    }
    store::sync_dir(&settings.dir)
}

/// The data member's sink: positioned writes, SHA-256 of every byte, a byte count.
struct DataSink<'a> {
    writer: PosWriter<'a>,
    digest: digest::Context,
    written: u64,
}

impl Write for DataSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.writer.write(buf)?;
        self.digest.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the whole backup into `file`, just created (0600, read-write) at `temp`; fsynced
/// when it returns.
fn write_backup(
    settings: &Settings,
    key: &ring::hmac::Key,
    file: std::fs::File,
    temp: &Path,
    head: &Head,
    cancel: &Cancel,
    out: &mut dyn Write,
) -> Result<Counts> {
    let io_err = |op: &'static str| move |e: io::Error| Error::io(op, temp, e);

    // Pass 1: list the data into manifest part A.
    let a_start = format::MANIFEST_HEADER_MEMBER_LEN;
    let mut part_a =
        DeflateWriter::new(BufWriter::with_capacity(64 * 1024, PosWriter::new(&file, a_start)), MANIFEST_LEVEL)
            .map_err(io_err("write"))?;
    let mut head_line = head.serialize_json();
    head_line.push('\n');
    part_a.write_all(head_line.as_bytes()).map_err(io_err("write"))?;
    let mut lister = Lister { part_a, counts: Counts::default(), out, settings };
    for root in &settings.roots {
        lister.root(root)?;
    }
    let Lister { mut part_a, counts, out, .. } = lister;
    let mut end_line = EndLine { end: true, entries: counts.entries, files: counts.files }.serialize_json();
    end_line.push('\n');
    part_a.write_all(end_line.as_bytes()).map_err(io_err("write"))?;
    let a_len = part_a.uncompressed();
    let mut a_sink = part_a.finish().map_err(io_err("write"))?;
    a_sink.flush().map_err(io_err("write"))?;
    let a_end = a_sink.get_ref().position();
    drop(a_sink);
    emit(out, &format!("Found {} files in {} entries, {}", counts.files, counts.entries, mib(counts.bytes)))?;

    // The manifest's size is now fixed: part A, then a hash line per file.
    let manifest_len = a_len + HASH_LINE * counts.files;
    let b_content = HASH_LINE * counts.files + tar::padding(manifest_len) as u64;
    let region = a_end + gzip::stored_member_len(b_content);
    let fits = |data: u64| region + data + format::TRAILER_LEN <= settings.limit;
    if !fits(0) {
        return Err(too_big(settings));
    }

    // Pass 2: copy.
    let mut part_b = StoredWriter::new(BufWriter::with_capacity(64 * 1024, PosWriter::new(&file, a_end)), b_content)
        .map_err(io_err("write"))?;
    let sink =
        DataSink { writer: PosWriter::new(&file, region), digest: digest::Context::new(&digest::SHA256), written: 0 };
    let mut data = DeflateWriter::new(sink, DATA_LEVEL).map_err(io_err("write"))?;
    let mut copier = Copier {
        cancel,
        settings,
        data_budget: settings.limit.saturating_sub(region + format::TRAILER_LEN),
        buf: vec![0u8; CHUNK],
        done: Counts::default(),
        total: counts,
        last_progress: crate::sys::clock::monotonic(),
    };
    let mut lines = Lines::new(GzipReader::new(RegionReader::new(&file, a_start, a_end)));
    lines.next_line().map_err(io_err("read back the manifest of"))?;
    loop {
        let text = match lines.next_line().map_err(io_err("read back the manifest of"))? {
            Some(line) => String::from_utf8_lossy(line).into_owned(),
            None => return Err(Error::Problem("the manifest written in pass 1 ends without its end line".into())),
        };
        match format::parse_line(&text).map_err(Error::Problem)? {
            Line::End(..) => break,
            Line::Entry(entry) => {
                let hash = copier.copy(&entry.entry, &mut data, out)?;
                if let Some(hash) = hash {
                    let line = format!("{}\n", format::hex(hash.as_ref()));
                    part_b.write_all(line.as_bytes()).map_err(io_err("write"))?;
                }
                if !fits(data.get_ref().written) {
                    return Err(too_big(settings));
                }
            }
        }
    }
    if copier.done.entries != counts.entries {
        return Err(Error::Problem("pass 2 copied a different number of entries than pass 1 listed".into()));
    }
    let sink = data.finish().map_err(io_err("write"))?;
    let data_len = sink.written;
    if !fits(data_len) {
        return Err(too_big(settings));
    }
    let data_digest = sink.digest.finish();
    part_b.write_all(&vec![0u8; tar::padding(manifest_len)]).map_err(io_err("write"))?;
    part_b.finish().and_then(|mut w| w.flush()).map_err(io_err("write"))?;

    // The manifest member's tar header goes first, now that its size is known.
    let header = format::manifest_header(manifest_len).map_err(Error::Problem)?;
    let member = gzip::stored_member(&header);
    debug_assert_eq!(member.len() as u64, format::MANIFEST_HEADER_MEMBER_LEN);
    std::os::unix::fs::FileExt::write_all_at(&file, &member, 0).map_err(io_err("write"))?;

    // HMAC over both regions; the manifest region is read back (it is small).
    let mut manifest_digest = digest::Context::new(&digest::SHA256);
    let mut reader = RegionReader::new(&file, 0, region);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(io_err("read back"))?;
        if n == 0 {
            break;
        }
        manifest_digest.update(&buf[..n]);
    }
    let msg = format::mac_message(region, data_len, manifest_digest.finish().as_ref(), data_digest.as_ref());
    let tag = ring::hmac::sign(key, &msg);
    let mut mac = [0u8; 32];
    mac.copy_from_slice(tag.as_ref());
    std::os::unix::fs::FileExt::write_all_at(&file, &format::trailer(region, &mac), region + data_len)
        .map_err(io_err("write"))?;
    file.sync_all().map_err(io_err("fsync"))?;
    // Written once, read only on a restore: keep it out of the page cache.
    let _ = crate::sys::fs::drop_cache(&file);
    Ok(copier.done)
}

fn too_big(settings: &Settings) -> Error {
    Error::Problem(format!(
        "the backup does not fit within the backup limit of {} of {}; no backup was written and no old backup removed",
        super::limit_text(settings.limit),
        settings.dir_shown.display()
    ))
}

/// Pass 1: walks the data paths, writing a manifest line per entry.
struct Lister<'a, W: Write> {
    part_a: DeflateWriter<W>,
    counts: Counts,
    out: &'a mut dyn Write,
    settings: &'a Settings,
}

impl<W: Write> Lister<'_, W> {
    fn root(&mut self, root: &Root) -> Result<()> {
        match fs::symlink_metadata(&root.live) {
            Ok(meta) => self.visit(&root.live, &root.rel, &meta, 0),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                emit(self.out, &format!("Skipping {}: not present", root.board_path.display()))
            }
            Err(err) => Err(Error::io("stat", &root.live, err)),
        }
    }

    fn skip(&mut self, path: &Path, why: &str) -> Result<()> {
        let shown = self.shown(path);
        emit(self.out, &format!("Skipping {shown}: {why}"))
    }

    /// A path as the appliance names it (without the root prefix of tests and recovery).
    fn shown(&self, path: &Path) -> String {
        for root in &self.settings.roots {
            if let Ok(rest) = path.strip_prefix(&root.live) {
                if rest.as_os_str().is_empty() {
                    return root.board_path.display().to_string();
                }
                return root.board_path.join(rest).display().to_string();
            }
        }
        path.display().to_string()
    }

    fn visit(&mut self, path: &Path, rel: &str, meta: &fs::Metadata, depth: usize) -> Result<()> {
        let kind = if meta.file_type().is_file() {
            Kind::File
        } else if meta.file_type().is_dir() {
            Kind::Dir
        } else {
            let what =
                if meta.file_type().is_symlink() { "a symbolic link" } else { "not a regular file or directory" };
            return self.skip(path, &format!("{what} (backups hold files and directories only)"));
        };
        let mut mode = meta.mode() & 0o7777;
        if mode & 0o6000 != 0 {
            self.skip(path, "setuid/setgid bits are not backed up (the file is)")?;
            mode &= !0o6000;
        }
        let entry = Entry {
            path: rel.to_string(),
            kind,
            mode,
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            size: if kind == Kind::File { meta.len() } else { 0 },
            mtime: meta.mtime(),
        };
        let line = EntryLine::text(&entry, u32::try_from(meta.mtime_nsec()).unwrap_or(0));
        self.part_a.write_all(line.as_bytes()).map_err(|e| Error::io("write manifest for", path, e))?;
        self.counts.entries += 1;
        if kind == Kind::File {
            self.counts.files += 1;
            self.counts.bytes += entry.size;
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            return Err(Error::Problem(format!("{}: directories nested deeper than {MAX_DEPTH}", self.shown(path))));
        }
        let mut names: Vec<std::ffi::OsString> = fs::read_dir(path)
            .map_err(|e| Error::io("read directory", path, e))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| Error::io("read directory", path, e))?;
        names.sort_by(|a, b| {
            std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())
                .cmp(std::os::unix::ffi::OsStrExt::as_bytes(b.as_os_str()))
        });
        for name in names {
            let child = path.join(&name);
            let Some(text) = name.to_str() else {
                self.skip(&child, "the name is not UTF-8")?;
                continue;
            };
            let child_rel = format!("{rel}/{text}");
            if let Err(why) = tar::check_path(&child_rel) {
                self.skip(&child, &why)?;
                continue;
            }
            match fs::symlink_metadata(&child) {
                Ok(meta) => self.visit(&child, &child_rel, &meta, depth + 1)?,
                // Gone since the directory was read: it simply is not part of this backup.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(Error::io("stat", &child, err)),
            }
        }
        Ok(())
    }
}

/// Pass 2: copies entries into the data member.
struct Copier<'a> {
    settings: &'a Settings,
    /// Bytes the data member may take before the backup exceeds the limit.
    data_budget: u64,
    buf: Vec<u8>,
    done: Counts,
    total: Counts,
    last_progress: Duration,
    cancel: &'a Cancel,
}

impl Copier<'_> {
    fn live_path(&self, rel: &str) -> Result<(PathBuf, &Root)> {
        let root = self
            .settings
            .roots
            .iter()
            .find(|r| inside(&r.rel, rel))
            .ok_or_else(|| Error::Problem(format!("manifest entry '{rel}' is outside every data path")))?;
        let rest = rel[root.rel.len()..].trim_start_matches('/');
        Ok((if rest.is_empty() { root.live.clone() } else { root.live.join(rest) }, root))
    }

    fn progress(&mut self, out: &mut dyn Write) -> Result<()> {
        // A cancel leaves only the temporary file, which the caller removes.
        self.cancel.check("no backup was made")?;
        let now = crate::sys::clock::monotonic();
        if now.saturating_sub(self.last_progress) >= PROGRESS_EVERY {
            self.last_progress = now;
            emit(
                out,
                &format!(
                    "  {} of {} files, {} of {}",
                    self.done.files,
                    self.total.files,
                    mib(self.done.bytes),
                    mib(self.total.bytes)
                ),
            )?;
            out.flush().map_err(|e| Error::io("write", "standard output", e))?;
        }
        Ok(())
    }

    /// Writes one entry; returns the SHA-256 of a file's data.
    fn copy(
        &mut self,
        entry: &Entry,
        data: &mut DeflateWriter<DataSink<'_>>,
        out: &mut dyn Write,
    ) -> Result<Option<digest::Digest>> {
        let (path, root) = self.live_path(&entry.path)?;
        if entry.path == root.rel {
            emit(out, &format!("Backing up {}", root.board_path.display()))?;
            out.flush().map_err(|e| Error::io("write", "standard output", e))?;
        }
        let header = tar::header(entry).map_err(Error::Problem)?;
        self.done.entries += 1;
        if entry.kind == Kind::Dir {
            data.write_all(&header).map_err(|e| Error::io("write backup data for", &path, e))?;
            return Ok(None);
        }
        let changed =
            |why: &str| Error::Problem(format!("{} {why} during the backup; run the backup again", path.display()));
        // O_NOFOLLOW: a file replaced by a symlink since pass 1 is not followed; O_NONBLOCK: nor
        // does a FIFO put in its place block the open.
        let mut file = match OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(changed("disappeared")),
            Err(err) => return Err(Error::io("open", &path, err)),
        };
        let meta = file.metadata().map_err(|e| Error::io("stat", &path, e))?;
        if !meta.file_type().is_file() {
            return Err(changed("stopped being a regular file"));
        }
        if meta.len() < entry.size {
            return Err(changed("shrank"));
        }
        data.write_all(&header).map_err(|e| Error::io("write backup data for", &path, e))?;
        let mut hash = digest::Context::new(&digest::SHA256);
        let mut left = entry.size;
        while left > 0 {
            let want = self.buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => return Err(changed("shrank")),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(Error::io("read", &path, err)),
            };
            hash.update(&self.buf[..n]);
            data.write_all(&self.buf[..n]).map_err(|e| Error::io("write backup data for", &path, e))?;
            left -= n as u64;
            self.done.bytes += n as u64;
            if data.get_ref().written > self.data_budget {
                return Err(too_big(self.settings));
            }
            self.progress(out)?;
        }
        let pad = tar::padding(entry.size);
        data.write_all(&[0u8; tar::BLOCK][..pad]).map_err(|e| Error::io("write backup data for", &path, e))?;
        self.done.files += 1;
        self.progress(out)?;
        Ok(Some(hash.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// A whole backup written in-process: it verifies, and a change of any single byte, or
    /// any truncation, makes verification fail.
    #[test]
    fn every_single_byte_of_a_backup_is_covered_by_the_hmac() {
        let dir = TempDir::new("create-every-byte");
        let live = dir.path().join("data");
        fs::create_dir_all(live.join("sub")).unwrap();
        fs::write(live.join("a.txt"), b"hello backup\n".repeat(40)).unwrap();
        fs::write(live.join("sub/b.bin"), (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>()).unwrap();
        let settings = Settings {
            dir_shown: PathBuf::from("/backups"),
            dir: dir.path().join("backups"),
            limit: 1 << 30,
            roots: vec![Root { board_path: PathBuf::from("/data"), rel: "data".into(), live: live.clone() }],
            state_dir: dir.path().join("state"),
        };
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[42u8; 32]);
        let head = Head {
            format: format::FORMAT,
            product_version: "0.1.0-test".into(),
            board: "generic-x86".into(),
            hostname: "h".into(),
            created: "2022-09-29T18:30:20Z".into(),
            created_ms: 1_664_476_220_000,
            roots: vec!["data".into()],
        };
        let path = dir.path().join("backup.tar");
        let mut out = Vec::new();
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
        let counts = write_backup(&settings, &key, file, &path, &head, &Cancel::new(), &mut out).unwrap();
        assert_eq!((counts.entries, counts.files), (4, 2));
        let pristine = fs::read(&path).unwrap();
        let file = fs::File::open(&path).unwrap();
        assert!(format::verify(&file, &key).is_ok());
        let other_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[43u8; 32]);
        assert!(format::verify(&file, &other_key).is_err());
        let probe = dir.path().join("probe.tar");
        for at in 0..pristine.len() {
            let mut bytes = pristine.clone();
            bytes[at] ^= 0x01;
            fs::write(&probe, &bytes).unwrap();
            let damaged = fs::File::open(&probe).unwrap();
            assert!(format::verify(&damaged, &key).is_err(), "a change at byte {at} of {} passed", pristine.len());
        }
        for cut in [1, 8, 2071, 2072, pristine.len() / 2] {
            fs::write(&probe, &pristine[..pristine.len() - cut]).unwrap();
            assert!(format::verify(&fs::File::open(&probe).unwrap(), &key).is_err(), "cut {cut}");
        }
    }
}
