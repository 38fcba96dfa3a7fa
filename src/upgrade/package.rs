//! The upgrade package: a POSIX tar of `manifest.json`, `manifest.sig` (an Ed25519 signature
//! over the manifest's exact bytes) and the payload, in the manifest's order.
//!
//! Reading ([`open`]) verifies the signature against the trusted keys before the manifest is
//! parsed and before any payload header is read; building ([`build`]) and [`keygen`] are the
//! firmware builders' tools. Trusted keys come from the board and from `*.pub` files in
//! `<root>/etc/sensorctl/upgrade-keys/` that are root-owned and not group/world-writable
//! ([`trusted_keys`]); never from an argument.
//!
//! Reading needs read access to the package; keygen and build write where they are told.
#![forbid(unsafe_code)]

use crate::archive::extract::{refuse, Refusal};
use crate::archive::tar::{self, Entry, Kind, TarReader};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use nanoserde::{DeJson, SerJson};
use ring::digest;
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The package format this build reads and writes.
pub const FORMAT: u32 = 1;
/// The product every package must be for.
pub const PRODUCT: &str = "sensorctl";
/// The first member.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The second member: 64 bytes of Ed25519 signature.
pub const SIG_NAME: &str = "manifest.sig";
/// Largest manifest accepted.
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Key files trusted besides the board's keys, relative to the root.
pub const KEY_DIR: &str = "etc/sensorctl/upgrade-keys";

/// What a package holds and is for.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// [`PRODUCT`].
    pub product: String,
    /// The version it installs.
    pub version: String,
    /// The boards it may be installed on.
    pub boards: Vec<String>,
    /// The oldest version it may upgrade from.
    pub min_version: String,
    /// The payload, in archive order: each directory before its contents.
    pub files: Vec<PayloadFile>,
}

/// One payload entry.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct PayloadFile {
    /// Relative path.
    pub path: String,
    /// `file` or `dir`.
    pub kind: String,
    /// Permission bits (0o777 at most).
    pub mode: u32,
    /// Bytes (0 for a directory).
    pub size: u64,
    /// SHA-256 of the data, lower-case hex (empty for a directory).
    pub sha256: String,
}

/// A version: dot-separated numbers, optionally followed by `-` and anything (`22.3.0-r-7a1`);
/// only the numbers order versions.
#[derive(Clone, Debug)]
pub struct Version(Vec<u64>);

/// Equal as numbers: `1.2` is `1.2.0`.
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl Version {
    /// Parses `text`; `None` when it does not start with 1-6 dot-separated numbers.
    pub fn parse(text: &str) -> Option<Version> {
        let numbers = text.split_once('-').map_or(text, |(numbers, _)| numbers);
        let parts: Option<Vec<u64>> = numbers.split('.').map(|p| p.parse().ok()).collect();
        let parts = parts?;
        (1..=6).contains(&parts.len()).then_some(Version(parts))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let len = self.0.len().max(other.0.len());
        let at = |v: &Version, i: usize| v.0.get(i).copied().unwrap_or(0);
        (0..len).map(|i| at(self, i).cmp(&at(other, i))).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Manifest {
    /// Checks what does not depend on this appliance: format, product, versions, paths.
    fn check(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("package format {} is not supported (this build reads {FORMAT})", self.format));
        }
        if self.product != PRODUCT {
            return Err(format!("it is a package for '{}', not {PRODUCT}", crate::validate::printable(&self.product)));
        }
        for (field, text) in [("version", &self.version), ("min_version", &self.min_version)] {
            if Version::parse(text).is_none() || text.len() > 64 || text.chars().any(|c| c.is_control() || c == '/') {
                return Err(format!("the manifest's {field} '{}' is not a version", crate::validate::printable(text)));
            }
        }
        for file in &self.files {
            tar::check_path(&file.path)?;
            let shown = crate::validate::printable(&file.path);
            match file.kind.as_str() {
                "file" if is_hex64(&file.sha256) => {}
                "dir" if file.size == 0 && file.sha256.is_empty() => {}
                _ => return Err(format!("the manifest's entry for '{shown}' is not a valid file or directory")),
            }
            if file.mode > 0o777 {
                return Err(format!("'{shown}' has mode {:o} (only permission bits are accepted)", file.mode));
            }
        }
        Ok(())
    }

    /// The archive kind of an entry.
    pub fn kind(file: &PayloadFile) -> Kind {
        if file.kind == "dir" {
            Kind::Dir
        } else {
            Kind::File
        }
    }

    /// Bytes of payload data.
    pub fn payload_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The keys packages may be signed with: the board's, then each acceptable key file. A key
/// file that is not a root-owned regular file, or is group/world-writable, or is not a key, is
/// ignored with a warning on `out`.
pub fn trusted_keys(ctx: &Context, board_keys: &[[u8; 32]], out: &mut dyn Write) -> Result<Vec<[u8; 32]>> {
    let mut keys = board_keys.to_vec();
    let dir = ctx.root.resolve(KEY_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(keys),
        Err(err) => return Err(Error::io("read", &dir, err)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pub"))
        .collect();
    paths.sort();
    for path in paths {
        match key_file(&path) {
            Ok(key) => keys.push(key),
            Err(why) => {
                log::warn!("ignoring upgrade key {}: {why}", path.display());
                emit(out, &format!("Warning: ignoring upgrade key {}: {why}", path.display()))?;
            }
        }
    }
    Ok(keys)
}

fn key_file(path: &Path) -> std::result::Result<[u8; 32], String> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| crate::error::strip_errno(&e))?;
    let meta = file.metadata().map_err(|e| crate::error::strip_errno(&e))?;
    if !meta.file_type().is_file() {
        return Err("not a regular file".into());
    }
    if meta.uid() != 0 {
        return Err(format!("owned by uid {}, not root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("mode {:o} lets others than root change it", meta.mode() & 0o7777));
    }
    let mut text = String::new();
    file.take(256).read_to_string(&mut text).map_err(|e| crate::error::strip_errno(&e))?;
    crate::board::parse_public_key(&text).ok_or_else(|| "not a public key (64 hex digits)".to_string())
}

/// The package's reader, standing at the first payload entry.
pub type PayloadReader<'a> = TarReader<BufReader<&'a File>>;

fn read_member(tar: &mut PayloadReader<'_>, name: &str, max: u64) -> std::result::Result<Vec<u8>, Refusal> {
    let entry = tar.next_entry()?.ok_or_else(|| refuse(format!("the package ends before its {name}")))?;
    if entry.path != name || entry.kind != Kind::File {
        // The member's name is not shown: before the signature is checked, nothing of the file
        // is echoed (the daemon opens it as root for a cyberx caller).
        return Err(refuse(format!("the package has no {name} where it must be: not a signed package")));
    }
    if entry.size > max {
        return Err(refuse(format!("{name} of {} bytes (limit {max})", entry.size)));
    }
    let mut data = vec![0u8; entry.size as usize];
    let mut got = 0;
    while got < data.len() {
        let n = tar.read_data(&mut data[got..])?;
        got += n;
    }
    Ok(data)
}

/// Reads the manifest and its signature from `file`, verifies the signature with `keys`, and
/// only then parses the manifest. Returns it with the reader at the first payload entry.
pub fn open<'a>(file: &'a File, keys: &[[u8; 32]]) -> std::result::Result<(Manifest, PayloadReader<'a>), Refusal> {
    let mut tar = TarReader::new(BufReader::with_capacity(64 * 1024, file));
    let manifest = read_member(&mut tar, MANIFEST_NAME, MAX_MANIFEST)?;
    let sig = read_member(&mut tar, SIG_NAME, 64)?;
    if keys.is_empty() {
        return Err(refuse(format!(
            "no trusted upgrade key: the board lists none and {KEY_DIR}/ holds no usable one"
        )));
    }
    let good = keys
        .iter()
        .any(|key| signature::UnparsedPublicKey::new(&signature::ED25519, key).verify(&manifest, &sig).is_ok());
    if !good {
        return Err(refuse("its signature does not verify with any trusted key"));
    }
    let text = std::str::from_utf8(&manifest).map_err(|_| refuse("the manifest is not UTF-8"))?;
    let manifest = crate::json::decode::<Manifest>(text).map_err(|e| refuse(format!("the manifest is not valid: {e}")))?;
    manifest.check().map_err(Refusal::Refused)?;
    Ok((manifest, tar))
}

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
    crate::store::replace(&pub_path, format!("{}\n", hex(pair.public_key().as_ref())).as_bytes(), crate::store::Mode::Preserve)?;
    emit(out, &format!("Wrote the private key {} (keep it off the appliance)", key_path.display()))?;
    emit(out, &format!("Wrote the public key {} (install it as {KEY_DIR}/NAME.pub or in the board's upgrade.keys)", pub_path.display()))?;
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
            list.push((path.clone(), PayloadFile { path: rel.clone(), kind: "dir".into(), mode, size: 0, sha256: String::new() }));
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
            list.push((path, PayloadFile { path: rel, kind: "file".into(), mode, size, sha256: hex(hash.finish().as_ref()) }));
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
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("'{}' changed while being packed", entry.path)));
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
        let file = OpenOptions::new().write(true).create_new(true).mode(0o644).open(&temp).map_err(|e| Error::io("create", &temp, e))?;
        let mut w = io::BufWriter::new(file);
        let write = |e: io::Error| Error::io("write", &temp, e);
        let plain = |path: &str, size: u64| Entry { path: path.into(), kind: Kind::File, mode: 0o644, uid: 0, gid: 0, size, mtime: 0 };
        member(&mut w, &plain(MANIFEST_NAME, text.len() as u64), &mut text.as_bytes()).map_err(write)?;
        member(&mut w, &plain(SIG_NAME, 64), &mut sig.as_ref()).map_err(write)?;
        for (path, f) in &list {
            let entry = Entry { path: f.path.clone(), kind: Manifest::kind(f), mode: f.mode, uid: 0, gid: 0, size: f.size, mtime: 0 };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_by_their_numbers() {
        let v = |t: &str| Version::parse(t).unwrap();
        assert!(v("1.2.0") > v("1.1.9"));
        assert!(v("1.10") > v("1.9.9"));
        assert_eq!(v("1.2"), v("1.2.0"));
        assert_eq!(v("0.1.0-1a2b3c4").cmp(&v("0.1.0")), std::cmp::Ordering::Equal);
        assert!(v("22.3.0.318-r-71e6295") > v("22.3.0.317"));
        for bad in ["", "x", "1..2", "1.2.3.4.5.6.7", "-1", "1.a"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT,
            product: PRODUCT.into(),
            version: "1.0.0".into(),
            boards: vec!["generic-x86".into()],
            min_version: "0.0.0".into(),
            files: vec![
                PayloadFile { path: "bin".into(), kind: "dir".into(), mode: 0o755, size: 0, sha256: String::new() },
                PayloadFile { path: "bin/x".into(), kind: "file".into(), mode: 0o755, size: 1, sha256: "0".repeat(64) },
            ],
        }
    }

    #[test]
    fn manifests_are_checked_before_use() {
        assert!(manifest().check().is_ok());
        let mut bad = manifest();
        bad.files[1].path = "../x".into();
        assert!(bad.check().unwrap_err().contains("'..'"));
        let mut bad = manifest();
        bad.files[1].mode = 0o4755;
        assert!(bad.check().is_err());
        let mut bad = manifest();
        bad.files[1].kind = "symlink".into();
        assert!(bad.check().is_err());
        let mut bad = manifest();
        bad.product = "other".into();
        assert!(bad.check().is_err());
        let mut bad = manifest();
        bad.version = "new".into();
        assert!(bad.check().is_err());
    }
}
