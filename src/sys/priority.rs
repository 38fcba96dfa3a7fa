//! CPU and I/O scheduling priority of the calling thread, so that long background work (backup,
//! restore) yields to the appliance's traffic analysis on the same cores and disks.
//!
//! On Linux both the nice value and the I/O priority belong to a thread, not the process: called
//! from the thread that does the work, they leave the rest of the process (a daemon's other
//! threads) as they were. Lowering needs no privileges; raising them back needs CAP_SYS_NICE
//! (nice) or CAP_SYS_ADMIN (the realtime I/O class).

use std::io;

/// The lowest CPU priority (the highest nice value).
pub const NICE_LOWEST: i32 = 19;

/// `IOPRIO_CLASS_BE`: the best-effort class, levels 0 (first) to 7 (last).
pub const IOPRIO_CLASS_BE: u16 = 2;
/// `IOPRIO_CLASS_IDLE`: served only when no one else uses the disk.
pub const IOPRIO_CLASS_IDLE: u16 = 3;

const IOPRIO_WHO_PROCESS: libc::c_int = 1;
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// `setpriority(PRIO_PROCESS, 0, nice)`: the calling thread's nice value (-20..19).
///
/// # References
/// - [setpriority(2)](https://man7.org/linux/man-pages/man2/setpriority.2.html)
#[doc(alias = "setpriority")]
pub fn set_nice(nice: i32) -> io::Result<()> {
    rustix::process::setpriority_process(None, nice).map_err(io::Error::from)
}

/// `getpriority(PRIO_PROCESS, 0)`: the calling thread's nice value.
#[doc(alias = "getpriority")]
pub fn nice() -> io::Result<i32> {
    rustix::process::getpriority_process(None).map_err(io::Error::from)
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(class, level))`: the calling thread's
/// I/O priority. rustix has no wrapper for ioprio_set, so this is the raw system call.
///
/// # References
/// - [ioprio_set(2)](https://man7.org/linux/man-pages/man2/ioprio_set.2.html)
#[doc(alias = "ioprio_set")]
pub fn set_io_priority(class: u16, level: u16) -> io::Result<()> {
    let value = (libc::c_int::from(class) << IOPRIO_CLASS_SHIFT) | libc::c_int::from(level & 0x7);
    // SAFETY: ioprio_set takes three integers and touches no memory of ours; a bad value is
    // answered with EINVAL.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0 as libc::c_int, value) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, 0)`: the calling thread's I/O priority as (class, level).
#[doc(alias = "ioprio_get")]
pub fn io_priority() -> io::Result<(u16, u16)> {
    // SAFETY: as for ioprio_set: integers in, an integer out, no memory shared.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0 as libc::c_int) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    let value = rc as u16;
    Ok((value >> IOPRIO_CLASS_SHIFT, value & 0x7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_a_threads_priorities_shows_in_the_kernels_answers() {
        // In a thread of its own: the test harness's other threads keep their priorities.
        std::thread::spawn(|| {
            set_nice(NICE_LOWEST).unwrap();
            assert_eq!(nice().unwrap(), NICE_LOWEST);
            set_io_priority(IOPRIO_CLASS_BE, 7).unwrap();
            assert_eq!(io_priority().unwrap(), (IOPRIO_CLASS_BE, 7));
            // The kernel's own view of this thread agrees (field 19 of stat is the nice value).
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
            let nice_field: i32 = after_comm.split(' ').nth(16).unwrap().parse().unwrap();
            assert_eq!(nice_field, NICE_LOWEST);
            assert!(set_io_priority(4, 0).is_err(), "class 4 does not exist");
        })
        .join()
        .unwrap();
    }
}
