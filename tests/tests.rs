//! The one integration-test crate: every test runs the built binary (`SENSORCTL_BIN`, which
//! scripts/test points at the static artifact in dist/), against sandbox roots, network and PID
//! namespaces and real peers. One module per area of the command surface; `common` holds the
//! shared helpers (one TempDir, one namespace guard, one daemon guard, one kill-9 helper).
//!
//! One crate rather than one per file, as uutils does with `tests/by-util/`: `common` and the
//! dependencies are compiled once, and the test binary is linked once.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

#[path = "by-area/artifact.rs"]
mod artifact;
#[path = "by-area/backup.rs"]
mod backup;
#[path = "by-area/blink.rs"]
mod blink;
#[path = "by-area/capture_filter.rs"]
mod capture_filter;
#[path = "by-area/capture_filter_command.rs"]
mod capture_filter_command;
#[path = "by-area/certs.rs"]
mod certs;
#[path = "by-area/cli.rs"]
mod cli;
#[path = "by-area/console.rs"]
mod console;
#[path = "by-area/crash_consistency.rs"]
mod crash_consistency;
#[path = "by-area/daemon.rs"]
mod daemon;
#[path = "by-area/hardening.rs"]
mod hardening;
#[path = "by-area/hostile_args.rs"]
mod hostile_args;
#[path = "by-area/internet.rs"]
mod internet;
#[path = "by-area/limit.rs"]
mod limit;
#[path = "by-area/netconf.rs"]
mod netconf;
#[path = "by-area/netload.rs"]
mod netload;
#[path = "by-area/network_list.rs"]
mod network_list;
#[path = "by-area/ntp.rs"]
mod ntp;
#[path = "by-area/ping.rs"]
mod ping;
#[path = "by-area/power.rs"]
mod power;
#[path = "by-area/sandbox.rs"]
mod sandbox;
#[path = "by-area/sanity.rs"]
mod sanity;
#[path = "by-area/shell.rs"]
mod shell;
#[path = "by-area/spine.rs"]
mod spine;
#[path = "by-area/supervisor.rs"]
mod supervisor;
#[path = "by-area/upgrade.rs"]
mod upgrade;
#[path = "by-area/users.rs"]
mod users;
