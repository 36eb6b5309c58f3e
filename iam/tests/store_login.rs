//! Login-time records: lockout, authentication records, login and role
//! sessions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
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
            .record_failure("bob", &RULE, t0() + Duration::seconds(i))
            .unwrap();
        assert!(!st.locked);
    }
    let st = s
        .record_failure("BOB", &RULE, t0() + Duration::seconds(2))
        .unwrap();
    assert!(st.locked, "names are case-insensitive");
    assert_eq!(st.locked_until, Some(t0().timestamp() + 2 + 600));
    assert!(
        s.lock_state("bob", &RULE, t0() + Duration::seconds(300))
            .unwrap()
            .locked
    );
    assert!(
        !s.lock_state("bob", &RULE, t0() + Duration::seconds(700))
            .unwrap()
            .locked
    );
    // Unknown users are counted the same way.
    for i in 0..3 {
        s.record_failure("ghost", &RULE, t0() + Duration::seconds(i))
            .unwrap();
    }
    assert!(
        s.lock_state("ghost", &RULE, t0() + Duration::seconds(5))
            .unwrap()
            .locked
    );
    s.reset_failures("bob").unwrap();
    let st = s
        .lock_state("bob", &RULE, t0() + Duration::seconds(3))
        .unwrap();
    assert_eq!((st.failures, st.locked), (0, false));
    assert!(
        s.lock_state("ghost", &RULE, t0() + Duration::seconds(5))
            .unwrap()
            .locked
    );
    // Old failures are pruned as new ones come in.
    for i in 0..200 {
        s.record_failure("amy", &RULE, t0() + Duration::seconds(i * 10))
            .unwrap();
    }
    let st = s
        .lock_state("amy", &RULE, t0() + Duration::seconds(1990))
        .unwrap();
    assert_eq!(st.failures, 64, "at most 64 kept");
}

#[test]
fn auth_records_hand_over_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    let acct = AccountId::parse("123456789012").unwrap();
    Store::create(&path, &acct).unwrap();
    let rec = AuthRecord {
        user: "bob".into(),
        service: "sshd".into(),
        rhost: "10.0.0.1".into(),
        tty: "ssh".into(),
        time: t0().timestamp(),
        mfa_time: Some(t0().timestamp()),
    };
    // authenticate (one connection) ...
    Store::open(&path).unwrap().put_auth_record(&rec).unwrap();
    // ... acct_mgmt (another).
    let s = Store::open(&path).unwrap();
    let later = t0() + Duration::seconds(10);
    assert_eq!(
        s.find_auth_record("bob", "sshd", "10.0.0.1", later)
            .unwrap(),
        Some(rec.clone())
    );
    assert_eq!(
        s.find_auth_record("bob", "sshd", "10.0.0.2", later)
            .unwrap(),
        None
    );
    assert_eq!(
        s.find_auth_record("bob", "login", "10.0.0.1", later)
            .unwrap(),
        None
    );
    // Expired after 5 minutes.
    let much_later = t0() + Duration::seconds(301);
    assert_eq!(
        s.find_auth_record("bob", "sshd", "10.0.0.1", much_later)
            .unwrap(),
        None
    );
    // A newer record replaces the old one; expired ones are purged.
    let rec2 = AuthRecord {
        time: much_later.timestamp(),
        mfa_time: None,
        ..rec.clone()
    };
    s.put_auth_record(&rec2).unwrap();
    assert_eq!(
        s.find_auth_record("bob", "sshd", "10.0.0.1", much_later)
            .unwrap(),
        Some(rec2)
    );
    s.delete_auth_records("bob", "sshd", "10.0.0.1").unwrap();
    assert_eq!(
        s.find_auth_record("bob", "sshd", "10.0.0.1", much_later)
            .unwrap(),
        None
    );
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
    let id1 = s.open_login_session(&sess).unwrap();
    sess.started += 10;
    sess.tty = "pts/1".into();
    let id2 = s.open_login_session(&sess).unwrap();
    sess.user = "amy".into();
    s.open_login_session(&sess).unwrap();
    assert_eq!(s.list_login_sessions(None, true).unwrap().len(), 3);
    let bobs = s.list_login_sessions(Some("bob"), true).unwrap();
    assert_eq!(bobs.iter().map(|x| x.id).collect::<Vec<_>>(), [id2, id1]);
    assert_eq!(bobs[1].mfa_time, Some(t0().timestamp() - 3));

    s.close_login_session(id1, t0() + Duration::seconds(60))
        .unwrap();
    assert_eq!(
        s.close_login_session(id1, t0()).unwrap_err().aws_code(),
        "NoSuchEntity"
    );
    assert!(
        s.close_login_session_for("bob", "sshd", "pts/1", t0() + Duration::seconds(70))
            .unwrap()
    );
    assert!(
        !s.close_login_session_for("bob", "sshd", "pts/1", t0() + Duration::seconds(70))
            .unwrap()
    );
    assert!(s.list_login_sessions(Some("bob"), true).unwrap().is_empty());
    let all = s.list_login_sessions(Some("bob"), false).unwrap();
    assert_eq!(all[1].ended, Some(t0().timestamp() + 60));
}

#[test]
fn role_sessions() {
    let (_d, s) = new_store();
    let bob = UserName::parse("bob").unwrap();
    let admin = RoleName::parse("admin").unwrap();
    let name = RoleSessionName::parse("bob-session").unwrap();
    let r = s
        .create_role_session(&bob, &admin, &name, t0(), t0() + Duration::seconds(900))
        .unwrap();
    assert!(r.id.starts_with("rs-"));
    assert_eq!(r.status, RoleSessionStatus::Active);
    assert_eq!(r.expires - r.started, 900);
    assert_eq!((r.pid, r.pid_start, r.run_as_uid), (None, None, None));
    s.set_role_session_supervisor(&r.id, 777, 123_456, 1001)
        .unwrap();
    let got = s.get_role_session(&r.id).unwrap();
    assert_eq!(
        (got.pid, got.pid_start, got.run_as_uid),
        (Some(777), Some(123_456), Some(1001))
    );
    let r2 = s
        .create_role_session(&bob, &admin, &name, t0(), t0() + Duration::seconds(3600))
        .unwrap();
    assert_ne!(r.id, r2.id);
    assert_eq!(s.list_role_sessions(Some(&bob), true).unwrap().len(), 2);
    assert!(
        s.list_role_sessions(Some(&UserName::parse("amy").unwrap()), false)
            .unwrap()
            .is_empty()
    );

    // Expiry sweeps only what has expired.
    let expired = s
        .expire_role_sessions(t0() + Duration::seconds(1000))
        .unwrap();
    assert_eq!(expired.iter().map(|x| &x.id).collect::<Vec<_>>(), [&r.id]);
    assert_eq!(
        s.get_role_session(&r.id).unwrap().status,
        RoleSessionStatus::Expired
    );
    // Ending twice: only the first counts.
    assert!(
        s.end_role_session(
            &r2.id,
            RoleSessionStatus::Revoked,
            t0() + Duration::seconds(1100)
        )
        .unwrap()
    );
    assert!(
        !s.end_role_session(
            &r2.id,
            RoleSessionStatus::Ended,
            t0() + Duration::seconds(1200)
        )
        .unwrap()
    );
    let got = s.get_role_session(&r2.id).unwrap();
    assert_eq!(got.status, RoleSessionStatus::Revoked);
    assert_eq!(got.ended, Some(t0().timestamp() + 1100));
    assert!(s.list_role_sessions(None, true).unwrap().is_empty());
    assert_eq!(
        s.get_role_session("rs-nope").unwrap_err().aws_code(),
        "NoSuchEntity"
    );
}
