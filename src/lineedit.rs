//! The restricted shell's line editor: small, in-house, on raw termios, for a VT100/ANSI
//! terminal (a serial console or SSH; there is no terminfo on a recovery image).
//!
//! Keys: Left/Right, Home/End (and Ctrl-A/E), Backspace, Delete, Ctrl-U/K/W (kill to the start,
//! to the end, the word before), Ctrl-L (clear and redraw), Up/Down (and Ctrl-P/N) through the
//! session's history, Tab (complete the word: categories, commands, options, and values the
//! system knows), `?` (list what may come next, with one line each, as network CLIs do),
//! Ctrl-C (drop the line), Ctrl-D on an empty line (end of input). The history lives in memory
//! only — a line may hold a secret typed in the wrong place, so it is never written to disk.
//! A line wider than the terminal scrolls sideways within one row, so nothing wraps on an
//! 80-column serial line. After Ctrl-Z and `fg` the terminal is set up again and the line
//! redrawn. Nothing here runs when standard input is not a terminal or `TERM` is `dumb`: the
//! shell reads plain lines then, and no escape sequence is ever sent.
//!
//! Needs no privileges.
#![forbid(unsafe_code)]

use crate::prompt::{Input, Key, Terminal, MAX_LINE};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Lines kept in the history.
const HISTORY: usize = 100;
/// How long the rest of an escape sequence may take to arrive after its ESC.
const ESCAPE_WAIT: Duration = Duration::from_millis(50);

/// What may complete a word, and what may come next.
pub trait Completer {
    /// The candidates for the word being typed (`partial`) after `words`, with a one-line
    /// description each.
    fn candidates(&self, words: &[String], partial: &str) -> Vec<(String, String)>;
}

/// Whether the editor can run on this terminal: input and output both a terminal (its escape
/// sequences must not land in a file or a pipe standard output was redirected to), and not
/// `TERM=dumb`.
pub fn usable(terminal: &Terminal) -> bool {
    terminal.is_tty()
        && crate::sys::term::is_terminal(std::io::stdout())
        && std::env::var("TERM").map_or(true, |term| term != "dumb")
}

/// The editor: the history of one session.
#[derive(Default)]
pub struct Editor {
    history: Vec<String>,
}

/// The line being edited.
struct Line {
    chars: Vec<char>,
    cursor: usize,
    /// The first character shown (the line scrolls sideways when wider than the terminal).
    offset: usize,
}

impl Editor {
    /// Reads one line, editing it on the terminal, with `prompt` before it.
    pub fn read_line(&mut self, terminal: &mut Terminal, prompt: &str, completer: &dyn Completer) -> io::Result<Input> {
        let saved = crate::sys::term::enter_raw(terminal.file())?;
        let result = self.edit(terminal, prompt, completer);
        let restored = crate::sys::term::restore(terminal.file(), &saved);
        let input = result?;
        restored?;
        Ok(input)
    }

    fn edit(&mut self, terminal: &mut Terminal, prompt: &str, completer: &dyn Completer) -> io::Result<Input> {
        let mut line = Line { chars: Vec::new(), cursor: 0, offset: 0 };
        // Where Up/Down stand in the history: `history.len()` is the line being typed.
        let mut recalled = self.history.len();
        let mut typed = String::new();
        let mut pending_utf8: Vec<u8> = Vec::new();
        let idle = terminal.idle();
        let mut last_key = Instant::now();
        draw(terminal, prompt, &mut line)?;
        loop {
            let key = terminal.next_key(Duration::from_millis(500))?;
            let byte = match key {
                Key::Byte(byte) => byte,
                Key::End => return Ok(Input::End),
                Key::Idle if last_key.elapsed() >= idle => return Ok(Input::Idle),
                Key::Idle => continue,
                Key::Signal => {
                    if crate::sys::signal::continued() {
                        // Back from Ctrl-Z: the shell that resumed us may have reset the terminal.
                        crate::sys::term::enter_raw(terminal.file())?;
                        draw(terminal, prompt, &mut line)?;
                    }
                    continue;
                }
            };
            last_key = Instant::now();
            match byte {
                b'\r' | b'\n' => {
                    line.cursor = line.chars.len();
                    draw(terminal, prompt, &mut line)?;
                    write_all("\r\n")?;
                    let text: String = line.chars.iter().collect();
                    if !text.trim().is_empty() && self.history.last() != Some(&text) {
                        if self.history.len() == HISTORY {
                            self.history.remove(0);
                        }
                        self.history.push(text.clone());
                    }
                    return Ok(Input::Line(text.into_bytes()));
                }
                0x03 => {
                    // Shown after the whole line, as a terminal's own ^C would be.
                    line.cursor = line.chars.len();
                    draw(terminal, prompt, &mut line)?;
                    write_all("^C\r\n")?;
                    return Ok(Input::Interrupted);
                }
                0x04 if line.chars.is_empty() => {
                    write_all("\r\n")?;
                    return Ok(Input::End);
                }
                0x04 => line.delete(),
                0x01 => line.cursor = 0,
                0x05 => line.cursor = line.chars.len(),
                0x02 => line.cursor = line.cursor.saturating_sub(1),
                0x06 => line.cursor = (line.cursor + 1).min(line.chars.len()),
                0x7f | 0x08 => line.backspace(),
                0x15 => {
                    line.chars.drain(..line.cursor);
                    line.cursor = 0;
                }
                0x0b => line.chars.truncate(line.cursor),
                0x17 => line.kill_word(),
                0x0c => write_all("\x1b[H\x1b[2J")?,
                0x10 => self.recall(&mut line, &mut recalled, &mut typed, -1),
                0x0e => self.recall(&mut line, &mut recalled, &mut typed, 1),
                b'\t' => complete(&mut line, completer)?,
                b'?' => {
                    list(&line, completer, false)?;
                }
                0x1b => match escape(terminal)? {
                    Some(Escape::Left) => line.cursor = line.cursor.saturating_sub(1),
                    Some(Escape::Right) => line.cursor = (line.cursor + 1).min(line.chars.len()),
                    Some(Escape::Home) => line.cursor = 0,
                    Some(Escape::End) => line.cursor = line.chars.len(),
                    Some(Escape::Delete) => line.delete(),
                    Some(Escape::Up) => self.recall(&mut line, &mut recalled, &mut typed, -1),
                    Some(Escape::Down) => self.recall(&mut line, &mut recalled, &mut typed, 1),
                    None => {}
                },
                byte if byte >= 0x80 => {
                    // UTF-8: a character is inserted once its last byte has come.
                    pending_utf8.push(byte);
                    match std::str::from_utf8(&pending_utf8) {
                        Ok(text) => {
                            let chars: Vec<char> = text.chars().collect();
                            pending_utf8.clear();
                            for ch in chars {
                                line.insert(ch);
                            }
                        }
                        Err(err) if err.error_len().is_some() || pending_utf8.len() >= 4 => pending_utf8.clear(),
                        Err(_) => {}
                    }
                }
                byte if byte >= 0x20 => line.insert(char::from(byte)),
                // Other control characters are not typed into a command line.
                _ => {}
            }
            draw(terminal, prompt, &mut line)?;
        }
    }

    /// Up (`step` −1) or Down (+1) through the history; the line being typed is kept.
    fn recall(&self, line: &mut Line, recalled: &mut usize, typed: &mut String, step: isize) {
        let target = recalled.checked_add_signed(step).filter(|&t| t <= self.history.len());
        let Some(target) = target else { return };
        if *recalled == self.history.len() {
            *typed = line.chars.iter().collect();
        }
        *recalled = target;
        let text = self.history.get(target).unwrap_or(typed);
        line.chars = text.chars().collect();
        line.cursor = line.chars.len();
    }
}

impl Line {
    fn insert(&mut self, ch: char) {
        if self.chars.len() < MAX_LINE {
            self.chars.insert(self.cursor, ch);
            self.cursor += 1;
        }
    }

    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    /// Ctrl-W: the blanks before the cursor, then the word before them.
    fn kill_word(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && self.chars[start - 1] != ' ' {
            start -= 1;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// The words before the one at the cursor, and that one as typed so far.
    fn words(&self) -> (Vec<String>, String) {
        let before: String = self.chars[..self.cursor].iter().collect();
        let mut words: Vec<String> = before.split(' ').map(str::to_string).collect();
        let partial = words.pop().unwrap_or_default();
        words.retain(|w| !w.is_empty());
        (words, partial)
    }
}

enum Escape {
    Left,
    Right,
    Home,
    End,
    Delete,
    Up,
    Down,
}

/// The rest of an escape sequence: `ESC [ …` (CSI) or `ESC O …` (SS3), as VT100 and xterm send
/// the cursor and editing keys. Anything else is dropped whole.
fn escape(terminal: &mut Terminal) -> io::Result<Option<Escape>> {
    let Key::Byte(kind) = terminal.next_key(ESCAPE_WAIT)? else { return Ok(None) };
    if kind != b'[' && kind != b'O' {
        return Ok(None);
    }
    let mut parameter = Vec::new();
    loop {
        let Key::Byte(byte) = terminal.next_key(ESCAPE_WAIT)? else { return Ok(None) };
        match byte {
            b'0'..=b'9' | b';' => parameter.push(byte),
            b'A' => return Ok(Some(Escape::Up)),
            b'B' => return Ok(Some(Escape::Down)),
            b'C' => return Ok(Some(Escape::Right)),
            b'D' => return Ok(Some(Escape::Left)),
            b'H' => return Ok(Some(Escape::Home)),
            b'F' => return Ok(Some(Escape::End)),
            b'~' => {
                return Ok(match parameter.as_slice() {
                    b"1" | b"7" => Some(Escape::Home),
                    b"4" | b"8" => Some(Escape::End),
                    b"3" => Some(Escape::Delete),
                    _ => None,
                })
            }
            _ => return Ok(None),
        }
    }
}

fn write_all(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Redraws the prompt and the part of the line that fits, the cursor where it belongs.
fn draw(terminal: &Terminal, prompt: &str, line: &mut Line) -> io::Result<()> {
    let columns = usize::from(crate::sys::term::columns(terminal.file()).unwrap_or(80));
    let prompt_width = prompt.chars().count();
    // One column is kept free: writing the last one would wrap on some terminals.
    let room = columns.saturating_sub(prompt_width + 1).max(8);
    if line.cursor < line.offset {
        line.offset = line.cursor;
    } else if line.cursor > line.offset + room {
        line.offset = line.cursor - room;
    }
    let end = (line.offset + room).min(line.chars.len());
    let shown: String = line.chars[line.offset..end].iter().collect();
    let column = prompt_width + line.cursor - line.offset;
    let mut text = format!("\r{prompt}{}\x1b[K\r", crate::validate::system_text(shown.as_bytes()));
    if column > 0 {
        text.push_str(&format!("\x1b[{column}C"));
    }
    write_all(&text)
}

/// Tab: the word at the cursor completed as far as the candidates agree; when that adds
/// nothing and there are several, they are listed.
fn complete(line: &mut Line, completer: &dyn Completer) -> io::Result<()> {
    let (words, partial) = line.words();
    let candidates = completer.candidates(&words, &partial);
    let names: Vec<&str> = candidates.iter().map(|(name, _)| name.as_str()).filter(|n| n.starts_with(&partial)).collect();
    let Some(first) = names.first() else { return Ok(()) };
    let common = names.iter().fold(first.to_string(), |common, name| {
        common.chars().zip(name.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect()
    });
    let addition: Vec<char> = common.chars().skip(partial.chars().count()).collect();
    for ch in &addition {
        line.insert(*ch);
    }
    if names.len() == 1 {
        line.insert(' ');
    } else if addition.is_empty() {
        list(line, completer, true)?;
    }
    Ok(())
}

/// `?` (and Tab with a choice): what may come next after the line up to the cursor, each
/// with its one line, below the line; the line is drawn again after it.
fn list(line: &Line, completer: &dyn Completer, matching_only: bool) -> io::Result<()> {
    let (words, partial) = line.words();
    let candidates: Vec<(String, String)> = completer
        .candidates(&words, &partial)
        .into_iter()
        .filter(|(name, _)| !matching_only || name.starts_with(&partial))
        .collect();
    let mut text = String::from("\r\n");
    if candidates.is_empty() {
        text.push_str("  (nothing more: Enter runs the line)\r\n");
    }
    let width = candidates.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
    for (name, description) in &candidates {
        let name = crate::validate::system_text(name.as_bytes());
        text.push_str(&format!("  {name:<width$}  {}\r\n", crate::validate::system_text(description.as_bytes())));
    }
    write_all(&text)
}
