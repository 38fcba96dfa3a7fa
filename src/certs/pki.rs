//! Reading and checking certificates and private keys: PEM or DER input, the X.509 fields,
//! key type and size, whether a key belongs to a certificate, the validity period, the chain;
//! and writing the one self-signed certificate the appliance makes.
//!
//! PEM sections: rustls-pki-types (lenient about text around the sections, as files from CAs
//! and Windows exports have). Certificate fields, PKCS#8, SEC1 and PBES2 structures: our small
//! DER reader on `untrusted` ([`super::der`]), for exactly the fields the checks and `cert
//! show` need. Keys: ring, for the RSA key itself (PKCS#1, which it checks for consistency)
//! and for the EC scalar, which it multiplies out and compares with the certificate's public
//! point. Encrypted PKCS#8: PBES2 with PBKDF2 (ring) or scrypt (the scrypt crate) and AES-CBC
//! (the aes and cbc crates). Chains: rustls-webpki on ring. The self-signed certificate: a
//! fixed-shape DER template ([`self_signed`]), signed by ring, that the import checks (and, in
//! the tests, openssl) read back.
//!
//! Pure (no file or kernel access); needs no privileges.
#![forbid(unsafe_code)]

use super::der::{self, tag, Bad};
use crate::error::{Error, Result};
use crate::time::Utc;
use crate::validate::Passphrase;
use rustls_pki_types::pem::SectionKind;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::fmt;
use std::net::IpAddr;
use untrusted::{Input, Reader};

/// Object identifiers, as their DER content bytes.
mod oid {
    pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    pub const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    pub const DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
    pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    pub const ED448: &[u8] = &[0x2b, 0x65, 0x71];
    pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    pub const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    pub const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
    pub const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    pub const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    /// Attribute types of names, with the short names RFC 4514 strings use.
    pub const NAMES: &[(&[u8], &str)] = &[
        (COMMON_NAME, "CN"),
        (&[0x55, 0x04, 0x05], "SERIALNUMBER"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "STREET"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19], "DC"),
        (&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01], "UID"),
        (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01], "EMAILADDRESS"),
    ];
    pub const PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
    /// PKCS#5 v1.5 (1.2.840.113549.1.5.x) and PKCS#12 (1.2.840.113549.1.12.1.x) schemes.
    pub const PBES1_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05];
    pub const PKCS12_PBE_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];
    pub const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
    pub const SCRYPT: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
    pub const HMAC_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x07];
    pub const HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
    pub const HMAC_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0a];
    pub const HMAC_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0b];
    pub const AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
    pub const AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
    pub const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
}

/// The smallest RSA modulus accepted (the reference's "minimum of 2,048 bits").
pub const RSA_MIN_BITS: usize = 2048;
/// The largest RSA modulus ring loads as a private key.
pub const RSA_MAX_BITS: usize = 4096;
/// PBKDF2 iteration counts above this are refused rather than computed (OpenSSL writes 2048).
const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;
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
    fn from_oid(oid: &[u8]) -> Result<Curve> {
        match oid {
            oid::P256 => Ok(Curve::P256),
            oid::P384 => Ok(Curve::P384),
            other => Err(bad(format!(
                "EC keys on the curve {} are not accepted: use P-256 or P-384",
                curve_name(other)
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

fn curve_name(oid: &[u8]) -> String {
    match oid {
        oid::P521 => "P-521".to_string(),
        oid::SECP256K1 => "secp256k1".to_string(),
        other => der::oid_text(other),
    }
}

fn algorithm_name(oid: &[u8]) -> String {
    match oid {
        oid::RSASSA_PSS => "RSASSA-PSS".to_string(),
        oid::DSA => "DSA".to_string(),
        oid::ED25519 => "Ed25519".to_string(),
        oid::ED448 => "Ed448".to_string(),
        other => format!("algorithm {}", der::oid_text(other)),
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
            // From the certificate, which may hold any bytes: escaped before a terminal sees it.
            CertName::Dns(name) => write!(f, "DNS:{}", crate::validate::system_text(name.as_bytes())),
            CertName::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// The fields of a certificate the checks and `cert show` use, as ranges of its DER.
#[derive(Clone, Debug)]
struct Fields {
    serial: Vec<u8>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    not_before: i64,
    not_after: i64,
    /// The contents of the subjectAltName extension's OCTET STRING, if it has one.
    san: Option<Vec<u8>>,
}

/// A parsed X.509 v3 certificate with a public key of an accepted type.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    fields: Fields,
    key: PublicKey,
}

/// What [`read_tbs`] found, before the public key is judged.
struct Tbs<'a> {
    version: u64,
    fields: Fields,
    key_algorithm: &'a [u8],
    key_params: der::Params<'a>,
    key_bits: &'a [u8],
}

fn read_certificate(der: &[u8]) -> der::Der<Tbs<'_>> {
    der::parse(Input::from(der), |r| {
        der::nested(r, tag::SEQUENCE, |cert| {
            let tbs = der::nested(cert, tag::SEQUENCE, read_tbs)?;
            der::algorithm(cert)?;
            der::expect(cert, tag::BIT_STRING)?;
            Ok(tbs)
        })
    })
}

fn read_tbs<'a>(r: &mut Reader<'a>) -> der::Der<Tbs<'a>> {
    let version = match der::optional(r, tag::context(0))? {
        Some(explicit) => der::parse(explicit, der::small)?,
        None => 0,
    };
    let serial = der::expect(r, tag::INTEGER)?.as_slice_less_safe().to_vec();
    if serial.is_empty() {
        return Err(Bad("an empty serial number"));
    }
    der::algorithm(r)?;
    let issuer = der::expect(r, tag::SEQUENCE)?.as_slice_less_safe().to_vec();
    let (not_before, not_after) = der::nested(r, tag::SEQUENCE, |validity| Ok((time(validity)?, time(validity)?)))?;
    let subject = der::expect(r, tag::SEQUENCE)?.as_slice_less_safe().to_vec();
    let (key_algorithm, key_params, key_bits) = der::nested(r, tag::SEQUENCE, |spki| {
        let (algorithm, params) = der::algorithm(spki)?;
        let bits = der::bit_string(spki)?;
        Ok((algorithm, params, bits))
    })?;
    der::optional(r, tag::context_primitive(1))?;
    der::optional(r, tag::context_primitive(2))?;
    let mut san = None;
    if let Some(extensions) = der::optional(r, tag::context(3))? {
        der::parse(extensions, |r| {
            der::nested(r, tag::SEQUENCE, |list| {
                if list.at_end() {
                    return Err(Bad("an empty extension list"));
                }
                while !list.at_end() {
                    der::nested(list, tag::SEQUENCE, |ext| {
                        let id = der::expect(ext, tag::OID)?.as_slice_less_safe();
                        der::optional(ext, tag::BOOLEAN)?;
                        let value = der::expect(ext, tag::OCTET_STRING)?.as_slice_less_safe();
                        if id == oid::SUBJECT_ALT_NAME {
                            if san.is_some() {
                                return Err(Bad("two subject alternative name extensions"));
                            }
                            san = Some(value.to_vec());
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })
        })?;
    }
    Ok(Tbs {
        version,
        fields: Fields { serial, issuer, subject, not_before, not_after, san },
        key_algorithm,
        key_params,
        key_bits,
    })
}

/// A `Time` (UTCTime `YYMMDDHHMMSSZ`, years 1950–2049, or GeneralizedTime `YYYYMMDDHHMMSSZ`)
/// as Unix seconds.
fn time(r: &mut Reader<'_>) -> der::Der<i64> {
    let (tag, value) = der::any(r)?;
    let text = value.as_slice_less_safe();
    let (year, rest) = match (tag, text.len()) {
        (tag::UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (tag::GENERALIZED_TIME, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return Err(Bad("a time that is not UTCTime or GeneralizedTime in seconds and Z")),
    };
    if rest.last() != Some(&b'Z') {
        return Err(Bad("a time that is not in UTC (Z)"));
    }
    let field = |at: usize| digits(&rest[at..at + 2]);
    let (month, day, hour, minute, second) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return Err(Bad("a time out of range"));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn digits(text: &[u8]) -> der::Der<i64> {
    text.iter().try_fold(0i64, |n, &b| {
        if b.is_ascii_digit() {
            Ok(n * 10 + i64::from(b - b'0'))
        } else {
            Err(Bad("a time with a character that is not a digit"))
        }
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Certificate {
    /// Parses one DER certificate; `what` names its origin in errors (`--crt`).
    pub fn parse(der: Vec<u8>, what: &str) -> Result<Certificate> {
        let tbs = read_certificate(&der).map_err(|e| bad(format!("{what}: not an X.509 certificate ({e})")))?;
        if tbs.version != 2 {
            return Err(bad(format!(
                "{what}: an X.509 {} certificate: only version 3 certificates are accepted",
                if tbs.version == 0 { "version 1" } else { "version 2" }
            )));
        }
        let key = public_key(tbs.key_algorithm, tbs.key_params, tbs.key_bits).map_err(|e| bad(format!("{what}: {e}")))?;
        let fields = tbs.fields;
        Ok(Certificate { der, fields, key })
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
        name_text(&self.fields.subject)
    }

    /// The issuer as an RFC 4514 string.
    pub fn issuer(&self) -> String {
        name_text(&self.fields.issuer)
    }

    /// Whether subject and issuer are the same name (a root or a self-signed certificate).
    pub fn self_issued(&self) -> bool {
        self.fields.subject == self.fields.issuer
    }

    /// Start of the validity period, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.fields.not_before
    }

    /// End of the validity period, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.fields.not_after
    }

    /// The serial number as colon-separated hex.
    pub fn serial(&self) -> String {
        colon_hex(&self.fields.serial)
    }

    /// SHA-256 of the DER, colon-separated upper-case hex (as `openssl x509 -fingerprint`).
    pub fn sha256_fingerprint(&self) -> String {
        colon_hex(ring::digest::digest(&ring::digest::SHA256, &self.der).as_ref())
    }

    /// The names the certificate is valid for: its subject alternative names, or, when it has
    /// none, the subject's common names (the legacy rule TLS clients still apply then).
    pub fn names(&self) -> Result<Vec<CertName>> {
        if let Some(san) = &self.fields.san {
            return alt_names(san).map_err(|e| bad(format!("the subject alternative names cannot be read ({e})")));
        }
        let mut names = Vec::new();
        let _ = attributes(&self.fields.subject, |id, tag, value| {
            if id == oid::COMMON_NAME && matches!(tag, tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING) {
                if let Ok(cn) = std::str::from_utf8(value) {
                    names.push(match cn.parse::<IpAddr>() {
                        Ok(ip) => CertName::Ip(ip),
                        Err(_) => CertName::Dns(cn.to_string()),
                    });
                }
            }
        });
        Ok(names)
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
                let ec = read_ec_private_key(&body).map_err(|e| bad(format!("--key: not a valid EC private key ({e})")))?;
                if let Some(params) = ec.curve {
                    let key_curve = Curve::from_oid(&params).map_err(|e| bad(format!("--key: {e}")))?;
                    if key_curve != *curve {
                        return Err(bad(format!(
                            "the key is EC {key_curve} but the certificate's key is EC {curve}: they do not belong together"
                        )));
                    }
                }
                // SEC1 writes the scalar at the curve's full length; some encoders drop leading
                // zero bytes, which changes nothing about the number.
                let mut scalar = vec![0u8; curve.scalar_len().saturating_sub(ec.scalar.len())];
                scalar.extend_from_slice(&ec.scalar);
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

fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// The subject public key of an accepted type, from the SPKI's algorithm, parameters and key.
fn public_key(algorithm: &[u8], params: der::Params<'_>, key_bytes: &[u8]) -> Result<PublicKey> {
    match algorithm {
        oid::RSA_ENCRYPTION => {
            // subjectPublicKey holds the DER RSAPublicKey { n, e }: ring's form of the public key.
            let modulus = der::parse(Input::from(key_bytes), |r| {
                der::nested(r, tag::SEQUENCE, |seq| {
                    let n = der::unsigned(seq)?;
                    der::unsigned(seq)?;
                    Ok(n)
                })
            })
            .map_err(|e| bad(format!("the RSA public key cannot be read ({e})")))?;
            let bits = match modulus.first() {
                Some(first) => (modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
                None => 0,
            };
            Ok(PublicKey::Rsa { bits, der: key_bytes.to_vec() })
        }
        oid::EC_PUBLIC_KEY => {
            let curve = match params {
                Some((tag::OID, curve)) => curve.as_slice_less_safe(),
                _ => return Err(bad("the EC public key names no curve")),
            };
            let curve = Curve::from_oid(curve)?;
            // The uncompressed form, the only one ring (and so TLS) uses; anything else would
            // only fail later, when the key is checked against it.
            if key_bytes.len() != 1 + 2 * curve.scalar_len() || key_bytes.first() != Some(&4) {
                return Err(bad(format!("the EC {curve} public key is not an uncompressed point")));
            }
            Ok(PublicKey::Ec { curve, point: key_bytes.to_vec() })
        }
        other => Err(bad(format!(
            "the certificate's key is {}: only RSA (at least {RSA_MIN_BITS} bits) and EC P-256/P-384 are accepted",
            algorithm_name(other)
        ))),
    }
}

/// Calls `each(type, value tag, value)` for every attribute of a `Name`'s contents (the RDN
/// sequence), in order.
fn attributes(name: &[u8], mut each: impl FnMut(&[u8], u8, &[u8])) -> der::Der<()> {
    der::parse(Input::from(name), |rdns| {
        while !rdns.at_end() {
            der::nested(rdns, tag::SET, |set| {
                while !set.at_end() {
                    der::nested(set, tag::SEQUENCE, |atv| {
                        let id = der::expect(atv, tag::OID)?.as_slice_less_safe();
                        let (value_tag, value) = der::any(atv)?;
                        each(id, value_tag, value.as_slice_less_safe());
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

/// A `Name` as an RFC 4514 string: RDNs last first, `,` between them, `+` within one;
/// string values with RFC 4514's escapes (control characters as `\XX`), other values and
/// unknown attribute types as `OID=#hex` of the value's DER. A name that cannot be read is
/// shown as `#` and its hex.
fn name_text(name: &[u8]) -> String {
    let mut rdns: Vec<Vec<String>> = Vec::new();
    let read = der::parse(Input::from(name), |r| {
        while !r.at_end() {
            let set = der::expect(r, tag::SET)?;
            let mut rdn = Vec::new();
            attributes(&der::tlv(tag::SET, set.as_slice_less_safe()), |id, value_tag, value| {
                rdn.push(attribute_text(id, value_tag, value));
            })?;
            rdns.push(rdn);
        }
        Ok(())
    });
    if read.is_err() {
        return format!("#{}", name.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    rdns.iter().rev().map(|rdn| rdn.join("+")).collect::<Vec<_>>().join(",")
}

fn attribute_text(id: &[u8], value_tag: u8, value: &[u8]) -> String {
    let short = oid::NAMES.iter().find(|(known, _)| *known == id).map(|(_, name)| *name);
    let string = match value_tag {
        tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | tag::TELETEX_STRING => std::str::from_utf8(value).ok(),
        _ => None,
    };
    let (Some(short), Some(string)) = (short, string) else {
        let hex: String = der::tlv(value_tag, value).iter().map(|b| format!("{b:02x}")).collect();
        return format!("{}=#{hex}", der::oid_text(id));
    };
    let mut out = format!("{short}=");
    let count = string.chars().count();
    for (i, c) in string.chars().enumerate() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i + 1 == count => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x00'..='\x1f' | '\x7f' => out.push_str(&format!("\\{:02x}", c as u8)),
            // C1 controls and the bidirectional overrides (a terminal acts on them, a reader
            // is misled by them), as RFC 4514 escapes any byte: each UTF-8 byte as \XX.
            c if c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{byte:02x}"));
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The DNS names and IP addresses of a subjectAltName extension's value (other kinds skipped).
fn alt_names(san: &[u8]) -> der::Der<Vec<CertName>> {
    der::parse(Input::from(san), |r| {
        der::nested(r, tag::SEQUENCE, |list| {
            let mut names = Vec::new();
            while !list.at_end() {
                let (name_tag, value) = der::any(list)?;
                let value = value.as_slice_less_safe();
                match name_tag {
                    t if t == tag::context_primitive(2) => {
                        let dns = std::str::from_utf8(value).map_err(|_| Bad("a DNS name that is not text"))?;
                        names.push(CertName::Dns(dns.to_string()));
                    }
                    t if t == tag::context_primitive(7) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(value) {
                            names.push(CertName::Ip(IpAddr::from(v4)));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(value) {
                            names.push(CertName::Ip(IpAddr::from(v6)));
                        }
                    }
                    _ => {}
                }
            }
            Ok(names)
        })
    })
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

/// A plaintext private key: PKCS#8, PKCS#1 or SEC1 DER. The decrypted bytes are overwritten
/// when dropped.
pub struct PlainKey {
    form: KeyForm,
    der: Vec<u8>,
}

impl Drop for PlainKey {
    fn drop(&mut self) {
        self.der.fill(0);
        // Keeps the compiler from dropping the stores to memory that is freed right after.
        std::hint::black_box(&self.der);
    }
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
        let section = &rest[start + BEGIN.len()..];
        let end = find(section, END).ok_or_else(|| bad(format!("{WHAT}: an ENCRYPTED PRIVATE KEY section has no end")))?;
        let body: Vec<u8> = section[..end].iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        let der = <base64ct::Base64 as base64ct::Encoding>::decode_vec(std::str::from_utf8(&body).unwrap_or("!"))
            .map_err(|_| bad(format!("{WHAT}: not valid PEM (the ENCRYPTED PRIVATE KEY section is not base64)")))?;
        keys.push(KeyFile { form: KeyForm::EncryptedPkcs8, der });
        rest = &section[end + END.len()..];
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

/// `EncryptedPrivateKeyInfo`: the encryption algorithm and its parameters, and the ciphertext.
struct EncryptedKey<'a> {
    algorithm: &'a [u8],
    params: der::Params<'a>,
    data: &'a [u8],
}

fn read_encrypted_key(der: &[u8]) -> der::Der<EncryptedKey<'_>> {
    der::parse(Input::from(der), |r| {
        der::nested(r, tag::SEQUENCE, |seq| {
            let (algorithm, params) = der::algorithm(seq)?;
            let data = der::expect(seq, tag::OCTET_STRING)?.as_slice_less_safe();
            Ok(EncryptedKey { algorithm, params, data })
        })
    })
}

/// `PrivateKeyInfo` (version 0, or 1 with a public key): the algorithm, its parameters and
/// the inner key.
fn read_private_key_info(der: &[u8]) -> der::Der<(&[u8], der::Params<'_>, &[u8])> {
    der::parse(Input::from(der), |r| {
        der::nested(r, tag::SEQUENCE, |seq| {
            if der::small(seq)? > 1 {
                return Err(Bad("an unknown PKCS#8 version"));
            }
            let (algorithm, params) = der::algorithm(seq)?;
            let key = der::expect(seq, tag::OCTET_STRING)?.as_slice_less_safe();
            der::optional(seq, tag::context(0))?;
            der::optional(seq, tag::context_primitive(1))?;
            Ok((algorithm, params, key))
        })
    })
}

/// SEC1 `ECPrivateKey`: the private scalar and the curve it names, if it names one.
struct EcPrivateKey {
    scalar: Vec<u8>,
    curve: Option<Vec<u8>>,
}

fn read_ec_private_key(der: &[u8]) -> der::Der<EcPrivateKey> {
    der::parse(Input::from(der), |r| {
        der::nested(r, tag::SEQUENCE, |seq| {
            if der::small(seq)? != 1 {
                return Err(Bad("an EC private key that is not version 1"));
            }
            let scalar = der::expect(seq, tag::OCTET_STRING)?.as_slice_less_safe().to_vec();
            let curve = match der::optional(seq, tag::context(0))? {
                Some(params) => match der::parse(params, |p| der::any(p))? {
                    (tag::OID, curve) => Some(curve.as_slice_less_safe().to_vec()),
                    _ => None,
                },
                None => None,
            };
            der::optional(seq, tag::context(1))?;
            Ok(EcPrivateKey { scalar, curve })
        })
    })
}

/// Which container a DER key is. The four are told apart by their first fields:
/// EncryptedPrivateKeyInfo starts with a SEQUENCE, PrivateKeyInfo with INTEGER then SEQUENCE,
/// ECPrivateKey with INTEGER 1 then OCTET STRING, RSAPrivateKey with nine INTEGERs.
fn der_key_form(der: &[u8]) -> Result<KeyForm> {
    if read_encrypted_key(der).is_ok() {
        Ok(KeyForm::EncryptedPkcs8)
    } else if read_private_key_info(der).is_ok() {
        Ok(KeyForm::Pkcs8)
    } else if read_ec_private_key(der).is_ok() {
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
    if !key.encrypted() {
        // One DER value; its fields are read (and named in errors) when the key is checked.
        if der::parse(Input::from(&key.der), |r| der::any(r).map(|_| ())).is_err() {
            return Err(bad("--key: not a valid private key"));
        }
        return Ok(PlainKey { form: key.form, der: key.der.clone() });
    }
    let pass = pass.ok_or_else(|| {
        bad("--key: the key is encrypted: give its passphrase with --pass, or --passphrase-set true to use the previous certificate's")
    })?;
    let info = read_encrypted_key(&key.der).map_err(|e| {
        Error::Unsupported(format!(
            "--key: the key's encryption cannot be read by this build ({e}); PBES2 with PBKDF2-HMAC-SHA2 or scrypt and AES-CBC can"
        ))
    })?;
    let scheme = pbes2_scheme(&info)?;
    let plain = scheme
        .decrypt(pass.expose().as_bytes(), info.data)
        .ok_or_else(|| bad("--key: wrong passphrase, or the encrypted key is damaged"))?;
    let plain = PlainKey { form: KeyForm::Pkcs8, der: plain };
    // A wrong passphrase can, rarely, leave valid padding; the key must then still parse.
    if read_private_key_info(&plain.der).is_err() {
        return Err(bad("--key: wrong passphrase, or the encrypted key is damaged"));
    }
    Ok(plain)
}

/// A PBES2 scheme this build can decrypt, with its parameters read and checked.
struct Pbes2 {
    kdf: Kdf,
    salt: Vec<u8>,
    /// AES key length in bytes: 16, 24 or 32.
    key_len: usize,
    iv: [u8; 16],
}

enum Kdf {
    Pbkdf2 { prf: ring::pbkdf2::Algorithm, iterations: std::num::NonZeroU32 },
    Scrypt { log_n: u8, r: u32, p: u32 },
}

/// Reads the PBES2 parameters, refusing schemes this build cannot decrypt and key-derivation
/// parameters that would take minutes or gigabytes, before any work is done.
fn pbes2_scheme(info: &EncryptedKey<'_>) -> Result<Pbes2> {
    let unsupported = |what: &str| {
        Error::Unsupported(format!("--key: {what}; re-encrypt the key with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"))
    };
    if info.algorithm.starts_with(oid::PBES1_PREFIX) && info.algorithm != oid::PBES2 || info.algorithm.starts_with(oid::PKCS12_PBE_PREFIX) {
        return Err(unsupported("PBES1 key encryption (DES/RC2 era) is not supported"));
    }
    if info.algorithm != oid::PBES2 {
        return Err(unsupported(&format!("the key encryption {} is not supported", der::oid_text(info.algorithm))));
    }
    let unreadable = |e: Bad| unsupported(&format!("the key's PBES2 parameters cannot be read ({e})"));
    let params = match info.params {
        Some((tag::SEQUENCE, params)) => params,
        _ => return Err(unreadable(Bad("no parameters"))),
    };
    let ((kdf_oid, kdf_params), (cipher_oid, cipher_params)) =
        der::parse(params, |r| Ok((der::algorithm(r)?, der::algorithm(r)?))).map_err(unreadable)?;
    let key_len = match cipher_oid {
        oid::AES128_CBC => 16,
        oid::AES192_CBC => 24,
        oid::AES256_CBC => 32,
        _ => return Err(unsupported("the key's cipher is not supported (AES-CBC is)")),
    };
    let iv = match cipher_params {
        Some((tag::OCTET_STRING, iv)) => <[u8; 16]>::try_from(iv.as_slice_less_safe()).map_err(|_| unreadable(Bad("an IV that is not 16 bytes")))?,
        _ => return Err(unreadable(Bad("no IV"))),
    };
    let kdf_params = match kdf_params {
        Some((tag::SEQUENCE, params)) => params,
        _ => return Err(unreadable(Bad("no key derivation parameters"))),
    };
    match kdf_oid {
        oid::PBKDF2 => {
            let (salt, iterations, length, prf) = der::parse(kdf_params, |r| {
                let salt = der::expect(r, tag::OCTET_STRING)?.as_slice_less_safe().to_vec();
                let iterations = der::small(r)?;
                let length = if r.peek(tag::INTEGER) { Some(der::small(r)?) } else { None };
                let prf = if r.at_end() { oid::HMAC_SHA1 } else { der::algorithm(r)?.0 };
                Ok((salt, iterations, length, prf))
            })
            .map_err(unreadable)?;
            let prf = match prf {
                oid::HMAC_SHA256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
                oid::HMAC_SHA384 => ring::pbkdf2::PBKDF2_HMAC_SHA384,
                oid::HMAC_SHA512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
                oid::HMAC_SHA1 => return Err(unsupported("PBKDF2 with HMAC-SHA1 is not supported")),
                _ => return Err(unsupported("PBKDF2 with this HMAC is not supported (SHA-256, SHA-384, SHA-512 are)")),
            };
            if iterations > MAX_PBKDF2_ITERATIONS {
                return Err(bad(format!("--key: {iterations} PBKDF2 iterations is more than the {MAX_PBKDF2_ITERATIONS} accepted")));
            }
            if length.is_some_and(|l| l != key_len as u64) {
                return Err(unreadable(Bad("a key length that is not the cipher's")));
            }
            let iterations = u32::try_from(iterations)
                .ok()
                .and_then(std::num::NonZeroU32::new)
                .ok_or_else(|| unreadable(Bad("no iterations")))?;
            Ok(Pbes2 { kdf: Kdf::Pbkdf2 { prf, iterations }, salt, key_len, iv })
        }
        oid::SCRYPT => {
            let (salt, cost, r, p, length) = der::parse(kdf_params, |r| {
                let salt = der::expect(r, tag::OCTET_STRING)?.as_slice_less_safe().to_vec();
                let (cost, block, parallel) = (der::small(r)?, der::small(r)?, der::small(r)?);
                let length = if r.at_end() { None } else { Some(der::small(r)?) };
                Ok((salt, cost, block, parallel, length))
            })
            .map_err(unreadable)?;
            let memory = 128u64.saturating_mul(r).saturating_mul(cost);
            if memory > MAX_SCRYPT_MEMORY || p > 16 || !cost.is_power_of_two() || cost < 2 || r == 0 || p == 0 {
                return Err(bad("--key: the key's scrypt parameters need too much memory or time"));
            }
            if length.is_some_and(|l| l != key_len as u64) {
                return Err(unreadable(Bad("a key length that is not the cipher's")));
            }
            // Bounded just above: r ≤ 2^21 (memory), p ≤ 16, log2(cost) < 64.
            Ok(Pbes2 { kdf: Kdf::Scrypt { log_n: cost.trailing_zeros() as u8, r: r as u32, p: p as u32 }, salt, key_len, iv })
        }
        _ => Err(unsupported("the key derivation function is not supported")),
    }
}

impl Pbes2 {
    /// The plaintext, or `None` when the padding is wrong (a wrong passphrase, or damage).
    fn decrypt(&self, pass: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
        let mut key = [0u8; 32];
        let key = &mut key[..self.key_len];
        match &self.kdf {
            Kdf::Pbkdf2 { prf, iterations } => ring::pbkdf2::derive(*prf, *iterations, &self.salt, pass, key),
            Kdf::Scrypt { log_n, r, p } => {
                let params = scrypt::Params::new(*log_n, *r, *p, self.key_len).ok()?;
                scrypt::scrypt(pass, &self.salt, &params, key).ok()?;
            }
        }
        let mut buf = data.to_vec();
        let plain_len = match self.key_len {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, &self.iv).ok()?.decrypt_padded_mut::<Pkcs7>(&mut buf).ok()?.len(),
            24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, &self.iv).ok()?.decrypt_padded_mut::<Pkcs7>(&mut buf).ok()?.len(),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, &self.iv).ok()?.decrypt_padded_mut::<Pkcs7>(&mut buf).ok()?.len(),
        };
        key.fill(0);
        buf.truncate(plain_len);
        Some(buf)
    }
}

/// What a plaintext key is, and the inner key DER ring and the SEC1 reader take.
enum KeyKind {
    Rsa,
    /// The curve when the key names it.
    Ec(Option<Curve>),
}

fn key_parts(key: &PlainKey) -> Result<(KeyKind, Vec<u8>)> {
    let der = key.der.as_slice();
    match key.form {
        KeyForm::Pkcs1 => Ok((KeyKind::Rsa, der.to_vec())),
        KeyForm::Sec1 => Ok((KeyKind::Ec(None), der.to_vec())),
        KeyForm::Pkcs8 | KeyForm::EncryptedPkcs8 => {
            let (algorithm, params, inner) =
                read_private_key_info(der).map_err(|e| bad(format!("--key: not a valid PKCS#8 private key ({e})")))?;
            match algorithm {
                oid::RSA_ENCRYPTION => Ok((KeyKind::Rsa, inner.to_vec())),
                oid::EC_PUBLIC_KEY => {
                    let curve = match params {
                        Some((tag::OID, curve)) => {
                            Some(Curve::from_oid(curve.as_slice_less_safe()).map_err(|e| bad(format!("--key: {e}")))?)
                        }
                        _ => None,
                    };
                    Ok((KeyKind::Ec(curve), inner.to_vec()))
                }
                other => Err(bad(format!(
                    "--key: {} keys are not accepted: only RSA (at least {RSA_MIN_BITS} bits) and EC P-256/P-384",
                    algorithm_name(other)
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

/// What the self-signed certificate says: the one variable part of its fixed template.
pub struct SelfSigned<'a> {
    /// The subject's (and issuer's) common name.
    pub common_name: &'a str,
    /// DNS names for the subject alternative names (IA5: ASCII only).
    pub dns: &'a [String],
    /// IP addresses for the subject alternative names.
    pub ips: &'a [IpAddr],
    /// Validity, Unix seconds.
    pub not_before: i64,
    /// Validity, Unix seconds.
    pub not_after: i64,
    /// A positive serial number (its first byte below 0x80).
    pub serial: [u8; 16],
}

/// A new ECDSA P-256 key from ring (the kernel's random numbers) and a certificate of the
/// fixed shape below, self-signed with it (ECDSA with SHA-256). Returns the certificate's DER
/// and the key's PKCS#8.
///
/// The shape: X.509 v3; subject = issuer = one UTF8String common name; UTCTime validity
/// (GeneralizedTime from 2050); an EC P-256 key; extensions: subject alternative names (when
/// there are any), key usage digitalSignature (critical), extended key usage serverAuth, a
/// subject key identifier (RFC 7093: the first 160 bits of the key's SHA-256), and basic
/// constraints CA:FALSE (critical). The caller parses the result back with [`Certificate`].
pub fn self_signed(cert: &SelfSigned<'_>) -> Result<(Vec<u8>, Vec<u8>)> {
    use der::{constructed, tlv};
    let failed = |what: &str| Error::Problem(format!("certificate generation failed: {what}"));
    let curve = Curve::P256;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(curve.signing(), &rng)
        .map_err(|_| failed("no key from the random number generator"))?;
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(curve.signing(), pkcs8.as_ref(), &rng)
        .map_err(|e| failed(&e.to_string()))?;
    let point = ring::signature::KeyPair::public_key(&pair).as_ref();
    let time = |secs: i64| -> Result<Vec<u8>> {
        let day = Utc::from_unix(secs);
        if !(1970..=9999).contains(&day.year) {
            return Err(Error::Problem(format!("the clock says the year is {}: set the date first", day.year)));
        }
        let text = format!("{:04}{:02}{:02}{:02}{:02}{:02}Z", day.year, day.month, day.day, day.hour, day.minute, day.second);
        Ok(if day.year < 2050 { tlv(tag::UTC_TIME, &text.as_bytes()[2..]) } else { tlv(tag::GENERALIZED_TIME, text.as_bytes()) })
    };
    let name = constructed(
        tag::SEQUENCE,
        &[&constructed(tag::SET, &[&constructed(tag::SEQUENCE, &[&tlv(tag::OID, oid::COMMON_NAME), &tlv(tag::UTF8_STRING, cert.common_name.as_bytes())])])],
    );
    let algorithm = constructed(tag::SEQUENCE, &[&tlv(tag::OID, oid::ECDSA_WITH_SHA256)]);
    let mut bits = vec![0u8];
    bits.extend_from_slice(point);
    let spki = constructed(
        tag::SEQUENCE,
        &[&constructed(tag::SEQUENCE, &[&tlv(tag::OID, oid::EC_PUBLIC_KEY), &tlv(tag::OID, oid::P256)]), &tlv(tag::BIT_STRING, &bits)],
    );
    let extension = |id: &[u8], critical: bool, value: &[u8]| {
        let flag = if critical { tlv(tag::BOOLEAN, &[0xff]) } else { Vec::new() };
        constructed(tag::SEQUENCE, &[&tlv(tag::OID, id), &flag, &tlv(tag::OCTET_STRING, value)])
    };
    let mut extensions = Vec::new();
    let mut names = Vec::new();
    for dns in cert.dns {
        if !dns.is_ascii() {
            return Err(failed("a DNS name that is not ASCII"));
        }
        der::write(&mut names, tag::context_primitive(2), dns.as_bytes());
    }
    for ip in cert.ips {
        match ip {
            IpAddr::V4(v4) => der::write(&mut names, tag::context_primitive(7), &v4.octets()),
            IpAddr::V6(v6) => der::write(&mut names, tag::context_primitive(7), &v6.octets()),
        }
    }
    if !names.is_empty() {
        extensions.extend(extension(oid::SUBJECT_ALT_NAME, false, &tlv(tag::SEQUENCE, &names)));
    }
    // digitalSignature: bit 0, seven unused bits.
    extensions.extend(extension(oid::KEY_USAGE, true, &[tag::BIT_STRING, 2, 7, 0x80]));
    extensions.extend(extension(oid::EXT_KEY_USAGE, false, &constructed(tag::SEQUENCE, &[&tlv(tag::OID, oid::SERVER_AUTH)])));
    let key_id = ring::digest::digest(&ring::digest::SHA256, point);
    extensions.extend(extension(oid::SUBJECT_KEY_ID, false, &tlv(tag::OCTET_STRING, &key_id.as_ref()[..20])));
    extensions.extend(extension(oid::BASIC_CONSTRAINTS, true, &tlv(tag::SEQUENCE, &[])));
    if cert.serial[0] & 0x80 != 0 {
        return Err(failed("a negative serial number"));
    }
    let tbs = constructed(
        tag::SEQUENCE,
        &[
            &tlv(tag::context(0), &tlv(tag::INTEGER, &[2])),
            &tlv(tag::INTEGER, &cert.serial),
            &algorithm,
            &name,
            &constructed(tag::SEQUENCE, &[&time(cert.not_before)?, &time(cert.not_after)?]),
            &name,
            &spki,
            &tlv(tag::context(3), &tlv(tag::SEQUENCE, &extensions)),
        ],
    );
    let signature = pair.sign(&rng, &tbs).map_err(|_| failed("signing failed"))?;
    let mut sig_bits = vec![0u8];
    sig_bits.extend_from_slice(signature.as_ref());
    let der = constructed(tag::SEQUENCE, &[&tbs, &algorithm, &tlv(tag::BIT_STRING, &sig_bits)]);
    Ok((der, pkcs8.as_ref().to_vec()))
}

/// PEM text (LF line ends, 64 characters a line) of one DER document.
pub fn to_pem(label: &str, der: &[u8]) -> Result<String> {
    let body = <base64ct::Base64 as base64ct::Encoding>::encode_string(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 is ASCII.
        text.push_str(std::str::from_utf8(line).map_err(|_| Error::Problem("PEM encoding failed".to_string()))?);
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name from a certificate reaches the operator's terminal only escaped: C0, DEL, C1 and
    /// the bidirectional overrides, in the subject as in the DNS names.
    #[test]
    fn control_and_bidi_characters_in_names_are_escaped() {
        let cn = attribute_text(oid::COMMON_NAME, tag::UTF8_STRING, "a\u{1b}[2J\u{85}b\u{202e}c".as_bytes());
        assert_eq!(cn, "CN=a\\1b[2J\\c2\\85b\\e2\\80\\aec");
        assert_eq!(CertName::Dns("evil\u{1b}]0;x\u{7}.example".into()).to_string(), "DNS:evil\\x1b]0;x\\x07.example");
        assert_eq!(CertName::Dns("host\u{9b}2J".into()).to_string(), "DNS:host\\u{009b}2J");
    }

    fn generated(names: &[&str]) -> (Certificate, KeyFile) {
        let dns: Vec<String> = names.iter().filter(|n| n.parse::<IpAddr>().is_err()).map(|n| n.to_string()).collect();
        let ips: Vec<IpAddr> = names.iter().filter_map(|n| n.parse().ok()).collect();
        let mut serial = [0u8; 16];
        serial[15] = 0x42;
        let template = SelfSigned { common_name: names[0], dns: &dns, ips: &ips, not_before: 1_750_000_000, not_after: 1_790_000_000, serial };
        let (cert, key) = self_signed(&template).unwrap();
        (Certificate::parse(cert, "test").unwrap(), KeyFile { form: KeyForm::Pkcs8, der: key })
    }

    /// A P-384 key as ring makes it (PKCS#8), for the curve-mismatch check.
    fn p384_key() -> KeyFile {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(Curve::P384.signing(), &rng).unwrap();
        KeyFile { form: KeyForm::Pkcs8, der: pkcs8.as_ref().to_vec() }
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
        let (cert, key) = generated(&["sensor.example", "192.0.2.7"]);
        assert_eq!(cert.key().kind(), "EC");
        assert_eq!(cert.key().bits(), 256);
        cert.check_key(&decrypt(&key, None).unwrap()).unwrap();
        let (_, other) = generated(&["x"]);
        let err = cert.check_key(&decrypt(&other, None).unwrap()).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
        let err = cert.check_key(&decrypt(&p384_key(), None).unwrap()).unwrap_err();
        assert!(err.to_string().contains("EC P-384 but the certificate's key is EC P-256"), "{err}");
    }

    #[test]
    fn the_template_reads_back_field_by_field() {
        let (cert, _) = generated(&["sensor-7", "192.0.2.7"]);
        assert_eq!(cert.subject(), "CN=sensor-7");
        assert_eq!(cert.issuer(), "CN=sensor-7");
        assert!(cert.self_issued());
        assert_eq!((cert.not_before(), cert.not_after()), (1_750_000_000, 1_790_000_000));
        assert_eq!(cert.serial(), "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:42");
        // webpki takes it as an end-entity certificate, which checks its extensions too.
        let der = CertificateDer::from(cert.der());
        webpki::EndEntityCert::try_from(&der).unwrap();
        // Dates from 2050 are GeneralizedTime.
        let late = SelfSigned { common_name: "a", dns: &[], ips: &[], not_before: 2_524_608_000, not_after: 4_102_444_800, serial: [1; 16] };
        let cert = Certificate::parse(self_signed(&late).unwrap().0, "late").unwrap();
        assert_eq!((cert.not_before(), cert.not_after()), (2_524_608_000, 4_102_444_800));
        assert!(cert.names().unwrap() == [CertName::Dns("a".into())], "no SAN: the common name counts");
    }

    #[test]
    fn names_escape_and_order_as_rfc_4514_says() {
        use der::{constructed, tlv};
        let atv = |id: &[u8], t: u8, v: &[u8]| constructed(tag::SEQUENCE, &[&tlv(tag::OID, id), &tlv(t, v)]);
        let rdns = [
            constructed(tag::SET, &[&atv(&[0x55, 0x04, 0x06], tag::PRINTABLE_STRING, b"DE")]),
            constructed(tag::SET, &[&atv(&[0x55, 0x04, 0x0a], tag::UTF8_STRING, b"A, B+C")]),
            constructed(tag::SET, &[&atv(oid::COMMON_NAME, tag::UTF8_STRING, b" x\n"), &atv(&[0x2a, 0x03], tag::UTF8_STRING, b"y")]),
        ]
        .concat();
        assert_eq!(name_text(&rdns), "CN=\\ x\\0a+1.2.3=#0c0179,O=A\\, B\\+C,C=DE");
        assert_eq!(name_text(&[0x31, 0x05]), "#3105");
    }

    #[test]
    fn names_and_coverage() {
        let (cert, _) = generated(&["*.example.net", "sensor", "192.0.2.7"]);
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
        let (cert, key) = generated(&["a"]);
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

    /// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
    fn encrypted(plain: &[u8], pass: &[u8]) -> Vec<u8> {
        use cbc::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
        use der::{constructed, tlv};
        let (salt, iv, iterations) = (b"salt-salt", [7u8; 16], 2048u32);
        let mut key = [0u8; 32];
        ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, std::num::NonZeroU32::new(iterations).unwrap(), salt, pass, &mut key);
        let data = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv).unwrap().encrypt_padded_vec_mut::<Pkcs7>(plain);
        let kdf = constructed(
            tag::SEQUENCE,
            &[
                &tlv(tag::OID, oid::PBKDF2),
                &constructed(tag::SEQUENCE, &[&tlv(tag::OCTET_STRING, salt), &tlv(tag::INTEGER, &[0x08, 0x00]), &constructed(tag::SEQUENCE, &[&tlv(tag::OID, oid::HMAC_SHA256), &[0x05, 0x00]])]),
            ],
        );
        let cipher = constructed(tag::SEQUENCE, &[&tlv(tag::OID, oid::AES256_CBC), &tlv(tag::OCTET_STRING, &iv)]);
        let scheme = constructed(tag::SEQUENCE, &[&tlv(tag::OID, oid::PBES2), &constructed(tag::SEQUENCE, &[&kdf, &cipher])]);
        constructed(tag::SEQUENCE, &[&scheme, &tlv(tag::OCTET_STRING, &data)])
    }

    #[test]
    fn a_wrong_passphrase_is_refused() {
        let (cert, key) = generated(&["a"]);
        let file = KeyFile { form: KeyForm::EncryptedPkcs8, der: encrypted(&key.der, b"right-one") };
        assert_eq!(read_key(&file.der).unwrap().form, KeyForm::EncryptedPkcs8);
        assert_eq!(read_key(file.to_pem().unwrap().as_bytes()).unwrap(), file);
        assert!(decrypt(&file, None).unwrap_err().to_string().contains("encrypted"));
        let wrong = Passphrase::parse("wrong-one").unwrap();
        assert!(decrypt(&file, Some(&wrong)).unwrap_err().to_string().contains("wrong passphrase"));
        let right = Passphrase::parse("right-one").unwrap();
        cert.check_key(&decrypt(&file, Some(&right)).unwrap()).unwrap();
    }
}
