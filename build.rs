//! Stamps the binary with the git commit and a build date, for `system version`.
//!
//! The date is SOURCE_DATE_EPOCH when set, else the commit's own time, so that building the same
//! commit twice gives the same bytes (and the same size, which CI checks against a budget).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let hash = git(&["rev-parse", "--short=7", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| git(&["log", "-1", "--format=%ct"]))
        .and_then(|text| text.parse::<i64>().ok())
        .unwrap_or(0);
    println!("cargo:rustc-env=SENSORCTL_GIT_HASH={hash}");
    println!("cargo:rustc-env=SENSORCTL_BUILD_EPOCH={epoch}");
    println!(
        "cargo:rustc-env=SENSORCTL_TARGET={}",
        std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string())
    );
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    for path in [".git/HEAD", ".git/index"] {
        println!("cargo:rerun-if-changed={path}");
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed=.git/{reference}");
    }
}
