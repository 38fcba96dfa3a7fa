//! The small DER reader and writer the certificate code needs: read the fields of X.509
//! certificates, PKCS#8, SEC1 and PBES2 structures, and write one fixed-shape self-signed
//! certificate. Reading runs on `untrusted` (the bounds-checked reader rustls-webpki and ring
//! are built on): every read is checked against the end of its enclosing value, and nothing
//! past a value's end is ever looked at.
//!
//! Only what these formats use: single-byte tags (no high tag numbers), definite lengths of at
//! most four bytes in their shortest form (DER), no indefinite lengths.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use untrusted::{Input, Reader};

/// Universal and context tags used here.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const TELETEX_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[n]` constructed (EXPLICIT, or IMPLICIT of a constructed type).
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }
    /// `[n]` primitive (IMPLICIT of a primitive type).
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// Why a DER value could not be read; the callers add what was being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bad(pub &'static str);

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A result of reading DER.
pub type Der<T> = Result<T, Bad>;

/// Reads one tag-length-value; returns the tag and the value's contents.
pub fn any<'a>(r: &mut Reader<'a>) -> Der<(u8, Input<'a>)> {
    let tag = r.read_byte().map_err(|_| Bad("truncated"))?;
    if tag & 0x1f == 0x1f {
        return Err(Bad("a high tag number"));
    }
    let first = r.read_byte().map_err(|_| Bad("truncated"))?;
    let len = match first {
        n if n < 0x80 => usize::from(n),
        0x80 => return Err(Bad("an indefinite length")),
        n => {
            let count = usize::from(n & 0x7f);
            if count > 4 {
                return Err(Bad("a length too large"));
            }
            let mut len = 0usize;
            for _ in 0..count {
                len = (len << 8) | usize::from(r.read_byte().map_err(|_| Bad("truncated"))?);
            }
            // DER: the shortest form only.
            if len < 0x80 || (count > 1 && len >> (8 * (count - 1)) == 0) {
                return Err(Bad("a length not in its shortest form"));
            }
            len
        }
    };
    let value = r.read_bytes(len).map_err(|_| Bad("truncated"))?;
    Ok((tag, value))
}

/// Reads one value that must have `tag`.
pub fn expect<'a>(r: &mut Reader<'a>, want: u8) -> Der<Input<'a>> {
    match any(r)? {
        (tag, value) if tag == want => Ok(value),
        _ => Err(Bad("an unexpected field")),
    }
}

/// Reads the value with `tag` if it comes next.
pub fn optional<'a>(r: &mut Reader<'a>, want: u8) -> Der<Option<Input<'a>>> {
    if r.peek(want) {
        expect(r, want).map(Some)
    } else {
        Ok(None)
    }
}

/// Runs `read` over the contents of `input`, which it must consume whole.
pub fn parse<'a, T>(input: Input<'a>, read: impl FnOnce(&mut Reader<'a>) -> Der<T>) -> Der<T> {
    input.read_all(Bad("trailing data"), read)
}

/// Reads a value with `tag` and parses its contents whole with `read`.
pub fn nested<'a, T>(r: &mut Reader<'a>, want: u8, read: impl FnOnce(&mut Reader<'a>) -> Der<T>) -> Der<T> {
    parse(expect(r, want)?, read)
}

/// An INTEGER's content bytes, which must be non-negative; leading zero bytes removed.
pub fn unsigned<'a>(r: &mut Reader<'a>) -> Der<&'a [u8]> {
    let bytes = expect(r, tag::INTEGER)?.as_slice_less_safe();
    match bytes {
        [] => Err(Bad("an empty integer")),
        [first, ..] if first & 0x80 != 0 => Err(Bad("a negative integer")),
        _ => {
            let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
            Ok(&bytes[start..])
        }
    }
}

/// A small non-negative INTEGER.
pub fn small(r: &mut Reader<'_>) -> Der<u64> {
    let bytes = unsigned(r)?;
    if bytes.len() > 8 {
        return Err(Bad("an integer too large"));
    }
    Ok(bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))
}

/// A BIT STRING with no unused bits: its bytes.
pub fn bit_string<'a>(r: &mut Reader<'a>) -> Der<&'a [u8]> {
    match expect(r, tag::BIT_STRING)?.as_slice_less_safe() {
        [0, bytes @ ..] => Ok(bytes),
        _ => Err(Bad("a bit string that is not whole bytes")),
    }
}

/// The parameters of an `AlgorithmIdentifier`: their tag and contents, if there are any.
pub type Params<'a> = Option<(u8, Input<'a>)>;

/// An `AlgorithmIdentifier`: the OID's content bytes and the parameters.
pub fn algorithm<'a>(r: &mut Reader<'a>) -> Der<(&'a [u8], Params<'a>)> {
    nested(r, tag::SEQUENCE, |seq| {
        let oid = expect(seq, tag::OID)?.as_slice_less_safe();
        let params = if seq.at_end() { None } else { Some(any(seq)?) };
        Ok((oid, params))
    })
}

/// The dotted form of an OID's content bytes (`1.2.840.10045.3.1.7`), for messages.
pub fn oid_text(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut value = 0u64;
    for &byte in oid {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if parts.is_empty() {
                let first = (value / 40).min(2);
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        }
    }
    parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// Writes one value: `tag`, its DER length, `contents`.
pub fn write(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
}

/// One value as a new vector.
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    write(&mut out, tag, contents);
    out
}

/// A constructed value of the concatenation of `parts`.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_only_der_is_read() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let value = vec![7u8; len];
            let encoded = tlv(tag::OCTET_STRING, &value);
            let read = parse(Input::from(&encoded), |r| expect(r, tag::OCTET_STRING)).unwrap();
            assert_eq!(read.as_slice_less_safe(), &value[..]);
        }
        // Not the shortest form, indefinite, truncated, trailing.
        for bad in [&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..], &[0x30, 0x80, 0, 0], &[0x04, 0x05, 1], &[0x05, 0x00, 0x00]] {
            assert!(parse(Input::from(bad), |r| any(r).map(|_| ())).is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn integers_and_oids() {
        let encoded = tlv(tag::INTEGER, &[0x00, 0x80, 0x01]);
        assert_eq!(parse(Input::from(&encoded), unsigned).unwrap(), &[0x80, 0x01]);
        let negative = tlv(tag::INTEGER, &[0xff]);
        assert!(parse(Input::from(&negative), unsigned).is_err());
        assert_eq!(oid_text(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]), "1.2.840.10045.3.1.7");
        assert_eq!(oid_text(&[0x2b, 0x81, 0x04, 0x00, 0x22]), "1.3.132.0.34");
    }
}
