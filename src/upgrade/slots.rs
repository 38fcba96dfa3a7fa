//! The two slots of an A/B upgrade and the atomic switch between them.
//!
//! - `ab-dir`: the active slot is the one the `current` link names. The switch creates a new
//!   link under a temporary name beside it and renames it over `current` (rename(2) replaces
//!   the name atomically), then fsyncs the directory: a kill at any instant leaves `current`
//!   naming the old slot or the new one.
//! - `ab-block`: the active slot is the one the boot-flag file names (`a` or `b`); the switch
//!   replaces the file through [`crate::store::replace`].
//!
//! Needs write access to the slots' directory or the boot-flag file.
#![forbid(unsafe_code)]

use crate::board::UpgradeMethod;
use crate::error::{Error, Result};
use crate::paths::RootDir;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One of the two slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The first slot (the factory image's).
    A,
    /// The second slot.
    B,
}

impl Slot {
    /// `a` or `b`.
    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }

    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    /// 0 or 1, for the board's slot lists.
    pub fn index(self) -> usize {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }

    /// Parses `a` or `b`.
    pub fn parse(text: &str) -> Option<Slot> {
        match text {
            "a" => Some(Slot::A),
            "b" => Some(Slot::B),
            _ => None,
        }
    }
}

/// Where a slot's data lives: its directory (ab-dir) or its device (ab-block), under the root.
pub fn location(root: &RootDir, method: &UpgradeMethod, slot: Slot) -> PathBuf {
    match method {
        UpgradeMethod::AbDir { slots, .. } => root.resolve(&slots[slot.index()]),
        UpgradeMethod::AbBlock { devices, .. } => root.resolve(&devices[slot.index()]),
    }
}

/// The slot that runs (or will run after the next boot).
pub fn active(root: &RootDir, method: &UpgradeMethod) -> Result<Slot> {
    match method {
        UpgradeMethod::AbDir { slots, current } => {
            let link = root.resolve(current);
            let target = match fs::read_link(&link) {
                Ok(target) => target,
                // A fresh image without the link runs slot a.
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Slot::A),
                Err(err) => return Err(Error::io("read the link", &link, err)),
            };
            [Slot::A, Slot::B]
                .into_iter()
                .find(|s| slots[s.index()].file_name() == Some(target.as_os_str()) || slots[s.index()] == target)
                .ok_or_else(|| Error::BadFile {
                    path: link.clone(),
                    why: format!("names {}, which is neither slot", target.display()),
                })
        }
        UpgradeMethod::AbBlock { boot_flag, .. } => {
            let path = root.resolve(boot_flag);
            match fs::read_to_string(&path) {
                Ok(text) => Slot::parse(text.trim())
                    .ok_or_else(|| Error::BadFile { path: path.clone(), why: "holds neither a nor b".into() }),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Slot::A),
                Err(err) => Err(Error::io("read", &path, err)),
            }
        }
    }
}

/// Makes `to` the active slot, atomically and durably.
pub fn switch(root: &RootDir, method: &UpgradeMethod, to: Slot) -> Result<()> {
    match method {
        UpgradeMethod::AbDir { slots, current } => {
            let link = root.resolve(current);
            let dir = link.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
            let name = slots[to.index()].file_name().map(PathBuf::from).unwrap_or_default();
            let temp = dir.join(format!(".current.tmp-{}", std::process::id()));
            let _ = fs::remove_file(&temp);
            std::os::unix::fs::symlink(&name, &temp).map_err(|e| Error::io("create the link", &temp, e))?;
            if let Err(err) = fs::rename(&temp, &link) {
                let _ = fs::remove_file(&temp);
                return Err(Error::io("rename into place", &link, err));
            }
            crate::store::sync_dir(&dir)
        }
        UpgradeMethod::AbBlock { boot_flag, .. } => {
            let path = root.resolve(boot_flag);
            if let Some(dir) = path.parent() {
                crate::store::create_dir_all(dir, 0o755)?;
            }
            crate::store::replace(&path, format!("{}\n", to.name()).as_bytes(), crate::store::Mode::Preserve)
        }
    }
}

/// Removes temporary links a killed switch left behind.
pub fn clean(root: &RootDir, method: &UpgradeMethod) {
    if let UpgradeMethod::AbDir { current, .. } = method {
        let link = root.resolve(current);
        let Some(dir) = link.parent() else { return };
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(".current.tmp-") {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn the_switch_renames_a_new_link_over_current() {
        let dir = TempDir::new("slots");
        let root = RootDir::new(dir.path());
        let method = UpgradeMethod::AbDir {
            slots: [PathBuf::from("/opt/s/slot-a"), PathBuf::from("/opt/s/slot-b")],
            current: PathBuf::from("/opt/s/current"),
        };
        fs::create_dir_all(dir.path().join("opt/s/slot-a")).unwrap();
        assert_eq!(active(&root, &method).unwrap(), Slot::A);
        switch(&root, &method, Slot::B).unwrap();
        assert_eq!(fs::read_link(dir.path().join("opt/s/current")).unwrap(), Path::new("slot-b"));
        assert_eq!(active(&root, &method).unwrap(), Slot::B);
        switch(&root, &method, Slot::A).unwrap();
        assert_eq!(active(&root, &method).unwrap(), Slot::A);
        let names: Vec<_> = fs::read_dir(dir.path().join("opt/s")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let block = UpgradeMethod::AbBlock {
            devices: [PathBuf::from("/d/a"), PathBuf::from("/d/b")],
            boot_flag: PathBuf::from("/boot/flag"),
        };
        assert_eq!(active(&root, &block).unwrap(), Slot::A);
        switch(&root, &block, Slot::B).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("boot/flag")).unwrap(), "b\n");
        assert_eq!(active(&root, &block).unwrap(), Slot::B);
    }
}
