//! NTP time sync: `ntp enable|disable|status|query`, and [`sync_once`], the step the daemon
//! repeats. The client is SNTP (RFC 4330): one exchange with one server at a time, checked
//! field by field ([`packet`]) over UDP ([`client`]).
//!
//! The configured servers live in the config (`ntp_servers`); the outcome of the last sync is
//! runtime state in `<root>/var/lib/sensorctl/ntp.json`, rewritten atomically by every sync so
//! that the config (which is backed up and restored) changes only when the operator changes it.
//!
//! A sync corrects the clock: an offset above [`STEP_THRESHOLD_NS`] is stepped with
//! clock_settime, a smaller one slewed with adjtimex, which never makes time jump.
//!
//! Privileges: `enable` and [`sync_once`] set the clock (CAP_SYS_TIME) and write the config and
//! the state file; `disable` writes the config; `status` reads; `query` only talks to the
//! network.
#![forbid(unsafe_code)]

pub mod client;
pub mod packet;

use crate::outcome::Status;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::emit;
use crate::paths::NTP_STATE_FILE;
use crate::store;
use crate::sys::clock;
use crate::time::Utc;
use crate::validate::Host;
use client::{Options, Sample};
use nanoserde::{DeJson, SerJson};
use packet::{seconds, signed_seconds};
use std::io::{self, Write};

/// Offsets larger than this are stepped, smaller ones slewed (ntpd's and chrony's 128 ms: at
/// the kernel's 500 ppm a slew of 128 ms takes over four minutes; more would take too long).
pub const STEP_THRESHOLD_NS: i64 = 128_000_000;

/// The state file's format version.
pub const STATE_VERSION: u32 = 1;

/// How the clock was corrected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    /// clock_settime: the clock jumped by the offset.
    Step,
    /// adjtimex: the clock runs slightly fast or slow until the offset is gone.
    Slew,
}

impl Correction {
    fn name(self) -> &'static str {
        match self {
            Correction::Step => "step",
            Correction::Slew => "slew",
        }
    }

    fn past_tense(self) -> &'static str {
        match self {
            Correction::Step => "stepped",
            Correction::Slew => "slewed",
        }
    }
}

/// What a sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// The server that answered.
    pub server: Host,
    /// Its answer.
    pub sample: Sample,
    /// How the clock was corrected by `sample.offset`.
    pub correction: Correction,
}

/// The state file: the last successful sync.
#[derive(Clone, Debug, Default, PartialEq, DeJson, SerJson)]
pub struct NtpState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// The last successful sync, if any.
    #[nserde(default)]
    pub last_sync: Option<SyncRecord>,
}

/// One successful sync, as stored and as `ntp status --json` prints it.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct SyncRecord {
    /// The server that answered.
    pub server: String,
    /// When, Unix seconds by the corrected clock.
    pub unix: i64,
    /// When, ISO 8601 UTC.
    pub time: String,
    /// The offset found and corrected, nanoseconds (positive: the clock was behind).
    pub offset_ns: i64,
    /// Round-trip delay, nanoseconds.
    pub delay_ns: i64,
    /// The server's stratum.
    pub stratum: u8,
    /// `step` or `slew`.
    pub correction: String,
}

impl NtpState {
    /// Loads the state under the context's root; a missing file means no sync yet.
    pub fn load(ctx: &Context) -> Result<NtpState> {
        let path = ctx.root.resolve(NTP_STATE_FILE);
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(NtpState::default()),
            Err(err) => return Err(Error::io("read NTP state", &path, err)),
        };
        let bad = |why: String| Error::BadFile { path: path.clone(), why };
        let text = String::from_utf8(text).map_err(|_| bad("not UTF-8 text".to_string()))?;
        let state = crate::json::decode::<NtpState>(&text).map_err(|e| bad(format!("not a valid NTP state file: {e}")))?;
        if state.version != STATE_VERSION {
            return Err(bad(format!("NTP state version {} is not supported", state.version)));
        }
        Ok(state)
    }

    /// Writes the state atomically and durably. It is derived data: a damaged old file is
    /// simply replaced.
    pub fn save(&self, ctx: &Context) -> Result<()> {
        let path = ctx.root.resolve(NTP_STATE_FILE);
        if let Some(dir) = path.parent() {
            store::create_dir_all(dir, 0o755)?;
        }
        let mut text = self.serialize_json();
        text.push('\n');
        store::replace(&path, text.as_bytes(), store::Mode::Preserve)
    }
}

/// How to correct an offset: step above the threshold, slew at or below it.
pub fn correction_for(offset_ns: i64) -> Correction {
    if offset_ns.unsigned_abs() > STEP_THRESHOLD_NS.unsigned_abs() {
        Correction::Step
    } else {
        Correction::Slew
    }
}

/// Corrects the realtime clock by `offset_ns` (see [`correction_for`]). Needs CAP_SYS_TIME.
pub fn correct_clock(offset_ns: i64) -> Result<Correction> {
    let correction = correction_for(offset_ns);
    match correction {
        Correction::Step => {
            // The offset holds between the clocks, not for an instant: add it to a fresh read.
            let (secs, nanos) = clock::realtime();
            let target = i128::from(secs) * 1_000_000_000 + i128::from(nanos) + i128::from(offset_ns);
            let secs = i64::try_from(target.div_euclid(1_000_000_000))
                .map_err(|_| Error::Problem(format!("offset {} s is out of range", signed_seconds(offset_ns))))?;
            let nanos = target.rem_euclid(1_000_000_000) as u32;
            clock::set_realtime(secs, nanos).map_err(|e| Error::io("clock_settime", "CLOCK_REALTIME", e))?;
        }
        Correction::Slew => {
            let micros = (offset_ns + offset_ns.signum() * 500) / 1000;
            clock::slew_realtime(micros).map_err(|e| Error::io("adjtimex", "CLOCK_REALTIME", e))?;
        }
    }
    Ok(correction)
}

/// Queries `server`, corrects the clock by the offset found, and records the sync in the
/// state file. The config is not touched.
pub fn sync_with(ctx: &Context, server: Host, options: &Options) -> Result<SyncReport> {
    let measured = measure_with(server, options)?;
    apply(ctx, &measured)
}

/// A server's answer, before anything is done with it.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    server: Host,
    sample: client::Sample,
}

/// Asks `server` for the time (up to three requests, a second apart) and checks its answer; a
/// server that does not answer correctly is a problem (exit 1) naming why. Changes nothing.
pub fn measure(ctx: &Context, server: Host) -> Result<Measured> {
    ctx.cancel.check("nothing was changed")?;
    let options = Options { cancel: ctx.cancel.clone(), ..Options::default() };
    let measured = measure_with(server, &options);
    ctx.cancel.check("nothing was changed")?;
    measured.map_err(|err| match err {
        Error::Problem(why) => Error::Problem(format!("NTP server {server} not enabled: {why}")),
        other => other,
    })
}

fn measure_with(server: Host, options: &Options) -> Result<Measured> {
    let sample = client::query(server.addr(), options).map_err(|e| Error::Problem(e.to_string()))?;
    Ok(Measured { server, sample })
}

/// Corrects the clock by a measured offset (added to a fresh read of the clock, so the time the
/// measurement waited for a lock does not matter) and records the sync in the state file.
fn apply(ctx: &Context, measured: &Measured) -> Result<SyncReport> {
    let Measured { server, sample } = *measured;
    let correction = correct_clock(sample.offset)?;
    let report = SyncReport { server, sample, correction };
    let (now, _) = clock::realtime();
    let state = NtpState {
        version: STATE_VERSION,
        last_sync: Some(SyncRecord {
            server: server.to_string(),
            unix: now,
            time: Utc::from_unix(now).iso8601(),
            offset_ns: sample.offset,
            delay_ns: sample.delay,
            stratum: sample.stratum,
            correction: correction.name().to_string(),
        }),
    };
    state.save(ctx)?;
    Ok(report)
}

/// The periodic step: syncs with the first configured server that answers, in config order.
/// Errors when none is configured, and when none answers (naming each server's failure).
pub fn sync_once(ctx: &Context) -> Result<SyncReport> {
    sync_once_with(ctx, &Options::default())
}

/// [`sync_once`] with other query options (tests use another port and shorter timeouts).
pub fn sync_once_with(ctx: &Context, options: &Options) -> Result<SyncReport> {
    let servers = &ctx.config()?.ntp_servers;
    if servers.is_empty() {
        return Err(Error::Problem("no NTP server is enabled".to_string()));
    }
    let mut failures = Vec::new();
    for text in servers {
        let server = Host::parse(text)?;
        match sync_with(ctx, server, options) {
            Ok(report) => return Ok(report),
            Err(Error::Problem(why)) => {
                log::warn!("NTP server {server}: {why}");
                failures.push(why);
            }
            Err(other) => return Err(other),
        }
    }
    Err(Error::Problem(format!("no NTP server answered: {}", failures.join("; "))))
}

fn summary(report: &SyncReport) -> String {
    format!(
        "offset {} s {}, delay {} s, stratum {}",
        signed_seconds(report.sample.offset),
        report.correction.past_tense(),
        seconds(report.sample.delay),
        report.sample.stratum
    )
}

/// `ntp enable <IPv4>`: refuses a server that does not answer correctly (config unchanged);
/// otherwise corrects the clock from it and adds it to the config. Enabling a server that is
/// already enabled syncs again.
pub fn enable(ctx: &Context, server: Host, measured: Measured, out: &mut dyn Write) -> Result<Status> {
    let config = ctx.config()?;
    let report = apply(ctx, &measured)?;
    let text = server.to_string();
    if !config.ntp_servers.contains(&text) {
        let mut updated = config.clone();
        updated.ntp_servers.push(text);
        updated.save(&ctx.root)?;
    }
    emit(out, &format!("NTP server {server} enabled: {}", summary(&report)))?;
    Ok(Status::Ok)
}

/// `ntp disable <IPv4>`: removes the server from the config; a server that is not enabled is a
/// problem (exit 1).
pub fn disable(ctx: &Context, server: Host, out: &mut dyn Write) -> Result<Status> {
    let config = ctx.config()?;
    let text = server.to_string();
    if !config.ntp_servers.contains(&text) {
        let enabled = match config.ntp_servers.as_slice() {
            [] => "no NTP server is enabled".to_string(),
            list => format!("enabled: {}", list.join(", ")),
        };
        return Err(Error::Problem(format!("NTP server {server} is not enabled ({enabled})")));
    }
    let updated = Config { ntp_servers: config.ntp_servers.iter().filter(|s| **s != text).cloned().collect(), ..config.clone() };
    updated.save(&ctx.root)?;
    let rest = if updated.ntp_servers.is_empty() { "; no NTP server left, time sync is off" } else { "" };
    emit(out, &format!("NTP server {server} disabled{rest}"))?;
    Ok(Status::Ok)
}

#[derive(SerJson)]
#[nserde(serialize_none_as_null)]
struct StatusReport {
    servers: Vec<String>,
    last_sync: Option<SyncRecord>,
}

/// `ntp status [--json]`: the enabled servers and the last sync.
pub fn status(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let servers = ctx.config()?.ntp_servers.clone();
    let last_sync = NtpState::load(ctx)?.last_sync;
    if json {
        emit(out, &StatusReport { servers, last_sync }.serialize_json())?;
        return Ok(Status::Ok);
    }
    let list = if servers.is_empty() { "none (time sync is off)".to_string() } else { servers.join(", ") };
    emit(out, &format!("NTP servers: {list}"))?;
    match last_sync {
        None => emit(out, "Last sync: never")?,
        Some(sync) => {
            emit(out, &format!("Last sync: {} from {}, stratum {}", sync.time, sync.server, sync.stratum))?;
            let how = if sync.correction == "step" { "stepped" } else { "slewed" };
            emit(out, &format!("Offset: {} s ({how})", signed_seconds(sync.offset_ns)))?;
            emit(out, &format!("Delay: {} s", seconds(sync.delay_ns)))?;
        }
    }
    Ok(Status::Ok)
}

#[derive(SerJson)]
struct QueryReport {
    server: String,
    offset_ns: i64,
    delay_ns: i64,
    stratum: u8,
    leap: u8,
    reference_id: String,
    server_time: String,
}

/// `ntp query <IPv4> [--json]`: asks a server for the time and prints the offset, changing
/// neither the clock nor the config. A server that does not answer correctly is a problem.
pub fn query(server: Host, cancel: &crate::cancel::Cancel, json: bool, out: &mut dyn Write) -> Result<Status> {
    let options = Options { cancel: cancel.clone(), ..Options::default() };
    let sample = client::query(server.addr(), &options).map_err(|e| Error::Problem(e.to_string()));
    cancel.check("no answer was waited for")?;
    let sample = sample?;
    if json {
        let id = sample.reference_id;
        let report = QueryReport {
            server: server.to_string(),
            offset_ns: sample.offset,
            delay_ns: sample.delay,
            stratum: sample.stratum,
            leap: sample.leap,
            reference_id: format!("{:02X}{:02X}{:02X}{:02X}", id[0], id[1], id[2], id[3]),
            server_time: Utc::from_unix(sample.server_time.div_euclid(1_000_000_000)).iso8601(),
        };
        emit(out, &report.serialize_json())?;
    } else {
        emit(
            out,
            &format!(
                "NTP server {server}: offset {} s, delay {} s, stratum {}",
                signed_seconds(sample.offset),
                seconds(sample.delay),
                sample.stratum
            ),
        )?;
    }
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::RootDir;
    use crate::testutil::TempDir;
    use std::net::UdpSocket;
    use std::time::Duration;

    fn context(dir: &TempDir, servers: &[&str]) -> Context {
        let root = RootDir::new(dir.path());
        let config = Config { ntp_servers: servers.iter().map(|s| s.to_string()).collect(), ..Config::default() };
        config.save(&root).unwrap();
        Context::for_uid(root, None, None, 0).unwrap()
    }

    #[test]
    fn sync_once_takes_the_first_server_that_answers_and_records_it() {
        if crate::sys::ids::real_uid() != 0 {
            eprintln!("skipped: sync_once corrects the clock, which needs root");
            return;
        }
        // A correct server on 127.0.0.1:P; nobody on 127.0.0.2:P, which is listed first.
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let answering = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let (_, from) = server.recv_from(&mut buf).unwrap();
            let mut reply = [0u8; 48];
            reply[0] = 0x24;
            reply[1] = 4;
            reply[24..32].copy_from_slice(&buf[40..48]);
            let (secs, nanos) = clock::realtime();
            let now = packet::Timestamp::from_unix_nanos(secs * 1_000_000_000 + i64::from(nanos));
            reply[32..40].copy_from_slice(&now.0.to_be_bytes());
            reply[40..48].copy_from_slice(&now.0.to_be_bytes());
            server.send_to(&reply, from).unwrap();
        });
        let dir = TempDir::new("ntp-sync-once");
        let ctx = context(&dir, &["127.0.0.2", "127.0.0.1"]);
        let options = Options { tries: 1, timeout: Duration::from_millis(200), port, ..Options::default() };
        let report = sync_once_with(&ctx, &options).unwrap();
        answering.join().unwrap();
        assert_eq!(report.server.to_string(), "127.0.0.1");
        assert_eq!((report.sample.stratum, report.correction), (4, Correction::Slew));
        assert!(report.sample.offset.abs() < 5_000_000, "{report:?}");
        let recorded = NtpState::load(&ctx).unwrap().last_sync.unwrap();
        assert_eq!((recorded.server.as_str(), recorded.offset_ns), ("127.0.0.1", report.sample.offset));

        // Nobody answers: every server's failure is named, and the record stays as it was.
        let err = sync_once_with(&ctx, &Options { port: 9, ..options }).unwrap_err().to_string();
        assert!(err.starts_with("no NTP server answered: no reply from 127.0.0.2:9 after 1 try"), "{err}");
        assert!(err.contains("; no reply from 127.0.0.1:9 after 1 try"), "{err}");
        assert_eq!(NtpState::load(&ctx).unwrap().last_sync.unwrap(), recorded);
    }

    #[test]
    fn sync_once_without_servers_is_a_problem() {
        let dir = TempDir::new("ntp-sync-none");
        let ctx = context(&dir, &[]);
        let err = sync_once(&ctx).unwrap_err();
        assert_eq!((err.to_string().as_str(), err.exit_code()), ("no NTP server is enabled", 1));
    }

    #[test]
    fn step_above_128_ms_slew_at_or_below() {
        assert_eq!(correction_for(0), Correction::Slew);
        assert_eq!(correction_for(128_000_000), Correction::Slew);
        assert_eq!(correction_for(-128_000_000), Correction::Slew);
        assert_eq!(correction_for(128_000_001), Correction::Step);
        assert_eq!(correction_for(-128_000_001), Correction::Step);
        assert_eq!(correction_for(i64::MIN), Correction::Step);
    }

    #[test]
    fn server_addresses_must_name_one_host() {
        for good in ["127.0.0.1", "129.6.15.28", "10.0.0.1", "192.0.2.255"] {
            assert_eq!(Host::parse(good).unwrap().to_string(), good);
        }
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.1.1", "239.1.1.1", "240.0.0.1", "1.2.3", "01.2.3.4"] {
            assert_eq!(Host::parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn state_round_trips_and_old_files_without_a_sync_load() {
        let state = NtpState {
            version: STATE_VERSION,
            last_sync: Some(SyncRecord {
                server: "127.0.0.1".into(),
                unix: 1_764_000_000,
                time: "2025-11-24T16:00:00Z".into(),
                offset_ns: -12_345,
                delay_ns: 80_000,
                stratum: 10,
                correction: "slew".into(),
            }),
        };
        assert_eq!(NtpState::deserialize_json(&state.serialize_json()).unwrap(), state);
        assert_eq!(NtpState::deserialize_json("{\"version\":1}").unwrap().last_sync, None);
    }
}
