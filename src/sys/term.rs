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

/// `tcgetwinsize(fd)` (`ioctl(TIOCGWINSZ)`): the terminal's width in columns, if it says.
///
/// # References
/// - [ioctl_tty(2)](https://man7.org/linux/man-pages/man2/ioctl_tty.2.html)
#[doc(alias = "TIOCGWINSZ")]
pub fn columns(fd: impl AsFd) -> Option<u16> {
    rustix::termios::tcgetwinsize(fd).ok().map(|size| size.ws_col).filter(|cols| *cols > 0)
}

/// `tcsetattr(fd, TCSADRAIN, raw)`: the line editor's mode: no line buffering, no echo, and
/// Ctrl-C read as a byte (VINTR off) rather than sent as SIGINT, while Ctrl-Z still suspends;
/// output processing (newline → CR LF) stays. Returns the settings to restore.
///
/// # References
/// - [termios(3)](https://man7.org/linux/man-pages/man3/termios.3.html)
#[doc(alias = "cfmakeraw")]
pub fn enter_raw(fd: impl AsFd) -> io::Result<Termios> {
    use rustix::termios::{InputModes, LocalModes, SpecialCodeIndex};
    let saved = rustix::termios::tcgetattr(&fd)?;
    let mut raw = saved.clone();
    raw.local_modes.remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::IEXTEN);
    raw.input_modes.remove(InputModes::ICRNL | InputModes::IXON | InputModes::INLCR);
    // _POSIX_VDISABLE: Ctrl-C arrives as 0x03 for the editor to act on.
    raw.special_codes[SpecialCodeIndex::VINTR] = 0;
    raw.special_codes[SpecialCodeIndex::VQUIT] = 0;
    raw.special_codes[SpecialCodeIndex::VMIN] = 1;
    raw.special_codes[SpecialCodeIndex::VTIME] = 0;
    rustix::termios::tcsetattr(&fd, OptionalActions::Drain, &raw)?;
    Ok(saved)
}

/// `tcsetattr(fd, TCSADRAIN, attrs)`: puts settings back without discarding what was typed.
#[doc(alias = "tcsetattr")]
pub fn restore(fd: impl AsFd, attrs: &Termios) -> io::Result<()> {
    Ok(rustix::termios::tcsetattr(fd, OptionalActions::Drain, attrs)?)
}
