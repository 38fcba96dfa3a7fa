//! The terminal's line discipline: whether a descriptor is a terminal, and its termios
//! settings, so that passwords can be typed without echo. Needs no privileges.

use rustix::termios::{OptionalActions, Termios};
use std::io;
use std::os::fd::AsFd;

/// `isatty(fd)` (`ioctl(TCGETS)`): whether `fd` is a terminal.
///
/// # References
/// - [isatty(3)](https://man7.org/linux/man-pages/man3/isatty.3.html)
#[doc(alias = "isatty")]
pub fn is_terminal(fd: impl AsFd) -> bool {
    rustix::termios::isatty(fd)
}

/// `tcgetattr(fd)`: the terminal's current settings.
///
/// # References
/// - [termios(3)](https://man7.org/linux/man-pages/man3/termios.3.html)
#[doc(alias = "tcgetattr")]
pub fn attributes(fd: impl AsFd) -> io::Result<Termios> {
    Ok(rustix::termios::tcgetattr(fd)?)
}

/// `tcsetattr(fd, TCSAFLUSH, attrs)`: applies settings once pending output is written,
/// discarding input typed but not yet read (so nothing typed before a password prompt is
/// taken as the password).
///
/// # References
/// - [termios(3)](https://man7.org/linux/man-pages/man3/termios.3.html)
#[doc(alias = "tcsetattr")]
pub fn set_attributes(fd: impl AsFd, attrs: &Termios) -> io::Result<()> {
    Ok(rustix::termios::tcsetattr(fd, OptionalActions::Flush, attrs)?)
}
