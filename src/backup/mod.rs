//! Backups of the appliance's whole state: `system backup` (create), `system backup-list`,
//! `system backup space`, `system backup export` and `system restore`.
//!
//! A backup streams the board's data paths into `<backup dir>/<host>-<epoch ms>-backup-version-
//! <version>-<YYYY-MM-DD_HH:MM:SS>.tar`, a gzip-compressed POSIX tar (see [`format`]) that GNU
//! tar lists and extracts, authenticated with HMAC-SHA256 under a per-appliance key. Restore
//! verifies the HMAC and every file's SHA-256, extracts into staging directories beside the live
//! data, and swaps them in with atomic renames under a journal, so that the appliance is never
//! left half-restored. Both run at the lowest CPU and I/O priority, single-threaded, streaming,
//! in a few MiB of memory whatever the data size.
//!
//! Files under the root prefix: the backup directory of the board, and in
//! `var/lib/sensorctl/`: `backup.key` (0600), `backup-state.json` (last backup's status and
//! time), `backup.lock` (one backup or restore at a time) and `restore-journal.json` (while
//! a restore swaps data in).
//!
//! Needs read access to the data paths, write access to the backup directory and the state
//! directory (creating), and write access to the data paths' parent directories (restoring); to
//! restore file owners, root.
#![forbid(unsafe_code)]

pub mod create;
pub mod format;
pub mod restore;

use crate::outcome::Status;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::store;
use crate::time::Utc;
use nanoserde::{DeJson, SerJson};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// sensorctl's own state directory, relative to the root.
pub const STATE_DIR: &str = "var/lib/sensorctl";
/// The per-appliance HMAC key (32 random bytes, 0600), relative to the root.
pub const KEY_FILE: &str = "var/lib/sensorctl/backup.key";
/// The last backup's status and time, relative to the root.
pub const STATE_FILE: &str = "var/lib/sensorctl/backup-state.json";
/// The lock that serializes backups and restores, relative to the root.
pub const LOCK_FILE: &str = "var/lib/sensorctl/backup.lock";
/// The swap journal of a restore in progress, relative to the root.
pub const JOURNAL_FILE: &str = "var/lib/sensorctl/restore-journal.json";

/// The marker between host/time and version in a backup's name.
const NAME_MARK: &str = "-backup-version-";

/// A data path of the board: where it lives and how it is named inside a backup.
#[derive(Clone, Debug, PartialEq)]
pub struct Root {
    /// As the board writes it (`/var/cyberx/keys`).
    pub board_path: PathBuf,
    /// Its path inside the archive (`var/cyberx/keys`).
    pub rel: String,
    /// Resolved under the root prefix.
    pub live: PathBuf,
}

impl Root {
    /// The staging path beside the live one that a restore builds the new data in.
    pub fn staging(&self) -> PathBuf {
        let name = self.live.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.live.with_file_name(format!(".{name}.sensorctl-restore"))
    }
}

/// The board's backup settings, resolved and checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The backup directory as the board names it (shown to operators).
    pub dir_shown: PathBuf,
    /// The backup directory under the root prefix.
    pub dir: PathBuf,
    /// Rotation limit in bytes.
    pub limit: u64,
    /// The data paths.
    pub roots: Vec<Root>,
    /// sensorctl's state directory under the root prefix.
    pub state_dir: PathBuf,
}

impl Settings {
    /// The settings of the context's board. Refuses layouts a backup could not restore: data
    /// paths inside one another, or a backup or state directory inside a data path (a restore
    /// would swap the backups away with the data).
    pub fn of(ctx: &Context) -> Result<Settings> {
        let board = ctx.board()?;
        // The directory `network reconfigure --backup-dir` chose, when the board allows it.
        let dir_shown = board.backup.dir_for(ctx.config().ok().and_then(|c| c.backup_dir.as_deref()));
        let dir = ctx.root.resolve(&dir_shown);
        let state_dir = ctx.root.resolve(STATE_DIR);
        let mut roots: Vec<Root> = Vec::new();
        for path in &board.backup.paths {
            let rel = path
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("/");
            crate::archive::tar::check_path(&rel).map_err(|why| {
                Error::Unsupported(format!("board {}: data path {}: {why}", board.name, path.display()))
            })?;
            let root = Root { board_path: path.clone(), live: ctx.root.resolve(path), rel };
            if let Some(other) = roots.iter().find(|r| inside(&r.rel, &root.rel) || inside(&root.rel, &r.rel)) {
                return Err(Error::Unsupported(format!(
                    "board {}: data paths {} and {} overlap",
                    board.name,
                    other.board_path.display(),
                    root.board_path.display()
                )));
            }
            for (what, place) in [("backup directory", &dir), ("state directory", &state_dir)] {
                if place.starts_with(&root.live) || root.live.starts_with(place) {
                    return Err(Error::Unsupported(format!(
                        "board {}: the {what} {} and the data path {} overlap",
                        board.name,
                        place.display(),
                        root.board_path.display()
                    )));
                }
            }
            roots.push(root);
        }
        Ok(Settings { dir_shown, dir, limit: board.backup.limit_bytes, roots, state_dir })
    }
}

pub use crate::archive::extract::inside;

/// A backup file's name, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupFileName {
    /// The host part.
    pub host: String,
    /// Creation time, ms since the epoch.
    pub epoch_ms: u64,
    /// The product version part.
    pub version: String,
}

/// The name a backup made now gets. The seed's appliances name backups `.tar` although they
/// are gzip-compressed, and fleet tools match that name; GNU tar recognizes the compression by
/// its magic number when reading (`tar -tf`, `tar -xf` need no `-z`), so the name stays.
pub fn backup_name(host: &str, epoch_ms: u64, version: &str) -> String {
    let host: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    let host = if host.is_empty() || host.starts_with('.') { format!("sensor{host}") } else { host };
    let t = Utc::from_unix(i64::try_from(epoch_ms / 1000).unwrap_or(i64::MAX));
    format!(
        "{host}-{epoch_ms}{NAME_MARK}{version}-{:04}-{:02}-{:02}_{:02}:{:02}:{:02}.tar",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Takes a backup file name apart; `None` for any other file.
pub fn parse_backup_name(name: &str) -> Option<BackupFileName> {
    crate::validate::BackupName::parse(name).ok()?;
    let stem = name.strip_suffix(".tar")?;
    let (host_time, version_date) = stem.split_once(NAME_MARK)?;
    let (host, ms) = host_time.rsplit_once('-')?;
    if host.is_empty() || ms.is_empty() || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // "<version>-YYYY-MM-DD_HH:MM:SS"
    let date_len = "-2022-09-29_18:29:55".len();
    if version_date.len() <= date_len {
        return None;
    }
    let (version, date) = version_date.split_at(version_date.len() - date_len);
    let shape = date.bytes().zip("-dddd-dd-dd_dd:dd:dd".bytes()).all(|(b, want)| match want {
        b'd' => b.is_ascii_digit(),
        other => b == other,
    });
    if !shape {
        return None;
    }
    Some(BackupFileName { host: host.to_string(), epoch_ms: ms.parse().ok()?, version: version.to_string() })
}

/// A backup file in the backup directory.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupFile {
    /// File name.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Bytes.
    pub size: u64,
    /// What the name says.
    pub parsed: BackupFileName,
}

/// The backups in `dir`, newest first. A missing directory has none.
pub fn list_backups(dir: &Path) -> Result<Vec<BackupFile>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(Error::io("read directory", dir, err)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        let Some(parsed) = parse_backup_name(&name) else { continue };
        let path = entry.path();
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => meta,
            _ => continue,
        };
        found.push(BackupFile { name, path, size: meta.len(), parsed });
    }
    found.sort_by(|a, b| b.parsed.epoch_ms.cmp(&a.parsed.epoch_ms).then_with(|| b.name.cmp(&a.name)));
    Ok(found)
}

/// Opens (creating) and locks the backup lock; held until dropped. Another backup or restore
/// holding it is a temporary failure (exit 75).
pub fn lock(settings: &Settings) -> Result<File> {
    store::lock_exclusive(&settings.state_dir.join("backup.lock"), 0o700, "another backup or restore is running")
}

/// Lowers this thread's CPU and I/O priority for the rest of its life. Best-effort class, last
/// level rather than the idle class: on an appliance whose disk is never idle, an idle-class
/// backup would never finish. Failing to lower them is logged, not fatal.
pub fn lower_priority() {
    use crate::sys::priority;
    // I/O priority first: whoever sees nice 19 (ps, top, the footprint test) sees both.
    if let Err(err) = priority::set_io_priority(priority::IOPRIO_CLASS_BE, 7) {
        log::warn!("ioprio_set: {err}");
    }
    if let Err(err) = priority::set_nice(priority::NICE_LOWEST) {
        log::warn!("setpriority: {err}");
    }
}

/// The appliance's HMAC key, `None` when none was made yet.
pub fn load_key(ctx: &Context) -> Result<Option<ring::hmac::Key>> {
    let path = ctx.root.resolve(KEY_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io("read backup key", &path, err)),
    };
    if bytes.len() != 32 {
        return Err(Error::BadFile { path, why: format!("backup key has {} bytes, not 32", bytes.len()) });
    }
    Ok(Some(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes)))
}

/// The appliance's HMAC key, created (32 bytes from the kernel's CSPRNG, mode 0600) on first use.
/// Called with the backup lock held, so two backups cannot both create one.
pub fn load_or_create_key(ctx: &Context) -> Result<ring::hmac::Key> {
    if let Some(key) = load_key(ctx)? {
        return Ok(key);
    }
    let path = ctx.root.resolve(KEY_FILE);
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Sys { call: "getrandom", source: io::Error::other("no randomness") })?;
    if let Some(dir) = path.parent() {
        store::create_dir_all(dir, 0o700)?;
    }
    store::replace(&path, &bytes, store::Mode::Secret)?;
    log::info!("created the backup key {}", path.display());
    Ok(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes))
}

/// The last backup, as recorded.
#[derive(Clone, Debug, Default, PartialEq, DeJson, SerJson)]
pub struct BackupState {
    /// `SUCCESS` or `FAILED`.
    pub last_status: String,
    /// When it ended, ISO 8601 UTC.
    pub last_time: String,
    /// When it ended, ms since the epoch.
    pub last_epoch_ms: u64,
    /// The backup file's name (success) or the error (failure).
    pub detail: String,
}

/// The recorded state; `None` before the first backup.
pub fn read_state(ctx: &Context) -> Result<Option<BackupState>> {
    let path = ctx.root.resolve(STATE_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io("read", &path, err)),
    };
    crate::json::decode::<BackupState>(&text)
        .map(Some)
        .map_err(|e| Error::BadFile { path, why: format!("not a valid backup state file: {e}") })
}

/// Records the outcome of a backup (atomically, durably).
pub fn write_state(ctx: &Context, status: &str, detail: &str) -> Result<()> {
    let path = ctx.root.resolve(STATE_FILE);
    let ms = now_ms();
    let state = BackupState {
        last_status: status.to_string(),
        last_time: Utc::from_unix(i64::try_from(ms / 1000).unwrap_or(0)).iso8601(),
        last_epoch_ms: ms,
        detail: detail.to_string(),
    };
    if let Some(dir) = path.parent() {
        store::create_dir_all(dir, 0o700)?;
    }
    let mut text = state.serialize_json();
    text.push('\n');
    store::replace(&path, text.as_bytes(), store::Mode::Preserve)
}

/// Bytes in MiB with one decimal, rounded to the nearest tenth (`286.1 MiB`).
pub fn mib(bytes: u64) -> String {
    let tenths = (u128::from(bytes) * 10 + (1 << 19)) >> 20;
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

/// The realtime clock in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    let (secs, nanos) = crate::sys::clock::realtime();
    u64::try_from(secs).unwrap_or(0) * 1000 + u64::from(nanos / 1_000_000)
}

/// A size as `du -h` prints it: powers of 1024, rounded up, one decimal below 10.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut unit = 0;
    let mut scale: u64 = 1024;
    while unit + 1 < UNITS.len() && bytes / scale >= 1024 {
        scale *= 1024;
        unit += 1;
    }
    // Tenths of the unit, rounded up, in integers: no float rounding at the edges.
    let tenths = (u128::from(bytes) * 10).div_ceil(u128::from(scale));
    if tenths < 100 {
        return format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[unit]);
    }
    let whole = u128::from(bytes).div_ceil(u128::from(scale));
    if whole >= 1024 && unit + 1 < UNITS.len() {
        return format!("1.0{}", UNITS[unit + 1]);
    }
    format!("{whole}{}", UNITS[unit])
}

/// The board limit as the seed prints it (`20Gb`).
pub fn limit_text(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if bytes % GIB == 0 {
        format!("{}Gb", bytes / GIB)
    } else if bytes % MIB == 0 {
        format!("{}Mb", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Disk usage of a tree as du(1) counts it: allocated blocks of every entry, the top included.
fn disk_usage(path: &Path) -> io::Result<u64> {
    let meta = fs::symlink_metadata(path)?;
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            total += disk_usage(&entry?.path())?;
        }
    }
    Ok(total)
}

#[derive(SerJson)]
struct ListedBackup {
    name: String,
    path: String,
    size: u64,
    time: String,
    epoch_ms: u64,
    version: String,
    board: String,
    verified: String,
}

/// `system backup-list`: the seed's `backup files:` block, newest first; with `json`, each
/// backup's size, time, version, board and whether its HMAC verifies under this appliance's key.
pub fn list(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let settings = Settings::of(ctx)?;
    let backups = list_backups(&settings.dir)?;
    if !json {
        emit(out, "backup files:")?;
        for backup in &backups {
            emit(out, &format!("\t{}", backup.name))?;
        }
        return Ok(Status::Ok);
    }
    // Verifying reads every backup whole: do it as background work.
    lower_priority();
    let key = load_key(ctx)?;
    let mut listed = Vec::new();
    for backup in &backups {
        let (verified, head) = match File::open(&backup.path) {
            Err(err) => (format!("unreadable: {}", crate::error::strip_errno(&err)), None),
            Ok(file) => {
                let verified = match &key {
                    None => "unverifiable: this appliance has no backup key".to_string(),
                    Some(key) => match format::verify(&file, key) {
                        Ok(_) => "ok".to_string(),
                        Err(why) => format!("failed: {why}"),
                    },
                };
                (verified, restore::read_head(&file).ok())
            }
        };
        listed.push(ListedBackup {
            name: backup.name.clone(),
            path: backup.path.display().to_string(),
            size: backup.size,
            time: Utc::from_unix(i64::try_from(backup.parsed.epoch_ms / 1000).unwrap_or(0)).iso8601(),
            epoch_ms: backup.parsed.epoch_ms,
            version: head.as_ref().map_or_else(|| backup.parsed.version.clone(), |h| h.product_version.clone()),
            board: head.map(|h| h.board).unwrap_or_default(),
            verified,
        });
    }
    emit(out, &listed.serialize_json())?;
    Ok(Status::Ok)
}

#[derive(SerJson)]
struct SpaceReport {
    dir: String,
    used_bytes: u64,
    used: String,
    limit_bytes: u64,
    limit: String,
    free_bytes: u64,
    last_backup_time: Option<String>,
    last_backup_status: Option<String>,
}

/// `system backup space`: the seed's `2.1M<TAB><dir>` and `Backup limit is: 20Gb`, then the last
/// backup's time and status and the free space for backups (statvfs of the backup directory's
/// filesystem, or of its nearest existing parent before the first backup).
pub fn space(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let settings = Settings::of(ctx)?;
    let used = match disk_usage(&settings.dir) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
        Err(err) => return Err(Error::io("measure", &settings.dir, err)),
    };
    let mut probe = settings.dir.as_path();
    while !probe.exists() {
        probe = probe.parent().unwrap_or(Path::new("/"));
    }
    let free = crate::sys::fs::space(probe).map_err(|e| Error::io("statvfs", probe, e))?.available;
    let state = read_state(ctx)?;
    if json {
        let report = SpaceReport {
            dir: settings.dir.display().to_string(),
            used_bytes: used,
            used: human_size(used),
            limit_bytes: settings.limit,
            limit: limit_text(settings.limit),
            free_bytes: free,
            last_backup_time: state.as_ref().map(|s| s.last_time.clone()),
            last_backup_status: state.map(|s| s.last_status),
        };
        emit(out, &report.serialize_json())?;
        return Ok(Status::Ok);
    }
    emit(out, &format!("{}\t{}", human_size(used), settings.dir.display()))?;
    emit(out, &format!("Backup limit is: {}", limit_text(settings.limit)))?;
    match state {
        Some(state) => emit(out, &format!("Last backup: {} ({})", state.last_time, state.last_status))?,
        None => emit(out, "Last backup: never")?,
    }
    emit(out, &format!("Free space for backups: {}", human_size(free)))?;
    Ok(Status::Ok)
}

/// Bytes of a backup on one line of `system backup export`: 4096 base64 characters.
pub const EXPORT_LINE_BYTES: usize = 3072;

/// `system backup export NAME`: the backup file on standard output in base64 (RFC 4648, lines
/// of 4096 characters), so that it can travel as text through the daemon's lines and an SSH
/// session to a fleet tool; `base64 -d` gives the file back byte for byte. A backup holds the
/// appliance's keys and is root's alone (0600 in a 0700 directory), so this is how a caller
/// who is not root gets one, with the role checked and the export audited.
///
/// NAME is a backup's file name in the backup directory, never a path; the file is opened
/// without following a link or waiting on a FIFO, read at the backups' low priority, and a
/// cancel stops the export between lines.
pub fn export(ctx: &Context, name: &crate::validate::BackupName, out: &mut dyn Write) -> Result<Status> {
    use base64ct::Encoding;
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let settings = Settings::of(ctx)?;
    let path = settings.dir.join(name.as_str());
    let missing =
        || Error::Usage(format!("no backup named '{name}' in {} (see system backup-list)", settings.dir.display()));
    if parse_backup_name(name.as_str()).is_none() {
        return Err(missing());
    }
    let mut file = match fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound || err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(missing())
        }
        Err(err) => return Err(Error::io("open", &path, err)),
    };
    if !file.metadata().map_err(|e| Error::io("stat", &path, e))?.is_file() {
        return Err(missing());
    }
    lower_priority();
    let mut chunk = vec![0u8; EXPORT_LINE_BYTES];
    let mut encoded = vec![0u8; EXPORT_LINE_BYTES / 3 * 4];
    loop {
        ctx.cancel.check("the backup export")?;
        let mut filled = 0;
        while filled < chunk.len() {
            match file.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(Error::io("read", &path, err)),
            }
        }
        if filled == 0 {
            break;
        }
        let text = base64ct::Base64::encode(&chunk[..filled], &mut encoded)
            .map_err(|_| Error::Problem("base64: the line buffer is too small".to_string()))?;
        emit(out, text)?;
        if filled < chunk.len() {
            break;
        }
    }
    out.flush().map_err(|e| Error::io("write", "standard output", e))?;
    Ok(Status::Ok)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_seed_and_parse_back() {
        let name = backup_name("e2e-xsense", 1_664_469_968_212, "22.3.0.318-r-71e6295");
        // The seed's example name, but for its time part: 1664469968 is 16:46:08 UTC.
        assert_eq!(name, "e2e-xsense-1664469968212-backup-version-22.3.0.318-r-71e6295-2022-09-29_16:46:08.tar");
        let parsed = parse_backup_name(&name).unwrap();
        assert_eq!(parsed.host, "e2e-xsense");
        assert_eq!(parsed.epoch_ms, 1_664_469_968_212);
        assert_eq!(parsed.version, "22.3.0.318-r-71e6295");
        let seed = "e2e-xsense-1664469968212-backup-version-22.3.0.318-r-71e6295-2022-09-29_18:30:20.tar";
        assert_eq!(parse_backup_name(seed).unwrap().version, "22.3.0.318-r-71e6295");
        assert!(backup_name("we ird/host", 1, "0.1.0-x")
            .starts_with("we_ird_host-1-backup-version-0.1.0-x-1970-01-01_00:00:00"));
        for other in [
            ".e2e-1-backup-version-1-2022-09-29_18:30:20.tar.tmp-1-0",
            "e2e-1-backup-version-1-2022-09-29_18:30:20.tgz",
            "e2e-x-backup-version-1-2022-09-29_18:30:20.tar",
            "e2e-1-backup-version--2022-09-29_18:30:20.tar",
            "notes.tar",
            "e2e-1-backup-version-1-2022-09-29-18:30:20.tar",
        ] {
            assert_eq!(parse_backup_name(other), None, "{other}");
        }
    }

    #[test]
    fn human_sizes_follow_du() {
        // Values checked against `du -h --apparent-size` on files of these sizes (coreutils 9.1).
        for (bytes, text) in [
            (0, "0"),
            (1023, "1023"),
            (1024, "1.0K"),
            (1025, "1.1K"),
            (10 * 1024 - 1, "10K"),
            (10 * 1024, "10K"),
            (10 * 1024 + 1, "11K"),
            (2_200_000, "2.1M"),
            (1024 * 1024 - 1, "1.0M"),
            (1023 * 1024 + 1, "1.0M"),
            (21_474_836_480, "20G"),
        ] {
            assert_eq!(human_size(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn mebibytes_round_to_a_tenth() {
        assert_eq!(mib(0), "0.0 MiB");
        assert_eq!(mib(300_000_000), "286.1 MiB");
        assert_eq!(mib(1 << 20), "1.0 MiB");
        assert_eq!(mib((1 << 20) * 3 / 20 + 1), "0.2 MiB");
    }

    #[test]
    fn limits_print_as_the_seed_does() {
        assert_eq!(limit_text(21_474_836_480), "20Gb");
        assert_eq!(limit_text(512 << 20), "512Mb");
        assert_eq!(limit_text(1000), "1000 bytes");
    }
}
