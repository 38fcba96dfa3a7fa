//! SHA-512-crypt (`$6$`), the password hash of `/etc/shadow` that every crypt(3) (glibc,
//! libxcrypt, musl) verifies: Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512"
//! (<https://www.akkadia.org/drepper/SHA-crypt.txt>), written here on ring's SHA-512 so that no
//! libcrypt is linked and no `openssl passwd` or `chpasswd` is run.
//!
//! New hashes get a 16-character salt from ring's `SystemRandom` and the default 5000 rounds
//! (written without a `rounds=` field, as crypt(3) does). Verification recomputes the hash with
//! the stored salt and rounds and compares the whole string in constant time.
//!
//! Pure computation (plus the system's random source); needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use ring::digest::{Context as Digest, SHA512};
use ring::rand::SecureRandom;

/// The rounds crypt(3) uses when the salt names none.
pub const DEFAULT_ROUNDS: u32 = 5000;
const ROUNDS_MIN: u32 = 1000;
const ROUNDS_MAX: u32 = 999_999_999;
/// The longest salt the algorithm uses; longer salts are cut.
pub const SALT_MAX: usize = 16;
const PREFIX: &str = "$6$";
const ROUNDS_PREFIX: &str = "rounds=";
/// Length of the encoded 64-byte digest.
const ENCODED_LEN: usize = 86;
/// crypt(3)'s base-64 alphabet (not RFC 4648's).
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new `$6$<16 salt chars>$<86 chars>` hash of `password` with the default rounds.
pub fn new_hash(password: &[u8], rng: &dyn SecureRandom) -> Result<String> {
    let mut random = [0u8; 12];
    rng.fill(&mut random)
        .map_err(|_| Error::Sys { call: "getrandom(2)", source: std::io::Error::other("no random bytes") })?;
    // 12 random bytes are exactly 16 characters of 6 bits each.
    let mut salt = String::with_capacity(SALT_MAX);
    for chunk in random.chunks(3) {
        let word = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            salt.push(char::from(ITOA64[((word >> shift) & 0x3f) as usize]));
        }
    }
    Ok(crypt(password, &format!("{PREFIX}{salt}")).unwrap_or_default())
}

/// crypt(3) for a `$6$` setting (`$6$salt`, `$6$rounds=N$salt`, or a whole stored hash, whose
/// digest part is ignored): the full hash string. `None` if `setting` is not SHA-512-crypt.
///
/// As the specification says, a salt is cut to 16 characters and the rounds are clamped to
/// 1000–999999999 (libxcrypt refuses out-of-range rounds instead; such hashes never match
/// anything stored, as the stored string names other rounds than the result).
pub fn crypt(password: &[u8], setting: &str) -> Option<String> {
    let rest = setting.strip_prefix(PREFIX)?;
    let (rounds, rest) = match rest.strip_prefix(ROUNDS_PREFIX).and_then(|r| r.split_once('$')) {
        Some((digits, after)) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            let wanted = digits.parse::<u64>().unwrap_or(u64::MAX);
            (Some(wanted.clamp(u64::from(ROUNDS_MIN), u64::from(ROUNDS_MAX)) as u32), after)
        }
        _ => (None, rest),
    };
    let salt_end = rest.find('$').unwrap_or(rest.len()).min(SALT_MAX);
    let salt = rest.get(..salt_end)?;
    let digest = sha512_crypt(password, salt.as_bytes(), rounds.unwrap_or(DEFAULT_ROUNDS));
    let mut out = String::with_capacity(PREFIX.len() + 16 + SALT_MAX + 2 + ENCODED_LEN);
    out.push_str(PREFIX);
    if let Some(rounds) = rounds {
        out.push_str(&format!("{ROUNDS_PREFIX}{rounds}$"));
    }
    out.push_str(salt);
    out.push('$');
    encode(&digest, &mut out);
    Some(out)
}

/// How a password compares with a stored shadow hash field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The password is right.
    Match,
    /// It is wrong (or the field is a well-formed `$6$` hash of something else).
    Mismatch,
    /// The field is not a SHA-512-crypt hash (`!`, `*`, `$y$…`, empty): this module cannot say.
    NotSha512Crypt,
}

/// Checks `password` against a stored `$6$` hash, in constant time over the hash string.
pub fn verify(password: &[u8], stored: &str) -> Verdict {
    let well_formed = stored.starts_with(PREFIX)
        && stored.rsplit_once('$').is_some_and(|(_, digest)| {
            digest.len() == ENCODED_LEN && digest.bytes().all(|b| ITOA64.contains(&b))
        });
    if !well_formed {
        return Verdict::NotSha512Crypt;
    }
    match crypt(password, stored) {
        Some(computed) if constant_time_eq(computed.as_bytes(), stored.as_bytes()) => Verdict::Match,
        Some(_) => Verdict::Mismatch,
        None => Verdict::NotSha512Crypt,
    }
}

/// Equality whose running time depends only on the lengths, not on where the bytes differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut ctx = Digest::new(&SHA512);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Steps 1–21 of the specification: the 64-byte digest C.
fn sha512_crypt(key: &[u8], salt: &[u8], rounds: u32) -> [u8; 64] {
    // Digest B = key salt key.
    let b = sha512(&[key, salt, key]);
    // Digest A = key salt, then B once per 64 bytes of key length (a prefix for the rest), then
    // for each bit of the key length, low bit first: B if set, the key if clear.
    let mut a = Digest::new(&SHA512);
    a.update(key);
    a.update(salt);
    let mut left = key.len();
    while left > 64 {
        a.update(&b);
        left -= 64;
    }
    a.update(&b[..left]);
    let mut bits = key.len();
    while bits > 0 {
        if bits & 1 == 1 {
            a.update(&b);
        } else {
            a.update(key);
        }
        bits >>= 1;
    }
    let mut a_out = [0u8; 64];
    a_out.copy_from_slice(a.finish().as_ref());
    // P: the digest of the key repeated key-length times, stretched to the key's length.
    let mut dp = Digest::new(&SHA512);
    for _ in 0..key.len() {
        dp.update(key);
    }
    let p = stretch(dp.finish().as_ref(), key.len());
    // S: the digest of the salt repeated 16 + A[0] times, stretched to the salt's length.
    let mut ds = Digest::new(&SHA512);
    for _ in 0..16 + usize::from(a_out[0]) {
        ds.update(salt);
    }
    let s = stretch(ds.finish().as_ref(), salt.len());
    // The rounds.
    let mut c = a_out;
    for round in 0..rounds {
        let mut ctx = Digest::new(&SHA512);
        if round % 2 == 1 {
            ctx.update(&p);
        } else {
            ctx.update(&c);
        }
        if round % 3 != 0 {
            ctx.update(&s);
        }
        if round % 7 != 0 {
            ctx.update(&p);
        }
        if round % 2 == 1 {
            ctx.update(&c);
        } else {
            ctx.update(&p);
        }
        c.copy_from_slice(ctx.finish().as_ref());
    }
    c
}

/// `digest` repeated to `len` bytes.
fn stretch(digest: &[u8], len: usize) -> Vec<u8> {
    digest.iter().copied().cycle().take(len).collect()
}

/// Step 22: the digest's bytes in the specification's order, 24 bits to four characters.
fn encode(c: &[u8; 64], out: &mut String) {
    let mut put = |b2: u8, b1: u8, b0: u8, chars: usize| {
        let mut word = u32::from(b2) << 16 | u32::from(b1) << 8 | u32::from(b0);
        for _ in 0..chars {
            out.push(char::from(ITOA64[(word & 0x3f) as usize]));
            word >>= 6;
        }
    };
    // Byte triples (i, i+21, i+42) rotating through the three positions.
    for group in 0..21 {
        let (x, y, z) = (group, group + 21, group + 42);
        match group % 3 {
            0 => put(c[x], c[y], c[z], 4),
            1 => put(c[y], c[z], c[x], 4),
            _ => put(c[z], c[x], c[y], 4),
        }
    }
    put(0, 0, c[63], 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-512 test vectors of the specification (SHA-crypt.txt, "Test vectors").
    const SPEC_VECTORS: &[(&str, &str, &str)] = &[
        ("$6$saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
        ("$6$rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."),
        ("$6$rounds=5000$toolongsaltstring", "This is just a test", "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"),
        ("$6$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"),
        ("$6$rounds=77777$short", "we have a short salt string but not a short password", "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"),
        ("$6$rounds=123456$asaltof16chars..", "a short string", "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"),
        ("$6$rounds=10$roundstoolow", "the minimum number is still observed", "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."),
    ];

    #[test]
    fn the_specification_test_vectors() {
        for (setting, key, expected) in SPEC_VECTORS {
            assert_eq!(crypt(key.as_bytes(), setting).as_deref(), Some(*expected), "{setting}");
        }
    }

    #[test]
    fn verify_accepts_the_right_password_only() {
        for (_, key, stored) in SPEC_VECTORS {
            assert_eq!(verify(key.as_bytes(), stored), Verdict::Match, "{stored}");
            assert_eq!(verify(b"wrong", stored), Verdict::Mismatch, "{stored}");
        }
        for field in ["", "!", "*", "!$6$abc$def", "$y$j9T$abc$def", "$6$salt$tooshort", "$5$salt$x"] {
            assert_eq!(verify(b"x", field), Verdict::NotSha512Crypt, "{field:?}");
        }
    }

    #[test]
    fn new_hashes_have_a_16_character_salt_default_rounds_and_verify() {
        let rng = ring::rand::SystemRandom::new();
        let one = new_hash(b"Secret-1x", &rng).unwrap();
        let two = new_hash(b"Secret-1x", &rng).unwrap();
        assert_ne!(one, two, "fresh salts");
        let parts: Vec<&str> = one.split('$').collect();
        assert_eq!(parts.len(), 4, "{one}");
        assert_eq!((parts[1], parts[2].len(), parts[3].len()), ("6", 16, 86), "{one}");
        assert_eq!(verify(b"Secret-1x", &one), Verdict::Match);
        assert_eq!(verify(b"Secret-1y", &one), Verdict::Mismatch);
    }

    #[test]
    fn odd_settings_never_panic() {
        for setting in ["$6$", "$6$rounds=$x", "$6$rounds=-5$s", "$6$rounds=5000", "$6$\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"] {
            let _ = crypt(b"pw", setting);
        }
        // Leading zeros are a number like any other; the result names the rounds plainly.
        assert!(crypt(b"", "$6$rounds=00001000$ab").unwrap().starts_with("$6$rounds=1000$ab$"));
        assert_eq!(crypt(b"pw", "$5$abc"), None);
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
