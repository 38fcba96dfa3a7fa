//! `memcpy` for the x86_64 musl build. Needs no privileges.
//!
//! musl's x86_64 `memcpy` copies byte by byte (`movsb`) up to 8-byte alignment, then runs
//! `rep movsq`, then copies the tail byte by byte. A `rep` instruction costs tens of cycles to
//! start, so a 20-byte copy costs several times what it should. miniz_oxide, built at
//! opt-level "z", leaves its short copies as `memcpy` calls, millions per backup: with musl's
//! routine a backup of the 300 MB benchmark set took 5.2-5.4 s of user time, with this one
//! 4.1-5.0 s (`scripts/bench backup`). (It was first written for miniz_oxide's inflate, whose
//! match copies were 13 % of a restore; restore now uses our own decoder, src/archive/inflate.rs,
//! which copies matches inline.)
//!
//! This one copies up to 128 bytes with straight-line unaligned loads and stores, all loads
//! before any store, and longer runs with `rep movsb`, which CPUs with ERMSB (every x86_64
//! server since 2013) execute at full cache bandwidth. Both are also correct when the
//! destination overlaps the source and starts below it, which musl's `memmove` relies on: it
//! jumps to `memcpy` (by its internal name `__memcpy_fwd`) whenever a forward copy is safe.
//!
//! Only the x86_64 musl build has this module (the unit tests also run it on the glibc
//! host); elsewhere the C library's routine is kept: glibc's is fast, and musl's aarch64 and
//! arm routines are already tuned assembly. That the linker took this `memcpy` and not musl's
//! needs no test: both in one link is a duplicate-symbol error.
//!
//! Nothing here may call `memcpy` or `memmove`, or it would call itself: there are no loops
//! the compiler could turn back into a library call, only fixed-size loads and stores, and the
//! long copy is inline assembly. (`scripts/test` has no way to see a recursion that only
//! happens at run time; the unit test below runs the copy at every length up to 300 and every
//! alignment, and the whole test suite runs the binary that uses it.)
use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};

/// `memcpy(3)`: copies `len` bytes from `src` to `dest` and returns `dest`.
///
/// # Safety
/// `src` must be valid for reads and `dest` for writes of `len` bytes. The regions may
/// overlap only if `dest` is below `src` (a forward copy), as with C's `memcpy` called by
/// musl's `memmove`.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, len: usize) -> *mut u8 {
    // SAFETY: the caller's contract is copy_forward's.
    unsafe { copy_forward(dest, src, len) };
    dest
}

/// musl's `memmove` jumps to this hidden alias of its `memcpy` when a forward copy is safe;
/// defining it here keeps musl's `memcpy.o`, which defines both names, out of the link (it
/// would otherwise be pulled in for this name and clash with ours over `memcpy`). Should a
/// later musl name it differently, the link fails with a duplicate `memcpy`: loudly, not
/// silently slower.
///
/// # Safety
/// As [`memcpy`], including overlap with `dest` below `src`.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __memcpy_fwd(dest: *mut u8, src: *const u8, len: usize) -> *mut u8 {
    // SAFETY: the caller's contract is copy_forward's.
    unsafe { copy_forward(dest, src, len) };
    dest
}

/// Loads 16 bytes from `at`, unaligned.
///
/// # Safety
/// `at` must be valid for reads of 16 bytes.
#[inline(always)]
unsafe fn load16(at: *const u8) -> __m128i {
    // SAFETY: readable per the caller; movdqu has no alignment requirement. SSE2 is part of
    // the x86_64 baseline.
    unsafe { _mm_loadu_si128(at.cast()) }
}

/// Stores 16 bytes at `at`, unaligned.
///
/// # Safety
/// `at` must be valid for writes of 16 bytes.
#[inline(always)]
unsafe fn store16(at: *mut u8, value: __m128i) {
    // SAFETY: writable per the caller; movdqu has no alignment requirement.
    unsafe { _mm_storeu_si128(at.cast(), value) }
}

/// Copies `len` bytes forward from `src` to `dest`.
///
/// # Safety
/// As [`memcpy`]: `src` readable and `dest` writable for `len` bytes; overlap only with
/// `dest` below `src`.
#[inline(always)]
pub unsafe fn copy_forward(dest: *mut u8, src: *const u8, len: usize) {
    // Each short case reads a head and a tail that together cover the range (they overlap
    // when len is not a sum of the piece sizes), all before writing anything, so any overlap
    // of the two regions is harmless.
    // SAFETY: every offset read or written below is under `len`, so inside the regions the
    // caller vouches for.
    unsafe {
        match len {
            0 => {}
            1..=3 => {
                let (first, middle, last) = (*src, *src.add(len / 2), *src.add(len - 1));
                *dest = first;
                *dest.add(len / 2) = middle;
                *dest.add(len - 1) = last;
            }
            4..=7 => {
                let head = src.cast::<u32>().read_unaligned();
                let tail = src.add(len - 4).cast::<u32>().read_unaligned();
                dest.cast::<u32>().write_unaligned(head);
                dest.add(len - 4).cast::<u32>().write_unaligned(tail);
            }
            8..=16 => {
                let head = src.cast::<u64>().read_unaligned();
                let tail = src.add(len - 8).cast::<u64>().read_unaligned();
                dest.cast::<u64>().write_unaligned(head);
                dest.add(len - 8).cast::<u64>().write_unaligned(tail);
            }
            17..=32 => {
                let (head, tail) = (load16(src), load16(src.add(len - 16)));
                store16(dest, head);
                store16(dest.add(len - 16), tail);
            }
            33..=64 => {
                let (a, b) = (load16(src), load16(src.add(16)));
                let (c, d) = (load16(src.add(len - 32)), load16(src.add(len - 16)));
                store16(dest, a);
                store16(dest.add(16), b);
                store16(dest.add(len - 32), c);
                store16(dest.add(len - 16), d);
            }
            65..=128 => {
                let (a, b, c, d) = (
                    load16(src),
                    load16(src.add(16)),
                    load16(src.add(32)),
                    load16(src.add(48)),
                );
                let (e, f) = (load16(src.add(len - 64)), load16(src.add(len - 48)));
                let (g, h) = (load16(src.add(len - 32)), load16(src.add(len - 16)));
                store16(dest, a);
                store16(dest.add(16), b);
                store16(dest.add(32), c);
                store16(dest.add(48), d);
                store16(dest.add(len - 64), e);
                store16(dest.add(len - 48), f);
                store16(dest.add(len - 32), g);
                store16(dest.add(len - 16), h);
            }
            _ => {
                // `rep movsb` copies as if byte by byte upwards (the direction flag is clear at
                // every function boundary by the ABI), which is also what an overlapping copy
                // with `dest` below `src` needs.
                core::arch::asm!(
                    "rep movsb",
                    inout("rcx") len => _,
                    inout("rdi") dest => _,
                    inout("rsi") src => _,
                    options(nostack, preserves_flags)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_forward;

    /// A pattern whose every byte differs from its neighbours, so a byte copied from the
    /// wrong offset shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn copies_every_length_and_alignment_and_touches_nothing_else() {
        let source = pattern(300 + 16);
        for len in 0..=300 {
            for src_offset in 0..8 {
                for dest_offset in 0..8 {
                    let mut target = vec![0xAAu8; 300 + 32];
                    // SAFETY: both ranges lie inside their vectors.
                    unsafe {
                        copy_forward(
                            target.as_mut_ptr().add(8 + dest_offset),
                            source.as_ptr().add(src_offset),
                            len,
                        )
                    };
                    let copied = &target[8 + dest_offset..8 + dest_offset + len];
                    assert_eq!(
                        copied,
                        &source[src_offset..src_offset + len],
                        "len {len} src+{src_offset} dest+{dest_offset}"
                    );
                    assert!(
                        target[..8 + dest_offset].iter().all(|&b| b == 0xAA),
                        "wrote before dest, len {len}"
                    );
                    assert!(
                        target[8 + dest_offset + len..].iter().all(|&b| b == 0xAA),
                        "wrote past dest, len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_overlapping_copy_downwards_is_a_correct_memmove() {
        for len in 0..=300 {
            for shift in [1usize, 3, 8, 15, 16, 17, 64, 100] {
                let original = pattern(len + shift);
                let mut buffer = original.clone();
                // SAFETY: both ranges lie inside `buffer`; dest is below src.
                unsafe { copy_forward(buffer.as_mut_ptr(), buffer.as_ptr().add(shift), len) };
                assert_eq!(
                    &buffer[..len],
                    &original[shift..shift + len],
                    "len {len} shift {shift}"
                );
                assert_eq!(
                    &buffer[len..],
                    &original[len..],
                    "len {len} shift {shift}: wrote past the end"
                );
            }
        }
    }
}
