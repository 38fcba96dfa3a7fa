//! The shipped artifact: fully static, within the size budget, and hardened (static PIE,
//! read-only RELRO at run time, stack-protector canaries, no executable stack). Runs against
//! `SENSORCTL_BIN` (scripts/test points it at dist/sensorctl, scripts/test-cross at
//! dist/<arch>/sensorctl); outside scripts/test it says it skipped, and in CI (where the
//! scripts always set it) a missing artifact is a failure.
//!
//! What is checked where: the ELF checks (type, segments, dynamic tags, canaries in the
//! disassembly) read the file and run for every target. RELRO at run time needs the page
//! protections of a running daemon: natively they are /proc/PID/maps; under qemu-user that file
//! shows qemu's own host mappings, not the guest's, so the cross runs read the guest's page
//! table from qemu's own log instead (`-d page`, which prints it after every mapping change).


use crate::common::{is_root, sandbox, skip, under_qemu};
use std::process::Command;
use std::time::{Duration, Instant};

/// The size budget of every firmware artifact (issue 20: 1.70 MiB on any target).
const SIZE_BUDGET_BYTES: u64 = 1_782_579;

fn artifact() -> Option<std::path::PathBuf> {
    match std::env::var_os("SENSORCTL_BIN") {
        Some(path) => Some(path.into()),
        None if std::env::var_os("CI").is_some() => panic!("CI must test the built artifact: set SENSORCTL_BIN"),
        None => {
            skip("SENSORCTL_BIN is not set (scripts/test sets it to dist/sensorctl)");
            None
        }
    }
}

#[test]
fn release_binary_has_no_dynamic_dependencies() {
    let Some(path) = artifact() else { return };
    let out = Command::new("readelf").arg("-d").arg(&path).output().expect("readelf (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    // Static binaries have no NEEDED entries (and usually no dynamic section at all).
    assert!(!text.contains("NEEDED"), "dynamic dependencies in {}:\n{text}", path.display());
    let header = Command::new("readelf").arg("-l").arg(&path).output().unwrap();
    assert!(!String::from_utf8_lossy(&header.stdout).contains("INTERP"), "{} asks for a dynamic loader", path.display());
}

#[test]
fn release_binary_is_for_the_expected_machine() {
    let Some(path) = artifact() else { return };
    let Some(expected) = std::env::var_os("SENSORCTL_EXPECT_MACHINE") else {
        skip("SENSORCTL_EXPECT_MACHINE is not set");
        return;
    };
    let out = Command::new("readelf").arg("-h").arg(&path).output().unwrap();
    let header = String::from_utf8_lossy(&out.stdout);
    let machine = header.lines().find(|l| l.trim_start().starts_with("Machine:")).unwrap_or("");
    assert_eq!(machine.split(':').nth(1).map(str::trim), expected.to_str(), "{header}");
}

#[test]
fn release_binary_is_within_the_size_budget_and_stripped() {
    let Some(path) = artifact() else { return };
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!("{}: {size} bytes (budget {SIZE_BUDGET_BYTES})", path.display());
    assert!(size <= SIZE_BUDGET_BYTES, "{} is {size} bytes, over the {SIZE_BUDGET_BYTES} budget", path.display());
    let symbols = Command::new("readelf").arg("-S").arg(&path).output().unwrap();
    assert!(!String::from_utf8_lossy(&symbols.stdout).contains(".symtab"), "not stripped");
}

fn readelf(args: &[&str], path: &std::path::Path) -> String {
    let out = Command::new("readelf").args(args).arg(path).output().expect("readelf (binutils)");
    assert!(out.status.success(), "readelf {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A program header of `readelf -lW`: type, virtual address, memory size, flags.
struct Segment {
    kind: String,
    vaddr: u64,
    memsz: u64,
    flags: String,
}

fn segments(path: &std::path::Path) -> Vec<Segment> {
    let hex = |t: &str| u64::from_str_radix(t.trim_start_matches("0x"), 16).unwrap();
    readelf(&["-lW"], path)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align
            if f.len() < 8 || !f[1].starts_with("0x") || !f[2].starts_with("0x") {
                return None;
            }
            let flags = f[6..f.len() - 1].concat();
            Some(Segment { kind: f[0].to_string(), vaddr: hex(f[2]), memsz: hex(f[5]), flags })
        })
        .collect()
}

fn machine(path: &std::path::Path) -> String {
    readelf(&["-h"], path)
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Machine:").map(|m| m.trim().to_string()))
        .unwrap_or_default()
}

#[test]
fn release_binary_is_a_static_pie_with_full_relro() {
    let Some(path) = artifact() else { return };
    let header = readelf(&["-h"], &path);
    assert!(header.contains("DYN (Position-Independent Executable file)"), "not a PIE:\n{header}");
    let dynamic = readelf(&["-dW"], &path);
    assert!(dynamic.contains("BIND_NOW") && dynamic.contains("PIE"), "no BIND_NOW / PIE flags:\n{dynamic}");
    let relro = segments(&path).into_iter().find(|s| s.kind == "GNU_RELRO");
    assert!(relro.is_some_and(|s| s.memsz > 0), "no GNU_RELRO segment");
    // DT_RELR on x86_64 and aarch64; armv7's start files (Debian's musl 1.2.3) cannot apply it.
    if machine(&path) != "ARM" {
        assert!(dynamic.contains("(RELR)"), "no packed relative relocations (DT_RELR):\n{dynamic}");
    }
}

#[test]
fn release_binary_has_no_executable_stack() {
    let Some(path) = artifact() else { return };
    let all = segments(&path);
    let stack = all.iter().find(|s| s.kind == "GNU_STACK").expect("a GNU_STACK header (else the stack may be executable)");
    assert!(!stack.flags.contains('E'), "executable stack: GNU_STACK flags {}", stack.flags);
    for segment in &all {
        if segment.kind == "LOAD" {
            assert!(!(segment.flags.contains('W') && segment.flags.contains('E')), "a writable and executable LOAD segment");
        }
    }
}

/// Stack-protector canaries, counted in the disassembly of the stripped binary: on x86_64 each
/// protected function loads the canary from the thread pointer (`%fs:0x28`); on ARM the
/// failure path calls musl's `__stack_chk_fail` (a function that crashes at once), which is
/// then the most-called function of the binary.
#[test]
fn release_binary_has_stack_protector_canaries() {
    let Some(path) = artifact() else { return };
    let machine = machine(&path);
    let objdump = match machine.as_str() {
        "AArch64" => "aarch64-linux-gnu-objdump",
        "ARM" => "arm-linux-gnueabihf-objdump",
        _ => "objdump",
    };
    let out = Command::new(objdump).arg("-d").arg(&path).output().unwrap_or_else(|e| panic!("{objdump}: {e}"));
    assert!(out.status.success(), "{objdump}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let canaries = if machine.starts_with("Advanced Micro Devices X86-64") {
        text.lines().filter(|l| l.contains("%fs:0x28")).count()
    } else {
        crash_calls(&text)
    };
    eprintln!("{}: {canaries} canary references", path.display());
    assert!(canaries >= 200, "{}: only {canaries} stack-protector canary references", path.display());
}

/// The number of calls (`bl`, `blx`) to the most-called function whose first instructions
/// crash (musl's `a_crash()`: a trap), which is `__stack_chk_fail`.
fn crash_calls(disassembly: &str) -> usize {
    let mut starts: std::collections::HashMap<u64, Vec<&str>> = std::collections::HashMap::new();
    let mut calls: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let lines: Vec<&str> = disassembly.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        let Some((address, rest)) = line.trim_start().split_once(':') else { continue };
        let Ok(address) = u64::from_str_radix(address, 16) else { continue };
        starts.insert(address, lines[at..lines.len().min(at + 3)].to_vec());
        let mut words = rest.split_whitespace().skip_while(|w| w.chars().all(|c| c.is_ascii_hexdigit()));
        // bl, blx and their conditional forms (ARM calls the Thumb musl with blx).
        if words.next().is_some_and(|w| w.starts_with("bl")) {
            if let Some(target) = words.next().and_then(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok()) {
                *calls.entry(target).or_default() += 1;
            }
        }
    }
    // aarch64: `brk`; ARM: `udf`, or Thumb's `udf #255` (0xdeff) read as ARM data.
    let crashes = |body: &Vec<&str>| body.iter().any(|l| l.contains("brk\t") || l.contains("udf") || l.contains("deff "));
    calls
        .iter()
        .filter(|(target, _)| starts.get(target).is_some_and(crashes))
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
}

/// A running daemon's GNU_RELRO pages are read-only: the start code relocated them and the
/// binary then protected them (musl's static-PIE start code does not). Natively from
/// /proc/PID/maps; under qemu-user from qemu's log of the guest's page table (`-d page`),
/// because /proc/PID/maps there describes qemu itself.
#[test]
fn a_running_daemon_has_its_relro_read_only() {
    let Some(path) = artifact() else { return };
    if !is_root() {
        skip("the daemon runs as root only");
        return;
    }
    let relro = segments(&path).into_iter().find(|s| s.kind == "GNU_RELRO").expect("a GNU_RELRO segment");
    let root = sandbox("relro");
    let socket = root.path().join("run/sensorctl/sensord.sock");
    let qemu_log = root.path().join("qemu-page.log");
    let mut command = match std::env::var_os("SENSORCTL_RUNNER").filter(|r| !r.is_empty()) {
        Some(runner) => {
            let mut command = Command::new(runner);
            command.arg("-d").arg("page").arg("-D").arg(&qemu_log).arg(&path);
            command
        }
        None => Command::new(&path),
    };
    command.args(["daemon"]).env_clear().env("SENSORCTL_ROOT", root.path());
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if started.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the daemon did not come up");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let page = 4096u64;
    // (start, end, permissions) of the image's mappings, and its load address.
    let (base, mappings) = if under_qemu() {
        guest_mappings(&std::fs::read_to_string(&qemu_log).unwrap(), &path)
    } else {
        host_mappings(child.id(), &path)
    };
    let _ = child.kill();
    let _ = child.wait();
    let begin = (base + relro.vaddr) & !(page - 1);
    let end = (base + relro.vaddr + relro.memsz) & !(page - 1);
    assert!(end > begin, "RELRO smaller than a page");
    let mut at = begin;
    while at < end {
        let mapping = mappings.iter().find(|(s, e, _)| *s <= at && at < *e);
        let (_, stop, perms) = mapping.unwrap_or_else(|| panic!("RELRO page {at:#x} is not mapped: {mappings:x?}"));
        assert!(perms.starts_with('r') && !perms.contains('w'), "RELRO page {at:#x} is {perms}: {mappings:x?}");
        at = *stop;
    }
}

/// The load address and mappings of the binary `path` in /proc/PID/maps.
fn host_mappings(pid: u32, path: &std::path::Path) -> (u64, Vec<(u64, u64, String)>) {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let name = path.to_str().unwrap();
    let mut base = None;
    let mut mappings = Vec::new();
    for line in maps.lines().filter(|l| l.ends_with(name)) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (start, end) = f[0].split_once('-').unwrap();
        let (start, end) = (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
        if f[2].trim_start_matches('0').is_empty() && base.is_none() {
            base = Some(start);
        }
        mappings.push((start, end, f[1].to_string()));
    }
    (base.expect("the binary's first mapping"), mappings)
}

/// The guest's load address (qemu's logged `entry` less the ELF header's entry point) and its
/// page table as qemu last logged it.
fn guest_mappings(log: &str, path: &std::path::Path) -> (u64, Vec<(u64, u64, String)>) {
    let hex = |t: &str| u64::from_str_radix(t.trim().trim_start_matches("0x"), 16).unwrap();
    let elf_entry = readelf(&["-h"], path)
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Entry point address:").map(hex))
        .expect("an entry point");
    let guest_entry = log.lines().find_map(|l| l.strip_prefix("entry")).map(hex).expect("qemu's entry line (-d page)");
    let last = log.rsplit("page layout changed following ").next().unwrap_or("");
    let mappings = last
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (start, end) = f.first()?.split_once('-')?;
            Some((u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?, f.get(2)?.to_string()))
        })
        .collect();
    (guest_entry - elf_entry, mappings)
}
