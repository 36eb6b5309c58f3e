use super::*;
use chrono::{TimeDelta, TimeZone};
use iam::elevation::session_name;
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
        .ledger()
        .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
        .unwrap();
    assert_eq!(
        current_role_session(&store, &caller, now).unwrap(),
        None,
        "no pid yet"
    );
    // Our parent plays the supervisor: we are inside its session.
    store
        .ledger()
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
        .ledger()
        .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
        .unwrap();
    store
        .ledger()
        .set_role_session_supervisor(&dead.id, u32::MAX - 7, 1, 4242)
        .unwrap();
    let pidless = store
        .ledger()
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
        store.ledger().get_role_session(&dead.id).unwrap().status,
        RoleSessionStatus::Ended
    );
    assert_eq!(
        store.ledger().get_role_session(&mine.id).unwrap().status,
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
    // The trust policy names alice, who must exist when it is saved.
    store
        .create_user(
            &iam::store::NewUser::new(UserName::parse("alice").unwrap()),
            now,
        )
        .unwrap();
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
        .ledger()
        .create_role_session(
            &UserName::parse("alice").unwrap(),
            &role,
            &session_name("ops").unwrap(),
            now,
            now + TimeDelta::seconds(900),
        )
        .unwrap();
    store
        .ledger()
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
            .ledger()
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
