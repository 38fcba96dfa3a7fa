//! The system clocks. Reading needs no privileges; setting and slewing the realtime clock need
//! CAP_SYS_TIME (root).

use std::time::Duration;

/// `clock_gettime(CLOCK_REALTIME)`: seconds and nanoseconds since the Unix epoch, UTC.
///
/// # References
/// - [clock_gettime(2)](https://man7.org/linux/man-pages/man2/clock_gettime.2.html)
#[doc(alias = "clock_gettime")]
pub fn realtime() -> (i64, u32) {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    // tv_nsec is always in 0..1_000_000_000 for a valid clock read.
    (now.tv_sec, u32::try_from(now.tv_nsec).unwrap_or(0))
}

/// `clock_gettime(CLOCK_MONOTONIC)`: time since an arbitrary fixed point, never stepped.
#[doc(alias = "clock_gettime")]
pub fn monotonic() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    Duration::new(u64::try_from(now.tv_sec).unwrap_or(0), u32::try_from(now.tv_nsec).unwrap_or(0))
}

/// `clock_gettime(CLOCK_BOOTTIME)`: time since boot, including time spent suspended; the clock
/// `/proc/<pid>/stat` start times count on.
#[doc(alias = "clock_gettime")]
pub fn boottime() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    Duration::new(u64::try_from(now.tv_sec).unwrap_or(0), u32::try_from(now.tv_nsec).unwrap_or(0))
}

/// `clock_settime(CLOCK_REALTIME)`: steps the realtime clock to `secs` and `nanos` since the
/// Unix epoch. Needs CAP_SYS_TIME.
///
/// # References
/// - [clock_settime(2)](https://man7.org/linux/man-pages/man2/clock_settime.2.html)
#[doc(alias = "clock_settime")]
pub fn set_realtime(secs: i64, nanos: u32) -> std::io::Result<()> {
    let time = rustix::time::Timespec { tv_sec: secs, tv_nsec: nanos.into() };
    rustix::time::clock_settime(rustix::time::ClockId::Realtime, time).map_err(std::io::Error::from)
}

/// `adjtimex(ADJ_OFFSET_SINGLESHOT)`: slews the realtime clock by `micros` microseconds (the
/// adjtime(3) method: the kernel runs the clock 500 ppm fast or slow until the offset is used
/// up, never stepping it; a new call replaces an unfinished one). Needs CAP_SYS_TIME.
///
/// # References
/// - [adjtimex(2)](https://man7.org/linux/man-pages/man2/adjtimex.2.html)
#[doc(alias = "adjtimex")]
pub fn slew_realtime(micros: i64) -> std::io::Result<()> {
    // The kernel takes the offset as a C long; on 32-bit targets that is ±2147 s, far more than
    // anything worth slewing at 500 ppm (a day per 43 s).
    let offset = libc::c_long::try_from(micros).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: an all-zero `timex` is a valid value of this plain C struct (integers only).
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    timex.modes = libc::ADJ_OFFSET_SINGLESHOT;
    timex.offset = offset;
    // SAFETY: `timex` is a valid, exclusively borrowed `struct timex` for the whole call; the
    // kernel reads the fields `modes` selects and writes the clock state back into it.
    if unsafe { libc::adjtimex(&mut timex) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `adjtimex(ADJ_OFFSET_SS_READ)`: the part of an [`slew_realtime`] offset the kernel has not
/// applied yet, in microseconds. Needs no privileges.
#[doc(alias = "adjtimex")]
pub fn pending_slew() -> std::io::Result<i64> {
    // SAFETY: as in `slew_realtime`: a zeroed plain C struct.
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    timex.modes = libc::ADJ_OFFSET_SS_READ;
    // SAFETY: `timex` is a valid, exclusively borrowed `struct timex` for the whole call.
    if unsafe { libc::adjtimex(&mut timex) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::useless_conversion)] // a C long is i32 on 32-bit targets
    Ok(i64::from(timex.offset))
}

#[cfg(test)]
mod tests {
    #[test]
    fn realtime_agrees_with_std_system_time() {
        let std_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let (ours, nanos) = super::realtime();
        assert!((ours - std_now).abs() <= 1, "ours {ours} std {std_now}");
        assert!(nanos < 1_000_000_000);
    }

    #[test]
    fn boottime_agrees_with_proc_uptime() {
        let text = std::fs::read_to_string("/proc/uptime").unwrap();
        let uptime: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
        let ours = super::boottime().as_secs_f64();
        assert!((ours - uptime).abs() < 1.0, "ours {ours} /proc/uptime {uptime}");
    }

    #[test]
    fn clock_settime_reaches_the_kernel_and_slews_are_taken_as_root() {
        if crate::sys::ids::real_uid() != 0 {
            eprintln!("skipped: setting the clock needs root");
            return;
        }
        // A real step would move the clock under every other test running now (by however
        // long this thread waits between reading the time and setting it), so the call is
        // made with values the kernel refuses before it touches anything: that shows the
        // wrapper reaches clock_settime and reports its errno.
        for (secs, nanos) in [(-1, 0), (0, 1_000_000_000)] {
            let err = super::set_realtime(secs, nanos).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(22), "EINVAL for {secs} s {nanos} ns: {err}");
        }

        // adjtimex takes a slew and reports it pending; a zero slew cancels it.
        super::slew_realtime(2).unwrap();
        assert!((0..=2).contains(&super::pending_slew().unwrap()));
        super::slew_realtime(0).unwrap();
        assert_eq!(super::pending_slew().unwrap(), 0);
    }
}
