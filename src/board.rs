//! Hardware profiles. A board file (`board/<name>/board.json`) names the management and monitor
//! interfaces, the size profile shown by `system sanity`, LED fallbacks for `network blink`, the
//! backup directory, limit and data paths, the services to watch, the user → role map, and the
//! software upgrade's slots and trusted keys (`upgrade`, see [`UpgradeMethod`]).
//!
//! Every board under `board/` is compiled in; `generic-x86` is the default, so the binary runs
//! with no file beside it. `--board NAME|PATH` or the config's `board` selects another: a name is
//! looked up among the compiled-in boards, then in `<root>/etc/sensorctl/boards/NAME.json`; an
//! argument with a `/` is a file path. The file is read into raw structs (by [`crate::wire`], as
//! nanoserde read it before: unknown keys are skipped, so a newer board file still loads) and
//! then validated into the typed [`Board`]; a bad file is an error naming the file and the field.
//!
//! A service (`services`) names exactly one way `system sanity` finds it:
//! - `"pidfile": PATH` (under the root): the file holds the pid of the running process. So that a
//!   stale pidfile whose pid now belongs to another program is not taken for the service, the
//!   expected program is `"process": NAME` when given beside the pidfile, else the basename of
//!   `argv[0]`; it is compared with the kernel's command name (`/proc/<pid>/comm`, whose first
//!   15 bytes are all the kernel keeps). With neither, only the pid's liveness is checked.
//! - `"process": NAME` alone: the oldest live process with that command name.
//! - `"socket": PATH` (under the root): a Unix stream socket that must accept a connection; its
//!   uptime is that of the process that listens on it (SO_PEERCRED).
//!
//! Reads board files; needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::paths::{RootDir, BOARD_DIR};
use crate::role::{Role, RoleMapping};
use crate::validate::{IfName, UserName};
use std::path::{Path, PathBuf};

/// The name of the embedded default board.
pub const DEFAULT_BOARD: &str = "generic-x86";

/// The boards compiled into the binary: (name, JSON text).
pub const EMBEDDED: &[(&str, &str)] = &[
    ("generic-x86", include_str!("../board/generic-x86/board.json")),
    ("rugged-arm-4port", include_str!("../board/rugged-arm-4port/board.json")),
];

/// The board format this build reads.
pub const FORMAT: u32 = 1;

/// The appliance size shown by `system sanity` (`System is UP! (medium)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeProfile {
    /// Small appliance (DIN rail, few ports).
    Small,
    /// Medium appliance.
    Medium,
    /// Large appliance.
    Large,
}

impl SizeProfile {
    /// The profile's name as printed.
    pub fn name(self) -> &'static str {
        match self {
            SizeProfile::Small => "small",
            SizeProfile::Medium => "medium",
            SizeProfile::Large => "large",
        }
    }
}

/// A monitor interface and the label the appliance shows for it (`local_listener=adiot0`).
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorInterface {
    /// The label shown to operators.
    pub label: String,
    /// The kernel interface.
    pub device: IfName,
}

/// A port LED that `network blink` may drive when the NIC has no ETHTOOL_PHYS_ID.
#[derive(Clone, Debug, PartialEq)]
pub struct PortLed {
    /// The port.
    pub interface: IfName,
    /// The LED's directory name under the board's LED directory.
    pub led: String,
}

/// How `system sanity` finds a service.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceProbe {
    /// A pidfile naming the running process.
    Pidfile {
        /// The pidfile (path under the root).
        path: PathBuf,
        /// The command name the pid must have (`process`, else argv[0]'s basename); a pid
        /// running anything else means a stale pidfile.
        program: Option<String>,
    },
    /// A process name (`/proc/<pid>/comm`).
    Process(String),
    /// A Unix socket (path under the root) that must accept a connection.
    Socket(PathBuf),
}

/// A service the appliance runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Display name (`Web Apps`).
    pub name: String,
    /// How to find it.
    pub probe: ServiceProbe,
    /// The argv the daemon's supervisor starts it with (no shell), if it supervises it.
    pub argv: Vec<String>,
    /// The capture-filter components (`horizon`, `traffic-monitor`, …) whose filter this
    /// service reads: it gets SIGHUP when one of them changes.
    pub reloads: Vec<String>,
}

/// Backup settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupSettings {
    /// Where backups are written (under the root).
    pub dir: PathBuf,
    /// Rotation limit for the directory's total size, in bytes.
    pub limit_bytes: u64,
    /// Data paths (under the root) a backup holds.
    pub paths: Vec<PathBuf>,
    /// Where `network reconfigure --backup-dir` may move backups: at or under one of these
    /// (the board's `backup.dir_prefixes`; without it, only `dir` and below).
    pub dir_prefixes: Vec<PathBuf>,
}

impl BackupSettings {
    /// Refuses a backup directory outside the board's prefixes, or one that is a data path,
    /// lies inside one or holds one (a restore would swap the backups away with the data).
    /// The error is a sentence naming the directory.
    pub fn check_dir(&self, dir: &str) -> std::result::Result<(), String> {
        let path = Path::new(dir);
        if !self.dir_prefixes.iter().any(|prefix| path.starts_with(prefix)) {
            let allowed: Vec<String> = self.dir_prefixes.iter().map(|p| p.display().to_string()).collect();
            return Err(format!(
                "backup directory {}: not under one of the board's backup locations ({})",
                crate::validate::printable(dir),
                allowed.join(", ")
            ));
        }
        match self.paths.iter().find(|data| path.starts_with(data) || data.starts_with(path)) {
            Some(data) => Err(format!(
                "backup directory {}: overlaps the data path {} that backups hold",
                crate::validate::printable(dir),
                data.display()
            )),
            None => Ok(()),
        }
    }

    /// The directory backups go to: the one `network reconfigure` stored in the config when
    /// the board allows it, else the board's own (a stored one it refuses is logged and
    /// ignored, so that a config from before the check cannot stop every backup).
    pub fn dir_for(&self, configured: Option<&str>) -> PathBuf {
        match configured {
            Some(dir) => match self.check_dir(dir) {
                Ok(()) => PathBuf::from(dir),
                Err(why) => {
                    log::warn!("config backup_dir: {why}; using {}", self.dir.display());
                    self.dir.clone()
                }
            },
            None => self.dir.clone(),
        }
    }
}

/// How `system upgrade` installs a new version beside the running one.
#[derive(Clone, Debug, PartialEq)]
pub enum UpgradeMethod {
    /// Two slot directories and a `current` symbolic link naming the active one, all three in
    /// one directory (paths under the root); the switch renames a new link over `current`.
    AbDir {
        /// Slot a and slot b.
        slots: [PathBuf; 2],
        /// The link (its target is a slot's file name).
        current: PathBuf,
    },
    /// Two block devices (kernel paths under `/dev` stay real; others resolve under the root)
    /// and a boot-flag file (under the root) holding `a` or `b`, which the boot loader reads.
    AbBlock {
        /// The devices of slot a and slot b.
        devices: [PathBuf; 2],
        /// The boot-flag file.
        boot_flag: PathBuf,
    },
}

/// Upgrade settings.
#[derive(Clone, Debug, PartialEq)]
pub struct UpgradeSettings {
    /// The slot method.
    pub method: UpgradeMethod,
    /// Ed25519 public keys trusted to sign packages (besides the key files of
    /// `<root>/etc/sensorctl/upgrade-keys/`).
    pub keys: Vec<[u8; 32]>,
    /// Seconds after the daemon's start in which a pending upgrade's `system sanity` may come
    /// to pass (services the daemon starts itself need a moment); then it is rolled back.
    /// 0: decided at once. Default 120.
    pub health_grace_s: u64,
}

/// A validated hardware profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Board {
    /// The board's name.
    pub name: String,
    /// One line for operators.
    pub description: String,
    /// Size profile shown by `system sanity`.
    pub size_profile: SizeProfile,
    /// The management port.
    pub management_interface: IfName,
    /// Monitor ports and their labels.
    pub monitor_interfaces: Vec<MonitorInterface>,
    /// Directory holding the LED class devices (kernel tree: not under the root prefix).
    pub led_dir: PathBuf,
    /// LED fallbacks for `network blink`.
    pub leds: Vec<PortLed>,
    /// Backup settings.
    pub backup: BackupSettings,
    /// Services to watch.
    pub services: Vec<Service>,
    /// User → role.
    pub roles: Vec<RoleMapping>,
    /// The group that may use the daemon's socket.
    pub socket_group: UserName,
    /// A hardware watchdog device the daemon keeps alive while it is healthy (e.g.
    /// `/dev/watchdog`; kernel paths stay real, others resolve under the root).
    pub watchdog: Option<PathBuf>,
    /// Seconds between watchdog keep-alives (default 5).
    pub watchdog_interval_s: u64,
    /// Software upgrade slots and keys; `None`: this board cannot be upgraded in place.
    pub upgrade: Option<UpgradeSettings>,
    /// The longest capture filter (classic BPF instructions) the board's capture NICs take
    /// when they run filters in hardware; default and most the kernel's 4096.
    pub capture_filter_max_insns: usize,
}

crate::wire::wire_struct! {
    lenient;
    struct RawBoard {
        format: u32,
        name: String,
        description: String = String::new(),
        size_profile: String,
        management_interface: String,
        monitor_interfaces: Vec<RawMonitor> = Vec::new(),
        led_dir: Option<String>,
        leds: Vec<RawLed> = Vec::new(),
        backup: RawBackup,
        services: Vec<RawService> = Vec::new(),
        roles: Vec<RawRole>,
        socket_group: Option<String>,
        watchdog: Option<String>,
        watchdog_interval_s: Option<u64>,
        upgrade: Option<RawUpgrade>,
        capture_filter_max_insns: Option<u64>,
    }
}

crate::wire::wire_struct! {
    lenient;
    struct RawUpgrade {
        method: String,
        slots: Vec<String> = Vec::new(),
        current: Option<String>,
        devices: Vec<String> = Vec::new(),
        boot_flag: Option<String>,
        keys: Vec<String> = Vec::new(),
        health_grace_s: Option<u64>,
    }
}

crate::wire::wire_struct! {
    lenient;
    struct RawMonitor {
        label: String,
        device: String,
    }
}

crate::wire::wire_struct! {
    lenient;
    struct RawLed {
        interface: String,
        led: String,
    }
}

crate::wire::wire_struct! {
    lenient;
    struct RawBackup {
        dir: String,
        limit_bytes: u64,
        paths: Vec<String> = Vec::new(),
        dir_prefixes: Vec<String> = Vec::new(),
    }
}

crate::wire::wire_struct! {
    lenient;
    struct RawService {
        name: String,
        pidfile: Option<String>,
        process: Option<String>,
        socket: Option<String>,
        argv: Vec<String> = Vec::new(),
        reloads: Vec<String> = Vec::new(),
    }
}

crate::wire::wire_struct! {
    lenient;
    struct RawRole {
        user: String,
        role: String,
    }
}

impl Board {
    /// The embedded default board.
    pub fn embedded_default() -> Result<Board> {
        Board::load(DEFAULT_BOARD, &RootDir::new("/"))
    }

    /// Loads the board `spec` names: a compiled-in name, a name under
    /// `<root>/etc/sensorctl/boards/`, or (when it contains `/`) a file path.
    pub fn load(spec: &str, root: &RootDir) -> Result<Board> {
        if let Some((name, text)) = EMBEDDED.iter().find(|(name, _)| *name == spec) {
            return Board::parse(text, Path::new(&format!("<embedded board {name}>")));
        }
        let path = if spec.contains('/') {
            PathBuf::from(spec)
        } else {
            let name = check_board_name(spec)?;
            root.resolve(BOARD_DIR).join(format!("{name}.json"))
        };
        let text = std::fs::read_to_string(&path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound && !spec.contains('/') {
                let known: Vec<&str> = EMBEDDED.iter().map(|(name, _)| *name).collect();
                Error::Usage(format!("unknown board '{spec}' (built in: {})", known.join(", ")))
            } else {
                Error::io("read board", &path, err)
            }
        })?;
        Board::parse(&text, &path)
    }

    /// Parses and validates a board file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Board> {
        let bad = |why: String| Error::BadFile { path: origin.to_path_buf(), why };
        let raw = crate::wire::decode::<RawBoard>(text).map_err(|e| bad(format!("not a valid board file: {e}")))?;
        if raw.format != FORMAT {
            return Err(bad(format!("board format {} is not supported (this build reads {FORMAT})", raw.format)));
        }
        let field = |name: &str, err: Error| bad(format!("{name}: {err}"));
        if raw.name.is_empty() || !raw.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(bad(format!("name: '{}' is not a board name", crate::validate::printable(&raw.name))));
        }
        let size_profile = match raw.size_profile.as_str() {
            "small" => SizeProfile::Small,
            "medium" => SizeProfile::Medium,
            "large" => SizeProfile::Large,
            other => {
                return Err(bad(format!(
                    "size_profile: '{}' is not small, medium or large",
                    crate::validate::printable(other)
                )))
            }
        };
        let management_interface =
            IfName::parse(&raw.management_interface).map_err(|e| field("management_interface", e))?;
        let monitor_interfaces = raw
            .monitor_interfaces
            .iter()
            .map(|m| {
                Ok(MonitorInterface {
                    label: single_line("monitor_interfaces.label", &m.label).map_err(&bad)?,
                    device: IfName::parse(&m.device).map_err(|e| field("monitor_interfaces.device", e))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let leds = raw
            .leds
            .iter()
            .map(|l| {
                if l.led.is_empty() || l.led.contains('/') || l.led == "." || l.led == ".." {
                    return Err(bad(format!("leds.led: '{}' is not an LED name", crate::validate::printable(&l.led))));
                }
                Ok(PortLed {
                    interface: IfName::parse(&l.interface).map_err(|e| field("leds.interface", e))?,
                    led: l.led.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if raw.backup.limit_bytes == 0 {
            return Err(bad("backup.limit_bytes: must be more than 0".to_string()));
        }
        let backup = BackupSettings {
            dir: absolute("backup.dir", &raw.backup.dir).map_err(&bad)?,
            limit_bytes: raw.backup.limit_bytes,
            paths: raw
                .backup
                .paths
                .iter()
                .map(|p| absolute("backup.paths", p).map_err(&bad))
                .collect::<Result<Vec<_>>>()?,
            dir_prefixes: raw
                .backup
                .dir_prefixes
                .iter()
                .map(|p| absolute("backup.dir_prefixes", p).map_err(&bad))
                .collect::<Result<Vec<_>>>()?,
        };
        let backup = if backup.dir_prefixes.is_empty() {
            BackupSettings { dir_prefixes: vec![backup.dir.clone()], ..backup }
        } else {
            backup
        };
        let services = raw
            .services
            .iter()
            .map(|s| {
                let name = single_line("services.name", &s.name).map_err(&bad)?;
                let probe = match (&s.pidfile, &s.process, &s.socket) {
                    (Some(p), program, None) => ServiceProbe::Pidfile {
                        path: absolute("services.pidfile", p).map_err(&bad)?,
                        program: match program {
                            Some(program) => Some(program_name("services.process", program).map_err(&bad)?),
                            None => match s.argv.first().and_then(|argv0| argv0.rsplit('/').next()) {
                                Some(base) => Some(program_name("services.argv", base).map_err(&bad)?),
                                None => None,
                            },
                        },
                    },
                    (None, Some(p), None) => ServiceProbe::Process(program_name("services.process", p).map_err(&bad)?),
                    (None, None, Some(p)) => ServiceProbe::Socket(absolute("services.socket", p).map_err(&bad)?),
                    _ => {
                        return Err(bad(format!(
                            "services: '{name}' must name one of pidfile (with an optional process), process, socket"
                        )))
                    }
                };
                if s.argv.first().is_some_and(|program| !program.starts_with('/')) {
                    return Err(bad(format!("services.argv: '{name}' must start with an absolute program path")));
                }
                let reloads = s
                    .reloads
                    .iter()
                    .map(|c| program_name("services.reloads", c).map_err(&bad))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Service { name, probe, argv: s.argv.clone(), reloads })
            })
            .collect::<Result<Vec<_>>>()?;
        let roles = raw
            .roles
            .iter()
            .map(|r| {
                Ok(RoleMapping {
                    user: UserName::parse(&r.user).map_err(|e| field("roles.user", e))?,
                    role: r.role.parse::<Role>().map_err(|e| field("roles.role", e))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let socket_group = UserName::parse(raw.socket_group.as_deref().unwrap_or("sensorctl"))
            .map_err(|e| field("socket_group", e))?;
        let led_dir = absolute("led_dir", raw.led_dir.as_deref().unwrap_or("/sys/class/leds")).map_err(&bad)?;
        let watchdog = raw.watchdog.as_deref().map(|p| absolute("watchdog", p)).transpose().map_err(&bad)?;
        let watchdog_interval_s = raw.watchdog_interval_s.unwrap_or(5);
        if !(1..=300).contains(&watchdog_interval_s) {
            return Err(bad("watchdog_interval_s: must be 1-300".to_string()));
        }
        let upgrade = raw.upgrade.as_ref().map(upgrade_settings).transpose().map_err(&bad)?;
        let capture_filter_max_insns = match raw.capture_filter_max_insns {
            None => crate::bpf::KERNEL_MAX_INSNS,
            Some(n) if (1..=crate::bpf::KERNEL_MAX_INSNS as u64).contains(&n) => n as usize,
            Some(_) => return Err(bad(format!("capture_filter_max_insns: must be 1-{}", crate::bpf::KERNEL_MAX_INSNS))),
        };
        Ok(Board {
            upgrade,
            capture_filter_max_insns,
            name: raw.name,
            description: raw.description,
            size_profile,
            management_interface,
            monitor_interfaces,
            led_dir,
            leds,
            backup,
            services,
            roles,
            socket_group,
            watchdog,
            watchdog_interval_s,
        })
    }
}

/// A board name given as a bare word, checked before it becomes part of a path.
fn check_board_name(spec: &str) -> Result<&str> {
    let ok = !spec.is_empty()
        && spec.len() <= 64
        && spec.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(spec)
    } else {
        Err(Error::Usage(format!(
            "invalid board name '{}': expected letters, digits, - and _",
            crate::validate::printable(spec)
        )))
    }
}

fn single_line(field: &str, text: &str) -> std::result::Result<String, String> {
    if text.is_empty() || text.len() > 128 || text.chars().any(char::is_control) {
        return Err(format!("{field}: must be 1-128 printable characters"));
    }
    Ok(text.to_string())
}

/// A program's command name as the kernel shows it: not empty, no `/`, no control characters.
fn program_name(field: &str, text: &str) -> std::result::Result<String, String> {
    if text.is_empty() || text.len() > 255 || text.contains('/') || text.chars().any(char::is_control) {
        return Err(format!(
            "{field}: '{}' is not a program name",
            crate::validate::printable(text)
        ));
    }
    Ok(text.to_string())
}

/// A public key as written in a board or key file: 64 hex digits.
pub fn parse_public_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (at, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * at..2 * at + 2)?, 16).ok()?;
    }
    Some(key)
}

fn upgrade_settings(raw: &RawUpgrade) -> std::result::Result<UpgradeSettings, String> {
    let keys = raw
        .keys
        .iter()
        .map(|k| parse_public_key(k).ok_or_else(|| "upgrade.keys: each key must be 64 hex digits".to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let pair = |field: &str, list: &[String]| -> std::result::Result<[PathBuf; 2], String> {
        match list {
            [a, b] if a != b => Ok([absolute(field, a)?, absolute(field, b)?]),
            _ => Err(format!("{field}: must name two different paths")),
        }
    };
    let method = match raw.method.as_str() {
        "ab-dir" => {
            let slots = pair("upgrade.slots", &raw.slots)?;
            let current = absolute("upgrade.current", raw.current.as_deref().unwrap_or(""))?;
            // The link names a slot by its file name, and the rename over it must stay in one
            // directory: all three share a parent.
            let parent = current.parent();
            if slots.iter().any(|s| s.parent() != parent || s == &current) || parent.is_none() {
                return Err("upgrade: the slots and the current link must be distinct names in one directory".into());
            }
            UpgradeMethod::AbDir { slots, current }
        }
        "ab-block" => UpgradeMethod::AbBlock {
            devices: pair("upgrade.devices", &raw.devices)?,
            boot_flag: absolute("upgrade.boot_flag", raw.boot_flag.as_deref().unwrap_or(""))?,
        },
        other => {
            return Err(format!("upgrade.method: '{}' is not ab-dir or ab-block", crate::validate::printable(other)))
        }
    };
    let health_grace_s = raw.health_grace_s.unwrap_or(120);
    if health_grace_s > 3600 {
        return Err("upgrade.health_grace_s: must be 0-3600".into());
    }
    Ok(UpgradeSettings { method, keys, health_grace_s })
}

fn absolute(field: &str, text: &str) -> std::result::Result<PathBuf, String> {
    if !text.starts_with('/') || text.contains('\0') || text.split('/').any(|part| part == "..") {
        return Err(format!(
            "{field}: '{}' must be an absolute path without '..'",
            crate::validate::printable(text)
        ));
    }
    Ok(PathBuf::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_directory_must_lie_under_the_boards_prefixes_and_apart_from_the_data() {
        let backup = Board::embedded_default().unwrap().backup;
        for allowed in ["/var/cyberx/backups", "/var/cyberx/backups/weekly", "/data/backups", "/var/backups/sensor"] {
            assert_eq!(backup.check_dir(allowed), Ok(()), "{allowed}");
            assert_eq!(backup.dir_for(Some(allowed)), PathBuf::from(allowed));
        }
        for (refused, why) in [
            ("/etc/nologin", "not under one of the board's backup locations (/var/cyberx/backups, /var/backups, /data)"),
            ("/var/cyberx", "not under one of the board's backup locations"),
            ("/var/cyberx/backupsX", "not under one of the board's backup locations"),
            ("/database", "not under one of"),
        ] {
            let err = backup.check_dir(refused).unwrap_err();
            assert!(err.starts_with(&format!("backup directory {refused}: ")) && err.contains(why), "{refused}: {err}");
            // A stored directory the board refuses (a config from before the check) falls back.
            assert_eq!(backup.dir_for(Some(refused)), PathBuf::from("/var/cyberx/backups"));
        }
        let overlapping = BackupSettings { dir_prefixes: vec![PathBuf::from("/var/cyberx")], ..backup.clone() };
        for refused in ["/var/cyberx/keys", "/var/cyberx/keys/old", "/var/cyberx"] {
            assert!(overlapping.check_dir(refused).unwrap_err().contains("overlaps the data path /var/cyberx/"), "{refused}");
        }
        assert_eq!(backup.dir_for(None), PathBuf::from("/var/cyberx/backups"));
    }

    #[test]
    fn every_embedded_board_is_valid_and_named_after_itself() {
        for (name, text) in EMBEDDED {
            let board = Board::parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(board.name, *name);
            assert!(board.roles.iter().any(|r| r.role == Role::Support));
        }
        assert_eq!(Board::embedded_default().unwrap().size_profile, SizeProfile::Medium);
    }

    #[test]
    fn the_multi_port_board_describes_its_ports_and_leds() {
        let board = Board::load("rugged-arm-4port", &RootDir::new("/")).unwrap();
        assert!(board.monitor_interfaces.len() >= 2);
        assert_eq!(board.leds.len(), 4);
        assert_eq!(board.size_profile, SizeProfile::Small);
    }

    fn with(field: &str, value: &str) -> String {
        let (_, text) = EMBEDDED[0];
        let start = text.find(&format!("\"{field}\"")).unwrap();
        let colon = start + text[start..].find(':').unwrap();
        let end = colon + text[colon..].find(",\n").unwrap();
        format!("{}: {value}{}", &text[..colon], &text[end..])
    }

    #[test]
    fn bad_boards_are_errors_naming_the_problem() {
        let cases = [
            ("{", "not a valid board file"),
            ("", "not a valid board file"),
            (&with("format", "2"), "format 2 is not supported"),
            (&with("size_profile", "\"huge\""), "size_profile"),
            (&with("management_interface", "\"eth0;reboot\""), "management_interface"),
            (&with("led_dir", "\"sys/../x\""), "led_dir"),
        ];
        for (text, expected) in cases {
            let err = Board::parse(text, Path::new("test.json")).unwrap_err().to_string();
            assert!(err.contains(expected) && err.starts_with("test.json: "), "{err}");
        }
    }

    /// What a board file could hold when nanoserde's derive read it, kept since (see the
    /// config's test of the same): unknown keys skipped if nanoserde could read their values, a
    /// repeated key's last value, and defaulted fields that still refuse a `null`.
    #[test]
    fn unknown_and_repeated_keys_and_defaults_read_as_nanoserde_read_them() {
        let (_, text) = EMBEDDED[0];
        let parse = |text: &str| Board::parse(text, Path::new("t.json"));
        let around = |first: &str, last: &str| format!("{{{first}{}{last}}}", &text[1..text.rfind('}').unwrap()]);
        // The default board with the value of its first key `field` (one line or a bracketed
        // block) replaced.
        let with = |field: &str, value: &str| {
            let start = text.find(&format!("\"{field}\": ")).unwrap() + field.len() + 4;
            let mut depth = 0;
            let len = text[start..]
                .find(|c| {
                    depth += i32::from(c == '[' || c == '{') - i32::from(c == ']' || c == '}');
                    depth == 0 && (c == ',' || c == '\n' || c == ']' || c == '}')
                })
                .unwrap();
            let len = if text[start..].starts_with(['[', '{']) { len + 1 } else { len };
            format!("{}{value}{}", &text[..start], &text[start + len..])
        };
        for text in [
            around(r#""comment": {"by": ["me", 1.5, null]}, "format": 2,"#, r#", "x": -1"#),
            with("services", r#"[{"name": "A", "process": "a", "why": "\u0041"}]"#),
            with("backup", r#"{"dir": "/b", "limit_bytes": 1, "note": true}"#),
            with("monitor_interfaces", r#"[{"label": "a", "device": "eth1", "speed": 10}]"#),
            with("upgrade", r#"{"method": "ab-block", "devices": ["/a", "/b"], "boot_flag": "/f", "note": 3}"#),
            with("leds", r#"[{"interface": "eth0", "led": "l", "color": "green"}]"#),
            with("roles", r#"[{"user": "support", "role": "support", "since": 2020}]"#),
        ] {
            assert!(parse(&text).is_ok(), "{text}: {:?}", parse(&text));
        }
        let last = r#", "description": "last", "watchdog_interval_s": 9"#;
        assert!(parse(&around(r#""description": 5,"#, last)).is_err(), "every value of a repeated key is read");
        let board = parse(&around(r#""description": "first","#, last)).unwrap();
        assert_eq!((board.description.as_str(), board.watchdog_interval_s), ("last", 9));
        let board =
            parse(&with("leds", r#"[{"interface": "eth0", "led": "l"}], "description": "d", "leds": []"#)).unwrap();
        assert!(board.leds.is_empty());
        for text in [
            around(r#""x": "\ud800","#, ""),
            around("", r#", "x": [18446744073709551616]"#),
            around("", r#", "x": {"y": 2e+1}"#),
            around("", r#", "description": null"#),
            with("format", "4294967297"),
            with("format", "1.0"),
            with("leds", "null"),
            with("services", "null"),
            with("paths", "null"),
            with("dir_prefixes", "null"),
            with("slots", "null"),
            with("keys", "null"),
            with("backup", r#"{"dir": "/b"}"#),
            with("backup", r#"{"dir": "/b", "limit_bytes": -1}"#),
            with("monitor_interfaces", r#"[{"label": "a"}]"#),
            with("services", r#"[{"name": "A", "process": "a", "argv": null}]"#),
            with("services", r#"[{"name": "A", "process": "a", "reloads": null}]"#),
            with("services", r#"[{"process": "a"}]"#),
            with("roles", r#"[{"user": "support"}]"#),
            with("upgrade", r#"{"devices": ["/a", "/b"], "boot_flag": "/f"}"#),
            around("", r#", "capture_filter_max_insns": 1.5"#),
            around("", r#", "watchdog_interval_s": "5""#),
        ] {
            assert!(parse(&text).is_err(), "{text}");
        }
        let without_roles = |text: &str| {
            let start = text.find("\"roles\"").unwrap();
            format!("{}{}", &text[..start], &text[start + text[start..].find("],\n").unwrap() + 3..])
        };
        assert!(parse(&without_roles(text)).unwrap_err().to_string().contains("not a valid board file"));
    }

    /// The default board with its (multi-line) services array replaced.
    fn with_services(services: &str) -> Result<Board> {
        let (_, text) = EMBEDDED[0];
        let start = text.find("\"services\": [").unwrap();
        let end = start + text[start..].find("],\n").unwrap() + 1;
        Board::parse(&format!("{}\"services\": {services}{}", &text[..start], &text[end..]), Path::new("test.json"))
    }

    #[test]
    fn a_pidfile_service_names_its_program_by_process_or_argv0() {
        let board = with_services(
            r#"[{"name": "A", "pidfile": "/run/a.pid", "process": "a-daemon"},
                {"name": "B", "pidfile": "/run/b.pid", "argv": ["/usr/lib/x/b-daemon", "-f"]},
                {"name": "C", "pidfile": "/run/c.pid"},
                {"name": "D", "process": "d"},
                {"name": "E", "socket": "/run/e.sock"}]"#,
        )
        .unwrap();
        let probes: Vec<&ServiceProbe> = board.services.iter().map(|s| &s.probe).collect();
        let pidfile = |path: &str, program: Option<&str>| ServiceProbe::Pidfile {
            path: PathBuf::from(path),
            program: program.map(str::to_string),
        };
        assert_eq!(probes[0], &pidfile("/run/a.pid", Some("a-daemon")));
        assert_eq!(probes[1], &pidfile("/run/b.pid", Some("b-daemon")));
        assert_eq!(probes[2], &pidfile("/run/c.pid", None));
        assert_eq!(probes[3], &ServiceProbe::Process("d".into()));
        assert_eq!(probes[4], &ServiceProbe::Socket(PathBuf::from("/run/e.sock")));
    }

    #[test]
    fn bad_services_are_refused() {
        for (services, expected) in [
            (r#"[{"name": "A"}]"#, "must name one of"),
            (r#"[{"name": "A", "socket": "/s", "process": "a"}]"#, "must name one of"),
            (r#"[{"name": "A", "pidfile": "/a.pid", "socket": "/s"}]"#, "must name one of"),
            (r#"[{"name": "A", "pidfile": "/a.pid", "process": "x/y"}]"#, "services.process"),
            (r#"[{"name": "A", "process": ""}]"#, "services.process"),
            (r#"[{"name": "A", "pidfile": "run/a.pid"}]"#, "services.pidfile"),
            (r#"[{"name": "A", "socket": "/run/../a"}]"#, "services.socket"),
        ] {
            let err = with_services(services).unwrap_err().to_string();
            assert!(err.contains(expected), "{services}: {err}");
        }
    }

    #[test]
    fn upgrade_settings_name_two_slots_in_one_directory_or_two_devices() {
        let board = Board::embedded_default().unwrap();
        let Some(UpgradeSettings { method: UpgradeMethod::AbDir { slots, current }, .. }) = board.upgrade else {
            panic!("generic-x86 upgrades by ab-dir")
        };
        assert_eq!(current.parent(), slots[0].parent());
        let arm = Board::load("rugged-arm-4port", &RootDir::new("/")).unwrap();
        assert!(matches!(arm.upgrade.unwrap().method, UpgradeMethod::AbBlock { .. }));
        let key = "ab".repeat(32);
        for (upgrade, expected) in [
            (r#"{"method": "ab-dir", "slots": ["/s/a", "/t/b"], "current": "/s/current"}"#, "one directory"),
            (r#"{"method": "ab-dir", "slots": ["/s/a", "/s/a"], "current": "/s/current"}"#, "two different"),
            (r#"{"method": "ab-dir", "slots": ["/s/a", "/s/b"], "current": "/s/a"}"#, "one directory"),
            (r#"{"method": "ab-block", "devices": ["/dev/x"], "boot_flag": "/boot/f"}"#, "upgrade.devices"),
            (r#"{"method": "ab-block", "devices": ["/dev/x", "/dev/y"]}"#, "upgrade.boot_flag"),
            (r#"{"method": "rsync"}"#, "upgrade.method"),
            (r#"{"method": "ab-block", "devices": ["/a", "/b"], "boot_flag": "/f", "health_grace_s": 3601}"#, "health_grace_s"),
            (r#"{"method": "ab-block", "devices": ["/a", "/b"], "boot_flag": "/f", "keys": ["00"]}"#, "upgrade.keys"),
        ] {
            let (_, text) = EMBEDDED[0];
            let text = format!("{},\n\"upgrade\": {upgrade}\n}}", &text[..text.find(",\n  \"upgrade\"").unwrap()]);
            let err = Board::parse(&text, Path::new("t.json")).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains(expected), "{upgrade}: {err}");
        }
        assert_eq!(parse_public_key(&key), Some([0xab; 32]));
        assert_eq!(parse_public_key(&format!("{key}\n")), Some([0xab; 32]));
        assert_eq!(parse_public_key("zz"), None);
    }

    #[test]
    fn unknown_board_names_are_usage_errors() {
        let err = Board::load("no-such-board", &RootDir::new("/nonexistent")).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(Board::load("../etc", &RootDir::new("/")).is_err());
    }
}
