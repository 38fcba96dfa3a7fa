//! `system restore`: puts a backup's data back, all of it or none of it.
//!
//! 1. The HMAC is verified over the whole file before anything else is read from it.
//! 2. The tar stream is extracted into a staging path beside each data path (same directory,
//!    so same filesystem), in lockstep with the manifest: each entry must match its manifest
//!    line, each file its SHA-256. Only regular files and directories, every path relative and
//!    beneath a data path of this board, each directory before its contents, every name created
//!    with O_EXCL (a duplicate fails), no setuid/setgid bits; see [`crate::archive::tar`] for
//!    what the reader itself refuses. Any refusal removes the staging paths: nothing live was
//!    touched.
//! 3. The staged data is synced to disk, a journal of the swap is written, and each data path is
//!    exchanged with its staging path by `renameat2(RENAME_EXCHANGE)` (atomic per path). The
//!    previous data sits in the staging paths until every exchange is done, then is removed.
//!    A restore killed during the swap is finished by [`recover`], which the next backup or
//!    restore runs first: the appliance ends with all of the old data or all of the new.
//!
//! Needs write access to the data paths' parent directories; restoring file owners needs root.
#![forbid(unsafe_code)]

use super::format::{self, Head, Line, Lines, RegionReader, MANIFEST_NAME};
use super::{lock, lower_priority, mib, BackupFile, Root, Settings};
use crate::cancel::Cancel;
use crate::prompt::{self, Prompter};
use crate::validate::BackupRef;
use crate::outcome::Status;
use crate::archive::extract::{self, inside, refuse, remove_tree, DirStack, OpenDir, Refusal};
use crate::archive::gzip::GzipReader;
use crate::archive::tar::{Entry, Kind, TarError, TarReader};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::store;
use nanoserde::{DeJson, SerJson};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The tar data of the member a [`TarReader`] stands at, as a plain stream.
pub struct MemberData<R: Read>(TarReader<R>);

impl<R: Read> Read for MemberData<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf).map_err(|err| match err {
            TarError::Io(err) => err,
            TarError::Refused(why) => io::Error::new(io::ErrorKind::InvalidData, why),
        })
    }
}

type Stream<'a> = GzipReader<RegionReader<'a>>;

/// Opens the tar stream of the first `body_len` bytes of `file` and reads its first member,
/// which must be the manifest; returns the lines of the manifest.
fn open_manifest(file: &File, body_len: u64) -> std::result::Result<Lines<MemberData<Stream<'_>>>, String> {
    let mut tar = TarReader::new(GzipReader::new(RegionReader::new(file, 0, body_len)));
    let first = tar.next_entry().map_err(|e| e.to_string())?.ok_or("the archive is empty")?;
    if first.path != MANIFEST_NAME || first.kind != Kind::File {
        return Err(format!("the first member is '{}', not the manifest", crate::validate::printable(&first.path)));
    }
    Ok(Lines::new(MemberData(tar)))
}

fn parse_head(lines: &mut Lines<MemberData<Stream<'_>>>) -> std::result::Result<Head, String> {
    let line = lines.next_line().map_err(|e| e.to_string())?.ok_or("the manifest is empty")?;
    let text = std::str::from_utf8(line).map_err(|_| "the manifest is not UTF-8")?;
    let head = crate::json::decode::<Head>(text).map_err(|e| format!("the manifest's first line is not valid: {e}"))?;
    if head.format != format::FORMAT {
        return Err(format!("backup format {} is not supported (this build reads {})", head.format, format::FORMAT));
    }
    Ok(head)
}

/// The manifest's head line of a backup file (for listings; the file is not verified).
pub fn read_head(file: &File) -> std::result::Result<Head, String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    parse_head(&mut open_manifest(file, len.saturating_sub(format::TRAILER_LEN))?)
}

/// The major number of a product version (`22` of `22.3.0.318-r-71e6295`).
fn major(version: &str) -> Option<u64> {
    version.split(['.', '-']).next()?.parse().ok()
}

fn chosen_backup(settings: &Settings, file: Option<&BackupRef>) -> Result<PathBuf> {
    let Some(reference) = file else {
        let backups: Vec<BackupFile> = super::list_backups(&settings.dir)?;
        return backups
            .first()
            .map(|b| b.path.clone())
            .ok_or_else(|| Error::Problem(format!("no backups in {}", settings.dir.display())));
    };
    if let Some(dir) = reference.dir() {
        let dir = Path::new(dir.as_str());
        if dir != settings.dir_shown && dir != settings.dir {
            return Err(Error::Usage(format!(
                "'{}' is not in the backup directory {}",
                crate::validate::printable(&reference.to_string()),
                settings.dir_shown.display()
            )));
        }
    }
    let name = reference.name();
    let path = settings.dir.join(name.as_str());
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_file() => Ok(path),
        _ => Err(Error::Usage(format!(
            "no backup named '{name}' in {} (see system backup-list)",
            settings.dir.display()
        ))),
    }
}

/// `system restore`, its first half: which backup (`-f`, else the newest), and unless `--yes`
/// the reference's two questions. `None`: the operator said no (or the input ended).
pub fn choose(ctx: &Context, file: Option<&BackupRef>, yes: bool, prompter: &mut dyn Prompter) -> Result<Option<PathBuf>> {
    let settings = Settings::of(ctx)?;
    let chosen = chosen_backup(&settings, file)?;
    if !yes {
        let asked = prompt::confirm(prompter, &format!("Use backup file as \"{}\" ? [Y/n]: ", chosen.display()))?
            && prompt::confirm(
                prompter,
                "WARNING - the following procedure will restore data. do not stop or power off the server machine while this procedure is running. Are you sure you wish to proceed? [Y/n]: ",
            )?;
        if !asked {
            return Ok(None);
        }
    }
    Ok(Some(chosen))
}

/// `system restore [-f NAME] [--yes] [--force]`, its second half: restores `chosen`.
pub fn run(ctx: &Context, chosen: &Path, force: bool, out: &mut dyn Write) -> Result<Status> {
    let settings = Settings::of(ctx)?;
    lower_priority();
    let _lock = lock(&settings)?;
    recover(&settings, out)?;
    let name = chosen.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let refused = |why: String| Error::Problem(format!("backup {name} refused: {why}; nothing was changed"));
    let key = super::load_key(ctx)?
        .ok_or_else(|| refused("this appliance has no backup key, so no backup can be verified here".into()))?;
    let file = File::open(chosen).map_err(|e| Error::io("open", chosen, e))?;
    emit(out, &format!("Verifying the HMAC-SHA256 of {name} ..."))?;
    out.flush().map_err(|e| Error::io("write", "standard output", e))?;
    let clock = crate::sys::clock::monotonic;
    let started = clock();
    let verified = format::verify(&file, &key).map_err(refused)?;
    emit(out, "HMAC-SHA256 verified.")?;
    log::info!("HMAC verified in {} ms", (clock() - started).as_millis());
    let started = clock();
    let mut extraction =
        Extraction::new(&ctx.board()?.name, &settings, &file, verified.body_len, force, ctx.cancel.clone(), out)?;
    let outcome = extraction.run();
    let staged = match outcome {
        Ok(staged) => staged,
        Err(err) => {
            extraction.discard();
            return Err(match err {
                Refusal::Refused(why) => refused(why),
                Refusal::Failed(err) => err,
            });
        }
    };
    let counts = extraction.done;
    drop(extraction);
    emit(
        out,
        &format!("Verified {} files ({}) against the SHA-256 sums of the manifest.", counts.files, mib(counts.bytes)),
    )?;
    // The point of no return: from here the swap completes whoever goes away or presses Ctrl-C,
    // and a closed output stops nothing (a half-swapped tree is the one outcome not allowed).
    let _ = emit(out, "Swapping the restored data into place ...");
    log::info!("extracted and checked in {} ms", (clock() - started).as_millis());
    let started = clock();
    swap(&settings, staged, out)?;
    log::info!("swapped in and removed the previous data in {} ms", (clock() - started).as_millis());
    let _ = emit(out, &format!("Restore finished: {} files from {name}.", counts.files));
    Ok(Status::Ok)
}

/// For the fuzz targets only (`fuzz/`): runs the extraction and its rules over the first
/// `body_len` bytes of `file` as `restore` would after the HMAC check (with `--force`, so the
/// board and version checks pass), staging beside the data paths of `settings`, then removes
/// whatever was staged. Nothing is swapped in. Returns the refusal, if any.
#[doc(hidden)]
pub fn stage_and_discard(board: &str, settings: &Settings, file: &File, body_len: u64) -> std::result::Result<(), String> {
    let mut sink = io::sink();
    let mut extraction =
        Extraction::new(board, settings, file, body_len, true, Cancel::new(), &mut sink).map_err(|e| e.to_string())?;
    let outcome = extraction.run();
    extraction.discard();
    match outcome {
        Ok(_) => Ok(()),
        Err(Refusal::Refused(why)) => Err(why),
        Err(Refusal::Failed(err)) => Err(err.to_string()),
    }
}

type Outcome<T> = std::result::Result<T, Refusal>;

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    entries: u64,
    files: u64,
    bytes: u64,
}

/// What a directory created in staging gets once its contents are in: mode, owner and times.
struct DirMeta {
    entry: Entry,
    mtime_ns: u32,
}

/// A data path the restore replaces.
struct Target<'a> {
    root: &'a Root,
    staging: PathBuf,
    staged: bool,
    /// The staging directory has the set-group-id bit (inherited from its parent), so files
    /// created beneath it take its group rather than ours.
    inherits_group: bool,
}

struct Extraction<'a> {
    board: String,
    file: &'a File,
    body_len: u64,
    force: bool,
    targets: Vec<Target<'a>>,
    skipped: Vec<&'a Root>,
    out: &'a mut dyn Write,
    done: Counts,
    as_root: bool,
    /// Owner and group of a file we create (our effective ids).
    creator: (u32, u32),
    /// Our file mode creation mask, if the kernel tells it.
    umask: Option<u32>,
    last_progress: Duration,
    cancel: Cancel,
}

impl<'a> Extraction<'a> {
    fn new(
        board: &str,
        settings: &'a Settings,
        file: &'a File,
        body_len: u64,
        force: bool,
        cancel: Cancel,
        out: &'a mut dyn Write,
    ) -> Result<Extraction<'a>> {
        Ok(Extraction {
            board: board.to_string(),
            file,
            body_len,
            force,
            targets: settings
                .roots
                .iter()
                .map(|root| Target { root, staging: root.staging(), staged: false, inherits_group: false })
                .collect(),
            skipped: Vec::new(),
            out,
            done: Counts::default(),
            as_root: crate::sys::ids::real_uid() == 0,
            creator: crate::sys::ids::effective_ids(),
            umask: crate::sys::procfs::umask(),
            last_progress: crate::sys::clock::monotonic(),
            cancel,
        })
    }

    /// Removes whatever was staged.
    fn discard(&mut self) {
        for target in &self.targets {
            remove_tree(&target.staging);
        }
    }

    fn run(&mut self) -> Outcome<Vec<SwapItem>> {
        // `run` verified the HMAC over these bytes before the extraction started.
        let mut main = TarReader::new(GzipReader::authenticated(RegionReader::new(self.file, 0, self.body_len)));
        let first = main.next_entry()?.ok_or_else(|| refuse("the archive is empty"))?;
        if first.path != MANIFEST_NAME {
            return Err(refuse(format!(
                "the first member is '{}', not the manifest",
                crate::validate::printable(&first.path)
            )));
        }
        let mut part_a = open_manifest(self.file, self.body_len).map_err(Refusal::Refused)?;
        let head = parse_head(&mut part_a).map_err(Refusal::Refused)?;
        self.check_head(&head)?;
        // Part B (the hashes) follows part A's end line; a second cursor walks there.
        let mut part_b = open_manifest(self.file, self.body_len).map_err(Refusal::Refused)?;
        parse_head(&mut part_b).map_err(Refusal::Refused)?;
        loop {
            let line = part_b.next_line().map_err(|e| refuse(e.to_string()))?;
            let line = line.ok_or_else(|| refuse("the manifest has no end line"))?;
            // Only the end line can hold `"end"` outside a string (JSON escapes a quote in a
            // path); part A's cursor checks every line in full.
            if line.windows(5).any(|w| w == b"\"end\"") {
                match format::parse_line(&String::from_utf8_lossy(line)).map_err(Refusal::Refused)? {
                    Line::End(..) => break,
                    Line::Entry(_) => {}
                }
            }
        }
        for target in &self.targets {
            if !head.roots.contains(&target.root.rel) {
                self.skipped.push(target.root);
            }
        }
        self.targets.retain(|t| head.roots.contains(&t.root.rel));
        if self.targets.is_empty() {
            return Err(refuse("the backup holds none of this board's data paths"));
        }
        for target in &self.targets {
            check_swappable(target.root)?;
            remove_tree(&target.staging);
        }
        let mut stack: DirStack<DirMeta> = DirStack::default();
        while let Some(entry) = main.next_entry()? {
            // The path as messages quote it, made only for a message.
            let shown = || crate::validate::printable(&entry.path);
            let manifest = match next_line(&mut part_a)? {
                Some(Line::Entry(m)) => m,
                _ => return Err(refuse(format!("'{}' is in the archive but not in its manifest", shown()))),
            };
            for (what, same) in [
                ("path", entry.path == manifest.entry.path),
                ("type", entry.kind == manifest.entry.kind),
                ("size", entry.size == manifest.entry.size),
                ("mode", entry.mode == manifest.entry.mode),
                ("owner", entry.uid == manifest.entry.uid && entry.gid == manifest.entry.gid),
                ("mtime", entry.mtime == manifest.entry.mtime),
            ] {
                if !same {
                    return Err(refuse(format!(
                        "the tar header of '{}' and the manifest disagree about its {what}",
                        shown()
                    )));
                }
            }
            let Some(at) = self.targets.iter().position(|t| inside(&t.root.rel, &entry.path)) else {
                let roots: Vec<String> = self.targets.iter().map(|t| t.root.board_path.display().to_string()).collect();
                return Err(refuse(format!(
                    "'{}' is not beneath a data path of this board ({})",
                    shown(),
                    roots.join(", ")
                )));
            };
            let target = if entry.path == self.targets[at].root.rel {
                for dir in stack.close_all() {
                    self.finish_dir(dir)?;
                }
                if self.targets[at].staged {
                    return Err(refuse(format!("duplicate name '{}'", shown())));
                }
                // The data path's parent may not exist yet (a fresh image): make it, so that the
                // staging path can be made beside the data path.
                if let Some(parent) = self.targets[at].staging.parent() {
                    store::create_dir_all(parent, 0o755)?;
                }
                self.targets[at].staged = true;
                self.targets[at].staging.clone()
            } else {
                for dir in stack.close_outside(&entry.path) {
                    self.finish_dir(dir)?;
                }
                stack.target(&self.targets[at].staging, &entry.path)?
            };
            self.done.entries += 1;
            match entry.kind {
                Kind::Dir => {
                    extract::create_dir(&target, &entry.path)?;
                    if target == self.targets[at].staging {
                        let meta = fs::symlink_metadata(&target).map_err(|e| Error::io("stat", &target, e))?;
                        self.targets[at].inherits_group = meta.mode() & libc::S_ISGID != 0;
                    }
                    stack.push(entry.path.clone(), target, DirMeta { entry, mtime_ns: manifest.mtime_ns });
                }
                Kind::File => {
                    let expected = match part_b.next_line().map_err(|e| refuse(e.to_string()))? {
                        Some(line) => line.to_vec(),
                        None => return Err(refuse(format!("the manifest has no SHA-256 for '{}'", shown()))),
                    };
                    // A new file is already ours; chown(2) only when the archive says otherwise.
                    let owner = !self.targets[at].inherits_group && (entry.uid, entry.gid) == id_pair(self.creator);
                    // Created with its own mode when the umask leaves that whole, saving a
                    // chmod(2); until its directories are finished, staging is 0700 and no one
                    // else can reach the file.
                    let mode = entry.mode <= 0o777 && matches!(self.umask, Some(mask) if mask & entry.mode == 0);
                    let born = Born { owner, mode };
                    self.extract_file(&mut main, &entry, manifest.mtime_ns, &target, &expected, born)?;
                }
            }
        }
        for dir in stack.close_all() {
            self.finish_dir(dir)?;
        }
        match next_line(&mut part_a)? {
            Some(Line::End(entries, files)) if entries == self.done.entries && files == self.done.files => {}
            Some(Line::End(..)) => return Err(refuse("the manifest's counts do not match the archive")),
            _ => return Err(refuse("the manifest lists entries the archive does not hold")),
        }
        if part_b.next_line().map_err(|e| refuse(e.to_string()))?.is_some() {
            return Err(refuse("the manifest lists more SHA-256 sums than the archive holds files"));
        }
        let mut synced: Vec<u64> = Vec::new();
        let mut items = Vec::new();
        for target in &self.targets {
            if target.staged {
                // One syncfs per filesystem makes every staged file durable before the journal
                // promises the swap.
                let dir = File::open(&target.staging).map_err(|e| Error::io("open", &target.staging, e))?;
                let dev = dir.metadata().map_err(|e| Error::io("stat", &target.staging, e))?.dev();
                if !synced.contains(&dev) {
                    crate::sys::fs::sync_filesystem(&dir).map_err(|e| Error::io("syncfs", &target.staging, e))?;
                    synced.push(dev);
                }
            }
            items.push(SwapItem::plan(target)?);
        }
        for root in &self.skipped {
            emit(self.out, &format!("Leaving {} as it is: not in this backup", root.board_path.display()))?;
        }
        Ok(items.into_iter().flatten().collect())
    }

    fn check_head(&mut self, head: &Head) -> Outcome<()> {
        emit(
            self.out,
            &format!(
                "Backup made {} on {} (board {}, version {})",
                head.created, head.hostname, head.board, head.product_version
            ),
        )?;
        if self.force {
            return Ok(());
        }
        if head.board != self.board {
            return Err(refuse(format!(
                "it was made on board {}, this appliance is board {}; use --force to restore it anyway",
                head.board, self.board
            )));
        }
        let ours = crate::product::version();
        match (major(&head.product_version), major(&ours)) {
            (Some(theirs), Some(mine)) if theirs <= mine => Ok(()),
            _ => Err(refuse(format!(
                "it was made by version {}, a newer major version than this one ({ours}); use --force to restore it anyway",
                head.product_version
            ))),
        }
    }

    fn progress(&mut self) -> Outcome<()> {
        // Before the swap, a cancel (Ctrl-C, the daemon's caller left) stops the restore and
        // its staging is removed: nothing changed.
        if self.cancel.is_cancelled() {
            return Err(Refusal::Failed(Error::Cancelled("nothing was changed".to_string())));
        }
        let now = crate::sys::clock::monotonic();
        if now.saturating_sub(self.last_progress) >= Duration::from_secs(2) {
            self.last_progress = now;
            emit(self.out, &format!("  {} files, {} extracted", self.done.files, mib(self.done.bytes)))?;
            self.out.flush().map_err(|e| Error::io("write", "standard output", e))?;
        }
        Ok(())
    }

    fn extract_file<R: io::BufRead>(
        &mut self,
        tar: &mut TarReader<R>,
        entry: &Entry,
        mtime_ns: u32,
        target: &Path,
        expected: &[u8],
        born: Born,
    ) -> Outcome<()> {
        let mut file = extract::create_file(target, &entry.path, if born.mode { entry.mode } else { 0o600 })?;
        let digest = extract::copy_hashed(tar, &mut file, target, |n| {
            self.done.bytes += n as u64;
            self.progress()
        })?;
        if format::hex(digest.as_ref()).as_bytes() != expected {
            return Err(refuse(format!("SHA-256 mismatch for '{}'", crate::validate::printable(&entry.path))));
        }
        self.apply(&file, target, entry, mtime_ns, born)?;
        self.done.files += 1;
        Ok(())
    }

    fn finish_dir(&mut self, dir: OpenDir<DirMeta>) -> Outcome<()> {
        let handle = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&dir.target)
            .map_err(|e| Error::io("open", &dir.target, e))?;
        self.apply(&handle, &dir.target, &dir.data.entry, dir.data.mtime_ns, Born::default())
    }

    /// Owner (as root) and mode, unless the entry was `born` with them, and modification time,
    /// through the open descriptor.
    fn apply(&self, file: &File, path: &Path, entry: &Entry, mtime_ns: u32, born: Born) -> Outcome<()> {
        if self.as_root && !born.owner {
            let id =
                |v: u64| u32::try_from(v).map_err(|_| refuse(format!("'{}' has an owner id out of range", entry.path)));
            std::os::unix::fs::fchown(file, Some(id(entry.uid)?), Some(id(entry.gid)?))
                .map_err(|e| Error::io("chown", path, e))?;
        }
        if !born.mode {
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(entry.mode))
                .map_err(|e| Error::io("chmod", path, e))?;
        }
        let secs = Duration::from_secs(entry.mtime.unsigned_abs());
        let base = if entry.mtime >= 0 { UNIX_EPOCH.checked_add(secs) } else { UNIX_EPOCH.checked_sub(secs) };
        let when: SystemTime = base
            .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(mtime_ns))))
            .ok_or_else(|| refuse(format!("'{}' has a modification time out of range", entry.path)))?;
        file.set_times(fs::FileTimes::new().set_modified(when)).map_err(|e| Error::io("set the times of", path, e))?;
        Ok(())
    }
}

/// What an extracted entry already had when it was created, so need not be set again.
#[derive(Clone, Copy, Debug, Default)]
struct Born {
    /// The archive's owner and group.
    owner: bool,
    /// The archive's mode.
    mode: bool,
}

/// Owner ids as the archive holds them.
fn id_pair((uid, gid): (u32, u32)) -> (u64, u64) {
    (u64::from(uid), u64::from(gid))
}

fn next_line<R: Read>(lines: &mut Lines<R>) -> Outcome<Option<Line>> {
    let Some(line) = lines.next_line().map_err(|e| refuse(e.to_string()))? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(line).map_err(|_| refuse("the manifest is not UTF-8"))?;
    format::parse_line(text).map(Some).map_err(Refusal::Refused)
}

/// A data path that is a mount point cannot be renamed, and one that is a symbolic link would
/// be replaced rather than followed; refuse both before touching anything.
fn check_swappable(root: &Root) -> Outcome<()> {
    let Ok(meta) = fs::symlink_metadata(&root.live) else { return Ok(()) };
    if meta.file_type().is_symlink() {
        return Err(Refusal::Failed(Error::Unsupported(format!(
            "{} is a symbolic link; restore swaps data paths by renaming them",
            root.board_path.display()
        ))));
    }
    let parent = root.live.parent().unwrap_or(Path::new("/"));
    let parent_meta = fs::metadata(parent).map_err(|e| Error::io("stat", parent, e))?;
    if meta.dev() != parent_meta.dev() {
        return Err(Refusal::Failed(Error::Unsupported(format!(
            "{} is a mount point; restore swaps data paths by renaming them",
            root.board_path.display()
        ))));
    }
    Ok(())
}

/// One step of the swap, as journaled.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct SwapItem {
    /// The live data path.
    pub live: String,
    /// Its staging path.
    pub staging: String,
    /// `exchange` (both exist), `install` (no live data yet) or `remove` (the backup has none).
    pub action: String,
    /// Device of the inode that must end up at `live` (`remove`: the one that must leave it).
    pub dev: u64,
    /// That inode.
    pub ino: u64,
}

impl SwapItem {
    fn plan(target: &Target<'_>) -> Result<Option<SwapItem>> {
        let text = |p: &Path| {
            p.to_str()
                .map(str::to_string)
                .ok_or_else(|| Error::Unsupported(format!("{} is not a UTF-8 path", p.display())))
        };
        let live_exists = fs::symlink_metadata(&target.root.live).ok();
        let (action, meta) = match (target.staged, live_exists) {
            (true, Some(_)) => ("exchange", fs::symlink_metadata(&target.staging)),
            (true, None) => ("install", fs::symlink_metadata(&target.staging)),
            (false, Some(meta)) => ("remove", Ok(meta)),
            (false, None) => return Ok(None),
        };
        let meta = meta.map_err(|e| Error::io("stat", &target.staging, e))?;
        Ok(Some(SwapItem {
            live: text(&target.root.live)?,
            staging: text(&target.staging)?,
            action: action.to_string(),
            dev: meta.dev(),
            ino: meta.ino(),
        }))
    }

    fn at(path: &str) -> Option<(u64, u64)> {
        fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    /// Performs this step unless it was done already (so that it can be repeated after a kill).
    fn apply(&self) -> Result<()> {
        let wanted = Some((self.dev, self.ino));
        let (live, staging) = (Path::new(&self.live), Path::new(&self.staging));
        let result = match self.action.as_str() {
            "exchange" if SwapItem::at(&self.live) == wanted => Ok(()),
            "exchange" if SwapItem::at(&self.staging) == wanted => crate::sys::fs::rename_exchange(staging, live),
            "install" if SwapItem::at(&self.live) == wanted => Ok(()),
            "install" if SwapItem::at(&self.staging) == wanted => crate::sys::fs::rename_noreplace(staging, live),
            "remove" if SwapItem::at(&self.live) == wanted => crate::sys::fs::rename_noreplace(live, staging),
            "remove" => Ok(()),
            _ => {
                return Err(Error::Problem(format!(
                    "the restore journal does not match {} and {}; check them by hand",
                    self.live, self.staging
                )))
            }
        };
        result.map_err(|e| Error::io("swap in restored data at", live, e))?;
        store::sync_dir(live.parent().unwrap_or(Path::new("/")))
    }
}

/// The journal of a swap in progress.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct Journal {
    /// When the swap started.
    pub started: String,
    /// Its steps.
    pub items: Vec<SwapItem>,
}

fn journal_path(settings: &Settings) -> PathBuf {
    settings.state_dir.join("restore-journal.json")
}

/// Journals the swap, performs it, and removes the previous data.
fn swap(settings: &Settings, items: Vec<SwapItem>, out: &mut dyn Write) -> Result<()> {
    let journal = Journal {
        started: crate::time::Utc::from_unix(i64::try_from(super::now_ms() / 1000).unwrap_or(0)).iso8601(),
        items,
    };
    let path = journal_path(settings);
    store::replace(&path, journal.serialize_json().as_bytes(), store::Mode::Secret)?;
    finish(settings, &journal, out)
}

fn finish(settings: &Settings, journal: &Journal, out: &mut dyn Write) -> Result<()> {
    for item in &journal.items {
        item.apply()?;
        // Said if it can be: the swap goes on even if nobody reads it any more.
        let _ = emit(out, &format!("  {} {}", if item.action == "remove" { "removed" } else { "restored" }, item.live));
    }
    // Every live path holds its new data: the previous data can go.
    for item in &journal.items {
        remove_tree(Path::new(&item.staging));
    }
    let path = journal_path(settings);
    fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
    store::sync_dir(&settings.state_dir)
}

/// Finishes a restore that was killed while swapping, and removes staging left by one killed
/// while extracting. Called with the backup lock held, before any backup or restore.
pub fn recover(settings: &Settings, out: &mut dyn Write) -> Result<()> {
    let path = journal_path(settings);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let journal = crate::json::decode::<Journal>(&text)
                .map_err(|e| Error::BadFile { path: path.clone(), why: format!("not a valid restore journal: {e}") })?;
            emit(out, &format!("Finishing the restore interrupted at {} ...", journal.started))?;
            finish(settings, &journal, out)?;
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::io("read", &path, err)),
    }
    for root in &settings.roots {
        let staging = root.staging();
        if fs::symlink_metadata(&staging).is_ok() {
            log::info!("removing {} left by an interrupted restore", staging.display());
            remove_tree(&staging);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn root(dir: &Path, rel: &str) -> Root {
        Root { board_path: PathBuf::from(format!("/{rel}")), rel: rel.to_string(), live: dir.join(rel) }
    }

    /// A swap killed after any number of its steps is finished by `recover`: every data path
    /// ends with its new data (or none, when the backup had none), nothing else is left over.
    #[test]
    fn recovery_finishes_a_swap_interrupted_after_any_step() {
        for done in 0..=3 {
            let dir = TempDir::new("restore-recover");
            let roots = vec![root(dir.path(), "a/data"), root(dir.path(), "b/data"), root(dir.path(), "c/data")];
            let settings = Settings {
                dir_shown: PathBuf::from("/backups"),
                dir: dir.path().join("backups"),
                limit: 1 << 30,
                roots: roots.clone(),
                state_dir: dir.path().join("state"),
            };
            fs::create_dir_all(&settings.state_dir).unwrap();
            // a: old live data and new staged data; b: only new staged data; c: only old data.
            fs::create_dir_all(roots[0].live.join("sub")).unwrap();
            fs::write(roots[0].live.join("sub/f"), b"old a").unwrap();
            fs::create_dir_all(roots[0].staging().join("sub")).unwrap();
            fs::write(roots[0].staging().join("sub/f"), b"new a").unwrap();
            fs::create_dir_all(roots[1].staging()).unwrap();
            fs::write(roots[1].staging().join("f"), b"new b").unwrap();
            fs::create_dir_all(&roots[2].live).unwrap();
            fs::write(roots[2].live.join("f"), b"old c").unwrap();
            let targets = [(0, true), (1, true), (2, false)].map(|(at, staged)| Target {
                root: &roots[at],
                staging: roots[at].staging(),
                staged,
                inherits_group: false,
            });
            let items: Vec<SwapItem> = targets.iter().filter_map(|t| SwapItem::plan(t).unwrap()).collect();
            assert_eq!(items.iter().map(|i| i.action.as_str()).collect::<Vec<_>>(), ["exchange", "install", "remove"]);
            let journal = Journal { started: "2022-09-29T18:30:20Z".into(), items };
            store::replace(&journal_path(&settings), journal.serialize_json().as_bytes(), store::Mode::Secret).unwrap();
            for item in &journal.items[..done] {
                item.apply().unwrap();
                // Applying a step twice (a kill right after it) changes nothing.
                item.apply().unwrap();
            }
            let mut out = Vec::new();
            recover(&settings, &mut out).unwrap();
            assert!(
                String::from_utf8_lossy(&out).starts_with("Finishing the restore interrupted at 2022-09-29T18:30:20Z")
            );
            assert_eq!(fs::read(roots[0].live.join("sub/f")).unwrap(), b"new a", "after {done} steps");
            assert_eq!(fs::read(roots[1].live.join("f")).unwrap(), b"new b", "after {done} steps");
            assert!(!roots[2].live.exists(), "after {done} steps");
            for r in &roots {
                assert!(!r.staging().exists(), "after {done} steps: {} left", r.staging().display());
            }
            assert!(!journal_path(&settings).exists());
            // Nothing left to do: a second recovery is silent.
            let mut out = Vec::new();
            recover(&settings, &mut out).unwrap();
            assert!(out.is_empty());
        }
    }

    #[test]
    fn a_journal_that_does_not_match_the_filesystem_stops_recovery() {
        let dir = TempDir::new("restore-recover-bad");
        let settings = Settings {
            dir_shown: PathBuf::from("/backups"),
            dir: dir.path().join("backups"),
            limit: 1,
            roots: vec![root(dir.path(), "a")],
            state_dir: dir.path().join("state"),
        };
        fs::create_dir_all(&settings.state_dir).unwrap();
        fs::create_dir_all(dir.path().join("a")).unwrap();
        let journal = Journal {
            started: "x".into(),
            items: vec![SwapItem {
                live: dir.path().join("a").display().to_string(),
                staging: dir.path().join(".a.sensorctl-restore").display().to_string(),
                action: "exchange".into(),
                dev: 1,
                ino: 1,
            }],
        };
        store::replace(&journal_path(&settings), journal.serialize_json().as_bytes(), store::Mode::Secret).unwrap();
        let err = recover(&settings, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("the restore journal does not match"), "{err}");
        assert!(journal_path(&settings).exists(), "kept for whoever checks by hand");
    }

    /// A fuzzer's find (issue 12): a manifest head line cut short inside a value made nanoserde
    /// panic. The archive must be refused, with nothing left behind.
    #[test]
    fn a_broken_manifest_head_is_refused_without_a_panic() {
        let dir = TempDir::new("restore-fuzz");
        let tar = fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/restore_extract-panic")).unwrap();
        let body = crate::archive::gzip::stored_member(&tar);
        let path = dir.path().join("backup.tar");
        fs::write(&path, &body).unwrap();
        let settings = Settings {
            dir_shown: PathBuf::from("/backups"),
            dir: dir.path().join("backups"),
            limit: 1 << 30,
            roots: vec![root(dir.path(), "etc/sensorctl"), root(dir.path(), "var/cyberx/keys")],
            state_dir: dir.path().join("state"),
        };
        let file = File::open(&path).unwrap();
        let refusal = stage_and_discard("generic-x86", &settings, &file, body.len() as u64).unwrap_err();
        assert!(refusal.contains("manifest"), "{refusal}");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["backup.tar"]);
    }

    #[test]
    fn major_versions() {
        assert_eq!(major("22.3.0.318-r-71e6295"), Some(22));
        assert_eq!(major("0.1.0-1a2b3c4"), Some(0));
        assert_eq!(major("x"), None);
    }
}
