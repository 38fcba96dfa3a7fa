//! argh arguments of the `cert` category (and the `cyberx-xsense-certificate-import` /
//! `cyberx-xsense-create-self-signed-certificate` aliases): argv → [`Action`].
//!
//! `cert import` reads its files here, in the caller's own process and with the caller's own
//! file permissions, and the action carries their contents: the daemon, which runs as root,
//! never opens a path on a caller's behalf (that would let a caller import any file root can
//! read). The passphrase is validated here as well, so that bad input is exit 2 before
//! anything runs; the executor checks everything again.
//!
//! Reads the files named on the command line; needs no privileges of its own.
#![forbid(unsafe_code)]

use crate::action::Action;
use crate::validate::{FileBytes, Passphrase};
use argh::FromArgs;
use std::io::{Read, Write};

/// The largest certificate, key or chain file read (certificate files are a few KiB).
const MAX_FILE: u64 = 1 << 20;

/// Import a TLS certificate and its private key for the appliance's web UI and API, check
/// them, and make them the active certificate.
#[derive(FromArgs, Debug)]
pub struct ImportArgs {
    /// the certificate file (.crt): PEM or DER, one X.509 v3 certificate
    #[argh(option)]
    pub crt: String,
    /// the private key file (.key): PEM or DER, PKCS#8, PKCS#1 or SEC1; RSA of at least 2048 bits or EC P-256/P-384
    #[argh(option)]
    pub key: String,
    /// the certificate chain file: the CA certificates the certificate verifies up to (optional)
    #[argh(option)]
    pub chain: Option<String>,
    /// the passphrase of an encrypted (PKCS#8) key; letters, digits and ! # % ( ) + , - . / : = ? @ [ \ ] ^ _ { } ~ (optional; visible to other processes: prefer --pass-stdin)
    #[argh(option)]
    pub pass: Option<String>,
    /// read the passphrase of an encrypted key as one line on standard input (not echoed on a terminal)
    #[argh(switch)]
    pub pass_stdin: bool,
    /// true to use the passphrase supplied with the previous certificate (default false)
    #[argh(option, default = "false", from_str_fn(true_or_false))]
    pub passphrase_set: bool,
}

/// Create a new ECDSA P-256 key and a self-signed certificate for this appliance's host name
/// and management address, and make it the active certificate (for troubleshooting, not for
/// production).
#[derive(FromArgs, Debug)]
pub struct SelfSignedArgs {}

/// Show the active certificate: subject, names, issuer, validity, key and fingerprint.
#[derive(FromArgs, Debug)]
pub struct ShowArgs {
    /// print JSON
    #[argh(switch)]
    pub json: bool,
}

/// `true` or `false`, in any case (the reference writes True and False).
fn true_or_false(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".to_string()),
    }
}

/// A usage error in argh's shape: one line on stderr, exit 2.
fn usage(output: String) -> argh::EarlyExit {
    argh::EarlyExit { output, status: Err(()) }
}

/// The contents of a file named by `option`, at most [`MAX_FILE`] bytes.
fn read_file(option: &str, path: &str) -> Result<Vec<u8>, argh::EarlyExit> {
    let shown = crate::validate::printable(path);
    let fail = |e: std::io::Error| usage(format!("{option} {shown}: {}", crate::error::strip_errno(&e)));
    let file = std::fs::File::open(path).map_err(fail)?;
    if !file.metadata().map_err(fail)?.is_file() {
        return Err(usage(format!("{option} {shown}: not a regular file")));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(fail)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(usage(format!("{option} {shown}: larger than {MAX_FILE} bytes: not a certificate file")));
    }
    Ok(bytes)
}

/// The reference's `-h` as argh's `--help`, where it is not the value of an option (a
/// passphrase may be `-h`).
fn with_long_help<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(args.len());
    let mut value_next = false;
    for &arg in args {
        out.push(if arg == "-h" && !value_next { "--help" } else { arg });
        value_next = !value_next && matches!(arg, "--crt" | "--key" | "--chain" | "--pass" | "--passphrase-set");
    }
    out
}

/// Parses `cert import` / `cyberx-xsense-certificate-import`.
pub fn parse_import(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ImportArgs::from_args(name, &with_long_help(args))?;
    if parsed.pass.is_some() && parsed.pass_stdin {
        return Err(usage("give either --pass or --pass-stdin, not both".to_string()));
    }
    if (parsed.pass.is_some() || parsed.pass_stdin) && parsed.passphrase_set {
        let option = if parsed.pass_stdin { "--pass-stdin" } else { "--pass" };
        return Err(usage(format!("give either {option} or --passphrase-set true, not both")));
    }
    let pass = parsed.pass.as_deref().map(|pass| Passphrase::parse(pass).map_err(|e| usage(format!("--pass: {e}")))).transpose()?;
    if pass.is_some() {
        // On standard output, as the import's other warnings: the import goes on.
        let mut stdout = std::io::stdout();
        let _ = writeln!(
            stdout,
            "warning: --pass puts the passphrase in the command line, visible to every process on this machine (ps, /proc/<pid>/cmdline); prefer --pass-stdin"
        );
    }
    let crt = read_file("--crt", &parsed.crt)?;
    let key = read_file("--key", &parsed.key)?;
    let chain = parsed.chain.as_deref().map(|path| read_file("--chain", path)).transpose()?;
    let pass = if parsed.pass_stdin { Some(read_pass_stdin()?) } else { pass };
    Ok(Action::CertImport {
        crt: FileBytes::new(crt),
        key: FileBytes::new(key),
        chain: chain.map(FileBytes::new),
        pass,
        passphrase_set: parsed.passphrase_set,
    })
}

/// `--pass-stdin`: one line of standard input (without echo on a terminal), checked as a
/// passphrase; read here, in the caller's process, like the files.
fn read_pass_stdin() -> Result<Passphrase, argh::EarlyExit> {
    use crate::prompt::{Echo, Prompter, Reply, Terminal};
    let failed = |e: crate::error::Error| usage(format!("--pass-stdin: {e}"));
    let idle = std::time::Duration::from_secs(crate::config::DEFAULT_SHELL_IDLE_TIMEOUT_S);
    let mut terminal = Terminal::stdin(idle).map_err(failed)?;
    let question = if terminal.is_tty() { "Key passphrase: " } else { "" };
    let text = match terminal.ask(question, Echo::Hidden).map_err(failed)? {
        Reply::Line(text) => text,
        Reply::Invalid(why) => return Err(usage(format!("--pass-stdin: {why}"))),
        Reply::End => return Err(usage("--pass-stdin: no passphrase on standard input".to_string())),
        Reply::Interrupted => return Err(usage("--pass-stdin: cancelled; nothing was changed".to_string())),
    };
    Passphrase::parse(&text).map_err(|e| usage(format!("--pass-stdin: {e}")))
}

/// Parses `cert self-signed` / `cyberx-xsense-create-self-signed-certificate`.
pub fn parse_self_signed(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    SelfSignedArgs::from_args(name, args)?;
    Ok(Action::CertSelfSigned {})
}

/// Parses `cert show`.
pub fn parse_show(name: &[&str], args: &[&str]) -> Result<Action, argh::EarlyExit> {
    let parsed = ShowArgs::from_args(name, args)?;
    Ok(Action::CertShow { json: parsed.json })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn import_reads_the_files_and_checks_the_passphrase_at_the_edge() {
        let dir = TempDir::new("cli-cert");
        let crt = dir.path().join("a.crt");
        let key = dir.path().join("a.key");
        std::fs::write(&crt, b"CRT").unwrap();
        std::fs::write(&key, b"KEY").unwrap();
        let (crt, key) = (crt.to_str().unwrap(), key.to_str().unwrap());
        let name = ["cert", "import"];
        assert_eq!(
            parse_import(&name, &["--crt", crt, "--key", key, "--pass", "a#b", "--passphrase-set", "False"]).unwrap(),
            Action::CertImport {
                crt: FileBytes::new(b"CRT".to_vec()),
                key: FileBytes::new(b"KEY".to_vec()),
                chain: None,
                pass: Passphrase::parse("a#b").ok(),
                passphrase_set: false
            }
        );
        assert_eq!(parse_import(&name, &["-h"]).unwrap_err().status, Ok(()), "-h is help, as in the reference");
        assert_eq!(with_long_help(&["--pass", "-h", "-h"]), ["--pass", "-h", "--help"]);
        let reuse = parse_import(&name, &["--crt", crt, "--key", key, "--passphrase-set", "TRUE"]).unwrap();
        assert!(matches!(reuse, Action::CertImport { passphrase_set: true, .. }));
        for (args, expected) in [
            (vec!["--crt", crt, "--key", key, "--pass", "a$b"], "--pass: character 2"),
            (vec!["--crt", crt, "--key", key, "--pass", "x", "--passphrase-set", "true"], "either --pass"),
            (vec!["--crt", crt, "--key", key, "--passphrase-set", "yes"], "expected true or false"),
            (vec!["--crt", "/nonexistent/x.crt", "--key", key], "--crt /nonexistent/x.crt: No such file"),
            (vec!["--crt", crt, "--key", "/"], "--key /: not a regular file"),
            (vec!["--crt", crt], "--key"),
        ] {
            let err = parse_import(&name, &args).unwrap_err();
            assert_eq!(err.status, Err(()), "{args:?}");
            assert!(err.output.contains(expected), "{args:?}: {}", err.output);
        }
    }
}
