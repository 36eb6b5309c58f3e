//! The system calls of elevation that need `unsafe`: all of them in this one
//! file, each with its SAFETY note.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

/// Who the session's first process becomes, set up between fork and exec.
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

/// `keyctl(2)` operation: join a new anonymous session keyring.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// Arranges for the child of `cmd`, between fork and exec: a new session
/// (so it has no controlling terminal but its own), the pty as controlling
/// terminal when `pty_is_stdin`, membership of the session cgroup through the
/// already-open `cgroup_procs` file, umask 022, every descriptor above 2
/// closed, then the target's groups, gid and uid, in that order, and a new
/// session keyring.
pub fn prepare_child(
    cmd: &mut Command,
    creds: Credentials,
    pty_is_stdin: bool,
    cgroup_procs: Option<RawFd>,
) {
    let supervisor = i32::try_from(std::process::id()).unwrap_or(-1);
    let hook = move || -> io::Result<()> {
        // SAFETY: between fork and exec we only make async-signal-safe
        // system calls on values owned by this closure (no allocation, no
        // lock, so other threads of the parent cannot matter): setsid,
        // ioctl, write, umask, close_range, setgroups/setgid/setuid on the
        // prepared vector, keyctl, prctl, getppid; errno is read through
        // libc's thread-local accessor.
        unsafe {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if pty_is_stdin && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(fd) = cgroup_procs
                && libc::write(fd, b"0".as_ptr().cast(), 1) != 1
            {
                return Err(io::Error::last_os_error());
            }
            libc::umask(0o022);
            // Descriptors we did not mean to hand over (the store, the audit
            // log, the signalfd, the pty master) never reach the command:
            // close-on-exec for all above 2 (closing them outright would
            // also close std's exec-error pipe).
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if libc::setgroups(creds.groups.len(), creds.groups.as_ptr()) < 0
                || libc::setgid(creds.gid) < 0
                || libc::setuid(creds.uid) < 0
            {
                return Err(io::Error::last_os_error());
            }
            // A session keyring of its own, owned by the run-as user: the
            // caller's (and the keys in it) stays the caller's. A kernel
            // without keyrings has none to hand over.
            if libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            ) < 0
                && *libc::__errno_location() != libc::ENOSYS
            {
                return Err(io::Error::last_os_error());
            }
            // Should the supervisor die, the command dies with it (set after
            // setuid, which clears it; its descendants are left to the
            // stale-session sweep, which kills the cgroup).
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != supervisor {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    };
    // SAFETY: the hook above only makes async-signal-safe calls.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// The window size of terminal `fd`, if it is one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the valid struct we pass.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0).then_some(ws)
}

/// Copies a window size onto terminal `fd` (the pty master).
pub fn set_window_size(fd: BorrowedFd<'_>, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads one winsize from the valid struct we pass.
    unsafe {
        libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, ws);
    }
}

/// Waits until one of `fds` has one of its `events` (or hangs up), or
/// `timeout` passes; returns the `revents` of each.
pub fn poll(fds: &[(RawFd, i16)], timeout: Duration) -> io::Result<Vec<i16>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: pfds is a valid, exclusively borrowed array of pfds.len() pollfds.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![0; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds.iter().map(|p| p.revents).collect())
}

/// Every signal back to its default action (except SIGPIPE, which std
/// ignores in us and resets in children). An ignored disposition survives
/// exec, so a caller could otherwise hand us, and the session, an ignored
/// SIGCHLD (no exit status), SIGHUP or SIGTERM (no orderly end).
pub fn default_signal_dispositions() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || sig == libc::SIGPIPE {
            continue;
        }
        // SAFETY: installing SIG_DFL registers no handler code; signals that
        // cannot be changed (or that libc reserves) just return EINVAL,
        // which we ignore.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// A pidfd for process `pid`: from then on it names that process and no
/// successor that gets the same pid.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor
    // (or -1); nothing else is touched.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `sig` to the process `pidfd` names (ESRCH once it has exited).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal reads a valid descriptor and two integers;
    // a null siginfo is allowed (the kernel fills in a kill()-like one).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
