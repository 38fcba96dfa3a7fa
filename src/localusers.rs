//! The local users store: the appliance's web (UI) logins and their password hashes,
//! `<root>/etc/sensorctl/users.json`, mode 0600, always replaced atomically.
//!
//! Each user has PBKDF2-HMAC-SHA256 (ring) with a 16-byte random salt of their own and at least
//! [`PBKDF2_ITERATIONS`] iterations; the iteration count is stored per user so that it can be
//! raised later without invalidating existing hashes. Verification is ring's constant-time
//! `pbkdf2::verify`. Salt and hash are lower-case hex:
//!
//! ```json
//! {"version":1,"users":[{"name":"support","algorithm":"pbkdf2-sha256","iterations":600000,
//!   "salt":"<32 hex>","hash":"<64 hex>","last_change":1714560000}]}
//! ```
//!
//! Reading and writing need access to `<root>/etc/sensorctl` (root on an appliance).
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::paths::RootDir;
use crate::password::Secret;
use crate::store;
use nanoserde::{DeJson, SerJson};
use ring::pbkdf2;
use ring::rand::SecureRandom;
use std::io;
use std::num::NonZeroU32;
use std::path::PathBuf;

/// The store, relative to the root.
pub const USERS_FILE: &str = "etc/sensorctl/users.json";
/// The store format this build reads and writes.
pub const VERSION: u32 = 1;
/// PBKDF2 iterations for new hashes (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// The only algorithm name this build knows.
pub const ALGORITHM: &str = "pbkdf2-sha256";
/// The most iterations a stored entry may ask for (a guard against a corrupted count).
const MAX_ITERATIONS: u32 = 100_000_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// One local user.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct LocalUser {
    /// The login name.
    pub name: String,
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// PBKDF2 iterations of this hash.
    pub iterations: u32,
    /// The salt, hex.
    pub salt: String,
    /// The derived key, hex.
    pub hash: String,
    /// When the password was last set, Unix seconds.
    pub last_change: i64,
}

/// The store document.
#[derive(Clone, Debug, Default, PartialEq, DeJson, SerJson)]
pub struct Store {
    /// Format version; must equal [`VERSION`].
    pub version: u32,
    /// The users, in the order they were added.
    pub users: Vec<LocalUser>,
}

impl Store {
    /// The store's path under `root`.
    pub fn path(root: &RootDir) -> PathBuf {
        root.resolve(USERS_FILE)
    }

    /// Loads the store; a missing file is an empty store.
    pub fn load(root: &RootDir) -> Result<Store> {
        let path = Store::path(root);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Store { version: VERSION, users: Vec::new() }),
            Err(err) => return Err(Error::io("read", &path, err)),
        };
        let bad = |why: String| Error::BadFile { path: path.clone(), why };
        let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".to_string()))?;
        let store = crate::json::decode::<Store>(&text).map_err(|e| bad(format!("not a valid users file: {e}")))?;
        if store.version != VERSION {
            return Err(bad(format!("users file version {} is not supported (this build reads version {VERSION})", store.version)));
        }
        Ok(store)
    }

    /// Writes the store atomically and durably, mode 0600.
    pub fn save(&self, root: &RootDir) -> Result<()> {
        let path = Store::path(root);
        if let Some(dir) = path.parent() {
            store::create_dir_all(dir, 0o755)?;
        }
        let mut text = self.serialize_json();
        text.push('\n');
        store::replace(&path, text.as_bytes(), store::Mode::Secret)
    }

    /// The entry of `name`.
    pub fn find(&self, name: &str) -> Option<&LocalUser> {
        self.users.iter().find(|user| user.name == name)
    }

    /// Sets (or adds) `entry` for its user.
    pub fn put(&mut self, entry: LocalUser) {
        match self.users.iter_mut().find(|user| user.name == entry.name) {
            Some(slot) => *slot = entry,
            None => self.users.push(entry),
        }
    }
}

/// A fresh entry for `name` with `password`: new salt, [`PBKDF2_ITERATIONS`].
pub fn new_entry(name: &str, password: &Secret, rng: &dyn SecureRandom, now: i64) -> Result<LocalUser> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill(&mut salt)
        .map_err(|_| Error::Sys { call: "getrandom(2)", source: io::Error::other("no random bytes") })?;
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations(PBKDF2_ITERATIONS), &salt, password.expose().as_bytes(), &mut hash);
    Ok(LocalUser {
        name: name.to_string(),
        algorithm: ALGORITHM.to_string(),
        iterations: PBKDF2_ITERATIONS,
        salt: hex(&salt),
        hash: hex(&hash),
        last_change: now,
    })
}

/// Whether `password` is `user`'s, in constant time. A malformed entry matches nothing.
pub fn verify(user: &LocalUser, password: &[u8]) -> bool {
    let (Some(salt), Some(hash)) = (unhex(&user.salt), unhex(&user.hash)) else {
        log::warn!("local user '{}': malformed salt or hash", user.name);
        return false;
    };
    if user.algorithm != ALGORITHM || !(1..=MAX_ITERATIONS).contains(&user.iterations) || hash.is_empty() {
        log::warn!("local user '{}': unsupported algorithm or iteration count", user.name);
        return false;
    }
    pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, iterations(user.iterations), &salt, password, &hash).is_ok()
}

/// Spends the time of one verification and matches nothing: for a user who does not exist, so
/// that the answer's timing does not tell which names do.
pub fn verify_nobody(password: &[u8]) -> bool {
    let salt = [0u8; SALT_LEN];
    let hash = [0u8; HASH_LEN];
    let _ = pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, iterations(PBKDF2_ITERATIONS), &salt, password, &hash);
    false
}

fn iterations(count: u32) -> NonZeroU32 {
    NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| text.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entries_verify_their_password_only_and_use_fresh_salts() {
        let rng = ring::rand::SystemRandom::new();
        let one = new_entry("support", &Secret::new("Right-pass1".into()), &rng, 7).unwrap();
        let two = new_entry("support", &Secret::new("Right-pass1".into()), &rng, 7).unwrap();
        assert_ne!(one.salt, two.salt);
        assert_eq!((one.salt.len(), one.hash.len(), one.iterations), (32, 64, 600_000));
        assert!(verify(&one, b"Right-pass1"));
        assert!(!verify(&one, b"Right-pass2"));
        assert!(!verify_nobody(b"Right-pass1"));
        for broken in [
            LocalUser { salt: "zz".into(), ..one.clone() },
            LocalUser { hash: "abc".into(), ..one.clone() },
            LocalUser { algorithm: "md5".into(), ..one.clone() },
            LocalUser { iterations: 0, ..one.clone() },
        ] {
            assert!(!verify(&broken, b"Right-pass1"), "{broken:?}");
        }
    }

    #[test]
    fn rfc_7914_pbkdf2_sha256_vector_through_verify() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64 (we
        // keep 32 bytes: PBKDF2's first block is the first 32 bytes of the longer output).
        let user = LocalUser {
            name: "x".into(),
            algorithm: ALGORITHM.into(),
            iterations: 1,
            salt: hex(b"salt"),
            hash: "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc".into(),
            last_change: 0,
        };
        assert!(verify(&user, b"passwd"));
    }

    #[test]
    fn the_store_round_trips_at_0600_and_a_bad_file_is_an_error() {
        let dir = TempDir::new("localusers");
        let root = RootDir::new(dir.path());
        let mut store = Store::load(&root).unwrap();
        assert!(store.users.is_empty());
        let rng = ring::rand::SystemRandom::new();
        store.put(new_entry("a", &Secret::new("Aa-1aaaa".into()), &rng, 1).unwrap());
        store.put(new_entry("b", &Secret::new("Bb-1bbbb".into()), &rng, 1).unwrap());
        store.put(new_entry("a", &Secret::new("Aa-2aaaa".into()), &rng, 2).unwrap());
        store.save(&root).unwrap();
        let loaded = Store::load(&root).unwrap();
        assert_eq!(loaded, store);
        assert_eq!(loaded.users.len(), 2);
        assert!(verify(loaded.find("a").unwrap(), b"Aa-2aaaa"));
        let path = Store::path(&root);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(&path, "{\"version\":9,\"users\":[]}").unwrap();
        assert!(Store::load(&root).unwrap_err().to_string().contains("version 9"));
        std::fs::write(&path, "{").unwrap();
        assert_eq!(Store::load(&root).unwrap_err().exit_code(), 1);
    }
}
