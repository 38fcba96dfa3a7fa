//! Process credentials. Reading them needs no privileges; [`with_fs_ids`] needs root
//! (CAP_SETUID, CAP_SETGID).

/// `getuid()`: the real user id of the calling process — who really runs us, which setuid
/// bits or an `env -a` argv[0] cannot change.
///
/// # References
/// - [getuid(2)](https://man7.org/linux/man-pages/man2/getuid.2.html)
#[doc(alias = "getuid")]
pub fn real_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// `geteuid()` and `getegid()`: the effective user and group ids, which (outside
/// [`with_fs_ids`]) are the owner and group of a file this process creates in a directory
/// without the set-group-id bit.
///
/// # References
/// - [geteuid(2)](https://man7.org/linux/man-pages/man2/geteuid.2.html)
#[doc(alias = "geteuid")]
#[doc(alias = "getegid")]
pub fn effective_ids() -> (u32, u32) {
    (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw())
}

/// `setfsgid(gid)` then `setfsuid(uid)` for the calling thread only, runs `f`, then puts the
/// thread's previous file-system ids back: a root thread that opens a path on behalf of
/// another user gets exactly that user's permission checks (fsuid/fsgid; supplementary groups
/// stay the thread's own). Linux keeps the fs ids per thread, and musl's wrappers are the bare
/// system calls, so the daemon's other threads are unaffected. Changing them needs
/// CAP_SETUID/CAP_SETGID (root); without it the ids stay as they were and `f` runs with them.
///
/// # References
/// - [setfsuid(2)](https://man7.org/linux/man-pages/man2/setfsuid.2.html)
/// - [setfsgid(2)](https://man7.org/linux/man-pages/man2/setfsgid.2.html)
#[doc(alias = "setfsuid")]
#[doc(alias = "setfsgid")]
pub fn with_fs_ids<T>(uid: u32, gid: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: setfsgid/setfsuid take plain integers, touch no memory of ours, and cannot fail
    // in a way that leaves the thread inconsistent (they return the previous id either way).
    let (old_gid, old_uid) = unsafe { (libc::setfsgid(gid), libc::setfsuid(uid)) };
    let result = f();
    // SAFETY: as above; ids the kernel reported back are valid ids to return to. The uid goes
    // back first: with fsuid 0 again, the thread regains the capabilities to set the gid.
    unsafe {
        libc::setfsuid(old_uid as libc::uid_t);
        libc::setfsgid(old_gid as libc::gid_t);
    }
    result
}
