//! JSON decoding through nanoserde, behind a syntax check of our own.
//!
//! nanoserde 0.2 assumes complete input. A document that ends inside the value of a key the
//! type does not know panics (`unimplemented!("Eof")`: with `panic = "abort"`, the whole
//! process dies), one that ends inside such a value's array or object loops forever, and a NUL
//! byte (its end-of-input marker) does the same anywhere. Fuzzing found all three (issue 12):
//! one line on the daemon socket could kill or hang the daemon. So every document from outside
//! goes through [`check`] first: [`decode`] hands nanoserde only text that is one well-formed
//! JSON value (RFC 8259; a trailing comma before `]` or `}` is tolerated, as nanoserde itself
//! writes one in places) nested at most [`MAX_DEPTH`] deep, and [`crate::wire::decode`] (daemon
//! requests, board and config files) makes the same check before its own reading.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use nanoserde::DeJson;

/// Deepest nesting of arrays and objects accepted; our documents need 4.
pub const MAX_DEPTH: usize = 32;

/// Decodes `text` as a `T` once [`check`] has accepted it; the error is one line.
pub fn decode<T: DeJson>(text: &str) -> Result<T, String> {
    check(text)?;
    T::deserialize_json(text).map_err(|e| e.to_string().replace('\n', " "))
}

/// Whether `text` is exactly one well-formed JSON value, surrounded by whitespace at most.
pub fn check(text: &str) -> Result<(), String> {
    let mut s = Scanner { b: text.as_bytes(), i: 0 };
    let mut stack: Vec<u8> = Vec::new(); // b'[' or b'{' for each open container
    'value: loop {
        // Here a value must start.
        s.ws();
        match s.peek() {
            Some(open @ (b'[' | b'{')) => {
                s.i += 1;
                if stack.len() == MAX_DEPTH {
                    return Err(s.err(&format!("nested deeper than {MAX_DEPTH}")));
                }
                s.ws();
                let close = if open == b'[' { b']' } else { b'}' };
                if s.peek() == Some(close) {
                    s.i += 1;
                } else {
                    stack.push(open);
                    if open == b'{' {
                        s.key()?;
                    }
                    continue 'value;
                }
            }
            Some(b'"') => s.string()?,
            Some(b'-' | b'0'..=b'9') => s.number()?,
            Some(b't') => s.literal("true")?,
            Some(b'f') => s.literal("false")?,
            Some(b'n') => s.literal("null")?,
            _ => return Err(s.err("expected a value")),
        }
        // A value ended: close containers until one continues with a comma.
        loop {
            s.ws();
            let Some(&open) = stack.last() else {
                return if s.i == s.b.len() { Ok(()) } else { Err(s.err("text after the value")) };
            };
            let close = if open == b'[' { b']' } else { b'}' };
            match s.peek() {
                Some(b',') => {
                    s.i += 1;
                    s.ws();
                    if s.peek() == Some(close) {
                        // A trailing comma.
                        s.i += 1;
                        stack.pop();
                        continue;
                    }
                    if open == b'{' {
                        s.key()?;
                    }
                    continue 'value;
                }
                Some(c) if c == close => {
                    s.i += 1;
                    stack.pop();
                }
                _ => return Err(s.err(if open == b'[' { "expected ',' or ']'" } else { "expected ',' or '}'" })),
            }
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, what: &str) -> String {
        if self.i >= self.b.len() {
            format!("not valid JSON: {what} at the end of the text")
        } else {
            format!("not valid JSON: {what} at byte {}", self.i)
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<(), String> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a key"));
        }
        self.string()?;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.err("expected ':'"));
        }
        self.i += 1;
        Ok(())
    }

    fn string(&mut self) -> Result<(), String> {
        self.i += 1; // the opening quote
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.err("bad \\u escape"));
                            }
                            self.i += 5;
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
                Some(c) if c < 0x20 => return Err(self.err("control character in a string")),
                Some(_) => self.i += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("bad number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("bad number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("bad number"));
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected a value"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::protocol::Followup;
    use crate::daemon::Request;
    use nanoserde::DeJson;
    use std::path::Path;

    #[test]
    fn well_formed_documents_pass() {
        for text in [
            "1",
            " {\"a\": [1, -2.5e+3, true, false, null, \"x\\n\\u00e9\\\"\"], \"b\": {}} \n",
            "[]",
            "{\"a\":1,}",
            "[1,2,]",
            "\"\u{85}é\"",
        ] {
            assert_eq!(check(text), Ok(()), "{text:?}");
        }
    }

    #[test]
    fn broken_documents_fail() {
        for text in [
            "", " ", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "[1", "[1,", "{\"a\" 1}", "{1:2}", "[1 2]",
            "\"abc", "\"a\u{1}b\"", "\"\\x\"", "\"\\u12\"", "01", "-", "1.", "1e", "tru", "nul",
            "{}{}", "{} x", "\0", "{\"a\":\0}", "[,]", "{,}", "// comment\n1",
        ] {
            assert!(check(text).is_err(), "{text:?}");
        }
        assert!(check(&"[".repeat(MAX_DEPTH + 1)).is_err());
        assert_eq!(check(&format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH))), Ok(()));
    }

    /// The inputs the fuzzer found (issue 12): nanoserde panicked (`unimplemented!("Eof")`) on
    /// the first kind and never returned on the others. Each must now be a plain error.
    #[test]
    fn truncated_unknown_fields_and_nul_bytes_are_errors_not_panics_or_hangs() {
        for text in [
            "{\"id\":1,\"x\":",
            "{\"id\":1,\"x\":[",
            "{\"id\":1,\"x\":{\"y\":",
            "{\"id\":0,\"action\":{\0\0\0\"Version\u{91}\u{de}:false}:false}}}",
            "{\"id\":7,\"action\":{\"Version\":{\"json\":false}}}\0",
        ] {
            assert!(crate::wire::decode::<Request>(text).is_err(), "{text:?}");
            assert!(decode::<Followup>(text).is_err(), "{text:?}");
        }
        assert!(crate::wire::decode::<Request>("{\"id\":7,\"action\":{\"Version\":{\"json\":false}}}").is_ok());
    }

    /// Why the check exists: nanoserde itself still panics here (if this starts to fail, a
    /// newer nanoserde fixed it, and the check may be revisited).
    #[test]
    fn nanoserde_alone_panics_on_a_truncated_unknown_field() {
        let outcome = std::panic::catch_unwind(|| Followup::deserialize_json("{\"Cancel\":{\"id\":1,\"x\":"));
        assert!(outcome.is_err());
    }

    /// The fuzzers' own inputs, as found (tests/fixtures/fuzz/), through the product's parsers.
    #[test]
    fn the_fuzzers_crash_inputs_are_refused() {
        let fixture = |name: &str| {
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(name)).unwrap()
        };
        let origin = Path::new("/fuzz");
        let line = fixture("daemon_request-hang");
        assert!(crate::wire::decode::<Request>(&String::from_utf8_lossy(&line)).is_err());
        assert!(crate::config::Config::parse(fixture("config_json-hang"), origin).is_err());
        let board = String::from_utf8(fixture("board_json-hang")).unwrap();
        assert!(crate::board::Board::parse(&board, origin).is_err());
        let manifest = fixture("backup_format-panic");
        let head = manifest.split(|&b| b == b'\n').next().unwrap();
        assert!(decode::<crate::backup::format::Head>(&String::from_utf8_lossy(head)).is_err());
    }
}
