//! What this build is: the product version every report, backup and upgrade slot names.
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

/// The product version: `<semver>-<git short hash>` (`0.1.0-1a2b3c4`).
pub fn version() -> String {
    format!("{}-{}", env!("CARGO_PKG_VERSION"), env!("SENSORCTL_GIT_HASH"))
}
