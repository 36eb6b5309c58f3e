//! The supervisor: a root process that owns a role session from its first
//! process to its last. It runs the command in a new session (on a pty when
//! the caller has a terminal, as sudo-rs does), relays the terminal, forwards
//! signals, and at expiry, on revocation, or when the command exits ends
//! every process the session started — through its root-owned cgroup v2
//! directory when it can create one (`cgroup.kill`), else by sweeping its own
//! descendants (it is a child subreaper, so orphans come back to it) — and
//! keeps at it until none is left.
//!
//! Nothing the caller does to its own terminal, cgroup or processes stops
//! the clock: the supervisor sits in a cgroup of its own (root's alone), the
//! caller may not signal it (all its uids are 0), and it never blocks on the
//! caller's descriptors (threads do that I/O; see [`Outlet`]).

use super::session::{EndReason, REVOKE_POLL, Step, Timeline};
use super::sys::{self, Credentials};
use crate::cgroups::Cgroup2;
use crate::procs::ProcessInfo;
use chrono::{DateTime, Utc};
use iam::elevation as rules;
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
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
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

/// While a session is being killed, how often the kill is repeated (until
/// nothing of it is left: a fork storm or a process that slipped past one
/// sweep is caught by the next).
const KILL_REPEAT: Duration = Duration::from_millis(100);

/// How long output still queued for the caller may delay the end of
/// `iamctl assume-role` once the session is over.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

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
            .enter(&crate::procs::supervisor_cgroup(session_id))
            .and_then(|()| v2.procs_file(&crate::procs::command_cgroup(session_id)));
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

    /// Whether nothing of the session runs any more.
    fn is_empty(&self) -> bool {
        match self {
            Self::Cgroup { v2, id } => v2
                .pids(&crate::procs::command_cgroup(id))
                .map_or(true, |p| p.is_empty()),
            Self::Descendants => descendants(std::process::id()).is_empty(),
        }
    }

    /// Sends `sig` to every process of the session; SIGKILL to a cgroup goes
    /// through `cgroup.kill`. Each process is signalled through a pidfd
    /// after checking that it is still the one meant, so a pid reused by an
    /// unrelated process in between is never hit.
    fn signal(&self, sig: Signal) {
        match self {
            Self::Cgroup { v2, id } => {
                let path = crate::procs::command_cgroup(id);
                if sig == Signal::SIGKILL && v2.kill(&path).is_ok() {
                    return;
                }
                let base = v2.base().to_owned();
                for pid in v2.pids(&path).unwrap_or_default() {
                    signal_checked(pid, sig, |_| {
                        fs::read_to_string(format!("/proc/{pid}/cgroup"))
                            .ok()
                            .and_then(|t| crate::procs::cgroup_session_id(&t, &base))
                            .as_deref()
                            == Some(id.as_str())
                    });
                }
            }
            Self::Descendants => {
                for p in descendants(std::process::id()) {
                    signal_checked(p.pid as i32, sig, |now| now.start_ticks == p.start_ticks);
                }
            }
        }
    }

    /// Removes the session's cgroups (the supervisor leaves its own first).
    fn remove(&self) {
        if let Self::Cgroup { v2, id } = self {
            let _ = v2.enter(super::session::IAMCTL_CGROUP);
            remove_session_cgroups(v2, id);
        }
    }
}

/// `sig` to process `pid` if, once a pidfd holds it, `still` says it is the
/// process meant (and, for SIGHUP, SIGCONT after it: a stopped process must
/// run to see its hangup).
fn signal_checked(pid: i32, sig: Signal, still: impl Fn(&ProcessInfo) -> bool) {
    let Ok(fd) = sys::pidfd_open(pid) else {
        return;
    };
    let Some(now) = u32::try_from(pid).ok().and_then(ProcessInfo::read) else {
        return;
    };
    if !still(&now) {
        return;
    }
    let _ = sys::pidfd_send_signal(fd.as_fd(), sig as i32);
    if sig == Signal::SIGHUP {
        let _ = sys::pidfd_send_signal(fd.as_fd(), Signal::SIGCONT as i32);
    }
}

/// Removes what is empty of session `id`'s cgroups (the command cgroup may
/// take a moment to empty once its last process has exited).
fn remove_session_cgroups(v2: &Cgroup2, id: &str) {
    let command = crate::procs::command_cgroup(id);
    for _ in 0..50 {
        if v2.remove(&command).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = v2.remove(&crate::procs::supervisor_cgroup(id));
    let _ = v2.remove(&format!("{}/{id}", crate::procs::SESSIONS_CGROUP));
}

/// The ids of sessions that may have left something behind here: a cgroup
/// under `iam/sessions`, or a marker in [`crate::elevate::session::RUN_DIR`].
pub fn leftover_ids() -> Vec<String> {
    let mut ids = Cgroup2::open()
        .map(|v2| v2.session_ids())
        .unwrap_or_default();
    if let Ok(dir) = fs::read_dir(crate::elevate::session::RUN_DIR) {
        ids.extend(
            dir.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| crate::procs::is_session_id(n)),
        );
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Ends whatever is left of session `id`, whose supervisor is gone: kills
/// its cgroup and removes it once empty; where it had none, kills the Linux
/// session its marker names. What is not gone yet stays (cgroup, marker), so
/// that every later sweep tries again, until nothing is left.
pub fn sweep_leftovers(id: &str) {
    if !crate::procs::is_session_id(id) {
        return;
    }
    if let Some(v2) = Cgroup2::open()
        && v2.exists(&format!("{}/{id}", crate::procs::SESSIONS_CGROUP))
    {
        let command = crate::procs::command_cgroup(id);
        let empty = || v2.pids(&command).map_or(true, |p| p.is_empty());
        for _ in 0..10 {
            if empty() {
                break;
            }
            let _ = v2.kill(&command);
            std::thread::sleep(Duration::from_millis(20));
        }
        // Kept while anything is left in it: the next sweep tries again.
        if empty() {
            remove_session_cgroups(&v2, id);
        }
    }
    let marker = Path::new(crate::elevate::session::RUN_DIR).join(id);
    let Some((sid, leader_start)) = fs::read_to_string(&marker)
        .ok()
        .and_then(|t| Marker::parse(&t))
    else {
        let _ = fs::remove_file(marker);
        return;
    };
    let mut left = true;
    for _ in 0..10 {
        left = kill_linux_session(sid, leader_start);
        if !left {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !left {
        let _ = fs::remove_file(marker);
    }
}

/// SIGKILL to every process of Linux session `sid`, led by a process that
/// started at `leader_start` (clock ticks); whether any was found. A pid
/// `sid` held by another process means the session is long over: its id
/// could not be reused while any of its processes lived.
fn kill_linux_session(sid: u32, leader_start: u64) -> bool {
    if ProcessInfo::read(sid).is_some_and(|p| p.start_ticks != leader_start) {
        return false;
    }
    let members: Vec<ProcessInfo> = processes()
        .into_iter()
        .filter(|p| p.sid == sid && p.start_ticks >= leader_start)
        .collect();
    for p in &members {
        if let Ok(pid) = i32::try_from(p.pid) {
            signal_checked(pid, Signal::SIGKILL, |now| {
                now.sid == sid && now.start_ticks == p.start_ticks
            });
        }
    }
    !members.is_empty()
}

/// The note in [`crate::elevate::session::RUN_DIR`] of a running session: the Linux session
/// id its command leads and the leader's start time in clock ticks. Removed
/// when the supervisor has ended the session, else by the sweep that finds
/// nothing of it left.
struct Marker(PathBuf);

impl Marker {
    fn write(session_id: &str, sid: u32) -> Option<Self> {
        if !crate::procs::is_session_id(session_id) {
            return None;
        }
        let start = ProcessInfo::read(sid)?.start_ticks;
        let dir = Path::new(crate::elevate::session::RUN_DIR);
        fs::create_dir_all(dir).ok()?;
        let path = dir.join(session_id);
        fs::write(&path, format!("{sid} {start}\n")).ok()?;
        Some(Self(path))
    }

    fn parse(text: &str) -> Option<(u32, u64)> {
        let mut it = text.split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Every process `/proc` shows that has not exited.
fn processes() -> Vec<ProcessInfo> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(ProcessInfo::read)
        .filter(|p| !p.zombie)
        .collect()
}

/// All descendants of `root` (from `/proc/*/stat`).
fn descendants(root: u32) -> Vec<ProcessInfo> {
    let all = processes();
    let mut out: Vec<ProcessInfo> = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for child in all.iter().filter(|c| c.ppid == p) {
            if !out.iter().any(|o| o.pid == child.pid) {
                out.push(*child);
                frontier.push(child.pid);
            }
        }
    }
    out
}

/// Wakes the supervisor's loop from its I/O threads (a non-blocking pipe
/// it polls; a full pipe already means "look").
#[derive(Clone)]
struct Waker(Arc<OwnedFd>);

impl Waker {
    fn wake(&self) {
        let _ = nix::unistd::write(self.0.as_fd(), b"x");
    }
}

/// The caller's stdout (pty relay and notices) or stderr (notices), written
/// by a thread of its own. The caller may stop reading (`… | sleep
/// 100000`), fill a pipe, hand over a descriptor on a FUSE file system it
/// serves, or a terminal it has stopped: any write may block for ever. The
/// supervisor's loop never writes there itself: it queues bounded chunks
/// and stops reading the pty while the queue is full (backpressure on the
/// session, which then blocks on its own terminal); notices that find the
/// queue full are dropped. Threads need no new access: they write the
/// descriptor the caller gave, as given (no reopening, no O_NONBLOCK on a
/// file description the caller shares).
struct Outlet {
    tx: Option<SyncSender<Vec<u8>>>,
    /// Relay output the thread had no room for yet.
    held: Option<Vec<u8>>,
    done: Receiver<()>,
}

/// Chunks (of at most 8 KiB) queued for the caller: 256 KiB at most.
const OUTLET_CHUNKS: usize = 32;

impl Outlet {
    fn new(fd: std::os::fd::BorrowedFd<'_>, waker: Waker) -> io::Result<Self> {
        let mut file = File::from(fd.try_clone_to_owned()?);
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(OUTLET_CHUNKS);
        let (done_tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("iamctl-outlet".into())
            .spawn(move || {
                let mut broken = false;
                for chunk in rx {
                    // Once the caller has closed it, what follows is dropped.
                    broken = broken || file.write_all(&chunk).is_err();
                    waker.wake();
                }
                let _ = done_tx.send(());
            })?;
        Ok(Self {
            tx: Some(tx),
            held: None,
            done,
        })
    }

    /// No thread could be started: output and notices are dropped (the
    /// clock matters more than the caller's copy of the output).
    fn disabled() -> Self {
        let (_, done) = mpsc::channel();
        Self {
            tx: None,
            held: None,
            done,
        }
    }

    /// Queues relay output; kept back (see [`Outlet::full`]) if no room.
    fn offer(&mut self, bytes: Vec<u8>) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(bytes) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(b)) => self.held = Some(b),
        }
    }

    /// Whether output is waiting for room: take no more from the pty.
    fn full(&self) -> bool {
        self.held.is_some()
    }

    fn retry(&mut self) {
        if let Some(b) = self.held.take() {
            self.offer(b);
        }
    }

    /// A line for the caller, dropped if the caller is not taking output.
    fn notice(&mut self, line: &str) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(line.as_bytes().to_vec());
        }
    }

    /// Lets the thread finish what is queued, for at most `within`.
    fn finish(mut self, within: Duration) {
        self.retry();
        self.tx = None;
        let _ = self.done.recv_timeout(within);
    }
}

/// The caller's input (pty mode), read by a thread of its own: a read may
/// block for ever (another process of the caller can take the bytes poll()
/// promised). One chunk at a time, taken when the last one is delivered.
struct Inlet {
    rx: Receiver<Vec<u8>>,
    open: bool,
}

impl Inlet {
    fn new(waker: Waker) -> io::Result<Self> {
        let stdin = io::stdin().as_fd().try_clone_to_owned()?;
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1);
        std::thread::Builder::new()
            .name("iamctl-inlet".into())
            .spawn(move || {
                loop {
                    let mut buf = vec![0u8; 4096];
                    match nix::unistd::read(&stdin, &mut buf) {
                        Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
                        Ok(0) | Err(_) => {
                            let _ = tx.send(Vec::new());
                            waker.wake();
                            return;
                        }
                        Ok(n) => {
                            buf.truncate(n);
                            if tx.send(buf).is_err() {
                                return;
                            }
                            waker.wake();
                        }
                    }
                }
            })?;
        Ok(Self { rx, open: true })
    }

    /// The next chunk of input, if one is there (an empty one: end of input).
    fn take(&mut self) -> Option<Vec<u8>> {
        if !self.open {
            return None;
        }
        match self.rx.try_recv() {
            Ok(b) if b.is_empty() => {
                self.open = false;
                None
            }
            Ok(b) => Some(b),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.open = false;
                None
            }
        }
    }
}

/// The caller's terminal, put in raw mode while the session runs on a pty,
/// restored on drop. Both at once (TCSANOW): waiting for output to drain
/// (TCSADRAIN) waits for ever on a terminal the caller has stopped.
struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    fn enter() -> Option<Self> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
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
    let (wake_rx, wake_tx) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(io::Error::from)?;
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

    // The I/O threads start only now: the fork above had one thread to copy.
    let waker = Waker(Arc::new(wake_tx));
    // Notices go where the caller sees them: the relayed terminal, or
    // stderr. The session runs already: whatever fails here, it stays
    // supervised (without output or input at worst).
    let outlet = if use_pty {
        Outlet::new(io::stdout().as_fd(), waker.clone())
    } else {
        Outlet::new(io::stderr().as_fd(), waker.clone())
    }
    .unwrap_or_else(|_| Outlet::disabled());
    let inlet = if use_pty {
        Inlet::new(waker).ok()
    } else {
        None
    };

    let mut sup = Supervisor {
        members,
        master,
        inlet,
        outlet,
        wake: wake_rx,
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
    let Supervisor {
        members, outlet, ..
    } = sup;
    outlet.finish(FLUSH_WAIT);
    drop(raw);
    members.remove();
    drop(marker);
    result
}

struct Supervisor {
    members: Members,
    master: Option<OwnedFd>,
    inlet: Option<Inlet>,
    outlet: Outlet,
    /// Read end of the pipe the I/O threads wake us through.
    wake: OwnedFd,
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
        let mut last_kill: Option<Instant> = None;
        loop {
            self.reap();
            let empty = self.members.is_empty();
            if self.child_status.is_some() && empty {
                break;
            }
            if self.child_status.is_some() {
                // The command exited but left processes behind: they end
                // with the session.
                self.timeline.end(EndReason::Exited);
            }
            // Once killing, keep at it until nothing is left: never give up
            // after one try (a fork storm, a process between two sweeps).
            if let Some(at) = last_kill
                && !empty
                && at.elapsed() >= KILL_REPEAT
            {
                self.members.signal(Signal::SIGKILL);
                last_kill = Some(Instant::now());
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
                        rules::iso8601(self.expires)
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
                    last_kill = Some(Instant::now());
                    continue;
                }
            };
            // Short waits once the session is ending, so it ends promptly.
            let wait = if self.child_status.is_some() || last_kill.is_some() {
                wait.min(KILL_REPEAT)
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

    /// Waits for a signal, the pty, or a wake-up from the I/O threads; never
    /// longer than `timeout`, and never on a descriptor of the caller's.
    fn wait_io(&mut self, sfd: &SignalFd, timeout: Duration) -> io::Result<()> {
        const IN: i16 = libc::POLLIN;
        let mut fds = vec![(sfd.as_raw_fd(), IN), (self.wake.as_raw_fd(), IN)];
        // The pty only while the caller takes its output (backpressure).
        let master_fd = self
            .master
            .as_ref()
            .filter(|_| !self.outlet.full())
            .map(AsRawFd::as_raw_fd);
        if let Some(m) = master_fd {
            let out = if self.to_child.is_empty() {
                0
            } else {
                libc::POLLOUT
            };
            fds.push((m, IN | out));
        }
        let revents = sys::poll(&fds, timeout)?;
        if revents[0] != 0 {
            while let Ok(Some(info)) = sfd.read_signal() {
                self.on_signal(info.ssi_signo as i32);
            }
        }
        if revents[1] != 0 {
            let mut sink = [0u8; 64];
            while matches!(nix::unistd::read(&self.wake, &mut sink), Ok(n) if n > 0) {}
        }
        self.outlet.retry();
        if master_fd.is_some() {
            if revents[2] & libc::POLLOUT != 0 {
                self.flush_to_child();
            }
            if revents[2] & !libc::POLLOUT != 0 {
                self.copy_from_master();
            }
        }
        // More input only once the last is delivered (backpressure).
        if self.to_child.is_empty()
            && let Some(chunk) = self.inlet.as_mut().and_then(Inlet::take)
        {
            self.to_child = chunk;
        }
        self.flush_to_child();
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
            // Only with a pty: then stdin is the caller's terminal, whose
            // size is answered at once (a stdin on the caller's own FUSE file
            // could hold the ioctl, and the clock, forever).
            Signal::SIGWINCH => {
                if let Some(m) = &self.master
                    && let Some(ws) = sys::window_size(io::stdin().as_fd())
                {
                    sys::set_window_size(m.as_fd(), &ws);
                }
            }
            // Terminal job control is the session's own business on its pty.
            Signal::SIGTSTP | Signal::SIGTTIN | Signal::SIGTTOU | Signal::SIGPIPE => {}
            // Everything else sent to us is meant for the command.
            // Only while the command runs: once it is reaped its pid, and
            // so its process group id, may be someone else's.
            other if self.child_status.is_none() => {
                let _ = kill(Pid::from_raw(-self.child_pid.as_raw()), other);
            }
            _ => {}
        }
    }

    fn copy_from_master(&mut self) {
        let Some(m) = &self.master else { return };
        let mut buf = vec![0u8; 8192];
        match nix::unistd::read(m, &mut buf) {
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Ok(0) | Err(_) => {
                // EIO: every slave descriptor is closed.
                self.master = None;
            }
            Ok(n) => {
                buf.truncate(n);
                self.outlet.offer(buf);
            }
        }
    }

    /// Writes what the pty takes now (the master is non-blocking, so a
    /// command that does not read can never stall the supervisor).
    fn flush_to_child(&mut self) {
        if self.to_child.is_empty() {
            return;
        }
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

    /// Output the command wrote just before it exited (as far as the caller
    /// takes it).
    fn drain_master(&mut self) {
        for _ in 0..64 {
            let Some(m) = &self.master else { return };
            if self.outlet.full() {
                return;
            }
            let ready = sys::poll(&[(m.as_raw_fd(), libc::POLLIN)], Duration::from_millis(20));
            if !ready.is_ok_and(|r| r[0] != 0) {
                return;
            }
            self.copy_from_master();
        }
    }

    /// A line for the caller, on their terminal (raw: needs \r\n), or
    /// dropped if they are not taking output.
    fn notice(&mut self, text: &str) {
        let line = if self.use_pty {
            format!("\r\niamctl: {text}\r\n")
        } else {
            format!("iamctl: {text}\n")
        };
        self.outlet.notice(&line);
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
            env: vec![("PATH".into(), crate::elevate::session::SECURE_PATH.into())],
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
        sweep_leftovers("rs-test-leftovers");
        leader.wait().unwrap();
        let start = Instant::now();
        while alive(bg) && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(bg), "a process of the leader's session survived");
        assert!(
            !Path::new(crate::elevate::session::RUN_DIR)
                .join("rs-test-leftovers")
                .exists()
        );

        // What cannot die yet (frozen in a cgroup v1 freezer, where SIGKILL
        // waits for the thaw) keeps its marker, so that every later sweep
        // tries again; the first sweep that finds nothing removes it.
        let freezer = Path::new("/sys/fs/cgroup/freezer");
        if freezer.join("tasks").exists() {
            let f = freezer.join(format!("iam-unit-{}", std::process::id()));
            let _ = fs::create_dir(&f);
            let mut leader = Command::new("setsid")
                .args(["sleep", "600"])
                .spawn()
                .unwrap();
            std::mem::forget(Marker::write("rs-test-frozen", leader.id()).unwrap());
            fs::write(f.join("cgroup.procs"), leader.id().to_string()).unwrap();
            fs::write(f.join("freezer.state"), "FROZEN").unwrap();
            sweep_leftovers("rs-test-frozen");
            let marker = Path::new(crate::elevate::session::RUN_DIR).join("rs-test-frozen");
            let kept = marker.exists();
            fs::write(f.join("freezer.state"), "THAWED").unwrap();
            leader.wait().unwrap();
            sweep_leftovers("rs-test-frozen");
            // (A v1 cgroup may count an exited task for a moment.)
            for _ in 0..50 {
                if fs::remove_dir(&f).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(kept, "the sweep gave up while a process was left");
            assert!(!marker.exists(), "nothing left, yet the marker stays");
        }
    }
}
