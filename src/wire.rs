//! The daemon's request on the wire: an [`Action`](crate::action::Action) (and the `Request`
//! around it) as JSON, read back into the same validated types, without nanoserde's derived
//! decoder.
//!
//! The format is the one nanoserde's derive wrote, so that a request is still readable and
//! other clients can write one: a struct is an object of its fields, an enum variant an object
//! with one key, the variant's name, holding the object of its fields; `None` is `null` (and a
//! missing `Option` field is `None`), a `Vec` an array, a validated type the text it was parsed
//! from (or its number). An unknown field or variant, a field given twice, a missing one, or a
//! value that fails its type's check makes the whole request an error, with the field's name.
//!
//! Why not the derive: its decoder of `Action` alone was 48.8 KB of x86_64 code (every field's
//! key matching and every type's decoder inlined into one function, for each variant). Here
//! the per-field code is one call ([`Fields::take`]) and the reading is shared ([`Reader`]),
//! declared once by [`wire_struct!`] and [`wire_enum!`] next to the types.
//!
//! The board and config files are read by the same code, as structs declared `lenient` (see
//! `wire_struct!`): nanoserde's derive read them before, and other tools and other builds
//! write them, so they keep its reading. An unknown key is skipped, a key given twice is read
//! each time and its last value counts, and what nanoserde's tokenizer refused anywhere in the
//! document (a string that does not decode, an integer outside 64 bits, a `+` in an exponent)
//! is still refused. A lenient struct's field may name the value it takes when it is left out
//! (`name: Type = value`), as `#[nserde(default)]` did; a `null` is still no value for it.
//!
//! Input is checked first with [`crate::json::check`] (one well-formed JSON value, bounded
//! depth), so the reader can trust the document's structure; it still checks every token's
//! kind. Pure; needs no privileges.
#![forbid(unsafe_code)]

/// The most keys an object may have.
pub const MAX_FIELDS: usize = 64;

/// A value that travels on the daemon's wire.
pub trait Wire: Sized {
    /// Appends this value as one JSON value.
    fn put(&self, out: &mut String);
    /// Reads this value from the next JSON value, with its type's checks.
    fn take(json: &mut Reader<'_>) -> Result<Self, String>;
    /// The value of a field the sender left out: none (an error), except for options.
    fn absent() -> Option<Self> {
        None
    }
}

/// Writes `value` as one line of JSON (no newline in it: strings escape theirs).
pub fn encode<T: Wire>(value: &T) -> String {
    let mut out = String::new();
    value.put(&mut out);
    out
}

/// Reads a whole document as a `T`: the syntax check, then the typed read; the error is one
/// line.
pub fn decode<T: Wire>(text: &str) -> Result<T, String> {
    crate::json::check(text)?;
    let mut json = Reader { text, at: 0 };
    T::take(&mut json)
}

/// A position in a checked JSON document.
pub struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&mut self) -> Option<u8> {
        // Separators carry nothing once the structure is checked: skipped with the blanks.
        while let Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b':') = self.text.as_bytes().get(self.at) {
            self.at += 1;
        }
        self.text.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    fn word(&mut self, word: &str) -> bool {
        self.peek();
        let found = self.text[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// Takes a `null` if one is next.
    pub fn null(&mut self) -> bool {
        self.word("null")
    }

    /// `true` or `false`.
    pub fn boolean(&mut self) -> Result<bool, String> {
        if self.word("true") {
            Ok(true)
        } else if self.word("false") {
            Ok(false)
        } else {
            Err("expected true or false".to_string())
        }
    }

    /// A whole number from 0 to `u64::MAX`.
    pub fn number(&mut self) -> Result<u64, String> {
        self.peek();
        let digits = self.text[self.at..].bytes().take_while(u8::is_ascii_digit).count();
        let end = self.at + digits;
        // A fraction or exponent makes it another number, not this one with a tail.
        if digits == 0 || matches!(self.text.as_bytes().get(end), Some(b'.' | b'e' | b'E')) {
            return Err("expected a whole number".to_string());
        }
        let value = self.text[self.at..end].parse().map_err(|_| "number out of range".to_string())?;
        self.at = end;
        Ok(value)
    }

    /// A string, its escapes decoded.
    pub fn string(&mut self) -> Result<String, String> {
        self.expect(b'"', "a string")?;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.at..];
            let plain = rest.find(['"', '\\']).ok_or("unterminated string")?;
            out.push_str(&rest[..plain]);
            self.at += plain + 1;
            if rest.as_bytes()[plain] == b'"' {
                return Ok(out);
            }
            let escape = self.text.as_bytes().get(self.at).copied().ok_or("unterminated string")?;
            self.at += 1;
            out.push(match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let high = self.hex4()?;
                    let code = if (0xD800..0xDC00).contains(&high) {
                        if !self.text[self.at..].starts_with("\\u") {
                            return Err("a lone surrogate in a string".to_string());
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err("a lone surrogate in a string".to_string());
                        }
                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        high
                    };
                    char::from_u32(code).ok_or("a lone surrogate in a string")?
                }
                _ => return Err("a bad escape in a string".to_string()),
            });
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.text.get(self.at..self.at + 4).ok_or("a short \\u escape")?;
        let value = u32::from_str_radix(digits, 16).map_err(|_| "a bad \\u escape".to_string())?;
        self.at += 4;
        Ok(value)
    }

    /// The items of an array, each read by `item`.
    pub fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T, String>) -> Result<Vec<T>, String> {
        self.expect(b'[', "an array")?;
        let mut items = Vec::new();
        while self.peek() != Some(b']') {
            items.push(item(self)?);
        }
        self.at += 1;
        Ok(items)
    }

    /// Steps over the next value, whatever it is (the document is checked: brackets pair up
    /// and strings end). `tokens`: also refuses what nanoserde's tokenizer refused, for a
    /// lenient object, whose unknown keys' values are never read otherwise.
    fn skip_value(&mut self, tokens: bool) -> Result<(), String> {
        let mut depth = 0usize;
        loop {
            match self.peek().ok_or("expected a value")? {
                b'"' if tokens => {
                    self.string()?;
                }
                b'-' | b'0'..=b'9' if tokens => {
                    let rest = &self.text[self.at..];
                    let len = rest.bytes().take_while(|b| b"+-.eE0123456789".contains(b)).count();
                    let number = &rest[..len];
                    // nanoserde reads an integer as a u64 (an i64 when negative) and takes only
                    // `-` after an exponent's `e`.
                    let refused = if number.contains(['.', 'e', 'E']) {
                        number.contains('+')
                    } else if number.starts_with('-') {
                        number.parse::<i64>().is_err()
                    } else {
                        number.parse::<u64>().is_err()
                    };
                    if refused {
                        return Err(format!("{number}: out of range, or a + in its exponent"));
                    }
                    self.at += len;
                }
                b'"' => {
                    // Stepped over, not decoded: a bad escape is found, with the field's
                    // name, when the field is read.
                    let bytes = self.text.as_bytes();
                    let mut at = self.at + 1;
                    while *bytes.get(at).ok_or("unterminated string")? != b'"' {
                        at += if bytes[at] == b'\\' { 2 } else { 1 };
                    }
                    self.at = at + 1;
                }
                b'[' | b'{' => {
                    depth += 1;
                    self.at += 1;
                    continue;
                }
                b']' | b'}' => {
                    depth = depth.checked_sub(1).ok_or("expected a value")?;
                    self.at += 1;
                }
                _ => {
                    let rest = &self.text.as_bytes()[self.at..];
                    let len = rest.iter().position(|b| b",]} \t\r\n".contains(b)).unwrap_or(rest.len());
                    self.at += len;
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// The fields of an object, to be taken by name; a key given twice is an error.
    pub fn object(&mut self) -> Result<Fields<'a>, String> {
        self.fields(false)
    }

    /// The fields of an object as nanoserde's derive read them (see the module doc): a key may
    /// come twice, and unknown ones are skipped.
    pub fn lenient_object(&mut self) -> Result<Fields<'a>, String> {
        self.fields(true)
    }

    fn fields(&mut self, lenient: bool) -> Result<Fields<'a>, String> {
        self.expect(b'{', "an object")?;
        let mut entries: Vec<(String, usize)> = Vec::new();
        while self.peek() != Some(b'}') {
            // Ours have at most a dozen; the bound keeps the check for repeats cheap on a
            // hostile line of thousands of keys.
            if entries.len() == MAX_FIELDS {
                return Err(format!("more than {MAX_FIELDS} fields"));
            }
            let key = self.string()?;
            if !lenient && entries.iter().any(|(seen, _)| *seen == key) {
                return Err(format!("{key}: given twice"));
            }
            self.peek();
            let at = self.at;
            self.skip_value(lenient).map_err(|err| format!("{key}: {err}"))?;
            entries.push((key, at));
        }
        self.at += 1;
        Ok(Fields { text: self.text, entries, lenient })
    }

    /// An enum variant: `{"Name": body}`, its name and a reader at its body.
    pub fn variant(&mut self) -> Result<(String, Reader<'a>), String> {
        let fields = self.object()?;
        match fields.entries.as_slice() {
            [(name, at)] => Ok((name.clone(), Reader { text: self.text, at: *at })),
            _ => Err("expected an object with one key, the variant".to_string()),
        }
    }
}

/// An object's fields, by name.
pub struct Fields<'a> {
    text: &'a str,
    entries: Vec<(String, usize)>,
    lenient: bool,
}

impl<'a> Fields<'a> {
    /// Reads field `name` as a `T` (a missing one is `T::absent()`); an error names the field.
    #[inline(never)]
    pub fn take<T: Wire>(&mut self, name: &str) -> Result<T, String> {
        match self.next(name) {
            Some(mut json) => T::take(&mut json).map_err(|err| named(name, err)),
            None => absent(name),
        }
    }

    /// Reads field `name` of a lenient object as a `T`, `None` when it is left out: a key given
    /// more than once is read each time, in order, and the last value counts (nanoserde's
    /// reading). Not a default: the macro's call site says what a missing field is.
    #[inline(never)]
    pub fn take_last<T: Wire>(&mut self, name: &str) -> Result<Option<T>, String> {
        let mut value = None;
        while let Some(mut json) = self.next(name) {
            value = Some(T::take(&mut json).map_err(|err| named(name, err))?);
        }
        Ok(value)
    }

    /// A reader at the first field named `name`, which is taken out (the others keep their
    /// order: the next one given twice comes next). Not generic, so that each type's `take`
    /// is only its own reading.
    #[inline(never)]
    fn next(&mut self, name: &str) -> Option<Reader<'a>> {
        let found = self.entries.iter().position(|(key, _)| key == name)?;
        let (_, at) = self.entries.remove(found);
        Some(Reader { text: self.text, at })
    }

    /// Every field was taken: any other is unknown, and an error (in a lenient object, skipped).
    pub fn done(self) -> Result<(), String> {
        match self.entries.first() {
            Some((key, _)) if !self.lenient => Err(format!("{key}: unknown field")),
            _ => Ok(()),
        }
    }
}

/// The value of field `name` left out: `T::absent()`, else an error naming it.
pub fn absent<T: Wire>(name: &str) -> Result<T, String> {
    T::absent().ok_or_else(|| missing(name))
}

#[inline(never)]
fn missing(name: &str) -> String {
    format!("{name}: missing")
}

#[inline(never)]
fn named(name: &str, err: String) -> String {
    format!("{name}: {err}")
}

/// An error of variant `variant`'s body, said after its name (none: the variant is unknown).
pub fn in_variant(variant: &str, err: String) -> String {
    if err.is_empty() {
        format!("unknown variant {variant:?}")
    } else if let Some(body) = err.strip_prefix(": ") {
        format!("{variant}: {body}")
    } else {
        format!("{variant}.{err}")
    }
}

/// Appends `text` as a JSON string.
pub fn put_str(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[(c as usize) >> 4]));
                out.push(char::from(b"0123456789abcdef"[(c as usize) & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Wire for bool {
    fn put(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
    fn take(json: &mut Reader<'_>) -> std::result::Result<Self, String> {
        json.boolean()
    }
}

impl Wire for u64 {
    fn put(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
    fn take(json: &mut Reader<'_>) -> std::result::Result<Self, String> {
        json.number()
    }
}

impl Wire for u32 {
    fn put(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
    fn take(json: &mut Reader<'_>) -> std::result::Result<Self, String> {
        let value = json.number()?;
        u32::try_from(value).map_err(|_| format!("{value} is over {}", u32::MAX))
    }
}

impl Wire for String {
    fn put(&self, out: &mut String) {
        put_str(self, out);
    }
    fn take(json: &mut Reader<'_>) -> std::result::Result<Self, String> {
        json.string()
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, out: &mut String) {
        match self {
            Some(value) => value.put(out),
            None => out.push_str("null"),
        }
    }
    fn take(json: &mut Reader<'_>) -> std::result::Result<Self, String> {
        if json.null() {
            Ok(None)
        } else {
            T::take(json).map(Some)
        }
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn put(&self, out: &mut String) {
        out.push('[');
        for (at, item) in self.iter().enumerate() {
            if at > 0 {
                out.push(',');
            }
            item.put(out);
        }
        out.push(']');
    }
    fn take(json: &mut Reader<'_>) -> std::result::Result<Self, String> {
        json.array(T::take)
    }
}

/// Declares a struct with named fields and its [`Wire`] form: an object of its fields. With
/// `lenient;` first, the object is read as nanoserde read it (see the module doc), for the files
/// it used to read; a field of a lenient struct written `name: Type = value` takes `value` when
/// it is left out. `lenient; impl Name { field, other = value, … }` gives a struct declared
/// elsewhere that form (every field named once: the struct literal it builds checks that), for
/// one whose other derives cannot read a struct declared through a macro (nanoserde's).
macro_rules! wire_struct {
    (lenient; impl $name:ident { $($field:ident $(= $default:expr)?),* $(,)? }) => {
        $crate::wire::wire_struct!(@impl lenient_object, take_last; $name { $($field $(= $default)?),* });
    };
    (lenient; $($rest:tt)*) => {
        $crate::wire::wire_struct!(@struct lenient_object, take_last; $($rest)*);
    };
    (@field take, $fields:ident, $field:ident) => {
        $fields.take(stringify!($field))?
    };
    (@field take, $fields:ident, $field:ident, $default:expr) => {
        compile_error!("a field's default is for lenient structs")
    };
    (@field take_last, $fields:ident, $field:ident) => {
        match $fields.take_last(stringify!($field))? {
            Some(value) => value,
            None => $crate::wire::absent(stringify!($field))?,
        }
    };
    (@field take_last, $fields:ident, $field:ident, $default:expr) => {
        match $fields.take_last(stringify!($field))? {
            Some(value) => value,
            None => $default,
        }
    };
    (@struct $object:ident, $take:ident;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $ty:ty $(= $default:expr)?),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty,)*
        }

        $crate::wire::wire_struct!(@impl $object, $take; $name { $($field $(= $default)?),* });
    };
    (@impl $object:ident, $take:ident; $name:ident { $($field:ident $(= $default:expr)?),* }) => {
        impl $crate::wire::Wire for $name {
            fn put(&self, out: &mut String) {
                out.push('{');
                let mut _first = true;
                $(
                    if !_first {
                        out.push(',');
                    }
                    _first = false;
                    out.push_str(concat!("\"", stringify!($field), "\":"));
                    $crate::wire::Wire::put(&self.$field, out);
                )*
                out.push('}');
            }
            fn take(json: &mut $crate::wire::Reader<'_>) -> std::result::Result<Self, String> {
                let mut _fields = json.$object()?;
                let value = $name {
                    $($field: $crate::wire::wire_struct!(@field $take, _fields, $field $(, $default)?),)*
                };
                _fields.done()?;
                Ok(value)
            }
        }
    };
    ($($rest:tt)*) => {
        $crate::wire::wire_struct!(@struct object, take; $($rest)*);
    };
}
pub(crate) use wire_struct;

/// The [`Wire`] form of a struct declared elsewhere (for one that also derives nanoserde,
/// whose derive cannot read a struct declared through [`wire_struct!`]): an object of the
/// fields listed, which must be all of them (reading builds the struct from the list).
macro_rules! wire_fields {
    ($name:ident { $($field:ident),* $(,)? }) => {
        $crate::wire::wire_struct!(@impl object, take; $name { $($field),* });
    };
}
pub(crate) use wire_fields;

/// Declares an enum whose variants have named fields (`{}` for none) and its [`Wire`] form:
/// `{"Variant":{fields}}`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident {
                    $($(#[$field_meta:meta])* $field:ident: $ty:ty),* $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant {
                    $($(#[$field_meta])* $field: $ty,)*
                },
            )*
        }

        impl $crate::wire::Wire for $name {
            fn put(&self, out: &mut String) {
                match self {
                    $(
                        $name::$variant { $($field),* } => {
                            out.push_str(concat!("{\"", stringify!($variant), "\":{"));
                            let mut _first = true;
                            $(
                                if !_first {
                                    out.push(',');
                                }
                                _first = false;
                                out.push_str(concat!("\"", stringify!($field), "\":"));
                                $crate::wire::Wire::put($field, out);
                            )*
                            out.push_str("}}");
                        }
                    )*
                }
            }
            fn take(json: &mut $crate::wire::Reader<'_>) -> std::result::Result<Self, String> {
                let (variant, mut body) = json.variant()?;
                // Every error of the body is said once, after the variant's name.
                let value = (|| {
                    // The body's own errors are said after a colon, its fields' after a dot.
                    let mut _fields = body.object().map_err(|err| format!(": {err}"))?;
                    let value = match variant.as_str() {
                        $(
                            stringify!($variant) => $name::$variant {
                                $($field: _fields.take(stringify!($field))?,)*
                            },
                        )*
                        _ => return Err(String::new()),
                    };
                    _fields.done()?;
                    Ok(value)
                })();
                value.map_err(|err| $crate::wire::in_variant(&variant, err))
            }
        }
    };
}
pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::*;

    wire_struct! {
        #[derive(Debug, PartialEq)]
        struct Sample {
            name: String,
            count: u64,
            small: Option<u32>,
            flag: bool,
            maybe: Option<String>,
            list: Vec<u64>,
        }
    }

    wire_enum! {
        #[derive(Debug, PartialEq)]
        enum Choice {
            Empty {},
            Full { inner: Sample, other: Option<Vec<String>> },
        }
    }

    #[derive(Debug, PartialEq, nanoserde::DeJson)]
    struct Elsewhere {
        first: String,
        second: Option<u64>,
    }
    wire_fields!(Elsewhere { first, second });

    #[test]
    fn a_struct_declared_elsewhere_travels_by_its_listed_fields() {
        let value = Elsewhere { first: "x".into(), second: Some(2) };
        assert_eq!(encode(&value), r#"{"first":"x","second":2}"#);
        assert_eq!(decode::<Elsewhere>(r#"{"second":2,"first":"x"}"#), Ok(value));
        assert_eq!(decode::<Elsewhere>(r#"{"first":"x","third":1}"#), Err("third: unknown field".to_string()));
    }

    wire_struct! {
        lenient;
        #[derive(Debug, PartialEq)]
        struct Loose {
            name: String,
            list: Vec<u64> = vec![9],
            maybe: Option<u32>,
        }
    }

    fn sample() -> Sample {
        Sample { name: "a \"q\" \\ é\n\u{1}\u{1F600}".into(), count: u64::MAX, small: Some(u32::MAX), flag: true, maybe: None, list: vec![0, 7] }
    }

    #[test]
    fn values_come_back_as_they_went_and_the_text_is_one_line_of_json() {
        for value in [
            Choice::Empty {},
            Choice::Full { inner: sample(), other: None },
            Choice::Full { inner: sample(), other: Some(vec!["x".into(), String::new()]) },
        ] {
            let text = encode(&value);
            assert!(!text.contains('\n'), "{text}");
            assert_eq!(crate::json::check(&text), Ok(()), "{text}");
            assert_eq!(decode::<Choice>(&text), Ok(value), "{text}");
        }
        assert_eq!(encode(&Choice::Empty {}), r#"{"Empty":{}}"#);
    }

    #[test]
    fn other_writers_spacing_order_and_escapes_are_read() {
        let text = r#" { "Full" : { "other" : [ "\u0041\ud83d\ude00\/" ] ,
            "inner": {"list": [], "flag": false, "count": 3, "name": "n"} } } "#;
        let Choice::Full { inner, other } = decode::<Choice>(text).unwrap() else { panic!("{text}") };
        assert_eq!(other, Some(vec!["A\u{1F600}/".to_string()]));
        assert_eq!(inner, Sample { name: "n".into(), count: 3, small: None, flag: false, maybe: None, list: vec![] });
    }

    #[test]
    fn anything_but_exactly_the_declared_shape_is_an_error_naming_where() {
        let inner = r#"{"name":"n","count":1,"flag":true,"list":[]}"#;
        for (text, error) in [
            (r#"{"Bogus":{}}"#.to_string(), "unknown variant \"Bogus\""),
            (r#"{"Empty":{"x":1}}"#.to_string(), "Empty.x: unknown field"),
            (format!("{{\"Empty\":{{{}}}}}", (0..=MAX_FIELDS).map(|n| format!("\"k{n}\":0")).collect::<Vec<_>>().join(",")), "Empty: more than 64 fields"),
            (r#"{"Empty":{},"Full":{}}"#.to_string(), "expected an object with one key, the variant"),
            (r#"{"Empty":[]}"#.to_string(), "Empty: expected an object"),
            (r#"{"Full":{}}"#.to_string(), "Full.inner: missing"),
            (format!(r#"{{"Full":{{"inner":{inner},"inner":{inner}}}}}"#), "Full: inner: given twice"),
            (r#"{"Full":{"inner":{"name":"n","count":-1,"flag":true,"list":[]}}}"#.to_string(), "Full.inner: count: expected a whole number"),
            (r#"{"Full":{"inner":{"name":"n","count":1.5,"flag":true,"list":[]}}}"#.to_string(), "Full.inner: count: expected a whole number"),
            (r#"{"Full":{"inner":{"name":"n","count":18446744073709551616,"flag":true,"list":[]}}}"#.to_string(), "Full.inner: count: number out of range"),
            (r#"{"Full":{"inner":{"name":"n","count":1,"small":4294967296,"flag":true,"list":[]}}}"#.to_string(), "Full.inner: small: 4294967296 is over 4294967295"),
            (r#"{"Full":{"inner":{"name":1,"count":1,"flag":true,"list":[]}}}"#.to_string(), "Full.inner: name: expected a string"),
            (r#"{"Full":{"inner":{"name":"\ud800","count":1,"flag":true,"list":[]}}}"#.to_string(), "Full.inner: name: a lone surrogate in a string"),
            (r#"{"Full":{"inner":{"name":"n","count":1,"flag":"yes","list":[]}}}"#.to_string(), "Full.inner: flag: expected true or false"),
            (format!(r#"{{"Full":{{"inner":{inner},"other":"x"}}}}"#), "Full.other: expected an array"),
            (r#"{"Full":{"inner":{"name":"n","count":1,"flag":true,"list":[]}"#.to_string(), ""),
        ] {
            let got = decode::<Choice>(&text).unwrap_err();
            assert!(got.contains(error), "{text}: {got}");
        }
    }

    #[test]
    fn a_lenient_struct_skips_unknown_keys_takes_a_repeated_keys_last_value_and_its_defaults() {
        let text = r#"{"name": "a", "x": {"y": [1.5e-3, -2, null, "\u0041"]}, "name": "b", "z": 1E-400,}"#;
        assert_eq!(decode::<Loose>(text), Ok(Loose { name: "b".into(), list: vec![9], maybe: None }));
        let text = r#"{"maybe": 4294967295, "list": [], "name": ""}"#;
        assert_eq!(decode::<Loose>(text), Ok(Loose { name: String::new(), list: vec![], maybe: Some(u32::MAX) }));
        for (text, error) in [
            (r#"{"name": 1, "name": "b"}"#, "name: expected a string"),
            (r#"{"name": "a", "list": null}"#, "list: expected an array"),
            (r#"{"list": []}"#, "name: missing"),
            (r#"{"name": "a", "maybe": 4294967296}"#, "maybe: 4294967296 is over 4294967295"),
            (r#"{"name": "a", "x": "\udc00"}"#, "x: a lone surrogate in a string"),
            (r#"{"name": "a", "x": [18446744073709551616]}"#, "x: 18446744073709551616: out of range"),
            (r#"{"name": "a", "x": -9223372036854775809}"#, "x: -9223372036854775809: out of range"),
            (r#"{"name": "a", "x": {"y": 1e+2}}"#, "x: 1e+2: out of range, or a + in its exponent"),
            (r#"[]"#, "expected an object"),
        ] {
            let got = decode::<Loose>(text).unwrap_err();
            assert!(got.contains(error), "{text}: {got}");
        }
        // The strict reading is untouched: the same shapes stay errors for a daemon request.
        assert!(decode::<Sample>(r#"{"name":"n","count":1,"flag":true,"list":[],"x":1}"#).is_err());
        assert!(decode::<Sample>(r#"{"name":"n","name":"n","count":1,"flag":true,"list":[]}"#).is_err());
    }
}
