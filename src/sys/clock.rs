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

    /// Realtime minus monotonic, nanoseconds: constant unless the realtime clock is stepped.
    fn realtime_minus_monotonic() -> i128 {
        let (secs, nanos) = super::realtime();
        let mono = super::monotonic();
        i128::from(secs) * 1_000_000_000 + i128::from(nanos) - mono.as_nanos() as i128
    }

    #[test]
    fn stepping_the_clock_to_now_and_slewing_by_a_microsecond_work_as_root() {
        if crate::sys::ids::real_uid() != 0 {
            eprintln!("skipped: setting the clock needs root");
            return;
        }
        let before = realtime_minus_monotonic();
        // Step to "now", corrected for the time between the read and the call: a real
        // clock_settime that moves the clock by well under a microsecond.
        let (secs, nanos) = super::realtime();
        let read_at = super::monotonic();
        let elapsed = (super::monotonic() - read_at).as_nanos() as i128;
        let target = i128::from(secs) * 1_000_000_000 + i128::from(nanos) + elapsed;
        match super::set_realtime((target / 1_000_000_000) as i64, (target % 1_000_000_000) as u32) {
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: root without CAP_SYS_TIME here");
                return;
            }
            other => other.unwrap(),
        }
        let after = realtime_minus_monotonic();
        assert!((after - before).abs() < 1_000_000, "the step moved the clock by {} ns", after - before);

        // adjtimex takes a slew and reports it pending; a zero slew cancels it.
        super::slew_realtime(2).unwrap();
        assert!((0..=2).contains(&super::pending_slew().unwrap()));
        super::slew_realtime(0).unwrap();
        assert_eq!(super::pending_slew().unwrap(), 0);
    }
}
