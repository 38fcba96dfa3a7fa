//! The root prefix: every file sensorctl reads or writes (config, state, backups, keys, logs,
//! `/etc/passwd`, `/etc/shadow`) resolves under `--root DIR` (env `SENSORCTL_ROOT`), default
//! `/`. The kernel's own trees (`/proc`, `/sys`, `/dev`) stay real: they describe the running
//! machine, not the image being managed.
//!
//! Pure path arithmetic; needs no privileges.
#![forbid(unsafe_code)]

use std::path::{Component, Path, PathBuf};

/// Where the config lives, relative to the root.
pub const CONFIG_FILE: &str = "etc/sensorctl/config.json";
/// The passwd file, relative to the root.
pub const PASSWD_FILE: &str = "etc/passwd";
/// The NTP client's last sync (runtime state, rewritten by every sync), relative to the root.
pub const NTP_STATE_FILE: &str = "var/lib/sensorctl/ntp.json";
/// Board files that are not compiled in, relative to the root.
pub const BOARD_DIR: &str = "etc/sensorctl/boards";

/// The directory every sensorctl path is resolved under.
#[derive(Clone, Debug, PartialEq)]
pub struct RootDir(PathBuf);

impl RootDir {
    /// A root prefix at `dir` (`/` for the live system).
    pub fn new(dir: impl Into<PathBuf>) -> RootDir {
        RootDir(dir.into())
    }

    /// The prefix itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `path` (absolute or relative, as written in a board or config file) under the root.
    ///
    /// `..` components are dropped rather than followed, so a path from a data file can never
    /// climb out of the root; `/proc`, `/sys` and `/dev` are returned unchanged.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() && is_kernel_tree(path) {
            return path.to_path_buf();
        }
        let mut out = self.0.clone();
        for component in path.components() {
            if let Component::Normal(part) = component {
                out.push(part);
            }
        }
        out
    }
}

/// The root prefix of this process, registered once by [`trust_root`]: where writes start their
/// walk ([`write_base`]).
static WRITE_ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Registers `root` as the trusted directory every write under it starts from (the first call
/// wins; the CLI calls it once with `--root`). The root prefix itself may be reached through
/// symbolic links (the operator chose it); nothing below it may be, for writing.
pub fn trust_root(root: &RootDir) {
    let _ = WRITE_ROOT.set(root.path().to_path_buf());
}

/// Splits the directory `dir`, about to be written in, into the trusted base its walk starts
/// from and the part below it that must have no symbolic link: under the registered root, the
/// root and the rest; elsewhere (a path the caller named outside the root, or no root
/// registered, as in unit tests) its deepest existing ancestor and the part still to be made.
pub fn write_base(dir: &Path) -> (PathBuf, PathBuf) {
    if let Some(root) = WRITE_ROOT.get() {
        if let Ok(rel) = dir.strip_prefix(root) {
            return (root.clone(), rel.to_path_buf());
        }
    }
    let mut base = dir;
    while !base.is_dir() {
        match base.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => base = parent,
            _ => return (PathBuf::from("."), dir.to_path_buf()),
        }
    }
    let rel = dir.strip_prefix(base).map(Path::to_path_buf).unwrap_or_default();
    (base.to_path_buf(), rel)
}

fn is_kernel_tree(path: &Path) -> bool {
    ["/proc", "/sys", "/dev"].iter().any(|tree| path.starts_with(tree))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_under_the_root_and_never_above_it() {
        let root = RootDir::new("/tmp/r");
        assert_eq!(root.resolve("/etc/passwd"), Path::new("/tmp/r/etc/passwd"));
        assert_eq!(root.resolve("etc/passwd"), Path::new("/tmp/r/etc/passwd"));
        assert_eq!(root.resolve("../../etc/shadow"), Path::new("/tmp/r/etc/shadow"));
        assert_eq!(root.resolve("/var/../../x"), Path::new("/tmp/r/var/x"));
        assert_eq!(root.resolve("/proc/1/stat"), Path::new("/proc/1/stat"));
        assert_eq!(root.resolve("/sysfoo"), Path::new("/tmp/r/sysfoo"));
        assert_eq!(RootDir::new("/").resolve("etc/passwd"), Path::new("/etc/passwd"));
    }
}
