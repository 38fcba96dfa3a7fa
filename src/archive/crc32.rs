//! CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of the gzip trailer.
//!
//! miniz_oxide computes Adler-32 for zlib streams but not CRC-32, so gzip needs its own. It runs
//! over every byte a backup holds, on both sides, so it is slicing-by-16 (sixteen 1 KiB tables)
//! rather than the byte-at-a-time loop: about ten times faster. The 16 KiB of tables are built
//! at run time, on the first use (a few microseconds), on the heap: built at compile time they
//! were 16 KiB of the binary (and a `OnceLock` holding them inline lands in `.data`, not
//! `.bss`, because its `Once` state does not start at zero).
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

const POLY: u32 = 0xEDB8_8320;

fn make_tables() -> Box<[[u32; 256]; 16]> {
    let mut tables = Box::new([[0u32; 256]; 16]);
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        tables[0][n] = c;
        n += 1;
    }
    let mut n = 0;
    while n < 256 {
        let mut t = 1;
        while t < 16 {
            let prev = tables[t - 1][n];
            tables[t][n] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            t += 1;
        }
        n += 1;
    }
    tables
}

/// Built on first use (see the module doc).
static TABLES: std::sync::OnceLock<Box<[[u32; 256]; 16]>> = std::sync::OnceLock::new();

/// A running CRC-32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

impl Crc32 {
    /// The CRC of no bytes.
    pub const fn new() -> Crc32 {
        Crc32(0)
    }

    /// Adds `data` to the checksum.
    pub fn update(&mut self, data: &[u8]) {
        let t = TABLES.get_or_init(make_tables);
        let mut crc = !self.0;
        let mut chunks = data.chunks_exact(16);
        for chunk in &mut chunks {
            let Ok(block) = <&[u8; 16]>::try_from(chunk) else { continue };
            let wide = u128::from_le_bytes(*block);
            let (a, b, c, d) = (crc ^ wide as u32, (wide >> 32) as u32, (wide >> 64) as u32, (wide >> 96) as u32);
            crc = t[15][(a & 0xff) as usize]
                ^ t[14][((a >> 8) & 0xff) as usize]
                ^ t[13][((a >> 16) & 0xff) as usize]
                ^ t[12][(a >> 24) as usize]
                ^ t[11][(b & 0xff) as usize]
                ^ t[10][((b >> 8) & 0xff) as usize]
                ^ t[9][((b >> 16) & 0xff) as usize]
                ^ t[8][(b >> 24) as usize]
                ^ t[7][(c & 0xff) as usize]
                ^ t[6][((c >> 8) & 0xff) as usize]
                ^ t[5][((c >> 16) & 0xff) as usize]
                ^ t[4][(c >> 24) as usize]
                ^ t[3][(d & 0xff) as usize]
                ^ t[2][((d >> 8) & 0xff) as usize]
                ^ t[1][((d >> 16) & 0xff) as usize]
                ^ t[0][(d >> 24) as usize];
        }
        for &byte in chunks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(byte)) & 0xff) as usize];
        }
        self.0 = !crc;
    }

    /// The checksum so far.
    pub fn value(&self) -> u32 {
        self.0
    }
}

/// The CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(data);
    crc.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_of_the_catalogue() {
        // "CRC-32/ISO-HDLC" check value from the CRC catalogue (reveng): crc("123456789").
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // RFC 3720 (iSCSI) lists CRC-32C vectors only; this one is zlib's crc32(b"a" * 32) as
        // printed by Python's zlib.crc32.
        assert_eq!(crc32(&[b'a'; 32]), 0xCAB1_1777);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
    }

    #[test]
    fn slicing_agrees_with_the_bitwise_definition_at_every_split() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let bitwise = {
            let mut crc = !0u32;
            for &b in &data {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 { POLY ^ (crc >> 1) } else { crc >> 1 };
                }
            }
            !crc
        };
        assert_eq!(crc32(&data), bitwise);
        for split in [0, 1, 7, 8, 9, 15, 16, 17, 500, 999, 1000] {
            let mut crc = Crc32::new();
            crc.update(&data[..split]);
            crc.update(&data[split..]);
            assert_eq!(crc.value(), bitwise, "split at {split}");
        }
    }
}
