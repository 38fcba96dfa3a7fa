//! The appliance configuration, `<root>/etc/sensorctl/config.json`: versioned JSON (nanoserde).
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
use nanoserde::{DeJson, SerJson};
use std::io;
use std::path::PathBuf;

/// The config format this build reads and writes.
pub const VERSION: u32 = 1;

/// Default idle logout of the restricted shell, in seconds.
pub const DEFAULT_SHELL_IDLE_TIMEOUT_S: u64 = 300;

/// The configuration document.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct Config {
    /// Format version; must equal [`VERSION`].
    pub version: u32,
    /// The board to use instead of the embedded default (name or path).
    #[nserde(default)]
    pub board: Option<String>,
    /// Idle logout of the restricted shell, seconds (default 300).
    #[nserde(default)]
    pub shell_idle_timeout_s: Option<u64>,
    /// URL `network internet-check` fetches (default: see `internet::DEFAULT_URL`).
    #[nserde(default)]
    pub internet_check_url: Option<String>,
    /// HTTP proxy for the internet check (`http://host:port`).
    #[nserde(default)]
    pub internet_check_proxy: Option<String>,
    /// Deadline of the internet check, seconds (default 10).
    #[nserde(default)]
    pub internet_check_timeout_s: Option<u64>,
    /// Outbound bandwidth limits set by `network limit`, applied again when the daemon starts.
    #[nserde(default)]
    pub bandwidth_limits: Vec<BandwidthLimit>,
}

/// One interface's outbound bandwidth limit.
#[derive(Clone, Debug, PartialEq, DeJson, SerJson)]
pub struct BandwidthLimit {
    /// The interface.
    pub interface: String,
    /// The limit as the operator typed it (`30kbit`); validated again when it is applied.
    pub limit: String,
    /// The limit in bytes per second, for readers of the file.
    pub bytes_per_second: u64,
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
            bandwidth_limits: Vec::new(),
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
        let bad = |why: String| Error::BadFile { path: path.clone(), why };
        let text = String::from_utf8(text).map_err(|_| bad("not UTF-8 text".to_string()))?;
        let config = Config::deserialize_json(&text).map_err(|e| bad(format!("not a valid config file: {e}")))?;
        if config.version != VERSION {
            return Err(bad(format!(
                "config version {} is not supported (this build reads version {VERSION})",
                config.version
            )));
        }
        if config.shell_idle_timeout_s == Some(0) {
            return Err(bad("shell_idle_timeout_s: must be at least 1".to_string()));
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
            bandwidth_limits: vec![BandwidthLimit { interface: "eth0".into(), limit: "30kbit".into(), bytes_per_second: 3750 }],
            ..Config::default()
        };
        config.save(&root).unwrap();
        assert_eq!(Config::load(&root).unwrap(), config);
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
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::load(&root).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
            assert_eq!(err.exit_code(), 1);
            assert_eq!(std::fs::read(&path).unwrap(), text, "a broken config must not be rewritten");
        }
    }
}
