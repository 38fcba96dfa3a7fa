//! The property files: one line per component rewritten, every other byte kept; all
//! components changed together or none.
//!
//! The transaction: (1) every new file is written and fsynced under a temporary name (a
//! failure removes them: nothing changed); (2) each existing file gets a hard link to its old
//! version; (3) a journal naming the temporaries, targets and old versions is written
//! atomically: this is the commit point; (4) the temporaries are renamed over the targets;
//! (5) the old versions and the journal are removed. A rename that fails in (4) rolls back:
//! the journal is rewritten as a rollback, the old versions are renamed back, new files
//! removed. A kill at any instant leaves the journal for [`recover`] (run by [`apply`] first,
//! and by the daemon at start): it finishes a committed change or a rollback, so every
//! component ends old or every one new.

use super::{CaptureFilterError, Component, PROPERTIES_DIR};
use crate::error::Error;
use crate::paths::RootDir;
use crate::store::{self, Mode, Staged};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The journal of an apply in progress, relative to the properties directory.
const JOURNAL: &str = ".capture-filter.journal";

/// The file operations of an apply, replaceable so tests can make the n-th one fail.
pub trait FileOps {
    /// Writes `contents` under a temporary name beside `path` (see [`store::stage`]).
    fn stage(&mut self, path: &Path, contents: &[u8]) -> crate::error::Result<Staged>;
    /// rename(2).
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()>;
}

/// The real file operations.
pub struct StoreOps;

impl FileOps for StoreOps {
    fn stage(&mut self, path: &Path, contents: &[u8]) -> crate::error::Result<Staged> {
        store::stage(path, contents, Mode::Preserve)
    }
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
}

fn system(op: &'static str, path: &Path, err: io::Error) -> CaptureFilterError {
    CaptureFilterError::System(Error::io(op, path, err))
}

/// One component's filter as its property file holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The component.
    pub component: Component,
    /// The property file.
    pub path: PathBuf,
    /// The filter; `None` when the file or the property is missing (the component then
    /// captures everything).
    pub expression: Option<String>,
}

/// The filter each component has now (`--show`).
pub fn current(root: &RootDir) -> Result<Vec<Stored>, CaptureFilterError> {
    let dir = root.resolve(PROPERTIES_DIR);
    Component::ALL
        .into_iter()
        .map(|component| {
            let path = dir.join(component.file());
            let expression = match fs::read(&path) {
                Ok(text) => property(&text, component.key()),
                Err(err) if err.kind() == io::ErrorKind::NotFound => None,
                Err(err) => return Err(system("read", &path, err)),
            };
            Ok(Stored { component, path, expression })
        })
        .collect()
}

/// Sets each `(component, expression)` in its property file, all or none (see the module doc).
pub fn apply(root: &RootDir, filters: &[(Component, String)]) -> Result<(), CaptureFilterError> {
    apply_with(root, filters, &mut StoreOps)
}

/// Restores the defaults: every component's filter empty (capture everything).
pub fn reset(root: &RootDir) -> Result<(), CaptureFilterError> {
    let all: Vec<(Component, String)> = Component::ALL.iter().map(|c| (*c, String::new())).collect();
    apply(root, &all)
}

struct Change {
    target: PathBuf,
    temp: PathBuf,
    /// The hard link to the old version; `None` when the file is new.
    old: Option<PathBuf>,
}

/// [`apply`] with the file operations given.
pub fn apply_with(root: &RootDir, filters: &[(Component, String)], ops: &mut dyn FileOps) -> Result<(), CaptureFilterError> {
    recover(root)?;
    let dir = root.resolve(PROPERTIES_DIR);
    remove_stale_old_versions(&dir);
    let mut staged: Vec<Staged> = Vec::new();
    for (component, expression) in filters {
        let path = dir.join(component.file());
        let old = match fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(err) => return Err(system("read", &path, err)),
        };
        let new = with_property(&old, component.key(), expression);
        if new == old && path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            store::create_dir_all(parent, 0o755).map_err(CaptureFilterError::System)?;
        }
        // A failure here drops what was staged: the temporary files go, nothing changed.
        staged.push(ops.stage(&path, &new).map_err(CaptureFilterError::System)?);
    }
    if staged.is_empty() {
        return Ok(());
    }
    let mut changes = Vec::new();
    for stage in &staged {
        let target = stage.target().to_path_buf();
        let old = if target.exists() {
            let link = sibling(&target, &format!(".old-{}", std::process::id()));
            let _ = fs::remove_file(&link);
            fs::hard_link(&target, &link).map_err(|e| system("link the old version of", &target, e))?;
            Some(link)
        } else {
            None
        };
        changes.push(Change { target, temp: stage.temp().to_path_buf(), old });
    }
    let journal = dir.join(JOURNAL);
    if let Err(err) = store::replace(&journal, journal_text("commit", &dir, &changes).as_bytes(), Mode::Secret) {
        remove_old_versions(&changes);
        return Err(CaptureFilterError::System(err));
    }
    // Committed: the journal now names the temporary files, which must outlive this process.
    staged.into_iter().for_each(|s| drop(s.keep()));
    for (done, change) in changes.iter().enumerate() {
        if let Err(err) = ops.rename(&change.temp, &change.target) {
            let failed = system("rename into place", &change.target, err);
            log::warn!("capture filter: {failed}; putting every component's old filter back");
            let rollback = store::replace(&journal, journal_text("rollback", &dir, &changes).as_bytes(), Mode::Secret)
                .map_err(CaptureFilterError::System)
                .and_then(|()| roll_back(&dir, &changes, &journal));
            return match rollback {
                Ok(()) => Err(failed),
                Err(also) => Err(CaptureFilterError::System(Error::Problem(format!(
                    "{failed}; and the rollback after {done} renamed files failed: {also} (the journal {} finishes it)",
                    journal.display()
                )))),
            };
        }
    }
    finish(&dir, &changes, &journal)
}

/// Makes the renames durable, then drops the old versions and the journal.
fn finish(dir: &Path, changes: &[Change], journal: &Path) -> Result<(), CaptureFilterError> {
    for change in changes {
        if let Some(parent) = change.target.parent() {
            store::sync_dir(parent).map_err(CaptureFilterError::System)?;
        }
    }
    remove_old_versions(changes);
    fs::remove_file(journal).map_err(|e| system("remove", journal, e))?;
    store::sync_dir(dir).map_err(CaptureFilterError::System)
}

fn roll_back(dir: &Path, changes: &[Change], journal: &Path) -> Result<(), CaptureFilterError> {
    for change in changes {
        match &change.old {
            // rename(2) of a link onto the same inode does nothing; the link is removed below.
            Some(old) if old.exists() => {
                fs::rename(old, &change.target).map_err(|e| system("put back", &change.target, e))?
            }
            Some(_) => {}
            None => match fs::remove_file(&change.target) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(system("remove", &change.target, err)),
                _ => {}
            },
        }
        let _ = fs::remove_file(&change.temp);
    }
    finish(dir, changes, journal)
}

fn remove_old_versions(changes: &[Change]) {
    for old in changes.iter().filter_map(|c| c.old.as_ref()) {
        let _ = fs::remove_file(old);
    }
}

/// Removes the old-version links (`.NAME.old-PID`) of an apply killed after linking them and
/// before its journal committed (once it has, [`recover`] removes them): without the journal
/// nothing refers to them, and each such kill would leave one more. Links of an apply still
/// running are kept. Best effort: one that cannot be removed waits for the next apply.
fn remove_stale_old_versions(dir: &Path) {
    for component in Component::ALL {
        let target = dir.join(component.file());
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else { continue };
        let prefix = format!(".{}.old-", name.to_string_lossy());
        let Ok(entries) = fs::read_dir(parent) else { continue };
        for entry in entries.flatten() {
            let pid = entry.file_name().to_str().and_then(|n| n.strip_prefix(prefix.as_str())?.parse::<u32>().ok());
            if pid.is_some_and(store::writer_is_gone) {
                log::info!("removing {}: left by an apply that was killed", entry.path().display());
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}{suffix}"))
}

/// `STATE` on the first line, then `temp<TAB>target<TAB>old-or-dash` per file, relative to
/// the properties directory (a recovery may run with the image mounted elsewhere).
fn journal_text(state: &str, dir: &Path, changes: &[Change]) -> String {
    let relative = |p: &Path| p.strip_prefix(dir).unwrap_or(p).to_string_lossy().into_owned();
    let mut text = format!("{state}\n");
    for change in changes {
        let old = change.old.as_deref().map_or_else(|| "-".to_string(), relative);
        text.push_str(&format!("{}\t{}\t{old}\n", relative(&change.temp), relative(&change.target)));
    }
    text
}

/// Finishes an apply that a crash interrupted: a committed one forward, a rollback back.
/// Nothing to do without a journal.
pub fn recover(root: &RootDir) -> Result<(), CaptureFilterError> {
    let dir = root.resolve(PROPERTIES_DIR);
    let journal = dir.join(JOURNAL);
    let text = match fs::read_to_string(&journal) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(system("read", &journal, err)),
    };
    let mut lines = text.lines();
    let state = lines.next().unwrap_or_default();
    let mut changes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let [temp, target, old] = fields.as_slice() else {
            return Err(CaptureFilterError::System(Error::BadFile { path: journal, why: format!("bad line '{line}'") }));
        };
        // Journal paths never leave the directory: `..` is dropped as RootDir drops it.
        let inside = |p: &str| RootDir::new(&dir).resolve(p);
        changes.push(Change {
            temp: inside(temp),
            target: inside(target),
            old: (*old != "-").then(|| inside(old)),
        });
    }
    match state {
        "commit" => {
            log::info!("capture filter: finishing an apply that was interrupted");
            for change in &changes {
                if change.temp.exists() {
                    fs::rename(&change.temp, &change.target).map_err(|e| system("rename into place", &change.target, e))?;
                }
            }
            finish(&dir, &changes, &journal)
        }
        "rollback" => {
            log::info!("capture filter: finishing the rollback of an apply that was interrupted");
            roll_back(&dir, &changes, &journal)
        }
        other => Err(CaptureFilterError::System(Error::BadFile { path: journal, why: format!("unknown state '{other}'") })),
    }
}

/// The logical lines of a properties file: (start, end including the terminator, text without
/// the terminator). A line ending in an odd number of backslashes continues on the next.
fn logical_lines(text: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = start;
        loop {
            let line_end = text[end..].iter().position(|&b| b == b'\n').map_or(text.len(), |p| end + p);
            let content = &text[end..line_end];
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            let backslashes = content.iter().rev().take_while(|&&b| b == b'\\').count();
            end = (line_end + 1).min(text.len());
            if backslashes % 2 == 0 || line_end >= text.len() {
                break;
            }
        }
        lines.push((start, end));
        start = end;
    }
    lines
}

/// The key of a logical line and where its value starts, unless it is blank or a comment.
fn key_of(line: &[u8]) -> Option<(&[u8], usize)> {
    let start = line.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\x0c'))?;
    if matches!(line[start], b'#' | b'!' | b'\r' | b'\n') {
        return None;
    }
    let mut end = start;
    while end < line.len() && !matches!(line[end], b'=' | b':' | b' ' | b'\t' | b'\x0c' | b'\r' | b'\n') {
        end += if line[end] == b'\\' { 2 } else { 1 };
    }
    let end = end.min(line.len());
    let mut value = end;
    while value < line.len() && matches!(line[value], b' ' | b'\t' | b'\x0c') {
        value += 1;
    }
    if value < line.len() && matches!(line[value], b'=' | b':') {
        value += 1;
    }
    while value < line.len() && matches!(line[value], b' ' | b'\t' | b'\x0c') {
        value += 1;
    }
    Some((&line[start..end], value))
}

/// The value of `key` (its last occurrence, as Java reads properties), continuation lines
/// joined and escapes resolved.
pub(super) fn property(text: &[u8], key: &str) -> Option<String> {
    let (start, end) = logical_lines(text)
        .into_iter()
        .rev()
        .find(|&(s, e)| key_of(&text[s..e]).is_some_and(|(k, _)| k == key.as_bytes()))?;
    let line = &text[start..end];
    let (_, at) = key_of(line)?;
    let mut value = Vec::new();
    let mut bytes = line[at..].iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(b'\r') | Some(b'\n') => {
                    bytes.next_if_eq(&b'\n');
                    while bytes.next_if(|b| matches!(b, b' ' | b'\t' | b'\x0c')).is_some() {}
                }
                Some(b't') => value.push(b'\t'),
                Some(b'n') => value.push(b'\n'),
                Some(b'r') => value.push(b'\r'),
                Some(other) => value.push(other),
                None => {}
            },
            b'\r' | b'\n' => break,
            other => value.push(other),
        }
    }
    Some(String::from_utf8_lossy(&value).into_owned())
}

/// `text` with `key`'s value set to `value`: its last logical line replaced (keeping the line
/// terminator it had), or `key=value` appended; every other byte unchanged.
pub(super) fn with_property(text: &[u8], key: &str, value: &str) -> Vec<u8> {
    let line = format!("{key}={value}");
    let found = logical_lines(text)
        .into_iter()
        .rev()
        .find(|&(s, e)| key_of(&text[s..e]).is_some_and(|(k, _)| k == key.as_bytes()));
    let mut out = Vec::with_capacity(text.len() + line.len() + 1);
    match found {
        Some((start, end)) => {
            let old = &text[start..end];
            let terminator: &[u8] = if old.ends_with(b"\r\n") {
                b"\r\n"
            } else if old.ends_with(b"\n") {
                b"\n"
            } else {
                b""
            };
            out.extend_from_slice(&text[..start]);
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(terminator);
            out.extend_from_slice(&text[end..]);
        }
        None => {
            out.extend_from_slice(text);
            if !text.is_empty() && !text.ends_with(b"\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out
}
