//! Reading and checking certificates and private keys: PEM or DER input, the X.509 fields,
//! key type and size, whether a key belongs to a certificate, the validity period, the chain.
//!
//! No format is parsed by hand here. PEM sections: rustls-pki-types (lenient about text around
//! the sections, as files from CAs and Windows exports have), and pem-rfc7468 for the
//! `ENCRYPTED PRIVATE KEY` section pki-types does not know. Certificate fields: x509-cert.
//! Keys: pkcs8 and sec1 for the containers, ring for the RSA key itself (PKCS#1, which it checks
//! for consistency) and for the EC scalar, which it multiplies out and compares with the
//! certificate's public point. Encrypted PKCS#8: pkcs8's PBES2. Chains: rustls-webpki on ring.
//!
//! Pure (no file or kernel access); needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::time::Utc;
use crate::validate::Passphrase;
use rustls_pki_types::pem::SectionKind;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::fmt;
use std::net::IpAddr;
use x509_cert::der::asn1::{Ia5StringRef, ObjectIdentifier, PrintableStringRef, UintRef, Utf8StringRef};
use x509_cert::der::{Decode, Reader, SliceReader};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The smallest RSA modulus accepted (the reference's "minimum of 2,048 bits").
pub const RSA_MIN_BITS: usize = 2048;
/// The largest RSA modulus ring loads as a private key.
pub const RSA_MAX_BITS: usize = 4096;
/// PBKDF2 iteration counts above this are refused rather than computed (OpenSSL writes 2048).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// scrypt parameters needing more memory than this (128·r·N bytes) are refused.
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;

fn bad(what: impl Into<String>) -> Error {
    Error::Usage(what.into())
}

/// The elliptic curves accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (prime256v1, secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

impl Curve {
    fn from_oid(oid: &ObjectIdentifier) -> Result<Curve> {
        match *oid {
            P256 => Ok(Curve::P256),
            P384 => Ok(Curve::P384),
            other => Err(bad(format!(
                "EC keys on the curve {} are not accepted: use P-256 or P-384",
                curve_name(&other)
            ))),
        }
    }

    /// Key size in bits.
    pub fn bits(self) -> usize {
        match self {
            Curve::P256 => 256,
            Curve::P384 => 384,
        }
    }

    fn scalar_len(self) -> usize {
        self.bits() / 8
    }

    fn signing(self) -> &'static ring::signature::EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Curve::P384 => &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        })
    }
}

fn curve_name(oid: &ObjectIdentifier) -> String {
    match *oid {
        P521 => "P-521".to_string(),
        SECP256K1 => "secp256k1".to_string(),
        other => other.to_string(),
    }
}

fn algorithm_name(oid: &ObjectIdentifier) -> String {
    match *oid {
        RSASSA_PSS => "RSASSA-PSS".to_string(),
        DSA => "DSA".to_string(),
        ED25519 => "Ed25519".to_string(),
        ED448 => "Ed448".to_string(),
        other => format!("algorithm {other}"),
    }
}

/// A certificate's public key, of an accepted type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: the modulus size and the DER `RSAPublicKey` (as ring writes it for a key pair).
    Rsa {
        /// Modulus size in bits.
        bits: usize,
        /// DER `RSAPublicKey { n, e }`.
        der: Vec<u8>,
    },
    /// EC: the curve and the uncompressed point.
    Ec {
        /// P-256 or P-384.
        curve: Curve,
        /// `04 || x || y`.
        point: Vec<u8>,
    },
}

impl PublicKey {
    /// `RSA` or `EC`.
    pub fn kind(&self) -> &'static str {
        match self {
            PublicKey::Rsa { .. } => "RSA",
            PublicKey::Ec { .. } => "EC",
        }
    }

    /// Key size in bits.
    pub fn bits(&self) -> usize {
        match self {
            PublicKey::Rsa { bits, .. } => *bits,
            PublicKey::Ec { curve, .. } => curve.bits(),
        }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKey::Rsa { bits, .. } => write!(f, "RSA {bits} bits"),
            PublicKey::Ec { curve, .. } => write!(f, "EC {curve}"),
        }
    }
}

/// A name a certificate is valid for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertName {
    /// A DNS name (possibly a `*.` wildcard).
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

impl fmt::Display for CertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertName::Dns(name) => write!(f, "DNS:{name}"),
            CertName::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// A parsed X.509 v3 certificate with a public key of an accepted type.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    parsed: x509_cert::Certificate,
    key: PublicKey,
}

impl Certificate {
    /// Parses one DER certificate; `what` names its origin in errors (`--crt`).
    pub fn parse(der: Vec<u8>, what: &str) -> Result<Certificate> {
        let parsed = x509_cert::Certificate::from_der(&der)
            .map_err(|e| bad(format!("{what}: not an X.509 certificate ({e})")))?;
        let version = parsed.tbs_certificate.version;
        if version != x509_cert::Version::V3 {
            return Err(bad(format!(
                "{what}: an X.509 {} certificate: only version 3 certificates are accepted",
                match version {
                    x509_cert::Version::V1 => "version 1",
                    _ => "version 2",
                }
            )));
        }
        let key = public_key(&parsed.tbs_certificate.subject_public_key_info)
            .map_err(|e| bad(format!("{what}: {e}")))?;
        Ok(Certificate { der, parsed, key })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The public key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The subject as an RFC 4514 string (`CN=sensor,O=Example`).
    pub fn subject(&self) -> String {
        self.parsed.tbs_certificate.subject.to_string()
    }

    /// The issuer as an RFC 4514 string.
    pub fn issuer(&self) -> String {
        self.parsed.tbs_certificate.issuer.to_string()
    }

    /// Whether subject and issuer are the same name (a root or a self-signed certificate).
    pub fn self_issued(&self) -> bool {
        self.parsed.tbs_certificate.subject == self.parsed.tbs_certificate.issuer
    }

    /// Start of the validity period, Unix seconds.
    pub fn not_before(&self) -> i64 {
        unix_seconds(self.parsed.tbs_certificate.validity.not_before)
    }

    /// End of the validity period, Unix seconds.
    pub fn not_after(&self) -> i64 {
        unix_seconds(self.parsed.tbs_certificate.validity.not_after)
    }

    /// The serial number as colon-separated hex.
    pub fn serial(&self) -> String {
        colon_hex(self.parsed.tbs_certificate.serial_number.as_bytes())
    }

    /// SHA-256 of the DER, colon-separated upper-case hex (as `openssl x509 -fingerprint`).
    pub fn sha256_fingerprint(&self) -> String {
        colon_hex(ring::digest::digest(&ring::digest::SHA256, &self.der).as_ref())
    }

    /// The names the certificate is valid for: its subject alternative names, or, when it has
    /// none, the subject's common names (the legacy rule TLS clients still apply then).
    pub fn names(&self) -> Result<Vec<CertName>> {
        let tbs = &self.parsed.tbs_certificate;
        let san = tbs
            .get::<SubjectAltName>()
            .map_err(|e| bad(format!("the subject alternative names cannot be read ({e})")))?;
        if let Some((_, SubjectAltName(names))) = san {
            return Ok(names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DnsName(dns) => Some(CertName::Dns(dns.to_string())),
                    GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                        4 => <[u8; 4]>::try_from(ip.as_bytes()).ok().map(|b| CertName::Ip(IpAddr::from(b))),
                        16 => <[u8; 16]>::try_from(ip.as_bytes()).ok().map(|b| CertName::Ip(IpAddr::from(b))),
                        _ => None,
                    },
                    _ => None,
                })
                .collect());
        }
        Ok(tbs
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .filter(|atv| atv.oid == COMMON_NAME)
            .filter_map(|atv| {
                atv.value
                    .decode_as::<Utf8StringRef<'_>>()
                    .map(|s| s.to_string())
                    .or_else(|_| atv.value.decode_as::<PrintableStringRef<'_>>().map(|s| s.to_string()))
                    .or_else(|_| atv.value.decode_as::<Ia5StringRef<'_>>().map(|s| s.to_string()))
                    .ok()
            })
            .map(|cn| match cn.parse::<IpAddr>() {
                Ok(ip) => CertName::Ip(ip),
                Err(_) => CertName::Dns(cn),
            })
            .collect())
    }

    /// Whether the names cover the host name `host` (case-insensitive; a `*.` wildcard stands
    /// for exactly one leftmost label).
    pub fn covers_host(&self, host: &str) -> Result<bool> {
        let host = host.to_ascii_lowercase();
        Ok(self.names()?.iter().any(|name| match name {
            CertName::Dns(dns) => {
                let dns = dns.to_ascii_lowercase();
                match dns.strip_prefix("*.") {
                    Some(suffix) => host
                        .split_once('.')
                        .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                    None => dns == host,
                }
            }
            CertName::Ip(_) => false,
        }))
    }

    /// Whether the names include the address `ip`.
    pub fn covers_ip(&self, ip: IpAddr) -> Result<bool> {
        Ok(self.names()?.contains(&CertName::Ip(ip)))
    }

    /// Refuses keys that are too weak, or too large for ring to check.
    pub fn check_strength(&self, what: &str) -> Result<()> {
        match &self.key {
            PublicKey::Rsa { bits, .. } if *bits < RSA_MIN_BITS => Err(bad(format!(
                "{what}: the certificate's RSA key has {bits} bits: at least {RSA_MIN_BITS} are needed"
            ))),
            PublicKey::Rsa { bits, .. } if *bits > RSA_MAX_BITS => Err(Error::Unsupported(format!(
                "{what}: RSA keys of more than {RSA_MAX_BITS} bits (this one has {bits}) cannot be checked by this build"
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses the certificate outside its validity period at `now` (Unix seconds).
    pub fn check_validity(&self, what: &str, now: i64) -> Result<()> {
        if now < self.not_before() {
            return Err(bad(format!(
                "{what}: the certificate is not valid yet: its validity starts {}",
                Utc::from_unix(self.not_before()).iso8601()
            )));
        }
        if now > self.not_after() {
            return Err(bad(format!(
                "{what}: the certificate has expired: its validity ended {}",
                Utc::from_unix(self.not_after()).iso8601()
            )));
        }
        Ok(())
    }

    /// Checks that `key` is the private key of this certificate's public key.
    pub fn check_key(&self, key: &PlainKey) -> Result<()> {
        let (kind, body) = key_parts(key)?;
        let mismatch = || bad("the key does not belong to the certificate: their public keys differ");
        match (&self.key, kind) {
            (PublicKey::Rsa { der, .. }, KeyKind::Rsa) => {
                let pair = ring::rsa::KeyPair::from_der(&body).map_err(|e| match e.to_string().as_str() {
                    "TooSmall" => bad(format!("--key: the RSA key has fewer than {RSA_MIN_BITS} bits")),
                    "TooLarge" => Error::Unsupported(format!(
                        "--key: RSA keys of more than {RSA_MAX_BITS} bits cannot be checked by this build"
                    )),
                    why => bad(format!("--key: not a usable RSA private key ({why})")),
                })?;
                if pair.public().as_ref() != der.as_slice() {
                    return Err(mismatch());
                }
                Ok(())
            }
            (PublicKey::Ec { curve, point }, KeyKind::Ec(key_curve)) => {
                if let Some(key_curve) = key_curve {
                    if key_curve != *curve {
                        return Err(bad(format!(
                            "the key is EC {key_curve} but the certificate's key is EC {curve}: they do not belong together"
                        )));
                    }
                }
                let ec = sec1::EcPrivateKey::try_from(body.as_slice())
                    .map_err(|e| bad(format!("--key: not a valid EC private key ({e})")))?;
                if let Some(params) = ec.parameters.and_then(|p| p.named_curve()) {
                    let key_curve = Curve::from_oid(&params).map_err(|e| bad(format!("--key: {e}")))?;
                    if key_curve != *curve {
                        return Err(bad(format!(
                            "the key is EC {key_curve} but the certificate's key is EC {curve}: they do not belong together"
                        )));
                    }
                }
                // SEC1 writes the scalar at the curve's full length; some encoders drop leading
                // zero bytes, which changes nothing about the number.
                let mut scalar = vec![0u8; curve.scalar_len().saturating_sub(ec.private_key.len())];
                scalar.extend_from_slice(ec.private_key);
                let rng = ring::rand::SystemRandom::new();
                // ring derives the public point from the scalar and compares it with the
                // certificate's: this is the "same public key" check.
                match ring::signature::EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), &scalar, point, &rng) {
                    Ok(_) => Ok(()),
                    Err(e) if e.to_string() == "InconsistentComponents" => Err(mismatch()),
                    Err(e) => Err(bad(format!("--key: not a usable EC private key ({e})"))),
                }
            }
            (cert_key, kind) => Err(bad(format!(
                "the key is {} but the certificate's key is {cert_key}: they do not belong together",
                match kind {
                    KeyKind::Rsa => "RSA".to_string(),
                    KeyKind::Ec(Some(curve)) => format!("EC {curve}"),
                    KeyKind::Ec(None) => "EC".to_string(),
                }
            ))),
        }
    }
}

fn unix_seconds(time: x509_cert::time::Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn public_key(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Result<PublicKey> {
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad("the public key is not a whole number of bytes"))?;
    match spki.algorithm.oid {
        RSA_ENCRYPTION => {
            let bad_key = |e: x509_cert::der::Error| bad(format!("the RSA public key cannot be read ({e})"));
            // subjectPublicKey holds the DER RSAPublicKey { n, e }: ring's form of the public key.
            let mut reader = SliceReader::new(key_bytes).map_err(bad_key)?;
            let modulus = reader
                .sequence(|seq| {
                    let n = UintRef::decode(seq)?;
                    UintRef::decode(seq)?;
                    Ok(n)
                })
                .map_err(bad_key)?;
            reader.finish(()).map_err(bad_key)?;
            let n = modulus.as_bytes();
            let bits = match n.first() {
                Some(first) => (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
                None => 0,
            };
            Ok(PublicKey::Rsa { bits, der: key_bytes.to_vec() })
        }
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| bad("the EC public key names no curve"))?;
            let curve = Curve::from_oid(&curve)?;
            // The uncompressed form, the only one ring (and so TLS) uses; anything else would
            // only fail later, when the key is checked against it.
            if key_bytes.len() != 1 + 2 * curve.scalar_len() || key_bytes.first() != Some(&4) {
                return Err(bad(format!("the EC {curve} public key is not an uncompressed point")));
            }
            Ok(PublicKey::Ec { curve, point: key_bytes.to_vec() })
        }
        other => Err(bad(format!(
            "the certificate's key is {}: only RSA (at least {RSA_MIN_BITS} bits) and EC P-256/P-384 are accepted",
            algorithm_name(&other)
        ))),
    }
}

/// The certificates of a file: PEM (every `CERTIFICATE` section; text around them is ignored)
/// or one DER certificate. `what` names the option in errors.
pub fn read_certificates(bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(format!("{what}: the file is empty")));
    }
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes.to_vec()]);
    }
    let certs: Vec<Vec<u8>> = pem_sections(bytes, what)?
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| der)
        .collect();
    if certs.is_empty() {
        return Err(bad(format!(
            "{what}: no certificate found: expected PEM 'CERTIFICATE' sections or one DER certificate"
        )));
    }
    Ok(certs)
}

fn pem_sections(bytes: &[u8], what: &str) -> Result<Vec<(SectionKind, Vec<u8>)>> {
    let mut reader = bytes;
    let mut sections = Vec::new();
    loop {
        match rustls_pki_types::pem::from_buf(&mut reader) {
            Ok(Some(section)) => sections.push(section),
            Ok(None) => return Ok(sections),
            Err(e) => return Err(bad(format!("{what}: not valid PEM ({e})"))),
        }
    }
}

/// The container a private key came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyForm {
    /// PKCS#8 `PrivateKeyInfo` (`PRIVATE KEY`).
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey` (`RSA PRIVATE KEY`).
    Pkcs1,
    /// SEC1 `ECPrivateKey` (`EC PRIVATE KEY`).
    Sec1,
    /// PKCS#8 `EncryptedPrivateKeyInfo` (`ENCRYPTED PRIVATE KEY`).
    EncryptedPkcs8,
}

impl KeyForm {
    /// The PEM label of this form.
    pub fn pem_label(self) -> &'static str {
        match self {
            KeyForm::Pkcs8 => "PRIVATE KEY",
            KeyForm::Pkcs1 => "RSA PRIVATE KEY",
            KeyForm::Sec1 => "EC PRIVATE KEY",
            KeyForm::EncryptedPkcs8 => "ENCRYPTED PRIVATE KEY",
        }
    }
}

/// A private key as it was given: its container and DER bytes (still encrypted if it was).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The container.
    pub form: KeyForm,
    /// DER.
    pub der: Vec<u8>,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFile({:?}, {} bytes)", self.form, self.der.len())
    }
}

impl KeyFile {
    /// Whether a passphrase is needed to use it.
    pub fn encrypted(&self) -> bool {
        self.form == KeyForm::EncryptedPkcs8
    }

    /// PEM text of the key as given.
    pub fn to_pem(&self) -> Result<String> {
        to_pem(self.form.pem_label(), &self.der)
    }
}

/// A plaintext private key: PKCS#8, PKCS#1 or SEC1 DER. The decrypted bytes are wiped when
/// dropped.
pub struct PlainKey {
    form: KeyForm,
    der: pkcs8::SecretDocument,
}

impl fmt::Debug for PlainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlainKey({:?}, ..)", self.form)
    }
}

/// Reads the one private key of a file: PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE
/// KEY` or `ENCRYPTED PRIVATE KEY`; certificates beside it are ignored) or DER of any of these.
pub fn read_key(bytes: &[u8]) -> Result<KeyFile> {
    const WHAT: &str = "--key";
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(format!("{WHAT}: the file is empty")));
    }
    if bytes.first() == Some(&0x30) {
        return Ok(KeyFile { form: der_key_form(bytes)?, der: bytes.to_vec() });
    }
    if contains(bytes, b"Proc-Type: 4,ENCRYPTED") {
        return Err(Error::Unsupported(format!(
            "{WHAT}: legacy OpenSSL key encryption (Proc-Type: 4,ENCRYPTED); convert the key to encrypted \
             PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
        )));
    }
    let mut keys: Vec<KeyFile> = pem_sections(bytes, WHAT)?
        .into_iter()
        .filter_map(|(kind, der)| {
            let form = match kind {
                SectionKind::PrivateKey => KeyForm::Pkcs8,
                SectionKind::RsaPrivateKey => KeyForm::Pkcs1,
                SectionKind::EcPrivateKey => KeyForm::Sec1,
                _ => return None,
            };
            Some(KeyFile { form, der })
        })
        .collect();
    // pki-types skips the sections it does not know, the encrypted key among them.
    const BEGIN: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &[u8] = b"-----END ENCRYPTED PRIVATE KEY-----";
    let mut rest = bytes;
    while let Some(start) = find(rest, BEGIN) {
        let section = &rest[start..];
        let end = find(section, END).ok_or_else(|| bad(format!("{WHAT}: an ENCRYPTED PRIVATE KEY section has no end")))?
            + END.len();
        let (_, der) = pem_rfc7468::decode_vec(&section[..end])
            .map_err(|e| bad(format!("{WHAT}: not valid PEM ({e})")))?;
        keys.push(KeyFile { form: KeyForm::EncryptedPkcs8, der });
        rest = &section[end..];
    }
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => Err(bad(format!(
            "{WHAT}: no private key found: expected PEM 'PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY' \
             or 'ENCRYPTED PRIVATE KEY', or DER"
        ))),
        n => Err(bad(format!("{WHAT}: the file holds {n} private keys: give exactly one"))),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// Which container a DER key is. The four are told apart by their first fields:
/// EncryptedPrivateKeyInfo starts with a SEQUENCE, PrivateKeyInfo with INTEGER then SEQUENCE,
/// ECPrivateKey with INTEGER 1 then OCTET STRING, RSAPrivateKey with nine INTEGERs.
fn der_key_form(der: &[u8]) -> Result<KeyForm> {
    if pkcs8::EncryptedPrivateKeyInfo::try_from(der).is_ok() {
        Ok(KeyForm::EncryptedPkcs8)
    } else if pkcs8::PrivateKeyInfo::try_from(der).is_ok() {
        Ok(KeyForm::Pkcs8)
    } else if sec1::EcPrivateKey::try_from(der).is_ok() {
        Ok(KeyForm::Sec1)
    } else if !matches!(ring::rsa::KeyPair::from_der(der), Err(e) if e.to_string() == "InvalidEncoding") {
        // Parsed as PKCS#1 (whether or not ring accepts the key itself: that is checked later).
        Ok(KeyForm::Pkcs1)
    } else {
        Err(bad("--key: not a private key: neither PEM nor DER PKCS#8, PKCS#1 or SEC1"))
    }
}

/// The plaintext key: decrypts an encrypted PKCS#8 key with `pass`.
pub fn decrypt(key: &KeyFile, pass: Option<&Passphrase>) -> Result<PlainKey> {
    let secret = |der: &[u8]| {
        pkcs8::SecretDocument::try_from(der).map_err(|e| bad(format!("--key: not a valid private key ({e})")))
    };
    if !key.encrypted() {
        return Ok(PlainKey { form: key.form, der: secret(&key.der)? });
    }
    let pass = pass.ok_or_else(|| {
        bad("--key: the key is encrypted: give its passphrase with --pass, or --passphrase-set true to use the previous certificate's")
    })?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(key.der.as_slice()).map_err(|e| {
        Error::Unsupported(format!(
            "--key: the key's encryption cannot be read by this build ({e}); PBES2 with PBKDF2-HMAC-SHA2 or scrypt and AES-CBC can"
        ))
    })?;
    check_encryption(&info.encryption_algorithm)?;
    let plain = info
        .decrypt(pass.expose())
        .map_err(|_| bad("--key: wrong passphrase, or the encrypted key is damaged"))?;
    // A wrong passphrase can, rarely, leave valid padding; the key must then still parse.
    if pkcs8::PrivateKeyInfo::try_from(plain.as_bytes()).is_err() {
        return Err(bad("--key: wrong passphrase, or the encrypted key is damaged"));
    }
    Ok(PlainKey { form: KeyForm::Pkcs8, der: plain })
}

/// Refuses encryption schemes this build cannot decrypt, and key-derivation parameters that
/// would take minutes or gigabytes, before any work is done.
fn check_encryption(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>) -> Result<()> {
    use pkcs8::pkcs5::pbes2::{Kdf, Pbkdf2Prf};
    let unsupported = |what: &str| {
        Err(Error::Unsupported(format!(
            "--key: {what}; re-encrypt the key with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
        )))
    };
    let params = match scheme {
        pkcs8::pkcs5::EncryptionScheme::Pbes2(params) => params,
        _ => return unsupported("PBES1 key encryption (DES/RC2 era) is not supported"),
    };
    match &params.kdf {
        Kdf::Pbkdf2(kdf) if kdf.prf == Pbkdf2Prf::HmacWithSha1 => unsupported("PBKDF2 with HMAC-SHA1 is not supported"),
        Kdf::Pbkdf2(kdf) if kdf.iteration_count > MAX_PBKDF2_ITERATIONS => Err(bad(format!(
            "--key: {} PBKDF2 iterations is more than the {MAX_PBKDF2_ITERATIONS} accepted",
            kdf.iteration_count
        ))),
        Kdf::Pbkdf2(_) => Ok(()),
        Kdf::Scrypt(kdf) => {
            let memory = 128u64.saturating_mul(u64::from(kdf.block_size)).saturating_mul(kdf.cost_parameter);
            if memory > MAX_SCRYPT_MEMORY || kdf.parallelization > 16 {
                return Err(bad("--key: the key's scrypt parameters need too much memory or time"));
            }
            Ok(())
        }
        _ => unsupported("the key derivation function is not supported"),
    }
}

/// What a plaintext key is, and the inner key DER ring and sec1 take.
enum KeyKind {
    Rsa,
    /// The curve when the key names it.
    Ec(Option<Curve>),
}

fn key_parts(key: &PlainKey) -> Result<(KeyKind, Vec<u8>)> {
    let der = key.der.as_bytes();
    match key.form {
        KeyForm::Pkcs1 => Ok((KeyKind::Rsa, der.to_vec())),
        KeyForm::Sec1 => Ok((KeyKind::Ec(None), der.to_vec())),
        KeyForm::Pkcs8 | KeyForm::EncryptedPkcs8 => {
            let info = pkcs8::PrivateKeyInfo::try_from(der)
                .map_err(|e| bad(format!("--key: not a valid PKCS#8 private key ({e})")))?;
            match info.algorithm.oid {
                RSA_ENCRYPTION => Ok((KeyKind::Rsa, info.private_key.to_vec())),
                EC_PUBLIC_KEY => {
                    let curve = match info.algorithm.parameters_oid() {
                        Ok(oid) => Some(Curve::from_oid(&oid).map_err(|e| bad(format!("--key: {e}")))?),
                        Err(_) => None,
                    };
                    Ok((KeyKind::Ec(curve), info.private_key.to_vec()))
                }
                other => Err(bad(format!(
                    "--key: {} keys are not accepted: only RSA (at least {RSA_MIN_BITS} bits) and EC P-256/P-384",
                    algorithm_name(&other)
                ))),
            }
        }
    }
}

/// Verifies `leaf` up to the certificates of a chain file, as a TLS client would (signatures,
/// validity at `now`, CA constraints, and the server-authentication key usage if the
/// certificate restricts its usage). The chain's self-issued certificates are the trust
/// anchors; a chain without one is trusted from its last certificate. Returns the subject of
/// the anchor reached.
pub fn verify_chain(leaf: &Certificate, chain: &[Certificate], now: i64) -> Result<String> {
    let mut anchors: Vec<&Certificate> = chain.iter().filter(|c| c.self_issued()).collect();
    if anchors.is_empty() {
        anchors.extend(chain.last());
    }
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .filter(|c| !anchors.iter().any(|a| std::ptr::eq(*a, *c)))
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let leaf_der = CertificateDer::from(leaf.der());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| bad(format!("--crt: the certificate cannot be verified ({e})")))?;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    let mut last_error = None;
    for anchor in &anchors {
        let anchor_der = CertificateDer::from(anchor.der());
        let trust = webpki::anchor_from_trusted_cert(&anchor_der)
            .map_err(|e| bad(format!("--chain: the certificate {} cannot be a trust anchor ({e})", anchor.subject())))?;
        match end_entity.verify_for_usage(
            CHAIN_ALGORITHMS,
            &[trust],
            &intermediates,
            time,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        ) {
            Ok(_) => return Ok(anchor.subject()),
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        None => bad("--chain: no certificate in the chain file"),
        Some(webpki::Error::UnknownIssuer) => {
            bad("--chain: the certificate does not verify up to the chain: no certificate of the chain issued it")
        }
        Some(webpki::Error::InvalidSignatureForPublicKey) => {
            bad("--chain: a signature on the way up the chain does not verify")
        }
        Some(webpki::Error::CertExpired { .. }) => bad("--chain: a certificate of the chain has expired"),
        Some(webpki::Error::CertNotValidYet { .. }) => bad("--chain: a certificate of the chain is not valid yet"),
        Some(webpki::Error::CaUsedAsEndEntity) => {
            bad("--crt: the certificate is a CA certificate (basicConstraints CA:TRUE), not a server certificate")
        }
        Some(webpki::Error::EndEntityUsedAsCa) => bad("--chain: a certificate of the chain is not a CA certificate"),
        Some(webpki::Error::RequiredEkuNotFoundContext(_)) => {
            bad("--crt: the certificate's extended key usage does not allow TLS server authentication")
        }
        Some(other) => bad(format!("--chain: the certificate does not verify up to the chain ({other})")),
    })
}

/// The signature algorithms a chain may use: webpki's list without Ed25519, whose verifier (and
/// its 24 KiB of tables) would be in the binary for nothing: keys of that type are refused.
static CHAIN_ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// ring's ECDSA key pair as rcgen's signer: rcgen writes the certificate, ring signs it.
struct RingSigner {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for RingSigner {
    fn der_bytes(&self) -> &[u8] {
        ring::signature::KeyPair::public_key(&self.pair).as_ref()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl rcgen::SigningKey for RingSigner {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        self.pair.sign(&self.rng, msg).map(|s| s.as_ref().to_vec()).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A new ECDSA key on `curve` from ring (the kernel's random numbers) and the certificate
/// `params` describe, self-signed with it. Returns the certificate's DER and the key's PKCS#8.
pub fn self_signed(params: &rcgen::CertificateParams, curve: Curve) -> Result<(Vec<u8>, Vec<u8>)> {
    let failed = |what: &str| Error::Problem(format!("certificate generation failed: {what}"));
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(curve.signing(), &rng)
        .map_err(|_| failed("no key from the random number generator"))?;
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(curve.signing(), pkcs8.as_ref(), &rng)
        .map_err(|e| failed(&e.to_string()))?;
    let algorithm = match curve {
        Curve::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        Curve::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    let signer = RingSigner { pair, rng, algorithm };
    let cert = params.self_signed(&signer).map_err(|e| failed(&e.to_string()))?;
    Ok((cert.der().to_vec(), pkcs8.as_ref().to_vec()))
}

/// PEM text (LF line ends) of one DER document.
pub fn to_pem(label: &str, der: &[u8]) -> Result<String> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der)
        .map_err(|e| Error::Problem(format!("PEM encoding failed ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(curve: Curve, names: &[&str]) -> (Certificate, KeyFile) {
        let mut params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x42]));
        let (cert, key) = self_signed(&params, curve).unwrap();
        (Certificate::parse(cert, "test").unwrap(), KeyFile { form: KeyForm::Pkcs8, der: key })
    }

    /// Found by the cert_import fuzzer (tests/fixtures/fuzz/cert_import-ec-point: its flags
    /// byte, then files separated by `\n=====\n`): a certificate whose EC public key is not an
    /// uncompressed point was accepted, to fail only when the key was checked against it.
    #[test]
    fn an_ec_key_that_is_not_an_uncompressed_point_is_refused() {
        let input = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/cert_import-ec-point")).unwrap();
        let mut files = Vec::new();
        let mut rest = &input[1..];
        while let Some(at) = rest.windows(7).position(|w| w == b"\n=====\n") {
            files.push(&rest[..at]);
            rest = &rest[at + 7..];
        }
        files.push(rest);
        let mut refused = 0;
        for file in files {
            for der in read_certificates(file, "test").unwrap_or_default() {
                match Certificate::parse(der, "test") {
                    Ok(cert) => {
                        if let PublicKey::Ec { curve, point } = cert.key() {
                            assert_eq!(point.len(), 1 + 2 * curve.scalar_len());
                            assert_eq!(point[0], 4);
                        }
                    }
                    Err(err) if err.to_string().contains("not an uncompressed point") => refused += 1,
                    Err(_) => {}
                }
            }
        }
        assert!(refused > 0, "the fuzzer's certificate was not refused for its point");
    }

    #[test]
    fn a_generated_pair_matches_and_a_foreign_key_does_not() {
        let (cert, key) = generated(Curve::P256, &["sensor.example", "192.0.2.7"]);
        assert_eq!(cert.key().kind(), "EC");
        assert_eq!(cert.key().bits(), 256);
        cert.check_key(&decrypt(&key, None).unwrap()).unwrap();
        let (_, other) = generated(Curve::P256, &["x"]);
        let err = cert.check_key(&decrypt(&other, None).unwrap()).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
        let (_, p384) = generated(Curve::P384, &["x"]);
        let err = cert.check_key(&decrypt(&p384, None).unwrap()).unwrap_err();
        assert!(err.to_string().contains("EC P-384 but the certificate's key is EC P-256"), "{err}");
    }

    #[test]
    fn names_and_coverage() {
        let (cert, _) = generated(Curve::P256, &["*.example.net", "sensor", "192.0.2.7"]);
        let names: Vec<String> = cert.names().unwrap().iter().map(|n| n.to_string()).collect();
        assert_eq!(names, ["DNS:*.example.net", "DNS:sensor", "IP:192.0.2.7"]);
        assert!(cert.covers_host("SENSOR").unwrap());
        assert!(cert.covers_host("a.example.net").unwrap());
        assert!(!cert.covers_host("example.net").unwrap());
        assert!(!cert.covers_host("a.b.example.net").unwrap());
        assert!(cert.covers_ip("192.0.2.7".parse().unwrap()).unwrap());
        assert!(!cert.covers_ip("192.0.2.8".parse().unwrap()).unwrap());
    }

    #[test]
    fn pem_and_der_input_and_garbage() {
        let (cert, key) = generated(Curve::P256, &["a"]);
        let pem = format!("Bag Attributes: text around is fine\n{}", to_pem("CERTIFICATE", cert.der()).unwrap());
        assert_eq!(read_certificates(pem.as_bytes(), "--crt").unwrap(), vec![cert.der().to_vec()]);
        assert_eq!(read_certificates(cert.der(), "--crt").unwrap(), vec![cert.der().to_vec()]);
        assert_eq!(read_key(&key.der).unwrap(), key);
        assert_eq!(read_key(key.to_pem().unwrap().as_bytes()).unwrap(), key);
        for garbage in [&b""[..], b"  \n", b"hello world", b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"] {
            assert_eq!(read_certificates(garbage, "--crt").unwrap_err().exit_code(), 2);
            assert_eq!(read_key(garbage).unwrap_err().exit_code(), 2);
        }
        assert!(Certificate::parse(vec![0x30, 0x03, 0x02, 0x01, 0x00], "--crt").is_err());
        assert!(read_key(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
    }

    #[test]
    fn a_wrong_passphrase_is_refused() {
        let (cert, key) = generated(Curve::P256, &["a"]);
        let document = pkcs8::SecretDocument::try_from(key.der.as_slice()).unwrap();
        let info = pkcs8::PrivateKeyInfo::try_from(document.as_bytes()).unwrap();
        // PBKDF2 as OpenSSL writes it (pkcs8's own default, scrypt, is slow in a debug build).
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"salt-salt", &[7; 16]).unwrap();
        let encrypted = info.encrypt_with_params(params, b"right-one").unwrap();
        let file = KeyFile { form: KeyForm::EncryptedPkcs8, der: encrypted.as_bytes().to_vec() };
        assert!(decrypt(&file, None).unwrap_err().to_string().contains("encrypted"));
        let wrong = Passphrase::parse("wrong-one").unwrap();
        assert!(decrypt(&file, Some(&wrong)).unwrap_err().to_string().contains("wrong passphrase"));
        let right = Passphrase::parse("right-one").unwrap();
        cert.check_key(&decrypt(&file, Some(&right)).unwrap()).unwrap();
    }
}
