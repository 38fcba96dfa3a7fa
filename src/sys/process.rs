//! Starting and signalling supervised services. Needs the privileges of the services it starts
//! (root on the appliance) and permission to signal them.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// `fork()` + `prctl(PR_SET_PDEATHSIG, SIGTERM)` + `execv(argv[0], argv)`: starts a service
/// that the kernel sends SIGTERM when the thread that started it dies — so a daemon killed with
/// SIGKILL leaves no orphans behind that a restarted daemon would start a second time. The
/// caller must start it from a thread that lives as long as the supervision does.
///
/// No shell: argv[0] is the program, the rest its arguments; the environment is a minimal PATH.
///
/// # References
/// - [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html)
#[doc(alias = "PR_SET_PDEATHSIG")]
pub fn spawn_supervised(argv: &[String]) -> io::Result<Child> {
    let (program, args) = argv.split_first().ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null());
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: prctl and getppid are plain system calls that neither allocate nor lock.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would signal us.
            if libc::getppid() == 1 {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// `kill(pid, SIGTERM)`: asks a service to stop.
#[doc(alias = "kill")]
pub fn terminate(pid: u32) -> io::Result<()> {
    let pid = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
    Ok(())
}

/// `kill(pid, SIGHUP)`: asks a service to read its configuration again.
#[doc(alias = "kill")]
pub fn hangup(pid: u32) -> io::Result<()> {
    let pid = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    rustix::process::kill_process(pid, rustix::process::Signal::HUP)?;
    Ok(())
}

/// `kill(pid, SIGKILL)`: stops a service that ignored SIGTERM.
pub fn kill(pid: u32) -> io::Result<()> {
    let pid = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    rustix::process::kill_process(pid, rustix::process::Signal::KILL)?;
    Ok(())
}
