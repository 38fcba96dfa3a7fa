//! What the daemon does on its own: at start, put back what a power cut or a reboot undoes
//! ([`startup`]); then, on timers, the NTP sync and the scheduled backups.
//!
//! Needs root, as the daemon.
#![forbid(unsafe_code)]

use crate::action::ActionKind;
use crate::context::Context;
use crate::paths::RootDir;
use std::io::Write;
use std::time::Duration;

/// What must hold after every boot (or after the daemon was killed and started again), done
/// before the socket exists so that a client that can connect sees it in place. Each step's
/// failure is logged, and the daemon serves anyway: a sensor that cannot be reached is worse.
pub fn startup(ctx: &Context, out: &mut dyn Write) {
    // First: a restore cut off by a power failure may have left its swap half done, and the
    // config itself is among the data it swaps.
    let mut said = Vec::new();
    let recovered = crate::backup::Settings::of(ctx).and_then(|settings| {
        let _lock = crate::backup::lock(&settings)?;
        crate::backup::restore::recover(&settings, &mut said)
    });
    log_lines("restore recovery", &said);
    if let Err(err) = recovered {
        log::error!("finishing an interrupted restore: {err}");
    }
    // A capture-filter update cut off between its renames is finished (all components new).
    if let Err(err) = crate::capture_filter::recover(&ctx.root) {
        log::error!("finishing an interrupted capture-filter update: {err}");
    }
    // The stored state the kernel forgets at a reboot, read from the config as it now is.
    let ctx = &ctx.refreshed();
    let mut said = Vec::new();
    let applied = crate::netconf::apply::apply_stored(ctx, &mut said);
    log_lines("network settings", &said);
    match applied {
        Ok(false) => {}
        Ok(true) => log::info!("applied the stored management network settings"),
        Err(err) => log::error!("applying the stored management network settings: {err}"),
    }
    match crate::limit::apply_stored_limits(ctx) {
        Ok(0) => {}
        Ok(applied) => log::info!("applied {applied} stored bandwidth limit(s)"),
        Err(err) => log::error!("applying the stored bandwidth limits: {err}"),
    }
    // A pending software upgrade is committed if healthy, else rolled back (issue 10).
    if let Err(err) = crate::upgrade::on_start(ctx, out) {
        log::error!("upgrade commit/rollback at start: {err}");
    }
}

/// Logs the output lines of work the daemon did on its own.
pub fn log_lines(what: &str, output: &[u8]) {
    for line in String::from_utf8_lossy(output).lines() {
        log::info!("{what}: {line}");
    }
}

/// What the backup schedule does next.
pub enum Schedule {
    /// No interval configured: wait for SIGHUP.
    Off,
    /// The next backup is due in this long (or when the config is reloaded).
    Wait(Duration),
    /// A backup is due now.
    Due,
}

/// When the next scheduled backup is due: one interval after the last backup ended (as
/// recorded, by any backup) or the last scheduled attempt ended, whichever is later.
pub fn next_scheduled_backup(root: RootDir, board_spec: Option<String>, last_attempt_ms: u64) -> Schedule {
    let ctx = match Context::for_uid(root, board_spec, None, 0) {
        Ok(ctx) => ctx,
        Err(err) => {
            log::error!("backup schedule: {err}");
            return Schedule::Off;
        }
    };
    let interval = match ctx.config() {
        Ok(config) => match config.backup_interval() {
            Some(interval) => interval,
            None => return Schedule::Off,
        },
        Err(err) => {
            log::error!("backup schedule: {err}");
            return Schedule::Off;
        }
    };
    let last_ms = match crate::backup::read_state(&ctx) {
        Ok(state) => state.map_or(0, |s| s.last_epoch_ms),
        Err(err) => {
            log::warn!("backup schedule: {err}");
            0
        }
    };
    let due_ms = last_ms.max(last_attempt_ms).saturating_add(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX));
    let now_ms = crate::backup::now_ms();
    if now_ms >= due_ms {
        Schedule::Due
    } else {
        // At most one interval: a clock set back must not postpone backups by as much.
        Schedule::Wait(Duration::from_millis(due_ms - now_ms).min(interval))
    }
}

/// One round of the daemon's time keeping: syncs with the configured NTP servers, if any, and
/// returns how long to wait for the next round (from the config as it is now).
pub fn scheduled_ntp_sync(root: RootDir, board_spec: Option<String>) -> Duration {
    let default = Duration::from_secs(1024);
    let ctx = match Context::for_uid(root, board_spec, None, 0) {
        Ok(ctx) => ctx,
        Err(err) => {
            log::error!("scheduled NTP sync: {err}");
            return default;
        }
    };
    let config = match ctx.config() {
        Ok(config) => config,
        Err(err) => {
            log::error!("scheduled NTP sync: {err}");
            return default;
        }
    };
    let interval = config.ntp_poll_interval();
    if config.ntp_servers.is_empty() {
        return interval;
    }
    match crate::ntp::sync_once(&ctx) {
        Ok(report) => log::info!("NTP sync with {}: offset {:?}", report.server, report.sample.offset),
        Err(err) => log::warn!("scheduled NTP sync: {err}"),
    }
    interval
}

/// SIGHUP: read the config again. Each request already loads it afresh; this checks it and
/// says so, keeping the daemon running whatever the file holds.
pub fn reload(root: &RootDir) {
    match crate::config::Config::load(root) {
        Ok(_) => log::info!("SIGHUP: configuration reloaded"),
        Err(err) => log::error!("SIGHUP: {err}; keeping the previous configuration"),
    }
}


/// A scheduled `system backup`, as root, with its status recorded (by the backup) and an audit
/// entry. The caller holds the daemon's state lock; a backup lowers its thread's priority for
/// good, so it runs on a thread of its own.
pub fn scheduled_backup(root: RootDir, board_spec: Option<String>) {
    let ctx = match Context::for_uid(root, board_spec, None, 0) {
        Ok(ctx) => ctx,
        Err(err) => {
            log::error!("scheduled backup: {err}");
            return;
        }
    };
    log::info!("scheduled backup: starting");
    let mut said = Vec::new();
    let result = crate::backup::create::run(&ctx, &mut said);
    log_lines("scheduled backup", &said);
    let outcome = crate::outcome::audit_result(&result);
    crate::audit::record(&ctx, ActionKind::BackupCreate.audit_name(), "scheduled", &outcome);
    match result {
        Ok(_) => log::info!("scheduled backup: done"),
        Err(err) => log::error!("scheduled backup: {err}"),
    }
}
