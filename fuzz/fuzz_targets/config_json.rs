//! `<root>/etc/sensorctl/config.json` (src/config.rs): a file a restore or an operator may
//! have written. Accepted configs must survive save → load unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nanoserde::SerJson;
use sensorctl::config::Config;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/config.json");
    if let Ok(config) = Config::parse(data.to_vec(), path) {
        let text = config.serialize_json();
        let again = Config::parse(text.into_bytes(), path).expect("a loaded config must load again after save");
        assert_eq!(again, config);
        let _ = (config.ntp_poll_interval(), config.login_max_failed(), config.login_lockout_window(), config.shell_idle_timeout());
    }
});
