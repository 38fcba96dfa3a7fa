//! Asking the operator: the one [`Prompter`] every question goes through (confirmations, the
//! setup wizard, passwords), and its terminal side, [`Terminal`].
//!
//! An action's questions are all asked before it takes a lock or changes anything (see
//! `crate::action::exec`). Where the action runs in this process, the prompter is the terminal;
//! where the daemon runs it, the prompter sends each question over the socket and the caller's
//! own process asks it on its terminal with a [`Terminal`] — the same code either way.
//!
//! The terminal is read without a buffer of its own beyond one line ([`LineReader`]), so that
//! the restricted shell, the wizard and the password prompts read one stream in order. On a
//! terminal a hidden answer is read without echo; off one (a pipe, a serial script) a shown
//! answer is echoed after the question and a hidden one gets a newline, so that what is printed
//! reads like the session it was. Needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use crate::password::Secret;
use crate::sys::term;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

/// The longest line read from the terminal, in bytes (longer ones are discarded whole).
pub const MAX_LINE: usize = 4096;

/// How many unusable answers to one question end it (a script piping wrong answers must not
/// loop forever).
pub const MAX_ATTEMPTS: usize = 5;

/// Whether the answer is shown as it is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// Shown (a confirmation, a setting).
    Shown,
    /// Not shown (a password).
    Hidden,
}

/// What asking gave.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// A line, without its newline.
    Line(String),
    /// A line that cannot be an answer (control characters, not UTF-8, too long), and why.
    Invalid(String),
    /// The input ended (or nothing was typed within the idle limit).
    End,
    /// The operator pressed Ctrl-C, or the request was cancelled.
    Interrupted,
}

/// Where questions go and answers come from.
pub trait Prompter {
    /// Shows `question` (as is: it carries its own `: ` or `[Y/n] `) and reads one answer.
    fn ask(&mut self, question: &str, echo: Echo) -> Result<Reply>;
    /// Tells the operator what is wrong with an answer (on their standard error).
    fn complain(&mut self, message: &str);
}

/// A `[Y/n]` question: Enter, `y` or `yes` is yes; `n` or `no` is no; anything else is asked
/// again (up to [`MAX_ATTEMPTS`] times). The end of input, Ctrl-C and too many tries are no.
pub fn confirm(prompter: &mut dyn Prompter, question: &str) -> Result<bool> {
    for _ in 0..MAX_ATTEMPTS {
        match prompter.ask(question, Echo::Shown)? {
            Reply::Line(line) => match line.trim().to_ascii_lowercase().as_str() {
                "" | "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                other => prompter.complain(&format!("answer y or n, not '{}'", crate::validate::printable(other))),
            },
            Reply::Invalid(why) => prompter.complain(&why),
            Reply::End | Reply::Interrupted => return Ok(false),
        }
    }
    Ok(false)
}

/// A password, without echo. The end of input is a usage error; Ctrl-C cancels.
pub fn password(prompter: &mut dyn Prompter, question: &str) -> Result<Secret> {
    match prompter.ask(question, Echo::Hidden)? {
        Reply::Line(line) => Ok(Secret::new(line)),
        Reply::Invalid(why) => Err(Error::Usage(format!("the password cannot be used: {why}"))),
        Reply::End => Err(Error::Usage("no password given (end of input)".to_string())),
        Reply::Interrupted => Err(Error::Cancelled("nothing was changed".to_string())),
    }
}

/// `New password:` and `Retype new password:`; the two must match.
pub fn new_password_twice(prompter: &mut dyn Prompter) -> Result<Secret> {
    let first = password(prompter, "New password: ")?;
    let second = password(prompter, "Retype new password: ")?;
    if first != second {
        return Err(Error::Usage("the two passwords do not match; nothing was changed".to_string()));
    }
    Ok(first)
}

/// For work that nobody can be asked about (the daemon's own schedule): every question ends as
/// if the input had ended.
pub struct NoOne;

impl Prompter for NoOne {
    fn ask(&mut self, _question: &str, _echo: Echo) -> Result<Reply> {
        Ok(Reply::End)
    }
    fn complain(&mut self, message: &str) {
        log::warn!("{message}");
    }
}

/// The operator's terminal (or whatever standard input is): questions on standard output,
/// answers from standard input, complaints on standard error.
pub struct Terminal {
    reader: LineReader<File>,
    tty: bool,
    idle: Duration,
    /// Prefix of complaints (`sensorctl: network reconfigure`).
    speaker: String,
}

impl Terminal {
    /// Standard input (a duplicate of descriptor 0); waiting longer than `idle` for an answer
    /// counts as the end of input.
    pub fn stdin(idle: Duration) -> Result<Terminal> {
        let fd = io::stdin().as_fd().try_clone_to_owned().map_err(|e| Error::io("duplicate", "standard input", e))?;
        let file = File::from(fd);
        let tty = term::is_terminal(&file);
        Ok(Terminal { reader: LineReader::new(file), tty, idle, speaker: "sensorctl".to_string() })
    }

    /// Whether standard input is a terminal.
    pub fn is_tty(&self) -> bool {
        self.tty
    }

    /// The idle limit.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Complaints now start with `sensorctl: <command>:`.
    pub fn speaking_for(&mut self, command: &str) {
        self.speaker = if command.is_empty() { "sensorctl".to_string() } else { format!("sensorctl: {command}") };
    }

    /// The next line, for the restricted shell's commands.
    pub fn next_line(&mut self) -> io::Result<Input> {
        self.reader.next_line(self.idle)
    }

    /// The next key, for the line editor.
    pub fn next_key(&mut self, wait: Duration) -> io::Result<Key> {
        self.reader.next_byte(wait)
    }

    /// Standard input's descriptor (for its termios settings).
    pub fn file(&self) -> &File {
        self.reader.source()
    }
}

fn write_out(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| Error::io("write", "standard output", e))
}

impl Prompter for Terminal {
    fn ask(&mut self, question: &str, echo: Echo) -> Result<Reply> {
        write_out(question)?;
        let input = if self.tty && echo == Echo::Hidden {
            let _quiet = EchoOff::new(self.reader.source())?;
            self.reader.next_line(self.idle)
        } else {
            self.reader.next_line(self.idle)
        };
        let input = input.map_err(|e| Error::io("read", "standard input", e))?;
        let reply = match input {
            Input::Line(bytes) => match check_line(&bytes) {
                Ok(text) => Reply::Line(text.to_string()),
                Err(why) => Reply::Invalid(why),
            },
            Input::TooLong => Reply::Invalid(format!("answer too long (limit {MAX_LINE} bytes)")),
            Input::End | Input::Idle => Reply::End,
            Input::Interrupted => Reply::Interrupted,
        };
        if !self.tty || matches!(reply, Reply::Interrupted) {
            // Nothing echoed the answer (or its line was cut short by Ctrl-C): end the line.
            match (&reply, echo) {
                (Reply::Line(text), Echo::Shown) if !self.tty => write_out(&format!("{}\n", crate::validate::printable(text)))?,
                _ if !question.is_empty() => write_out("\n")?,
                _ => {}
            }
        }
        Ok(reply)
    }

    fn complain(&mut self, message: &str) {
        let line = crate::validate::console_line(&format!("{}: {message}", self.speaker));
        let _ = writeln!(io::stderr(), "{line}");
    }
}

/// Accepts a line only if it is UTF-8 without control characters (tab counts as a blank).
pub fn check_line(bytes: &[u8]) -> std::result::Result<&str, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "input is not valid UTF-8; ignored".to_string())?;
    if let Some(bad) = text.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(format!("control character U+{:04X} in input; ignored", bad as u32));
    }
    Ok(text)
}

/// A line read from the terminal, or why there is none.
#[derive(Debug, PartialEq)]
pub enum Input {
    /// One line, without its newline (and without a trailing carriage return).
    Line(Vec<u8>),
    /// A line over [`MAX_LINE`] bytes, already discarded up to its newline.
    TooLong,
    /// End of input.
    End,
    /// Nothing typed within the idle timeout.
    Idle,
    /// Ctrl-C (a signal caught by `crate::sys::signal::catch_interrupts`) while waiting; what
    /// was typed of the line is dropped.
    Interrupted,
}

/// Reads lines from a raw descriptor with an idle deadline, buffering only up to [`MAX_LINE`].
pub struct LineReader<R> {
    source: R,
    buffer: Vec<u8>,
    discarding: bool,
    ended: bool,
}

impl<R: Read + AsFd> LineReader<R> {
    /// A reader over `source` (unbuffered: the poll must see what has not been read).
    pub fn new(source: R) -> LineReader<R> {
        LineReader { source, buffer: Vec::new(), discarding: false, ended: false }
    }

    /// The descriptor read.
    pub fn source(&self) -> &R {
        &self.source
    }

    /// The next line; waits at most `idle` for each new piece of input.
    pub fn next_line(&mut self, idle: Duration) -> io::Result<Input> {
        loop {
            if let Some(at) = self.buffer.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.discarding) {
                    return Ok(Input::TooLong);
                }
                return Ok(Input::Line(line));
            }
            if self.buffer.len() > MAX_LINE {
                self.buffer.clear();
                self.discarding = true;
            }
            if self.ended {
                if self.buffer.is_empty() && !self.discarding {
                    return Ok(Input::End);
                }
                // A last line without a newline still counts.
                self.buffer.push(b'\n');
                continue;
            }
            if crate::sys::signal::interrupted() {
                // The terminal dropped the line typed so far when it sent the signal.
                self.buffer.clear();
                self.discarding = false;
                return Ok(Input::Interrupted);
            }
            match crate::sys::poll::wait_readable_or_signal(&self.source, idle)? {
                crate::sys::poll::Readiness::TimedOut => return Ok(Input::Idle),
                crate::sys::poll::Readiness::Signal => continue,
                crate::sys::poll::Readiness::Ready => {}
            }
            let mut chunk = [0u8; 1024];
            match self.source.read(&mut chunk) {
                Ok(0) => self.ended = true,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
}

/// One byte from the terminal, or why there is none (for the line editor, which reads keys
/// rather than lines).
#[derive(Debug, PartialEq)]
pub enum Key {
    /// A byte typed.
    Byte(u8),
    /// End of input.
    End,
    /// Nothing within the time given.
    Idle,
    /// A signal interrupted the wait (SIGCONT after Ctrl-Z and `fg`, say).
    Signal,
}

impl<R: Read + AsFd> LineReader<R> {
    /// The next byte: one already read ahead first, else from the descriptor, waiting at most
    /// `wait`.
    pub fn next_byte(&mut self, wait: Duration) -> io::Result<Key> {
        if !self.buffer.is_empty() {
            return Ok(Key::Byte(self.buffer.remove(0)));
        }
        if self.ended {
            return Ok(Key::End);
        }
        match crate::sys::poll::wait_readable_or_signal(&self.source, wait)? {
            crate::sys::poll::Readiness::TimedOut => return Ok(Key::Idle),
            crate::sys::poll::Readiness::Signal => return Ok(Key::Signal),
            crate::sys::poll::Readiness::Ready => {}
        }
        let mut chunk = [0u8; 256];
        match self.source.read(&mut chunk) {
            Ok(0) => {
                self.ended = true;
                Ok(Key::End)
            }
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[1..n]);
                Ok(Key::Byte(chunk[0]))
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Ok(Key::Signal),
            Err(err) => Err(err),
        }
    }
}

/// While alive, the terminal does not echo what is typed (but still echoes the newline).
struct EchoOff {
    file: File,
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new(terminal: &File) -> Result<EchoOff> {
        let file = terminal.try_clone().map_err(|e| Error::io("duplicate", "standard input", e))?;
        let saved = term::attributes(&file).map_err(|e| Error::Sys { call: "tcgetattr(0)", source: e })?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        quiet.local_modes.insert(rustix::termios::LocalModes::ECHONL);
        term::set_attributes(&file, &quiet).map_err(|e| Error::Sys { call: "tcsetattr(0)", source: e })?;
        Ok(EchoOff { file, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Err(err) = term::set_attributes(&self.file, &self.saved) {
            log::warn!("restoring the terminal's echo: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// Answers from a list, as a test's operator.
    struct Scripted(Vec<Reply>, Vec<String>);

    impl Prompter for Scripted {
        fn ask(&mut self, question: &str, _echo: Echo) -> Result<Reply> {
            self.1.push(question.to_string());
            Ok(if self.0.is_empty() { Reply::End } else { self.0.remove(0) })
        }
        fn complain(&mut self, message: &str) {
            self.1.push(format!("! {message}"));
        }
    }

    #[test]
    fn confirm_takes_yes_and_no_asks_again_otherwise_and_ends_as_no() {
        let line = |s: &str| Reply::Line(s.to_string());
        for (replies, expected) in [
            (vec![line("")], true),
            (vec![line(" Y ")], true),
            (vec![line("yes")], true),
            (vec![line("n")], false),
            (vec![line("NO")], false),
            (vec![line("maybe"), line("y")], true),
            (vec![Reply::Invalid("bad".into()), line("n")], false),
            (vec![], false),
            (vec![Reply::Interrupted], false),
            (vec![line("x"), line("x"), line("x"), line("x"), line("x"), line("y")], false),
        ] {
            let mut p = Scripted(replies, Vec::new());
            assert_eq!(confirm(&mut p, "Go? [Y/n] ").unwrap(), expected, "{:?}", p.1);
        }
    }

    #[test]
    fn passwords_must_match_and_ctrl_c_cancels() {
        let line = |s: &str| Reply::Line(s.to_string());
        let mut p = Scripted(vec![line("Aa-1aaaaa"), line("Aa-1aaaaa")], Vec::new());
        assert_eq!(new_password_twice(&mut p).unwrap(), Secret::new("Aa-1aaaaa".into()));
        assert_eq!(p.1, ["New password: ", "Retype new password: "]);
        let mut p = Scripted(vec![line("one"), line("two")], Vec::new());
        assert_eq!(new_password_twice(&mut p).unwrap_err().exit_code(), 2);
        let mut p = Scripted(vec![Reply::Interrupted], Vec::new());
        assert!(matches!(password(&mut p, "x").unwrap_err(), Error::Cancelled(_)));
        let mut p = Scripted(vec![], Vec::new());
        assert_eq!(password(&mut p, "x").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn control_characters_and_bad_utf8_are_rejected() {
        assert!(check_line(b"date\0").is_err());
        assert!(check_line(b"date\x1b[2J").is_err());
        assert!(check_line(b"\x7f").is_err());
        assert!(check_line(b"\xff\xfe").is_err());
        assert_eq!(check_line(b"system\tversion").unwrap(), "system\tversion");
    }

    #[test]
    fn reader_handles_partial_lines_long_lines_crlf_idle_and_end() {
        let (mut writer, reader) = UnixStream::pair().unwrap();
        let mut lines = LineReader::new(reader);
        let wait = Duration::from_secs(5);
        writer.write_all(b"sys").unwrap();
        assert_eq!(lines.next_line(Duration::from_millis(20)).unwrap(), Input::Idle);
        writer.write_all(b"tem\r\n").unwrap();
        assert_eq!(lines.next_line(wait).unwrap(), Input::Line(b"system".to_vec()));
        let feeder = std::thread::spawn(move || {
            writer.write_all(&vec![b'x'; 100_000]).unwrap();
            writer.write_all(b"\nnext\nlast").unwrap();
        });
        assert_eq!(lines.next_line(wait).unwrap(), Input::TooLong);
        assert_eq!(lines.next_line(wait).unwrap(), Input::Line(b"next".to_vec()));
        assert_eq!(lines.next_line(wait).unwrap(), Input::Line(b"last".to_vec()));
        feeder.join().unwrap();
        assert_eq!(lines.next_line(wait).unwrap(), Input::End);
        assert!(lines.buffer.capacity() < MAX_LINE * 4, "the reader must not hold a whole long line");
    }
}
