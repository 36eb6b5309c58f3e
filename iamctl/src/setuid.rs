//! The setuid pipeline's first steps (docs/ARCHITECTURE.md, "iamctl"), run before argv is
//! parsed: iamctl is installed setuid root, so everything the caller hands
//! over — environment, descriptors, umask, core dumps — is treated as hostile.
//!
//! Order: self-check → standard descriptors sane → inherited fds ≥ 3 closed →
//! the starting cgroup noted → not dumpable → umask 077 → environment reset →
//! resource limits reset. Once argv is parsed, a verb that opens the store
//! first puts iamctl out of the caller's reach ([`out_of_reach`]); config
//! and store are then opened by `main`, from the fixed path for non-root
//! callers.
#![allow(unsafe_code)]

use crate::error::CliError;
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Uid, getegid, geteuid, getgid, getuid};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The only config a non-root caller gets.
pub const SYSTEM_CONFIG: &str = "/etc/iam/iam.toml";

/// PATH for anything we might run (nothing today; kept sane regardless).
const SECURE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Who started us, read before anything else can change it.
#[derive(Debug, Clone, Copy)]
pub struct Invoker {
    pub uid: Uid,
}

impl Invoker {
    pub fn is_root(&self) -> bool {
        self.uid.is_root()
    }

    /// The calling process as the session rules see it: this process, the
    /// caller's real uid, and the role session cgroup it started in (read
    /// by [`harden`] before iamctl moved anywhere).
    pub fn caller_process(&self) -> crate::procs::CallerProcess {
        crate::procs::CallerProcess {
            pid: std::process::id(),
            uid: self.uid.as_raw(),
            cgroup_session: SESSION_CGROUP.get().cloned().flatten(),
        }
    }
}

/// The real uid, recorded by [`harden`] for [`as_invoker`].
static INVOKER: OnceLock<Uid> = OnceLock::new();

/// The role session whose cgroup we started in, recorded by [`harden`].
static SESSION_CGROUP: OnceLock<Option<String>> = OnceLock::new();

/// Runs `f` with the caller's effective uid, so a file named on the command
/// line (`file://` documents, `--outfile`, `--out-dir`, an import file) is
/// opened with the caller's rights, never root's: a setuid iamctl must not
/// read /etc/shadow or overwrite a root file for a user.
pub fn as_invoker<T>(f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let uid = match INVOKER.get() {
        Some(uid) if !uid.is_root() && geteuid().is_root() => *uid,
        _ => return f(),
    };
    nix::unistd::seteuid(uid).map_err(std::io::Error::from)?;
    let result = f();
    if nix::unistd::seteuid(Uid::from_raw(0)).is_err() {
        // Cannot regain root to finish the call: stop here rather than
        // carry on in a half-privileged state.
        std::process::abort();
    }
    result
}

/// Harden the process. Must run first in `main`, while single-threaded.
pub fn harden() -> Result<Invoker, CliError> {
    let invoker = Invoker { uid: getuid() };
    let _ = INVOKER.set(invoker.uid);
    // Self-check: a non-root caller only gets anywhere through the setuid bit.
    if !invoker.is_root() && !geteuid().is_root() {
        return Err(CliError::new(
            "ServiceFailure",
            "iamctl must be owned by uid 0 and have the setuid bit set",
        ));
    }
    // A setgid or otherwise odd elevation is not ours to trust.
    if !invoker.is_root() && getegid() != getgid() {
        return Err(CliError::new(
            "ServiceFailure",
            "iamctl must not be installed setgid",
        ));
    }
    ensure_std_fds_open();
    close_inherited_fds();
    // Where we started, before anything moves us: a role session is
    // recognised by its exact, root-owned command cgroup.
    let _ = SESSION_CGROUP.set(crate::cgroups::own_session());
    // No core dumps or ptrace of a process holding secrets.
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| CliError::new("ServiceFailure", format!("prctl(PR_SET_DUMPABLE): {e}")))?;
    umask(Mode::from_bits_truncate(0o077));
    reset_environment();
    reset_limits()?;
    Ok(invoker)
}

/// Puts a setuid iamctl of a non-root caller out of that caller's reach, as
/// its first step before the store (docs/ARCHITECTURE.md, "iamctl"): a transaction it holds
/// must never be held up by the caller, or every login on the host (and on
/// every host sharing the store) waits for it and fails after the busy
/// timeout. So: real, effective and saved uid 0 (the caller may no longer
/// signal it: no SIGSTOP), the terminal's job control signals ignored
/// (SIGTSTP, SIGTTIN, SIGTTOU: the caller's terminal would stop it), and
/// out of every cgroup the caller could freeze, throttle or kill
/// ([`crate::cgroups::leave_caller_cgroups`]); where it cannot leave one,
/// it refuses to run. Root's own calls are left where root runs them.
pub fn out_of_reach(invoker: Invoker) -> Result<(), CliError> {
    if invoker.is_root() {
        return Ok(());
    }
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        CliError::new("ServiceFailure", format!("{what}: {e}"))
    };
    let root = Uid::from_raw(0);
    nix::unistd::setresuid(root, root, root).map_err(|e| fail("setresuid", &e))?;
    // A change of credentials may reset it: not dumpable, again.
    nix::sys::prctl::set_dumpable(false).map_err(|e| fail("prctl(PR_SET_DUMPABLE)", &e))?;
    for sig in [
        nix::sys::signal::Signal::SIGTSTP,
        nix::sys::signal::Signal::SIGTTIN,
        nix::sys::signal::Signal::SIGTTOU,
    ] {
        // SAFETY: SIG_IGN installs no handler code; nothing else in this
        // single-threaded process is changing dispositions meanwhile.
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }
            .map_err(|e| fail("signal", &e))?;
    }
    reset_scheduling().map_err(|e| fail("scheduling", &e))?;
    // A bound on how long a root process the caller cannot kill may live
    // (a prompt never answered, output never read): SIGALRM's default
    // action ends it; the assume-role supervisor, whose life the session
    // bounds, takes SIGALRM itself.
    // SAFETY: SIG_DFL installs no handler code; single-threaded here.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGALRM,
            nix::sys::signal::SigHandler::SigDfl,
        )
    }
    .map_err(|e| fail("signal", &e))?;
    nix::unistd::alarm::set(MAX_CALL_SECONDS);
    crate::cgroups::leave_caller_cgroups(crate::elevate::session::IAMCTL_CGROUP)
        .map_err(|e| CliError::new("ServiceFailure", e.to_string()))
}

/// The longest a non-root caller's iamctl runs before the kernel ends it.
const MAX_CALL_SECONDS: u32 = 600;

/// The caller's scheduling settings are not ours to keep: an idle-class,
/// niced, single-CPU, idle-I/O iamctl holding the store's write lock would
/// stretch every transaction and time out logins on every host sharing
/// the store. Back to the defaults.
fn reset_scheduling() -> std::io::Result<()> {
    let check = |r: libc::c_int| {
        if r == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain system calls on this process with valid arguments; the
    // sched_param outlives the call.
    unsafe {
        check(libc::sched_setscheduler(0, libc::SCHED_OTHER, &param))?;
        check(libc::setpriority(libc::PRIO_PROCESS, 0, 0))?;
        // IOPRIO_WHO_PROCESS = 1, this process, class NONE: the default.
        check(libc::syscall(libc::SYS_ioprio_set, 1, 0, 0) as libc::c_int)?;
        // 0: the default timer slack.
        check(libc::prctl(libc::PR_SET_TIMERSLACK, 0, 0, 0, 0))?;
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes within
    // it for every index below CPU_SETSIZE; the set outlives the call.
    unsafe {
        let mut all: libc::cpu_set_t = std::mem::zeroed();
        for cpu in 0..libc::CPU_SETSIZE as usize {
            libc::CPU_SET(cpu, &mut all);
        }
        check(libc::sched_setaffinity(
            0,
            std::mem::size_of::<libc::cpu_set_t>(),
            &all,
        ))
    }
}

/// Gives up root for good (real, effective and saved uid = the caller's),
/// for verbs that need no privilege: `simulate-custom-policy`, Access
/// Analyzer's `validate-policy`, `check-no-new-access` and
/// `check-access-not-granted`, `completion`, `man`. Whatever files they
/// read or write, they do as the caller.
pub fn drop_privileges(invoker: Invoker) -> Result<(), CliError> {
    if invoker.is_root() {
        return Ok(());
    }
    let gid = getgid();
    nix::unistd::setresgid(gid, gid, gid)
        .and_then(|()| nix::unistd::setresuid(invoker.uid, invoker.uid, invoker.uid))
        .map_err(|e| CliError::new("ServiceFailure", format!("cannot drop privileges: {e}")))?;
    if geteuid().is_root() {
        return Err(CliError::new("ServiceFailure", "cannot drop privileges"));
    }
    // A change of credentials may make us dumpable: what the store left in
    // freed memory must not become the caller's to read with ptrace.
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| CliError::new("ServiceFailure", format!("prctl(PR_SET_DUMPABLE): {e}")))
}

/// The config path to use: `--config` for root only, the system one otherwise.
pub fn config_path(invoker: Invoker, requested: Option<&Path>) -> PathBuf {
    match requested {
        Some(p) if invoker.is_root() => p.to_path_buf(),
        _ => PathBuf::from(SYSTEM_CONFIG),
    }
}

/// Open /dev/null on any of fds 0–2 that is closed, so a file we open later
/// cannot land on "stdout" and receive output meant for the terminal.
fn ensure_std_fds_open() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only queries the descriptor table; any integer is
        // a valid argument (a closed descriptor yields -1/EBADF).
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // Opening takes the lowest free descriptor, which is `fd`.
            if let Ok(f) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                std::mem::forget(f);
            }
        }
    }
}

/// Close every descriptor ≥ 3 the caller left open to us.
fn close_inherited_fds() {
    // SAFETY: runs first in main, single-threaded; no Rust object owns a
    // descriptor ≥ 3 yet (std opens none before main), so closing them cannot
    // invalidate an OwnedFd/File. close_range takes plain integers.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if rc != 0 {
        // Old kernel: close what /proc says is open (collect first, since
        // reading the directory itself uses a descriptor).
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .filter(|fd| *fd >= 3)
                    .collect()
            })
            .unwrap_or_default();
        for fd in fds {
            // SAFETY: as above; a descriptor that is already closed (the
            // read_dir one) just yields EBADF, which we ignore.
            unsafe { libc::close(fd) };
        }
    }
}

/// Replace the caller's environment with a fixed minimal one (sudo's
/// env_reset): nothing the caller sets may steer us.
fn reset_environment() {
    let keep_term = std::env::var("TERM").ok().filter(|t| {
        t.len() < 64
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
    });
    let keys: Vec<_> = std::env::vars_os().map(|(k, _)| k).collect();
    for k in keys {
        // SAFETY: called in `harden`, first thing in main, before any thread
        // exists, so nothing reads the environment concurrently.
        unsafe { std::env::remove_var(k) };
    }
    // SAFETY: as above.
    unsafe {
        std::env::set_var("PATH", SECURE_PATH);
        std::env::set_var("LC_ALL", "C");
        if let Some(t) = keep_term {
            std::env::set_var("TERM", t);
        }
    }
}

/// Resource limits back to init's (a fresh login's), for every verb and so
/// for an assume-role session: the caller's may be hostile, e.g. a tiny
/// RLIMIT_FSIZE that would cut a store page or an audit line in half. Where
/// a hard limit cannot be raised (no CAP_SYS_RESOURCE, e.g. in a container)
/// the soft one goes as high as it may; a file size limit still below the
/// system's is refused.
fn reset_limits() -> Result<(), CliError> {
    let Ok(text) = std::fs::read_to_string("/proc/1/limits") else {
        return Ok(());
    };
    for (name, soft, hard) in crate::elevate::session::parse_proc_limits(&text) {
        let resource = match name.as_str() {
            "Max cpu time" => libc::RLIMIT_CPU,
            "Max file size" => libc::RLIMIT_FSIZE,
            "Max data size" => libc::RLIMIT_DATA,
            "Max stack size" => libc::RLIMIT_STACK,
            "Max core file size" => libc::RLIMIT_CORE,
            "Max resident set" => libc::RLIMIT_RSS,
            "Max processes" => libc::RLIMIT_NPROC,
            "Max open files" => libc::RLIMIT_NOFILE,
            "Max locked memory" => libc::RLIMIT_MEMLOCK,
            "Max address space" => libc::RLIMIT_AS,
            "Max file locks" => libc::RLIMIT_LOCKS,
            "Max pending signals" => libc::RLIMIT_SIGPENDING,
            "Max msgqueue size" => libc::RLIMIT_MSGQUEUE,
            "Max nice priority" => libc::RLIMIT_NICE,
            "Max realtime priority" => libc::RLIMIT_RTPRIO,
            "Max realtime timeout" => libc::RLIMIT_RTTIME,
            _ => continue,
        };
        if set_limit(resource, (soft, hard)) {
            continue;
        }
        let Some((_, current_hard)) = get_limit(resource) else {
            continue;
        };
        let capped = match (soft, current_hard) {
            (Some(s), Some(h)) => Some(s.min(h)),
            (None, h) => h,
            (s, None) => s,
        };
        set_limit(resource, (capped, current_hard));
        let below = |have: Option<u64>| match (have, soft) {
            (_, None) => have.is_some(),
            (None, Some(_)) => false,
            (Some(h), Some(s)) => h < s,
        };
        if resource == libc::RLIMIT_FSIZE && below(get_limit(resource).and_then(|l| l.0)) {
            return Err(CliError::new(
                "ServiceFailure",
                "The caller's file size limit (ulimit -f) is below the system's and cannot be raised here; run iamctl without it.",
            ));
        }
    }
    Ok(())
}

/// A resource limit (soft, hard); `None`: unlimited.
type Limit = (Option<u64>, Option<u64>);

/// The current limit of `resource`.
fn get_limit(resource: libc::__rlimit_resource_t) -> Option<Limit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid struct we pass.
    if unsafe { libc::getrlimit(resource, &mut lim) } != 0 {
        return None;
    }
    let v = |x: libc::rlim_t| (x != libc::RLIM_INFINITY).then_some(x);
    Some((v(lim.rlim_cur), v(lim.rlim_max)))
}

/// Sets the limit of `resource`; whether the kernel took it (raising a
/// hard limit needs CAP_SYS_RESOURCE).
fn set_limit(resource: libc::__rlimit_resource_t, (soft, hard): Limit) -> bool {
    let lim = libc::rlimit {
        rlim_cur: soft.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: hard.unwrap_or(libc::RLIM_INFINITY),
    };
    // SAFETY: setrlimit reads one valid rlimit struct.
    unsafe { libc::setrlimit(resource, &lim) == 0 }
}
