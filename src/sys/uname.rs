//! The kernel's identity strings. Needs no privileges.

/// `uname(2)`: the node name (host name) the kernel reports for this UTS namespace.
///
/// # References
/// - [uname(2)](https://man7.org/linux/man-pages/man2/uname.2.html)
#[doc(alias = "uname")]
pub fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}
