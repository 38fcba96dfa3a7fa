//! Applying management network settings (`network reconfigure`, and the daemon at start) as a
//! small transaction.
//!
//! Order: the resolver file, then removal of the old management address, the new address
//! (`RTM_DELADDR`/`RTM_NEWADDR`; old first, so that the new address becomes its subnet's primary
//! and cannot be flushed with an old primary), the default routes (`RTM_DELROUTE` for every
//! main-table default route that is not the wanted one, then `RTM_NEWROUTE`), the backup
//! directory, and last the config (atomically, via [`crate::store`]). The kernel state and the
//! resolver file are recorded before the first change. When a step fails — say the kernel
//! answers ENETUNREACH because the gateway is not on any connected subnet (the interface is
//! down) — everything already done is undone: what was added is removed, the resolver file gets
//! its old bytes back (or is removed if there was none), created directories are removed, and
//! every recorded address and route (all tables but `local`, which the kernel keeps itself)
//! that is now missing is put back; the config is never written. Rollback keeps going past its
//! own errors and reports them all.
//!
//! Needs CAP_NET_ADMIN and write access to the resolver file, the config and the backup
//! directory.
#![forbid(unsafe_code)]

use crate::outcome::Status;
use crate::config::Config;
use crate::context::Context;
use crate::error::{strip_errno, Error, Result};
use crate::outcome::emit;
use crate::sys::netlink::RouteSocket;
use crate::sys::route::{self, AddressV4, Route};
use std::io::Write;
use std::path::{Path, PathBuf};
use super::*;
use super::settings::usage;

/// What has been changed so far, to be undone in reverse order on failure.
enum Done {
    Resolver { path: PathBuf, old: Option<Vec<u8>> },
    Address(AddressV4),
    Route(Route),
    Directories(Vec<PathBuf>),
}

/// The transaction of one reconfigure run: the state before it, and what it did.
struct Transaction<'a> {
    socket: RouteSocket,
    before: Kernel,
    done: Vec<Done>,
    out: &'a mut dyn Write,
}

/// Whether two routes are the same route, by what the kernel tells routes apart by.
fn same_route(a: &Route, b: &Route) -> bool {
    (a.table, a.dst_len, a.dst, a.tos, a.kind) == (b.table, b.dst_len, b.dst, b.tos, b.kind)
        && (a.priority.unwrap_or(0), a.gateway, a.oif) == (b.priority.unwrap_or(0), b.gateway, b.oif)
}

fn same_address(a: &AddressV4, b: &AddressV4) -> bool {
    a.index == b.index && a.local == b.local && a.prefixlen == b.prefixlen
}

impl Transaction<'_> {
    fn say(&mut self, line: &str) {
        // The report is best effort: a closed terminal must not stop (or half-stop) the change.
        let _ = emit(self.out, line);
    }

    fn describe_route(&self, route: &Route) -> String {
        let via = route.gateway.map_or_else(String::new, |g| format!("via {g} "));
        let dev = route.oif.map_or_else(String::new, |i| format!("dev {}", self.name_of(i)));
        format!("{via}{dev}").trim_end().to_string()
    }

    fn name_of(&self, index: u32) -> String {
        self.before.name_of(index)
    }

    /// Undoes everything, then puts back every recorded address and route that is missing.
    /// Returns the problems it met (empty: fully restored).
    fn rollback(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        while let Some(step) = self.done.pop() {
            match step {
                Done::Route(route) => match route::delete_route(&mut self.socket, &route) {
                    Ok(()) => {}
                    Err(err) if err.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(err) => problems.push(format!(
                        "remove default route {}: {}",
                        self.describe_route(&route),
                        strip_errno(&err)
                    )),
                },
                Done::Address(address) => match route::delete_address(&mut self.socket, &address) {
                    Ok(()) => {}
                    Err(err) if err.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
                    Err(err) => problems.push(format!(
                        "remove address {}/{}: {}",
                        address.local,
                        address.prefixlen,
                        strip_errno(&err)
                    )),
                },
                Done::Resolver { path, old } => {
                    let result = match &old {
                        Some(bytes) => crate::store::replace(&path, bytes, crate::store::Mode::Preserve),
                        None => std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e)),
                    };
                    if let Err(err) = result {
                        problems.push(format!("restore resolver file: {err}"));
                    }
                }
                Done::Directories(created) => {
                    for dir in created.iter().rev() {
                        if let Err(err) = std::fs::remove_dir(dir) {
                            problems.push(format!("remove directory {}: {}", dir.display(), strip_errno(&err)));
                        }
                    }
                }
            }
        }
        let now = match Kernel::read(&mut self.socket) {
            Ok(now) => now,
            Err(err) => {
                problems.push(format!("read the kernel state to restore it: {err}"));
                return problems;
            }
        };
        for address in &self.before.addresses {
            if !now.addresses.iter().any(|a| same_address(a, address)) {
                if let Err(err) = route::add_address(&mut self.socket, address) {
                    if err.raw_os_error() != Some(libc::EEXIST) {
                        problems.push(format!(
                            "restore address {}/{}: {}",
                            address.local,
                            address.prefixlen,
                            strip_errno(&err)
                        ));
                    }
                }
            }
        }
        let now = Kernel::read(&mut self.socket).unwrap_or(now);
        let missing: Vec<Route> = self
            .before
            .routes
            .iter()
            .filter(|r| r.table != route::RT_TABLE_LOCAL && !r.multipath)
            .filter(|r| !now.routes.iter().any(|n| same_route(n, r)))
            .cloned()
            .collect();
        // Routes without a gateway first: a gateway route needs its connected route.
        let (direct, via): (Vec<&Route>, Vec<&Route>) = missing.iter().partition(|r| r.gateway.is_none());
        for lost in direct.into_iter().chain(via) {
            if let Err(err) = route::add_route(&mut self.socket, lost) {
                if err.raw_os_error() != Some(libc::EEXIST) {
                    problems.push(format!("restore route {}: {}", self.describe_route(lost), strip_errno(&err)));
                }
            }
        }
        problems
    }
}

/// The directories `dir` and its missing parents, outermost first.
fn missing_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = dir.ancestors().take_while(|d| !d.exists()).map(Path::to_path_buf).collect();
    missing.reverse();
    missing
}

/// `network reconfigure`, the executor's half: validates `settings` again (syntax was checked
/// when they were parsed), then applies them as the module doc describes.
pub fn reconfigure(ctx: &Context, settings: &Settings, out: &mut dyn Write) -> Result<Status> {
    transact(ctx, settings, true, out)
}

/// The daemon's start: applies the settings `network reconfigure` stored in the config again
/// (addresses and routes do not survive a reboot, and a resolver file may have been replaced),
/// with the same transaction and rollback, leaving the config as it is. `Ok(false)` when the
/// config has no network settings.
pub fn apply_stored(ctx: &Context, out: &mut dyn Write) -> Result<bool> {
    let config = Config::load(&ctx.root)?;
    let Some(settings) = Settings::from_config(&config, ctx.board()?, &Config::path(&ctx.root))? else {
        return Ok(false);
    };
    transact(ctx, &settings, false, out)?;
    Ok(true)
}

/// Applies `settings`; with `save`, records them in the config as the last step.
fn transact(ctx: &Context, settings: &Settings, save: bool, out: &mut dyn Write) -> Result<Status> {
    settings.check()?;
    let mut socket = open_socket()?;
    let before = Kernel::read(&mut socket)?;
    settings.check_links(&before.links)?;
    // A config that cannot be read is not overwritten: its other settings would be lost. Read
    // afresh (see `validate`).
    let mut config = Config::load(&ctx.root)?;
    let board = ctx.board()?;
    board.backup.check_dir(settings.backup_dir.as_str()).map_err(usage)?;
    let config_path = Config::path(&ctx.root);
    let old = match Settings::from_config(&config, board, &config_path) {
        Ok(old) => old,
        Err(err) => {
            log::warn!("{err}; replacing the network section");
            None
        }
    };
    if before.routes.iter().any(|r| r.is_main_default() && r.multipath) {
        return Err(Error::Unsupported(
            "the main table has a multipath default route, which a rollback could not restore; remove it first"
                .to_string(),
        ));
    }
    let Some(link) = before.link(&settings.interface) else {
        return Err(usage(format!("management interface {}: no such interface", settings.interface)));
    };
    let index = link.index;
    let wanted = AddressV4::new(index, settings.ip.addr(), settings.subnet.prefix());
    // The old management address: the configured one; on a device never configured, every
    // global IPv4 address of the new management interface.
    let remove: Vec<AddressV4> = before
        .addresses
        .iter()
        .filter(|a| match &old {
            Some(old) => {
                before.link(&old.interface).map(|l| l.index) == Some(a.index)
                    && a.local == old.ip.addr()
                    && a.prefixlen == old.subnet.prefix()
            }
            None => a.index == index && a.scope == libc::RT_SCOPE_UNIVERSE,
        })
        .filter(|a| !same_address(a, &wanted))
        .cloned()
        .collect();
    let resolver_path = ctx.root.resolve(RESOLV_CONF);
    let resolver_old = read_resolver(&ctx.root)?;
    let backup_path = ctx.root.resolve(settings.backup_dir.as_str());

    let mut tx = Transaction { socket, before, done: Vec::new(), out };
    tx.say("Applying network settings:");
    let applied =
        apply(&mut tx, settings, &wanted, &remove, &resolver_path, resolver_old, &backup_path).and_then(|()| {
            if !save {
                return Ok(());
            }
            config.network = Some(settings.to_config());
            config.backup_dir = Some(settings.backup_dir.to_string());
            config.save(&ctx.root).map_err(|e| format!("config: {e}"))?;
            tx.say(&format!("config: saved {}", config_path.display()));
            Ok(())
        });
    match applied {
        Ok(()) => {
            tx.say("Success! (Network settings applied)");
            tx.say("Current Network Settings:");
            for line in settings.summary_lines() {
                tx.say(&line);
            }
            Ok(Status::Ok)
        }
        Err(failed) => {
            let problems = tx.rollback();
            let outcome = if problems.is_empty() {
                "rolled back: addresses, routes and the resolver file are as they were".to_string()
            } else {
                format!("rollback incomplete: {}", problems.join("; "))
            };
            Err(Error::Problem(format!("{failed}; {outcome}; the config is unchanged")))
        }
    }
}

/// The changes, in order; each one is recorded in `tx` as soon as it is made. The error says
/// which step failed and why.
fn apply(
    tx: &mut Transaction<'_>,
    settings: &Settings,
    wanted: &AddressV4,
    remove: &[AddressV4],
    resolver_path: &Path,
    resolver_old: Option<Vec<u8>>,
    backup_path: &Path,
) -> std::result::Result<(), String> {
    let resolver_new = render_resolver(resolver_old.as_deref(), &settings.dns);
    if resolver_old.as_deref() != Some(&resolver_new[..]) {
        if let Some(dir) = resolver_path.parent() {
            crate::store::create_dir_all(dir, 0o755).map_err(|e| format!("resolver file: {e}"))?;
        }
        crate::store::replace(resolver_path, &resolver_new, crate::store::Mode::Preserve)
            .map_err(|e| format!("resolver file: {e}"))?;
        tx.done.push(Done::Resolver { path: resolver_path.to_path_buf(), old: resolver_old });
        tx.say(&format!("resolver: wrote {} (dns: {})", resolver_path.display(), list_text(&settings.dns)));
    }
    for address in remove {
        let text = format!("{}/{} from {}", address.local, address.prefixlen, tx.name_of(address.index));
        match route::delete_address(&mut tx.socket, address) {
            Ok(()) => tx.say(&format!("address: removed {text}")),
            Err(err) if err.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            Err(err) => return Err(format!("remove address {text}: {}", strip_errno(&err))),
        }
    }
    let text = format!("{}/{} on {}", wanted.local, wanted.prefixlen, settings.interface);
    let now = Kernel::read(&mut tx.socket).map_err(|e| e.to_string())?;
    if now.addresses.iter().any(|a| same_address(a, wanted)) {
        tx.say(&format!("address: {text} already set"));
    } else {
        route::add_address(&mut tx.socket, wanted).map_err(|e| format!("add address {text}: {}", strip_errno(&e)))?;
        tx.done.push(Done::Address(wanted.clone()));
        tx.say(&format!("address: added {text}"));
    }
    let default = Route::default_via(settings.gateway.addr(), wanted.index);
    let now = Kernel::read(&mut tx.socket).map_err(|e| e.to_string())?;
    let mut keep = false;
    for existing in now.routes.iter().filter(|r| r.is_main_default()) {
        if !keep && existing.gateway == default.gateway && existing.oif == default.oif {
            keep = true;
            continue;
        }
        let text = tx.describe_route(existing);
        route::delete_route(&mut tx.socket, existing)
            .map_err(|e| format!("remove default route {text}: {}", strip_errno(&e)))?;
        tx.say(&format!("default route: removed {text}"));
    }
    let text = tx.describe_route(&default);
    if keep {
        tx.say(&format!("default route: {text} already set"));
    } else {
        route::add_route(&mut tx.socket, &default).map_err(|e| {
            // The usual reason: the interface is down, so its subnet is not connected.
            let down = tx.before.link(&settings.interface).is_some_and(|l| l.flags & IFF_UP == 0);
            let hint = if down { format!(" ({} is down)", settings.interface) } else { String::new() };
            format!("add default route {text}: {}{hint}", strip_errno(&e))
        })?;
        tx.done.push(Done::Route(default));
        tx.say(&format!("default route: added {text}"));
    }
    let created = missing_dirs(backup_path);
    if !backup_path.is_dir() {
        // Parents as a system directory usually is; the backups themselves for root and group.
        if let Some(parent) = backup_path.parent() {
            crate::store::create_dir_all(parent, 0o755).map_err(|e| format!("backup directory: {e}"))?;
        }
        crate::store::create_dir_all(backup_path, 0o750).map_err(|e| format!("backup directory: {e}"))?;
        tx.done.push(Done::Directories(created));
        tx.say(&format!("backup directory: created {}", backup_path.display()));
    }
    Ok(())
}
