//! Process-wide hardening done once at start: read-only RELRO for the static PIE image, and no
//! core dumps or same-user ptrace access for a process that may hold a secret. Needs no
//! privileges.

use std::io;

/// `prctl(PR_SET_DUMPABLE, 0)`: no core dump, and `/proc/PID` (environ, mem, fd …) becomes
/// root's and ptrace by the same user is refused, so a password or key this process holds
/// cannot be read out of it or out of a core file. The flag is reset by `execve`, so services
/// the daemon starts are not affected.
///
/// # References
/// - [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html), `PR_SET_DUMPABLE`
#[doc(alias = "PR_SET_DUMPABLE")]
pub fn set_not_dumpable() -> io::Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable).map_err(io::Error::from)
}

/// `mprotect(relro, PROT_READ)` on the image's `PT_GNU_RELRO` range (found with
/// `dl_iterate_phdr`): what a dynamic loader does after relocating, and what musl's static-PIE
/// start code (`rcrt1.o`, through musl 1.2.5) does not do, which would leave the GOT, the
/// init/fini arrays and `.data.rel.ro` (vtables, function pointers) writable for the whole
/// run. Must run before a second thread exists, and after the start code applied the
/// relocations (any time in `main`). A binary without a `PT_GNU_RELRO` (non-PIE builds, tests
/// linked against glibc that already did this) is left as it is.
///
/// The range is rounded to whole pages as glibc's `_dl_protect_relro` rounds it: start down,
/// end down (the linker pads the segment's end to a page boundary; data after it stays
/// writable).
///
/// # References
/// - [dl_iterate_phdr(3)](https://man7.org/linux/man-pages/man3/dl_iterate_phdr.3.html)
/// - [mprotect(2)](https://man7.org/linux/man-pages/man2/mprotect.2.html)
#[doc(alias = "mprotect")]
#[doc(alias = "dl_iterate_phdr")]
pub fn protect_relro() -> io::Result<()> {
    let mut range: (usize, usize) = (0, 0);
    // SAFETY: the callback only reads the program headers the C library passes it (valid for
    // the duration of the call, `dlpi_phnum` entries at `dlpi_phdr`) and writes the `(usize,
    // usize)` that `data` points to, which outlives the call. It returns 1 after the first
    // object (the executable itself: a static binary has no other), which stops the walk.
    unsafe {
        libc::dl_iterate_phdr(Some(first_object_relro), (&mut range as *mut (usize, usize)).cast());
    }
    let (start, len) = range;
    if len == 0 {
        return Ok(());
    }
    let page = rustix::param::page_size();
    let begin = start & !(page - 1);
    let end = (start + len) & !(page - 1);
    if end <= begin {
        return Ok(());
    }
    // SAFETY: [begin, end) lies inside the executable's own loaded image (its GNU_RELRO
    // segment, page-rounded inwards at the end): mprotect changes only the protection of pages
    // that are mapped, and nothing writes to RELRO data after the start code relocated it.
    let status = unsafe { libc::mprotect(begin as *mut libc::c_void, end - begin, libc::PROT_READ) };
    if status != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `dl_iterate_phdr` callback: stores the load address and size of the first object's
/// `PT_GNU_RELRO` in `data` (a `(usize, usize)`), and stops the walk.
unsafe extern "C" fn first_object_relro(info: *mut libc::dl_phdr_info, _size: libc::size_t, data: *mut libc::c_void) -> libc::c_int {
    // SAFETY: the C library passes a valid `dl_phdr_info` for the call's duration.
    let info = unsafe { &*info };
    // SAFETY: `data` is the `&mut (usize, usize)` protect_relro passed, alive during the walk.
    let out = unsafe { &mut *data.cast::<(usize, usize)>() };
    if info.dlpi_phdr.is_null() {
        return 1;
    }
    // SAFETY: `dlpi_phdr` points at `dlpi_phnum` program headers of the loaded object.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    for header in headers {
        if header.p_type == libc::PT_GNU_RELRO {
            // Addresses of a loaded object fit a usize by definition.
            *out = ((info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize), header.p_memsz as usize);
        }
    }
    1
}
