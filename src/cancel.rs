//! Cancellation of one request: a token that long or blocking work looks at between steps.
//!
//! In the daemon each request has its own token, cancelled when its caller sends a cancel
//! (Ctrl-C in the caller's terminal) or goes away; nothing a request does touches the daemon's
//! process-wide signal handlers. In a command-line process the token also follows the process's
//! own Ctrl-C ([`crate::sys::signal::interrupted`]), which the front end arranges once.
//!
//! Work that has passed its point of no return (the swap of a restore, the slot switch of an
//! upgrade) stops looking at the token and completes. Needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a [`Cancel::sleep`] sleeps before it looks at the token again.
const SLICE: Duration = Duration::from_millis(50);

/// A request's cancellation token; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    /// Also cancelled by this process's Ctrl-C.
    follows_interrupt: bool,
}

impl Cancel {
    /// A token of its own (a daemon request, scheduled work).
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A token that this process's Ctrl-C also cancels (a command-line process that caught
    /// SIGINT with [`crate::sys::signal::catch_interrupts`]).
    pub fn following_interrupts() -> Cancel {
        Cancel { flag: Arc::default(), follows_interrupt: true }
    }

    /// Cancels it.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || (self.follows_interrupt && crate::sys::signal::interrupted())
    }

    /// Makes it usable again for the next command (the restricted shell, after a Ctrl-C).
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
        if self.follows_interrupt {
            crate::sys::signal::clear_interrupted();
        }
    }

    /// `Err(Error::Cancelled)` once cancelled; `what` says what was given up.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled(what.to_string()))
        } else {
            Ok(())
        }
    }

    /// Sleeps `duration`, waking early when cancelled; returns whether it slept the whole time.
    pub fn sleep(&self, duration: Duration) -> bool {
        let end = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(SLICE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_from_another_thread_ends_a_long_sleep_soon() {
        let cancel = Cancel::new();
        let other = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            other.cancel();
        });
        let started = Instant::now();
        assert!(!cancel.sleep(Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        canceller.join().unwrap();
        assert_eq!(cancel.check("x").unwrap_err().exit_code(), 1);
        cancel.reset();
        assert!(cancel.check("x").is_ok());
        assert!(cancel.sleep(Duration::from_millis(10)));
    }
}
