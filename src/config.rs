//! The appliance configuration, `<root>/etc/sensorctl/config.json`: versioned JSON, written by
//! nanoserde's `SerJson` (its text is what tools and tests read: `None` fields left out) and
//! read by [`crate::wire`] as nanoserde's derive read it (unknown keys skipped, so that a file
//! from a newer build still loads; a repeated key's last value counts).
//!
//! A missing file means "all defaults" (a fresh image). A file that exists but cannot be read,
//! is not valid JSON, or carries a version this build does not know is an error naming the
//! file: never a panic, and never silently replaced by defaults, because writing defaults over
//! an appliance's real settings would lose them. Writes go through [`crate::store::replace`].
//!
//! Reading needs read access to the file; saving needs write access to its directory.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::paths::{RootDir, CONFIG_FILE};
use crate::store;
use nanoserde::SerJson;
use std::io;
use std::path::PathBuf;

/// The config format this build reads and writes.
pub const VERSION: u32 = 1;

/// Default idle logout of the restricted shell, in seconds.
pub const DEFAULT_SHELL_IDLE_TIMEOUT_S: u64 = 300;

/// Default number of failed logins from one remote host before it is locked out.
pub const DEFAULT_LOGIN_MAX_FAILED: u32 = 5;
/// The range `login_max_failed` may take.
pub const LOGIN_MAX_FAILED_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
/// Default lockout window, in seconds: failures count within it, and a locked host stays locked
/// for it.
pub const DEFAULT_LOGIN_LOCKOUT_WINDOW_S: u64 = 900;
/// The range `login_lockout_window_s` may take (one second to one day).
pub const LOGIN_LOCKOUT_WINDOW_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;

/// The configuration document.
#[derive(Clone, Debug, PartialEq, SerJson)]
pub struct Config {
    /// Format version; must equal [`VERSION`].
    pub version: u32,
    /// The board to use instead of the embedded default (name or path).
    pub board: Option<String>,
    /// Idle logout of the restricted shell, seconds (default 300).
    pub shell_idle_timeout_s: Option<u64>,
    /// URL `network internet-check` fetches (default: see `internet::DEFAULT_URL`).
    pub internet_check_url: Option<String>,
    /// HTTP proxy for the internet check (`http://host:port`).
    pub internet_check_proxy: Option<String>,
    /// Deadline of the internet check, seconds (default 10).
    pub internet_check_timeout_s: Option<u64>,
    /// NTP servers (IPv4 dotted quads, port 123) the clock is synchronised with, in the order
    /// they were enabled; empty means time sync is off.
    pub ntp_servers: Vec<String>,
    /// Seconds between the daemon's NTP syncs (default 1024, as NTP's default poll; 16-86400).
    pub ntp_poll_interval_s: Option<u64>,
    /// Failed logins from one remote host before `sensorctl auth` locks it out (1-100; default 5).
    pub login_max_failed: Option<u32>,
    /// The failed-login window and lockout time, seconds (1-86400; default 900).
    pub login_lockout_window_s: Option<u64>,
    /// The management network and the interface roles, as `network reconfigure` last wrote them
    /// (absent on a fresh image: `network validate` then has nothing to compare). Checked
    /// field by field where it is used (`crate::netconf::Settings::from_config`).
    pub network: Option<NetworkConfig>,
    /// Where backups are written (under the root), instead of the board's `backup.dir`.
    pub backup_dir: Option<String>,
    /// Outbound bandwidth limits set by `network limit`, applied again when the daemon starts.
    pub bandwidth_limits: Vec<BandwidthLimit>,
    /// Seconds between the daemon's scheduled backups, counted from the last backup's end
    /// (scheduled or not); absent or 0: no scheduled backups.
    pub backup_interval_s: Option<u64>,
}

// How the file is read (see the module doc); a field without a value here is required, or
// `None` if it is an `Option`.
crate::wire::wire_struct! {
    lenient;
    impl Config {
        version,
        board,
        shell_idle_timeout_s,
        internet_check_url,
        internet_check_proxy,
        internet_check_timeout_s,
        ntp_servers = Vec::new(),
        ntp_poll_interval_s,
        login_max_failed,
        login_lockout_window_s,
        network,
        backup_dir,
        bandwidth_limits = Vec::new(),
        backup_interval_s,
    }
}

/// The management network settings and interface roles (`network reconfigure`). Every field
/// has a default so that a damaged section only stops the network commands (which report the
/// field), not every command that reads the config.
#[derive(Clone, Debug, PartialEq, SerJson)]
pub struct NetworkConfig {
    /// The management interface (`eth0`).
    pub interface: String,
    /// Its IPv4 address, dotted quad.
    pub ip: String,
    /// Its subnet mask, dotted quad (`255.255.192.0`).
    pub subnet: String,
    /// The default gateway, inside the subnet.
    pub gateway: String,
    /// DNS servers in resolver order (at most 3, the resolver's limit).
    pub dns: Vec<String>,
    /// Monitor interfaces and their labels; absent means the board's mapping.
    pub monitor_interfaces: Option<Vec<MonitorConfig>>,
    /// Interfaces that receive ERSPAN (GRE-encapsulated mirror) traffic.
    pub erspan_interfaces: Vec<String>,
}

crate::wire::wire_struct! {
    lenient;
    impl NetworkConfig {
        interface = String::new(),
        ip = String::new(),
        subnet = String::new(),
        gateway = String::new(),
        dns = Vec::new(),
        monitor_interfaces,
        erspan_interfaces = Vec::new(),
    }
}

/// One monitor interface of [`NetworkConfig`]: `label=device`.
#[derive(Clone, Debug, PartialEq, SerJson)]
pub struct MonitorConfig {
    /// The label operators see (`local_listener`).
    pub label: String,
    /// The kernel interface (`adiot0`).
    pub device: String,
}

crate::wire::wire_struct! {
    lenient;
    impl MonitorConfig { label, device }
}

/// One interface's outbound bandwidth limit.
#[derive(Clone, Debug, PartialEq, SerJson)]
pub struct BandwidthLimit {
    /// The interface.
    pub interface: String,
    /// The limit as the operator typed it (`30kbit`); validated again when it is applied.
    pub limit: String,
    /// The limit in bytes per second, for readers of the file.
    pub bytes_per_second: u64,
}

crate::wire::wire_struct! {
    lenient;
    impl BandwidthLimit { interface, limit, bytes_per_second }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            version: VERSION,
            board: None,
            shell_idle_timeout_s: None,
            internet_check_url: None,
            internet_check_proxy: None,
            internet_check_timeout_s: None,
            ntp_servers: Vec::new(),
            ntp_poll_interval_s: None,
            login_max_failed: None,
            login_lockout_window_s: None,
            network: None,
            backup_dir: None,
            bandwidth_limits: Vec::new(),
            backup_interval_s: None,
        }
    }
}

impl Config {
    /// The config file's path under `root`.
    pub fn path(root: &RootDir) -> PathBuf {
        root.resolve(CONFIG_FILE)
    }

    /// Loads the config under `root`; a missing file gives the defaults.
    pub fn load(root: &RootDir) -> Result<Config> {
        let path = Config::path(root);
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(err) => return Err(Error::io("read config", &path, err)),
        };
        Config::parse(text, &path)
    }

    /// Parses and checks the bytes of a config file; `path` names it in errors.
    pub fn parse(text: Vec<u8>, path: &std::path::Path) -> Result<Config> {
        let bad = |why: String| Error::BadFile { path: path.to_path_buf(), why };
        let text = String::from_utf8(text).map_err(|_| bad("not UTF-8 text".to_string()))?;
        let config = crate::wire::decode::<Config>(&text).map_err(|e| bad(format!("not a valid config file: {e}")))?;
        if config.version != VERSION {
            return Err(bad(format!(
                "config version {} is not supported (this build reads version {VERSION})",
                config.version
            )));
        }
        if config.shell_idle_timeout_s == Some(0) {
            return Err(bad("shell_idle_timeout_s: must be at least 1".to_string()));
        }
        for server in &config.ntp_servers {
            crate::validate::Ipv4::parse(server).map_err(|e| bad(format!("ntp_servers: {e}")))?;
        }
        if config.login_max_failed.is_some_and(|n| !LOGIN_MAX_FAILED_RANGE.contains(&n)) {
            return Err(bad("login_max_failed: must be 1-100".to_string()));
        }
        if config.login_lockout_window_s.is_some_and(|s| !LOGIN_LOCKOUT_WINDOW_RANGE.contains(&s)) {
            return Err(bad("login_lockout_window_s: must be 1-86400".to_string()));
        }
        Ok(config)
    }

    /// Writes the config atomically and durably, keeping the file's mode.
    pub fn save(&self, root: &RootDir) -> Result<()> {
        let path = Config::path(root);
        if let Some(dir) = path.parent() {
            store::create_dir_all(dir, 0o755)?;
        }
        let mut text = self.serialize_json();
        text.push('\n');
        store::replace(&path, text.as_bytes(), store::Mode::Preserve)
    }

    /// How often the daemon backs up the data paths; `None` when scheduled backups are off.
    pub fn backup_interval(&self) -> Option<std::time::Duration> {
        self.backup_interval_s.filter(|&s| s > 0).map(std::time::Duration::from_secs)
    }

    /// How often the daemon syncs the clock.
    pub fn ntp_poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ntp_poll_interval_s.unwrap_or(1024).clamp(16, 86_400))
    }

    /// Failed logins from one remote host before it is locked out.
    pub fn login_max_failed(&self) -> u32 {
        self.login_max_failed.unwrap_or(DEFAULT_LOGIN_MAX_FAILED)
    }

    /// The failed-login window, which is also how long a locked host stays locked.
    pub fn login_lockout_window(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.login_lockout_window_s.unwrap_or(DEFAULT_LOGIN_LOCKOUT_WINDOW_S))
    }

    /// The shell's idle logout.
    pub fn shell_idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shell_idle_timeout_s.unwrap_or(DEFAULT_SHELL_IDLE_TIMEOUT_S))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn missing_file_gives_defaults_and_save_round_trips() {
        let dir = TempDir::new("config");
        let root = RootDir::new(dir.path());
        assert_eq!(Config::load(&root).unwrap(), Config::default());
        let config = Config {
            board: Some("rugged-arm-4port".into()),
            shell_idle_timeout_s: Some(60),
            ntp_servers: vec!["192.0.2.10".into(), "127.0.0.1".into()],
            bandwidth_limits: vec![BandwidthLimit { interface: "eth0".into(), limit: "30kbit".into(), bytes_per_second: 3750 }],
            backup_interval_s: Some(86_400),
            ..Config::default()
        };
        config.save(&root).unwrap();
        assert_eq!(Config::load(&root).unwrap(), config);
        assert_eq!(config.backup_interval(), Some(std::time::Duration::from_secs(86_400)));
        let config = Config {
            network: Some(NetworkConfig {
                interface: "eth0".into(),
                ip: "10.0.0.5".into(),
                subnet: "255.255.255.0".into(),
                gateway: "10.0.0.1".into(),
                dns: vec!["10.0.0.53".into()],
                monitor_interfaces: Some(vec![MonitorConfig { label: "span_1".into(), device: "eth1".into() }]),
                erspan_interfaces: vec![],
            }),
            backup_dir: Some("/data/b".into()),
            ..Config::default()
        };
        config.save(&root).unwrap();
        assert_eq!(Config::load(&root).unwrap(), config);
    }

    #[test]
    fn scheduled_backups_are_off_when_the_interval_is_absent_or_zero() {
        assert_eq!(Config::default().backup_interval(), None);
        let config = crate::wire::decode::<Config>(r#"{"version": 1, "backup_interval_s": 0}"#).unwrap();
        assert_eq!(config.backup_interval(), None);
        let config = crate::wire::decode::<Config>(r#"{"version": 1, "backup_interval_s": 2}"#).unwrap();
        assert_eq!(config.backup_interval(), Some(std::time::Duration::from_secs(2)));
    }

    #[test]
    fn network_section_fields_have_defaults() {
        let text = r#"{"version": 1, "network": {"interface": "eth0", "ip": "10.0.0.5", "subnet": "255.255.255.0", "gateway": "10.0.0.1"}}"#;
        let config = crate::wire::decode::<Config>(text).unwrap();
        let network = config.network.unwrap();
        assert!(network.dns.is_empty() && network.erspan_interfaces.is_empty());
        assert_eq!(network.monitor_interfaces, None, "absent: the board's mapping");
        // A damaged section still loads: the network commands report it, the others run.
        let config = crate::wire::decode::<Config>(r#"{"version": 1, "network": {"interface": "eth0"}}"#).unwrap();
        assert_eq!(config.network.unwrap().ip, "");
    }

    /// What the file accepted and refused when nanoserde's derive read it, kept since: other
    /// tools and older or newer builds write these files, so unknown keys are skipped (their
    /// values must still be what nanoserde could read: strings that decode, integers in the
    /// 64-bit range, an exponent without `+`), a repeated key's last value counts (every one must
    /// be valid), and a field nanoserde defaulted still refuses a `null`.
    #[test]
    fn unknown_and_repeated_keys_and_defaults_read_as_nanoserde_read_them() {
        let parse = |text: &str| Config::parse(text.as_bytes().to_vec(), std::path::Path::new("t.json"));
        for text in [
            r#"{"version": 1, "unknown": 1}"#,
            r#"{"unknown": {"y": [1, -2, "a", null, true, {}, []]}, "version": 1}"#,
            r#"{"version": 1, "x": 1.5e-3, "y": -0.5, "z": 1E5, "w": 1e400, "v": -9223372036854775808}"#,
            r#"{"version": 1, "x": "\u0041\ud83d\ude00\/", "x": 18446744073709551615}"#,
            r#"{"version": 1, "ntp_servers": ["10.0.0.1",], "board": null,}"#,
            r#"{"version": 1, "network": {"interface": "eth0", "extra": [1]}, "bandwidth_limits": [{"interface": "eth0", "limit": "1kbit", "bytes_per_second": 125, "note": ""}]}"#,
            r#"{"vers\u0069on": 1}"#,
        ] {
            assert!(parse(text).is_ok(), "{text}: {:?}", parse(text));
        }
        let config = parse(r#"{"version": 1, "board": "a", "board": "b", "network": {"ip": "1", "ip": "2"}}"#).unwrap();
        assert_eq!((config.board.as_deref(), config.network.unwrap().ip.as_str()), (Some("b"), "2"));
        let empty = NetworkConfig {
            interface: String::new(),
            ip: String::new(),
            subnet: String::new(),
            gateway: String::new(),
            dns: vec![],
            monitor_interfaces: None,
            erspan_interfaces: vec![],
        };
        assert_eq!(parse(r#"{"version": 1, "network": {}}"#).unwrap().network, Some(empty));
        for text in [
            r#"{"version": 1, "x": "\ud800"}"#,
            r#"{"version": 1, "x": "\udc00"}"#,
            r#"{"version": 1, "x": 18446744073709551616}"#,
            r#"{"version": 1, "x": -9223372036854775809}"#,
            r#"{"version": 1, "x": [1e+3]}"#,
            r#"{"version": 1, "x": {"y": 1E+3}}"#,
            r#"{"version": 1, "board": 2, "board": "a"}"#,
            r#"{"version": 1, "board": "a", "board": 2}"#,
            r#"{"version": 1, "ntp_servers": null}"#,
            r#"{"version": 1, "bandwidth_limits": null}"#,
            r#"{"version": 1, "network": {"dns": null}}"#,
            r#"{"version": 1, "network": {"interface": null}}"#,
            r#"{"version": 1, "network": {"monitor_interfaces": [{"label": "a"}]}}"#,
            r#"{"version": 1, "bandwidth_limits": [{"interface": "eth0", "limit": "1kbit"}]}"#,
            r#"{"version": 1, "login_max_failed": 4294967296}"#,
            r#"{"version": 4294967297}"#,
            r#"{"version": 1.0}"#,
            r#"{"version": "1"}"#,
            r#"{"version": null}"#,
            r#"{"version": 1, "shell_idle_timeout_s": -1}"#,
            r#"{"version": 1, "shell_idle_timeout_s": 1.5}"#,
            r#"{"version": 1, "board": ["a"]}"#,
            r#"[{"version": 1}]"#,
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with("t.json: "), "{text}: {err}");
        }
    }

    #[test]
    fn broken_or_unknown_version_files_are_errors_and_are_left_alone() {
        let dir = TempDir::new("config-bad");
        let root = RootDir::new(dir.path());
        let path = Config::path(&root);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        for (text, expected) in [
            (&b"{\"version\": 1,"[..], "not a valid config file"),
            (b"", "not a valid config file"),
            (b"{\"version\": 2}", "config version 2 is not supported"),
            (b"{\"board\": \"x\"}", "not a valid config file"),
            (b"\xff\xfe", "not UTF-8"),
            (b"{\"version\": 1, \"shell_idle_timeout_s\": 0}", "at least 1"),
            (b"{\"version\": 1, \"ntp_servers\": [\"10.0.0.1\", \"010.0.0.2\"]}", "ntp_servers: invalid IPv4 address '010.0.0.2'"),
            (b"{\"version\": 1, \"ntp_servers\": \"10.0.0.1\"}", "not a valid config file"),
            (b"{\"version\": 1, \"login_max_failed\": 0}", "login_max_failed: must be 1-100"),
            (b"{\"version\": 1, \"login_max_failed\": 101}", "login_max_failed: must be 1-100"),
            (b"{\"version\": 1, \"login_lockout_window_s\": 0}", "login_lockout_window_s"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::load(&root).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
            assert_eq!(err.exit_code(), 1);
            assert_eq!(std::fs::read(&path).unwrap(), text, "a broken config must not be rewritten");
        }
    }
}
