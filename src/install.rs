//! `install DIR`: one symlink to this binary per alias name, like `busybox --install -s`.
//!
//! Idempotent (a correct link is left alone, a link elsewhere is replaced atomically) and
//! all-or-nothing against conflicts: if any alias name is taken by something that is not a
//! symlink, nothing is created and the conflict is named.
//!
//! Needs write access to DIR; root only by policy (firmware build scripts).
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::error::{Error, Result};
use crate::outcome::emit;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Creates a symlink named after each of `names` in `dir`, pointing at the running executable.
pub fn run<'a>(dir: &Path, names: impl IntoIterator<Item = &'a str>, out: &mut dyn Write) -> Result<Status> {
    let target = std::env::current_exe().map_err(|e| Error::io("find own executable", "/proc/self/exe", e))?;
    if !dir.is_dir() {
        let why = if dir.exists() { "not a directory" } else { "no such directory" };
        return Err(Error::Usage(format!("{}: {why}", dir.display())));
    }
    let mut to_link: Vec<PathBuf> = Vec::new();
    let mut conflicts: Vec<String> = Vec::new();
    for name in names {
        let link = dir.join(name);
        match fs::symlink_metadata(&link) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => to_link.push(link),
            Err(err) => return Err(Error::io("stat", &link, err)),
            Ok(meta) if meta.file_type().is_symlink() => {
                if fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
                    to_link.push(link);
                }
            }
            Ok(_) => conflicts.push(link.display().to_string()),
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::Problem(format!(
            "refusing to replace what is not a symlink: {} (nothing was changed)",
            conflicts.join(", ")
        )));
    }
    for link in &to_link {
        let temp = dir.join(format!(
            ".{}.tmp-{}",
            link.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            std::process::id()
        ));
        let _ = fs::remove_file(&temp);
        std::os::unix::fs::symlink(&target, &temp).map_err(|e| Error::io("create symlink", &temp, e))?;
        if let Err(err) = fs::rename(&temp, link) {
            let _ = fs::remove_file(&temp);
            return Err(Error::io("rename into place", link, err));
        }
        emit(out, &format!("{} -> {}", link.display(), target.display()))?;
    }
    crate::store::sync_dir(dir)?;
    Ok(Status::Ok)
}
