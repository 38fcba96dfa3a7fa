//! Trying a filter on a monitor port (`--test IFACE`), and asking the running components to
//! read their new filters (SIGHUP).

use super::Component;
use crate::board::Board;
use crate::bpf::Program;
use crate::error::{Error, Result};
use crate::health::{probe, Clock};
use crate::paths::RootDir;
use std::io;
use std::time::{Duration, Instant};

/// What a filter let through on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireCount {
    /// Packets the filter accepted (the kernel's count, received or dropped).
    pub matched: u64,
    /// Bytes of the accepted packets we received (their full length on the wire).
    pub bytes: u64,
    /// Accepted packets the kernel dropped because we did not read them fast enough.
    pub dropped: u64,
}

/// How often a long test looks at `cancelled`.
const CANCEL_CHECK: Duration = Duration::from_millis(200);

/// Attaches `program` to an AF_PACKET socket on `interface` for `duration` (or until
/// `cancelled()` says so) and counts what it accepts. Incoming packets only: what the port
/// receives is what the components would see. Needs CAP_NET_RAW (the daemon runs it).
pub fn test_on_wire(
    interface: &str,
    program: &Program,
    duration: Duration,
    cancelled: &dyn Fn() -> bool,
) -> Result<WireCount> {
    let sys = |call: &'static str| move |source: io::Error| Error::Sys { call, source };
    let index = match crate::sys::netdev::index_of(interface) {
        Ok(index) => index,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(Error::Usage(format!("interface '{}' does not exist", crate::validate::printable(interface))))
        }
        Err(err) => return Err(sys("ioctl(SIOCGIFINDEX)")(err)),
    };
    let socket = crate::sys::packet::open().map_err(sys("socket(AF_PACKET)"))?;
    let insns: Vec<_> = program.insns.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
    socket.attach_filter(&insns).map_err(|err| match err.raw_os_error() {
        // The program is charged to the socket's option memory (net.core.optmem_max).
        Some(libc::ENOMEM) => Error::Problem(format!(
            "a filter of {} instructions is more than net.core.optmem_max lets a socket hold",
            insns.len()
        )),
        _ => sys("setsockopt(SO_ATTACH_FILTER)")(err),
    })?;
    socket.ignore_outgoing().map_err(sys("setsockopt(PACKET_IGNORE_OUTGOING)"))?;
    // A larger queue rides out bursts; without CAP_NET_ADMIN the default one serves.
    let _ = socket.set_receive_buffer(4 << 20);
    socket.bind(index).map_err(sys("bind(AF_PACKET)"))?;
    let mut count = WireCount::default();
    let mut received = 0u64;
    // Only the length is needed: recv reports a packet's full length into a small buffer.
    let mut head = [0u8; 64];
    let end = Instant::now() + duration;
    while let Some(left) = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        if cancelled() {
            break;
        }
        if !socket.wait_readable(left.min(CANCEL_CHECK)).map_err(sys("poll"))? {
            continue;
        }
        loop {
            match socket.recv(&mut head) {
                Ok(len) => {
                    received += 1;
                    count.bytes += len as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => return Err(sys("recv")(err)),
            }
        }
    }
    let stats = socket.statistics().map_err(sys("getsockopt(PACKET_STATISTICS)"))?;
    count.dropped = u64::from(stats.drops);
    count.matched = u64::from(stats.packets).max(received + count.dropped);
    Ok(count)
}

/// What happened to one component after its filter changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reloaded {
    /// SIGHUP sent to the service that reads the component's filter.
    Signalled {
        /// The board's name for the service.
        service: String,
        /// Its process.
        pid: u32,
    },
    /// The service is not running: it reads the new filter when it starts. Not an error.
    NotRunning {
        /// The board's name for the service.
        service: String,
        /// Why it counts as not running (as `system sanity` says it).
        reason: String,
    },
    /// No service of the board reads this component's filter.
    NoService,
    /// The signal could not be sent.
    Failed {
        /// The board's name for the service.
        service: String,
        /// Why.
        reason: String,
    },
}

/// Sends SIGHUP to the service of the board that reads each of `components`' filter (the
/// service's `reloads` list names them), found as `system sanity` finds it. A service that
/// reads several of them is signalled once.
pub fn reload(board: &Board, root: &RootDir, components: &[Component]) -> Vec<(Component, Reloaded)> {
    let clock = Clock::now();
    let mut signalled: Vec<(String, Reloaded)> = Vec::new();
    components
        .iter()
        .map(|&component| {
            let Some(service) = board.services.iter().find(|s| s.reloads.iter().any(|r| r == component.name())) else {
                return (component, Reloaded::NoService);
            };
            if let Some((_, done)) = signalled.iter().find(|(name, _)| *name == service.name) {
                return (component, done.clone());
            }
            let outcome = match probe(service, root, &clock).outcome {
                Ok(running) => match running.pid {
                    Some(pid) => match crate::sys::process::hangup(pid) {
                        Ok(()) => Reloaded::Signalled { service: service.name.clone(), pid },
                        Err(err) => Reloaded::Failed {
                            service: service.name.clone(),
                            reason: crate::error::strip_errno(&err),
                        },
                    },
                    None => Reloaded::Failed {
                        service: service.name.clone(),
                        reason: "its process is not visible from here".into(),
                    },
                },
                Err(reason) => Reloaded::NotRunning { service: service.name.clone(), reason },
            };
            signalled.push((service.name.clone(), outcome.clone()));
            (component, outcome)
        })
        .collect()
}
