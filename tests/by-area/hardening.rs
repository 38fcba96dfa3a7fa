//! Issue 20's hardening, through the real binary: no write under the root follows a symbolic
//! link, and no process of the binary is dumpable.
//!
//! For every path the program writes (the audit log, the lock files, each stored file, the
//! backup directory, restore's staging) a symbolic link is planted at it in a sandbox root,
//! pointing at a root-owned file (or directory) outside; the command that writes there is run;
//! the outside file must be unchanged (bytes, mode, owner; a directory's listing) and the
//! command must have failed clearly (a one-line error naming the link) or replaced the link
//! with a regular file of its own, never followed it.

use crate::common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

/// What a command may do about the planted link.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Refuse: exit non-zero, the error names a symbolic link.
    Refused,
    /// Succeed, with the link replaced by a regular file (the rename replaces, never follows).
    Replaced,
    /// Succeed, warning that the audit log (a link, or under one) was not written.
    AuditWarning,
    /// Either of the above, or a clear refusal for another reason (the file is read first, and
    /// reading a link is not what this checks): only the outside file's state is judged.
    Unchanged,
}

struct Case {
    /// Where the link is planted, relative to the root.
    at: &'static str,
    /// A link to a directory (else to a file).
    dir: bool,
    /// What the outside file holds (so that a command reading it first finds what it expects).
    victim: &'static str,
    args: &'static [&'static str],
    stdin: &'static str,
    expect: Expect,
}

const SHADOW: &str = "root:*:19500:0:99999:7:::\nsupport:!:19501:0:99999:7:::\ncyberx:!:19502:0:99999:7:::\n";
const PASSWORD: &str = "New-Passw0rd!\n";

/// Every write path, with the command that writes it (root, in-process).
const CASES: &[Case] = &[
    Case { at: "var/log/sensorctl/audit.log", dir: false, victim: "precious\n", args: &["--role", "cyberx_host", "cert", "show"], stdin: "", expect: Expect::AuditWarning },
    Case { at: "var/log/sensorctl", dir: true, victim: "", args: &["--role", "cyberx_host", "cert", "show"], stdin: "", expect: Expect::AuditWarning },
    Case { at: "var/lib/sensorctl/backup.lock", dir: false, victim: "precious\n", args: &["system", "backup"], stdin: "", expect: Expect::Refused },
    Case { at: "var/lib/sensorctl", dir: true, victim: "", args: &["system", "backup"], stdin: "", expect: Expect::Refused },
    Case { at: "var/lib/sensorctl/backup-state.json", dir: false, victim: "precious\n", args: &["system", "backup"], stdin: "", expect: Expect::Replaced },
    Case { at: "var/lib/sensorctl/backup.key", dir: false, victim: "precious\n", args: &["system", "backup"], stdin: "", expect: Expect::Unchanged },
    Case { at: "var/cyberx/backups", dir: true, victim: "", args: &["system", "backup"], stdin: "", expect: Expect::Refused },
    Case { at: "var/cyberx/keys/certificates/.lock", dir: false, victim: "precious\n", args: &["cert", "self-signed"], stdin: "", expect: Expect::Refused },
    Case { at: "var/cyberx/keys/certificates", dir: true, victim: "", args: &["cert", "self-signed"], stdin: "", expect: Expect::Refused },
    Case { at: "var/cyberx/keys/certificates/active.json", dir: false, victim: "precious\n", args: &["cert", "self-signed"], stdin: "", expect: Expect::Unchanged },
    Case { at: "etc/sensorctl/config.json", dir: false, victim: "{\"version\": 1}\n", args: &["system", "login-protection", "--max-failed", "7"], stdin: "", expect: Expect::Replaced },
    Case { at: "etc/sensorctl", dir: true, victim: "", args: &["system", "login-protection", "--max-failed", "7"], stdin: "", expect: Expect::Refused },
    Case { at: "etc/sensorctl/users.json", dir: false, victim: "{\"version\":1,\"users\":[]}\n", args: &["system", "password", "support", "--password-stdin"], stdin: PASSWORD, expect: Expect::Replaced },
    Case { at: "etc/shadow", dir: false, victim: SHADOW, args: &["system", "password", "support", "--password-stdin"], stdin: PASSWORD, expect: Expect::Replaced },
    Case { at: "etc/.pwd.lock", dir: false, victim: "", args: &["system", "password", "support", "--password-stdin"], stdin: PASSWORD, expect: Expect::Refused },
    Case { at: "var/lib/sensorctl/upgrade.lock", dir: false, victim: "precious\n", args: &["system", "upgrade", "--rollback"], stdin: "", expect: Expect::Refused },
];

/// The sandbox every case starts from: passwd, group, a shadow with support in it, and some
/// data to back up.
fn appliance(label: &str) -> TempDir {
    let root = sandbox(label);
    let r = root.path();
    std::fs::write(r.join("etc/shadow"), SHADOW).unwrap();
    std::fs::set_permissions(r.join("etc/shadow"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::create_dir_all(r.join("etc/sensorctl")).unwrap();
    std::fs::create_dir_all(r.join("var/cyberx/keys")).unwrap();
    std::fs::write(r.join("var/cyberx/keys/k"), b"key material\n").unwrap();
    root
}

/// Bytes, mode and owner of a file, or the sorted listing (names, bytes) of a directory.
fn state(path: &Path) -> String {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let mut text = format!("{:o} {}:{}", meta.mode(), meta.uid(), meta.gid());
    if meta.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                format!("{}={:?}", e.file_name().to_string_lossy(), std::fs::read(e.path()).ok())
            })
            .collect();
        names.sort();
        text.push_str(&names.join(","));
    } else {
        text.push_str(&String::from_utf8_lossy(&std::fs::read(path).unwrap()));
    }
    text
}

#[test]
fn no_write_under_the_root_follows_a_planted_link() {
    if !is_root() {
        skip("runs the binary as root (in-process), and the outside files must be root's");
        return;
    }
    let mut failures = Vec::new();
    for (n, case) in CASES.iter().enumerate() {
        let root = appliance(&format!("links-{n}"));
        let outside = TempDir::new(&format!("links-outside-{n}"));
        let victim = if case.dir {
            let dir = outside.path().join("victim-dir");
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("inside"), b"precious\n").unwrap();
            dir
        } else {
            let file = outside.path().join("victim");
            std::fs::write(&file, case.victim).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            file
        };
        let link = root.path().join(case.at);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir(&link);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let before = state(&victim);

        let run = sensorctl(root.path(), case.args).stdin(case.stdin.as_bytes()).run();
        let label = format!("{} ({:?}), `{}`: exit {}, stderr {:?}", case.at, case.expect, case.args.join(" "), run.code, run.stderr);
        if state(&victim) != before {
            failures.push(format!("{label}: the outside {} changed", if case.dir { "directory" } else { "file" }));
            continue;
        }
        let still_link = std::fs::symlink_metadata(&link).map(|m| m.file_type().is_symlink()).unwrap_or(false);
        let ok = match case.expect {
            Expect::Refused => {
                run.code != 0 && run.stderr.lines().count() == 1 && run.stderr.contains("symbolic link")
            }
            Expect::Replaced => {
                let meta = std::fs::symlink_metadata(&link);
                run.code == 0 && meta.is_ok_and(|m| m.file_type().is_file() && m.uid() == 0)
            }
            Expect::AuditWarning => run.stderr.contains("audit log") && run.stderr.contains("symbolic link"),
            Expect::Unchanged => true,
        };
        if !ok {
            failures.push(format!("{label}: not what was expected (link still there: {still_link})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Restore's staging path beside a data path: a link planted there is removed, never followed,
/// and the restore completes. A link at its journal (which a restore reads first, to finish a
/// swap a kill cut short) is never written through: the restore refuses clearly.
#[test]
fn restore_staging_and_journal_links_are_never_followed() {
    if !is_root() {
        skip("runs the binary as root (in-process)");
        return;
    }
    for at in ["var/cyberx/.keys.sensorctl-restore", "var/lib/sensorctl/restore-journal.json"] {
        let root = appliance("links-restore");
        let outside = TempDir::new("links-restore-outside");
        let victim = outside.path().join("victim-dir");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("inside"), b"precious\n").unwrap();
        let backup = sensorctl(root.path(), &["system", "backup"]).run();
        assert_eq!(backup.code, 0, "{}", backup.stderr);
        std::fs::write(root.path().join("var/cyberx/keys/k"), b"changed since\n").unwrap();
        let link = root.path().join(at);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let before = state(&victim);
        let run = sensorctl(root.path(), &["system", "restore", "--yes"]).run();
        assert_eq!(state(&victim), before, "{at}: the outside directory changed");
        if at.ends_with(".json") {
            assert!(run.code != 0 && run.stderr.lines().count() == 1, "{at}: {}", run.stderr);
            continue;
        }
        assert_eq!(run.code, 0, "{at}: {}", run.stderr);
        assert_eq!(std::fs::read(root.path().join("var/cyberx/keys/k")).unwrap(), b"key material\n");
        assert!(!std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()), "{at}: the link is still there");
    }
}

/// A replaced file's owner comes from its spec: a users store that is another user's own file
/// (placed where root writes) becomes root's 0600, and a secret never takes a user's ownership.
#[test]
fn a_replaced_file_never_takes_the_owner_of_what_was_there() {
    if !is_root() {
        skip("runs the binary as root and chowns files to another user");
        return;
    }
    let root = appliance("owner-spec");
    let users = root.path().join("etc/sensorctl/users.json");
    std::fs::write(&users, "{\"version\":1,\"users\":[]}\n").unwrap();
    std::os::unix::fs::chown(&users, Some(SUPPORT_UID), Some(SUPPORT_UID)).unwrap();
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = root.path().join("etc/sensorctl/config.json");
    std::fs::write(&config, "{\"version\": 1}\n").unwrap();
    std::os::unix::fs::chown(&config, Some(SUPPORT_UID), Some(SUPPORT_UID)).unwrap();
    let run = sensorctl(root.path(), &["system", "password", "support", "--password-stdin"]).stdin(PASSWORD.as_bytes()).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let meta = std::fs::metadata(&users).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (0, 0, 0o600));
    let run = sensorctl(root.path(), &["system", "login-protection", "--max-failed", "7"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let meta = std::fs::metadata(&config).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (0, 0, 0o644));
    // The shadow file root set up keeps its mode (and group): the spec allows what root chose.
    let meta = std::fs::metadata(root.path().join("etc/shadow")).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o640));
}

/// Every process of the binary is non-dumpable (PR_SET_DUMPABLE 0): the kernel then gives its
/// /proc/PID files (environ, mem, fd …) to root, and the same user cannot read them.
#[test]
fn a_process_of_the_binary_is_not_dumpable() {
    if !is_root() {
        skip("runs the binary as another user to see /proc change hands");
        return;
    }
    if under_qemu() {
        // /proc/PID is qemu's process; whether qemu passes the prctl on is qemu's business.
        skip_on_this_target("under qemu-user /proc/PID describes qemu, not the guest");
        return;
    }
    let root = sandbox("dumpable");
    let mut child = sensorctl(root.path(), &["shell"])
        .uid(SUPPORT_UID)
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The shell prints its prompt once it is up (after the hardening in main).
    let mut prompt = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut prompt).unwrap();
    let owner = std::fs::metadata(format!("/proc/{pid}/environ")).unwrap().uid();
    let peek = std::process::Command::new("cat")
        .arg(format!("/proc/{pid}/environ"))
        .uid(SUPPORT_UID)
        .gid(SUPPORT_UID)
        .output()
        .unwrap();
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(owner, 0, "/proc/{pid}/environ is not root's: the process is dumpable");
    assert!(!peek.status.success(), "the same user read the process's environment");
}

/// `cert import --pass-stdin` takes the passphrase of an encrypted key from standard input, so
/// that it never is in argv (/proc/PID/cmdline); `--pass` still works, with a warning that says
/// why not to use it.
#[test]
fn a_passphrase_can_come_on_standard_input_and_argv_gets_a_warning() {
    if !is_root() {
        skip("runs the binary as root (the in-process path)");
        return;
    }
    if std::process::Command::new("openssl").arg("version").output().map(|o| !o.status.success()).unwrap_or(true) {
        skip("needs openssl for the encrypted key (scripts/test installs it)");
        return;
    }
    let root = sandbox("pass-stdin");
    let fx = TempDir::new("pass-stdin-fx");
    let ssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(fx.path()).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    ssl(&["req", "-x509", "-nodes", "-days", "30", "-subj", "/CN=fixture", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "plain.key", "-out", "c.crt"]);
    let pass = "Stdin#Pass(7)";
    ssl(&["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "plain.key", "-out", "enc.key", "-passout", &format!("pass:{pass}")]);
    let (crt, key) = (fx.path().join("c.crt"), fx.path().join("enc.key"));
    let (crt, key) = (crt.to_str().unwrap(), key.to_str().unwrap());

    let run = sensorctl(root.path(), &["cert", "import", "--crt", crt, "--key", key, "--pass-stdin"]).stdin(format!("{pass}\n").as_bytes()).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("--pass"), "no warning about argv: {}", run.stdout);
    let wrong = sensorctl(root.path(), &["cert", "import", "--crt", crt, "--key", key, "--pass-stdin"]).stdin(b"Wrong#Pass(7)\n").run();
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert!(wrong.stderr.contains("wrong passphrase"), "{}", wrong.stderr);
    let none = sensorctl(root.path(), &["cert", "import", "--crt", crt, "--key", key, "--pass-stdin"]).run();
    assert_eq!(none.code, 2, "{}", none.stderr);
    let both = sensorctl(root.path(), &["cert", "import", "--crt", crt, "--key", key, "--pass-stdin", "--pass", pass]).run();
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(both.stderr.contains("either --pass or --pass-stdin"), "{}", both.stderr);

    let argv = sensorctl(root.path(), &["cert", "import", "--crt", crt, "--key", key, "--pass", pass]).run();
    assert_eq!(argv.code, 0, "{}", argv.stderr);
    assert!(argv.stdout.starts_with("warning: --pass puts the passphrase in the command line"), "{}", argv.stdout);
    assert!(argv.stdout.contains("prefer --pass-stdin"), "{}", argv.stdout);
}

/// Release builds panic by trapping at once (scripts/build: `-C panic=immediate-abort`), which
/// by itself prints nothing: the trap's signal must still end the process, by that signal, with
/// one line on standard error saying it was a bug. Sent here with kill(2), as the trap would.
#[test]
fn a_trap_ends_the_process_by_its_signal_with_one_line_that_says_it_was_a_bug() {
    if !is_root() {
        skip("runs the restricted shell in a sandbox root");
        return;
    }
    // SIGILL and SIGTRAP are 4 and 5 on every Linux architecture.
    for (signal, name) in [(4, "SIGILL"), (5, "SIGTRAP")] {
        let root = sandbox("trap");
        let mut child = sensorctl(root.path(), &["shell"])
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The shell prints its prompt once it is up (after main installed the handler).
        let mut prompt = [0u8; 1];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut prompt).unwrap();
        let sent = std::process::Command::new("kill").args(["-s", &name[3..], &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(signal), "{name}: {stderr}");
        let ours: Vec<&str> = stderr.lines().filter(|line| line.starts_with("sensorctl:")).collect();
        assert_eq!(ours, [format!("sensorctl: internal error: stopped by a bug ({name}); please report the command")], "{stderr}");
    }
}
