//! Shared helpers of the integration tests: the binary under test, sandbox roots, running.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

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
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sensorctl-it-{label}-{}-{n}", std::process::id()));
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

/// How to run the binary.
pub struct Invocation {
    program: PathBuf,
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
        let mut cmd = match std::env::var_os("SENSORCTL_RUNNER").filter(|r| !r.is_empty()) {
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
    pub fn new(label: &str) -> NetNs {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("sctl-{label}-{}-{n}", std::process::id());
        let ns = NetNs(name);
        ns.host(&["ip", "netns", "add", &ns.0]);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
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
    /// `sensorctl ARGS` inside the namespace, against `root`.
    pub fn sensorctl(&self, root: &Path, args: &[&str]) -> Command {
        let inner = Invocation::new(bin(), root, args).command();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).arg(inner.get_program()).args(inner.get_args());
        cmd.env_clear();
        for (key, value) in inner.get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        cmd
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
