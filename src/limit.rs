//! `network limit` / `cyberx-xsense-limit-interface`: the outbound bandwidth limit of an
//! interface, for management links that are slow or metered (satellite, serial).
//!
//! The limit is a token bucket filter (TBF) at the root of the interface's egress, installed
//! with one `RTM_NEWQDISC` (replacing whatever root qdisc was there) and removed with one
//! `RTM_DELQDISC`, which gives the interface its default qdisc back. The limit is also written to
//! the config (`bandwidth_limits`) so that [`apply_stored_limits`] can put it back after a
//! reboot. The kernel is changed first and the config second; if the config cannot be written,
//! the kernel change is undone, so the two never disagree after a failure.
//!
//! Needs CAP_NET_ADMIN in the interface's network namespace, and write access to the config.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::config::{BandwidthLimit, Config};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::sys::netlink::{Link, RouteSocket};
use crate::sys::tc::{self, Tbf};
use crate::validate::{IfName, Rate};
use std::io::Write;

/// What `network limit` does to the interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `--limit V`: shape outbound traffic to this rate.
    Set(Rate),
    /// `--clear`: remove the limit.
    Clear,
}

/// Ethernet header and one VLAN tag: what a frame carries beyond the MTU, as the qdisc counts
/// it (the frame check sequence is not counted).
const FRAME_OVERHEAD: u32 = 14 + 4;

/// The token bucket for `rate` bytes per second on a device with this MTU.
///
/// ```text
/// burst = max(rate × 10 ms, 2 × (MTU + 18))
/// limit = burst + rate × 100 ms
/// ```
///
/// - The bucket must hold at least one whole frame, or the kernel drops every full-size frame
///   (and cuts every larger GSO packet into frames first); two, so that the link stays busy
///   when the qdisc's watchdog timer wakes up one frame late.
/// - `rate × 10 ms` of tokens covers a watchdog that wakes up late because the machine is busy:
///   tokens that would have arrived while it overslept are not lost. A bigger bucket lets more
///   leave at line rate after an idle moment (the bucket starts full); 10 ms of it adds 0.2 %
///   to a 5-second measurement.
/// - The queue holds 100 ms of traffic on top of a full bucket (`tc`'s "latency 100ms"). TCP
///   then always finds a packet waiting when tokens arrive, while interactive traffic behind a
///   bulk upload waits at most 100 ms. Longer queues did worse in `scripts/bench shaping`: at
///   1 mbit with 400–650 ms of queue, BBR's start-up overshoot filled it and lost dozens of
///   frames of GSO packets the qdisc had split, and the retransmissions cost 10–50 % of the
///   rate; with 100 ms, TCP reached the rate at 1, 10 and 100 mbit (see the README's table).
pub fn tbf_for(rate: u64, mtu: u32) -> Tbf {
    let frames = mtu.saturating_add(FRAME_OVERHEAD).saturating_mul(2);
    let burst = u32::try_from(rate / 100).unwrap_or(u32::MAX).max(frames);
    let limit = u32::try_from(rate / 10).unwrap_or(u32::MAX).saturating_add(burst);
    Tbf { rate, burst, limit }
}

/// Sets or clears the limit of `interface`.
pub fn run(ctx: &Context, interface: &IfName, change: &Change, out: &mut dyn Write) -> Result<Status> {
    // Read the config before touching the kernel: a damaged config must stop us while nothing
    // has changed yet.
    let mut config = ctx.config()?.clone();
    let mut socket = open_socket()?;
    let link = find_link(&mut socket, interface)?;
    let stored_before = config.bandwidth_limits.iter().position(|l| l.interface == interface.as_str());
    match change {
        Change::Set(rate) => {
            install(&mut socket, &link, interface, rate)?;
            let entry = BandwidthLimit {
                interface: interface.as_str().to_string(),
                limit: rate.as_str().to_string(),
                bytes_per_second: rate.bytes_per_second(),
            };
            let previous = match stored_before {
                Some(at) => Some(std::mem::replace(&mut config.bandwidth_limits[at], entry)),
                None => {
                    config.bandwidth_limits.push(entry);
                    None
                }
            };
            if let Err(err) = config.save(&ctx.root) {
                // Undo: the previous stored limit, or none.
                let undo = match previous.as_ref().and_then(|p| Rate::parse(&p.limit).ok()) {
                    Some(rate) => install(&mut socket, &link, interface, &rate),
                    None => remove(&mut socket, &link, interface),
                };
                if let Err(undo_err) = undo {
                    log::error!("{interface}: could not undo the new limit after the config failed: {undo_err}");
                }
                return Err(err);
            }
            emit(out, &format!("setting the bandwidth limit of interface \"{interface}\" to {rate}"))?;
        }
        Change::Clear => {
            remove(&mut socket, &link, interface)?;
            if let Some(at) = stored_before {
                let removed = config.bandwidth_limits.remove(at);
                if let Err(err) = config.save(&ctx.root) {
                    if let Ok(rate) = Rate::parse(&removed.limit) {
                        if let Err(undo_err) = install(&mut socket, &link, interface, &rate) {
                            log::error!("{interface}: could not put the limit back after the config failed: {undo_err}");
                        }
                    }
                    return Err(err);
                }
            }
            emit(out, &format!("clearing the bandwidth limit of interface \"{interface}\""))?;
        }
    }
    Ok(Status::Ok)
}

/// `network limit-list [--json]`: the limits stored in the config, which the daemon installs
/// again at every start (the kernel's qdisc is not read back). One line per interface, or JSON
/// `[{"interface":…,"limit":…,"bytes_per_second":…}]`; fleet tools compare a declared limit
/// with it. Reads the config only.
pub fn list(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    use nanoserde::SerJson;
    let limits = &ctx.config()?.bandwidth_limits;
    if json {
        emit(out, &limits.serialize_json())?;
    } else if limits.is_empty() {
        emit(out, "No bandwidth limits are set.")?;
    } else {
        for stored in limits {
            emit(out, &format!("{}: {} ({} bytes per second)", stored.interface, stored.limit, stored.bytes_per_second))?;
        }
    }
    Ok(Status::Ok)
}

/// Installs every limit stored in the config again (for the daemon at boot). Every stored limit
/// is tried, also after one fails; the failures are logged and returned together. Returns how
/// many were applied.
pub fn apply_stored_limits(ctx: &Context) -> Result<usize> {
    let config: &Config = ctx.config()?;
    if config.bandwidth_limits.is_empty() {
        return Ok(0);
    }
    let mut socket = open_socket()?;
    let mut applied = 0;
    let mut failures = Vec::new();
    for stored in &config.bandwidth_limits {
        let outcome = (|| {
            let interface = IfName::parse(&stored.interface)?;
            let rate = Rate::parse(&stored.limit)?;
            let link = find_link(&mut socket, &interface)?;
            install(&mut socket, &link, &interface, &rate)
        })();
        match outcome {
            Ok(()) => {
                log::info!("bandwidth limit of {} set to {} again", stored.interface, stored.limit);
                applied += 1;
            }
            Err(err) => {
                log::warn!("bandwidth limit of {} ({}) not applied: {err}", stored.interface, stored.limit);
                failures.push(format!("{}: {err}", crate::validate::printable(&stored.interface)));
            }
        }
    }
    if failures.is_empty() {
        Ok(applied)
    } else {
        Err(Error::Problem(format!("stored bandwidth limits not applied: {}", failures.join("; "))))
    }
}

fn open_socket() -> Result<RouteSocket> {
    RouteSocket::open().map_err(|source| Error::Sys { call: "socket(AF_NETLINK, NETLINK_ROUTE)", source })
}

/// The interface by name, from one link dump; a name the kernel does not know is bad input.
fn find_link(socket: &mut RouteSocket, interface: &IfName) -> Result<Link> {
    let links = socket.links().map_err(|source| Error::Sys { call: "RTM_GETLINK dump", source })?;
    interface.in_dump(&links).cloned()
}

fn install(socket: &mut RouteSocket, link: &Link, interface: &IfName, rate: &Rate) -> Result<()> {
    let tbf = tbf_for(rate.bytes_per_second(), link.mtu.unwrap_or(1500));
    log::debug!("{interface}: root tbf {tbf:?}");
    tc::replace_root_tbf(socket, link.index, tbf)
        .map(drop)
        .map_err(|e| Error::io("RTM_NEWQDISC (tbf) on", interface.as_str(), e))
}

/// Removes the root qdisc. An interface that has none of its own (its root is the default,
/// whose handle is 0) answers ENOENT or EINVAL ("Cannot delete qdisc with handle of zero"):
/// there is no limit to clear, which is what was asked for, so that is not an error.
fn remove(socket: &mut RouteSocket, link: &Link, interface: &IfName) -> Result<()> {
    match tc::delete_root_qdisc(socket, link.index) {
        Ok(_) => Ok(()),
        Err(err) if matches!(err.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) => {
            log::debug!("{interface}: no root qdisc of its own to delete ({err})");
            Ok(())
        }
        Err(err) => Err(Error::io("RTM_DELQDISC on", interface.as_str(), err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::RootDir;
    use crate::testutil::TempDir;
    use std::process::Command;

    fn tool(argv: &[&str]) -> String {
        let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap();
        assert!(out.status.success(), "{argv:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn stored_limits_are_applied_again_and_failures_do_not_stop_the_others() {
        let dir = TempDir::new("limit-boot");
        let root = RootDir::new(dir.path());
        let stored = |interface: &str, limit: &str, bytes_per_second: u64| BandwidthLimit {
            interface: interface.into(),
            limit: limit.into(),
            bytes_per_second,
        };
        Config {
            bandwidth_limits: vec![
                stored("gone0", "2mbit", 250_000),
                stored("boot0", "1mbit", 125_000),
                stored("boot1", "5Mbit", 0), // edited by hand into something invalid
            ],
            ..Config::default()
        }
        .save(&root)
        .unwrap();
        // The kernel side runs on a thread of its own in a fresh network namespace (unshare
        // affects only the calling thread; the `ip` and `tc` it starts inherit it).
        let outcome = std::thread::spawn(move || {
            let unshared = crate::sys::tc::unshare_network_namespace_of_this_thread();
            if unshared.is_err() || Command::new("tc").arg("-V").output().is_err() {
                return None;
            }
            tool(&["ip", "link", "add", "boot0", "type", "veth", "peer", "name", "boot1"]);
            let ctx = Context::for_uid(root, None, None, 0).unwrap();
            let result = apply_stored_limits(&ctx);
            Some((result, tool(&["tc", "-j", "qdisc", "show", "dev", "boot0"]), tool(&["tc", "qdisc", "show", "dev", "boot1"])))
        })
        .join()
        .unwrap();
        let Some((result, boot0, boot1)) = outcome else {
            eprintln!("skipped: needs CAP_SYS_ADMIN for a network namespace and iproute2");
            return;
        };
        let err = result.unwrap_err().to_string();
        assert!(err.contains("gone0: interface 'gone0' does not exist"), "{err}");
        assert!(err.contains("boot1: invalid limit '5Mbit'"), "{err}");
        assert!(boot0.contains("\"kind\":\"tbf\"") && boot0.contains("\"rate\":125000,"), "{boot0}");
        assert!(!boot1.contains("tbf"), "{boot1}");
    }

    #[test]
    fn bucket_and_queue_follow_the_formula() {
        // 1 mbit on a 1500-byte MTU: two frames are more than 10 ms of tokens.
        assert_eq!(tbf_for(125_000, 1500), Tbf { rate: 125_000, burst: 3036, limit: 15_536 });
        // 100 mbit: 10 ms of tokens, 100 ms of queue.
        assert_eq!(tbf_for(12_500_000, 1500), Tbf { rate: 12_500_000, burst: 125_000, limit: 1_375_000 });
        // A jumbo-frame device needs a bigger bucket at a low rate.
        assert_eq!(tbf_for(125_000, 9000).burst, 18_036);
        // The largest rate still fits the kernel's 32-bit byte counts.
        let top = tbf_for(Rate::MAX_BYTES_PER_SECOND, 65_535);
        assert_eq!((top.burst, top.limit), (125_000_000, 1_375_000_000));
        assert_eq!(tbf_for(u64::MAX, u32::MAX).limit, u32::MAX, "saturates, never wraps");
    }
}
