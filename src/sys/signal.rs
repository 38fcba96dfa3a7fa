//! Interrupt requests (Ctrl-C) for long actions that must clean up before they end.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_interrupt(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// While alive, SIGINT and SIGTERM set a flag instead of killing the process, and interrupt
/// blocking calls (no SA_RESTART), so that the action can undo what it did and end cleanly.
/// Dropping it restores the previous dispositions.
pub struct InterruptGuard {
    previous: [(libc::c_int, libc::sigaction); 2],
}

/// `sigaction(SIGINT|SIGTERM, {handler, no SA_RESTART})`: see [`InterruptGuard`].
///
/// # References
/// - [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html)
#[doc(alias = "sigaction")]
pub fn catch_interrupts() -> std::io::Result<InterruptGuard> {
    INTERRUPTED.store(false, Ordering::SeqCst);
    let mut previous = [(libc::SIGINT, empty_action()), (libc::SIGTERM, empty_action())];
    for (signal, old) in previous.iter_mut() {
        let mut action = empty_action();
        action.sa_sigaction = note_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0;
        // SAFETY: `action` is fully initialised with a handler that only stores to an atomic;
        // `old` is valid storage for the previous action.
        if unsafe { libc::sigaction(*signal, &action, old) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(InterruptGuard { previous })
}

fn empty_action() -> libc::sigaction {
    // SAFETY: sigaction is a plain C struct; all zeroes is SIG_DFL with an empty mask.
    unsafe { std::mem::zeroed() }
}

/// Whether SIGINT or SIGTERM arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: restores an action previously returned by the kernel for this signal.
            unsafe { libc::sigaction(*signal, old, std::ptr::null_mut()) };
        }
    }
}

/// `nanosleep(2)` that stops early when a signal arrives; returns false if interrupted.
#[doc(alias = "nanosleep")]
pub fn sleep_unless_interrupted(duration: std::time::Duration) -> bool {
    let request = rustix::thread::Timespec {
        tv_sec: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(duration.subsec_nanos()),
    };
    !matches!(
        rustix::thread::nanosleep(&request),
        rustix::thread::NanosleepRelativeResult::Interrupted(_)
    ) && !interrupted()
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
