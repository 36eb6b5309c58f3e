//! The supervisor: a root process that owns a role session from its first
//! process to its last. It runs the command in a new session (on a pty when
//! the caller has a terminal, as sudo-rs does), relays the terminal, forwards
//! signals, and at expiry, on revocation, or when the command exits ends
//! every process the session started — through its root-owned cgroup v2
//! directory `iam/sessions/ID/command` when it can create one
//! (`cgroup.kill`), else by sweeping its own descendants (it is a child
//! subreaper, so orphans come back to it). The supervisor itself sits in
//! `iam/sessions/ID/supervisor`.

use super::sys::{self, Credentials};
use crate::cgroups::Cgroup2;
use chrono::{DateTime, Utc};
use iam::elevation::{self as rules, EndReason, REVOKE_POLL, Step, Timeline};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to run, as whom.
pub struct Launch {
    pub program: PathBuf,
    pub argv0: OsString,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub creds: Credentials,
    pub session_id: String,
    pub session_name: String,
    /// Track the session in a cgroup when one can be made (always, outside
    /// tests of the fallback).
    pub use_cgroup: bool,
}

/// How a session ended: the command's exit status (128+signal when killed,
/// as a shell reports it) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: i32,
    pub reason: EndReason,
}

/// After SIGKILL, how long to wait for the session to be empty.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The set of processes of a session.
enum Members {
    /// `iam/sessions/ID/command` (cgroup v2): every process of the session,
    /// inescapably for a non-root run-as user.
    Cgroup { v2: Cgroup2, id: String },
    /// No usable cgroup v2: our descendants (we are a subreaper).
    Descendants,
}

impl Members {
    /// Moves the supervisor into its own root-owned cgroup and makes the
    /// session's; returns the command cgroup's `cgroup.procs`, open for the
    /// child to enter between fork and exec.
    fn create(session_id: &str, use_cgroup: bool) -> (Self, Option<File>) {
        let Some(v2) = Cgroup2::open().filter(|_| use_cgroup) else {
            return (Self::Descendants, None);
        };
        let procs = v2
            .enter(&rules::supervisor_cgroup(session_id))
            .and_then(|()| v2.procs_file(&rules::command_cgroup(session_id)));
        match procs {
            Ok(f) => (
                Self::Cgroup {
                    v2,
                    id: session_id.to_owned(),
                },
                Some(f),
            ),
            Err(_) => {
                remove_session_cgroups(&v2, session_id);
                (Self::Descendants, None)
            }
        }
    }

    fn pids(&self) -> Vec<i32> {
        match self {
            Self::Cgroup { v2, id } => v2.pids(&rules::command_cgroup(id)).unwrap_or_default(),
            Self::Descendants => descendants(std::process::id()),
        }
    }

    fn signal(&self, sig: Signal) {
        if sig == Signal::SIGKILL
            && let Self::Cgroup { v2, id } = self
            && v2.kill(&rules::command_cgroup(id)).is_ok()
        {
            return;
        }
        for pid in self.pids() {
            let _ = kill(Pid::from_raw(pid), sig);
            if sig == Signal::SIGHUP {
                // A stopped process must run to see its hangup.
                let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
            }
        }
    }

    /// Removes the session's cgroups (the supervisor leaves its own first).
    fn remove(&self) {
        if let Self::Cgroup { v2, id } = self {
            let _ = v2.enter(rules::IAMCTL_CGROUP);
            remove_session_cgroups(v2, id);
        }
    }
}

/// Removes what is empty of session `id`'s cgroups.
fn remove_session_cgroups(v2: &Cgroup2, id: &str) {
    let command = rules::command_cgroup(id);
    for _ in 0..50 {
        if v2.remove(&command).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = v2.remove(&rules::supervisor_cgroup(id));
    let _ = v2.remove(&format!("{}/{id}", rules::SESSIONS_CGROUP));
}

/// Ends whatever is left of a session whose supervisor died: its cgroup,
/// or else the processes of the Linux session its command led (started
/// no earlier than the session, so a reused id is not mistaken for it).
pub fn kill_leftovers(session_id: &str, started: i64) {
    if !rules::is_session_id(session_id) {
        return;
    }
    if let Some(v2) = Cgroup2::open()
        && v2.exists(&format!("{}/{session_id}", rules::SESSIONS_CGROUP))
    {
        let _ = v2.kill(&rules::command_cgroup(session_id));
        remove_session_cgroups(&v2, session_id);
    }
    let marker = Path::new(rules::RUN_DIR).join(session_id);
    if let Some(sid) = fs::read_to_string(&marker)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    {
        for _ in 0..3 {
            for p in processes() {
                if p.sid == sid && p.start_unix + 2 >= started {
                    let _ = kill(
                        Pid::from_raw(i32::try_from(p.pid).unwrap_or(-1)),
                        Signal::SIGKILL,
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = fs::remove_file(marker);
}

/// The note in [`iam::elevation::RUN_DIR`] of a running session; removed
/// when the supervisor ends it.
struct Marker(PathBuf);

impl Marker {
    fn write(session_id: &str, sid: u32) -> Option<Self> {
        if !iam::elevation::is_session_id(session_id) {
            return None;
        }
        let dir = Path::new(iam::elevation::RUN_DIR);
        fs::create_dir_all(dir).ok()?;
        let path = dir.join(session_id);
        fs::write(&path, format!("{sid}\n")).ok()?;
        Some(Self(path))
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Every process `/proc` shows.
fn processes() -> Vec<iam::elevation::ProcessInfo> {
    let Some(boot) = fs::read_to_string("/proc/stat").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    }) else {
        return Vec::new();
    };
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            iam::elevation::ProcessInfo::parse(pid, &stat, boot)
        })
        .collect()
}

/// All descendants of `root` (from `/proc/*/stat`).
fn descendants(root: u32) -> Vec<i32> {
    let parent_of: Vec<(u32, u32)> = processes().iter().map(|p| (p.pid, p.ppid)).collect();
    let mut out: Vec<u32> = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parent_of {
            if parent == p && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out.into_iter()
        .filter_map(|p| i32::try_from(p).ok())
        .collect()
}

/// The caller's terminal, put in raw mode while the session runs on a pty,
/// restored on drop.
struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    fn enter() -> Option<Self> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSADRAIN, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// Signals the supervisor takes through its signalfd instead of dying.
fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGUSR1,
        Signal::SIGWINCH,
        Signal::SIGALRM,
        Signal::SIGPIPE,
    ] {
        set.add(s);
    }
    set
}

/// The signals we handle blocked (to be read from a signalfd), then default
/// dispositions: called before the session record exists, so that a
/// revoke-session nudge (SIGUSR1) can never kill us, and blocked first, so
/// that no stop signal finds its default action in between. Idempotent.
pub fn block_signals() -> io::Result<SigSet> {
    let mask = handled_signals();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(io::Error::from)?;
    sys::default_signal_dispositions();
    Ok(mask)
}

/// Runs the session to its end: `revoked` is asked about once per
/// [`REVOKE_POLL`] (or at once on SIGUSR1); the caller is warned on its
/// terminal before expiry.
pub fn supervise(
    launch: Launch,
    expires: DateTime<Utc>,
    mut revoked: impl FnMut() -> bool,
) -> io::Result<Outcome> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)?;
    let mask = block_signals()?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(io::Error::from)?;

    // Into our own cgroup before anything of the session exists.
    let (members, procs_file) = Members::create(&launch.session_id, launch.use_cgroup);
    let use_pty = io::stdin().is_terminal();
    let mut cmd = Command::new(&launch.program);
    cmd.arg0(&launch.argv0)
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.cwd);
    let mut master: Option<OwnedFd> = None;
    if use_pty {
        let ws = sys::window_size(io::stdin().as_fd());
        let pty = nix::pty::openpty(ws.as_ref(), None).map_err(io::Error::from)?;
        // The session's terminal belongs to the user it runs as.
        nix::unistd::fchown(
            &pty.slave,
            Some(nix::unistd::Uid::from_raw(launch.creds.uid)),
            None,
        )
        .map_err(io::Error::from)?;
        cmd.stdin(Stdio::from(pty.slave.try_clone()?))
            .stdout(Stdio::from(pty.slave.try_clone()?))
            .stderr(Stdio::from(pty.slave));
        nix::fcntl::fcntl(
            &pty.master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(io::Error::from)?;
        master = Some(pty.master);
    }
    sys::prepare_child(
        &mut cmd,
        launch.creds,
        use_pty,
        procs_file.as_ref().map(AsRawFd::as_raw_fd),
    );
    let raw = if use_pty { RawTerminal::enter() } else { None };
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            drop(raw);
            members.remove();
            return Err(e);
        }
    };
    drop(cmd); // closes our copies of the pty slave
    drop(procs_file);
    let child_pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    // The command leads its own Linux session: its id is the command's pid.
    let marker = Marker::write(&launch.session_id, child.id());

    let mut sup = Supervisor {
        members,
        master,
        stdin_open: use_pty,
        child_pid,
        child_status: None,
        timeline: Timeline::new(expires),
        expires,
        session_name: launch.session_name,
        use_pty,
        look_now: false,
        to_child: Vec::new(),
    };
    let result = sup.run(&sfd, &mut revoked);
    drop(raw);
    sup.members.remove();
    drop(marker);
    result
}

struct Supervisor {
    members: Members,
    master: Option<OwnedFd>,
    stdin_open: bool,
    child_pid: Pid,
    child_status: Option<i32>,
    timeline: Timeline,
    expires: DateTime<Utc>,
    session_name: String,
    use_pty: bool,
    /// Look at the session record before the next poll is due.
    look_now: bool,
    /// Caller's input not yet taken by the pty.
    to_child: Vec<u8>,
}

impl Supervisor {
    fn run(&mut self, sfd: &SignalFd, revoked: &mut impl FnMut() -> bool) -> io::Result<Outcome> {
        let mut last_revoke_check = Instant::now();
        let mut killed_at: Option<Instant> = None;
        loop {
            self.reap();
            let empty = self.members.pids().is_empty();
            if self.child_status.is_some() && empty {
                break;
            }
            if self.child_status.is_some() {
                // The command exited but left processes behind: they end
                // with the session.
                self.timeline.end(EndReason::Exited);
            }
            if killed_at.is_some_and(|t| t.elapsed() > KILL_WAIT) {
                break;
            }
            if self.look_now || last_revoke_check.elapsed() >= REVOKE_POLL {
                self.look_now = false;
                last_revoke_check = Instant::now();
                if revoked() {
                    self.timeline.end(EndReason::Revoked);
                }
            }
            let wait = match self.timeline.step(Utc::now()) {
                Step::Wait(d) => d,
                Step::Warn => {
                    let left = (self.expires - Utc::now()).num_seconds().max(0);
                    self.notice(&format!(
                        "role session {} ends in {left} seconds ({})",
                        self.session_name,
                        iam::elevation::iso8601(self.expires)
                    ));
                    continue;
                }
                Step::Hangup => {
                    match self.timeline.end_reason() {
                        Some(EndReason::Expired) => {
                            self.notice(&format!("role session {} expired", self.session_name))
                        }
                        Some(EndReason::Revoked) => {
                            self.notice(&format!("role session {} was revoked", self.session_name))
                        }
                        _ => {}
                    }
                    self.members.signal(Signal::SIGHUP);
                    continue;
                }
                Step::Kill => {
                    self.members.signal(Signal::SIGKILL);
                    killed_at = Some(Instant::now());
                    continue;
                }
            };
            // Short waits once the session is ending, so it ends promptly.
            let wait = if self.child_status.is_some() || killed_at.is_some() {
                wait.min(Duration::from_millis(100))
            } else {
                wait
            };
            self.wait_io(sfd, wait)?;
        }
        self.drain_master();
        Ok(Outcome {
            status: self.child_status.unwrap_or(128 + Signal::SIGKILL as i32),
            reason: self.timeline.end_reason().unwrap_or(EndReason::Exited),
        })
    }

    /// Reaps every exited child (orphans are ours as subreaper), keeping the
    /// status of the command itself.
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.child_pid => {
                    self.child_status = Some(code);
                }
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == self.child_pid => {
                    self.child_status = Some(128 + sig as i32);
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn wait_io(&mut self, sfd: &SignalFd, timeout: Duration) -> io::Result<()> {
        const IN: i16 = libc::POLLIN;
        let mut fds = vec![(sfd.as_raw_fd(), IN)];
        let master_fd = self.master.as_ref().map(AsRawFd::as_raw_fd);
        if let Some(m) = master_fd {
            let out = if self.to_child.is_empty() {
                0
            } else {
                libc::POLLOUT
            };
            fds.push((m, IN | out));
        }
        // Take more input only once the last is delivered (backpressure).
        let read_stdin = self.stdin_open && self.to_child.is_empty();
        if read_stdin {
            fds.push((libc::STDIN_FILENO, IN));
        }
        let revents = sys::poll(&fds, timeout)?;
        if revents[0] != 0 {
            while let Ok(Some(info)) = sfd.read_signal() {
                self.on_signal(info.ssi_signo as i32);
            }
        }
        if master_fd.is_some() {
            if revents[1] & libc::POLLOUT != 0 {
                self.flush_to_child();
            }
            if revents[1] & !libc::POLLOUT != 0 {
                self.copy_from_master();
            }
        }
        if read_stdin && revents[fds.len() - 1] != 0 {
            self.copy_to_master();
        }
        Ok(())
    }

    fn on_signal(&mut self, signo: i32) {
        let Ok(sig) = Signal::try_from(signo) else {
            return;
        };
        match sig {
            Signal::SIGCHLD => {}
            // From revoke-session (only root can signal us): look now.
            Signal::SIGUSR1 => self.look_now = true,
            Signal::SIGWINCH => {
                if let (Some(ws), Some(m)) = (sys::window_size(io::stdin().as_fd()), &self.master) {
                    sys::set_window_size(m.as_fd(), &ws);
                }
            }
            // Terminal job control is the session's own business on its pty.
            Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU | Signal::SIGPIPE => {}
            // Everything else sent to us is meant for the command.
            other => {
                let _ = kill(Pid::from_raw(-self.child_pid.as_raw()), other);
            }
        }
    }

    fn copy_from_master(&mut self) {
        let Some(m) = &self.master else { return };
        let mut buf = [0u8; 8192];
        match nix::unistd::read(m, &mut buf) {
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Ok(0) | Err(_) => {
                // EIO: every slave descriptor is closed.
                self.master = None;
            }
            Ok(n) => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
        }
    }

    fn copy_to_master(&mut self) {
        let mut buf = [0u8; 4096];
        // Straight from fd 0: std's buffered stdin could keep bytes that
        // poll() then no longer reports.
        match nix::unistd::read(io::stdin(), &mut buf) {
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Ok(0) | Err(_) => self.stdin_open = false,
            Ok(n) => {
                self.to_child.extend_from_slice(&buf[..n]);
                self.flush_to_child();
            }
        }
    }

    /// Writes what the pty takes now (the master is non-blocking, so a
    /// command that does not read can never stall the supervisor).
    fn flush_to_child(&mut self) {
        let Some(m) = &self.master else {
            self.to_child.clear();
            return;
        };
        match nix::unistd::write(m, &self.to_child) {
            Ok(n) => {
                self.to_child.drain(..n);
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(_) => self.to_child.clear(),
        }
    }

    /// Output the command wrote just before it exited.
    fn drain_master(&mut self) {
        for _ in 0..64 {
            let Some(m) = &self.master else { return };
            let ready = sys::poll(&[(m.as_raw_fd(), libc::POLLIN)], Duration::from_millis(20));
            if !ready.is_ok_and(|r| r[0] != 0) {
                return;
            }
            self.copy_from_master();
        }
    }

    /// A line for the caller, on their terminal (raw: needs \r\n).
    fn notice(&self, text: &str) {
        let line = if self.use_pty {
            format!("\r\niamctl: {text}\r\n")
        } else {
            format!("iamctl: {text}\n")
        };
        if self.use_pty {
            let _ = io::stdout().write_all(line.as_bytes());
            let _ = io::stdout().flush();
        } else {
            let _ = io::stderr().write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn launch(script: &str, id: &str) -> Launch {
        Launch {
            program: "/bin/sh".into(),
            argv0: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("PATH".into(), iam::elevation::SECURE_PATH.into())],
            cwd: "/".into(),
            creds: Credentials {
                uid: 0,
                gid: 0,
                groups: vec![0],
            },
            session_id: id.into(),
            session_name: "test".into(),
            use_cgroup: true,
        }
    }

    fn alive(pid: i32) -> bool {
        // A zombie still has a /proc entry; it is dead for our purposes.
        fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
    }

    /// One test, run in sequence: the supervisor reaps every child of the
    /// process, so parallel supervisors in one test binary would steal each
    /// other's exit statuses.
    #[test]
    fn supervisor_ends_whole_sessions() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: the supervisor test needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let far = Utc::now() + TimeDelta::seconds(600);

        // The command's exit status comes back.
        let out = supervise(launch("exit 7", "t-exit"), far, || false).unwrap();
        assert_eq!(
            out,
            Outcome {
                status: 7,
                reason: EndReason::Exited
            }
        );

        // Expiry ends the command and what it backgrounded, hangup first.
        let pidfile = dir.path().join("bg");
        let script = format!(
            "sleep 600 & echo $! > {}; trap '' HUP; sleep 600",
            pidfile.display()
        );
        let start = Instant::now();
        let out = supervise(
            launch(&script, "t-expire"),
            Utc::now() + TimeDelta::seconds(2),
            || false,
        )
        .unwrap();
        assert_eq!(out.reason, EndReason::Expired);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(9),
            "{took:?}"
        );
        let bg: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(bg), "background child {bg} survived");

        // Revocation ends a session within the poll interval plus the grace;
        // a process that escapes into its own session does not survive.
        let script = format!(
            "setsid sleep 600 & echo $! > {}; sleep 600",
            pidfile.display()
        );
        let start = Instant::now();
        let out = supervise(launch(&script, "t-revoke"), far, || {
            start.elapsed() > Duration::from_secs(1)
        })
        .unwrap();
        assert_eq!(out.reason, EndReason::Revoked);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let bg: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(bg), "escaped child {bg} survived");

        // Without a cgroup, the descendant sweep catches the escapee too.
        let mut l = launch(&script, "t-revoke-nocg");
        l.use_cgroup = false;
        let start = Instant::now();
        let out = supervise(l, far, || start.elapsed() > Duration::from_secs(1)).unwrap();
        assert_eq!(out.reason, EndReason::Revoked);
        let bg: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(bg), "escaped child {bg} survived the sweep");

        // Leftovers of a command that exited end with it.
        let script = format!("sleep 600 & echo $! > {}", pidfile.display());
        let out = supervise(launch(&script, "t-left"), far, || false).unwrap();
        assert_eq!(out.status, 0);
        let bg: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(bg), "leftover {bg} survived");

        // A crashed supervisor's session without a cgroup: found by the
        // Linux session id its marker names.
        let mut leader = Command::new("setsid")
            .args(["sh", "-c", "sleep 600 & echo $!; exec sleep 600"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let bg: i32 = line.trim().parse().unwrap();
        let marker = Marker::write("rs-test-leftovers", leader.id()).unwrap();
        std::mem::forget(marker);
        kill_leftovers("rs-test-leftovers", Utc::now().timestamp() - 5);
        leader.wait().unwrap();
        let start = Instant::now();
        while alive(bg) && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(bg), "a process of the leader's session survived");
        assert!(
            !Path::new(iam::elevation::RUN_DIR)
                .join("rs-test-leftovers")
                .exists()
        );
    }
}
