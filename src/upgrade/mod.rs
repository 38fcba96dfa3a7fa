//! `system upgrade`: signed software upgrade into the inactive slot, atomic A/B switch, commit
//! after a healthy start, rollback otherwise.
//!
//! Apply ([`apply`]): the package is opened once, with the caller's own file permissions
//! when the daemon runs it for a caller ([`Context::open_as_caller`]), and read from that
//! descriptor only; the
//! signature over the manifest is verified before anything else is parsed ([`package::open`]);
//! product, board, version (no downgrade or same version unless `--allow-downgrade`, not older
//! than the package's `min_version`) and free space are checked; then the payload is staged
//! beside the inactive slot under the extraction rules of [`crate::archive::extract`], in
//! lockstep with the manifest (same entries, same order, sizes and modes as listed, SHA-256
//! checked while streaming), synced, renamed into the inactive slot, recorded in the state file
//! as pending, and the active slot is switched ([`slots::switch`]). Nothing touches the active
//! slot: a refusal or a kill at any instant leaves it active and complete.
//!
//! State (`<root>/var/lib/sensorctl/upgrade.json`): the version each slot holds (empty while a
//! slot is being rewritten), the committed slot, and the pending one. The running version
//! `system version` reports is the committed slot's version; with no state file, the binary's
//! own version.
//!
//! Commit / rollback ([`on_start`], `--commit`, `--rollback`): a pending upgrade is committed
//! when `system sanity` passes, else the committed slot becomes active again.
//!
//! Progress lines go to the terminal and, timestamped, to `<root>/var/log/sensorctl/upgrade.log`.
//!
//! Needs root (the daemon runs it for cyberx): writes the slots, the state and the log.
#![forbid(unsafe_code)]

pub mod package;
#[cfg(feature = "host-tools")]
pub mod sign;
pub mod slots;

use crate::outcome::Status;
use crate::archive::extract::{self, refuse, DirStack, Refusal};
use crate::archive::tar::Kind;
use crate::board::{UpgradeMethod, UpgradeSettings};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::store;
use crate::validate::AbsPath;
use nanoserde::{DeJson, SerJson};
use package::{Manifest, PayloadReader, Version};
use slots::Slot;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The upgrade state, relative to the root.
pub const STATE_FILE: &str = "var/lib/sensorctl/upgrade.json";
/// The upgrade lock, relative to the root.
pub const LOCK_FILE: &str = "var/lib/sensorctl/upgrade.lock";
/// The progress log, relative to the root.
pub const LOG_FILE: &str = "var/log/sensorctl/upgrade.log";
/// The payload file an `ab-block` package writes to the device.
pub const IMAGE_NAME: &str = "rootfs.img";

/// What the slots hold.
#[derive(Clone, Debug, PartialEq, Default, DeJson, SerJson)]
pub struct State {
    /// Format of this file (1).
    pub format: u32,
    /// Slot a's version; empty: empty or being rewritten.
    pub a: String,
    /// Slot b's version.
    pub b: String,
    /// The slot whose version is committed (`a` or `b`).
    pub committed: String,
    /// The slot switched to and awaiting commit, or empty.
    pub pending: String,
}

impl State {
    fn version(&self, slot: Slot) -> &str {
        match slot {
            Slot::A => &self.a,
            Slot::B => &self.b,
        }
    }

    fn set_version(&mut self, slot: Slot, version: &str) {
        match slot {
            Slot::A => self.a = version.to_string(),
            Slot::B => self.b = version.to_string(),
        }
    }

    fn committed(&self) -> Slot {
        Slot::parse(&self.committed).unwrap_or(Slot::A)
    }

    fn pending(&self) -> Option<Slot> {
        Slot::parse(&self.pending)
    }
}

fn read_state(ctx: &Context) -> Result<Option<State>> {
    let path = ctx.root.resolve(STATE_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => crate::json::decode::<State>(&text)
            .map(Some)
            .map_err(|e| Error::BadFile { path: path.clone(), why: format!("not a valid upgrade state: {e}") }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::io("read", &path, err)),
    }
}

/// The state, or the one a factory image implies: `active` holds this binary's version.
///
/// An apply killed after recording its upgrade as pending but before the switch left a
/// pending slot that is not the active one: that upgrade never ran, so it is not pending (the
/// slot keeps its complete, verified version for a later switch or a new apply).
fn state_or_initial(ctx: &Context, active: Slot) -> Result<State> {
    let mut state = read_state(ctx)?.unwrap_or_else(|| {
        let mut state = State { format: 1, committed: active.name().to_string(), ..State::default() };
        state.set_version(active, &crate::product::version());
        state
    });
    if state.pending().is_some_and(|p| p != active) {
        log::warn!("the switch to slot {} did not happen; slot {} stays active", state.pending, active.name());
        state.pending.clear();
    }
    Ok(state)
}

fn write_state(ctx: &Context, state: &State) -> Result<()> {
    let path = ctx.root.resolve(STATE_FILE);
    if let Some(dir) = path.parent() {
        store::create_dir_all(dir, 0o755)?;
    }
    store::replace(&path, state.serialize_json().as_bytes(), store::Mode::Preserve)
}

/// The version `system version` reports: the committed slot's, else this binary's.
pub fn running_version(ctx: &Context) -> String {
    match read_state(ctx) {
        Ok(Some(state)) if !state.version(state.committed()).is_empty() => state.version(state.committed()).to_string(),
        _ => crate::product::version(),
    }
}

/// A progress line: on the terminal, and timestamped in the upgrade log.
fn progress(ctx: &Context, out: &mut dyn Write, line: &str) -> Result<()> {
    let (now, _) = crate::sys::clock::realtime();
    let stamped = format!("{} {line}", crate::time::Utc::from_unix(now).iso8601());
    if let Err(err) = crate::audit::append(&ctx.root.resolve(LOG_FILE), &stamped) {
        log::warn!("upgrade log: {err}");
    }
    emit(out, line)?;
    out.flush().map_err(|e| Error::io("write", "standard output", e))
}

fn settings(ctx: &Context) -> Result<UpgradeSettings> {
    let board = ctx.board()?;
    board
        .upgrade
        .clone()
        .ok_or_else(|| Error::Unsupported(format!("board {} has no upgrade slots", board.name)))
}

fn lock(ctx: &Context) -> Result<File> {
    store::lock_exclusive(&ctx.root.resolve(LOCK_FILE), 0o755, "another upgrade, commit or rollback is running")
}

/// The staging directory beside an ab-dir slot.
fn staging(slot_dir: &Path) -> PathBuf {
    let name = slot_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    slot_dir.with_file_name(format!(".{name}.staging"))
}

/// Removes what a killed apply left: staging directories and temporary links.
fn clean(ctx: &Context, method: &UpgradeMethod) {
    if let UpgradeMethod::AbDir { .. } = method {
        for slot in [Slot::A, Slot::B] {
            let stage = staging(&slots::location(&ctx.root, method, slot));
            if fs::symlink_metadata(&stage).is_ok() {
                log::info!("removing {} left by an interrupted upgrade", stage.display());
                extract::remove_tree(&stage);
            }
        }
    }
    slots::clean(&ctx.root, method);
}

/// What `system upgrade` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Accept the same or an older version.
    pub allow_downgrade: bool,
    /// Reboot once the switch is done.
    pub reboot: bool,
}

/// Opens the caller's package for `system upgrade PACKAGE`, before anything is locked: with
/// the caller's own permissions (the daemon, root, must not open for a caller a file the caller
/// could not open), never through a symbolic link, and without waiting — a FIFO or a device
/// is refused before a byte is read, so no caller can hold the upgrade open by never writing.
pub fn open_package(ctx: &Context, package: &AbsPath) -> Result<File> {
    let path = package.as_path();
    let file = ctx
        .open_as_caller(|| {
            OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY).open(path)
        })
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Usage(format!("{package}: no such file")),
            // The caller named a file it may not read: its input is what is wrong.
            std::io::ErrorKind::PermissionDenied => Error::Usage(format!("{package}: permission denied")),
            _ => Error::io("open", path, e),
        })?;
    if !file.metadata().map_err(|e| Error::io("stat", path, e))?.is_file() {
        return Err(Error::Usage(format!("{package} is not a regular file")));
    }
    Ok(file)
}

/// `system upgrade PACKAGE`, once [`open_package`] has opened it.
pub fn apply(ctx: &Context, package: &AbsPath, file: File, options: Options, out: &mut dyn Write) -> Result<Status> {
    let settings = settings(ctx)?;
    let method = &settings.method;
    let _lock = lock(ctx)?;
    clean(ctx, method);
    let active = slots::active(&ctx.root, method)?;
    let mut state = state_or_initial(ctx, active)?;
    if let Some(pending) = state.pending() {
        return Err(Error::Problem(format!(
            "the upgrade to {} in slot {} is not committed yet; run system upgrade --commit or --rollback first",
            state.version(pending),
            pending.name()
        )));
    }
    let target = active.other();
    let name = package.to_string();
    let refused = |why: String| Error::Problem(format!("package {name} refused: {why}; nothing was changed"));
    let keys = package::trusted_keys(ctx, &settings.keys, out)?;
    progress(ctx, out, &format!("Verifying the signature of {name} ..."))?;
    let (manifest, mut tar) = package::open(&file, &keys).map_err(|r| match r {
        Refusal::Refused(why) => refused(why),
        Refusal::Failed(err) => err,
    })?;
    let running = state.version(active).to_string();
    progress(
        ctx,
        out,
        &format!("Signature verified: {} version {} (running {running}, slot {})", manifest.product, manifest.version, active.name()),
    )?;
    check(ctx, &manifest, &running, options).map_err(refused)?;
    let room = space(ctx, method, target, &manifest).map_err(|r| match r {
        Refusal::Refused(why) => refused(why),
        Refusal::Failed(err) => err,
    })?;
    progress(ctx, out, &format!("Extracting version {} into slot {} ...", manifest.version, target.name()))?;
    let staged = match method {
        UpgradeMethod::AbDir { .. } => stage_dir(ctx, method, target, &manifest, &mut tar, room, &mut state),
        UpgradeMethod::AbBlock { .. } => mark_empty(ctx, &mut state, target)
            .map_err(Refusal::Failed)
            .and_then(|()| stage_block(ctx, method, target, &manifest, &mut tar, out)),
    };
    if let Err(refusal) = staged {
        return Err(match refusal {
            Refusal::Refused(why) => refused(why),
            Refusal::Failed(err) => err,
        });
    }
    progress(ctx, out, &format!("Prepared slot {}: {} entries verified against the signed manifest", target.name(), manifest.files.len()))?;
    // The point of no return: a cancel (Ctrl-C, the daemon's caller left) is honoured up to
    // here; from here the switch completes, and a closed output stops nothing.
    ctx.cancel.check("the running version is unchanged")?;
    state.set_version(target, &manifest.version);
    state.pending = target.name().to_string();
    write_state(ctx, &state)?;
    let _ = progress(ctx, out, &format!("Switching the active slot from {} to {} ...", active.name(), target.name()));
    slots::switch(&ctx.root, method, target)?;
    let _ = progress(
        ctx,
        out,
        &format!("Upgrade to {} pending: it is committed at the next start if system sanity passes, else rolled back.", manifest.version),
    );
    crate::audit::record(ctx, "upgrade", &manifest.version, "pending");
    if options.reboot {
        return crate::power::run(ctx, crate::power::Power::Restart, out);
    }
    emit(out, "Reboot to run the new version (system reboot).")?;
    Ok(Status::Ok)
}

/// Board, version and space checks; the text says why a package does not fit.
fn check(ctx: &Context, manifest: &Manifest, running: &str, options: Options) -> std::result::Result<(), String> {
    let board = ctx.board().map_err(|e| e.to_string())?;
    if !manifest.boards.contains(&board.name) {
        return Err(format!("it is for board {}, this appliance is board {}", manifest.boards.join(", "), board.name));
    }
    let new = Version::parse(&manifest.version).ok_or("the package's version does not parse")?;
    if let Some(ours) = Version::parse(running) {
        if new <= ours && !options.allow_downgrade {
            return Err(format!(
                "version {} is not newer than the running {running} (use --allow-downgrade to install it anyway)",
                manifest.version
            ));
        }
        if Version::parse(&manifest.min_version).is_some_and(|min| ours < min) {
            return Err(format!("it upgrades from {} or later; this appliance runs {running}", manifest.min_version));
        }
    }
    Ok(())
}

/// Bytes a tree occupies on disk.
fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        if let Ok(entries) = fs::read_dir(path) {
            total += entries.flatten().map(|e| disk_usage(&e.path())).sum::<u64>();
        }
    }
    total
}

/// Whether the payload fits beside the inactive slot's old contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Room {
    /// It fits beside them: they are kept until the new payload is verified.
    Beside,
    /// It fits only in their place: they are removed first.
    Instead,
}

/// The inactive slot is about to be rewritten: from here until it is complete, the state says
/// it holds nothing.
fn mark_empty(ctx: &Context, state: &mut State, target: Slot) -> Result<()> {
    state.set_version(target, "");
    write_state(ctx, state)
}

/// Checks that the payload fits: in the slots' filesystem (statvfs, counting what the inactive
/// slot's old contents free) or on the inactive device.
fn space(ctx: &Context, method: &UpgradeMethod, target: Slot, manifest: &Manifest) -> std::result::Result<Room, Refusal> {
    let location = slots::location(&ctx.root, method, target);
    match method {
        UpgradeMethod::AbDir { .. } => {
            let parent = location.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
            store::create_dir_all(&parent, 0o755)?;
            // Every entry takes at least a block.
            let needed: u64 = manifest.files.iter().map(|f| f.size.div_ceil(4096) * 4096 + 4096).sum::<u64>() + 4096;
            let space = crate::sys::fs::space(&parent).map_err(|e| Error::io("statvfs", &parent, e))?;
            let reclaimable = disk_usage(&location);
            if needed <= space.available {
                Ok(Room::Beside)
            } else if needed <= space.available + reclaimable {
                Ok(Room::Instead)
            } else {
                Err(refuse(format!(
                    "not enough space in {}: the payload needs {needed} bytes, {} are free (and slot {}'s old contents would free {reclaimable})",
                    parent.display(),
                    space.available,
                    target.name()
                )))
            }
        }
        UpgradeMethod::AbBlock { .. } => {
            let [image] = manifest.files.as_slice() else {
                return Err(refuse(format!("an ab-block package holds exactly one file, {IMAGE_NAME}")));
            };
            if image.path != IMAGE_NAME || image.kind != "file" {
                return Err(refuse(format!("an ab-block package holds exactly one file, {IMAGE_NAME}")));
            }
            let mut device = File::open(&location).map_err(|e| Error::io("open", &location, e))?;
            let capacity = device.seek(io::SeekFrom::End(0)).map_err(|e| Error::io("seek", &location, e))?;
            if image.size > capacity {
                return Err(refuse(format!(
                    "not enough space: the image has {} bytes, {} holds {capacity}",
                    image.size,
                    location.display()
                )));
            }
            Ok(Room::Beside)
        }
    }
}

fn stage_dir(
    ctx: &Context,
    method: &UpgradeMethod,
    target: Slot,
    manifest: &Manifest,
    tar: &mut PayloadReader<'_>,
    room: Room,
    state: &mut State,
) -> std::result::Result<(), Refusal> {
    let slot_dir = slots::location(&ctx.root, method, target);
    let parent = slot_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    if room == Room::Instead {
        mark_empty(ctx, state, target)?;
        extract::remove_tree(&slot_dir);
    }
    let stage = staging(&slot_dir);
    extract::remove_tree(&stage);
    fs::DirBuilder::new().create(&stage).map_err(|e| Error::io("create directory", &stage, e))?;
    let result = extract_all(&stage, manifest, tar).and_then(|()| {
        let dir = File::open(&stage).map_err(|e| Error::io("open", &stage, e))?;
        crate::sys::fs::sync_filesystem(&dir).map_err(|e| Error::io("syncfs", &stage, e))?;
        fs::set_permissions(&stage, fs::Permissions::from_mode(0o755)).map_err(|e| Error::io("chmod", &stage, e))?;
        // Verified and durable: only now does the slot's old content go (when it was kept).
        if room == Room::Beside {
            mark_empty(ctx, state, target)?;
            extract::remove_tree(&slot_dir);
        }
        fs::rename(&stage, &slot_dir).map_err(|e| Error::io("rename into place", &slot_dir, e))?;
        store::sync_dir(&parent).map_err(Refusal::Failed)
    });
    if result.is_err() {
        extract::remove_tree(&stage);
    }
    result
}

/// Extracts the payload into `base` in lockstep with the manifest. (Public for the
/// `upgrade_package` fuzz target only.)
#[doc(hidden)]
pub fn extract_all(
    base: &Path,
    manifest: &Manifest,
    tar: &mut PayloadReader<'_>,
) -> std::result::Result<(), Refusal> {
    let mut stack: DirStack<u32> = DirStack::default();
    for listed in &manifest.files {
        let shown = crate::validate::printable(&listed.path);
        let entry = tar
            .next_entry()?
            .ok_or_else(|| refuse(format!("'{shown}' is in the manifest but not in the package")))?;
        if entry.path != listed.path {
            return Err(refuse(format!(
                "'{}' is in the package where the manifest lists '{shown}'",
                crate::validate::printable(&entry.path)
            )));
        }
        if entry.kind != Manifest::kind(listed) || entry.size != listed.size || entry.mode != listed.mode {
            return Err(refuse(format!("the tar header of '{shown}' and the manifest disagree")));
        }
        for dir in stack.close_outside(&entry.path) {
            set_mode(&dir.target, dir.data)?;
        }
        let target = stack.target(base, &entry.path)?;
        match entry.kind {
            Kind::Dir => {
                extract::create_dir(&target, &listed.path)?;
                stack.push(entry.path.clone(), target, entry.mode);
            }
            Kind::File => {
                let mut file = extract::create_file(&target, &listed.path, 0o600)?;
                let digest = extract::copy_hashed(tar, &mut file, &target, |_| Ok(()))?;
                if package_hex(digest.as_ref()) != listed.sha256 {
                    return Err(refuse(format!("SHA-256 mismatch for '{shown}'")));
                }
                file.set_permissions(fs::Permissions::from_mode(entry.mode)).map_err(|e| Error::io("chmod", &target, e))?;
            }
        }
    }
    for dir in stack.close_all() {
        set_mode(&dir.target, dir.data)?;
    }
    if let Some(extra) = tar.next_entry()? {
        return Err(refuse(format!("'{}' is in the package but not in its manifest", crate::validate::printable(&extra.path))));
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> std::result::Result<(), Refusal> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Refusal::Failed(Error::io("chmod", path, e)))
}

fn package_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn stage_block(
    ctx: &Context,
    method: &UpgradeMethod,
    target: Slot,
    manifest: &Manifest,
    tar: &mut PayloadReader<'_>,
    out: &mut dyn Write,
) -> std::result::Result<(), Refusal> {
    let [image] = manifest.files.as_slice() else {
        return Err(refuse(format!("an ab-block package holds exactly one file, {IMAGE_NAME}")));
    };
    if image.path != IMAGE_NAME || image.kind != "file" {
        return Err(refuse(format!("an ab-block package holds exactly one file, {IMAGE_NAME}")));
    }
    let device_path = slots::location(&ctx.root, method, target);
    // No O_CREAT, no O_TRUNC: the device (or the file standing in for it) must exist.
    let mut device = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&device_path)
        .map_err(|e| Error::io("open", &device_path, e))?;
    let capacity = device.seek(io::SeekFrom::End(0)).map_err(|e| Error::io("seek", &device_path, e))?;
    device.seek(io::SeekFrom::Start(0)).map_err(|e| Error::io("seek", &device_path, e))?;
    if image.size > capacity {
        return Err(refuse(format!("the image has {} bytes, {} holds {capacity}", image.size, device_path.display())));
    }
    let entry = tar.next_entry()?.ok_or_else(|| refuse(format!("'{IMAGE_NAME}' is in the manifest but not in the package")))?;
    if entry.path != image.path || entry.kind != Kind::File || entry.size != image.size {
        return Err(refuse("the tar header of the image and the manifest disagree"));
    }
    let mut written = 0u64;
    let mut last = crate::sys::clock::monotonic();
    let digest = extract::copy_hashed(tar, &mut device, &device_path, |n| {
        written += n as u64;
        let now = crate::sys::clock::monotonic();
        if now.saturating_sub(last) >= std::time::Duration::from_secs(2) {
            last = now;
            progress(ctx, out, &format!("  {written} of {} bytes written", image.size))?;
        }
        Ok(())
    })?;
    device.sync_all().map_err(|e| Error::io("fsync", &device_path, e))?;
    if package_hex(digest.as_ref()) != image.sha256 {
        return Err(refuse(format!("SHA-256 mismatch for '{IMAGE_NAME}' (slot {} stays marked empty)", target.name())));
    }
    if let Some(extra) = tar.next_entry()? {
        return Err(refuse(format!("'{}' is in the package but not in its manifest", crate::validate::printable(&extra.path))));
    }
    Ok(())
}

/// What a commit check came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// Nothing was pending.
    Nothing,
    /// Committed (healthy).
    Committed,
    /// Rolled back (unhealthy, or the switch never happened).
    RolledBack,
    /// Unhealthy, but not final: left pending for another check.
    Waiting,
}

/// `system upgrade --commit` and the start-up check: commits a pending upgrade when
/// `system sanity` passes; otherwise rolls back if `last`, else leaves it pending.
fn decide(ctx: &Context, out: &mut dyn Write, last: bool) -> Result<Decision> {
    let settings = settings(ctx)?;
    let method = &settings.method;
    let _lock = lock(ctx)?;
    clean(ctx, method);
    let Some(mut state) = read_state(ctx)? else { return Ok(Decision::Nothing) };
    let Some(pending) = state.pending() else { return Ok(Decision::Nothing) };
    let active = slots::active(&ctx.root, method)?;
    if active != pending {
        // See state_or_initial.
        progress(ctx, out, &format!("The switch to slot {} did not happen; staying on slot {}", pending.name(), active.name()))?;
        state.pending.clear();
        state.committed = active.name().to_string();
        write_state(ctx, &state)?;
        return Ok(Decision::RolledBack);
    }
    let mut report = Vec::new();
    let healthy = matches!(crate::health::sanity(ctx, false, &mut report), Ok(Status::Ok));
    if healthy {
        state.committed = pending.name().to_string();
        state.pending.clear();
        write_state(ctx, &state)?;
        progress(ctx, out, &format!("Committed version {} in slot {} (system sanity passed)", state.version(pending), pending.name()))?;
        crate::audit::record(ctx, "upgrade-commit", state.version(pending), "ok");
        return Ok(Decision::Committed);
    }
    if !last {
        return Ok(Decision::Waiting);
    }
    for line in String::from_utf8_lossy(&report).lines().filter(|l| !l.is_empty()) {
        progress(ctx, out, &format!("  {line}"))?;
    }
    let back = state.committed();
    slots::switch(&ctx.root, method, back)?;
    state.pending.clear();
    write_state(ctx, &state)?;
    progress(ctx, out, &format!("Rolled back to version {} in slot {}: system sanity failed", state.version(back), back.name()))?;
    crate::audit::record(ctx, "upgrade-commit", state.version(pending), "rolled back");
    Ok(Decision::RolledBack)
}

/// `system upgrade --commit`.
pub fn commit(ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    match decide(ctx, out, true)? {
        Decision::Committed => Ok(Status::Ok),
        Decision::RolledBack | Decision::Waiting => Ok(Status::Problem),
        Decision::Nothing => {
            emit(out, "No upgrade is pending.")?;
            Ok(Status::Ok)
        }
    }
}

/// `system upgrade --rollback`: back to the committed slot from a pending upgrade, or to the
/// other slot's (previous) version from a committed one.
pub fn rollback(ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    let settings = settings(ctx)?;
    let method = &settings.method;
    let _lock = lock(ctx)?;
    clean(ctx, method);
    let active = slots::active(&ctx.root, method)?;
    let mut state = state_or_initial(ctx, active)?;
    let back = match state.pending() {
        Some(_) => state.committed(),
        None => active.other(),
    };
    if state.version(back).is_empty() {
        return Err(Error::Problem(format!("slot {} holds no complete version to roll back to", back.name())));
    }
    progress(ctx, out, &format!("Rolling back from slot {} to slot {} ...", active.name(), back.name()))?;
    if back != active {
        slots::switch(&ctx.root, method, back)?;
    }
    state.pending.clear();
    state.committed = back.name().to_string();
    write_state(ctx, &state)?;
    progress(ctx, out, &format!("Rolled back to version {} in slot {}", state.version(back), back.name()))?;
    crate::audit::record(ctx, "upgrade-rollback", state.version(back), "ok");
    Ok(Status::Ok)
}

#[derive(SerJson)]
struct SlotReport {
    slot: String,
    version: String,
    active: bool,
}

#[derive(SerJson)]
struct StatusReport {
    method: String,
    state: String,
    running_version: String,
    slots: Vec<SlotReport>,
}

/// `system upgrade --status [--json]`.
pub fn status(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let settings = settings(ctx)?;
    let method = &settings.method;
    let active = slots::active(&ctx.root, method)?;
    let state = state_or_initial(ctx, active)?;
    let phase = if state.pending().is_some() { "pending" } else { "committed" };
    let report = StatusReport {
        method: match method {
            UpgradeMethod::AbDir { .. } => "ab-dir".into(),
            UpgradeMethod::AbBlock { .. } => "ab-block".into(),
        },
        state: phase.into(),
        running_version: running_version(ctx),
        slots: [Slot::A, Slot::B]
            .into_iter()
            .map(|s| SlotReport { slot: s.name().into(), version: state.version(s).into(), active: s == active })
            .collect(),
    };
    if json {
        emit(out, &report.serialize_json())?;
    } else {
        emit(out, &format!("Method: {}  State: {}  Running version: {}", report.method, report.state, report.running_version))?;
        for slot in &report.slots {
            let version = if slot.version.is_empty() { "(empty)" } else { &slot.version };
            emit(out, &format!("{} slot {}: {version}", if slot.active { "*" } else { " " }, slot.slot))?;
        }
    }
    Ok(Status::Ok)
}

/// The daemon's start-up step: commits a pending upgrade if `system sanity` passes, rolls it
/// back otherwise. Boards without upgrade slots, and appliances never upgraded, do nothing.
///
/// This runs before the daemon starts the services it supervises, so an unhealthy first check
/// is not final: a thread checks again every second for the board's `health_grace_s` and rolls
/// back only when the services are still not all running at its end.
pub fn on_start(ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let Some(settings) = ctx.board()?.upgrade.clone() else { return Ok(()) };
    if !ctx.root.resolve(STATE_FILE).exists() {
        return Ok(());
    }
    let grace = std::time::Duration::from_secs(settings.health_grace_s);
    if decide(ctx, out, grace.is_zero())? != Decision::Waiting {
        return Ok(());
    }
    progress(ctx, out, &format!("system sanity does not pass yet; checking again for {} s", grace.as_secs()))?;
    let ctx = ctx.refreshed();
    let deadline = crate::sys::clock::monotonic() + grace;
    std::thread::Builder::new()
        .name("upgrade-commit".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let last = crate::sys::clock::monotonic() >= deadline;
            match decide(&ctx, &mut io::sink(), last) {
                Ok(Decision::Waiting) => {}
                Ok(_) => break,
                Err(err) => {
                    log::error!("upgrade commit check: {err}");
                    if last {
                        break;
                    }
                }
            }
        })
        .map_err(|e| Error::io("start a thread for", "the upgrade commit check", e))?;
    Ok(())
}
