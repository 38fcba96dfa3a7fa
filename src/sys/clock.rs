//! The system clocks. Reading needs no privileges.

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
}
