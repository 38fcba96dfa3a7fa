//! Shared helpers of the integration tests: the binary under test, sandbox roots, running.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The binary under test: `SENSORCTL_BIN` (scripts/test sets it to the static release build in
/// dist/), else the one cargo built for this test run.
pub fn bin() -> PathBuf {
    match std::env::var_os("SENSORCTL_BIN") {
        Some(path) => std::fs::canonicalize(&path).unwrap_or_else(|e| panic!("SENSORCTL_BIN={path:?}: {e}")),
        None => PathBuf::from(env!("CARGO_BIN_EXE_sensorctl")),
    }
}

/// Whether we run as root (CI does; some tests need it and say so when they skip).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// A temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), label)
    }
    /// One under `base` (say /dev/shm, for a test about memory rather than the disk).
    pub fn under(base: &Path, label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("sensorctl-it-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The uids the sandbox passwd gives to the appliance users.
pub const SUPPORT_UID: u32 = 4242;
pub const CYBERX_UID: u32 = 4243;
pub const CYBERX_HOST_UID: u32 = 4244;
pub const STRANGER_UID: u32 = 4245;
/// The group that may use the daemon socket (`socket_group` of the embedded board).
pub const SENSORCTL_GID: u32 = 4300;

/// A sandbox root with an etc/passwd naming the appliance users.
pub fn sandbox(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        format!(
            "root:x:0:0:root:/root:/bin/sh\n\
             support:x:{SUPPORT_UID}:{SUPPORT_UID}::/home/support:/usr/bin/sensorctl\n\
             cyberx:x:{CYBERX_UID}:{CYBERX_UID}::/home/cyberx:/bin/sh\n\
             cyberx_host:x:{CYBERX_HOST_UID}:{CYBERX_HOST_UID}::/home/cyberx_host:/bin/sh\n\
             stranger:x:{STRANGER_UID}:{STRANGER_UID}::/home/stranger:/bin/sh\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/group"),
        format!("root:x:0:\nsensorctl:x:{SENSORCTL_GID}:support,cyberx,cyberx_host,stranger\n"),
    )
    .unwrap();
    // Other uids must be able to reach the daemon socket below it.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

/// `sensorctl daemon` serving `root`, started as root; killed when dropped.
pub struct Daemon {
    child: std::process::Child,
}

impl Daemon {
    pub fn start(root: &Path) -> Daemon {
        Daemon::start_with(sensorctl(root, &["daemon"]).command(), root)
    }
    /// The daemon started by `command` (inside a network namespace, say), serving `root`.
    pub fn start_with(mut command: Command, root: &Path) -> Daemon {
        let socket = root.join("run/sensorctl/sensord.sock");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let daemon = Daemon { child };
        let started = std::time::Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "the daemon did not come up");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        daemon
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// How it ended, if it has.
    pub fn ended(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
    /// Kills it with SIGKILL and reaps it.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The result of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The firmware builders' binary, with `package keygen|build` (cargo feature `host-tools`,
/// which firmware artifacts leave out): `SENSORCTL_HOST_TOOLS`, which scripts/test and
/// scripts/test-cross build (`scripts/build --host-tools`) and set. It is the build machine's
/// own tool, so it runs natively even in a cross run. `None` (after saying so with [`skip`],
/// which fails a CI run) when it is not set.
pub fn host_tools(root: &Path, args: &[&str]) -> Option<Invocation> {
    let Some(path) = std::env::var_os("SENSORCTL_HOST_TOOLS") else {
        skip("needs the package signing tool: scripts/build --host-tools, then SENSORCTL_HOST_TOOLS=dist/host/sensorctl");
        return None;
    };
    let mut invocation = Invocation::new(PathBuf::from(path), root, args);
    invocation.native = true;
    Some(invocation)
}

/// How to run the binary.
pub struct Invocation {
    program: PathBuf,
    /// Run directly, not through `SENSORCTL_RUNNER` (the host tool in a cross run).
    native: bool,
    args: Vec<String>,
    root: Option<PathBuf>,
    uid: Option<u32>,
    gid: Option<u32>,
    stdin: Vec<u8>,
}

/// `sensorctl ARGS` against `root`.
pub fn sensorctl(root: &Path, args: &[&str]) -> Invocation {
    Invocation::new(bin(), root, args)
}

impl Invocation {
    pub fn new(program: PathBuf, root: &Path, args: &[&str]) -> Invocation {
        Invocation {
            program,
            native: false,
            args: args.iter().map(|a| a.to_string()).collect(),
            root: Some(root.to_path_buf()),
            uid: None,
            gid: None,
            stdin: Vec::new(),
        }
    }
    /// Run as this real uid (needs root), with the daemon socket's group as its gid.
    pub fn uid(mut self, uid: u32) -> Invocation {
        self.uid = Some(uid);
        self
    }
    /// Run with this gid instead of the socket group.
    pub fn gid(mut self, gid: u32) -> Invocation {
        self.gid = Some(gid);
        self
    }
    pub fn stdin(mut self, bytes: &[u8]) -> Invocation {
        self.stdin = bytes.to_vec();
        self
    }
    pub fn command(&self) -> Command {
        // Cross-architecture runs (scripts/test --target) execute the ARM binary through
        // qemu-user; qemu passes the program path on as argv[0], so aliases still dispatch.
        let mut cmd = match std::env::var_os("SENSORCTL_RUNNER").filter(|r| !r.is_empty() && !self.native) {
            Some(runner) => {
                let mut cmd = Command::new(runner);
                cmd.arg(&self.program);
                cmd
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args).env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        if let Some(root) = &self.root {
            cmd.env("SENSORCTL_ROOT", root);
        }
        if let Some(uid) = self.uid {
            cmd.uid(uid).gid(self.gid.unwrap_or(SENSORCTL_GID));
        }
        cmd
    }
    pub fn run(self) -> Run {
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.program));
        let mut stdin = child.stdin.take().unwrap();
        let input = self.stdin.clone();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        Run::from(output)
    }
}

/// A symlink named `name` to the binary, inside `dir`.
pub fn alias(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    link
}

/// A network namespace made for one test (`ip netns add`), deleted on drop even if the test
/// fails. Names are unique per process and label.
pub struct NetNs(pub String);

impl NetNs {
    /// One with its loopback up.
    pub fn new(label: &str) -> NetNs {
        let ns = NetNs::bare(label);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }
    /// One as the kernel makes it: only `lo`, and down.
    pub fn bare(label: &str) -> NetNs {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("sctl-{label}-{}-{n}", std::process::id());
        let ns = NetNs(name);
        ns.host(&["ip", "netns", "add", &ns.0]);
        ns
    }
    /// `ip -n NS ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "-n", &self.0];
        full.extend_from_slice(args);
        self.host(&full)
    }
    /// `ip netns exec NS PROGRAM ARGS` in the C locale, whatever its exit status.
    pub fn output(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, program])
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {program}: {e}"))
    }
    /// Runs a host command, panicking with its stderr if it fails.
    pub fn host(&self, argv: &[&str]) -> String {
        let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        assert!(out.status.success(), "{argv:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// Runs a command inside the namespace, panicking if it fails.
    pub fn exec(&self, argv: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.0];
        full.extend_from_slice(argv);
        self.host(&full)
    }
    /// `sensorctl daemon` serving `root` inside the namespace, so that its actions reach the
    /// namespace's links.
    pub fn daemon(&self, root: &Path) -> Daemon {
        Daemon::start_with(self.sensorctl(root, &["daemon"]), root)
    }
    /// `sensorctl ARGS` inside the namespace, against `root`.
    pub fn sensorctl(&self, root: &Path, args: &[&str]) -> Command {
        let mut outer = Command::new("ip");
        outer.args(["netns", "exec", &self.0]);
        wrapped(outer, &Invocation::new(bin(), root, args).command())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).status();
    }
}

/// Whether this machine lets a test make network namespaces (root, iproute2 present).
pub fn can_make_netns() -> bool {
    is_root() && Command::new("ip").arg("-V").output().map(|o| o.status.success()).unwrap_or(false)
}

/// The text of the embedded default board with `edit` applied: for board files in tests.
pub fn board_json(edit: impl Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/board/generic-x86/board.json")).unwrap();
    edit(text)
}

/// Says that a test cannot run on this machine and why; the caller then returns.
///
/// A skip must never pass for a success: under `CI=true` (where everything a test needs is
/// installed and the run is root) it fails the test; elsewhere it is written to
/// `SENSORCTL_SKIP_LOG`, which scripts/test counts into its closing `skipped` figure (libtest
/// itself would count the test as passed).
pub fn skip(reason: &str) {
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("skipped in CI, where every test must run: {reason}");
    }
    record_skip(reason);
}

/// Says that this target cannot exercise what a test checks (qemu-user's gaps, listed in the
/// README); counted as skipped, and allowed in CI because the same test runs on x86_64.
pub fn skip_on_this_target(reason: &str) {
    record_skip(reason);
}

fn record_skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    eprintln!("skipped: {test}: {reason}");
    if let Some(log) = std::env::var_os("SENSORCTL_SKIP_LOG") {
        // O_APPEND: one write per line, so lines from parallel tests never interleave.
        let line = format!("runtime\t{test}\t{}\n", reason.replace(['\t', '\n'], " "));
        let mut file = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
        file.write_all(line.as_bytes()).unwrap();
    }
}

/// Whether a test running under qemu-user (scripts/test-cross sets `SENSORCTL_RUNNER`).
pub fn under_qemu() -> bool {
    std::env::var_os("SENSORCTL_RUNNER").is_some_and(|r| !r.is_empty())
}

/// A small xorshift generator for kill instants and jitter. The seed comes from
/// `SENSORCTL_TEST_SEED` or the clock, and is printed so that a failure can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let seed = std::env::var("SENSORCTL_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("random instants from SENSORCTL_TEST_SEED={seed}");
        Rng::seeded(seed)
    }
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    /// The next 64 random bits (xorshift64*).
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
    /// A duration in `0..limit`.
    pub fn duration_below(&mut self, limit: Duration) -> Duration {
        limit.mul_f64((self.next() % 10_000) as f64 / 10_000.0)
    }
}

/// The one kill-9 helper: waits up to `delay` for `child` to end by itself, else kills it with
/// SIGKILL; reaps it either way. Returns whether it was killed (false: it had already ended).
pub fn kill_9_after(child: &mut std::process::Child, delay: Duration) -> bool {
    let end = std::time::Instant::now() + delay;
    while std::time::Instant::now() < end {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    killed
}

/// The state letter and start time (clock ticks since boot) of process `pid`, from
/// /proc/PID/stat; `None` once it is gone.
fn proc_state(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Runs `read` on process `pid` only while it is alive: `None` if the process had exited, was a
/// zombie, or was replaced by another with the same pid before `read` ended. A zombie has no
/// memory, threads or I/O context of its own left, so what it reports is not the process's.
pub fn sample_live<T>(pid: u32, read: impl FnOnce() -> Option<T>) -> Option<T> {
    let alive = |state: char| !matches!(state, 'Z' | 'X' | 'x');
    let (before, started) = proc_state(pid)?;
    if !alive(before) {
        return None;
    }
    let value = read()?;
    let (after, started_after) = proc_state(pid)?;
    (alive(after) && started_after == started).then_some(value)
}

/// One step of a [`pty_session`]: wait (up to the seconds given) until the screen shows a text
/// after what the previous wait matched, or type bytes (`\x03` is Ctrl-C).
pub enum PtyStep<'a> {
    Expect(&'a str, f64),
    Send(&'a str),
    /// Send this signal (`"SIGSTOP"`, `"SIGCONT"`) to the process.
    Signal(&'a str),
}

/// What a [`pty_session`] saw: the whole screen, the exit code, and the step (if any) whose
/// text never came.
pub struct PtySeen {
    pub screen: String,
    pub code: i32,
    pub missed: Option<String>,
}

/// Runs `argv` on a pseudo-terminal (its controlling terminal: Ctrl-C raises SIGINT in its
/// foreground process group, as on a console), as `uid`/`gid` with the socket group, with
/// `env`, driving it through `steps`; then waits for it to end (killing it after 10 s).
/// Python's pty module does the terminal work, as the other pty tests do.
pub fn pty_session(argv: &[&str], env: &[(&str, &str)], uid: u32, gid: u32, steps: &[PtyStep]) -> PtySeen {
    pty_session_in(None, argv, env, uid, gid, steps)
}

/// [`pty_session`] inside a network namespace.
pub fn pty_session_in(ns: Option<&NetNs>, argv: &[&str], env: &[(&str, &str)], uid: u32, gid: u32, steps: &[PtyStep]) -> PtySeen {
    const DRIVER: &str = r#"
import json, os, pty, signal, sys, time
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    # An 80-column terminal, as a serial console reports (set before the program asks).
    import fcntl, struct, termios
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.setgroups([spec["group"]])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    os.execve(spec["argv"][0], spec["argv"], spec["env"])
seen = b""
def read_for(seconds):
    global seen
    end = time.time() + seconds
    while time.time() < end:
        try:
            import select
            r, _, _ = select.select([fd], [], [], max(0.0, min(0.1, end - time.time())))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return
                seen += chunk
        except OSError:
            return
missed = None
cursor = 0
for step in spec["steps"]:
    if step[0] == "expect":
        token = step[1].encode()
        end = time.time() + step[2]
        while seen.find(token, cursor) < 0 and time.time() < end:
            read_for(0.1)
        at = seen.find(token, cursor)
        if at < 0:
            missed = step[1]
            break
        cursor = at + len(token)
    elif step[0] == "signal":
        time.sleep(0.2)
        os.kill(pid, getattr(signal, step[1]))
    else:
        time.sleep(0.2)
        os.write(fd, step[1].encode())
deadline = time.time() + 10
status = None
while time.time() < deadline:
    read_for(0.1)
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
if status is None:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
read_for(0.2)
print(json.dumps({"screen": seen.decode("utf-8", "replace"), "code": os.waitstatus_to_exitcode(status), "missed": missed}))
"#;
    let steps: Vec<String> = steps
        .iter()
        .map(|step| match step {
            PtyStep::Expect(text, seconds) => format!("[\"expect\", {}, {seconds}]", json_string(text)),
            PtyStep::Send(text) => format!("[\"send\", {}]", json_string(text)),
            PtyStep::Signal(name) => format!("[\"signal\", {}]", json_string(name)),
        })
        .collect();
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{}: {}", json_string(k), json_string(v))).collect();
    let argv: Vec<String> = argv.iter().map(|a| json_string(a)).collect();
    let spec = format!(
        "{{\"argv\": [{}], \"env\": {{{}}}, \"uid\": {uid}, \"gid\": {gid}, \"group\": {SENSORCTL_GID}, \"steps\": [{}]}}",
        argv.join(", "),
        env.join(", "),
        steps.join(", ")
    );
    let mut driver = match ns {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", &ns.0, "python3"]);
            cmd
        }
        None => Command::new("python3"),
    };
    let out = driver.arg("-c").arg(DRIVER).arg(&spec).output().unwrap();
    assert!(out.status.success(), "pty driver: {}", String::from_utf8_lossy(&out.stderr));
    #[derive(nanoserde::DeJson)]
    struct Seen {
        screen: String,
        code: i32,
        missed: Option<String>,
    }
    let seen: Seen = nanoserde::DeJson::deserialize_json(&String::from_utf8_lossy(&out.stdout)).unwrap();
    PtySeen { screen: seen.screen, code: seen.code, missed: seen.missed }
}

/// `text` as a JSON string.
pub fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The resident set size of process `pid`, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()))
        .unwrap_or(0)
}

/// `outer` (a program that runs its arguments: `ip netns exec NS`, `unshare …`, `setpriv …`)
/// running `inner`'s program with its arguments and exactly its environment.
pub fn wrapped(mut outer: Command, inner: &Command) -> Command {
    outer.arg(inner.get_program()).args(inner.get_args()).env_clear();
    for (key, value) in inner.get_envs() {
        if let Some(value) = value {
            outer.env(key, value);
        }
    }
    outer
}
