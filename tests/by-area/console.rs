//! The console an operator expects (issue 21): every name `--list` prints answers `-h` and
//! `--help`, takes `--opt=value`, runs as `sensorctl NAME` and through a symlink; `--json`
//! failures are JSON; and the shell's line editor on a real pseudo-terminal, key by key.

use crate::common::*;
use nanoserde::DeJson;

fn list(root: &std::path::Path) -> Vec<String> {
    let run = sensorctl(root, &["--list"]).run();
    assert_eq!(run.code, 0);
    run.stdout.lines().map(str::to_string).collect()
}

/// The options of a command that take a value, from its usage line (`[--seconds <seconds>]`).
fn value_options(usage: &str) -> Vec<String> {
    let words: Vec<&str> = usage.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[1].starts_with('<') || w[1].chars().all(|c| c.is_ascii_uppercase() || c == '_') && w[0].starts_with("[-"))
        .map(|w| w[0].trim_start_matches('[').to_string())
        .filter(|o| o.starts_with("--") && o[2..].chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect()
}

#[test]
fn every_name_answers_help_takes_opt_equals_value_and_runs_by_name_or_link() {
    let root = sandbox("console-table");
    let links = TempDir::new("console-links");
    let names = list(root.path());
    assert!(names.len() > 40, "{names:?}");
    for name in &names {
        let words: Vec<&str> = name.split(' ').collect();
        let alias = words.len() == 1 && name.contains('-');
        for help in ["-h", "--help"] {
            let mut args = words.clone();
            args.push(help);
            let run = sensorctl(root.path(), &args).run();
            assert_eq!(run.code, 0, "{name} {help}: {}", run.stderr);
            assert!(run.stdout.starts_with("Usage: ") || run.stdout.starts_with("usage: "), "{name} {help}: {}", run.stdout);
            if alias {
                let link = Invocation::new(crate::common::alias(links.path(), name), root.path(), &[help]).run();
                assert_eq!((link.code, link.stdout.as_str()), (0, run.stdout.as_str()), "{name} through a link");
            }
        }
        // --opt=value: the option is recognised (the value is then judged, and refused).
        let mut args = words.clone();
        args.push("--help");
        let usage = sensorctl(root.path(), &args).run().stdout;
        if let Some(option) = value_options(usage.lines().next().unwrap_or("")).first() {
            let mut args = vec!["--role", "none"];
            args.extend(words.iter().copied());
            let joined = format!("{option}=@@not-a-value@@");
            args.push(&joined);
            let run = sensorctl(root.path(), &args).run();
            assert_ne!(run.code, 0, "{name} {joined}: {}", run.stdout);
            assert!(!run.stderr.contains("Unrecognized argument") && !run.stderr.contains("unrecognized arguments"), "{name} {joined}: {}", run.stderr);
        }
    }
    // A category alone asks for a command (exit 2); with --help it lists them (exit 0).
    let bare = sensorctl(root.path(), &["system"]).run();
    assert_eq!(bare.code, 2);
    assert!(bare.stderr.contains("missing command; one of: version, date"), "{}", bare.stderr);
    let listed = sensorctl(root.path(), &["system", "--help"]).run();
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.starts_with("system commands:\n") && listed.stdout.contains("  version "), "{}", listed.stdout);
    let help = sensorctl(root.path(), &["help", "system", "backup"]).run();
    assert_eq!(help.code, 0, "{}", help.stderr);
    for word in ["create", "list", "space"] {
        assert!(help.stdout.contains(&format!("\n  {word} ")), "{word}: {}", help.stdout);
    }
    let typo = sensorctl(root.path(), &["system", "versoin"]).run();
    assert_eq!((typo.code, typo.stderr.as_str()), (2, "sensorctl: system: unknown command 'versoin'; did you mean 'version'?\n"));
    let help = sensorctl(root.path(), &["help"]).run();
    assert_eq!(help.code, 0);
    assert!(help.stdout.starts_with("Usage: sensorctl"), "{}", help.stdout);
}

#[derive(DeJson)]
struct Failure {
    error: FailureBody,
}

#[derive(DeJson)]
struct FailureBody {
    code: u8,
    message: String,
}

#[test]
fn every_json_command_fails_as_json_too() {
    let root = sandbox("console-json");
    // The --json commands, each with what it needs to run (but a role that may not).
    let commands: &[&[&str]] = &[
        &["system", "version", "--json"],
        &["system", "date", "--json"],
        &["system", "sanity", "--json"],
        &["network", "list", "--json"],
        &["network", "validate", "--json"],
        &["network", "load", "--json"],
        &["network", "internet-check", "--json"],
        &["ntp", "status", "--json"],
        &["ntp", "query", "127.0.0.1", "--json"],
        &["system", "backup-list", "--json"],
        &["system", "backup", "space", "--json"],
        &["cert", "show", "--json"],
        &["system", "login-protection", "--json"],
        &["system", "upgrade", "--status", "--json"],
        &["network", "capture-filter", "--show", "--json"],
        &["network", "limit-list", "--json"],
    ];
    for args in commands {
        let mut denied = vec!["--role", "none"];
        denied.extend_from_slice(args);
        let run = sensorctl(root.path(), &denied).run();
        assert_eq!(run.code, 77, "{args:?}: {}", run.stderr);
        let failure = Failure::deserialize_json(run.stdout.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {:?}", run.stdout));
        assert_eq!(failure.error.code, 77, "{args:?}");
        assert!(failure.error.message.starts_with("permission denied for role none"), "{args:?}: {}", failure.error.message);
        assert!(run.stderr.contains("permission denied"), "{args:?}: the line on stderr too");
        // And bad input: exit 2, as JSON.
        let mut bad = args.to_vec();
        bad.push("--no-such-option");
        let run = sensorctl(root.path(), &bad).run();
        assert_eq!(run.code, 2, "{bad:?}: {}", run.stderr);
        let failure = Failure::deserialize_json(run.stdout.trim()).unwrap_or_else(|e| panic!("{bad:?}: {e}: {:?}", run.stdout));
        assert_eq!(failure.error.code, 2);
    }
    // A command that fails at its work (exit 1): no NTP server answers on 127.0.0.1 here.
    let run = sensorctl(root.path(), &["ntp", "query", "127.0.0.1", "--json"]).run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let failure = Failure::deserialize_json(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {:?}", run.stdout));
    assert_eq!(failure.error.code, 1);
    assert!(failure.error.message.contains("no reply from 127.0.0.1:123"), "{}", failure.error.message);
    // A feature this build does not have (exit 69): firmware artifacts leave HTTPS out.
    let run = sensorctl(root.path(), &["network", "internet-check", "--url", "https://127.0.0.1/", "--json"]).run();
    assert_eq!(run.code, 69, "{}", run.stderr);
    let failure = Failure::deserialize_json(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {:?}", run.stdout));
    assert_eq!(failure.error.code, 69);
    assert!(failure.error.message.contains("no HTTPS"), "{}", failure.error.message);
    // A caller who is not root with no daemon to serve it (exit 75).
    if is_root() {
        for args in [&["system", "version", "--json"][..], &["network", "list", "--json"]] {
            let run = sensorctl(root.path(), args).uid(SUPPORT_UID).run();
            assert_eq!(run.code, 75, "{args:?}: {}", run.stderr);
            let failure = Failure::deserialize_json(run.stdout.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {:?}", run.stdout));
            assert_eq!(failure.error.code, 75, "{args:?}");
            assert!(failure.error.message.contains("daemon is not running"), "{args:?}: {}", failure.error.message);
        }
    }
}

#[test]
fn the_line_editor_edits_recalls_completes_and_explains_on_a_real_terminal() {
    if !can_make_netns() {
        skip("needs root for a network namespace with known interface names");
        return;
    }
    if under_qemu() {
        skip_on_this_target("under qemu-user the pty drives qemu, not the binary; covered natively");
        return;
    }
    let ns = NetNs::new("console-ed");
    ns.exec(&["ip", "link", "add", "mon7", "type", "veth", "peer", "name", "mon8"]);
    let root = sandbox("console-ed");
    let _daemon = ns.daemon(root.path());
    let bin = bin();
    let root_text = root.path().to_str().unwrap();
    let env = [("SENSORCTL_ROOT", root_text), ("PATH", "/usr/bin:/bin"), ("TERM", "xterm")];
    let left = "\x1b[D";
    let right = "\x1b[C";
    let up = "\x1b[A";
    let down = "\x1b[B";
    let home = "\x1b[H";
    let end = "\x1b[F";
    let delete = "\x1b[3~";
    let prompt = "support@";
    let line = |keys: &str| format!("{keys}\r");
    let steps = [
        PtyStep::Expect(prompt, 10.0),
        // Left, then insert: "sytem version" becomes "system version".
        PtyStep::Send("sytem versio"),
        PtyStep::Send(&format!("{home}{right}{right}")),
        PtyStep::Send("s"),
        PtyStep::Send(&line(&format!("{end}n"))),
        PtyStep::Expect("Version: ", 10.0),
        PtyStep::Expect(prompt, 5.0),
        // Backspace, Delete, Ctrl-A/E/U/K/W: only "date" is left to run.
        PtyStep::Send("xdate yy"),
        PtyStep::Send("\x7f\x7f\x7f"),
        PtyStep::Send(&format!("\x01{delete}\x05")),
        PtyStep::Send(" junk words\x17\x17"),
        PtyStep::Send(&line("")),
        PtyStep::Expect(" UTC ", 10.0),
        PtyStep::Expect(prompt, 5.0),
        PtyStep::Send("doomed line\x01\x0b"),
        PtyStep::Send("also doomed\x15"),
        PtyStep::Send(&line("system date")),
        PtyStep::Expect(" UTC ", 10.0),
        PtyStep::Expect(prompt, 5.0),
        // Up twice recalls "date"'s predecessor; Down comes back to what was being typed.
        PtyStep::Send(&format!("{up}{up}{up}")),
        PtyStep::Send(&format!("{down}{down}")),
        PtyStep::Send(&line("")),
        PtyStep::Expect(" UTC ", 10.0),
        PtyStep::Expect(prompt, 5.0),
        PtyStep::Send(&format!("{up}{up}{up}{left}")),
        PtyStep::Send(&line("")),
        PtyStep::Expect("Version: ", 10.0),
        PtyStep::Expect(prompt, 5.0),
        // Tab completes a category, a command, an option and an interface name of the port.
        PtyStep::Send("netw\t"),
        PtyStep::Send("lis\t"),
        PtyStep::Send("--a\t"),
        PtyStep::Send(&line("")),
        PtyStep::Expect("mon7: flags=", 10.0),
        PtyStep::Expect(prompt, 5.0),
        PtyStep::Send("network blink mo\t"),
        PtyStep::Expect("network blink mon", 5.0),
        PtyStep::Send("\x03"),
        PtyStep::Expect(prompt, 5.0),
        // ? lists what may come next, with its line, and the line stays.
        PtyStep::Send("system ?"),
        PtyStep::Expect("version", 5.0),
        PtyStep::Expect("show the installed software version", 5.0),
        PtyStep::Send(&line("version")),
        PtyStep::Expect("Version: ", 10.0),
        // Ctrl-L clears the screen and redraws the line.
        PtyStep::Send("system\x0c"),
        PtyStep::Expect("\x1b[2J", 5.0),
        PtyStep::Expect("system", 5.0),
        PtyStep::Send("\x03"),
        PtyStep::Expect(prompt, 5.0),
        // Stopped and continued (Ctrl-Z and `fg` on a console with job control), the editor
        // draws its line again.
        PtyStep::Send("system vers"),
        PtyStep::Expect("system vers", 5.0),
        PtyStep::Signal("SIGSTOP"),
        PtyStep::Signal("SIGCONT"),
        PtyStep::Expect("system vers", 5.0),
        PtyStep::Send(&line("ion")),
        PtyStep::Expect("Version: ", 10.0),
        PtyStep::Expect(prompt, 5.0),
        // A line wider than the terminal's 80 columns (the pty says 80) scrolls sideways in
        // one row: no line feed before Enter.
        PtyStep::Send(&"x".repeat(150)),
        PtyStep::Expect(&"x".repeat(40), 5.0),
        PtyStep::Send("\x03"),
        PtyStep::Expect(prompt, 5.0),
        PtyStep::Send(&line("logout")),
    ];
    // In the namespace, as an appliance login would be: completion reads its interfaces.
    let seen = pty_session_in(Some(&ns), &[bin.to_str().unwrap(), "shell"], &env, SUPPORT_UID, SUPPORT_UID, &steps);
    assert_eq!(seen.missed, None, "screen:\n{}", seen.screen);
    assert_eq!(seen.code, 0, "screen:\n{}", seen.screen);
    // The long line never went past the 80th column: each of its redraws, between the carriage
    // returns the editor draws with, fits.
    for row in seen.screen.split(['\r', '\n']).filter(|row| row.contains("xxxxxxxxxx")) {
        let visible = row.split('\x1b').map(|part| part.trim_start_matches(|c: char| c == '[' || c.is_ascii_digit() || c == 'K' || c == 'C' || c == 'H' || c == 'J')).collect::<String>();
        assert!(visible.chars().count() <= 80, "a row wider than the terminal: {visible:?}");
    }
    // The history never reaches the disk.
    let leaked = Command::new("grep").args(["-rl", "doomed", root.path().to_str().unwrap()]).output().unwrap();
    assert!(leaked.stdout.is_empty(), "{}", String::from_utf8_lossy(&leaked.stdout));
}

/// Where the editor cannot work (`TERM=dumb`; and it must not write escapes to a redirected
/// standard output) the shell reads plain lines: Tab is a character, not a completion, and no
/// escape sequence is sent.
#[test]
fn on_a_dumb_terminal_the_shell_reads_plain_lines() {
    if !is_root() {
        skip("runs the shell as root on a pseudo-terminal");
        return;
    }
    if under_qemu() {
        skip_on_this_target("under qemu-user the pty drives qemu, not the binary; covered natively");
        return;
    }
    let root = sandbox("console-dumb");
    let bin = bin();
    let root_text = root.path().to_str().unwrap();
    let env = [("SENSORCTL_ROOT", root_text), ("PATH", "/usr/bin:/bin"), ("TERM", "dumb")];
    let steps = [
        PtyStep::Expect("root@", 10.0),
        PtyStep::Send("system versio\t\r"),
        PtyStep::Expect("did you mean 'version'?", 5.0),
        PtyStep::Send("system version\r"),
        PtyStep::Expect("Version: ", 10.0),
        PtyStep::Send("logout\r"),
    ];
    let seen = pty_session(&[bin.to_str().unwrap(), "shell"], &env, 0, 0, &steps);
    assert_eq!(seen.missed, None, "screen:\n{}", seen.screen);
    assert_eq!(seen.code, 0, "screen:\n{}", seen.screen);
    assert!(!seen.screen.contains('\x1b'), "an escape sequence on a dumb terminal: {:?}", seen.screen);
}

use std::process::Command;
