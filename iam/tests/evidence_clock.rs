//! Time as a parameter (issue 8, "Clock"): TOTP with the clock stepped back
//! and forward, and every expiry exactly at its boundary — the TOTP window,
//! password age, the authentication record's TTL, the lockout's unlock time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use iam::names::AccountId;
use iam::password::PasswordPolicy;
use iam::secret::{SecretBytes, SecretString};
use iam::store::{AuthRecord, AuthState, LockoutRule, Store};

/// The store's authentication-record TTL (`store::login::AUTH_RECORD_TTL`,
/// not exported): five minutes from authenticate to acct_mgmt.
const AUTH_RECORD_TTL: i64 = 300;
use iam::totp::{STEP_SECONDS, code_at, step_at, verify};

/// A time exactly at the start of a TOTP step.
fn t0() -> DateTime<Utc> {
    let t = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    assert_eq!(t.timestamp() % STEP_SECONDS as i64, 0);
    t
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn secret() -> SecretBytes {
    SecretBytes::new(b"12345678901234567890".to_vec())
}

/// The code for the step `steps` away from t0's.
fn code(steps: i64) -> SecretString {
    code_at(&secret(), (t0().timestamp() + steps * 30) as u64)
}

#[test]
fn totp_window_is_exact_at_step_boundaries() {
    let s0 = step_at(t0()).unwrap();
    // First and last second of step s0, skew 1: s0-1, s0, s0+1 accepted.
    for now in [at(0), at(29)] {
        assert_eq!(verify(&secret(), &code(-1), now, 1, None), Some(s0 - 1));
        assert_eq!(verify(&secret(), &code(0), now, 1, None), Some(s0));
        assert_eq!(verify(&secret(), &code(1), now, 1, None), Some(s0 + 1));
        assert_eq!(verify(&secret(), &code(-2), now, 1, None), None);
        assert_eq!(verify(&secret(), &code(2), now, 1, None), None);
    }
    // One second earlier is the previous step: the window moves with it.
    assert_eq!(verify(&secret(), &code(1), at(-1), 1, None), None);
    assert_eq!(verify(&secret(), &code(-2), at(-1), 1, None), Some(s0 - 2));
    // skew 0: only the current step, to the second.
    assert_eq!(verify(&secret(), &code(0), at(29), 0, None), Some(s0));
    assert_eq!(verify(&secret(), &code(0), at(30), 0, None), None);
    assert_eq!(verify(&secret(), &code(0), at(-1), 0, None), None);
}

#[test]
fn totp_clock_stepped_back_never_reaccepts_a_step() {
    let s0 = step_at(t0()).unwrap();
    let last = verify(&secret(), &code(0), at(10), 1, None).unwrap();
    assert_eq!(last, s0);
    // The clock steps back 5 minutes: the used code and every older one
    // are refused, even though they are inside the (new) window.
    for back in [at(-300), at(-31), at(-1), at(0)] {
        for steps in -11..=0 {
            assert_eq!(
                verify(&secret(), &code(steps), back, 1, Some(last)),
                None,
                "step {steps} at {back}"
            );
        }
    }
    // Far back (before the step was used), nothing in the window is newer:
    // every login needing a code fails until the clock catches up.
    let window = (-11..=-9).map(code);
    for c in window {
        assert_eq!(verify(&secret(), &c, at(-300), 1, Some(last)), None);
    }
}

#[test]
fn totp_clock_stepped_forward_accepts_each_new_step_once() {
    let s0 = step_at(t0()).unwrap();
    let last = verify(&secret(), &code(0), at(0), 1, None).unwrap();
    // An hour later: the current code, once.
    let hour = at(3600);
    let now_code = code(120);
    let taken = verify(&secret(), &now_code, hour, 1, Some(last)).unwrap();
    assert_eq!(taken, s0 + 120);
    assert_eq!(verify(&secret(), &now_code, hour, 1, Some(taken)), None);
    // The step before it, though in the window, is older than one used.
    assert_eq!(verify(&secret(), &code(119), hour, 1, Some(taken)), None);
    // The next step is still good.
    assert_eq!(
        verify(&secret(), &code(121), hour, 1, Some(taken)),
        Some(s0 + 121)
    );
    // A code from the far future (a phone whose clock runs ahead) is not.
    assert_eq!(verify(&secret(), &code(125), hour, 1, Some(taken)), None);
}

#[test]
fn totp_before_1970_or_at_the_end_of_time_fails_closed() {
    let before = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap();
    assert_eq!(verify(&secret(), &code(0), before, 1, None), None);
    assert_eq!(verify(&secret(), &code(0), at(0), 1, Some(u64::MAX)), None);
    assert_eq!(
        verify(&secret(), &code(0), DateTime::<Utc>::MAX_UTC, 10, None),
        None
    );
}

#[test]
fn password_expires_exactly_at_max_age() {
    let policy = PasswordPolicy {
        max_password_age: Some(90),
        ..PasswordPolicy::default()
    };
    let changed = at(0);
    let expiry = changed + Duration::days(90);
    assert_eq!(policy.expires_at(changed), Some(expiry));
    assert!(!policy.is_expired(changed, expiry - Duration::seconds(1)));
    assert!(policy.is_expired(changed, expiry));
    // Clock stepped back before the change: not expired, not a panic.
    assert!(!policy.is_expired(changed, at(-86_400)));
    let none = PasswordPolicy::default();
    assert!(!none.is_expired(changed, DateTime::<Utc>::MAX_UTC));
}

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let store = Store::create(&dir.path().join("iam.db"), &acct).unwrap();
    (dir, store)
}

#[test]
fn authentication_record_lives_exactly_its_ttl() {
    let (_d, store) = new_store();
    let rec = AuthRecord {
        id: AuthRecord::new_id().unwrap(),
        user: "alice".into(),
        service: "sshd".into(),
        rhost: "192.0.2.1".into(),
        tty: "ssh".into(),
        time: t0().timestamp(),
        mfa_time: Some(t0().timestamp()),
        password: true,
        state: AuthState::Authenticated,
    };
    // Each probe on a fresh copy: acct_mgmt uses a record up.
    let find = |now| {
        let copy = AuthRecord {
            id: AuthRecord::new_id().unwrap(),
            ..rec.clone()
        };
        store.ledger().put_auth_record(&copy).unwrap();
        store
            .ledger()
            .consume_auth_record(&copy.id, "alice", "sshd", "192.0.2.1", now)
            .unwrap()
    };
    assert!(find(at(0)).is_some());
    assert!(
        find(at(AUTH_RECORD_TTL)).is_some(),
        "last second of the TTL"
    );
    assert!(
        find(at(AUTH_RECORD_TTL + 1)).is_none(),
        "expired one second later"
    );
    // Clock stepped back past the record: acct_mgmt sees no record (no MFA).
    assert!(find(at(-1)).is_none());
    // Another service or remote host never sees it.
    store.ledger().put_auth_record(&rec).unwrap();
    assert!(
        store
            .ledger()
            .consume_auth_record(&rec.id, "alice", "login", "192.0.2.1", at(0))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .ledger()
            .consume_auth_record(&rec.id, "alice", "sshd", "192.0.2.2", at(0))
            .unwrap()
            .is_none()
    );
}

#[test]
fn lockout_lifts_exactly_at_unlock_time() {
    let (_d, store) = new_store();
    let rule = LockoutRule {
        deny: 3,
        fail_interval: 900,
        unlock_time: 600,
    };
    for i in 0..3 {
        store.ledger().record_failure("bob", &rule, at(i)).unwrap();
    }
    let until = t0().timestamp() + 2 + 600;
    let state = store.ledger().lock_state("bob", &rule, at(2)).unwrap();
    assert_eq!((state.locked, state.locked_until), (true, Some(until)));
    assert!(
        store
            .ledger()
            .lock_state("bob", &rule, at(601))
            .unwrap()
            .locked
    );
    assert!(
        !store
            .ledger()
            .lock_state("bob", &rule, at(602))
            .unwrap()
            .locked
    );
    // Failures spread wider than fail_interval do not add up.
    store
        .ledger()
        .record_failure("carol", &rule, at(0))
        .unwrap();
    store
        .ledger()
        .record_failure("carol", &rule, at(450))
        .unwrap();
    let s = store
        .ledger()
        .record_failure("carol", &rule, at(900))
        .unwrap();
    assert!(!s.locked, "the first failure is exactly fail_interval old");
    let s = store
        .ledger()
        .record_failure("carol", &rule, at(901))
        .unwrap();
    assert!(s.locked, "three within 900 s: 450, 900, 901");
}
