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
