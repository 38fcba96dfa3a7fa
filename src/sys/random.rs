//! The kernel's random number generator. Needs no privileges.

/// `getrandom(buf, 0)`: fills `buf` from the kernel's cryptographically secure generator,
/// waiting only at early boot until it is seeded.
///
/// # References
/// - [getrandom(2)](https://man7.org/linux/man-pages/man2/getrandom.2.html)
#[doc(alias = "getrandom")]
pub fn fill(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(count) => filled += count,
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ_and_fill_everything() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        super::fill(&mut a).unwrap();
        super::fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
