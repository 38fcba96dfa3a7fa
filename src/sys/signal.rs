//! Signals: Ctrl-C for command-line front ends (a flag, see [`catch_interrupts`]) and the
//! daemon's self-pipe for SIGTERM and SIGHUP (see [`signal_pipe`]).

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// A second signal while the first is still being dealt with kills the process.
static SECOND_KILLS: AtomicBool = AtomicBool::new(false);

extern "C" fn note_interrupt(signal: libc::c_int) {
    // Only atomics, signal(2) and raise(3): all async-signal-safe.
    if INTERRUPTED.swap(true, Ordering::SeqCst) && SECOND_KILLS.load(Ordering::SeqCst) {
        // SAFETY: signal(2) and raise(3) are async-signal-safe; the default action ends the
        // process as the signal would have without a handler.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// `sigaction(signals, {set a flag, no SA_RESTART})`, for the life of the process: Ctrl-C no
/// longer kills it but sets the flag [`interrupted`] reads, and interrupts blocking calls
/// (EINTR) so that the work in progress notices soon and ends cleanly. With `second_kills`, a
/// second signal before [`clear_interrupted`] ends the process as it would have without the
/// handler (an operator's way out of work that does not stop). For command-line front ends
/// only, once at start; the daemon never calls it (its requests are cancelled through their own
/// tokens, see `crate::cancel`).
///
/// # References
/// - [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html)
#[doc(alias = "sigaction")]
pub fn catch_interrupts(signals: &[libc::c_int], second_kills: bool) -> std::io::Result<()> {
    SECOND_KILLS.store(second_kills, Ordering::SeqCst);
    for &signal in signals {
        let mut action = empty_action();
        action.sa_sigaction = note_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0;
        // SAFETY: `action` is fully initialised with a handler that only stores to an atomic.
        if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn empty_action() -> libc::sigaction {
    // SAFETY: sigaction is a plain C struct; all zeroes is SIG_DFL with an empty mask.
    unsafe { std::mem::zeroed() }
}

/// Whether a signal caught by [`catch_interrupts`] arrived since the last [`clear_interrupted`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Forgets an interrupt that was dealt with (the shell, back at its prompt).
pub fn clear_interrupted() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

extern "C" fn say_stopped_by_a_bug(signal: libc::c_int) {
    let message: &[u8] = if signal == libc::SIGTRAP {
        b"sensorctl: internal error: stopped by a bug (SIGTRAP); please report the command\n"
    } else {
        b"sensorctl: internal error: stopped by a bug (SIGILL); please report the command\n"
    };
    // SAFETY: write(2) and raise(3) are async-signal-safe and the buffer is a static byte
    // string. The handler was installed with SA_RESETHAND, so the raised signal (pending until
    // the handler returns) takes the default action and ends the process by the same signal,
    // as the trapping instruction run again would; a signal sent by kill(2) ends it too.
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::raise(signal);
    }
}

/// `sigaction(SIGILL and SIGTRAP, {say so on standard error, once})`: release builds panic by
/// trapping at once (`-C panic=immediate-abort`, see scripts/build), which prints nothing; with
/// this, an operator sees one line saying it was a bug, and the process still ends by the signal
/// (exit status, supervisor and core-dump policy unchanged). Once at start.
#[doc(alias = "sigaction")]
pub fn report_traps() -> std::io::Result<()> {
    for signal in [libc::SIGILL, libc::SIGTRAP] {
        let mut action = empty_action();
        action.sa_sigaction = say_stopped_by_a_bug as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESETHAND;
        // SAFETY: `action` is fully initialised with a handler that only calls write(2).
        if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

static CONTINUED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_continue(_signal: libc::c_int) {
    CONTINUED.store(true, Ordering::SeqCst);
}

/// `sigaction(SIGCONT, {set a flag, no SA_RESTART})`: after Ctrl-Z and `fg` the line editor
/// learns it was stopped (its wait ends with EINTR, [`continued`] says why) and redraws. For
/// the restricted shell's process only.
#[doc(alias = "sigaction")]
pub fn catch_continue() -> std::io::Result<()> {
    let mut action = empty_action();
    action.sa_sigaction = note_continue as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = 0;
    // SAFETY: `action` is fully initialised with a handler that only stores to an atomic.
    if unsafe { libc::sigaction(libc::SIGCONT, &action, std::ptr::null_mut()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether SIGCONT arrived since the last call (and forgets it).
pub fn continued() -> bool {
    CONTINUED.swap(false, Ordering::SeqCst)
}

/// The write end of the signal pipe, for the handler (-1 while there is none).
static PIPE_WRITE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn forward_to_pipe(signal: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one live byte. A full pipe drops
        // the byte, which is fine: one pending byte per signal kind is enough to act on.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// `pipe2(O_CLOEXEC|O_NONBLOCK)` + `sigaction(signals, {write the signal number to the pipe})`:
/// the self-pipe trick, so that an event loop can wait for SIGTERM/SIGHUP like for any other
/// readable descriptor. Returns the read end; each byte read is a signal number. Process-wide:
/// call once.
///
/// # References
/// - [signal-safety(7)](https://man7.org/linux/man-pages/man7/signal-safety.7.html)
#[doc(alias = "sigaction")]
pub fn signal_pipe(signals: &[libc::c_int]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::IntoRawFd;
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK)?;
    // The write end lives as long as the process: the handler may run at any time.
    PIPE_WRITE.store(write.into_raw_fd(), Ordering::SeqCst);
    for &signal in signals {
        let mut action = empty_action();
        action.sa_sigaction = forward_to_pipe as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action` is fully initialised with a handler that only calls write(2).
        if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(read)
}

/// Signal numbers, for callers outside this module.
pub mod number {
    /// SIGTERM.
    pub const TERM: i32 = libc::SIGTERM;
    /// SIGHUP.
    pub const HUP: i32 = libc::SIGHUP;
    /// SIGINT.
    pub const INT: i32 = libc::SIGINT;
}
