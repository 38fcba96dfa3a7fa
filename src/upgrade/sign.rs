//! The firmware builders' side of upgrade packages: `package keygen` (an Ed25519 key pair) and
//! `package build` (a signed package of a payload directory). Only in builds with the cargo
//! feature `host-tools` (`scripts/build --host-tools`): a firmware image verifies packages and
//! never signs one, and the signing side (ring's Ed25519 signing and its tables, the payload
//! walk, the tar writer's use here) is about 57 KB of the firmware binary otherwise.
//!
//! keygen and build write where they are told (the builder's own files, not under `--root`).
#![forbid(unsafe_code)]

use super::package::{Manifest, PayloadFile, FORMAT, KEY_DIR, MANIFEST_NAME, PRODUCT, SIG_NAME};
use crate::archive::tar::{self, Entry, Kind};
use crate::error::{Error, Result};
use crate::outcome::emit;
use nanoserde::SerJson;
use ring::digest;
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `package keygen -o PREFIX`: a new Ed25519 key pair, `PREFIX.key` (PKCS#8, 0600) and
/// `PREFIX.pub` (64 hex digits and a newline).
pub fn keygen(prefix: &str, out: &mut dyn Write) -> Result<crate::outcome::Status> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| Error::Problem("the kernel's random generator failed".to_string()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| Error::Problem("the new key does not parse".to_string()))?;
    let (key_path, pub_path) = (PathBuf::from(format!("{prefix}.key")), PathBuf::from(format!("{prefix}.pub")));
    for path in [&key_path, &pub_path] {
        if fs::symlink_metadata(path).is_ok() {
            return Err(Error::Usage(format!("{} exists; not overwriting a key", path.display())));
        }
    }
    crate::store::replace(&key_path, pkcs8.as_ref(), crate::store::Mode::Secret)?;
    crate::store::replace(
        &pub_path,
        format!("{}\n", hex(pair.public_key().as_ref())).as_bytes(),
        crate::store::Mode::Preserve,
    )?;
    emit(out, &format!("Wrote the private key {} (keep it off the appliance)", key_path.display()))?;
    emit(
        out,
        &format!(
            "Wrote the public key {} (install it as {KEY_DIR}/NAME.pub or in the board's upgrade.keys)",
            pub_path.display()
        ),
    )?;
    Ok(crate::outcome::Status::Ok)
}

/// The files under `dir`, directories before their contents, names sorted; anything but
/// regular files and directories is refused.
fn walk(dir: &Path, rel: &str, list: &mut Vec<(PathBuf, PayloadFile)>) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| Error::io("read", dir, e))?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let name = name.to_str().ok_or_else(|| Error::Usage(format!("{} is not a UTF-8 name", path.display())))?;
        let rel = if rel.is_empty() { name.to_string() } else { format!("{rel}/{name}") };
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::io("stat", &path, e))?;
        let mode = meta.mode() & 0o777;
        if meta.is_dir() {
            list.push((
                path.clone(),
                PayloadFile { path: rel.clone(), kind: "dir".into(), mode, size: 0, sha256: String::new() },
            ));
            walk(&path, &rel, list)?;
        } else if meta.file_type().is_file() {
            let mut file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            let mut hash = digest::Context::new(&digest::SHA256);
            let mut buf = vec![0u8; 64 * 1024];
            let mut size = 0u64;
            loop {
                let n = file.read(&mut buf).map_err(|e| Error::io("read", &path, e))?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                size += n as u64;
            }
            list.push((
                path,
                PayloadFile { path: rel, kind: "file".into(), mode, size, sha256: hex(hash.finish().as_ref()) },
            ));
        } else {
            return Err(Error::Usage(format!(
                "{} is neither a regular file nor a directory (packages hold only those)",
                path.display()
            )));
        }
    }
    Ok(())
}

fn member(out: &mut impl Write, entry: &Entry, data: &mut dyn Read) -> io::Result<()> {
    let header = tar::header(entry).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    out.write_all(&header)?;
    let copied = io::copy(&mut data.take(entry.size), out)?;
    if copied != entry.size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("'{}' changed while being packed", entry.path),
        ));
    }
    out.write_all(&vec![0u8; tar::padding(entry.size)])
}

/// What `package build` is asked for.
pub struct BuildRequest<'a> {
    /// The PKCS#8 private key file.
    pub key: &'a Path,
    /// The version the package installs.
    pub version: &'a str,
    /// The boards it is for.
    pub boards: &'a [String],
    /// The oldest version it may upgrade from.
    pub min_version: &'a str,
    /// The payload directory.
    pub dir: &'a Path,
    /// The package file to write.
    pub output: &'a Path,
}

/// `package build`: signs a manifest of the files under `dir` and writes the package.
pub fn build(req: &BuildRequest<'_>, out: &mut dyn Write) -> Result<crate::outcome::Status> {
    let pkcs8 = fs::read(req.key).map_err(|e| Error::io("read", req.key, e))?;
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| Error::Usage(format!("{} is not an Ed25519 private key (PKCS#8)", req.key.display())))?;
    let mut list = Vec::new();
    walk(req.dir, "", &mut list)?;
    let manifest = Manifest {
        format: FORMAT,
        product: PRODUCT.to_string(),
        version: req.version.to_string(),
        boards: req.boards.to_vec(),
        min_version: req.min_version.to_string(),
        files: list.iter().map(|(_, f)| f.clone()).collect(),
    };
    manifest.check().map_err(Error::Usage)?;
    let text = manifest.serialize_json();
    let sig = pair.sign(text.as_bytes());
    let parent = match req.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = parent.join(format!(
        ".{}.tmp-{}",
        req.output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temp)
            .map_err(|e| Error::io("create", &temp, e))?;
        let mut w = io::BufWriter::new(file);
        let write = |e: io::Error| Error::io("write", &temp, e);
        let plain = |path: &str, size: u64| Entry {
            path: path.into(),
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
        };
        member(&mut w, &plain(MANIFEST_NAME, text.len() as u64), &mut text.as_bytes()).map_err(write)?;
        member(&mut w, &plain(SIG_NAME, 64), &mut sig.as_ref()).map_err(write)?;
        for (path, f) in &list {
            let entry = Entry {
                path: f.path.clone(),
                kind: Manifest::kind(f),
                mode: f.mode,
                uid: 0,
                gid: 0,
                size: f.size,
                mtime: 0,
            };
            if f.kind == "dir" {
                member(&mut w, &entry, &mut io::empty()).map_err(write)?;
            } else {
                let mut data = File::open(path).map_err(|e| Error::io("open", path, e))?;
                member(&mut w, &entry, &mut data).map_err(write)?;
            }
        }
        w.write_all(&[0u8; 2 * tar::BLOCK]).map_err(write)?;
        let file = w.into_inner().map_err(|e| Error::io("write", &temp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("fsync", &temp, e))?;
        fs::set_permissions(&temp, fs::Permissions::from_mode(0o644)).map_err(|e| Error::io("chmod", &temp, e))?;
        fs::rename(&temp, req.output).map_err(|e| Error::io("rename into place", req.output, e))?;
        crate::store::sync_dir(&parent)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    emit(
        out,
        &format!(
            "Built {}: version {} for {}, {} entries, {} payload bytes, signed with key {}",
            req.output.display(),
            req.version,
            req.boards.join(", "),
            list.len(),
            manifest.payload_bytes(),
            &hex(pair.public_key().as_ref())[..16]
        ),
    )?;
    Ok(crate::outcome::Status::Ok)
}

/// Lower-case hex (the public key file, digests in the manifest).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
