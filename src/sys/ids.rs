//! Process credentials. Needs no privileges.

/// `getuid()`: the real user id of the calling process — who really runs us, which setuid
/// bits or an `env -a` argv[0] cannot change.
///
/// # References
/// - [getuid(2)](https://man7.org/linux/man-pages/man2/getuid.2.html)
#[doc(alias = "getuid")]
pub fn real_uid() -> u32 {
    rustix::process::getuid().as_raw()
}
