//! `cert import`, `cert self-signed` and `cert show`: the appliance's TLS certificate (web UI
//! and API).
//!
//! The store is `<root>/var/cyberx/keys/certificates/` (0700): one directory per installed
//! certificate, named by 8 random hex digits, holding `cert.pem`, `key.pem` (0600, the key as
//! given: still encrypted if it was), `chain.pem` when a chain was given and `passphrase` (0600)
//! when the key needs one; and `active.json`, the record naming the directory in use. A change
//! writes and fsyncs the whole new directory first and only then replaces `active.json`
//! atomically ([`crate::store::replace`]): a kill or a power cut at any instant leaves the record
//! naming the old complete pair or the new complete pair, never a partial one. Changes hold an
//! flock on `.lock` (a second one at the same time gets exit 75) and afterwards remove the
//! directories other than the new and the previous one (crash leftovers included).
//!
//! Needs root for `import` and `self-signed` (writes the key store); `show` needs read access
//! to the store.
#![forbid(unsafe_code)]

pub mod der;
pub mod pki;

use crate::outcome::Status;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::paths::RootDir;
use crate::store::{self, Mode};
use crate::time::Utc;
use crate::validate::{FileBytes, Passphrase};
use nanoserde::{DeJson, SerJson};
use pki::{Certificate, KeyFile};
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The certificate store, relative to the root.
pub const STORE_DIR: &str = "var/cyberx/keys/certificates";
/// The active-certificate record, inside the store.
pub const ACTIVE_FILE: &str = "active.json";
const LOCK_FILE: &str = ".lock";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";
const CHAIN_FILE: &str = "chain.pem";
const PASSPHRASE_FILE: &str = "passphrase";
/// Format of `active.json`.
const RECORD_VERSION: u32 = 1;
/// Validity of the self-signed certificate, in days.
const SELF_SIGNED_DAYS: i64 = 365;

/// `active.json`: which directory of the store holds the certificate in use.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct ActiveRecord {
    /// Must be [`RECORD_VERSION`].
    pub version: u32,
    /// The directory's name (8 lower-case hex digits).
    pub dir: String,
    /// `import` or `self-signed`.
    pub source: String,
    /// When it was made active, Unix seconds.
    pub installed_unix: i64,
}

/// Whether `name` can be a store directory: exactly 8 lower-case hex digits (so a damaged or
/// edited record can never point outside the store).
fn is_pair_dir_name(name: &str) -> bool {
    name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The certificate store under a root.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store of `root`.
    pub fn new(root: &RootDir) -> Store {
        Store { dir: root.resolve(STORE_DIR) }
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The active record, `None` when no certificate was ever installed.
    pub fn active(&self) -> Result<Option<ActiveRecord>> {
        let path = self.dir.join(ACTIVE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Error::io("read", &path, err)),
        };
        let bad = |why: String| Error::BadFile { path: path.clone(), why };
        let record = crate::json::decode::<ActiveRecord>(&text).map_err(|e| bad(format!("not a valid record ({e})")))?;
        if record.version != RECORD_VERSION {
            return Err(bad(format!("record version {} is not supported", record.version)));
        }
        if !is_pair_dir_name(&record.dir) {
            return Err(bad("the directory it names is not a store directory".to_string()));
        }
        Ok(Some(record))
    }

    /// The directory of an installed pair.
    pub fn pair_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The passphrase stored with the active certificate, if it has one.
    fn active_passphrase(&self) -> Result<Option<Passphrase>> {
        let Some(record) = self.active()? else { return Ok(None) };
        let path = self.pair_dir(&record.dir).join(PASSPHRASE_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => Passphrase::parse(&text)
                .map(Some)
                .map_err(|_| Error::BadFile { path, why: "not a valid passphrase".to_string() }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io("read", &path, err)),
        }
    }

    /// Takes the store's lock and makes a fresh, empty, randomly named pair directory.
    fn begin(&self) -> Result<Install<'_>> {
        let parent = self.dir.parent().unwrap_or(Path::new("/"));
        store::create_dir_all(parent, 0o755)?;
        store::create_dir_all(&self.dir, 0o700)?;
        let lock = store::lock_exclusive(&self.dir.join(LOCK_FILE), 0o700, "another certificate change is in progress")?;
        let previous = self.active()?.map(|r| r.dir);
        loop {
            let mut random = [0u8; 4];
            crate::sys::random::fill(&mut random).map_err(|e| Error::Sys { call: "getrandom", source: e })?;
            let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
            let path = self.pair_dir(&name);
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Install { store: self, _lock: lock, name, path, previous }),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(Error::io("create directory", &path, err)),
            }
        }
    }
}

/// A pair being installed: the store is locked and the new directory exists.
struct Install<'a> {
    store: &'a Store,
    _lock: File,
    name: String,
    path: PathBuf,
    previous: Option<String>,
}

/// The files of one installed certificate.
struct Pair {
    cert_pem: String,
    key_pem: String,
    chain_pem: Option<String>,
    passphrase: Option<Passphrase>,
}

impl Install<'_> {
    /// Writes the pair into the new directory, each file fsynced, then the directory.
    fn write(&self, pair: &Pair) -> Result<()> {
        store::replace(&self.path.join(KEY_FILE), pair.key_pem.as_bytes(), Mode::Secret)?;
        if let Some(pass) = &pair.passphrase {
            store::replace(&self.path.join(PASSPHRASE_FILE), pass.expose().as_bytes(), Mode::Secret)?;
        }
        if let Some(chain) = &pair.chain_pem {
            store::replace(&self.path.join(CHAIN_FILE), chain.as_bytes(), Mode::Preserve)?;
        }
        // The certificate last: a directory with cert.pem is complete (the record is what
        // counts, but this keeps a half-written directory recognisable too).
        store::replace(&self.path.join(CERT_FILE), pair.cert_pem.as_bytes(), Mode::Preserve)?;
        store::sync_dir(&self.store.dir)
    }

    /// Makes the new directory the active one (one atomic rename), then removes the
    /// directories that are neither it nor the previous one.
    fn commit(self, source: &str) -> Result<PathBuf> {
        let record = ActiveRecord {
            version: RECORD_VERSION,
            dir: self.name.clone(),
            source: source.to_string(),
            installed_unix: crate::sys::clock::realtime().0,
        };
        let mut text = record.serialize_json();
        text.push('\n');
        store::replace(&self.store.dir.join(ACTIVE_FILE), text.as_bytes(), Mode::Preserve)?;
        self.prune();
        Ok(self.path)
    }

    /// Best effort: a directory left behind only costs space, and the next change tries again.
    fn prune(&self) {
        let Ok(entries) = fs::read_dir(&self.store.dir) else { return };
        let temp_prefix = format!(".{ACTIVE_FILE}.tmp-");
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let result = if is_pair_dir_name(&name) && name != self.name && Some(&name) != self.previous.as_ref() {
                fs::remove_dir_all(&path)
            } else if name.starts_with(&temp_prefix) {
                fs::remove_file(&path)
            } else {
                continue;
            };
            if let Err(err) = result {
                log::warn!("could not remove {}: {}", path.display(), crate::error::strip_errno(&err));
            }
        }
    }
}

/// What `cert import` was given: the files' contents (read by the caller, with the caller's
/// own file permissions) and the passphrase choice.
pub struct ImportRequest {
    /// The certificate file.
    pub crt: Vec<u8>,
    /// The private key file.
    pub key: Vec<u8>,
    /// The chain file.
    pub chain: Option<Vec<u8>>,
    /// `--pass`.
    pub pass: Option<Passphrase>,
    /// `--passphrase-set true`.
    pub passphrase_set: bool,
}

impl ImportRequest {
    /// The request an action's fields make (typed, so already checked where they were read:
    /// argv, or the daemon's socket).
    pub fn from_action(
        crt: &FileBytes,
        key: &FileBytes,
        chain: Option<&FileBytes>,
        pass: Option<&Passphrase>,
        passphrase_set: bool,
    ) -> Result<ImportRequest> {
        if pass.is_some() && passphrase_set {
            return Err(Error::Usage("give either --pass or --passphrase-set true, not both".to_string()));
        }
        Ok(ImportRequest {
            crt: crt.bytes().to_vec(),
            key: key.bytes().to_vec(),
            chain: chain.map(|c| c.bytes().to_vec()),
            pass: pass.cloned(),
            passphrase_set,
        })
    }
}

/// The appliance's names a certificate should cover: the host name and the management
/// interface's IPv4 addresses.
struct ApplianceNames {
    host: String,
    addresses: Vec<Ipv4Addr>,
}

fn appliance_names(ctx: &Context) -> ApplianceNames {
    ApplianceNames { host: crate::sys::uname::hostname(), addresses: management_addresses(ctx) }
}

/// The management interface's IPv4 addresses, from the kernel.
// INTEGRATION: when the config carries the management network settings (another branch adds
// them), use its configured address first and fall back to this.
fn management_addresses(ctx: &Context) -> Vec<Ipv4Addr> {
    let interface = match ctx.board() {
        Ok(board) => board.management_interface.as_str().to_string(),
        Err(err) => {
            log::debug!("no board, so no management address: {err}");
            return Vec::new();
        }
    };
    let addresses = crate::sys::netlink::RouteSocket::open().and_then(|mut socket| socket.addresses());
    let addresses = match addresses {
        Ok(addresses) => addresses,
        Err(err) => {
            log::debug!("addresses of {interface}: {err}");
            return Vec::new();
        }
    };
    let alias_prefix = format!("{interface}:");
    addresses
        .into_iter()
        .filter(|a| i32::from(a.family) == libc::AF_INET)
        .filter(|a| {
            a.label.as_deref().is_some_and(|label| {
                let label = String::from_utf8_lossy(label);
                let label = label.trim_end_matches('\0');
                label == interface || label.starts_with(&alias_prefix)
            })
        })
        .filter_map(|a| a.local.or(a.address))
        .filter_map(|bytes| <[u8; 4]>::try_from(bytes.as_slice()).ok().map(Ipv4Addr::from))
        .collect()
}

/// Warnings (not errors) for the appliance names the certificate does not cover.
fn coverage_warnings(cert: &Certificate, names: &ApplianceNames) -> Result<Vec<String>> {
    let listed = || -> Result<String> {
        let names = cert.names()?;
        Ok(if names.is_empty() {
            "none".to_string()
        } else {
            names.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        })
    };
    let mut warnings = Vec::new();
    if !cert.covers_host(&names.host)? {
        warnings.push(format!(
            "warning: the certificate's names ({}) do not cover the appliance's host name '{}'",
            listed()?,
            crate::validate::printable(&names.host)
        ));
    }
    for ip in &names.addresses {
        if !cert.covers_ip(IpAddr::V4(*ip))? {
            warnings.push(format!(
                "warning: the certificate's names ({}) do not cover the management address {ip}",
                listed()?
            ));
        }
    }
    Ok(warnings)
}

/// `cert import`: checks the certificate, the key and the chain, then installs and activates
/// the pair. Every refusal is exit 2 (69 for what this build cannot check) and changes nothing.
pub fn import(ctx: &Context, request: &ImportRequest, out: &mut dyn Write) -> Result<Status> {
    audited(ctx, "cert-import", import_checked(ctx, request, out))
}

fn import_checked(ctx: &Context, request: &ImportRequest, out: &mut dyn Write) -> Result<Status> {
    let store = Store::new(&ctx.root);
    let mut certs = pki::read_certificates(&request.crt, "--crt")?;
    if certs.len() > 1 {
        return Err(Error::Usage(format!(
            "--crt: the file holds {} certificates: give the appliance's certificate alone with --crt \
             and its CA certificates with --chain",
            certs.len()
        )));
    }
    let cert = Certificate::parse(certs.remove(0), "--crt")?;
    cert.check_strength("--crt")?;
    let key = pki::read_key(&request.key)?;
    let passphrase = if request.passphrase_set {
        match store.active_passphrase()? {
            Some(pass) => Some(pass),
            None if key.encrypted() => {
                return Err(Error::Usage(
                    "--passphrase-set true: no passphrase is stored with the previous certificate".to_string(),
                ))
            }
            None => None,
        }
    } else {
        request.pass.clone()
    };
    let mut notes = Vec::new();
    let passphrase = match (key.encrypted(), passphrase) {
        (false, Some(_)) => {
            notes.push("note: the key is not encrypted; no passphrase is needed or stored".to_string());
            None
        }
        (_, pass) => pass,
    };
    let plain = pki::decrypt(&key, passphrase.as_ref())?;
    cert.check_key(&plain)?;
    let now = crate::sys::clock::realtime().0;
    cert.check_validity("--crt", now)?;
    let mut chain_pem = None;
    let mut anchor = None;
    if let Some(chain) = &request.chain {
        let chain: Vec<Certificate> = pki::read_certificates(chain, "--chain")?
            .into_iter()
            .map(|der| Certificate::parse(der, "--chain"))
            .collect::<Result<_>>()?;
        anchor = Some(pki::verify_chain(&cert, &chain, now)?);
        let mut text = String::new();
        for member in &chain {
            text.push_str(&pki::to_pem("CERTIFICATE", member.der())?);
        }
        chain_pem = Some(text);
    }
    let warnings = coverage_warnings(&cert, &appliance_names(ctx))?;

    emit(out, &format!("Importing the certificate {} ({})", cert.subject(), cert.key()))?;
    for line in notes.iter().chain(&warnings) {
        emit(out, line)?;
    }
    if let Some(anchor) = anchor {
        emit(out, &format!("the certificate verifies up to {anchor}"))?;
    }
    let pair = Pair {
        cert_pem: pki::to_pem("CERTIFICATE", cert.der())?,
        key_pem: key.to_pem()?,
        chain_pem,
        passphrase,
    };
    let install = store.begin()?;
    emit(out, &format!("random directory name for the new certificate is {}", install.name))?;
    install.write(&pair)?;
    emit(out, &format!("wrote the certificate and its key to '{}'", install.path.display()))?;
    emit(out, "registering the certificate as the active one")?;
    let path = install.commit("import")?;
    audit(ctx, "cert-import", &cert, &path);
    emit(out, "finished")?;
    Ok(Status::Ok)
}

/// `cert self-signed`: a new ECDSA P-256 key (ring) and a self-signed certificate for the host
/// name and the management addresses, installed and made active.
pub fn self_signed(ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    audited(ctx, "cert-self-signed", self_signed_checked(ctx, out))
}

fn self_signed_checked(ctx: &Context, out: &mut dyn Write) -> Result<Status> {
    let names = appliance_names(ctx);
    let store = Store::new(&ctx.root);
    emit(out, &format!("Creating a self-signed certificate for {}...", crate::validate::printable(&names.host)))?;
    let install = store.begin()?;
    emit(out, &format!("random directory name for the new certificate is {}", install.name))?;
    emit(out, "Generating an ECDSA P-256 private key")?;
    let now = crate::sys::clock::realtime().0;
    let (cert_der, key_der) = generate(&names, now)?;
    // The new pair goes through the import checks too: what we install, we could import.
    let cert = Certificate::parse(cert_der, "the generated certificate")?;
    let key = KeyFile { form: pki::KeyForm::Pkcs8, der: key_der };
    cert.check_key(&pki::decrypt(&key, None)?)?;
    cert.check_validity("the generated certificate", now)?;
    let key_path = install.path.join(KEY_FILE);
    emit(out, &format!("writing new private key to '{}'", key_path.display()))?;
    emit(out, "-----")?;
    install.write(&Pair {
        cert_pem: pki::to_pem("CERTIFICATE", cert.der())?,
        key_pem: key.to_pem()?,
        chain_pem: None,
        passphrase: None,
    })?;
    emit(out, "registering the certificate as the active one")?;
    let path = install.commit("self-signed")?;
    audit(ctx, "cert-self-signed", &cert, &path);
    emit(out, "finished")?;
    Ok(Status::Ok)
}

/// The self-signed certificate and its PKCS#8 key, both DER.
fn generate(names: &ApplianceNames, now: i64) -> Result<(Vec<u8>, Vec<u8>)> {
    // The host name is a DNS name only if it is one; the common name carries it either way.
    let host = crate::validate::printable(&names.host);
    let dns: Vec<String> = if is_dns_name(&names.host) { vec![names.host.clone()] } else { Vec::new() };
    let ips: Vec<IpAddr> = names.addresses.iter().map(|ip| IpAddr::V4(*ip)).collect();
    // From the start of today (UTC) for a year: the day boundary absorbs small clock differences
    // between the appliance and its clients.
    let today = now - now.rem_euclid(86_400);
    let mut serial = [0u8; 16];
    crate::sys::random::fill(&mut serial).map_err(|e| Error::Sys { call: "getrandom", source: e })?;
    serial[0] &= 0x7f; // a positive INTEGER
    serial[0] |= 0x01; // of full length
    pki::self_signed(&pki::SelfSigned {
        common_name: &host,
        dns: &dns,
        ips: &ips,
        not_before: today,
        not_after: today + SELF_SIGNED_DAYS * 86_400,
        serial,
    })
}

/// A host name usable as a DNS subject alternative name: dot-separated labels of 1–63 letters,
/// digits and hyphens, not starting or ending with a hyphen, 253 characters at most.
fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Records a refused or failed certificate change in the audit log (a change that landed was
/// recorded by [`audit`], with what was installed).
fn audited(ctx: &Context, action: &str, result: Result<Status>) -> Result<Status> {
    if let Err(err) = &result {
        let verdict = if err.exit_code() == 2 { "refused" } else { "failed" };
        crate::audit::record(ctx, action, "-", &format!("{verdict}: {err}"));
    }
    result
}

/// The audit trail of a certificate change that landed: the certificate's SHA-256 fingerprint
/// is the target, and the result names the store directory it was installed in.
fn audit(ctx: &Context, action: &str, cert: &Certificate, dir: &Path) {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::audit::record(ctx, action, &cert.sha256_fingerprint(), &format!("ok: installed in {name} and made active"));
}

#[derive(SerJson)]
struct ShowReport {
    subject: String,
    names: Vec<String>,
    issuer: String,
    self_signed: bool,
    not_before: String,
    not_after: String,
    status: String,
    key_type: String,
    key_bits: u64,
    sha256_fingerprint: String,
    serial: String,
    source: String,
    installed: String,
    dir: String,
}

/// `cert show`: the active certificate. Exit 1 when there is none.
pub fn show(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let store = Store::new(&ctx.root);
    let Some(record) = store.active()? else {
        return Err(Error::Problem(
            "no active certificate: create one with `cert self-signed` or import one with `cert import`".to_string(),
        ));
    };
    let dir = store.pair_dir(&record.dir);
    let path = dir.join(CERT_FILE);
    let bytes = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let bad = |e: Error| Error::BadFile { path: path.clone(), why: e.to_string() };
    let der = pki::read_certificates(&bytes, "cert.pem").map_err(bad)?.remove(0);
    let cert = Certificate::parse(der, "cert.pem").map_err(bad)?;
    let now = crate::sys::clock::realtime().0;
    let status = if now < cert.not_before() {
        "not valid yet"
    } else if now > cert.not_after() {
        "expired"
    } else {
        "valid"
    };
    let report = ShowReport {
        subject: cert.subject(),
        names: cert.names().map_err(bad)?.iter().map(ToString::to_string).collect(),
        issuer: cert.issuer(),
        self_signed: cert.self_issued(),
        not_before: Utc::from_unix(cert.not_before()).iso8601(),
        not_after: Utc::from_unix(cert.not_after()).iso8601(),
        status: status.to_string(),
        key_type: match cert.key() {
            pki::PublicKey::Rsa { .. } => "RSA".to_string(),
            pki::PublicKey::Ec { curve, .. } => format!("EC {curve}"),
        },
        key_bits: cert.key().bits() as u64,
        sha256_fingerprint: cert.sha256_fingerprint(),
        serial: cert.serial(),
        source: record.source.clone(),
        installed: Utc::from_unix(record.installed_unix).iso8601(),
        dir: dir.display().to_string(),
    };
    if json {
        emit(out, &report.serialize_json())?;
        return Ok(Status::Ok);
    }
    let names = if report.names.is_empty() { "none".to_string() } else { report.names.join(", ") };
    for line in [
        format!("Subject: {}", report.subject),
        format!("Names: {names}"),
        format!("Issuer: {}{}", report.issuer, if report.self_signed { " (self-signed)" } else { "" }),
        format!("Valid from: {}", report.not_before),
        format!("Valid until: {} ({})", report.not_after, report.status),
        format!("Key: {} ({} bits)", report.key_type, report.key_bits),
        format!("SHA-256 fingerprint: {}", report.sha256_fingerprint),
        format!("Serial: {}", report.serial),
        format!("Installed: {} by cert {}", report.installed, report.source),
        format!("Directory: {}", report.dir),
    ] {
        emit(out, &line)?;
    }
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_directory_names() {
        assert!(is_pair_dir_name("0a1b2c3d"));
        for bad in ["", "0a1b2c3", "0a1b2c3d4", "0A1B2C3D", "../../..", "0a1b2c3g", "active.j"] {
            assert!(!is_pair_dir_name(bad), "{bad}");
        }
    }

    #[test]
    fn dns_names() {
        for good in ["vm", "sensor-1.example.com", "a"] {
            assert!(is_dns_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a..b", "under_score", "sp ace", &"a".repeat(64)] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_generated_certificate_names_the_appliance_and_passes_the_import_checks() {
        let names = ApplianceNames { host: "sensor-7".into(), addresses: vec![Ipv4Addr::new(192, 0, 2, 7)] };
        let now = 1_750_000_000;
        let (cert_der, key_der) = generate(&names, now).unwrap();
        let cert = Certificate::parse(cert_der, "generated").unwrap();
        cert.check_key(&pki::decrypt(&KeyFile { form: pki::KeyForm::Pkcs8, der: key_der }, None).unwrap()).unwrap();
        cert.check_validity("generated", now).unwrap();
        assert!(cert.check_validity("generated", now + 366 * 86_400).is_err());
        assert!(coverage_warnings(&cert, &names).unwrap().is_empty());
        let elsewhere = ApplianceNames { host: "other".into(), addresses: vec![Ipv4Addr::new(10, 0, 0, 1)] };
        let warnings = coverage_warnings(&cert, &elsewhere).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("host name 'other'"), "{warnings:?}");
        assert!(warnings[1].contains("management address 10.0.0.1"), "{warnings:?}");
        assert_eq!(cert.subject(), "CN=sensor-7");
        assert!(cert.self_issued());
    }
}
