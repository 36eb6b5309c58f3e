//! Which process belongs to which session, read from `/proc` and cgroups.

use chrono::{DateTime, Utc};
use iam::names::AccountId;
use iam::principal::{Principal, PrincipalError};
use iam::request::LoginFacts;
use iam::store::{LoginSession, RoleSession, RoleSessionStatus, Store, StoreError};

/// The parent of every session's cgroups.
pub const SESSIONS_CGROUP: &str = "iam/sessions";

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    pub pgrp: u32,
    pub sid: u32,
    /// Start time, unix seconds (rounded down).
    pub start_unix: i64,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22):
    /// exact, so with the pid it names one process, never a successor that
    /// got the same pid.
    pub start_ticks: u64,
    /// Exited, not yet reaped: nothing of it runs.
    pub zombie: bool,
}

/// Linux's fixed `USER_HZ`: the unit of `starttime` in `/proc/PID/stat`.
const USER_HZ: i64 = 100;

impl ProcessInfo {
    /// Reads `/proc/PID/stat`; `None` when the process is gone.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Self::parse(pid, &stat, boot_time()?)
    }

    /// Parses a `/proc/PID/stat` line; `boot_unix` is `/proc/stat` `btime`.
    pub fn parse(pid: u32, stat: &str, boot_unix: i64) -> Option<Self> {
        // The command name may contain spaces and parentheses: fields start
        // after the last ')'. Field 3 (state) is index 0 of the rest.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok());
        Some(Self {
            pid,
            ppid: u32::try_from(field(4)?).ok()?,
            pgrp: u32::try_from(field(5)?).ok()?,
            sid: u32::try_from(field(6)?).ok()?,
            start_unix: boot_unix + field(22)? / USER_HZ,
            start_ticks: u64::try_from(field(22)?).ok()?,
            zombie: fields.first() == Some(&"Z"),
        })
    }
}

fn boot_time() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A session record as far as process membership is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub id: String,
    pub supervisor_pid: u32,
    /// The supervisor's start time in clock ticks, when recorded.
    pub supervisor_start: Option<u64>,
    /// When the record was written (unix seconds), after the supervisor
    /// process started.
    pub started: i64,
    /// The uid the session runs as, when recorded.
    pub run_as_uid: Option<u32>,
}

impl LiveSession {
    /// The membership facts of an active record with a supervisor.
    pub fn of(s: &RoleSession) -> Option<Self> {
        Some(Self {
            id: s.id.clone(),
            supervisor_pid: s.pid?,
            supervisor_start: s.pid_start,
            started: s.started,
            run_as_uid: s.run_as_uid,
        })
    }

    /// Whether the supervisor of this record still runs. A dead pid, or a pid
    /// now used by another process (start time in ticks differs; for records
    /// without one, a process younger than the record), is stale.
    pub fn supervisor_alive(&self) -> bool {
        ProcessInfo::read(self.supervisor_pid).is_some_and(|p| self.is_supervisor(&p))
    }

    /// Whether `p` is this session's supervisor.
    pub fn is_supervisor(&self, p: &ProcessInfo) -> bool {
        p.pid == self.supervisor_pid
            && match self.supervisor_start {
                Some(ticks) => p.start_ticks == ticks,
                None => is_supervisor(p, self.started),
            }
    }
}

/// A session id safe to use as a file name (`rs-` and base32, as the store
/// makes them).
pub fn is_session_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `p` can be the supervisor of a record written at `started`: it
/// must have started before the record (2 s for rounding of both clocks).
/// Only for records without the supervisor's start time in ticks.
pub fn is_supervisor(p: &ProcessInfo, started: i64) -> bool {
    p.start_unix <= started + 2
}

/// The cgroup (relative to the cgroup2 mount) holding every process of
/// session `id`.
pub fn command_cgroup(id: &str) -> String {
    format!("{SESSIONS_CGROUP}/{id}/command")
}

/// The cgroup (relative to the cgroup2 mount) holding the supervisor of
/// session `id`.
pub fn supervisor_cgroup(id: &str) -> String {
    format!("{SESSIONS_CGROUP}/{id}/supervisor")
}

/// The session whose command cgroup a `/proc/PID/cgroup` text names: its
/// cgroup v2 line (`0::PATH`) must be exactly `BASE/iam/sessions/ID/command`,
/// where BASE is the root of the cgroup2 mount in the hierarchy (`/` for a
/// whole-hierarchy mount). Nothing else counts: not the same names deeper
/// in someone's delegated subtree, not a sub-cgroup, not a cgroup v1 line.
///
/// The path in `/proc/PID/cgroup` is relative to the reader's cgroup
/// namespace; iamctl reads its own and then also checks that it is listed
/// in that exact directory's `cgroup.procs` under the mount, which no
/// namespace can fake.
pub fn cgroup_session_id(cgroup: &str, base: &str) -> Option<String> {
    let path = cgroup.lines().find_map(|line| line.strip_prefix("0::"))?;
    let rest = path.strip_prefix(base.trim_end_matches('/'))?;
    let id = rest
        .strip_prefix('/')?
        .strip_prefix(SESSIONS_CGROUP)?
        .strip_prefix('/')?
        .strip_suffix("/command")?;
    (is_session_id(id) && command_cgroup(id) == rest[1..]).then(|| id.to_owned())
}

/// The process asking, identified before any cgroup is trusted: its pid,
/// its real uid (who it is), and the session cgroup it was found in (by
/// iamctl, before it moved itself anywhere; see [`cgroup_session_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerProcess {
    pub pid: u32,
    pub uid: u32,
    pub cgroup_session: Option<String>,
}

/// Which of `sessions` the caller belongs to. Only a caller whose real uid
/// is the session's run-as uid can be in it; then by its exact session
/// cgroup (the directories are root's: a session's processes cannot leave
/// it, and no one else can enter it), else by walking its parents up to a
/// session's live supervisor. The environment is never asked: inside a
/// session it is the caller's to forge.
pub fn session_of_process(caller: &CallerProcess, sessions: &[LiveSession]) -> Option<LiveSession> {
    let runs_as_caller = |s: &&LiveSession| s.run_as_uid == Some(caller.uid);
    if let Some(id) = &caller.cgroup_session
        && let Some(s) = sessions
            .iter()
            .filter(runs_as_caller)
            .find(|s| &s.id == id && s.supervisor_alive())
    {
        return Some(s.clone());
    }
    ancestry(caller.pid).iter().find_map(|info| {
        sessions
            .iter()
            .filter(runs_as_caller)
            .find(|s| s.is_supervisor(info))
            .cloned()
    })
}

/// The processes from `pid` up to (not including) init, nearest first.
pub fn ancestry(pid: u32) -> Vec<ProcessInfo> {
    let mut out = Vec::new();
    let mut current = pid;
    while out.len() < 4096 {
        let Some(info) = ProcessInfo::read(current) else {
            break;
        };
        let parent = info.ppid;
        out.push(info);
        if parent <= 1 {
            break;
        }
        current = parent;
    }
    out
}

/// The caller's login (PAM) session among `sessions`: the open one whose
/// recorded process is an ancestor of `pid`. Its MFA time and source IP are
/// what the caller proved at login.
pub fn login_session_of(sessions: &[LoginSession], pid: u32) -> Option<&LoginSession> {
    let chain = ancestry(pid);
    sessions.iter().find(|s| {
        s.ended.is_none()
            && s.pid.is_some_and(|p| {
                chain
                    .iter()
                    .any(|a| a.pid == p && is_supervisor(a, s.started))
            })
    })
}

/// A record without a supervisor pid this long after it started belongs to
/// a supervisor that died before writing it.
const PIDLESS_GRACE: i64 = 30;

/// Whether an active record has no supervisor any more (it crashed or was
/// killed): such a record must not stay "active".
pub fn is_stale(session: &RoleSession, now: DateTime<Utc>) -> bool {
    if session.status != RoleSessionStatus::Active {
        return false;
    }
    match LiveSession::of(session) {
        None => now.timestamp() > session.started + PIDLESS_GRACE,
        Some(live) => !live.supervisor_alive(),
    }
}

/// Marks every stale active session ended and returns them (the caller
/// ends what is left of their processes). `record` runs in each session's
/// ending transaction (the caller queues its audit event there).
pub fn reap_stale_sessions(
    store: &Store,
    now: DateTime<Utc>,
    mut record: impl FnMut(&Store, &RoleSession) -> Result<(), StoreError>,
) -> Result<Vec<RoleSession>, StoreError> {
    let mut reaped = Vec::new();
    for s in store.ledger().list_role_sessions(None, true)? {
        if !is_stale(&s, now) {
            continue;
        }
        let ended = store.atomically(|store| {
            let ended = store
                .ledger()
                .end_role_session(&s.id, RoleSessionStatus::Ended, now)?;
            if ended {
                record(store, &s)?;
            }
            Ok(ended)
        })?;
        if ended {
            reaped.push(s);
        }
    }
    Ok(reaped)
}

/// The role session the caller runs in, if any: an active, unexpired
/// record run as the caller's uid, found by its session cgroup, else by a
/// live supervisor among its ancestors — never by the environment, which
/// inside a session is the caller's to forge. `get-caller-identity` and
/// every iamctl call use this to act as the assumed role, and `assume-role`
/// to refuse nesting.
pub fn current_role_session(
    store: &Store,
    caller: &CallerProcess,
    now: DateTime<Utc>,
) -> Result<Option<RoleSession>, StoreError> {
    let active: Vec<RoleSession> = store
        .ledger()
        .list_role_sessions(None, true)?
        .into_iter()
        .filter(|s| s.expires > now.timestamp())
        .collect();
    let live: Vec<LiveSession> = active.iter().filter_map(LiveSession::of).collect();
    Ok(session_of_process(caller, &live).and_then(|l| active.into_iter().find(|s| s.id == l.id)))
}

/// The principal the caller acts as when it runs inside a role session:
/// the session's assumed role (its ARN `arn:aws:sts::…:assumed-role/R/S`, the
/// role's policies). `get-caller-identity` reports it and every iamctl call
/// made inside a session is authorized with it, whatever uid the session
/// runs as (root, by default).
pub fn session_principal(
    store: &Store,
    account: &AccountId,
    caller: &CallerProcess,
    now: DateTime<Utc>,
) -> Result<Option<(RoleSession, Principal)>, PrincipalError> {
    let Some(session) = current_role_session(store, caller, now)? else {
        return Ok(None);
    };
    let principal =
        Principal::for_role_session(store, account, &session.role, &session.session_name)?;
    Ok(Some((session, principal)))
}

/// The facts of `user`'s open login session that process `pid` descends
/// from (none: a cron job, `su`).
pub fn login_facts_of_process(
    store: &Store,
    user: &str,
    pid: u32,
) -> Result<LoginFacts, StoreError> {
    let sessions = store.ledger().list_login_sessions(Some(user), true)?;
    Ok(match login_session_of(&sessions, pid) {
        Some(login) => LoginFacts {
            mfa_at: login.mfa_time,
            source_ip: login
                .rhost
                .parse::<std::net::IpAddr>()
                .is_ok()
                .then(|| login.rhost.clone()),
            found: true,
        },
        None => LoginFacts::default(),
    })
}

#[cfg(test)]
mod tests;
