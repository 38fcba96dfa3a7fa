//! Passwords as values: a [`Secret`] that never shows up in a log, an error or a debug print,
//! and the password policy. (They are asked for through `crate::prompt`.)
//!
//! Needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use nanoserde::{DeJson, DeJsonErr, DeJsonState, SerJson, SerJsonState};
use std::fmt;
use std::str::Chars;

/// The policy's bounds on a new password's length, in characters.
pub const MIN_CHARS: usize = 8;
/// See [`MIN_CHARS`]. SHA-512-crypt's cost grows with the length; 128 is plenty for a passphrase.
pub const MAX_CHARS: usize = 128;

/// A password. Its `Debug` prints `Secret(<redacted>)`, it has no `Display`, and its bytes are
/// overwritten when it is dropped (best effort: copies made by the allocator are not tracked).
/// On the wire (the daemon's JSON) it is a plain string, as it must be to arrive at all.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(text: String) -> Secret {
        Secret(text)
    }

    /// The password, for hashing it. Never format it into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        crate::shacrypt::constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

impl SerJson for Secret {
    fn ser_json(&self, d: usize, s: &mut SerJsonState) {
        self.0.ser_json(d, s);
    }
}

impl DeJson for Secret {
    fn de_json(s: &mut DeJsonState, i: &mut Chars) -> std::result::Result<Secret, DeJsonErr> {
        Ok(Secret(String::de_json(s, i)?))
    }
}

impl crate::wire::Wire for Secret {
    fn put(&self, out: &mut String) {
        crate::wire::put_str(&self.0, out);
    }
    fn take(json: &mut crate::wire::Reader<'_>) -> std::result::Result<Secret, String> {
        json.string().map(Secret)
    }
}

/// The password policy of the newer reference CLI: 8–128 characters, no control characters,
/// and at least one lower-case letter, one upper-case letter, one digit and one symbol (any
/// other character, including a space or a non-ASCII letter). The error names the first rule
/// that failed — and never the password.
pub fn check_policy(password: &Secret) -> Result<()> {
    let text = password.expose();
    let chars = text.chars().count();
    let rule = if chars < MIN_CHARS {
        Some(format!("at least {MIN_CHARS} characters"))
    } else if chars > MAX_CHARS {
        Some(format!("at most {MAX_CHARS} characters"))
    } else if text.chars().any(char::is_control) {
        Some("no control characters".to_string())
    } else if !text.chars().any(|c| c.is_ascii_lowercase()) {
        Some("a lower-case letter (a-z)".to_string())
    } else if !text.chars().any(|c| c.is_ascii_uppercase()) {
        Some("an upper-case letter (A-Z)".to_string())
    } else if !text.chars().any(|c| c.is_ascii_digit()) {
        Some("a digit (0-9)".to_string())
    } else if !text.chars().any(|c| !c.is_ascii_alphanumeric()) {
        Some("a symbol (a character other than a letter or digit)".to_string())
    } else {
        None
    };
    match rule {
        Some(rule) => Err(Error::Usage(format!("password policy: the password needs {rule}; nothing was changed"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_of(password: &str) -> String {
        check_policy(&Secret::new(password.to_string())).unwrap_err().to_string()
    }

    #[test]
    fn the_policy_names_the_rule_that_failed_and_never_the_password() {
        assert!(check_policy(&Secret::new("Good-pass1".into())).is_ok());
        assert!(check_policy(&Secret::new("Zz9 zzzz".into())).is_ok(), "a space is a symbol");
        assert!(check_policy(&Secret::new("Ünïcödé-9X".into())).is_ok());
        for (password, rule) in [
            ("Sh0rt!", "at least 8 characters"),
            (&format!("Aa1!{}", "x".repeat(125)), "at most 128 characters"),
            ("Tab\tPass1!", "no control characters"),
            ("NOLOWER-123", "a lower-case letter"),
            ("noupper-123", "an upper-case letter"),
            ("NoDigits-here", "a digit"),
            ("NoSymbols123", "a symbol"),
        ] {
            let message = rule_of(password);
            assert!(message.contains(rule), "{password}: {message}");
            assert!(!message.contains(password), "{message}");
            assert_eq!(check_policy(&Secret::new(password.to_string())).unwrap_err().exit_code(), 2);
        }
    }

    #[test]
    fn a_secret_never_prints_but_travels_as_a_plain_string() {
        let secret = Secret::new("Hunter2-hunter".into());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let wire = Some(secret.clone()).serialize_json();
        assert_eq!(wire, "\"Hunter2-hunter\"");
        assert_eq!(Option::<Secret>::deserialize_json(&wire).unwrap(), Some(secret));
    }
}
