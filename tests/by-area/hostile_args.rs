//! Hostile-argument sweep: every command and alias the binary names (`sensorctl --list`), every
//! positional and option its own `--help` shows, fed a corpus of hostile values — shell
//! metacharacters, quotes, newlines, control characters, option-looking values, 4 KiB and
//! 100 KiB values, non-UTF-8 bytes, path traversal.
//!
//! What must hold for every invocation: no panic and no death by a signal; an exit code of the
//! README's table (0, 1, 2, 69, 75, 77); a usage error (2) is one line on stderr (argparse's two
//! lines, usage and `PROG: error: …`, where the reference CLI's argparse interface is kept) with
//! no raw control characters echoed to the console; no injection string ever runs (its marker
//! file never appears); and a rejected invocation (exit 2) leaves the sandbox root byte-for-byte
//! as it was (names, modes, contents).
//!
//! Commands and their arguments are learnt from the binary, so a command added later is swept
//! without touching this file. A command's required arguments other than the one under test get
//! a plausible filler value (`FILLERS`, by the metavariable's name; `x` for unknown ones).
//!
//! Safety: every invocation runs as PID 1 of a fresh PID namespace inside a fresh, empty network
//! namespace (`unshare --pid --fork --kill-child --net`): `system reboot`/`shutdown` reaching
//! reboot(2) would only end that namespace, network changes (reconfigure, limit, blink) act on
//! the namespace's own `lo`, and no NTP server or internet host is reachable, so the clock cannot
//! be set. The working directory is a scratch directory three levels down a temporary tree, so
//! relative traversal strings stay inside it. Standard input is /dev/null (prompts end at EOF).
//!
//! Cost: the corpus × argument matrix is sampled: every argument slot gets one value of every
//! corpus class (the value within a class rotates with the slot), run on four threads, each
//! with its own sandbox.


use crate::common::*;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Filler values for required arguments that are not under test, by metavariable.
const FILLERS: &[(&str, &str)] =
    &[("interface", "lo"), ("address", "127.0.0.1"), ("server", "127.0.0.1"), ("user", "support"), ("seconds", "1")];

/// The roles tried, in order, until the policy lets the command run (77 otherwise); root
/// only for what no appliance role may run (the daemon).
const ROLES: &[&str] = &["cyberx", "support", "cyberx_host", "root"];

/// How long one invocation may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One argument slot of a command, from its usage line.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    /// `--name <meta>` / `-n <meta>` / argparse's `--name META`.
    Option { flag: String, meta: String, required: bool },
    /// `--json`, `-y`.
    Switch { flag: String },
    /// `<meta>`.
    Positional { meta: String, required: bool },
    /// The long name of an option or switch the usage line shows by its short name
    /// (`--file` for `-f`), from the help's option list.
    LongForm { flag: String, short: String },
    /// A stray extra argument at the end (every command has this one).
    Stray,
}

/// The long forms the help's option list gives for short flags: `  -f, --file   …`.
fn long_forms(help: &str, slots: &[Slot]) -> Vec<Slot> {
    let mut out = Vec::new();
    for line in help.lines() {
        let Some((short, rest)) = line.trim_start().split_once(", ") else { continue };
        let long = rest.split_whitespace().next().unwrap_or_default();
        if short.len() != 2 || !short.starts_with('-') || !long.starts_with("--") || long == "--help" {
            continue;
        }
        let known = slots.iter().any(|s| match s {
            Slot::Option { flag, .. } | Slot::Switch { flag } => flag == short,
            _ => false,
        });
        if known {
            out.push(Slot::LongForm { flag: long.to_string(), short: short.to_string() });
        }
    }
    out
}

/// One command as the binary names it.
#[derive(Clone, Debug)]
struct Cmd {
    /// `system ntp enable` or an alias name.
    name: String,
    alias: bool,
    slots: Vec<Slot>,
    /// Its help says it runs until killed (the daemon): a timeout is its legitimate result.
    runs_until_killed: bool,
    /// It has `-y`: each slot is also tried with `-y` given, to get past confirmations.
    has_yes: bool,
    /// Not a command: the global options of `sensorctl --help`, swept in front of `date`.
    globals: bool,
}

/// Parses the slots out of a usage line (argh: `Usage: NAME [--x <x>] [--] <pos>`; argparse:
/// `usage: NAME [-h] --interface INTERFACE [--limit LIMIT] [--clear]`).
fn parse_usage(usage: &str, name: &str) -> Vec<Slot> {
    let rest = usage
        .strip_prefix(&format!("Usage: sensorctl {name}").trim_end().to_string())
        .or_else(|| usage.strip_prefix(&format!("Usage: {name}")))
        .or_else(|| usage.strip_prefix(&format!("usage: sensorctl {name}")))
        .or_else(|| usage.strip_prefix(&format!("usage: {name}")))
        .unwrap_or_else(|| panic!("{name}: unexpected usage line {usage:?}"));
    // Group the tokens: a bracketed group is one optional item.
    let mut items: Vec<(bool, Vec<String>)> = Vec::new();
    let mut tokens = rest.split_whitespace();
    while let Some(token) = tokens.next() {
        if let Some(inner) = token.strip_prefix('[') {
            let mut group = vec![inner.trim_end_matches(']').to_string()];
            let mut closed = token.ends_with(']');
            while !closed {
                let next = tokens.next().unwrap_or_else(|| panic!("{name}: unclosed [ in {usage:?}"));
                closed = next.ends_with(']');
                group.push(next.trim_end_matches(']').to_string());
            }
            items.push((false, group));
        } else {
            let mut group = vec![token.to_string()];
            // A required option's value follows it.
            if token.starts_with('-') {
                group.push(tokens.next().unwrap_or_else(|| panic!("{name}: {token} lacks its value")).to_string());
            }
            items.push((true, group));
        }
    }
    let mut slots = Vec::new();
    for (required, group) in items {
        let meta =
            |text: &str| text.trim_start_matches('<').trim_end_matches('>').trim_end_matches("...").to_lowercase();
        match group.as_slice() {
            [dashdash] if dashdash == "--" => {}
            [help] if help == "-h" || help == "--help" => {}
            [flag] if flag.starts_with('-') => slots.push(Slot::Switch { flag: flag.clone() }),
            [positional] => slots.push(Slot::Positional { meta: meta(positional), required }),
            [flag, value] if flag.starts_with('-') => {
                slots.push(Slot::Option { flag: flag.clone(), meta: meta(value), required })
            }
            other => panic!("{name}: cannot read usage item {other:?}"),
        }
    }
    slots.push(Slot::Stray);
    slots
}

/// The commands of the binary: `--list`, each one's `--help`.
fn commands(alias_dir: &Path, root: &Path) -> Vec<Cmd> {
    let list = sensorctl(root, &["--list"]).run();
    assert_eq!(list.code, 0, "{}", list.stderr);
    let mut out = Vec::new();
    for name in list.stdout.lines() {
        // A name is a command path if `sensorctl NAME --help` knows it; else it is an alias,
        // run through a symlink of that name.
        let mut args: Vec<&str> = name.split(' ').collect();
        args.push("--help");
        let mut help = sensorctl(root, &args).run();
        let alias = help.code != 0 && !name.contains(' ');
        if alias {
            help = Invocation::new(crate::common::alias(alias_dir, name), root, &["--help"]).run();
        }
        assert_eq!(help.code, 0, "{name} --help: {}", help.stderr);
        let usage = help.stdout.lines().next().unwrap_or_default();
        let mut slots = parse_usage(usage, name);
        let longs = long_forms(&help.stdout, &slots);
        slots.splice(slots.len() - 1..slots.len() - 1, longs);
        let has_yes = slots.iter().any(|s| matches!(s, Slot::Switch { flag } if flag == "-y"));
        out.push(Cmd {
            name: name.to_string(),
            alias,
            slots,
            runs_until_killed: help.stdout.contains("runs until killed"),
            has_yes,
            globals: false,
        });
    }
    // The global options, from the first usage line of `sensorctl --help`, up to `<command>`.
    let help = sensorctl(root, &["--help"]).run();
    let usage = help.stdout.lines().next().unwrap_or_default();
    let globals = usage.split(" <command>").next().unwrap_or_default().replace("NAME|PATH", "<board>");
    let mut slots = parse_usage(&globals, "");
    slots.retain(|slot| *slot != Slot::Stray);
    assert!(slots.iter().any(|s| matches!(s, Slot::Option { flag, .. } if flag == "--board")), "{usage}");
    out.push(Cmd {
        name: "(global options) date".to_string(),
        alias: false,
        slots,
        runs_until_killed: false,
        has_yes: false,
        globals: true,
    });
    out
}

/// A corpus class: a name and its values (bytes, so non-UTF-8 fits).
struct Class {
    name: &'static str,
    values: Vec<Vec<u8>>,
}

/// The hostile corpus. `marker` is a directory that must stay empty: every injection string
/// tries to create a file in it.
fn corpus(marker: &Path) -> Vec<Class> {
    let m = |n: &str| marker.join(n).to_str().unwrap().to_string();
    let s = |v: &[String]| v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    vec![
        Class {
            name: "shell metacharacters",
            values: s(&[
                format!("lo; touch {}", m("semicolon")),
                format!("$(touch {})", m("dollar")),
                format!("`touch {}`", m("backtick")),
                format!("127.0.0.1 | touch {}", m("pipe")),
                format!("> {}", m("redirect")),
                format!("x & touch {}", m("ampersand")),
                format!("x\ntouch {}", m("newline")),
            ]),
        },
        Class {
            name: "quotes",
            values: s(&["'".into(), "\"".into(), "it's \"quoted\"".into(), "'; touch x; '".into()]),
        },
        Class { name: "newline", values: s(&["lo\n".into(), "a\nb".into(), "\n".into(), "x\r\ny".into()]) },
        Class {
            name: "control characters",
            values: s(&["\x1b[2J\x1b]0;pwned\x07".into(), "a\x01\x02\x7fb".into(), "\t".into(), "\x08\x08ok".into()]),
        },
        Class {
            name: "option-looking",
            values: s(&[
                "--root".into(),
                "-h".into(),
                "--".into(),
                "--help".into(),
                "-".into(),
                "--root=/".into(),
                "-y".into(),
            ]),
        },
        Class { name: "4 KiB", values: vec![vec![b'a'; 4096], b"1".repeat(4096)] },
        Class { name: "100 KiB", values: vec![vec![b'a'; 100 * 1024], b"9".repeat(100 * 1024)] },
        Class { name: "non-UTF-8", values: vec![b"\xff\xfe".to_vec(), b"lo\xc3".to_vec(), b"\x80abc".to_vec()] },
        Class {
            name: "path traversal",
            values: s(&[
                "../../etc/passwd".into(),
                "/etc/shadow".into(),
                "../../../../../../../../etc/shadow".into(),
                "x/../../../etc".into(),
            ]),
        },
        Class {
            name: "empty and odd",
            values: s(&[
                "".into(),
                " ".into(),
                "\u{202e}lo".into(),
                "-1".into(),
                "99999999999999999999999".into(),
                "0x10".into(),
            ]),
        },
    ]
}

/// Names, modes and contents of every entry under `root` (symlinks by target).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, u64)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (u32, u64)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            if meta.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .map(|t| t.as_os_str().as_bytes().to_vec())
                    .unwrap_or_default()
                    .hash(&mut hasher);
            } else if meta.is_file() {
                std::fs::read(&path).unwrap_or_default().hash(&mut hasher);
            }
            out.insert(path.strip_prefix(root).unwrap().to_path_buf(), (meta.mode(), hasher.finish()));
            if meta.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn describe_change(before: &BTreeMap<PathBuf, (u32, u64)>, after: &BTreeMap<PathBuf, (u32, u64)>) -> String {
    let mut changes = Vec::new();
    for (path, state) in before {
        match after.get(path) {
            None => changes.push(format!("removed {}", path.display())),
            Some(now) if now != state => changes.push(format!("changed {}", path.display())),
            _ => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        changes.push(format!("created {}", path.display()));
    }
    changes.join(", ")
}

/// One invocation to make.
#[derive(Clone)]
struct Job {
    cmd: usize,
    args: Vec<OsString>,
    /// For the report.
    label: String,
    /// The value when it went into a password argument: it must never be shown or logged.
    secret: Option<Vec<u8>>,
}

/// The argument vector for `cmd` with `value` in `slot` (and `-y` if `yes`).
fn build_args(cmd: &Cmd, slot: &Slot, value: &[u8], yes: bool) -> Vec<OsString> {
    let filler = |meta: &str| FILLERS.iter().find(|(m, _)| *m == meta).map_or("x", |(_, v)| v);
    let value = OsString::from_vec(value.to_vec());
    let mut args: Vec<OsString> = Vec::new();
    let mut positionals: Vec<OsString> = Vec::new();
    // Testing `--file` stands in for `-f`: the short form is then left out.
    let replaced = match slot {
        Slot::LongForm { short, .. } => Some(short.as_str()),
        _ => None,
    };
    for other in &cmd.slots {
        let under_test = other == slot;
        match other {
            Slot::Option { flag, .. } | Slot::Switch { flag } if Some(flag.as_str()) == replaced => {}
            Slot::LongForm { flag, .. } => {
                if under_test {
                    args.push(flag.into());
                    args.push(value.clone());
                }
            }
            Slot::Option { flag, meta, required } => {
                if under_test {
                    args.push(flag.into());
                    args.push(value.clone());
                } else if *required {
                    args.push(flag.into());
                    args.push(filler(meta).into());
                }
            }
            Slot::Switch { flag } => {
                if under_test || (yes && flag == "-y") {
                    args.push(flag.into());
                }
                if under_test {
                    // A switch takes no value: the value follows it as an extra argument.
                    args.push(value.clone());
                }
            }
            Slot::Positional { meta, required } => {
                if under_test {
                    positionals.push(value.clone());
                } else if *required {
                    positionals.push(filler(meta).into());
                }
            }
            Slot::Stray => {}
        }
    }
    args.extend(positionals);
    if *slot == Slot::Stray {
        args.push(value);
    }
    args
}

fn jobs(cmds: &[Cmd], classes: &[Class]) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut rotation = 0usize;
    for (at, cmd) in cmds.iter().enumerate() {
        for slot in &cmd.slots {
            rotation += 1;
            for (class_at, class) in classes.iter().enumerate() {
                let value = &class.values[(rotation + class_at) % class.values.len()];
                for yes in [false, true] {
                    if yes && !cmd.has_yes {
                        continue;
                    }
                    let label = format!(
                        "{} | slot {slot:?} | {} {:?}{}",
                        cmd.name,
                        class.name,
                        String::from_utf8_lossy(&value[..value.len().min(48)]),
                        if yes { " | with -y" } else { "" }
                    );
                    let secret = match slot {
                        Slot::Option { meta, .. } => meta.contains("password"),
                        Slot::LongForm { flag, .. } => flag.contains("password"),
                        _ => false,
                    }
                    .then(|| value.clone());
                    jobs.push(Job { cmd: at, args: build_args(cmd, slot, value, yes), label, secret });
                }
            }
        }
    }
    jobs
}

/// A thread's sandbox: the root, the alias links and the working directory (outside the root).
struct Workspace {
    /// The daemon serving this root, confined like the invocations (see [`confined_daemon`]).
    daemon: Option<Daemon>,
    _dir: TempDir,
    root: PathBuf,
    aliases: PathBuf,
    cwd: PathBuf,
}

impl Workspace {
    fn new(label: &str) -> Workspace {
        let dir = TempDir::new(label);
        let root = dir.path().join("root");
        let sandbox = sandbox(&format!("{label}-root"));
        std::fs::rename(sandbox.path(), &root).unwrap();
        std::mem::forget(sandbox); // moved into `dir`, which removes it
        std::fs::write(
            root.join("etc/shadow"),
            "root:*:19500:0:99999:7:::\nsupport:!:19501:0:99999:7:::\ncyberx:!:19502:0:99999:7:::\n\
             cyberx_host:!:19503:0:99999:7:::\nstranger:!:19504:0:99999:7:::\n",
        )
        .unwrap();
        std::fs::set_permissions(root.join("etc/shadow"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let aliases = dir.path().join("bin");
        let cwd = dir.path().join("w/a/b");
        std::fs::create_dir_all(&aliases).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        Workspace { daemon: None, _dir: dir, root, aliases, cwd }
    }
}

/// `sensorctl daemon` for a workspace's root, as PID 1 of its own PID namespace in its own
/// empty network namespace: what it runs for the callers (a reboot, network changes) acts there.
/// Killed with its namespace when dropped.
/// The daemon serving `root`, confined as the invocations are: its own PID and network
/// namespaces, so that nothing it is asked to do reaches this machine.
fn confined_daemon(root: &Path) -> Daemon {
    let _ = std::fs::remove_file(root.join("run/sensorctl/sensord.sock"));
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--kill-child", "--net", "--"]);
    if let Some(runner) = std::env::var_os("SENSORCTL_RUNNER").filter(|r| !r.is_empty()) {
        command.arg(runner);
    }
    command.arg(bin()).arg("--root").arg(root).arg("daemon").env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    Daemon::start_with(command, root)
}

struct Outcome {
    status: Option<std::process::ExitStatus>,
    stderr: Vec<u8>,
}

/// Who runs an invocation.
#[derive(Clone, Copy, Debug)]
enum Caller {
    /// Root, lowering itself to this role with `--role` (the action runs in-process).
    Root(&'static str),
    /// This real uid (gid: the socket group): the client sends the action to the daemon.
    Uid(u32),
}

/// Runs the binary as PID 1 of a fresh PID namespace in a fresh network namespace.
fn run_confined(ws: &Workspace, cmd: &Cmd, caller: Caller, args: &[OsString]) -> Outcome {
    let mut full: Vec<OsString> = vec!["--root".into(), ws.root.clone().into()];
    if let Caller::Root(role) = caller {
        full.extend(["--role".into(), role.into()]);
    }
    let program = if cmd.alias { crate::common::alias(&ws.aliases, &cmd.name) } else { bin() };
    if cmd.globals {
        full.extend(args.iter().cloned());
        full.push("date".into());
    } else {
        if !cmd.alias {
            full.extend(cmd.name.split(' ').map(OsString::from));
        }
        full.extend(args.iter().cloned());
    }
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--kill-child", "--net"]);
    if let Caller::Uid(uid) = caller {
        command.arg(format!("--setuid={uid}")).arg(format!("--setgid={SENSORCTL_GID}"));
    }
    command.arg("--");
    if let Some(runner) = std::env::var_os("SENSORCTL_RUNNER").filter(|r| !r.is_empty()) {
        command.arg(runner);
    }
    command
        .arg(&program)
        .args(&full)
        .current_dir(&ws.cwd)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out_pipe, &mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err_pipe, &mut buf);
        buf
    });
    let started = Instant::now();
    let timeout = if cmd.runs_until_killed { Duration::from_secs(2) } else { TIMEOUT };
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > timeout {
            // --kill-child: the namespace's init (and so everything in it) dies with unshare.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(out_reader.join());
    Outcome { status, stderr: err_reader.join().unwrap() }
}

/// What is wrong with one outcome (empty: nothing).
fn check(
    cmd: &Cmd,
    out: &Outcome,
    before: &BTreeMap<PathBuf, (u32, u64)>,
    after: &BTreeMap<PathBuf, (u32, u64)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push(format!("panicked: {}", stderr.trim_end()));
    }
    let Some(status) = out.status else {
        if !cmd.runs_until_killed {
            problems.push(format!("still running after {TIMEOUT:?}"));
        }
        return problems;
    };
    if let Some(signal) = status.signal() {
        problems.push(format!("died by signal {signal}"));
        return problems;
    }
    let code = status.code().unwrap_or(-1);
    if ![0, 1, 2, 69, 75, 77].contains(&code) {
        problems.push(format!("exit code {code}: {}", stderr.trim_end()));
    }
    // The console must not receive raw control characters (or text-reordering bidi overrides)
    // from the arguments, nor a flood.
    if out.stderr.iter().any(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f) || stderr.contains('\u{202e}') {
        problems.push(format!("raw control characters on stderr: {stderr:?}"));
    }
    if stderr.lines().any(|l| l.len() > 2048) {
        problems.push(format!("a stderr line of {} bytes", stderr.lines().map(str::len).max().unwrap_or(0)));
    }
    if code == 2 {
        // Warnings (`sensorctl: warning: …`, e.g. about -p) may precede the error.
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("sensorctl: warning: ")).collect();
        let argparse = lines.len() == 2 && lines[0].starts_with("usage: ") && lines[1].contains(": error: ");
        // No command at all (the value took the command's place as an option's value): the
        // usage text, as `sensorctl` alone prints it (tests/cli.rs).
        let no_command = stderr.starts_with("Usage: sensorctl [--root DIR]");
        if lines.len() != 1 && !argparse && !no_command {
            problems.push(format!("usage error is not one line: {stderr:?}"));
        }
        // The audit log records refused attempts at privileged actions: it may grow, by whole
        // well-formed entries, and nothing else may change.
        let mut before = before.clone();
        let mut after = after.clone();
        let audit = Path::new(AUDIT_LOG);
        before.retain(|p, _| !audit.starts_with(p));
        after.retain(|p, _| !audit.starts_with(p));
        if before != after {
            problems.push(format!("rejected, yet the root changed: {}", describe_change(&before, &after)));
        }
    }
    problems
}

/// The audit log, relative to the root (src/audit.rs).
const AUDIT_LOG: &str = "var/log/sensorctl/audit.log";

/// What is wrong with the audit log's growth from `old` to `new`: it is append-only, and every
/// entry is one line of printable ASCII of bounded length (a hostile value cannot forge a
/// second entry or flood the log).
fn check_audit(old: &[u8], new: &[u8]) -> Vec<String> {
    let mut problems = Vec::new();
    if !new.starts_with(old) {
        problems.push("the audit log was not only appended to".to_string());
        return problems;
    }
    let added = &new[old.len()..];
    if !added.is_empty() && !added.ends_with(b"\n") {
        problems.push("an audit entry does not end in a newline".to_string());
    }
    for line in added.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let text = String::from_utf8_lossy(line);
        if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
            problems.push(format!("audit entry with unprintable bytes: {text:?}"));
        }
        if line.len() > 2048 {
            problems.push(format!("audit entry of {} bytes: {}...", line.len(), &text[..120]));
        }
        let fields = ["uid=", " user=", " role=", " action=", " target=", " result="];
        if !fields.iter().all(|f| text.contains(f)) || text.matches(" uid=").count() != 1 {
            problems.push(format!("malformed audit entry: {text:?}"));
        }
    }
    problems
}

/// The callers a sweep tries, in order, until the policy lets the command run (77 otherwise).
fn callers(through_daemon: bool) -> Vec<Caller> {
    if through_daemon {
        vec![Caller::Uid(CYBERX_UID), Caller::Uid(SUPPORT_UID), Caller::Uid(CYBERX_HOST_UID)]
    } else {
        ROLES.iter().map(|r| Caller::Root(r)).collect()
    }
}

/// Runs every job on four threads, each with its own workspace; returns the failures.
fn sweep(label: &str, through_daemon: bool) {
    if !is_root() {
        skip("needs root for PID and network namespaces (unshare --pid --net)");
        return;
    }
    let started = Instant::now();
    let marker = TempDir::new(&format!("{label}-marker"));
    let probe = Workspace::new(&format!("{label}-probe"));
    let mut cmds = commands(&probe.aliases, &probe.root);
    if through_daemon {
        // The daemon decides the role and the board: --role/--board are refused up front.
        cmds.retain(|c| !c.globals);
    }
    let classes = corpus(marker.path());
    let all = jobs(&cmds, &classes);
    let slots: usize = cmds.iter().map(|c| c.slots.len()).sum();
    eprintln!("{label}: {} commands and aliases, {slots} argument slots, {} invocations", cmds.len(), all.len());

    let next = AtomicUsize::new(0);
    let chosen: Mutex<HashMap<String, usize>> = Mutex::new(HashMap::new());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let codes: Mutex<BTreeMap<i32, usize>> = Mutex::new(BTreeMap::new());
    let callers = callers(through_daemon);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (next, chosen, failures, codes, all, cmds, callers) =
                (&next, &chosen, &failures, &codes, &all, &cmds, &callers);
            scope.spawn(move || {
                let mut ws = Workspace::new(&format!("{label}-{thread}"));
                if through_daemon {
                    ws.daemon = Some(confined_daemon(&ws.root));
                }
                let mut before = snapshot(&ws.root);
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = all.get(at) else { break };
                    let cmd = &cmds[job.cmd];
                    let known = chosen.lock().unwrap().get(&cmd.name).copied();
                    let candidates: Vec<usize> = match known {
                        Some(n) => vec![n],
                        None => (0..callers.len()).collect(),
                    };
                    for n in candidates {
                        let caller = callers[n];
                        let audit_before = std::fs::read(ws.root.join(AUDIT_LOG)).unwrap_or_default();
                        let out = run_confined(&ws, cmd, caller, &job.args);
                        let after = snapshot(&ws.root);
                        let audit_after = std::fs::read(ws.root.join(AUDIT_LOG)).unwrap_or_default();
                        let mut problems = check_audit(&audit_before, &audit_after);
                        problems.extend(check(cmd, &out, &before, &after));
                        if let Some(secret) = job.secret.as_ref().filter(|v| v.len() >= 4 && v.trim_ascii().len() >= 4)
                        {
                            let shown = |hay: &[u8]| {
                                hay.windows(secret.len().min(64)).any(|w| w == &secret[..secret.len().min(64)])
                            };
                            if shown(&out.stderr) || shown(&audit_after[audit_before.len().min(audit_after.len())..]) {
                                problems.push(
                                    "the password given was shown on stderr or written to the audit log".to_string(),
                                );
                            }
                        }
                        if let Some(daemon) = ws.daemon.as_mut() {
                            if let Some(status) = daemon.ended() {
                                // SIGHUP/SIGINT: a reboot or power-off ended its namespace, as
                                // it should; anything else is a crash.
                                if !matches!(status.signal(), Some(1) | Some(2)) {
                                    problems.push(format!("the daemon died: {status:?}"));
                                }
                                ws.daemon = Some(confined_daemon(&ws.root));
                            }
                        }
                        for problem in problems {
                            failures.lock().unwrap().push(format!("{} (as {caller:?}): {problem}", job.label));
                        }
                        before = snapshot(&ws.root);
                        let code = out.status.and_then(|s| s.code()).unwrap_or(-1);
                        *codes.lock().unwrap().entry(code).or_default() += 1;
                        if std::env::var_os("HOSTILE_TRACE").is_some() && code != 2 {
                            eprintln!(
                                "{label}: {} (as {caller:?}): exit {code}: {}",
                                job.label,
                                String::from_utf8_lossy(&out.stderr).trim_end()
                            );
                        }
                        if code != 77 {
                            // The policy let it run: this caller is the one for the command.
                            if code != 2 {
                                chosen.lock().unwrap().insert(cmd.name.clone(), n);
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    let injected: Vec<_> = std::fs::read_dir(marker.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(injected.is_empty(), "an injection string ran: {injected:?}");
    let failures = failures.into_inner().unwrap();
    eprintln!("{label}: exit codes {:?}; {:.1} s", codes.into_inner().unwrap(), started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{} of {} invocations failed; the first:\n{}",
        failures.len(),
        all.len(),
        failures
            .iter()
            .take(std::env::var("HOSTILE_SHOW").ok().and_then(|n| n.parse().ok()).unwrap_or(40))
            .map(|f| f.chars().take(600).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_command_and_argument_survives_the_hostile_corpus_as_root() {
    sweep("hostile-root", false);
}

#[test]
fn every_command_and_argument_survives_the_hostile_corpus_through_the_daemon() {
    sweep("hostile-daemon", true);
}

/// One shell session as `role`: each corpus value after `path` as a line. Its problems.
fn shell_session(ws: &Workspace, role: &str, path: &str, classes: &[Class]) -> Vec<String> {
    let mut input = Vec::new();
    for class in classes {
        // Blank values and `--` (end of options) make the line the bare command
        // (`system reboot`), which is not hostile and may legitimately end the namespace.
        for value in class.values.iter().filter(|v| !v.trim_ascii().is_empty() && v.trim_ascii() != b"--") {
            if !path.is_empty() {
                input.extend_from_slice(path.as_bytes());
                input.push(b' ');
            }
            input.extend_from_slice(value);
            input.push(b'\n');
            // A value that opened a prompt (a category, a question) must not swallow
            // the next line's command: leave any prompt with an empty line.
            input.push(b'\n');
        }
    }
    input.extend_from_slice(b"exit\n");
    let mut child = Command::new("unshare");
    child.args(["--pid", "--fork", "--kill-child", "--net", "--"]);
    if let Some(runner) = std::env::var_os("SENSORCTL_RUNNER").filter(|r| !r.is_empty()) {
        child.arg(runner);
    }
    let mut child = child
        .arg(bin())
        .arg("--root")
        .arg(&ws.root)
        .args(["--role", role, "shell"])
        .current_dir(&ws.cwd)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let what = format!("shell as {role}, lines of '{path} <value>'");
    let mut failures = Vec::new();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") {
        failures.push(format!("{what}: panicked: {stderr}"));
    }
    if let Some(signal) = out.status.signal() {
        failures.push(format!("{what}: died by signal {signal}"));
    } else if ![0, 1, 2, 69, 75, 77].contains(&out.status.code().unwrap_or(-1)) {
        failures.push(format!("{what}: exit {:?}", out.status.code()));
    }
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if let Some(at) = bytes.iter().position(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f) {
            let from = at.saturating_sub(80);
            failures.push(format!(
                "{what}: raw control character on {stream}: {:?}",
                String::from_utf8_lossy(&bytes[from..(at + 40).min(bytes.len())])
            ));
        }
    }
    failures
}

/// The restricted shell is the support user's login shell: its input lines are hostile too.
/// Each command path the binary lists gets one shell session whose lines are that command
/// followed by every corpus value, then every value alone; the session must end normally, and
/// nothing it prints may carry a raw control character or run an injection.
#[test]
fn every_shell_line_survives_the_hostile_corpus() {
    if !is_root() {
        skip("needs root for PID and network namespaces (unshare --pid --net)");
        return;
    }
    let started = Instant::now();
    let marker = TempDir::new("hostile-shell-marker");
    let ws = Workspace::new("hostile-shell");
    let list = sensorctl(&ws.root, &["--list"]).run();
    let paths: Vec<&str> = list.stdout.lines().filter(|n| n.contains(' ') || !n.starts_with("cyberx-")).collect();
    let classes = corpus(marker.path());
    let sessions: Vec<(&str, &str)> = ["support", "cyberx"]
        .iter()
        .flat_map(|role| std::iter::once("").chain(paths.iter().copied()).map(move |path| (*role, path)))
        .collect();
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(&(role, path)) = sessions.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let problems = shell_session(&ws, role, path, &classes);
                    failures.lock().unwrap().extend(problems);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let injected: Vec<_> = std::fs::read_dir(marker.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(injected.is_empty(), "an injection string ran: {injected:?}");
    eprintln!("shell sweep: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{}",
        failures.iter().map(|f| f.chars().take(800).collect::<String>()).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn usage_lines_are_read_into_slots() {
    let argh = parse_usage("Usage: sensorctl ping [-c <count>] [--json] [--] <address>", "ping");
    assert_eq!(
        argh,
        vec![
            Slot::Option { flag: "-c".into(), meta: "count".into(), required: false },
            Slot::Switch { flag: "--json".into() },
            Slot::Positional { meta: "address".into(), required: true },
            Slot::Stray,
        ]
    );
    let argparse = parse_usage(
        "usage: cyberx-xsense-limit-interface [-h] --interface INTERFACE [--limit LIMIT] [--clear]",
        "cyberx-xsense-limit-interface",
    );
    assert_eq!(
        argparse,
        vec![
            Slot::Option { flag: "--interface".into(), meta: "interface".into(), required: true },
            Slot::Option { flag: "--limit".into(), meta: "limit".into(), required: false },
            Slot::Switch { flag: "--clear".into() },
            Slot::Stray,
        ]
    );
    let help = "Usage: x [-f <file>] [-y]\n\nOptions:\n  -f, --file        the file\n  -y, --yes         yes\n  -h, --help        help\n";
    let slots = parse_usage("Usage: x [-f <file>] [-y]", "x");
    assert_eq!(
        long_forms(help, &slots),
        vec![
            Slot::LongForm { flag: "--file".into(), short: "-f".into() },
            Slot::LongForm { flag: "--yes".into(), short: "-y".into() },
        ]
    );
    let repeated = parse_usage("Usage: sensorctl network reconfigure [--dns <dns...>] [-y]", "network reconfigure");
    assert_eq!(repeated[0], Slot::Option { flag: "--dns".into(), meta: "dns".into(), required: false });
}
