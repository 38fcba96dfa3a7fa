//! `cert import`, `cert self-signed` and `cert show` against fixtures made here by openssl, and
//! openssl as the independent judge of what sensorctl stores: the self-signed certificate must
//! satisfy `openssl x509` and `openssl verify`, and every stored key must have the public key
//! openssl reads from the stored certificate.


use crate::common::*;
use nanoserde::DeJson;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const STORE: &str = "var/cyberx/keys/certificates";

fn openssl_present() -> bool {
    Command::new("openssl").arg("version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Skips (with a reason) unless this machine can run the test: root, because only root runs
/// actions in-process (others go through a daemon), and openssl for the fixtures.
fn can_run(what: &str) -> bool {
    if !is_root() {
        skip(&format!("{what} runs the binary as root (the in-process path)"));
        return false;
    }
    if !openssl_present() {
        skip(&format!("{what} needs openssl (scripts/test installs it)"));
        return false;
    }
    true
}

/// The kernel's host name: what the appliance's certificate should name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

/// A directory of fixtures made by openssl.
struct Fixtures {
    dir: TempDir,
}

impl Fixtures {
    fn new(label: &str) -> Fixtures {
        Fixtures { dir: TempDir::new(label) }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.dir.path().join(name), bytes).unwrap();
        self.path(name)
    }

    /// Runs openssl in the fixture directory; panics with its stderr if it fails.
    fn ssl(&self, args: &[&str]) -> String {
        let out = Command::new("openssl").args(args).current_dir(self.dir.path()).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `<name>.key` and a self-signed `<name>.crt` (v3, 30 days) with `san` as its names.
    fn self_signed(&self, name: &str, newkey: &[&str], san: &str) -> (String, String) {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        let mut args = vec!["req", "-x509", "-nodes", "-days", "30", "-subj", "/CN=fixture"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-keyout", &key, "-out", &crt]);
        let ext = format!("subjectAltName={san}");
        if !san.is_empty() {
            args.extend_from_slice(&["-addext", &ext]);
        }
        self.ssl(&args);
        (self.path(&crt), self.path(&key))
    }

    /// A CA: `<name>.crt` self-signed with CA:TRUE, `<name>.key`.
    fn ca(&self, name: &str) {
        let (key, crt, subj) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN={name}"));
        self.ssl(&["req", "-x509", "-nodes", "-days", "30", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-subj", &subj, "-keyout", &key, "-out", &crt]);
    }

    /// `<name>.key`, `<name>.csr` for a P-256 key.
    fn request(&self, name: &str) {
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        self.ssl(&["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-subj", &format!("/CN={name}"), "-keyout", &key, "-out", &csr]);
    }

    /// `<name>.crt` signed by the CA `ca` with the extension file `ext` (a server certificate
    /// unless `ext` says otherwise), valid 30 days from now.
    fn sign(&self, name: &str, ca: &str, ext: &str) -> String {
        self.write(&format!("{name}.ext"), ext.as_bytes());
        self.ssl(&["x509", "-req", "-in", &format!("{name}.csr"), "-CA", &format!("{ca}.crt"), "-CAkey",
            &format!("{ca}.key"), "-CAcreateserial", "-days", "30", "-extfile", &format!("{name}.ext"),
            "-out", &format!("{name}.crt")]);
        self.path(&format!("{name}.crt"))
    }

    /// `<name>.crt` for the request `<csr>.csr`, signed by `ca` with `openssl ca` for a given validity period (openssl 3.0's
    /// `x509 -req` cannot date a certificate in the past); `ext` None makes a version 1
    /// certificate (no extensions).
    fn sign_dated(&self, name: &str, csr: &str, ca: &str, start: &str, end: &str, ext: Option<&str>) -> String {
        let db = format!("{name}-db");
        std::fs::create_dir_all(self.dir.path().join(&db)).unwrap();
        std::fs::write(self.dir.path().join(&db).join("index.txt"), b"").unwrap();
        std::fs::write(self.dir.path().join(&db).join("serial"), b"1000\n").unwrap();
        let config = format!(
            "[ca]\ndefault_ca = x\n[x]\ndatabase = {db}/index.txt\nnew_certs_dir = {db}\nserial = {db}/serial\n\
             default_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n"
        );
        self.write(&format!("{name}.cnf"), config.as_bytes());
        let (cnf, csr, crt, cacrt, cakey) =
            (format!("{name}.cnf"), format!("{csr}.csr"), format!("{name}.crt"), format!("{ca}.crt"), format!("{ca}.key"));
        let mut args = vec!["ca", "-batch", "-notext", "-config", &cnf, "-cert", &cacrt, "-keyfile", &cakey, "-in", &csr,
            "-startdate", start, "-enddate", end, "-out", &crt];
        let ext_file = format!("{name}.ext");
        if let Some(ext) = ext {
            self.write(&ext_file, ext.as_bytes());
            args.extend_from_slice(&["-extfile", &ext_file]);
        }
        self.ssl(&args);
        self.path(&crt)
    }
}

/// The server-certificate extensions for the appliance's host name and 127.0.0.1.
fn server_ext() -> String {
    format!("basicConstraints=CA:FALSE\nsubjectAltName=DNS:{},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", hostname())
}

/// A sandbox root and a board file whose management interface is `lo` (127.0.0.1), so that
/// the names a certificate should cover are known here.
struct Appliance {
    root: TempDir,
    board: String,
}

impl Appliance {
    fn new(label: &str) -> Appliance {
        let root = sandbox(label);
        let board = root.path().join("lo-board.json");
        std::fs::write(&board, board_json(|t| t.replace("\"management_interface\": \"eth0\"", "\"management_interface\": \"lo\""))).unwrap();
        let board = board.to_str().unwrap().to_string();
        Appliance { root, board }
    }

    fn store(&self) -> PathBuf {
        self.root.path().join(STORE)
    }

    /// `sensorctl --board <lo board> --role cyberx ARGS`.
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--board", self.board.as_str(), "--role", "cyberx"];
        all.extend_from_slice(args);
        sensorctl(self.root.path(), &all).run()
    }

    fn import(&self, crt: &str, key: &str, extra: &[&str]) -> Run {
        let mut args = vec!["cert", "import", "--crt", crt, "--key", key];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Every file of the store with its contents: what "nothing changed" compares.
    fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.map(|e| e.unwrap()) {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.store(), &mut out);
        out.sort();
        out
    }

    /// The active pair's directory, from active.json.
    fn active_dir(&self) -> Option<PathBuf> {
        let text = std::fs::read_to_string(self.store().join("active.json")).ok()?;
        let record = Record::deserialize_json(&text).unwrap();
        assert_eq!(record.version, 1);
        assert!(["import", "self-signed"].contains(&record.source.as_str()), "{}", record.source);
        assert!(record.installed_unix > 1_600_000_000);
        Some(self.store().join(record.dir))
    }
}

#[derive(DeJson)]
struct Record {
    version: u32,
    dir: String,
    source: String,
    installed_unix: i64,
}

#[derive(DeJson)]
struct ShowJson {
    subject: String,
    names: Vec<String>,
    issuer: String,
    self_signed: bool,
    status: String,
    key_type: String,
    key_bits: u64,
    sha256_fingerprint: String,
}

/// openssl's public key (PEM SubjectPublicKeyInfo) of a certificate file.
fn cert_pubkey(fx: &Fixtures, crt: &str) -> String {
    fx.ssl(&["x509", "-in", crt, "-noout", "-pubkey"])
}

/// openssl's public key of a private key file.
fn key_pubkey(fx: &Fixtures, key: &str, pass: Option<&str>) -> String {
    let passin = pass.map(|p| format!("pass:{p}"));
    let mut args = vec!["pkey", "-in", key, "-pubout"];
    if let Some(passin) = &passin {
        args.extend_from_slice(&["-passin", passin]);
    }
    fx.ssl(&args)
}

fn fingerprint(fx: &Fixtures, crt: &str) -> String {
    let out = fx.ssl(&["x509", "-in", crt, "-noout", "-fingerprint", "-sha256"]);
    out.trim().rsplit('=').next().unwrap().to_string()
}

/// After an accepted import: the active pair is the input certificate (openssl's fingerprint)
/// with a key whose public key openssl finds equal to the certificate's; the key is 0600.
fn assert_installed(app: &Appliance, fx: &Fixtures, crt: &str, pass: Option<&str>) {
    use std::os::unix::fs::PermissionsExt;
    let dir = app.active_dir().expect("an active record");
    let (stored_crt, stored_key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (stored_crt, stored_key) = (stored_crt.to_str().unwrap(), stored_key.to_str().unwrap());
    assert_eq!(fingerprint(fx, stored_crt), fingerprint(fx, crt));
    assert_eq!(key_pubkey(fx, stored_key, pass), cert_pubkey(fx, stored_crt));
    let mode = std::fs::metadata(stored_key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key.pem mode");
    let show = app.run(&["cert", "show", "--json"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let show = ShowJson::deserialize_json(show.stdout.trim()).unwrap();
    assert_eq!(show.sha256_fingerprint, fingerprint(fx, crt));
    assert_eq!(show.status, "valid");
}

/// A refusal: exit `code`, one line on stderr containing `expected`, the store unchanged.
fn assert_refused(app: &Appliance, run: Run, code: i32, expected: &str, before: &[(String, Vec<u8>)]) {
    assert_eq!(run.code, code, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stderr.contains(expected), "expected '{expected}' in: {}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("sensorctl: cert import: "), "{}", run.stderr);
    assert!(app.snapshot() == before, "a refused import changed the store");
}

#[test]
fn keys_of_accepted_types_and_sizes_are_imported_and_others_refused() {
    if !can_run("certificate import") {
        return;
    }
    let app = Appliance::new("cert-keys");
    let fx = Fixtures::new("cert-keys-fx");
    let san = format!("DNS:{},IP:127.0.0.1", hostname());
    let (rsa_crt, rsa_key) = fx.self_signed("rsa2048", &["-newkey", "rsa:2048"], &san);
    let (ec_crt, ec_key) = fx.self_signed("ec256", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], &san);
    let (ec384_crt, ec384_key) = fx.self_signed("ec384", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], &san);
    let (weak_crt, weak_key) = fx.self_signed("rsa1024", &["-newkey", "rsa:1024"], &san);
    let (_, other_key) = fx.self_signed("other", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], &san);
    let (_, other_rsa_key) = fx.self_signed("other-rsa", &["-newkey", "rsa:2048"], &san);
    let (ed_crt, ed_key) = fx.self_signed("ed25519", &["-newkey", "ed25519"], &san);

    // Nothing installed yet: cert show says so (exit 1).
    let show = app.run(&["cert", "show"]);
    assert_eq!(show.code, 1, "{}", show.stderr);
    assert!(show.stderr.contains("no active certificate"), "{}", show.stderr);

    let before = app.snapshot();
    assert_refused(&app, app.import(&weak_crt, &weak_key, &[]), 2, "RSA key has 1024 bits: at least 2048", &before);
    assert_refused(&app, app.import(&ed_crt, &ed_key, &[]), 2, "Ed25519", &before);
    assert_refused(&app, app.import(&ec_crt, &other_key, &[]), 2, "the key does not belong to the certificate", &before);
    assert_refused(&app, app.import(&rsa_crt, &other_rsa_key, &[]), 2, "the key does not belong to the certificate", &before);
    assert_refused(&app, app.import(&rsa_crt, &ec_key, &[]), 2, "the key is EC P-256 but the certificate's key is RSA 2048 bits", &before);
    assert_refused(&app, app.import(&ec384_crt, &ec_key, &[]), 2, "they do not belong together", &before);

    for (crt, key) in [(&rsa_crt, &rsa_key), (&ec_crt, &ec_key), (&ec384_crt, &ec384_key)] {
        let run = app.import(crt, key, &[]);
        assert_eq!(run.code, 0, "{crt}: {}", run.stderr);
        assert!(run.stdout.contains("registering the certificate as the active one"), "{}", run.stdout);
        assert!(!run.stdout.contains("warning"), "names cover host and 127.0.0.1: {}", run.stdout);
        assert_installed(&app, &fx, crt, None);
    }

    // The other containers and encodings of the same keys: PKCS#1 and SEC1, DER.
    fx.ssl(&["pkey", "-in", &rsa_key, "-traditional", "-out", "rsa-pkcs1.key"]);
    assert!(std::fs::read_to_string(fx.path("rsa-pkcs1.key")).unwrap().starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    fx.ssl(&["pkey", "-in", &ec_key, "-traditional", "-out", "ec-sec1.key"]);
    assert!(std::fs::read_to_string(fx.path("ec-sec1.key")).unwrap().starts_with("-----BEGIN EC PRIVATE KEY-----"));
    fx.ssl(&["x509", "-in", &ec_crt, "-outform", "DER", "-out", "ec256.der"]);
    fx.ssl(&["pkey", "-in", &ec_key, "-outform", "DER", "-out", "ec256-key.der"]);
    fx.ssl(&["pkey", "-in", &rsa_key, "-traditional", "-outform", "DER", "-out", "rsa-pkcs1.der"]);
    for (crt, key) in [
        (rsa_crt.clone(), fx.path("rsa-pkcs1.key")),
        (ec_crt.clone(), fx.path("ec-sec1.key")),
        (fx.path("ec256.der"), fx.path("ec256-key.der")),
        (rsa_crt.clone(), fx.path("rsa-pkcs1.der")),
    ] {
        let run = app.import(&crt, &key, &[]);
        assert_eq!(run.code, 0, "{crt} {key}: {}", run.stderr);
        assert_installed(&app, &fx, &crt, None);
    }
}

#[test]
fn validity_version_and_file_contents_are_checked() {
    if !can_run("certificate import") {
        return;
    }
    let app = Appliance::new("cert-dates");
    let fx = Fixtures::new("cert-dates-fx");
    fx.ca("root");
    fx.request("leaf");
    let key = fx.path("leaf.key");
    let ext = server_ext();
    let expired = fx.sign_dated("expired", "leaf", "root", "20200101000000Z", "20210101000000Z", Some(&ext));
    let future = fx.sign_dated("future", "leaf", "root", "20990101000000Z", "20991231000000Z", Some(&ext));
    let v1 = fx.sign_dated("v1", "leaf", "root", "20200101000000Z", "20990101000000Z", None);
    assert!(fx.ssl(&["x509", "-in", &v1, "-noout", "-text"]).contains("Version: 1 (0x0)"), "the fixture must be v1");
    let current = fx.sign("leaf", "root", &ext);
    let two = fx.write("two.pem", &[std::fs::read(&current).unwrap(), std::fs::read(fx.path("root.crt")).unwrap()].concat());
    let empty = fx.write("empty.crt", b"");
    let garbage = fx.write("garbage.crt", b"this is not a certificate\n\x00\x01\x02");
    let bad_base64 = fx.write("bad64.crt", b"-----BEGIN CERTIFICATE-----\n@@@@not base64@@@@\n-----END CERTIFICATE-----\n");
    let der_garbage = fx.write("garbage.der", &[0x30, 0x82, 0x01, 0x00, 0x01, 0x02]);
    let mut with_text = b"Bag Attributes\n    friendlyName: sensor\n".to_vec();
    with_text.extend(std::fs::read(&current).unwrap());
    let with_text = fx.write("with-text.crt", &with_text);

    let before = app.snapshot();
    assert_refused(&app, app.import(&expired, &key, &[]), 2, "the certificate has expired: its validity ended 2021-01-01T00:00:00Z", &before);
    assert_refused(&app, app.import(&future, &key, &[]), 2, "not valid yet: its validity starts 2099-01-01T00:00:00Z", &before);
    assert_refused(&app, app.import(&v1, &key, &[]), 2, "an X.509 version 1 certificate: only version 3", &before);
    assert_refused(&app, app.import(&two, &key, &[]), 2, "--crt: the file holds 2 certificates", &before);
    assert_refused(&app, app.import(&empty, &key, &[]), 2, "--crt: the file is empty", &before);
    assert_refused(&app, app.import(&garbage, &key, &[]), 2, "--crt: no certificate found", &before);
    assert_refused(&app, app.import(&bad_base64, &key, &[]), 2, "--crt: not valid PEM", &before);
    assert_refused(&app, app.import(&der_garbage, &key, &[]), 2, "--crt: not an X.509 certificate", &before);
    assert_refused(&app, app.import(&current, &empty, &[]), 2, "--key: the file is empty", &before);
    assert_refused(&app, app.import(&current, &garbage, &[]), 2, "--key: no private key found", &before);
    assert_refused(&app, app.import(&current, &der_garbage, &[]), 2, "--key: not a private key", &before);
    assert_refused(&app, app.import(&current, &current, &[]), 2, "--key: no private key found", &before);
    assert_refused(&app, app.import("/nonexistent/a.crt", &key, &[]), 2, "--crt /nonexistent/a.crt: No such file or directory", &before);

    // Text around the PEM section is fine, as in files exported with their bag attributes.
    let run = app.import(&with_text, &key, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_installed(&app, &fx, &current, None);
}

#[test]
fn chains_are_verified_up_to_the_chain_file() {
    if !can_run("certificate chains") {
        return;
    }
    let app = Appliance::new("cert-chain");
    let fx = Fixtures::new("cert-chain-fx");
    fx.ca("root");
    fx.ca("stranger");
    fx.request("inter");
    fx.sign("inter", "root", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    fx.request("leaf");
    let leaf = fx.sign("leaf", "inter", &server_ext());
    let key = fx.path("leaf.key");
    fx.request("client");
    let client_only = fx.sign("client", "inter", &format!("basicConstraints=CA:FALSE\nsubjectAltName=DNS:{}\nextendedKeyUsage=clientAuth\n", hostname()));
    let full = fx.write("full.pem", &[std::fs::read(fx.path("inter.crt")).unwrap(), std::fs::read(fx.path("root.crt")).unwrap()].concat());
    let inter_only = fx.path("inter.crt");
    let root_only = fx.path("root.crt");
    let stranger = fx.path("stranger.crt");
    // openssl agrees on which chains hold.
    let verify = |chain: &str| {
        Command::new("openssl").args(["verify", "-CAfile", &root_only, "-untrusted", chain, &leaf]).output().unwrap().status.success()
    };
    assert!(verify(&inter_only));

    let before = app.snapshot();
    assert_refused(&app, app.import(&leaf, &key, &["--chain", &root_only]), 2, "does not verify up to the chain", &before);
    assert_refused(&app, app.import(&leaf, &key, &["--chain", &stranger]), 2, "does not verify up to the chain", &before);
    let empty = fx.write("empty-chain.pem", b"");
    assert_refused(&app, app.import(&leaf, &key, &["--chain", &empty]), 2, "--chain: the file is empty", &before);
    assert_refused(&app, app.import(&client_only, &fx.path("client.key"), &["--chain", &full]), 2, "does not allow TLS server authentication", &before);

    for chain in [&full, &inter_only] {
        let run = app.import(&leaf, &key, &["--chain", chain]);
        assert_eq!(run.code, 0, "{chain}: {}", run.stderr);
        assert!(run.stdout.contains("the certificate verifies up to CN="), "{}", run.stdout);
        assert_installed(&app, &fx, &leaf, None);
        let stored_chain = app.active_dir().unwrap().join("chain.pem");
        let stored_chain = stored_chain.to_str().unwrap();
        // The stored chain is the given one, by openssl's reading of both.
        let subjects = |file: &str| fx.ssl(&["crl2pkcs7", "-nocrl", "-certfile", file]);
        assert_eq!(subjects(stored_chain), subjects(chain));
    }
}

#[test]
fn encrypted_keys_need_their_passphrase_and_it_can_be_reused() {
    if !can_run("encrypted keys") {
        return;
    }
    let app = Appliance::new("cert-pass");
    let fx = Fixtures::new("cert-pass-fx");
    let san = format!("DNS:{},IP:127.0.0.1", hostname());
    let (crt, key) = fx.self_signed("ec", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], &san);
    let (rsa_crt, rsa_key) = fx.self_signed("rsa", &["-newkey", "rsa:2048"], &san);
    let pass = "Right#Pass(1)";
    fx.ssl(&["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", &key, "-out", "ec-enc.key", "-passout", &format!("pass:{pass}")]);
    fx.ssl(&["pkcs8", "-topk8", "-v2", "aes-128-cbc", "-in", &rsa_key, "-out", "rsa-enc.key", "-passout", &format!("pass:{pass}")]);
    fx.ssl(&["pkcs8", "-topk8", "-scrypt", "-in", &key, "-out", "ec-scrypt.key", "-passout", &format!("pass:{pass}")]);
    fx.ssl(&["rsa", "-in", &rsa_key, "-aes256", "-traditional", "-out", "rsa-legacy.key", "-passout", &format!("pass:{pass}")]);
    let (enc, rsa_enc, scrypt, legacy) = (fx.path("ec-enc.key"), fx.path("rsa-enc.key"), fx.path("ec-scrypt.key"), fx.path("rsa-legacy.key"));
    assert!(std::fs::read_to_string(&enc).unwrap().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));

    let before = app.snapshot();
    assert_refused(&app, app.import(&crt, &enc, &[]), 2, "the key is encrypted: give its passphrase", &before);
    assert_refused(&app, app.import(&crt, &enc, &["--pass", "Wrong#Pass(1)"]), 2, "wrong passphrase", &before);
    assert_refused(&app, app.import(&crt, &enc, &["--pass", "bad$pass"]), 2, "--pass: character 4 of the passphrase is not allowed", &before);
    assert_refused(&app, app.import(&crt, &enc, &["--passphrase-set", "true"]), 2, "no passphrase is stored with the previous certificate", &before);
    assert_refused(&app, app.import(&crt, &enc, &["--pass", pass, "--passphrase-set", "true"]), 2, "either --pass or --passphrase-set", &before);
    assert_refused(&app, app.import(&rsa_crt, &legacy, &["--pass", pass]), 69, "legacy OpenSSL key encryption", &before);

    let run = app.import(&crt, &enc, &["--pass", pass]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_installed(&app, &fx, &crt, Some(pass));
    let dir = app.active_dir().unwrap();
    assert!(std::fs::read_to_string(dir.join("key.pem")).unwrap().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::read_to_string(dir.join("passphrase")).unwrap(), pass);
        assert_eq!(std::fs::metadata(dir.join("passphrase")).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // The next certificate's key under the same passphrase: --passphrase-set true reuses it.
    let run = app.import(&rsa_crt, &rsa_enc, &["--passphrase-set", "True"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_installed(&app, &fx, &rsa_crt, Some(pass));
    let run = app.import(&crt, &scrypt, &["--passphrase-set", "true"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_installed(&app, &fx, &crt, Some(pass));

    // A passphrase given for a key that has none is not stored.
    let run = app.import(&crt, &key, &["--pass", pass]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("the key is not encrypted"), "{}", run.stdout);
    assert!(!app.active_dir().unwrap().join("passphrase").exists());

    // Every import that reaches the executor is audited, refusals too (bad flags are refused
    // while parsing, before there is an action), under the certificate's SHA-256 fingerprint as
    // openssl computes it, and no passphrase ever reaches the log.
    let audit = std::fs::read_to_string(app.root.path().join("var/log/sensorctl/audit.log")).unwrap();
    let fingerprint = fx.ssl(&["x509", "-noout", "-fingerprint", "-sha256", "-in", &crt]);
    let fingerprint = fingerprint.trim().rsplit('=').next().unwrap();
    assert!(audit.lines().any(|l| l.contains("action=cert-import") && l.contains(&format!("target={fingerprint} result=\"ok: installed in "))), "{audit}");
    assert_eq!(audit.lines().filter(|l| l.contains("action=cert-import") && l.contains("result=\"refused: ")).count(), 3, "{audit}");
    assert_eq!(audit.lines().filter(|l| l.contains("action=cert-import") && l.contains("result=\"failed: ")).count(), 1, "{audit}");
    assert!(!audit.contains("Pass(1)") && !audit.contains("bad$pass"), "a passphrase in the audit log: {audit}");
}

#[test]
fn names_that_miss_the_host_or_management_address_are_a_warning_only() {
    if !can_run("name warnings") {
        return;
    }
    let app = Appliance::new("cert-names");
    let fx = Fixtures::new("cert-names-fx");
    let (crt, key) = fx.self_signed("elsewhere", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "DNS:elsewhere.example,IP:192.0.2.99");
    let run = app.import(&crt, &key, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&format!("do not cover the appliance's host name '{}'", hostname())), "{}", run.stdout);
    assert!(run.stdout.contains("do not cover the management address 127.0.0.1"), "{}", run.stdout);
    assert_installed(&app, &fx, &crt, None);
}

#[test]
fn the_self_signed_certificate_satisfies_openssl() {
    if !can_run("self-signed certificate") {
        return;
    }
    let app = Appliance::new("cert-self");
    let fx = Fixtures::new("cert-self-fx");
    let link = alias(app.root.path(), "cyberx-xsense-create-self-signed-certificate");
    let run = Invocation::new(link, app.root.path(), &["--board", &app.board]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = app.active_dir().unwrap();
    let (crt, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (crt, key) = (crt.to_str().unwrap(), key.to_str().unwrap());
    assert!(run.stdout.contains(&format!("writing new private key to '{key}'")), "{}", run.stdout);
    assert!(run.stdout.ends_with("registering the certificate as the active one\nfinished\n"), "{}", run.stdout);

    let text = fx.ssl(&["x509", "-in", crt, "-noout", "-text"]);
    assert!(text.contains("Version: 3 (0x2)"), "{text}");
    assert!(text.contains("NIST CURVE: P-256"), "{text}");
    assert!(text.contains(&format!("DNS:{}", hostname())), "{text}");
    assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    let verify = fx.ssl(&["verify", "-CAfile", crt, crt]);
    assert_eq!(verify.trim(), format!("{crt}: OK"));
    assert_eq!(key_pubkey(&fx, key, None), cert_pubkey(&fx, crt));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let show = app.run(&["cert", "show", "--json"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let show = ShowJson::deserialize_json(show.stdout.trim()).unwrap();
    assert_eq!(show.sha256_fingerprint, fingerprint(&fx, crt));
    assert_eq!(show.subject, format!("CN={}", hostname()));
    assert_eq!(show.issuer, show.subject);
    assert!(show.self_signed);
    assert_eq!((show.key_type.as_str(), show.key_bits), ("EC P-256", 256));
    assert_eq!(show.names, [format!("DNS:{}", hostname()), "IP:127.0.0.1".to_string()]);
    let text = app.run(&["cert", "show"]);
    assert!(text.stdout.contains(&format!("SHA-256 fingerprint: {}", fingerprint(&fx, crt))), "{}", text.stdout);
    // What we generate, we also accept as an import.
    let again = app.import(crt, key, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stdout.contains("warning"), "{}", again.stdout);
}

#[test]
fn only_cyberx_and_root_may_touch_certificates() {
    if !is_root() {
        skip("roles are tested by lowering root's role");
        return;
    }
    let root = sandbox("cert-roles");
    for command in [&["cert", "self-signed"][..], &["cert", "show"], &["cert", "import", "--crt", "/etc/hostname", "--key", "/etc/hostname"]] {
        for role in ["support", "cyberx_host", "none"] {
            let mut args = vec!["--role", role];
            args.extend_from_slice(command);
            let run = sensorctl(root.path(), &args).run();
            assert_eq!(run.code, 77, "{command:?} as {role}: {}", run.stderr);
            assert!(run.stderr.ends_with(&format!("permission denied for role {role}\n")), "{}", run.stderr);
        }
    }
    assert!(!root.path().join(STORE).exists(), "a denied action changed nothing");
}

#[test]
fn a_second_change_while_one_holds_the_lock_is_told_to_retry() {
    if !can_run("store lock") {
        return;
    }
    let app = Appliance::new("cert-lock");
    let store = app.store();
    std::fs::create_dir_all(&store).unwrap();
    let lock = store.join(".lock");
    std::fs::write(&lock, b"").unwrap();
    // util-linux flock(1) holds the lock as an independent process for 3 s (its child, sleep,
    // inherits the lock, so it is waited for rather than killed).
    let mut holder = Command::new("flock").arg(&lock).args(["sleep", "3"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let run = app.run(&["cert", "self-signed"]);
    assert!(holder.wait().unwrap().success());
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(run.stderr.contains("another certificate change is in progress"), "{}", run.stderr);
    assert!(app.active_dir().is_none());
    let run = app.run(&["cert", "self-signed"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_caller_imports_only_files_it_can_read_itself() {
    if !can_run("file permissions through the daemon") {
        return;
    }
    let app = Appliance::new("cert-perm");
    let fx = Fixtures::new("cert-perm-fx");
    let san = format!("DNS:{},IP:127.0.0.1", hostname());
    let (crt, key) = fx.self_signed("ec", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], &san);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&crt, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap(); // root's
    }
    let _daemon = Daemon::start(app.root.path());
    let denied = sensorctl(app.root.path(), &["cert", "import", "--crt", &crt, "--key", &key]).uid(CYBERX_UID).run();
    assert_eq!(denied.code, 2, "{}", denied.stderr);
    assert!(denied.stderr.contains(&format!("--key {key}: Permission denied")), "{}", denied.stderr);
    assert!(app.active_dir().is_none());
    std::os::unix::fs::chown(&key, Some(CYBERX_UID), None).unwrap();
    let run = sensorctl(app.root.path(), &["cert", "import", "--crt", &crt, "--key", &key]).uid(CYBERX_UID).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_installed(&app, &fx, &crt, None);
}

#[test]
fn kill_9_at_any_instant_never_leaves_the_record_on_a_missing_or_partial_pair() {
    if !can_run("kill -9 atomicity") {
        return;
    }
    let app = Appliance::new("cert-kill");
    let fx = Fixtures::new("cert-kill-fx");
    let san = format!("DNS:{},IP:127.0.0.1", hostname());
    let pairs = [
        fx.self_signed("a", &["-newkey", "rsa:2048"], &san),
        fx.self_signed("b", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], &san),
    ];
    let fingerprints: Vec<String> = pairs.iter().map(|(crt, _)| fingerprint(&fx, crt)).collect();
    let import_args = |(crt, key): &(String, String)| -> Vec<String> {
        ["--board", &app.board, "--role", "cyberx", "cert", "import", "--crt", crt, "--key", key]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    // How long one import takes here (the fastest of three), to spread the kills over its run.
    let mut span = u64::MAX;
    for pair in &pairs[..] {
        for _ in 0..2 {
            let started = Instant::now();
            let args = import_args(pair);
            let run = sensorctl(app.root.path(), &args.iter().map(String::as_str).collect::<Vec<_>>()).run();
            assert_eq!(run.code, 0, "{}", run.stderr);
            span = span.min(started.elapsed().as_micros() as u64);
        }
    }

    let mut jitter = Rng::new();
    let (mut completed, mut killed, mut mid_write) = (0, 0, 0);
    let pair_dirs = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(app.store())
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // At least 50 imports, and more (up to 300) until at least 3 were killed while writing the
    // new pair: the window that matters, however fast this machine's fsync is.
    let mut round = 0;
    while round < 50 || (mid_write < 3 && round < 300) {
        round += 1;
        let args = import_args(&pairs[round % 2]);
        let dirs_before = pair_dirs();
        let mut child = sensorctl(app.root.path(), &args.iter().map(String::as_str).collect::<Vec<_>>())
            .command()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        kill_9_after(&mut child, Duration::from_micros(jitter.below(span)));
        let status = child.wait().unwrap();
        if status.success() {
            completed += 1;
        } else {
            killed += 1;
            // Killed between creating its directory and switching the record.
            if pair_dirs().len() > dirs_before.len() && app.active_dir().is_some_and(|d| {
                dirs_before.contains(&d.file_name().unwrap().to_string_lossy().into_owned())
            }) {
                mid_write += 1;
            }
        }
        // The record names a complete pair: openssl reads the certificate, it is one of the
        // two imported, and the key's public key is the certificate's.
        let dir = app.active_dir().expect("the first import completed, so a record exists");
        let (crt, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let (crt, key) = (crt.to_str().unwrap(), key.to_str().unwrap());
        assert!(fingerprints.contains(&fingerprint(&fx, crt)), "round {round}: unknown certificate");
        assert_eq!(key_pubkey(&fx, key, None), cert_pubkey(&fx, crt), "round {round}: key and certificate differ");
    }
    eprintln!("kill -9: {completed} imports completed, {killed} killed part-way ({mid_write} of them while writing the new pair)");
    assert!(mid_write > 0, "no import was killed while writing its pair: the test proved nothing");
    // A completed import clears the leftovers of the killed ones: the new pair and the previous.
    let run = sensorctl(app.root.path(), &import_args(&pairs[1]).iter().map(String::as_str).collect::<Vec<_>>()).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dirs = std::fs::read_dir(app.store()).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert!(dirs <= 2, "{dirs} directories left in the store");
}
