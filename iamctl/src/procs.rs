//! Which process belongs to which session, read from `/proc` and cgroups.

use chrono::{DateTime, Utc};
use iam::elevation::*;
use iam::names::AccountId;
use iam::principal::{Principal, PrincipalError};
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
    for s in store.list_role_sessions(None, true)? {
        if !is_stale(&s, now) {
            continue;
        }
        let ended = store.atomically(|store| {
            let ended = store.end_role_session(&s.id, RoleSessionStatus::Ended, now)?;
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
    let sessions = store.list_login_sessions(Some(user), true)?;
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
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use iam::names::UserName;
    use iam::policy::{Context, Policy, PolicyKind};
    use std::collections::BTreeSet;

    const ACCT: &str = "123456789012";
    const ALICE: &str = "arn:aws:iam::123456789012:user/alice";

    fn trust(principal: &str) -> Policy {
        let document = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Trust","Effect":"Allow",
            "Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        Policy::parse("trust", &document, PolicyKind::Trust).unwrap()
    }

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_072_000 + s, 0).unwrap()
    }

    #[test]
    fn proc_stat_is_parsed_past_hostile_command_names() {
        let stat =
            "4242 (evil) 1 2 3 (x) S 17 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let p = ProcessInfo::parse(4242, stat, 1_000).unwrap();
        assert_eq!((p.ppid, p.pgrp, p.sid), (17, 4242, 4242));
        assert_eq!(p.start_unix, 1_000 + 123);
        assert!(is_supervisor(&p, 1_123));
        assert!(!is_supervisor(&p, 1_100));
        let me = ProcessInfo::read(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
    }

    #[test]
    fn only_the_exact_session_cgroup_counts() {
        let id = "rs-abc234";
        let exact = format!("0::/iam/sessions/{id}/command\n");
        assert_eq!(cgroup_session_id(&exact, "/"), Some(id.into()));
        assert_eq!(
            cgroup_session_id(&format!("4:memory:/x\n{exact}"), "/"),
            Some(id.into())
        );
        // A mount of a sub-hierarchy: the path starts with its root.
        assert_eq!(
            cgroup_session_id(
                &format!("0::/docker/c1/iam/sessions/{id}/command\n"),
                "/docker/c1"
            ),
            Some(id.into())
        );
        for forged in [
            // The old layout, and the names anywhere but at the root: what a
            // user with a delegated subtree (systemd's user@UID.service) can
            // create for itself.
            format!("0::/iam-sessions/{id}\n"),
            format!("0::/user.slice/user-1000.slice/user@1000.service/iam-sessions/{id}\n"),
            format!("0::/user.slice/user-1000.slice/user@1000.service/iam/sessions/{id}/command\n"),
            // A sub-cgroup, the supervisor's cgroup, a prefix.
            format!("0::/iam/sessions/{id}/command/sub\n"),
            format!("0::/iam/sessions/{id}/supervisor\n"),
            format!("0::/iam/sessions/{id}\n"),
            format!("0::/docker/c1x/iam/sessions/{id}/command\n"),
            // Not a session id, not a cgroup v2 line.
            "0::/iam/sessions/../command\n".to_owned(),
            "0::/iam/sessions//command\n".to_owned(),
            "0::/iam/sessions/a/b/command\n".to_owned(),
            format!("1:name=systemd:/iam/sessions/{id}/command\n"),
            "0::/user.slice\n".to_owned(),
        ] {
            let base = if forged.contains("/docker/") {
                "/docker/c1"
            } else {
                "/"
            };
            assert_eq!(cgroup_session_id(&forged, base), None, "{forged}");
        }
    }

    #[test]
    fn a_process_is_found_in_its_supervisors_session() {
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let now = Utc::now().timestamp();
        let uid = 4242;
        let caller = CallerProcess {
            pid: me.pid,
            uid,
            cgroup_session: None,
        };
        let live = |pid: u32, start: Option<u64>, started: i64| LiveSession {
            id: format!("s-{pid}"),
            supervisor_pid: pid,
            supervisor_start: start,
            started,
            run_as_uid: Some(uid),
        };
        // Our parent as a supervisor: found through ancestry.
        let found = session_of_process(&caller, &[live(parent.pid, Some(parent.start_ticks), now)]);
        assert_eq!(found.map(|s| s.id), Some(format!("s-{}", parent.pid)));
        // Another process under the same pid (start time in ticks differs):
        // pid reuse, stale.
        let other = live(parent.pid, Some(parent.start_ticks + 1), now);
        assert_eq!(
            session_of_process(&caller, std::slice::from_ref(&other)),
            None
        );
        assert!(!other.supervisor_alive());
        // A record without ticks: older than the process holding its pid.
        assert_eq!(
            session_of_process(&caller, &[live(parent.pid, None, parent.start_unix - 60)]),
            None
        );
        assert!(live(parent.pid, None, now).supervisor_alive());
        assert!(!live(u32::MAX - 1, None, now).supervisor_alive());
        // Another uid than the session's, or a record without one: not in it.
        let mut theirs = live(parent.pid, Some(parent.start_ticks), now);
        theirs.run_as_uid = Some(uid + 1);
        assert_eq!(
            session_of_process(&caller, std::slice::from_ref(&theirs)),
            None
        );
        theirs.run_as_uid = None;
        assert_eq!(session_of_process(&caller, &[theirs]), None);
        // By cgroup: only a session with a live supervisor and the uid.
        let far = CallerProcess {
            pid: 1,
            uid,
            cgroup_session: Some(format!("s-{}", parent.pid)),
        };
        let s = live(parent.pid, Some(parent.start_ticks), now);
        assert_eq!(
            session_of_process(&far, std::slice::from_ref(&s)),
            Some(s.clone())
        );
        let dead = live(u32::MAX - 1, None, now);
        let far_dead = CallerProcess {
            cgroup_session: Some(dead.id.clone()),
            ..far.clone()
        };
        assert_eq!(session_of_process(&far_dead, &[dead]), None);
        let root = CallerProcess { uid: 0, ..far };
        assert_eq!(session_of_process(&root, &[s]), None);
    }

    #[test]
    fn sessions_are_found_by_ancestry_and_stale_ones_reaped() {
        use iam::names::{AccountId, RoleName, UserName};
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
        let now = Utc::now();
        let user = UserName::parse("alice").unwrap();
        let role = RoleName::parse("admin").unwrap();
        let name = session_name("ops").unwrap();
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let caller = CallerProcess {
            pid: me.pid,
            uid: 4242,
            cgroup_session: None,
        };
        let mine = store
            .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
            .unwrap();
        assert_eq!(
            current_role_session(&store, &caller, now).unwrap(),
            None,
            "no pid yet"
        );
        // Our parent plays the supervisor: we are inside its session.
        store
            .set_role_session_supervisor(&mine.id, me.ppid, parent.start_ticks, 4242)
            .unwrap();
        let found = current_role_session(&store, &caller, now).unwrap().unwrap();
        assert_eq!(found.id, mine.id);
        assert!(!is_stale(&found, now));
        // Once expired it authorizes nothing, whatever its status says.
        let after = now + TimeDelta::seconds(900);
        assert_eq!(current_role_session(&store, &caller, after).unwrap(), None);

        // A session whose supervisor is gone is stale, and reaped once.
        let dead = store
            .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
            .unwrap();
        store
            .set_role_session_supervisor(&dead.id, u32::MAX - 7, 1, 4242)
            .unwrap();
        let pidless = store
            .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
            .unwrap();
        assert!(!is_stale(&pidless, now), "just created");
        let later = now + TimeDelta::seconds(PIDLESS_GRACE + 1);
        let reaped: BTreeSet<String> = reap_stale_sessions(&store, later, |_, _| Ok(()))
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            reaped,
            BTreeSet::from([dead.id.clone(), pidless.id.clone()])
        );
        assert!(
            reap_stale_sessions(&store, later, |_, _| Ok(()))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.get_role_session(&dead.id).unwrap().status,
            RoleSessionStatus::Ended
        );
        assert_eq!(
            store.get_role_session(&mine.id).unwrap().status,
            RoleSessionStatus::Active
        );
    }

    #[test]
    fn the_login_session_is_the_one_above_us() {
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let login = |id: i64, pid: u32, ended: Option<i64>| LoginSession {
            id,
            user: "alice".into(),
            service: "sshd".into(),
            rhost: "192.0.2.7".into(),
            tty: "pts/0".into(),
            pid: Some(pid),
            started: Utc::now().timestamp(),
            ended,
            mfa_time: Some(1),
        };
        let sessions = [
            login(1, u32::MAX - 3, None),
            login(2, parent.pid, Some(5)),
            login(3, parent.pid, None),
        ];
        assert_eq!(login_session_of(&sessions, me.pid).map(|s| s.id), Some(3));
        assert_eq!(login_session_of(&sessions[..2], me.pid), None);
    }

    #[test]
    fn inside_a_session_the_caller_is_the_assumed_role() {
        use iam::names::{IamPath, RoleName};
        use iam::store::NewRole;
        let dir = tempfile::tempdir().unwrap();
        let account = AccountId::parse(ACCT).unwrap();
        let store = Store::create(&dir.path().join("iam.db"), &account).unwrap();
        let now = Utc::now();
        let role = RoleName::parse("admin").unwrap();
        store
            .create_role(
                &NewRole {
                    name: role.clone(),
                    path: IamPath::root(),
                    assume_role_policy_document: trust(ALICE).document().to_owned(),
                    description: None,
                    max_session_duration: None,
                    tags: Vec::new(),
                    permissions_boundary: None,
                },
                now,
            )
            .unwrap();
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let caller = CallerProcess {
            pid: me.pid,
            uid: 0,
            cgroup_session: None,
        };
        assert!(
            session_principal(&store, &account, &caller, now)
                .unwrap()
                .is_none()
        );
        let s = store
            .create_role_session(
                &UserName::parse("alice").unwrap(),
                &role,
                &session_name("ops").unwrap(),
                now,
                now + TimeDelta::seconds(900),
            )
            .unwrap();
        store
            .set_role_session_supervisor(&s.id, me.ppid, parent.start_ticks, 0)
            .unwrap();
        let (found, principal) = session_principal(&store, &account, &caller, now)
            .unwrap()
            .unwrap();
        assert_eq!(found.id, s.id);
        assert_eq!(
            principal.arn,
            "arn:aws:sts::123456789012:assumed-role/admin/ops"
        );
    }

    #[test]
    fn session_ids_are_safe_file_names() {
        assert!(is_session_id("rs-abcdef234567"));
        for bad in ["", "..", "rs/../x", "RS-A", "rs x", &"a".repeat(65)] {
            assert!(!is_session_id(bad), "{bad}");
        }
    }

    #[test]
    fn login_facts_give_the_same_keys_to_every_caller() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let now = t(0);
        let open = |user: &str, rhost: &str, mfa_time: Option<i64>| {
            store
                .open_login_session(&LoginSession {
                    id: 0,
                    user: user.into(),
                    service: "sshd".into(),
                    rhost: rhost.into(),
                    tty: "pts/0".into(),
                    pid: Some(me.ppid),
                    started: Utc::now().timestamp(),
                    ended: None,
                    mfa_time,
                })
                .unwrap()
        };
        let keys = |facts: &LoginFacts| {
            let mut ctx = Context::new();
            facts.apply(&mut ctx, now);
            [
                "aws:MultiFactorAuthPresent",
                "aws:MultiFactorAuthAge",
                "aws:SourceIp",
            ]
            .map(|k| ctx.get(k).map(|v| v.join(",")))
        };
        // No login session above us: no keys at all.
        let none = login_facts_of_process(&store, "alice", me.pid).unwrap();
        assert_eq!(none, LoginFacts::default());
        assert_eq!(keys(&none), [None, None, None]);
        open("alice", "192.0.2.7", Some(now.timestamp() - 42));
        open("bob", "host.example", None);
        let alice = login_facts_of_process(&store, "alice", me.pid).unwrap();
        assert_eq!(
            keys(&alice),
            [
                Some("true".into()),
                Some("42".into()),
                Some("192.0.2.7".into())
            ]
        );
        // A host name is no source IP; a login without MFA says so.
        let bob = login_facts_of_process(&store, "bob", me.pid).unwrap();
        assert_eq!(keys(&bob), [Some("false".into()), None, None]);
    }
}
