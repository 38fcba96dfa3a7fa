//! The upgrade package: a POSIX tar of `manifest.json`, `manifest.sig` (an Ed25519 signature
//! over the manifest's exact bytes) and the payload, in the manifest's order.
//!
//! Reading ([`open`]) verifies the signature against the trusted keys before the manifest is
//! parsed and before any payload header is read; building and key generation are the firmware
//! builders' tools, in [`super::sign`] (cargo feature `host-tools`). Trusted keys come from the board and from `*.pub` files in
//! `<root>/etc/sensorctl/upgrade-keys/` that are root-owned and not group/world-writable
//! ([`trusted_keys`]); never from an argument.
//!
//! Reading needs read access to the package.
#![forbid(unsafe_code)]

use crate::archive::extract::{refuse, Refusal};
use crate::archive::tar::{self, Kind, TarReader};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use nanoserde::{DeJson, SerJson};
use ring::signature;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
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

fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Manifest {
    /// Checks what does not depend on this appliance: format, product, versions, paths.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
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
        return Err(refuse(format!("no trusted upgrade key: the board lists none and {KEY_DIR}/ holds no usable one")));
    }
    let good = keys
        .iter()
        .any(|key| signature::UnparsedPublicKey::new(&signature::ED25519, key).verify(&manifest, &sig).is_ok());
    if !good {
        return Err(refuse("its signature does not verify with any trusted key"));
    }
    let text = std::str::from_utf8(&manifest).map_err(|_| refuse("the manifest is not UTF-8"))?;
    let manifest =
        crate::json::decode::<Manifest>(text).map_err(|e| refuse(format!("the manifest is not valid: {e}")))?;
    manifest.check().map_err(Refusal::Refused)?;
    Ok((manifest, tar))
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
