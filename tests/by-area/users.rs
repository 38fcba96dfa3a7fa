//! Users and login against a temporary root with a realistic passwd/shadow pair: password
//! resets (both grammars), `passwd`, the password policy, the /etc/.pwd.lock lock, kill -9
//! during resets, `sensorctl auth` driven as pam_exec drives it, the failed-login protection and
//! the audit log. Python is the independent peer: its `crypt` module (the system's crypt(3))
//! checks the `$6$` hashes, `hashlib.pbkdf2_hmac` the users store, `fcntl.lockf` holds the lock.


use crate::common::*;
use nanoserde::DeJson;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN_UID: u32 = 4246;

/// The passwords the sandbox starts with (the shadow hashes are made by Python's crypt).
const OLD: &[(&str, &str)] = &[
    ("support", "Old-supp0rt"),
    ("admin", "Old-4dmin!x"),
    ("cyberx", "Old-cyb3rx!"),
    ("cyberx_host", "Old-h0st!!x"),
];

fn old_password(user: &str) -> &'static str {
    OLD.iter().find(|(u, _)| *u == user).unwrap().1
}

/// Runs a Python snippet (argv after it: `args`) and returns its stdout.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3").arg("-W").arg("ignore").arg("-c").arg(script).args(args).output().unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Python's `crypt.crypt(password, hash) == hash`: the system's crypt(3) agrees.
fn crypt_matches(password: &str, hash: &str) -> bool {
    python("import crypt,sys\nprint(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])", &[password, hash]).trim()
        == "True"
}

/// Today in shadow(5)'s unit, by Python's clock.
fn python_day() -> i64 {
    python("import time\nprint(int(time.time()) // 86400)", &[]).trim().parse().unwrap()
}

/// A root with the appliance users in passwd and shadow (0640 root:shadow, as on Debian).
fn users_root(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(etc.join("group"), format!("root:x:0:\nsensorctl:x:{SENSORCTL_GID}:\n")).unwrap();
    std::fs::write(
        etc.join("passwd"),
        format!(
            "root:x:0:0:root:/root:/bin/bash\n\
             daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
             sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n\
             support:x:{SUPPORT_UID}:{SUPPORT_UID}:Support:/home/support:/usr/bin/sensorctl\n\
             cyberx:x:{CYBERX_UID}:{CYBERX_UID}::/home/cyberx:/bin/sh\n\
             cyberx_host:x:{CYBERX_HOST_UID}:{CYBERX_HOST_UID}::/home/cyberx_host:/bin/sh\n\
             stranger:x:{STRANGER_UID}:{STRANGER_UID}::/home/stranger:/bin/sh\n\
             admin:x:{ADMIN_UID}:{ADMIN_UID}:Admin:/home/admin:/usr/bin/sensorctl\n"
        ),
    )
    .unwrap();
    let pairs: Vec<String> = OLD.iter().map(|(u, p)| format!("{u}={p}")).collect();
    let shadow_path = etc.join("shadow").to_str().unwrap().to_string();
    let mut args: Vec<&str> = vec![&shadow_path];
    args.extend(pairs.iter().map(String::as_str));
    python(
        "import crypt,sys\n\
         h={}\n\
         for pair in sys.argv[2:]:\n\
         \x20   u,p=pair.split('=',1); h[u]=crypt.crypt(p, crypt.mksalt(crypt.METHOD_SHA512))\n\
         lines=['root:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7:19500:0:99999:7:::',\n\
         \x20      'daemon:*:19500:0:99999:7:::', 'sshd:!*:19500::::::',\n\
         \x20      'support:%s:19501:0:99999:7:::' % h['support'], 'cyberx:%s:19502:0:99999:7:::' % h['cyberx'],\n\
         \x20      'cyberx_host:%s:19503:0:99999:7:::' % h['cyberx_host'], 'stranger:!:19504:0:99999:7:::',\n\
         \x20      'admin:%s:19505:1:90:7:30::' % h['admin']]\n\
         open(sys.argv[1],'w').write('\\n'.join(lines)+'\\n')",
        &args,
    );
    let shadow = etc.join("shadow");
    std::fs::set_permissions(&shadow, std::fs::Permissions::from_mode(0o640)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&shadow, Some(0), Some(42)).unwrap();
    }
    dir
}

fn shadow_bytes(root: &Path) -> Vec<u8> {
    std::fs::read(root.join("etc/shadow")).unwrap()
}

fn shadow_lines(root: &Path) -> Vec<String> {
    String::from_utf8(shadow_bytes(root)).unwrap().lines().map(str::to_string).collect()
}

fn hash_of(root: &Path, user: &str) -> String {
    shadow_lines(root)
        .iter()
        .find(|l| l.split(':').next() == Some(user))
        .map(|l| l.split(':').nth(1).unwrap().to_string())
        .unwrap()
}

fn audit_lines(root: &Path) -> Vec<String> {
    std::fs::read_to_string(root.join("var/log/sensorctl/audit.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// No file under `root` contains any of `secrets`.
fn assert_no_secret_under(root: &Path, secrets: &[&str]) {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_symlink() {
                continue; // the alias links point at the binary, which is not under the root
            } else if path.is_dir() {
                walk(&path, files);
            } else if path.is_file() {
                files.push(path); // regular files only: the daemon's socket cannot be read
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} contains a password",
                file.display()
            );
        }
    }
}

fn assert_no_secret_in(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{}{}", run.stdout, run.stderr);
    }
}

/// Runs the command with `stdin`, collecting the result.
fn exec(mut cmd: Command, stdin: &[u8]) -> Run {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The old alias, through its symlink.
fn legacy(root: &Path, args: &[&str]) -> Invocation {
    Invocation::new(alias(root, "cyberx-users-password-reset"), root, args)
}

fn users_json(root: &Path) -> String {
    std::fs::read_to_string(root.join("etc/sensorctl/users.json")).unwrap()
}

/// Python's PBKDF2-HMAC-SHA256 of `password` with the stored salt and iterations equals the
/// stored hash; also returns the iteration count and salt length.
fn store_entry_matches(root: &Path, user: &str, password: &str) -> (bool, u64, usize) {
    let out = python(
        "import json,hashlib,sys\n\
         users={u['name']:u for u in json.load(open(sys.argv[1]))['users']}\n\
         u=users[sys.argv[2]]\n\
         salt=bytes.fromhex(u['salt'])\n\
         ok=hashlib.pbkdf2_hmac('sha256', sys.argv[3].encode(), salt, u['iterations']).hex()==u['hash']\n\
         print(ok, u['iterations'], len(salt), u['algorithm'])",
        &[root.join("etc/sensorctl/users.json").to_str().unwrap(), user, password],
    );
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields[3], "pbkdf2-sha256");
    (fields[0] == "True", fields[1].parse().unwrap(), fields[2].parse().unwrap())
}

#[test]
fn the_cyberx_alias_sets_a_crypt3_hash_and_keeps_every_other_line() {
    let root = users_root("reset");
    let before = shadow_lines(root.path());
    let meta_before = std::fs::metadata(root.path().join("etc/shadow")).unwrap();
    let day_before = python_day();
    let new = "Fresh-Supp0rt#1";
    let run = legacy(root.path(), &["--role", "cyberx", "-u", "support", "-p", new]).run();
    let day_after = python_day();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "resetting the password of OS user \"support\"\nresetting the password of UI user \"support\"\n"
    );
    assert!(run.stderr.contains("warning: a password given with -p is visible to other processes"), "{}", run.stderr);
    assert_no_secret_in(&run, &[new]);

    // The system's crypt(3) verifies the new hash; the old password no longer does.
    let after = shadow_lines(root.path());
    let line = after.iter().find(|l| l.starts_with("support:")).unwrap();
    let fields: Vec<&str> = line.split(':').collect();
    assert_eq!(fields.len(), 9);
    assert!(crypt_matches(new, fields[1]), "{line}");
    assert!(!crypt_matches(old_password("support"), fields[1]));
    let parts: Vec<&str> = fields[1].split('$').collect();
    assert_eq!((parts[1], parts[2].len(), parts[3].len()), ("6", 16, 86), "{line}");
    // Last change: today; the aging fields as they were.
    let day: i64 = fields[2].parse().unwrap();
    assert!((day_before..=day_after).contains(&day), "{day}");
    let old_line = before.iter().find(|l| l.starts_with("support:")).unwrap();
    assert_eq!(fields[3..], old_line.split(':').collect::<Vec<_>>()[3..]);
    // Every other line byte for byte, in order; the file's mode and owner kept.
    assert_eq!(before.len(), after.len());
    for (old, new) in before.iter().zip(&after) {
        if !old.starts_with("support:") {
            assert_eq!(old, new);
        }
    }
    let meta_after = std::fs::metadata(root.path().join("etc/shadow")).unwrap();
    assert_eq!(meta_after.mode() & 0o7777, 0o640);
    assert_eq!((meta_after.uid(), meta_after.gid()), (meta_before.uid(), meta_before.gid()));
    assert_ne!(meta_after.ino(), meta_before.ino(), "replaced by rename, not rewritten in place");

    // The UI side: PBKDF2 that Python's hashlib reproduces, in a 0600 file.
    let (matches, iterations, salt_len) = store_entry_matches(root.path(), "support", new);
    assert!(matches);
    assert!(iterations >= 600_000, "{iterations}");
    assert_eq!(salt_len, 16);
    let store = root.path().join("etc/sensorctl/users.json");
    assert_eq!(std::fs::metadata(&store).unwrap().mode() & 0o777, 0o600);

    // The lock file lckpwdf(3) uses, 0600; no temporary file left.
    let lock = std::fs::metadata(root.path().join("etc/.pwd.lock")).unwrap();
    assert_eq!(lock.mode() & 0o777, 0o600);
    let names: Vec<String> = std::fs::read_dir(root.path().join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");

    let audit = audit_lines(root.path());
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains(" uid=0 user=root role=cyberx action=password-reset target=support result=\"ok: OS and UI passwords set\""), "{}", audit[0]);
    assert_no_secret_under(root.path(), &[new, old_password("support")]);
}

#[test]
fn system_password_asks_twice_or_reads_one_line_from_stdin() {
    let root = users_root("prompt");
    let new = "Adm1n-Rotated!";
    // support (admin) resets admin by the prompt: twice, the same.
    let run = sensorctl(root.path(), &["--role", "support", "system", "password", "admin"])
        .stdin(format!("{new}\n{new}\n").as_bytes())
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "New password: \nRetype new password: \nresetting the password of OS user \"admin\"\nresetting the password of UI user \"admin\"\n"
    );
    assert!(!run.stderr.contains("warning"), "no argv warning without -p: {}", run.stderr);
    assert!(crypt_matches(new, &hash_of(root.path(), "admin")));
    assert!(store_entry_matches(root.path(), "admin", new).0);

    // Two different answers: refused, nothing changed.
    let before = shadow_bytes(root.path());
    let store_before = users_json(root.path());
    let run = sensorctl(root.path(), &["--role", "support", "system", "password", "support"])
        .stdin(b"Mis-match1!\nMis-match2!\n")
        .run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("the two passwords do not match; nothing was changed"), "{}", run.stderr);
    assert_eq!(shadow_bytes(root.path()), before);
    assert_eq!(users_json(root.path()), store_before);
    // End of input before an answer: refused too.
    let run = sensorctl(root.path(), &["--role", "support", "system", "password", "support"]).stdin(b"Only-0ne!\n").run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(shadow_bytes(root.path()), before);

    // --password-stdin: one line, no prompt; CRLF tolerated.
    let host_new = "H0st-Stdin-pw";
    let run = sensorctl(root.path(), &["--role", "cyberx", "system", "password", "cyberx_host", "--password-stdin"])
        .stdin(format!("{host_new}\r\n").as_bytes())
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    // cyberx_host has no web login: only the OS side.
    assert_eq!(run.stdout, "resetting the password of OS user \"cyberx_host\"\n");
    assert!(crypt_matches(host_new, &hash_of(root.path(), "cyberx_host")));
    assert!(!users_json(root.path()).contains("cyberx_host"));
    // The alias takes --password-stdin as well.
    let cyberx_new = "Cyb3rx-Stdin!";
    let run = legacy(root.path(), &["-u", "cyberx", "--password-stdin"]).stdin(format!("{cyberx_new}\n").as_bytes()).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert!(crypt_matches(cyberx_new, &hash_of(root.path(), "cyberx")));
    assert_no_secret_under(root.path(), &[new, host_new, cyberx_new, "Mis-match1!", "Mis-match2!", "Only-0ne!"]);
}

#[test]
fn each_policy_rule_is_named_and_nothing_changes() {
    let root = users_root("policy");
    let before = shadow_bytes(root.path());
    let cases = [
        ("Sh0rt!a", "at least 8 characters"),
        ("NOLOWER-123", "a lower-case letter"),
        ("noupper-123", "an upper-case letter"),
        ("NoDigits-here", "a digit"),
        ("NoSymbols123", "a symbol"),
    ];
    for (password, rule) in cases {
        let run = legacy(root.path(), &["-u", "support", "-p", password]).run();
        assert_eq!(run.code, 2, "{password}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("password policy: the password needs {rule}")), "{}", run.stderr);
        assert_no_secret_in(&run, &[password]);
        let run = sensorctl(root.path(), &["system", "password", "support", "--password-stdin"])
            .stdin(format!("{password}\n").as_bytes())
            .run();
        assert_eq!(run.code, 2, "{password}: {}", run.stderr);
        assert!(run.stderr.contains(rule), "{}", run.stderr);
    }
    let long = format!("Aa1!{}", "x".repeat(125));
    let run = sensorctl(root.path(), &["system", "password", "support", "--password-stdin"]).stdin(long.as_bytes()).run();
    assert!(run.stderr.contains("at most 128 characters"), "{}", run.stderr);
    assert_eq!(shadow_bytes(root.path()), before);
    assert!(!root.path().join("etc/sensorctl/users.json").exists());
    let audit = audit_lines(root.path());
    assert_eq!(audit.len(), 2 * cases.len() + 1, "{audit:?}");
    assert!(audit.iter().all(|l| l.contains("result=\"refused: password policy: the password needs")), "{audit:?}");
    let secrets: Vec<&str> = cases.iter().map(|(p, _)| *p).collect();
    assert_no_secret_under(root.path(), &secrets);
}

#[test]
fn root_system_users_and_unknown_users_are_refused() {
    let root = users_root("refused");
    let before = shadow_bytes(root.path());
    for (user, expected) in [
        ("root", "'root' is not an appliance user"),
        ("daemon", "unknown user 'daemon': not an appliance user"),
        ("stranger", "unknown user 'stranger'"),
        ("nobody", "unknown user 'nobody'"),
        ("bad:name", "invalid user name"),
    ] {
        let run = legacy(root.path(), &["-u", user, "-p", "Valid-pass1"]).run();
        assert_eq!(run.code, 2, "{user}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{user}: {}", run.stderr);
        let run = sensorctl(root.path(), &["system", "password", user]).stdin(b"Valid-pass1\nValid-pass1\n").run();
        assert_eq!(run.code, 2, "{user}: {}", run.stderr);
        assert_eq!(run.stdout, "", "refused before asking");
    }
    assert_eq!(shadow_bytes(root.path()), before);
    let audit = audit_lines(root.path());
    // 'bad:name' is refused when the arguments are parsed (exit 2), before there is an action
    // to audit; the other four are refused by the action, once each way in.
    assert_eq!(audit.len(), 8, "{audit:?}");
    assert!(audit.iter().all(|l| l.contains("action=password-reset") && l.contains("result=\"refused: ")), "{audit:?}");
}

#[test]
fn roles_limit_who_resets_whom_and_the_alias_is_cyberx_s() {
    let root = users_root("roles");
    let before = shadow_bytes(root.path());
    // The support role may not use the old cyberx alias, even for itself.
    let run = legacy(root.path(), &["--role", "support", "-u", "support", "-p", "Valid-pass1"]).run();
    assert_eq!(run.code, 77, "{}", run.stderr);
    assert!(run.stderr.contains("permission denied for role support (cyberx-users-password-reset is for cyberx"), "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "denied before anything: {}", run.stderr);
    // ... nor reset the more privileged users through `system password`.
    for user in ["cyberx", "cyberx_host"] {
        let run = sensorctl(root.path(), &["--role", "support", "system", "password", user])
            .stdin(b"Valid-pass1\nValid-pass1\n")
            .run();
        assert_eq!(run.code, 77, "{user}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    // cyberx_host and users without a role may not reset anyone; none may not change its own.
    for role in ["cyberx_host", "none"] {
        let run = sensorctl(root.path(), &["--role", role, "system", "password", "support"]).run();
        assert_eq!(run.code, 77, "{role}: {}", run.stderr);
        let run = legacy(root.path(), &["--role", role, "-u", "support", "-p", "Valid-pass1"]).run();
        assert_eq!(run.code, 77, "{role}: {}", run.stderr);
    }
    assert_eq!(sensorctl(root.path(), &["--role", "none", "passwd"]).run().code, 77);
    assert_eq!(shadow_bytes(root.path()), before);
    let audit = audit_lines(root.path());
    assert_eq!(audit.iter().filter(|l| l.contains("result=denied") || l.contains("result=\"denied")).count(), 8, "{audit:?}");
    assert!(audit.iter().any(|l| l.contains("role=support action=password-reset target=support result=\"denied: cyberx-users-password-reset is for cyberx\"")), "{audit:?}");
    assert!(audit.iter().any(|l| l.contains("role=none action=passwd target=- result=denied")), "{audit:?}");
    // Support may still reset support (and admin) through `system password`.
    let run = sensorctl(root.path(), &["--role", "support", "system", "password", "support"])
        .stdin(b"Supp0rt-Self!\nSupp0rt-Self!\n")
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(crypt_matches("Supp0rt-Self!", &hash_of(root.path(), "support")));
}

/// A process that holds `/etc/.pwd.lock` the way lckpwdf(3) does (a POSIX write lock, taken
/// with Python's fcntl.lockf) until it is killed or `seconds` pass.
struct LockHolder(Child);

impl LockHolder {
    fn hold(root: &Path, seconds: f64) -> LockHolder {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import fcntl,os,sys,time\n\
                 fd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT, 0o600)\n\
                 fcntl.lockf(fd, fcntl.LOCK_EX)\n\
                 print('locked', flush=True)\n\
                 time.sleep(float(sys.argv[2]))",
            ])
            .arg(root.join("etc/.pwd.lock"))
            .arg(seconds.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "locked");
        LockHolder(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_held_pwd_lock_makes_the_reset_wait_and_then_fail_cleanly() {
    let root = users_root("lock");
    // Held briefly: the reset waits for it, then succeeds.
    let holder = LockHolder::hold(root.path(), 1.5);
    let started = Instant::now();
    let run = legacy(root.path(), &["-u", "cyberx_host", "-p", "Waited-f0r-it"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(started.elapsed() >= Duration::from_millis(1000), "it must have waited: {:?}", started.elapsed());
    assert!(crypt_matches("Waited-f0r-it", &hash_of(root.path(), "cyberx_host")));
    drop(holder);

    // Held longer than lckpwdf's 15 s: a clear temporary failure (75), the shadow untouched.
    let before = shadow_bytes(root.path());
    let holder = LockHolder::hold(root.path(), 60.0);
    let started = Instant::now();
    let run = legacy(root.path(), &["-u", "support", "-p", "Never-Written1"]).run();
    let waited = started.elapsed();
    drop(holder);
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(run.stderr.contains(".pwd.lock: another program holds the password-file lock (waited 15 s); nothing was changed"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 2, "the -p warning and the error: {}", run.stderr);
    // It gives up after lckpwdf's 15 s, not sooner and not never; the upper bound leaves room
    // for a loaded machine and for qemu-user's start-up in cross runs.
    assert!((Duration::from_secs(14)..Duration::from_secs(45)).contains(&waited), "{waited:?}");
    assert_eq!(shadow_bytes(root.path()), before);
    assert!(!root.path().join("etc/sensorctl/users.json").exists(), "no half reset either");
    assert!(audit_lines(root.path()).last().unwrap().contains("target=support result=\"failed: lock "));
}

#[test]
fn kill_9_during_200_resets_never_leaves_a_torn_or_missing_shadow_file() {
    let root = users_root("kill");
    let original = shadow_lines(root.path());
    let link = alias(root.path(), "cyberx-users-password-reset");
    let reset = |n: usize| {
        let mut cmd = Invocation::new(link.clone(), root.path(), &["-u", "cyberx_host", "-p", &format!("Kill-test-{n}!")]).command();
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    };
    // How long one reset takes here, to spread the kills over its whole run.
    let started = Instant::now();
    for n in 0..5 {
        assert!(reset(1000 + n).status().unwrap().success());
    }
    let typical = started.elapsed() / 5;
    let mut random = Rng::new();
    // Each hash the file held, with the run after which it was first seen (-1: before the runs).
    let mut seen_hashes: Vec<(String, i64)> = vec![(hash_of(root.path(), "cyberx_host"), -1)];
    let (mut finished, mut killed) = (0, 0);
    // 200 runs, and more (up to 800) until 50 were killed while running: on a loaded machine a
    // run's time drifts from the typical one measured above, and the kills must still land.
    let mut n = 0;
    while n < 200 || (killed < 50 && n < 800) {
        let mut child = reset(n).spawn().unwrap();
        // Past 200 runs the window shrinks toward the start of a run, where kills land.
        let window = if n < 200 { typical.as_micros() as u64 * 3 / 2 } else { typical.as_micros() as u64 / 2 };
        let delay = Duration::from_micros(random.below(window));
        if kill_9_after(&mut child, delay) {
            killed += 1;
        } else {
            finished += 1;
        }
        // The file is there, whole, and every line but cyberx_host's is as it was.
        let lines = shadow_lines(root.path());
        assert_eq!(lines.len(), original.len(), "run {n}: {lines:?}");
        for (old, new) in original.iter().zip(&lines) {
            if old.starts_with("cyberx_host:") {
                let fields: Vec<&str> = new.split(':').collect();
                assert_eq!(fields.len(), 9, "run {n}: {new}");
                let parts: Vec<&str> = fields[1].split('$').collect();
                assert_eq!((parts.len(), parts[1], parts[3].len()), (4, "6", 86), "run {n}: {new}");
                if seen_hashes.last().map(|(h, _)| h.as_str()) != Some(fields[1]) {
                    seen_hashes.push((fields[1].to_string(), n as i64));
                }
            } else {
                assert_eq!(old, new, "run {n}");
            }
        }
        n += 1;
    }
    eprintln!("kill -9 test: {killed} killed, {finished} finished, {} distinct hashes, typical run {typical:?}", seen_hashes.len());
    assert!(killed >= 50, "too few kills landed while running ({killed})");
    // Every hash the file ever held is the hash of a password set by a run up to the one after
    // which it appeared (most likely that very run, so Python tries the latest first).
    let listed: Vec<String> = seen_hashes.iter().map(|(h, n)| format!("{n} {h}")).collect();
    let out = python(
        "import crypt,sys\n\
         def candidates(n):\n\
         \x20   yield from ('Kill-test-%d!' % i for i in range(n, -1, -1))\n\
         \x20   yield from ('Kill-test-%d!' % i for i in range(1004, 999, -1))\n\
         \x20   yield sys.argv[2]\n\
         ok=True\n\
         for entry in sys.argv[1].split('\\n'):\n\
         \x20   n,h=entry.split(' ',1)\n\
         \x20   ok=ok and any(crypt.crypt(c,h)==h for c in candidates(int(n)))\n\
         print(ok)",
        &[&listed.join("\n"), old_password("cyberx_host")],
    );
    assert_eq!(out.trim(), "True");
    // A reset that runs to the end clears what the killed ones left behind.
    assert!(reset(9999).status().unwrap().success());
    let leftovers: Vec<String> = std::fs::read_dir(root.path().join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn passwd_asks_the_current_password_first_and_a_wrong_one_changes_nothing() {
    if !is_root() {
        skip("passwd as cyberx_host and support needs root to switch uid");
        return;
    }
    let root = users_root("passwd");
    // support has a web login too: give it one first (as root). The others are not root, so
    // their passwd goes through the daemon, which asks its questions on their terminal.
    let run = legacy(root.path(), &["-u", "support", "-p", "Supp0rt-Start!"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let _daemon = Daemon::start(root.path());

    let before = shadow_bytes(root.path());
    let started = Instant::now();
    let run = sensorctl(root.path(), &["passwd"]).uid(CYBERX_HOST_UID).stdin(b"Wrong-current1\nNew-h0st-pass\nNew-h0st-pass\n").run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "Changing password for user cyberx_host.\n(current) UNIX password: \n");
    assert!(run.stderr.contains("the current password is wrong; nothing was changed"), "{}", run.stderr);
    assert!(started.elapsed() >= Duration::from_millis(900), "a failed attempt is slowed down");
    assert_eq!(shadow_bytes(root.path()), before);

    let input = format!("{}\nNew-h0st-pass\nNew-h0st-pass\n", old_password("cyberx_host"));
    let run = sensorctl(root.path(), &["passwd"]).uid(CYBERX_HOST_UID).stdin(input.as_bytes()).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Changing password for user cyberx_host.\n(current) UNIX password: \nNew password: \nRetype new password: \n\
         passwd: all authentication tokens updated successfully.\n"
    );
    assert!(crypt_matches("New-h0st-pass", &hash_of(root.path(), "cyberx_host")));
    assert_eq!(std::fs::metadata(root.path().join("etc/shadow")).unwrap().mode() & 0o7777, 0o640);
    // The new password must pass the policy and differ from the current one.
    let run = sensorctl(root.path(), &["passwd"]).uid(CYBERX_HOST_UID).stdin(b"New-h0st-pass\nweak\nweak\n").run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("at least 8 characters"), "{}", run.stderr);
    let run = sensorctl(root.path(), &["passwd"]).uid(CYBERX_HOST_UID).stdin(b"New-h0st-pass\nNew-h0st-pass\nNew-h0st-pass\n").run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("the new password is the current one"), "{}", run.stderr);

    // support: both the OS and the web password change; the current one may come from either.
    let run = sensorctl(root.path(), &["passwd"]).uid(SUPPORT_UID).stdin(b"Supp0rt-Start!\nSupp0rt-Next!\nSupp0rt-Next!\n").run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(crypt_matches("Supp0rt-Next!", &hash_of(root.path(), "support")));
    assert!(store_entry_matches(root.path(), "support", "Supp0rt-Next!").0);

    let audit = audit_lines(root.path());
    let own: Vec<&String> = audit.iter().filter(|l| l.contains("action=passwd")).collect();
    assert_eq!(own.len(), 5, "{audit:?}");
    assert!(own[0].contains(&format!("uid={CYBERX_HOST_UID} user=cyberx_host role=cyberx_host action=passwd target=cyberx_host result=\"failed: wrong current password\"")), "{}", own[0]);
    assert!(own[1].contains("result=\"ok: OS password set\""), "{}", own[1]);
    assert!(own[4].contains("user=support role=support action=passwd target=support result=\"ok: OS and UI passwords set\""), "{}", own[4]);
    assert_no_secret_under(root.path(), &["Wrong-current1", "New-h0st-pass", "Supp0rt-Start!", "Supp0rt-Next!", "weak"]);
}

#[derive(DeJson)]
struct ProtectionJson {
    max_failed: u32,
    window_s: u64,
    locked_hosts: Vec<LockedHostJson>,
}

#[derive(DeJson)]
struct LockedHostJson {
    host: String,
    until: String,
    failures: u32,
}

/// `sensorctl auth` as pam_exec runs it: PAM_* in the environment, the password on stdin.
fn pam_auth(root: &Path, pam_type: &str, user: &str, rhost: Option<&str>, authtok: &[u8]) -> Run {
    let mut cmd = sensorctl(root, &["auth"]).command();
    cmd.env("PAM_TYPE", pam_type).env("PAM_USER", user).env("PAM_SERVICE", "sshd");
    if let Some(host) = rhost {
        cmd.env("PAM_RHOST", host);
    }
    exec(cmd, authtok)
}

fn with_nul(password: &str) -> Vec<u8> {
    let mut bytes = password.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// Failed logins are counted per host, not per spelling of its address: `2001:0db8:0::1`,
/// `2001:db8::1` and `[2001:DB8::1]` are one host, and so are `::ffff:192.0.2.9` and `192.0.2.9`.
#[test]
fn every_spelling_of_an_address_counts_against_the_same_host() {
    let root = users_root("auth-spellings");
    let password = "Supp0rt-Login!";
    assert_eq!(legacy(root.path(), &["-u", "support", "-p", password]).run().code, 0);
    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    std::fs::write(root.path().join("etc/sensorctl/config.json"), r#"{"version": 1, "login_max_failed": 2}"#).unwrap();
    for spellings in [["2001:0db8:0::1", "2001:db8::1", "[2001:DB8::1]"], ["::ffff:192.0.2.9", "192.0.2.9", "::FFFF:c000:0209"]] {
        assert_eq!(pam_auth(root.path(), "auth", "support", Some(spellings[0]), &with_nul("Guess-1!aa")).code, 1);
        assert_eq!(pam_auth(root.path(), "auth", "support", Some(spellings[1]), &with_nul("Guess-2!aa")).code, 1);
        let refused = pam_auth(root.path(), "auth", "support", Some(spellings[2]), &with_nul(password));
        assert_eq!(refused.code, 1, "{spellings:?}: {}", refused.stderr);
        assert!(refused.stderr.contains("too many failed logins from this host"), "{}", refused.stderr);
    }
    let state = std::fs::read_to_string(root.path().join("var/lib/sensorctl/login-failures.json")).unwrap();
    assert!(state.contains("\"2001:db8::1\"") && state.contains("\"192.0.2.9\"") && !state.contains("0db8"), "{state}");
}

#[test]
fn auth_as_pam_exec_drives_it_locks_out_one_host_and_unlocks_after_the_window() {
    let root = users_root("auth");
    let password = "Supp0rt-Login!";
    assert_eq!(legacy(root.path(), &["-u", "support", "-p", password]).run().code, 0);
    let (attacker, friend) = ("192.0.2.66", "192.0.2.7");

    // Right and wrong passwords; with expose_authtok's trailing NUL and without it. The first
    // check also times one PBKDF2 verification here (much slower under qemu-user), so that the
    // lockout window can be short and still longer than the checks the test makes inside it.
    let started = Instant::now();
    assert_eq!(pam_auth(root.path(), "auth", "support", Some(friend), &with_nul(password)).code, 0);
    let window = 2 + (started.elapsed().as_secs_f64() * 8.0).ceil() as u64;
    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    std::fs::write(
        root.path().join("etc/sensorctl/config.json"),
        format!(r#"{{"version": 1, "login_max_failed": 3, "login_lockout_window_s": {window}}}"#),
    )
    .unwrap();
    assert_eq!(pam_auth(root.path(), "auth", "support", Some(friend), password.as_bytes()).code, 0);
    let wrong = pam_auth(root.path(), "auth", "support", Some(friend), &with_nul("Supp0rt-Login?"));
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("authentication failed for support from 192.0.2.7"), "{}", wrong.stderr);
    assert_no_secret_in(&wrong, &["Supp0rt-Login?"]);
    // The OS side of an appliance user without a web login: its $6$ shadow hash (made by Python).
    assert_eq!(pam_auth(root.path(), "auth", "cyberx_host", Some(friend), &with_nul(old_password("cyberx_host"))).code, 0);
    assert_eq!(pam_auth(root.path(), "auth", "cyberx_host", Some(friend), &with_nul("nope")).code, 1);
    // Root, locked and unknown users never log in through it (tried from a third host).
    let third = "2001:db8::3";
    assert_eq!(pam_auth(root.path(), "auth", "root", Some(third), &with_nul("x")).code, 1);
    assert_eq!(pam_auth(root.path(), "auth", "stranger", Some(third), &with_nul("x")).code, 1);
    assert_eq!(pam_auth(root.path(), "auth", "ghost", Some(third), &with_nul("x")).code, 1);
    // A success clears a host's failures (friend had one); 3 from the attacker lock it out...
    assert_eq!(pam_auth(root.path(), "auth", "support", Some(friend), &with_nul(password)).code, 0);
    for guess in ["Guess-1!aa", "Guess-2!aa", "Guess-3!aa"] {
        assert_eq!(pam_auth(root.path(), "auth", "support", Some(attacker), &with_nul(guess)).code, 1);
    }
    let refused = pam_auth(root.path(), "auth", "support", Some(attacker), &with_nul(password));
    assert_eq!(refused.code, 1, "the right password does not help a locked host");
    assert!(refused.stderr.contains("refused: too many failed logins from this host; locked out until"), "{}", refused.stderr);
    assert_eq!(pam_auth(root.path(), "account", "support", Some(attacker), b"").code, 1, "key logins too");
    // ... while another host still logs in, and the console is never locked out.
    assert_eq!(pam_auth(root.path(), "auth", "support", Some(friend), &with_nul(password)).code, 0);
    assert_eq!(pam_auth(root.path(), "account", "support", Some(friend), b"").code, 0);
    assert_eq!(pam_auth(root.path(), "auth", "support", None, &with_nul(password)).code, 0);
    // The counters are in a 0600 state file (each check above was a fresh process).
    let state = root.path().join("var/lib/sensorctl/login-failures.json");
    assert_eq!(std::fs::metadata(&state).unwrap().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&state).unwrap().contains(attacker));
    let shown = sensorctl(root.path(), &["--role", "cyberx", "system", "login-protection"]).run();
    assert!(shown.stdout.contains(&format!("  {attacker} until ")), "{}", shown.stdout);
    let shown = sensorctl(root.path(), &["--role", "cyberx", "system", "login-protection", "--json"]).run();
    let report = ProtectionJson::deserialize_json(shown.stdout.trim()).unwrap();
    assert_eq!((report.max_failed, report.window_s), (3, window));
    // The attacker, and the third host whose three failed logins (root, stranger, ghost) count too
    // — unless its window, which started earlier, has already run out on a slow machine (qemu
    // under load): then it is simply no longer listed.
    let hosts: Vec<(&str, u32)> = report.locked_hosts.iter().map(|h| (h.host.as_str(), h.failures)).collect();
    assert!(hosts.contains(&(attacker, 3)), "{}", shown.stdout);
    assert!(hosts.iter().all(|h| *h == (attacker, 3) || *h == ("2001:db8::3", 3)), "{}", shown.stdout);
    assert!(report.locked_hosts.iter().all(|h| h.until.ends_with('Z')));

    // After the window the host may log in again.
    std::thread::sleep(Duration::from_secs(window + 1));
    assert_eq!(pam_auth(root.path(), "auth", "support", Some(attacker), &with_nul(password)).code, 0);

    // Bad invocations deny.
    let mut cmd = sensorctl(root.path(), &["auth"]).command();
    cmd.env("PAM_USER", "support");
    assert_eq!(exec(cmd, &with_nul(password)).code, 2, "no PAM_TYPE");
    assert_eq!(pam_auth(root.path(), "session", "support", Some(friend), b"").code, 2);
    // auth is root's (sshd's) alone.
    let mut cmd = sensorctl(root.path(), &["--role", "cyberx", "auth"]).command();
    cmd.env("PAM_TYPE", "auth").env("PAM_USER", "support");
    assert_eq!(exec(cmd, &with_nul(password)).code, 77);

    let audit = audit_lines(root.path());
    let attacker_lines: Vec<&String> = audit.iter().filter(|l| l.contains(&format!("target=support@{attacker}"))).collect();
    assert_eq!(attacker_lines.len(), 6, "{attacker_lines:#?}");
    assert!(attacker_lines[0].contains("result=\"failed: wrong password or unknown user\""));
    assert!(attacker_lines[2].contains("result=\"failed: wrong password or unknown user; host locked out until "));
    assert!(attacker_lines[3].contains("result=\"refused: host locked out until "));
    assert!(attacker_lines[4].contains("result=\"refused: host locked out until "), "the account check");
    assert!(attacker_lines[5].ends_with("result=ok"));
    assert!(audit.iter().any(|l| l.contains("action=login target=ghost@2001:db8::3 result=\"failed")));
    assert!(audit.iter().any(|l| l.contains("role=cyberx action=login target=support result=denied")));
    assert_no_secret_under(root.path(), &[password, "Guess-1!aa", "Supp0rt-Login?"]);
}

#[test]
fn login_protection_shows_and_sets_the_limit_for_cyberx_only() {
    let root = users_root("protection");
    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    let config = root.path().join("etc/sensorctl/config.json");
    std::fs::write(&config, r#"{"version": 1, "board": "generic-x86"}"#).unwrap();
    let run = sensorctl(root.path(), &["--role", "cyberx", "system", "login-protection"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Failed-login protection: after 5 failed logins from one remote host, logins from it are refused for 900 seconds\n\
         Locked out hosts: none\n"
    );
    let run = sensorctl(root.path(), &["--role", "cyberx", "system", "login-protection", "--max-failed", "20"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("Failed-login protection: after 20 failed logins"), "{}", run.stdout);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("\"login_max_failed\":20") && text.contains("\"board\":\"generic-x86\""), "{text}");
    for bad in ["0", "101", "-1", "many"] {
        let run = sensorctl(root.path(), &["--role", "cyberx", "system", "login-protection", "--max-failed", bad]).run();
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
    }
    for role in ["support", "cyberx_host", "none"] {
        let run = sensorctl(root.path(), &["--role", role, "system", "login-protection", "--max-failed", "3"]).run();
        assert_eq!(run.code, 77, "{role}: {}", run.stderr);
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text, "denied and bad changes leave the config alone");
    let audit = audit_lines(root.path());
    assert!(audit.iter().any(|l| l.contains("role=cyberx action=login-protection target=\"max-failed=20,window=900\" result=ok")), "{audit:?}");
    assert_eq!(audit.iter().filter(|l| l.contains("action=login-protection target=- result=denied")).count(), 3);
}

/// Drives `sensorctl system password cyberx_host` on a pseudo-terminal (Python's pty.fork, so
/// the pty is the controlling terminal and Ctrl-C raises SIGINT), typing `answers` at the
/// prompts; prints what the terminal showed (repr), the exit code, and whether ECHO was back on.
const PTY_DRIVER: &str = "import os,pty,sys,termios,time\n\
pid,fd=pty.fork()\n\
if pid==0:\n\
\x20   os.execve(sys.argv[1],[sys.argv[1],'system','password','cyberx_host'],{'SENSORCTL_ROOT':sys.argv[2],'PATH':'/usr/bin:/bin'})\n\
seen=b''\n\
def until(token):\n\
\x20   global seen\n\
\x20   end=time.time()+20\n\
\x20   while token not in seen and time.time()<end:\n\
\x20       try: chunk=os.read(fd,1024)\n\
\x20       except OSError: break\n\
\x20       if not chunk: break\n\
\x20       seen+=chunk\n\
for prompt,answer in zip([b'New password: ',b'Retype new password: '],sys.argv[3:]):\n\
\x20   until(prompt)\n\
\x20   time.sleep(0.2)\n\
\x20   os.write(fd,answer.encode().decode('unicode_escape').encode())\n\
until(b'\\x00never')\n\
echo=bool(termios.tcgetattr(fd)[3] & termios.ECHO)\n\
_,status=os.waitpid(pid,0)\n\
print(repr(seen))\n\
print(os.waitstatus_to_exitcode(status))\n\
print(echo)";

fn on_a_pty(root: &Path, answers: &[&str]) -> (String, i32, bool) {
    let bin = bin();
    let mut args = vec![bin.to_str().unwrap(), root.to_str().unwrap()];
    args.extend_from_slice(answers);
    let out = python(PTY_DRIVER, &args);
    let lines: Vec<&str> = out.lines().collect();
    (lines[0].to_string(), lines[1].parse().unwrap(), lines[2] == "True")
}

#[test]
fn on_a_terminal_the_password_is_not_echoed_and_echo_comes_back() {
    if under_qemu() {
        skip_on_this_target("under qemu-user the pty drives qemu, not the binary; covered natively");
        return;
    }
    let root = users_root("pty");
    let (screen, code, echo) = on_a_pty(root.path(), &["Pty-Secret-1!\\n", "Pty-Secret-1!\\n"]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("New password: ") && screen.contains("Retype new password: "), "{screen}");
    assert!(screen.contains("resetting the password of OS user"), "{screen}");
    assert!(!screen.contains("Pty-Secret"), "the password was echoed: {screen}");
    assert!(echo, "echo must be back on after the command");
    assert!(crypt_matches("Pty-Secret-1!", &hash_of(root.path(), "cyberx_host")));

    // Ctrl-C at the prompt: ends the command, changes nothing, and echo is on again.
    let before = shadow_bytes(root.path());
    let (screen, code, echo) = on_a_pty(root.path(), &["Half\\x03"]);
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("cancelled: nothing was changed"), "{screen}");
    assert!(!screen.contains("Half"), "{screen}");
    assert!(echo, "echo must be restored after Ctrl-C");
    assert_eq!(shadow_bytes(root.path()), before);
}
