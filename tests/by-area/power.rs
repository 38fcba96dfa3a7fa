//! `system reboot` and `system shutdown` for real: the binary runs as PID 1 of a fresh PID
//! namespace, where reboot(2) ends that namespace's init (with SIGHUP for a restart, SIGINT for a
//! power-off) instead of the machine.
//!
//! Safety: the only way these tests run the binary is [`as_init_of_a_fresh_pid_namespace`],
//! whose shell refuses (exit 99) to exec it unless it is PID 1 in a PID namespace other than the
//! test's own. Never run `system reboot` or `system shutdown` any other way.
//!
//! How the outcome is seen: `unshare --fork` waits for its child and, when the child died by a
//! signal, re-raises that signal on itself (util-linux 2.38: `kill(getpid(), termsig)` after
//! resetting it to SIG_DFL), so the unshare process itself ends by SIGHUP or SIGINT.
//!
//! Whether sync(2) ran is seen on a real block device: the sandbox holds a small ext2 image
//! mounted through a loop device; a file written just before is in the image file (what the
//! loop device has been given) only after its filesystem was flushed. Dirty pages are written
//! back on their own only after 30 s (vm.dirty_expire_centisecs), and the denied run right before
//! shows the marker is not there without a sync, so the check can fail.


use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// sync(2) flushes every filesystem, so a reboot test's sync would spoil another test's
/// "nothing flushed yet" check: these tests take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Refuses unless this shell is PID 1 of a PID namespace other than the test's (`$1`).
const GUARD: &str = r#"outer_ns=$1; shift
if [ "$$" != 1 ] || [ "$(readlink /proc/self/ns/pid)" = "$outer_ns" ]; then
  echo "refusing: not PID 1 of a fresh PID namespace" >&2; exit 99
fi
"#;

/// Runs `sh -c "$GUARD$script" sh OUTER_NS ARGS…` as PID 1 of a new PID namespace (with its own
/// /proc). The script must end in `exec $SENSORCTL_RUNNER "$bin" …` so that sensorctl itself (or
/// the qemu-user running it) is the init.
fn as_init_of_a_fresh_pid_namespace(root: &Path, script: &str, args: &[&str]) -> Output {
    let outer_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let output = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c", &format!("{GUARD}{script}"), "sh"])
        .arg(&outer_ns)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SENSORCTL_ROOT", root)
        // Cross-architecture runs: qemu-user becomes the namespace's init and passes reboot(2)
        // through; empty (and so nothing) natively.
        .env("SENSORCTL_RUNNER", std::env::var_os("SENSORCTL_RUNNER").unwrap_or_default())
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(99), "the guard refused: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// A small ext2 filesystem on a loop device, mounted at `<dir>/mnt` until dropped.
struct LoopFs {
    dir: TempDir,
}

impl LoopFs {
    fn new(label: &str) -> LoopFs {
        let dir = TempDir::new(label);
        let image = dir.path().join("fs.img");
        std::fs::File::create(&image).unwrap().set_len(8 << 20).unwrap();
        let mkfs = Command::new("mkfs.ext2").arg("-qF").arg(&image).output().unwrap();
        assert!(mkfs.status.success(), "mkfs.ext2: {}", String::from_utf8_lossy(&mkfs.stderr));
        std::fs::create_dir(dir.path().join("mnt")).unwrap();
        let mount = Command::new("mount").arg("-o").arg("loop").arg(&image).arg(dir.path().join("mnt")).output().unwrap();
        assert!(mount.status.success(), "mount: {}", String::from_utf8_lossy(&mount.stderr));
        LoopFs { dir }
    }
    fn mount_point(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
    /// Whether `marker` has reached the block device (the image file behind the loop device).
    fn on_disk(&self, marker: &str) -> bool {
        let image = std::fs::read(self.dir.path().join("fs.img")).unwrap();
        image.windows(marker.len()).any(|w| w == marker.as_bytes())
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        // The loop device was set up with autoclear by mount: unmounting frees it.
        let mnt = self.mount_point();
        let ok = Command::new("umount").arg(&mnt).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&mnt).status();
        }
    }
}

fn marker(label: &str) -> String {
    let (secs, nanos) = {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        (now.as_secs(), now.subsec_nanos())
    };
    format!("sensorctl-{label}-{}-{secs}-{nanos}", std::process::id())
}

const WRITE_THEN_EXEC: &str = r#"file=$1 data=$2 bin=$3; shift 3
echo "$data" > "$file"
exec $SENSORCTL_RUNNER "$bin" "$@"
"#;

fn power_command_syncs_then_ends_the_namespace(command: &str, signal: i32, announcement: &str) {
    if !is_root() {
        skip("needs root for PID namespaces and a loop mount");
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = sandbox(command);
    let fs = LoopFs::new(&format!("{command}-fs"));
    let bin = bin();
    let bin = bin.to_str().unwrap();
    let file = fs.mount_point().join("written-before");
    let file = file.to_str().unwrap();

    // Denied: nothing happens, not even the sync; so the marker is not on disk yet.
    let first = marker("denied");
    let denied = as_init_of_a_fresh_pid_namespace(
        root.path(),
        WRITE_THEN_EXEC,
        &[file, &first, bin, "--role", "none", "system", command],
    );
    assert_eq!(denied.status.code(), Some(77), "{denied:?}");
    assert_eq!(String::from_utf8_lossy(&denied.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&denied.stderr),
        format!("sensorctl: system {command}: permission denied for role none\n")
    );
    assert_eq!(std::fs::read_to_string(file).unwrap(), format!("{first}\n"));
    assert!(!fs.on_disk(&first), "written back without a sync: this test cannot tell whether sync ran");

    // Allowed: announce, sync, reboot(2) ends the namespace's init with `signal`.
    let second = marker(command);
    let run = as_init_of_a_fresh_pid_namespace(root.path(), WRITE_THEN_EXEC, &[file, &second, bin, "system", command]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.signal(), Some(signal), "unshare: {:?}, stderr: {stderr}", run.status);
    assert_eq!(String::from_utf8_lossy(&run.stdout), format!("{announcement}\n"));
    assert!(stderr.contains("filesystems synced"), "{stderr}");
    assert_eq!(std::fs::read_to_string(file).unwrap(), format!("{second}\n"));
    assert!(fs.on_disk(&second), "the file written just before is not on the block device: no sync");
}

#[test]
fn reboot_syncs_then_restarts_which_ends_the_pid_namespace_with_sighup() {
    power_command_syncs_then_ends_the_namespace("reboot", libc_signal::SIGHUP, "Rebooting the appliance ...");
}

#[test]
fn shutdown_syncs_then_powers_off_which_ends_the_pid_namespace_with_sigint() {
    power_command_syncs_then_ends_the_namespace("shutdown", libc_signal::SIGINT, "Powering off the appliance ...");
}

/// Signal numbers (x86-64, arm, aarch64 agree on these two).
mod libc_signal {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
}

#[test]
fn without_cap_sys_boot_reboot_fails_with_a_clear_error_and_the_namespace_survives() {
    if !is_root() {
        skip("needs root for PID namespaces and to run as another uid");
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = sandbox("reboot-eperm");
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin();
    for (command, call) in [("reboot", "LINUX_REBOOT_CMD_RESTART"), ("shutdown", "LINUX_REBOOT_CMD_POWER_OFF")] {
        // Root (so the action runs in-process, not through the daemon) but with CAP_SYS_BOOT
        // dropped from the bounding set: the kernel refuses; sensorctl stays PID 1 through
        // setpriv's exec.
        let run = as_init_of_a_fresh_pid_namespace(
            root.path(),
            r#"bin=$1; shift
exec setpriv --bounding-set=-sys_boot --inh-caps=-sys_boot $SENSORCTL_RUNNER "$bin" "$@"
"#,
            &[bin.to_str().unwrap(), "system", command],
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        // The kernel's refusal is the operation failing (1), not a role denial (77).
        assert_eq!(run.status.code(), Some(1), "{command}: {:?} {stderr}", run.status);
        assert!(
            stderr.ends_with(&format!("sensorctl: system {command}: reboot({call}): Operation not permitted\n")),
            "{stderr}"
        );
    }
}

#[test]
fn the_guard_refuses_to_run_anything_outside_a_fresh_pid_namespace() {
    // The guard itself, run as a plain child of the test (no new namespace, not PID 1): it must
    // refuse before the script after it runs.
    let outer_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let out = Command::new("sh")
        .args(["-c", &format!("{GUARD}echo ran"), "sh"])
        .arg(&outer_ns)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(99));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

#[test]
fn power_commands_take_no_arguments() {
    if !is_root() {
        skip("needs root for PID namespaces");
        return;
    }
    let root = sandbox("power-args");
    let bin = bin();
    for command in ["reboot", "shutdown"] {
        // Even a run that should stop at argument parsing goes into a namespace: were it to
        // reach reboot(2), only the namespace would end.
        let run = as_init_of_a_fresh_pid_namespace(
            root.path(),
            "bin=$1; shift; exec $SENSORCTL_RUNNER \"$bin\" \"$@\"\n",
            &[bin.to_str().unwrap(), "system", command, "now"],
        );
        assert_eq!(run.status.code(), Some(2), "{:?}", run);
        assert!(String::from_utf8_lossy(&run.stderr).starts_with(&format!("sensorctl: system {command}: ")));
        let help = as_init_of_a_fresh_pid_namespace(
            root.path(),
            "bin=$1; shift; exec $SENSORCTL_RUNNER \"$bin\" \"$@\"\n",
            &[bin.to_str().unwrap(), "system", command, "--help"],
        );
        assert_eq!(help.status.code(), Some(0), "{:?}", help);
        let stdout = String::from_utf8_lossy(&help.stdout);
        assert!(stdout.starts_with(&format!("Usage: sensorctl system {command}")), "{stdout}");
    }
}
