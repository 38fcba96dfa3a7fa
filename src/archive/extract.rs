//! The extraction rules every extractor of an untrusted archive follows (restore of a backup,
//! staging of an upgrade package), in one place.
//!
//! The tar reader already refuses what a header alone can show (absolute paths, `..`, links,
//! devices, FIFOs, setuid/setgid, sizes that the data does not fill; see
//! [`crate::archive::tar`]). What needs the filesystem is here:
//! - every entry lands beneath an empty staging directory: its parent is the staging root or a
//!   directory created earlier from the same archive ([`DirStack`]: each directory before its
//!   contents, so no path can pass through anything the archive did not make itself);
//! - every name is created with `O_EXCL` and `O_NOFOLLOW` ([`create_dir`], [`create_file`]):
//!   a duplicate name fails instead of overwriting, and nothing is followed;
//! - a refused extraction removes its staging tree ([`remove_tree`]).
//!
//! Needs write access to the staging directory's parent.
#![forbid(unsafe_code)]

use crate::archive::tar::{TarError, TarReader};
use crate::error::Error;
use std::fs::{self, File};
use std::io::{self, BufRead, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why an extraction stopped.
#[derive(Debug)]
pub enum Refusal {
    /// The archive breaks a rule; the text says which and where.
    Refused(String),
    /// The system failed us (disk full, permissions).
    Failed(Error),
}

impl From<TarError> for Refusal {
    fn from(err: TarError) -> Self {
        Refusal::Refused(err.to_string())
    }
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Self {
        Refusal::Failed(err)
    }
}

/// A [`Refusal::Refused`].
pub fn refuse(why: impl Into<String>) -> Refusal {
    Refusal::Refused(why.into())
}

/// Streams the data of `tar`'s current member into `out` (called `target` in errors), hashing
/// it with SHA-256 as it goes; `each` hears the length of every piece (progress, counts).
/// Returns the digest for the caller to compare with the one it trusts.
pub fn copy_hashed<R: BufRead, W: Write>(
    tar: &mut TarReader<R>,
    out: &mut W,
    target: &Path,
    mut each: impl FnMut(usize) -> Result<(), Refusal>,
) -> Result<ring::digest::Digest, Refusal> {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    loop {
        let piece = tar.fill_data()?;
        if piece.is_empty() {
            return Ok(hash.finish());
        }
        hash.update(piece);
        out.write_all(piece).map_err(|e| Error::io("write", target, e))?;
        let n = piece.len();
        tar.consume_data(n);
        each(n)?;
    }
}

/// Whether archive path `path` is `root` or lies beneath it.
pub fn inside(root: &str, path: &str) -> bool {
    path == root || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

/// A directory created from the archive, still open for entries beneath it.
pub struct OpenDir<T> {
    /// Its archive path.
    pub rel: String,
    /// Where it was created.
    pub target: PathBuf,
    /// What the extractor keeps with it (metadata to apply once its contents are in).
    pub data: T,
}

/// The directories of the archive that entries may still go into, innermost last.
pub struct DirStack<T> {
    open: Vec<OpenDir<T>>,
}

impl<T> Default for DirStack<T> {
    fn default() -> Self {
        DirStack { open: Vec::new() }
    }
}

impl<T> DirStack<T> {
    /// Closes every open directory that `path` does not lie beneath and returns them, innermost
    /// first (so the extractor can finish them: their contents are complete).
    pub fn close_outside(&mut self, path: &str) -> Vec<OpenDir<T>> {
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        let mut closed = Vec::new();
        while let Some(dir) = self.open.last() {
            if !parent.is_empty() && inside(&dir.rel, parent) {
                break;
            }
            if let Some(dir) = self.open.pop() {
                closed.push(dir);
            }
        }
        closed
    }

    /// Where `path` goes: beneath `base` when it has no parent component, else beneath the
    /// innermost open directory, which must be its parent (call [`Self::close_outside`] first).
    pub fn target(&self, base: &Path, path: &str) -> Result<PathBuf, Refusal> {
        match path.rsplit_once('/') {
            None => Ok(base.join(path)),
            Some((parent, name)) => match self.open.last() {
                Some(dir) if dir.rel == parent => Ok(dir.target.join(name)),
                _ => Err(refuse(format!("'{}' comes before its directory", crate::validate::printable(path)))),
            },
        }
    }

    /// Opens a directory just created.
    pub fn push(&mut self, rel: String, target: PathBuf, data: T) {
        self.open.push(OpenDir { rel, target, data });
    }

    /// Closes every directory, innermost first.
    pub fn close_all(&mut self) -> Vec<OpenDir<T>> {
        let mut closed = Vec::new();
        while let Some(dir) = self.open.pop() {
            closed.push(dir);
        }
        closed
    }
}

/// An error creating `target` (archive path `rel`): an existing name is a duplicate in the
/// archive.
fn created(err: io::Error, rel: &str, target: &Path) -> Refusal {
    if err.kind() == io::ErrorKind::AlreadyExists {
        refuse(format!("duplicate name '{}'", crate::validate::printable(rel)))
    } else {
        Refusal::Failed(Error::io("create", target, err))
    }
}

/// Creates the directory `target` (0700 until the extractor sets its mode); an existing name
/// is a duplicate. `rel` is the archive path, for messages.
pub fn create_dir(target: &Path, rel: &str) -> Result<(), Refusal> {
    fs::DirBuilder::new().mode(0o700).create(target).map_err(|err| created(err, rel, target))
}

/// Creates the regular file `target` (`mode` less the umask, `O_EXCL | O_NOFOLLOW`) for
/// writing. Only an extractor whose staging directory keeps everyone else out may create a
/// file with more than 0600 before its content is checked.
pub fn create_file(target: &Path, rel: &str, mode: u32) -> Result<File, Refusal> {
    crate::sys::fs::create_new(target, mode).map_err(|err| created(err, rel, target))
}

/// Removes a staging tree (or file), whatever modes the archive gave its directories; a
/// failure is logged.
pub fn remove_tree(path: &Path) {
    let result = match fs::symlink_metadata(path) {
        // Root may empty a read-only directory; anyone else first gives the tree back its write
        // bits (a second walk, so only when the first attempt was refused).
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path)
            .or_else(|_| make_writable(path).and_then(|()| fs::remove_dir_all(path))),
        Ok(_) => fs::remove_file(path),
        Err(_) => return,
    };
    if let Err(err) = result {
        log::warn!("could not remove {}: {err}", path.display());
    }
}

/// Extracted directories may be read-only (mode 0500); as non-root their entries could not be
/// removed. Gives every directory of the tree back its owner's write and search bits.
fn make_writable(dir: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    fs::set_permissions(dir, fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o700))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn inside_means_equal_or_below_a_path_boundary() {
        assert!(inside("var/log", "var/log"));
        assert!(inside("var/log", "var/log/x"));
        assert!(!inside("var/log", "var/logs"));
        assert!(!inside("var/log", "var"));
    }

    #[test]
    fn entries_go_beneath_directories_made_earlier_and_names_are_created_once() {
        let dir = TempDir::new("extract");
        let base = dir.path();
        let mut stack: DirStack<()> = DirStack::default();
        assert!(stack.close_outside("a").is_empty());
        let a = stack.target(base, "a").unwrap();
        create_dir(&a, "a").unwrap();
        stack.push("a".into(), a.clone(), ());
        assert!(stack.close_outside("a/f").is_empty());
        let f = stack.target(base, "a/f").unwrap();
        assert_eq!(f, base.join("a/f"));
        create_file(&f, "a/f", 0o600).unwrap();
        assert!(matches!(create_file(&f, "a/f", 0o600), Err(Refusal::Refused(why)) if why == "duplicate name 'a/f'"));
        assert!(matches!(create_dir(&a, "a"), Err(Refusal::Refused(why)) if why == "duplicate name 'a'"));
        // A path whose directory the archive never made (or made and closed) is refused.
        let closed = stack.close_outside("b/x");
        assert_eq!(closed.len(), 1);
        assert!(matches!(stack.target(base, "b/x"), Err(Refusal::Refused(why)) if why.contains("before its directory")));
        assert!(matches!(stack.target(base, "a/g"), Err(Refusal::Refused(_))));
        // A symbolic link planted in staging is not followed.
        std::os::unix::fs::symlink("/etc/passwd", base.join("l")).unwrap();
        assert!(create_file(&base.join("l"), "l", 0o600).is_err());
        remove_tree(&a);
        assert!(!a.exists());
    }
}
