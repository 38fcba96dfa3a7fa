//! The PEM/DER input to `cert import` (src/certs/mod.rs, src/certs/pki.rs): the certificate, the
//! private key (PKCS#8, PKCS#1, SEC1 or encrypted PKCS#8, PEM or DER) and the chain, through
//! the functions `cert import` calls, in its order: `read_certificates`, `Certificate::parse`,
//! `check_strength`, `read_key`, `decrypt`, `check_key`, `check_validity`, `verify_chain`,
//! `names`/`covers_*` and `to_pem`.
//!
//! Input: a flags byte (bit 0: give the passphrase `fuzzpass1`; bit 1: give none even for an
//! encrypted key), then the certificate file, the key file and optionally the chain file,
//! separated by `\n=====\n`. Besides "no panic", it checks what the parsers promise: what they
//! accept survives the PEM round trip that install writes, a key matches one public key only
//! (checked against a fixed openssl-made pair), an accepted validity window contains `now`, a
//! verified chain ends at a certificate of the chain, and the names listed are covered.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::certs::pki::{self, CertName, Certificate, KeyForm, PublicKey};
use sensorctl::validate::Passphrase;
use std::sync::OnceLock;

const SEPARATOR: &[u8] = b"\n=====\n";
/// 2030-01-01: inside the seed certificates' validity (made for ten years by make_seeds.py).
const NOW: i64 = 1_893_456_000;

/// An openssl-made EC P-256 certificate and its key (fuzz/fixtures/), the independent pair a
/// fuzzed key is also checked against.
struct Fixture {
    cert: Certificate,
    key: pki::PlainKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let der = pki::read_certificates(include_bytes!("../fixtures/fixed-ec.crt"), "fixture").unwrap().remove(0);
        let cert = Certificate::parse(der, "fixture").unwrap();
        let key = pki::decrypt(&pki::read_key(include_bytes!("../fixtures/fixed-ec.key")).unwrap(), None).unwrap();
        cert.check_key(&key).unwrap();
        Fixture { cert, key }
    })
}

fn split(mut data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    while let Some(at) = data.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        parts.push(&data[..at]);
        data = &data[at + SEPARATOR.len()..];
    }
    parts.push(data);
    parts
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let Some((&flags, rest)) = data.split_first() else { return };
    let parts = split(rest);
    let crt = parts[0];
    let key_bytes = parts.get(1).copied().unwrap_or_default();
    let chain_bytes = parts.get(2).copied();

    // The certificate file.
    let cert = match pki::read_certificates(crt, "--crt") {
        Ok(ders) => {
            assert!(!ders.is_empty());
            for der in &ders {
                // What install writes (cert.pem, chain.pem) reads back as the same DER.
                let pem = pki::to_pem("CERTIFICATE", der).unwrap();
                assert_eq!(pki::read_certificates(pem.as_bytes(), "pem").unwrap(), vec![der.clone()]);
            }
            ders.into_iter().next().and_then(|der| certificate(der, "--crt"))
        }
        Err(err) => {
            let _ = err.to_string();
            None
        }
    };

    // The key file.
    let key = match pki::read_key(key_bytes) {
        Ok(key) => {
            assert_eq!(key.encrypted(), key.form == KeyForm::EncryptedPkcs8);
            // key.pem is the key as given; it must read back as the same key.
            let again = pki::read_key(key.to_pem().unwrap().as_bytes()).unwrap();
            assert_eq!(again, key);
            Some(key)
        }
        Err(err) => {
            let _ = err.to_string();
            None
        }
    };
    let plain = key.as_ref().and_then(|key| {
        let pass = Passphrase::parse("fuzzpass1").unwrap();
        let pass = if flags & 2 != 0 { None } else if flags & 1 != 0 || key.encrypted() { Some(&pass) } else { None };
        match pki::decrypt(key, pass) {
            Ok(plain) => {
                assert!(pass.is_some() || !key.encrypted(), "an encrypted key decrypted without a passphrase");
                Some(plain)
            }
            Err(_) => None,
        }
    });

    // The key belongs to at most one public key: if it matches the fuzzed certificate, it can
    // match the fixed certificate only when both carry the same key, and the fixed key can
    // match the fuzzed certificate only in that case too.
    if let Some(cert) = &cert {
        let same_key = cert.key() == fixture.cert.key();
        if let Some(plain) = &plain {
            if cert.check_key(plain).is_ok() && !same_key {
                assert!(fixture.cert.check_key(plain).is_err(), "one key matches two public keys");
            }
        }
        assert_eq!(cert.check_key(&fixture.key).is_ok(), same_key, "the fixed key and {}", cert.key());
    }
    if let Some(plain) = &plain {
        let _ = fixture.cert.check_key(plain);
    }

    // The chain file.
    if let (Some(cert), Some(chain_bytes)) = (&cert, chain_bytes) {
        if let Ok(ders) = pki::read_certificates(chain_bytes, "--chain") {
            let chain: Option<Vec<Certificate>> = ders.into_iter().map(|der| certificate(der, "--chain")).collect();
            if let Some(chain) = chain {
                if let Ok(anchor) = pki::verify_chain(cert, &chain, NOW) {
                    assert!(chain.iter().any(|c| c.subject() == anchor), "anchor {anchor} is not in the chain");
                    assert!(cert.check_validity("--crt", NOW).is_ok(), "a chain verified for a certificate out of its validity");
                }
            }
        }
    }
});

/// `Certificate::parse` and the checks import makes of the certificate alone.
fn certificate(der: Vec<u8>, what: &str) -> Option<Certificate> {
    let cert = match Certificate::parse(der.clone(), what) {
        Ok(cert) => cert,
        Err(err) => {
            let _ = err.to_string();
            return None;
        }
    };
    assert_eq!(cert.der(), der.as_slice());
    let _ = (cert.subject(), cert.issuer(), cert.serial(), cert.sha256_fingerprint(), cert.self_issued());
    if cert.check_strength(what).is_ok() {
        match cert.key() {
            PublicKey::Rsa { bits, .. } => assert!(*bits >= pki::RSA_MIN_BITS, "RSA {bits} accepted"),
            PublicKey::Ec { point, .. } => assert_eq!(point.first(), Some(&4)),
        }
    }
    for now in [NOW, cert.not_before(), cert.not_after(), i64::MIN, i64::MAX] {
        if cert.check_validity(what, now).is_ok() {
            assert!(cert.not_before() <= now && now <= cert.not_after(), "valid at {now}");
        }
    }
    if let Ok(names) = cert.names() {
        for name in names {
            match name {
                CertName::Dns(dns) if !dns.starts_with("*.") => {
                    assert!(cert.covers_host(&dns).unwrap(), "{dns} listed but not covered")
                }
                CertName::Dns(_) => {}
                CertName::Ip(ip) => assert!(cert.covers_ip(ip).unwrap(), "{ip} listed but not covered"),
            }
        }
    }
    Some(cert)
}
