//! The shipped artifact: fully static, within the size budget. Runs against `SENSORCTL_BIN`
//! (scripts/test points it at dist/sensorctl); outside scripts/test it says it skipped, and in
//! CI (where scripts/test always sets it) a missing artifact is a failure.


use crate::common::skip;
use std::process::Command;

/// The size budget of the foundation issue for the x86_64 release binary.
const SIZE_BUDGET_BYTES: u64 = 2 * 1024 * 1024;

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
