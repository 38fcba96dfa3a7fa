//! Passwords as values: a [`Secret`] that never shows up in a log, an error or a debug print;
//! the password policy; and reading a password from the terminal without echo (termios) or
//! from a pipe (scripts, tests, `--password-stdin`).
//!
//! Needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::sys::{signal, term};
use nanoserde::{DeJson, DeJsonErr, DeJsonState, SerJson, SerJsonState};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::str::Chars;

/// The longest line accepted when reading a password (more is refused, not cut).
pub const MAX_INPUT: usize = 4096;
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

/// Where answers come from: standard input, read a byte at a time so that one prompt never
/// swallows the next answer; or, for an action the daemon runs, the caller's terminal at the
/// other end of the socket.
pub struct Input {
    file: Option<File>,
    tty: bool,
    remote: Option<crate::daemon::RemoteAsker>,
}

impl Input {
    /// The caller's terminal: the socket's far end when the daemon runs the action, else stdin.
    pub fn for_caller(ctx: &crate::context::Context) -> Result<Input> {
        match &ctx.asker {
            Some(asker) => Ok(Input { file: None, tty: false, remote: Some(asker.clone()) }),
            None => Input::stdin(),
        }
    }

    /// Standard input (a duplicate of descriptor 0).
    pub fn stdin() -> Result<Input> {
        let fd = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("duplicate", "standard input", e))?;
        let file = File::from(fd);
        let tty = term::is_terminal(&file);
        Ok(Input { file: Some(file), tty, remote: None })
    }

    /// One answer line, as [`Input::read_secret`] reads it but for any question: with `secret`
    /// the terminal does not echo it. `Ok(None)` at end of input. `prompted`: a prompt was
    /// printed before, so (as `read_secret` does) a newline follows a secret read off a pipe.
    pub fn read_answer(&mut self, secret: bool, prompted: bool, out: &mut dyn Write) -> Result<Option<Vec<u8>>> {
        let Some(file) = &self.file else {
            return Err(Error::Usage("no terminal to answer on".to_string()));
        };
        let line = if self.tty && secret {
            let _interrupts = signal::catch_interrupts().map_err(|e| Error::Sys { call: "sigaction(SIGINT)", source: e })?;
            let _echo_off = EchoOff::new(file)?;
            read_line(file)
        } else {
            read_line(file)
        };
        if secret && prompted && !self.tty {
            let _ = out.write_all(b"\n");
        }
        match line {
            Ok(line) => Ok(Some(line)),
            Err(Error::Usage(_)) if !self.tty || secret => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Prints `prompt` (if any) to `out` and reads one line without echo (on a terminal).
    /// A newline is written after the answer, as the terminal does not echo the Enter key
    /// otherwise.
    pub fn read_secret(&mut self, prompt: Option<&str>, out: &mut dyn Write) -> Result<Secret> {
        if let Some(asker) = &self.remote {
            // The caller's CLI shows the prompt and reads the answer without echo.
            let answer = asker
                .ask(prompt.unwrap_or(""), true)
                .map_err(|e| Error::io("ask", "the caller's terminal", e))?
                .ok_or_else(|| Error::Usage("no password given (end of input)".to_string()))?;
            return String::from_utf8(answer)
                .map(Secret::new)
                .map_err(|_| Error::Usage("the password is not valid UTF-8 text".to_string()));
        }
        let Some(file) = &self.file else {
            return Err(Error::Usage("no terminal to answer on".to_string()));
        };
        if let Some(prompt) = prompt {
            out.write_all(prompt.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Error::io("write", "standard output", e))?;
        }
        let line = if self.tty {
            let _interrupts = signal::catch_interrupts().map_err(|e| Error::Sys { call: "sigaction(SIGINT)", source: e })?;
            let _echo_off = EchoOff::new(file)?;
            read_line(file)
        } else {
            read_line(file)
        };
        if prompt.is_some() && !self.tty {
            let _ = out.write_all(b"\n");
        }
        let line = line?;
        String::from_utf8(line)
            .map(Secret::new)
            .map_err(|e| {
                let mut bytes = e.into_bytes();
                bytes.fill(0);
                Error::Usage("the password is not valid UTF-8 text".to_string())
            })
    }

    /// `New password:` and `Retype new password:`; the two must match.
    pub fn read_new_twice(&mut self, out: &mut dyn Write) -> Result<Secret> {
        let first = self.read_secret(Some("New password: "), out)?;
        let second = self.read_secret(Some("Retype new password: "), out)?;
        if first != second {
            return Err(Error::Usage("the two passwords do not match; nothing was changed".to_string()));
        }
        Ok(first)
    }
}

/// One line (without `\n` or `\r\n`); end of input ends it too, but not before any byte.
fn read_line(mut file: &File) -> Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match file.read(&mut byte) {
            Ok(0) if line.is_empty() => return Err(Error::Usage("no password given (end of input)".to_string())),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                if line.len() == MAX_INPUT {
                    line.fill(0);
                    return Err(Error::Usage(format!("the password is longer than {MAX_INPUT} bytes")));
                }
                line.push(byte[0]);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                if signal::interrupted() {
                    line.fill(0);
                    return Err(Error::Problem("interrupted; nothing was changed".to_string()));
                }
            }
            Err(err) => return Err(Error::io("read", "standard input", err)),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// While alive, the terminal does not echo what is typed (but still echoes the newline).
struct EchoOff<'a> {
    file: &'a File,
    saved: rustix::termios::Termios,
}

impl<'a> EchoOff<'a> {
    fn new(file: &'a File) -> Result<EchoOff<'a>> {
        let saved = term::attributes(file).map_err(|e| Error::Sys { call: "tcgetattr(0)", source: e })?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        quiet.local_modes.insert(rustix::termios::LocalModes::ECHONL);
        term::set_attributes(file, &quiet).map_err(|e| Error::Sys { call: "tcsetattr(0)", source: e })?;
        Ok(EchoOff { file, saved })
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        if let Err(err) = term::set_attributes(self.file, &self.saved) {
            log::warn!("restoring the terminal's echo: {err}");
        }
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
