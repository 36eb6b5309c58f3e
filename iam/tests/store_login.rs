//! Login-time records: lockout, authentication records, login and role
//! sessions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use iam::ledger::{Ledger, lock_state};
use iam::names::*;
use iam::store::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let store = Store::create(&dir.path().join("iam.db"), &acct).unwrap();
    (dir, store)
}

const RULE: LockoutRule = LockoutRule {
    deny: 3,
    fail_interval: 900,
    unlock_time: 600,
};

#[test]
fn faillock_rule() {
    let unlocked = LockState {
        failures: 0,
        locked: false,
        locked_until: None,
    };
    assert_eq!(lock_state(&[], &RULE, 0), unlocked);
    // Two failures: counted, not locked.
    let s = lock_state(&[0, 10], &RULE, 20);
    assert_eq!((s.failures, s.locked), (2, false));
    // Three within the interval: locked until 600 s after the last one.
    let s = lock_state(&[0, 10, 20], &RULE, 30);
    assert_eq!(s.failures, 3);
    assert!(s.locked);
    assert_eq!(s.locked_until, Some(620));
    assert!(lock_state(&[0, 10, 20], &RULE, 619).locked);
    assert!(!lock_state(&[0, 10, 20], &RULE, 620).locked);
    // Spread wider than fail_interval: not three within it.
    let s = lock_state(&[0, 500, 901], &RULE, 902);
    assert_eq!((s.failures, s.locked), (2, false));
    // unlock_time 0: locked until reset.
    let forever = LockoutRule {
        unlock_time: 0,
        ..RULE
    };
    let s = lock_state(&[0, 1, 2], &forever, 1_000_000);
    assert!(s.locked);
    assert_eq!(s.locked_until, None);
    // deny 0: never locked.
    let off = LockoutRule { deny: 0, ..RULE };
    assert!(!lock_state(&[0, 1, 2, 3, 4], &off, 5).locked);
    // Failures in the future (a clock stepped back, or skew between hosts
    // sharing a store) count as now: stepping the clock back never unlocks.
    let s = lock_state(&[100, 101, 102], &RULE, 50);
    assert!(s.locked);
    assert_eq!(s.locked_until, Some(50 + 600));
}

#[test]
fn lockout_records() {
    let (_d, s) = new_store();
    for i in 0..2 {
        let st = s
            .ledger()
            .record_failure("bob", &RULE, t0() + Duration::seconds(i))
            .unwrap();
        assert!(!st.locked);
    }
    let st = s
        .ledger()
        .record_failure("BOB", &RULE, t0() + Duration::seconds(2))
        .unwrap();
    assert!(st.locked, "names are case-insensitive");
    assert_eq!(st.locked_until, Some(t0().timestamp() + 2 + 600));
    assert!(
        s.ledger()
            .lock_state("bob", &RULE, t0() + Duration::seconds(300))
            .unwrap()
            .locked
    );
    assert!(
        !s.ledger()
            .lock_state("bob", &RULE, t0() + Duration::seconds(700))
            .unwrap()
            .locked
    );
    // Unknown users are counted the same way.
    for i in 0..3 {
        s.ledger()
            .record_failure("ghost", &RULE, t0() + Duration::seconds(i))
            .unwrap();
    }
    assert!(
        s.ledger()
            .lock_state("ghost", &RULE, t0() + Duration::seconds(5))
            .unwrap()
            .locked
    );
    s.ledger().reset_failures("bob").unwrap();
    let st = s
        .ledger()
        .lock_state("bob", &RULE, t0() + Duration::seconds(3))
        .unwrap();
    assert_eq!((st.failures, st.locked), (0, false));
    assert!(
        s.ledger()
            .lock_state("ghost", &RULE, t0() + Duration::seconds(5))
            .unwrap()
            .locked
    );
    // Old failures are pruned as new ones come in.
    for i in 0..200 {
        s.ledger()
            .record_failure("amy", &RULE, t0() + Duration::seconds(i * 10))
            .unwrap();
    }
    let st = s
        .ledger()
        .lock_state("amy", &RULE, t0() + Duration::seconds(1990))
        .unwrap();
    assert_eq!(st.failures, 64, "at most 64 kept");
}

#[test]
fn settle_attempt_decides_the_lock_where_it_records() {
    let (_d, s) = new_store();
    let at = |i: i64| t0() + Duration::seconds(i);
    let fail = |_: &Ledger<'_>| Ok(AttemptResult::Fail { count: true });
    for i in 0..2 {
        let r = s
            .ledger()
            .settle_attempt("bob", &RULE, at(i), fail)
            .unwrap();
        assert!(matches!(r, Settled::Failed { counted: true, state } if !state.locked));
    }
    // A refusal that is no guess is not counted.
    let r = s
        .ledger()
        .settle_attempt("bob", &RULE, at(2), |_| {
            Ok(AttemptResult::Fail { count: false })
        })
        .unwrap();
    assert!(matches!(r, Settled::Failed { counted: false, state } if state.failures == 2));
    // One factor right: failures kept.
    let r = s
        .ledger()
        .settle_attempt("bob", &RULE, at(3), |_| {
            Ok(AttemptResult::Pass { reset: false })
        })
        .unwrap();
    assert_eq!(r, Settled::Passed);
    assert_eq!(
        s.ledger().lock_state("bob", &RULE, at(3)).unwrap().failures,
        2
    );
    // The deny-th failure locks; from then on the check does not even run.
    let r = s
        .ledger()
        .settle_attempt("bob", &RULE, at(4), fail)
        .unwrap();
    assert!(matches!(r, Settled::Failed { counted: true, state } if state.locked));
    let r = s
        .ledger()
        .settle_attempt("bob", &RULE, at(5), |_| -> Result<AttemptResult> {
            panic!("checked while locked")
        })
        .unwrap();
    assert!(matches!(r, Settled::Locked(state) if state.failures == 3));
    assert_eq!(
        s.ledger().lock_state("bob", &RULE, at(5)).unwrap().failures,
        3
    );
    // A whole login forgets the failures (once the lock has lifted).
    let later = at(4 + RULE.unlock_time);
    let r = s
        .ledger()
        .settle_attempt("bob", &RULE, later, |_| {
            Ok(AttemptResult::Pass { reset: true })
        })
        .unwrap();
    assert_eq!(r, Settled::Passed);
    assert_eq!(
        s.ledger().lock_state("bob", &RULE, later).unwrap().failures,
        0
    );
    // The check's writes commit with the result, or not at all.
    let id = AuthRecord::new_id().unwrap();
    let err = s
        .ledger()
        .settle_attempt("amy", &RULE, at(0), |store| {
            store.put_auth_record(&record(&id, AuthState::Authenticated))?;
            Err(StoreError::Corrupt("check failed".into()))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)));
    assert_eq!(s.ledger().get_auth_record(&id).unwrap(), None);
}

/// Attempts decided at the same moment by separate processes (here:
/// connections on threads, released together) are decided one after the
/// other: exactly `deny` of them are counted, the rest find the user
/// locked.
#[test]
fn simultaneous_attempts_are_decided_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    Store::create(&path, &AccountId::parse("123456789012").unwrap()).unwrap();
    const N: usize = 12;
    let start = std::sync::Barrier::new(N);
    let results: Vec<Settled> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                let (path, start) = (&path, &start);
                scope.spawn(move || {
                    let s = Store::open(path).unwrap();
                    start.wait();
                    s.ledger()
                        .settle_attempt("bob", &RULE, t0(), |_| {
                            // A slow check: others queue for the write lock.
                            std::thread::sleep(std::time::Duration::from_millis(5));
                            Ok(AttemptResult::Fail { count: true })
                        })
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let counted = results
        .iter()
        .filter(|r| matches!(r, Settled::Failed { counted: true, .. }))
        .count();
    let locked = results
        .iter()
        .filter(|r| matches!(r, Settled::Locked(_)))
        .count();
    assert_eq!(
        (counted, locked),
        (RULE.deny as usize, N - RULE.deny as usize)
    );
}

fn record(id: &str, state: AuthState) -> AuthRecord {
    AuthRecord {
        id: id.into(),
        user: "bob".into(),
        service: "sshd".into(),
        rhost: "10.0.0.1".into(),
        tty: "ssh".into(),
        time: t0().timestamp(),
        mfa_time: Some(t0().timestamp()),
        password: true,
        state,
    }
}

#[test]
fn auth_records_hand_over_between_processes_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    let acct = AccountId::parse("123456789012").unwrap();
    Store::create(&path, &acct).unwrap();
    let id = AuthRecord::new_id().unwrap();
    assert!(AuthRecord::is_id(&id), "{id}");
    assert_ne!(id, AuthRecord::new_id().unwrap());
    let rec = record(&id, AuthState::Authenticated);
    // authenticate (one connection) ...
    Store::open(&path)
        .unwrap()
        .ledger()
        .put_auth_record(&rec)
        .unwrap();
    // ... acct_mgmt (another), only with the id, for this user, service
    // and remote host.
    let s = Store::open(&path).unwrap();
    let later = t0() + Duration::seconds(10);
    let other = AuthRecord::new_id().unwrap();
    for (id, user, service, rhost) in [
        (other.as_str(), "bob", "sshd", "10.0.0.1"),
        (id.as_str(), "amy", "sshd", "10.0.0.1"),
        (id.as_str(), "bob", "login", "10.0.0.1"),
        (id.as_str(), "bob", "sshd", "10.0.0.2"),
    ] {
        assert_eq!(
            s.ledger()
                .consume_auth_record(id, user, service, rhost, later)
                .unwrap(),
            None,
            "{user} {service} {rhost}"
        );
    }
    let used = s
        .ledger()
        .consume_auth_record(&id, "BOB", "sshd", "10.0.0.1", later)
        .unwrap()
        .unwrap();
    assert_eq!(used.mfa_time, rec.mfa_time);
    // Once.
    assert_eq!(
        s.ledger()
            .consume_auth_record(&id, "bob", "sshd", "10.0.0.1", later)
            .unwrap(),
        None
    );
    // open_session takes it (consumed or not) and it is gone.
    let taken = s
        .ledger()
        .take_auth_record(&id, "bob", "sshd", "10.0.0.1", later)
        .unwrap()
        .unwrap();
    assert_eq!(taken.state, AuthState::Consumed);
    assert_eq!(s.ledger().get_auth_record(&id).unwrap(), None);

    // Pending and failed attempts are no evidence of anything.
    for state in [AuthState::Pending, AuthState::Failed] {
        let id = AuthRecord::new_id().unwrap();
        s.ledger().put_auth_record(&record(&id, state)).unwrap();
        assert_eq!(
            s.ledger()
                .consume_auth_record(&id, "bob", "sshd", "10.0.0.1", later)
                .unwrap(),
            None
        );
        assert_eq!(
            s.ledger()
                .take_auth_record(&id, "bob", "sshd", "10.0.0.1", later)
                .unwrap(),
            None
        );
    }
    // Expired after 5 minutes; a later write purges it.
    let id = AuthRecord::new_id().unwrap();
    s.ledger()
        .put_auth_record(&record(&id, AuthState::Authenticated))
        .unwrap();
    let much_later = t0() + Duration::seconds(301);
    assert_eq!(
        s.ledger()
            .consume_auth_record(&id, "bob", "sshd", "10.0.0.1", much_later)
            .unwrap(),
        None
    );
    let newer = AuthRecord {
        time: much_later.timestamp(),
        ..record(&AuthRecord::new_id().unwrap(), AuthState::Pending)
    };
    s.ledger().put_auth_record(&newer).unwrap();
    assert_eq!(s.ledger().get_auth_record(&id).unwrap(), None, "purged");
    // Replaced by id: an attempt's row moves on.
    let moved = AuthRecord {
        state: AuthState::Failed,
        ..newer.clone()
    };
    s.ledger().put_auth_record(&moved).unwrap();
    assert_eq!(s.ledger().get_auth_record(&newer.id).unwrap(), Some(moved));
    // Ids that are not ids.
    for bad in [
        "",
        "short",
        &"a".repeat(32),
        &"A1".repeat(16),
        &"A".repeat(33),
    ] {
        assert!(!AuthRecord::is_id(bad), "{bad}");
    }
}

#[test]
fn login_sessions() {
    let (_d, s) = new_store();
    let mut sess = LoginSession {
        id: 0,
        user: "bob".into(),
        service: "sshd".into(),
        rhost: "10.0.0.1".into(),
        tty: "ssh".into(),
        pid: Some(4242),
        started: t0().timestamp(),
        ended: None,
        mfa_time: Some(t0().timestamp() - 3),
    };
    let id1 = s.ledger().open_login_session(&sess).unwrap();
    sess.started += 10;
    sess.tty = "pts/1".into();
    let id2 = s.ledger().open_login_session(&sess).unwrap();
    sess.user = "amy".into();
    s.ledger().open_login_session(&sess).unwrap();
    assert_eq!(s.ledger().list_login_sessions(None, true).unwrap().len(), 3);
    let bobs = s.ledger().list_login_sessions(Some("bob"), true).unwrap();
    assert_eq!(bobs.iter().map(|x| x.id).collect::<Vec<_>>(), [id2, id1]);
    assert_eq!(bobs[1].mfa_time, Some(t0().timestamp() - 3));

    s.ledger()
        .close_login_session(id1, t0() + Duration::seconds(60))
        .unwrap();
    assert_eq!(
        s.ledger()
            .close_login_session(id1, t0())
            .unwrap_err()
            .aws_code(),
        "NoSuchEntity"
    );
    assert!(
        s.ledger()
            .close_login_session_for("bob", "sshd", "pts/1", t0() + Duration::seconds(70))
            .unwrap()
    );
    assert!(
        !s.ledger()
            .close_login_session_for("bob", "sshd", "pts/1", t0() + Duration::seconds(70))
            .unwrap()
    );
    assert!(
        s.ledger()
            .list_login_sessions(Some("bob"), true)
            .unwrap()
            .is_empty()
    );
    let all = s.ledger().list_login_sessions(Some("bob"), false).unwrap();
    assert_eq!(all[1].ended, Some(t0().timestamp() + 60));
}

#[test]
fn role_sessions() {
    let (_d, s) = new_store();
    let bob = UserName::parse("bob").unwrap();
    let admin = RoleName::parse("admin").unwrap();
    let name = RoleSessionName::parse("bob-session").unwrap();
    let r = s
        .ledger()
        .create_role_session(&bob, &admin, &name, t0(), t0() + Duration::seconds(900))
        .unwrap();
    assert!(r.id.starts_with("rs-"));
    assert_eq!(r.status, RoleSessionStatus::Active);
    assert_eq!(r.expires - r.started, 900);
    assert_eq!((r.pid, r.pid_start, r.run_as_uid), (None, None, None));
    s.ledger()
        .set_role_session_supervisor(&r.id, 777, 123_456, 1001)
        .unwrap();
    let got = s.ledger().get_role_session(&r.id).unwrap();
    assert_eq!(
        (got.pid, got.pid_start, got.run_as_uid),
        (Some(777), Some(123_456), Some(1001))
    );
    let r2 = s
        .ledger()
        .create_role_session(&bob, &admin, &name, t0(), t0() + Duration::seconds(3600))
        .unwrap();
    assert_ne!(r.id, r2.id);
    assert_eq!(
        s.ledger()
            .list_role_sessions(Some(&bob), true)
            .unwrap()
            .len(),
        2
    );
    assert!(
        s.ledger()
            .list_role_sessions(Some(&UserName::parse("amy").unwrap()), false)
            .unwrap()
            .is_empty()
    );

    // Expiry sweeps only what has expired.
    let expired = s
        .ledger()
        .expire_role_sessions(t0() + Duration::seconds(1000))
        .unwrap();
    assert_eq!(expired.iter().map(|x| &x.id).collect::<Vec<_>>(), [&r.id]);
    assert_eq!(
        s.ledger().get_role_session(&r.id).unwrap().status,
        RoleSessionStatus::Expired
    );
    // Ending twice: only the first counts.
    assert!(
        s.ledger()
            .end_role_session(
                &r2.id,
                RoleSessionStatus::Revoked,
                t0() + Duration::seconds(1100)
            )
            .unwrap()
    );
    assert!(
        !s.ledger()
            .end_role_session(
                &r2.id,
                RoleSessionStatus::Ended,
                t0() + Duration::seconds(1200)
            )
            .unwrap()
    );
    let got = s.ledger().get_role_session(&r2.id).unwrap();
    assert_eq!(got.status, RoleSessionStatus::Revoked);
    assert_eq!(got.ended, Some(t0().timestamp() + 1100));
    assert!(
        s.ledger()
            .list_role_sessions(None, true)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.ledger()
            .get_role_session("rs-nope")
            .unwrap_err()
            .aws_code(),
        "NoSuchEntity"
    );
}
