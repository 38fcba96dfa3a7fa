//! The restricted shell driven through a pipe on stdin, as a serial console or a test does.


use crate::common::*;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn shell(root: &std::path::Path, role: &str, input: &str) -> Run {
    sensorctl(root, &["--role", role, "shell"]).stdin(input.as_bytes()).run()
}

#[test]
fn help_lists_only_the_commands_of_the_role() {
    let root = sandbox("shell-help");
    let support = shell(root.path(), "support", "help\nhelp system\n");
    assert_eq!(support.code, 0, "{}", support.stderr);
    assert!(support.stdout.contains("  date "), "{}", support.stdout);
    assert!(support.stdout.contains("  version "), "{}", support.stdout);
    for hidden in ["  install ", "  shell "] {
        assert!(!support.stdout.contains(hidden), "support sees {hidden}: {}", support.stdout);
    }
    // cyberx_host may see the date but not the version.
    let host = shell(root.path(), "cyberx_host", "help system\n");
    assert!(host.stdout.contains("  date "), "{}", host.stdout);
    assert!(!host.stdout.contains("version"), "{}", host.stdout);
    let host_run = shell(root.path(), "cyberx_host", "system version\n");
    assert!(host_run.stderr.contains("system version: permission denied for role cyberx_host"), "{}", host_run.stderr);
    assert!(!host_run.stdout.contains("Version:"));
    let audit = std::fs::read_to_string(root.path().join("var/log/sensorctl/audit.log")).unwrap_or_default();
    assert!(
        audit.lines().any(|l| l.contains("role=cyberx_host action=version target=- result=denied")),
        "the shell's refusal is audited: {audit}"
    );
}

#[test]
fn a_category_opens_a_sub_prompt_and_dot_dot_leaves_it() {
    let root = sandbox("shell-sub");
    let run = shell(root.path(), "support", "system\nversion\n..\ndate\nsystem\nexit\nsystem version\nlogout\ndate\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches("system> ").count(), 3, "{}", run.stdout);
    assert_eq!(run.stdout.matches("Version: ").count(), 2, "{}", run.stdout);
    // `date` after `..` ran at the top level; the one after `logout` never ran.
    assert_eq!(run.stdout.matches(" UTC ").count(), 1, "{}", run.stdout);
    let prompt = format!("root@{}: ", hostname());
    assert!(run.stdout.starts_with(&prompt), "prompt: {}", run.stdout);
    assert_eq!(run.stderr, "");
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

#[test]
fn shell_syntax_is_plain_text_and_nothing_runs_but_the_literal_command() {
    let root = sandbox("shell-inject");
    let marker = root.path().join("pwned");
    let m = marker.display();
    let lines = [
        format!("system version; touch {m}"),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("date | touch {m}"),
        format!("date > {m}"),
        format!("date && touch {m}"),
        format!("system version\ttouch {m}"),
        "date'".to_string(),
    ];
    let mut input = lines.join("\n");
    input.push_str("\nsystem version\n");
    let run = shell(root.path(), "support", &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!marker.exists(), "a shell construct ran something");
    assert_eq!(run.stderr.lines().count(), lines.len(), "one error per hostile line: {}", run.stderr);
    assert!(run.stderr.contains("unknown command '$(touch"), "{}", run.stderr);
    assert!(run.stderr.contains("unterminated quote"), "{}", run.stderr);
    // The shell survived all of them and still runs a real command.
    assert_eq!(run.stdout.matches("Version: ").count(), 1, "{}", run.stdout);
}

#[test]
fn nul_bytes_control_characters_and_huge_lines_are_rejected_without_harm() {
    let root = sandbox("shell-bytes");
    let mut input = Vec::new();
    input.extend_from_slice(b"date\0touch x\n");
    input.extend_from_slice(b"date\x1b]0;title\x07\n");
    input.extend_from_slice(b"\xff\xfe\n");
    input.extend(std::iter::repeat_n(b'a', 100_000));
    input.extend_from_slice(b"\nsystem version\n");
    let run = sensorctl(root.path(), &["--role", "support", "shell"]).stdin(&input).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("control character U+0000"), "{}", run.stderr);
    assert!(run.stderr.contains("control character U+001B"), "{}", run.stderr);
    assert!(run.stderr.contains("not valid UTF-8"), "{}", run.stderr);
    assert!(run.stderr.contains("line too long"), "{}", run.stderr);
    assert_eq!(run.stdout.matches(" UTC ").count(), 0, "a rejected line must not run");
    assert_eq!(run.stdout.matches("Version: ").count(), 1, "{}", run.stdout);
}

#[test]
fn the_shell_logs_out_when_idle() {
    let root = sandbox("shell-idle");
    let mut child = sensorctl(root.path(), &["--role", "support", "shell", "--idle-timeout", "1"])
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _keep_stdin_open = child.stdin.take();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the shell did not log out after its idle timeout");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(status.code(), Some(0));
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains("idle for 1 seconds: logged out"), "{out}");
}

#[test]
fn a_real_support_user_gets_the_support_shell() {
    if !is_root() {
        skip("needs root to run the shell under the support uid");
        return;
    }
    let root = sandbox("shell-uid");
    let _daemon = Daemon::start(root.path());
    let run = sensorctl(root.path(), &["shell"]).uid(SUPPORT_UID).stdin(b"help\nsystem version\n").run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(&format!("support@{}: ", hostname())), "{}", run.stdout);
    assert!(run.stdout.contains("Version: "), "the command ran through the daemon: {}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("  install "));
    // A command of the shell that support may not run: refused by the daemon, which audits it.
    let denied = sensorctl(root.path(), &["shell"]).uid(SUPPORT_UID).stdin(b"system backup space\n").run();
    assert!(denied.stderr.contains("permission denied for role support"), "{}", denied.stderr);
    let audit = std::fs::read_to_string(root.path().join("var/log/sensorctl/audit.log")).unwrap_or_default();
    assert!(
        audit.lines().any(|l| l.contains(&format!("uid={SUPPORT_UID} ")) && l.contains("action=backup-space") && l.ends_with("result=denied")),
        "the daemon audits the shell's refused command: {audit}"
    );
    let stranger = sensorctl(root.path(), &["shell"]).uid(STRANGER_UID).stdin(b"date\n").run();
    assert_eq!(stranger.code, 77, "a user without a role gets no shell");
}

/// The shell's help is the command line's, for the commands the caller may run: `help WORDS`
/// prints what `sensorctl help WORDS` prints, `system --help` lists the category, and a
/// command's `--help` lists the commands below it.
#[test]
fn help_in_the_shell_is_the_command_lines_help() {
    let root = sandbox("shell-help-same");
    for words in [&["system", "backup"][..], &["system", "ntp"], &["system", "upgrade"], &["network", "limit"], &["system"]] {
        let cli = sensorctl(root.path(), &[&["help"], words].concat()).run();
        assert_eq!(cli.code, 0, "{words:?}: {}", cli.stderr);
        // cyberx may run every command under these words, so its listing is the whole one.
        let shell = shell(root.path(), "cyberx", &format!("help {}\n", words.join(" ")));
        assert_eq!(shell.code, 0, "{words:?}: {}", shell.stderr);
        assert!(shell.stdout.contains(cli.stdout.trim_end()), "{words:?}: shell\n{}\ncli\n{}", shell.stdout, cli.stdout);
    }
    let run = shell(root.path(), "support", "system --help\nsystem backup --help\nhelp system nonsense\n");
    assert!(run.stdout.contains("system commands:"), "{}", run.stdout);
    assert!(!run.stderr.contains("unknown command '--help'"), "{}", run.stderr);
    // `system backup` is a command and a category: its help lists the commands below it that
    // support may run (not `space` or `export`, which are cyberx's).
    let below = run.stdout.split("Commands:").nth(1).unwrap_or_default();
    assert!(below.contains("create") && below.contains("list") && !below.contains("export"), "{}", run.stdout);
    assert!(run.stderr.contains("nonsense"), "{}", run.stderr);
}

/// The host name in the prompt is the kernel's, which takes any bytes: a control sequence in it
/// is shown escaped, never sent to the operator's terminal.
#[test]
fn a_host_name_with_control_characters_is_escaped_in_the_prompt() {
    if !is_root() {
        skip("sets the host name in a UTS namespace of its own (unshare --uts)");
        return;
    }
    let root = sandbox("shell-hostname");
    let inner = sensorctl(root.path(), &["--role", "support", "shell"]).command();
    let mut outer = std::process::Command::new("unshare");
    // hostname(1) refuses such a name; sethostname(2) itself takes any bytes.
    let set = "import socket, sys; socket.sethostname(sys.argv[1])";
    outer.args(["--uts", "sh", "-c", "python3 -c \"$0\" \"$1\" && shift && exec \"$@\"", set, "evil\x1b[2Jname"]);
    let out = wrapped(outer, &inner).stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("@evil\\x1b[2Jname:"), "{stdout:?} {}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
}
