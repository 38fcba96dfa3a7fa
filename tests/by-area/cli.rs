//! The real binary through its two grammars and its alias names: dispatch, roles, bad input,
//! version, date, install, boards and config.


use crate::common::*;
use nanoserde::DeJson;
use std::process::Command;

#[derive(DeJson)]
struct VersionJson {
    version: String,
    board: String,
    build_date: String,
    target: String,
}

fn git_short_hash() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_package_version_and_the_git_commit() {
    let root = sandbox("version");
    let run = sensorctl(root.path(), &["system", "version"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hash = git_short_hash().unwrap_or_else(|| "unknown".to_string());
    assert_eq!(run.stdout, format!("Version: {}-{hash}\n", env!("CARGO_PKG_VERSION")));
    let via_alias = Invocation::new(alias(root.path(), "cyberx-xsense-version"), root.path(), &[]).run();
    assert_eq!((via_alias.code, via_alias.stdout), (0, run.stdout));
}

#[test]
fn version_json_adds_board_build_date_and_target() {
    let root = sandbox("version-json");
    let run = sensorctl(root.path(), &["system", "version", "--json"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = VersionJson::deserialize_json(run.stdout.trim()).unwrap();
    assert!(report.version.starts_with(env!("CARGO_PKG_VERSION")));
    assert_eq!(report.board, "generic-x86");
    assert!(report.target.contains("linux"), "{}", report.target);
    assert_eq!(report.build_date.len(), "2022-09-29T18:38:23Z".len());
    // --board and the config select other boards; a bad choice is a clear error.
    let run = sensorctl(root.path(), &["--board", "rugged-arm-4port", "system", "version", "--json"]).run();
    assert_eq!(VersionJson::deserialize_json(run.stdout.trim()).unwrap().board, "rugged-arm-4port");
    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    std::fs::write(root.path().join("etc/sensorctl/config.json"), r#"{"version":1,"board":"rugged-arm-4port"}"#).unwrap();
    let run = sensorctl(root.path(), &["system", "version", "--json"]).run();
    assert_eq!(VersionJson::deserialize_json(run.stdout.trim()).unwrap().board, "rugged-arm-4port");
    let run = sensorctl(root.path(), &["--board", "no-such-board", "system", "version", "--json"]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown board 'no-such-board'"), "{}", run.stderr);
}

#[test]
fn a_bad_board_file_or_config_is_a_clear_error_and_date_still_works() {
    let root = sandbox("bad-files");
    let board = root.path().join("board.json");
    std::fs::write(&board, r#"{"format": 1, "name": "x", "size_profile": "huge"}"#).unwrap();
    let run = sensorctl(root.path(), &["--board", board.to_str().unwrap(), "system", "version", "--json"]).run();
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with(&format!("sensorctl: system version: {}: ", board.display())), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1);

    std::fs::create_dir_all(root.path().join("etc/sensorctl")).unwrap();
    let config = root.path().join("etc/sensorctl/config.json");
    std::fs::write(&config, "{\"version\": 7}").unwrap();
    let run = sensorctl(root.path(), &["system", "version", "--json"]).run();
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("config version 7 is not supported"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "{\"version\": 7}");
    let run = sensorctl(root.path(), &["date"]).run();
    assert_eq!(run.code, 0, "date must work on a damaged config: {}", run.stderr);
}

fn gnu_date(args: &[&str]) -> String {
    let out = Command::new("date").args(args).env("LC_ALL", "C").env("TZ", "UTC").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn date_matches_gnu_date_for_the_same_instant() {
    let root = sandbox("date");
    for args in [&["date"][..], &["system", "date"][..]] {
        let before: i64 = gnu_date(&["+%s"]).trim().parse().unwrap();
        let run = sensorctl(root.path(), args).run();
        let after: i64 = gnu_date(&["+%s"]).trim().parse().unwrap();
        assert_eq!(run.code, 0, "{}", run.stderr);
        // Which instant did we print? GNU date parses it back; then it must print it the same.
        let instant: i64 = gnu_date(&["-d", run.stdout.trim(), "+%s"]).trim().parse().unwrap();
        assert!((before..=after).contains(&instant), "{before} <= {instant} <= {after}");
        assert_eq!(run.stdout, gnu_date(&["-d", &format!("@{instant}")]));
    }
}

#[test]
fn roles_are_enforced_for_every_command_when_root_lowers_its_role() {
    let root = sandbox("roles");
    // (command, roles that may run it) for the commands of this build, from DESIGN.md's table.
    let table: &[(&[&str], &[&str])] = &[
        (&["system", "version"], &["support", "cyberx", "root"]),
        (&["system", "date"], &["support", "cyberx", "cyberx_host", "root"]),
        (&["date"], &["support", "cyberx", "cyberx_host", "root"]),
    ];
    for (command, allowed) in table {
        for role in ["support", "cyberx", "cyberx_host", "root", "none"] {
            let mut args = vec!["--role", role];
            args.extend_from_slice(command);
            let run = sensorctl(root.path(), &args).run();
            if allowed.contains(&role) {
                assert_eq!(run.code, 0, "{command:?} as {role}: {}", run.stderr);
            } else {
                assert_eq!(run.code, 77, "{command:?} as {role}");
                assert_eq!(run.stdout, "");
                assert_eq!(
                    run.stderr,
                    format!("sensorctl: {}: permission denied for role {role}\n", command.join(" "))
                );
            }
        }
    }
}

#[test]
fn the_real_uid_decides_the_role_through_the_daemon_and_nobody_can_raise_it() {
    if !is_root() {
        skip("needs root to start the daemon and run the binary under other uids");
        return;
    }
    let root = sandbox("real-uids");
    // Not root and no daemon: a clear temporary failure, nothing run in-process.
    let absent = sensorctl(root.path(), &["date"]).uid(SUPPORT_UID).run();
    assert_eq!(absent.code, 75, "{}", absent.stderr);
    assert!(absent.stderr.contains("the sensorctl daemon is not running"), "{}", absent.stderr);

    let _daemon = Daemon::start(root.path());
    let in_process = sensorctl(root.path(), &["--role", "support", "system", "version"]).run();
    let support = sensorctl(root.path(), &["system", "version"]).uid(SUPPORT_UID).run();
    assert_eq!(support.code, 0, "{}", support.stderr);
    assert_eq!(support.stdout, in_process.stdout, "the daemon's output is what the command prints in-process");
    let host = sensorctl(root.path(), &["system", "version"]).uid(CYBERX_HOST_UID).run();
    assert_eq!((host.code, host.stderr.as_str()), (77, "sensorctl: system version: permission denied for role cyberx_host\n"));
    let host_date = sensorctl(root.path(), &["date"]).uid(CYBERX_HOST_UID).run();
    assert_eq!(host_date.code, 0, "{}", host_date.stderr);
    for uid in [STRANGER_UID, 5555] {
        let stranger = sensorctl(root.path(), &["date"]).uid(uid).run();
        assert_eq!((stranger.code, stranger.stderr.as_str()), (77, "sensorctl: date: permission denied for role none\n"));
    }
    // Outside the socket's group the kernel refuses the connection itself.
    let outsider = sensorctl(root.path(), &["date"]).uid(SUPPORT_UID).gid(SUPPORT_UID).run();
    assert_eq!(outsider.code, 77, "{}", outsider.stderr);
    assert!(outsider.stderr.contains("Permission denied"), "{}", outsider.stderr);
    // The role and the board are the daemon's to decide.
    for flags in [&["--role", "root"][..], &["--role", "support"], &["--board", "rugged-arm-4port"]] {
        let mut args = flags.to_vec();
        args.push("date");
        let raise = sensorctl(root.path(), &args).uid(SUPPORT_UID).run();
        assert_eq!(raise.code, 2, "{flags:?}: {}", raise.stderr);
        assert!(raise.stderr.contains("--role and --board are for root only"), "{}", raise.stderr);
    }
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_2() {
    let root = sandbox("bad-input");
    let cases: &[(&[&str], &str)] = &[
        (&["bogus"], "unknown command 'bogus'"),
        (&["system", "bogus"], "sensorctl: system: unknown command 'bogus' (see sensorctl help)"),
        (&["system", "versoin"], "sensorctl: system: unknown command 'versoin'; did you mean 'version'?"),
        (&["system"], "sensorctl: system: missing command"),
        (&["system", "version", "extra"], "sensorctl: system version: Unrecognized argument: extra"),
        (&["system", "version", "--bad"], "sensorctl: system version: Unrecognized argument: --bad"),
        (&["--role", "king", "date"], "unknown role 'king'"),
        (&["--root"], "--root needs a value"),
        (&["--frobnicate", "date"], "unknown option '--frobnicate'"),
        (&["--root", "/nonexistent/x", "date"], "--root /nonexistent/x: no such directory"),
        (&["date\u{1b}[2J"], "unknown command 'date\\x1b[2J'"),
        (&["shell", "--idle-timeout", "0"], "at least 1 second"),
        (&["install"], "Required positional arguments not provided"),
    ];
    for (args, expected) in cases {
        let run = sensorctl(root.path(), args).run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    let no_args = sensorctl(root.path(), &[]).run();
    assert_eq!(no_args.code, 2);
    assert!(no_args.stderr.starts_with("Usage: sensorctl"));
}

#[test]
fn non_utf8_arguments_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let root = sandbox("non-utf8");
    let out = sensorctl(root.path(), &[])
        .command()
        .arg(std::ffi::OsStr::from_bytes(b"system\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("argument 1 is not valid UTF-8"));
}

#[test]
fn list_names_every_command_and_every_alias_runs_through_a_symlink() {
    let root = sandbox("list");
    let run = sensorctl(root.path(), &["--list"]).run();
    assert_eq!(run.code, 0);
    let names: Vec<&str> = run.stdout.lines().collect();
    for expected in ["system version", "system date", "date", "shell", "install", "cyberx-xsense-version"] {
        assert!(names.contains(&expected), "--list lacks {expected}: {names:?}");
    }
    for alias_name in names.iter().filter(|n| !n.contains(' ') && n.starts_with("cyberx-")) {
        let link = alias(root.path(), alias_name);
        let help = Invocation::new(link, root.path(), &["--help"]).run();
        assert_eq!(help.code, 0, "{alias_name} --help: {}", help.stderr);
        // argh's "Usage:", or argparse's "usage:" where the reference CLI's argparse text is kept.
        let argparse = help.stdout.starts_with(&format!("usage: {alias_name} "));
        assert!(help.stdout.starts_with(&format!("Usage: {alias_name}")) || argparse, "{}", help.stdout);
    }
    // Any other name behaves as sensorctl (busybox's rule for its own name): a renamed copy works.
    for other in ["cyberx-no-such-tool", "sensorctl-2.1", "s"] {
        let bare = Invocation::new(alias(root.path(), other), root.path(), &[]).run();
        assert_eq!(bare.code, 2, "{other}");
        assert!(bare.stderr.starts_with("Usage: sensorctl"), "{other}: {}", bare.stderr);
        let version = Invocation::new(alias(root.path(), other), root.path(), &["system", "version"]).run();
        assert_eq!(version.code, 0, "{other}: {}", version.stderr);
        assert!(version.stdout.starts_with("Version: "), "{other}: {}", version.stdout);
    }
    // And `sensorctl ALIAS ARGS` runs the alias.
    let via = sensorctl(root.path(), &["cyberx-xsense-version"]).run();
    assert_eq!((via.code, via.stdout.starts_with("Version: ")), (0, true), "{}", via.stderr);
}

#[test]
fn install_creates_the_alias_links_idempotently_and_refuses_to_clobber() {
    let root = sandbox("install");
    let dir = root.path().join("bin");
    std::fs::create_dir(&dir).unwrap();
    let first = sensorctl(root.path(), &["install", dir.to_str().unwrap()]).run();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let link = dir.join("cyberx-xsense-version");
    assert_eq!(std::fs::read_link(&link).unwrap(), bin());
    let via_link = Invocation::new(link.clone(), root.path(), &[]).run();
    assert!(via_link.stdout.starts_with("Version: "));
    let again = sensorctl(root.path(), &["install", dir.to_str().unwrap()]).run();
    assert_eq!((again.code, again.stdout.as_str()), (0, ""), "a second install changes nothing");

    // A link that points elsewhere is repaired; a regular file is never replaced.
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/bin/false", &link).unwrap();
    let repair = sensorctl(root.path(), &["install", dir.to_str().unwrap()]).run();
    assert_eq!(repair.code, 0);
    assert_eq!(std::fs::read_link(&link).unwrap(), bin());
    std::fs::remove_file(&link).unwrap();
    std::fs::write(&link, "operator's own script").unwrap();
    let refuse = sensorctl(root.path(), &["install", dir.to_str().unwrap()]).run();
    assert_eq!(refuse.code, 1, "{}", refuse.stderr);
    assert!(refuse.stderr.contains("refusing to replace what is not a symlink"), "{}", refuse.stderr);
    assert_eq!(std::fs::read_to_string(&link).unwrap(), "operator's own script");

    let denied = sensorctl(root.path(), &["--role", "cyberx", "install", dir.to_str().unwrap()]).run();
    assert_eq!(denied.code, 77);
}

#[test]
fn verbose_logs_to_stderr_and_quiet_does_not() {
    let root = sandbox("verbose");
    let quiet = sensorctl(root.path(), &["date"]).run();
    assert_eq!(quiet.stderr, "");
    let loud = sensorctl(root.path(), &["-v", "date"]).run();
    assert!(loud.stderr.contains("INFO") && loud.stderr.contains("runs Date"), "{}", loud.stderr);
    assert_eq!(loud.stdout.lines().count(), 1, "logging must not touch stdout: {}", loud.stdout);
    assert!(loud.stdout.contains(" UTC "));
}
