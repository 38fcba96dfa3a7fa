//! The account-file parsers: /etc/shadow (src/shadow.rs: `hash_of`, `with_new_hash`),
//! /etc/passwd (src/role.rs `user_for_uid`, src/users.rs `passwd_has`), /etc/group
//! (src/daemon.rs `gid_in`), and the `$6$` hash field a shadow line holds (src/shacrypt.rs).
//! These files may come from an image build or a restore; a password reset rewrites shadow and
//! must keep every other byte.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::validate::UserName;
use std::path::Path;

const USERS: [&str; 4] = ["support", "cyberx", "root", "admin"];

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else { return };
    let user = USERS[usize::from(which % 4)];
    let text = String::from_utf8_lossy(file);

    // shadow: a reset changes only the user's hash and last-change day.
    let hash = "$6$salt$abc";
    if let Ok(out) = sensorctl::shadow::with_new_hash(file, user, hash, 20_000, Path::new("/fuzz/shadow")) {
        assert_eq!(sensorctl::shadow::hash_of(&out, user).as_deref(), Some(hash));
        let old_lines = file.split(|&b| b == b'\n').count();
        assert_eq!(out.split(|&b| b == b'\n').count(), old_lines, "a reset must not add or drop lines");
    }
    if let Some(stored) = sensorctl::shadow::hash_of(file, user) {
        // The hash field with a small cost: the fuzzer must not spend its time in SHA-512 rounds.
        if !stored.contains("rounds=") {
            let _ = sensorctl::shacrypt::verify(b"password", &stored);
        }
    }
    if stored_is_setting(&text) {
        let _ = sensorctl::shacrypt::crypt(b"pw", &text);
    }

    // passwd and group.
    if let Some(name) = sensorctl::role::user_for_uid(&text, u32::from(which)) {
        assert!(UserName::parse(name.as_str()).is_ok());
    }
    if let Ok(name) = UserName::parse(user) {
        let _ = sensorctl::users::passwd_has(file, &name);
    }
    let _ = sensorctl::daemon::gid_in(&text, "sensorctl");
});

/// A `$6$` setting whose rounds, if named, are at the minimum (1000): cheap enough to run.
fn stored_is_setting(text: &str) -> bool {
    text.starts_with("$6$") && text.len() < 200 && (!text.contains("rounds=") || text.starts_with("$6$rounds=1000$"))
}
