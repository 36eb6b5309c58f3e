//! Scale: what PAM `acct_mgmt` reads must stay an indexed lookup with
//! 10,000 users, 500 groups and 1,000 policies. Compared against a small
//! store on the same machine (minimum of many runs), so the check is about
//! growth, not about this machine's speed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use iam::names::*;
use iam::store::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn doc(i: usize) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S{i}","Effect":"Allow","Action":["host:Login","s3:GetObject"],"Resource":"arn:aws:host::123456789012:host/web-{i}","Condition":{{"IpAddress":{{"aws:SourceIp":"10.{}.0.0/16"}}}}}}]}}"#,
        i % 250
    )
}

/// Users u0..u{users}, groups g0..g{groups}, policies p0..p{policies};
/// each user in 3 groups with 1 inline and 1 attached policy; each group
/// with 1 inline and 2 attached policies.
fn populate(path: &Path, users: usize, groups: usize, policies: usize) {
    let acct = AccountId::parse("123456789012").unwrap();
    let s = Store::create(path, &acct).unwrap();
    let pname = |i: usize| PolicyName::parse(&format!("p{i}")).unwrap();
    let parn = |i: usize| format!("arn:aws:iam::123456789012:policy/p{i}");
    s.atomically(|s| {
        for i in 0..policies {
            s.create_policy(&pname(i), &IamPath::root(), None, &doc(i), now())?;
        }
        for g in 0..groups {
            let name = GroupName::parse(&format!("g{g}")).unwrap();
            s.create_group(&name, &IamPath::root(), now())?;
            let e = Entity::Group(name);
            s.put_inline_policy(&e, &pname(g), &doc(g))?;
            s.attach_policy(&e, &parn(g % policies))?;
            s.attach_policy(&e, &parn((g + 1) % policies))?;
        }
        for u in 0..users {
            let name = UserName::parse(&format!("u{u}")).unwrap();
            s.create_user(&NewUser::new(name.clone()), now())?;
            for k in 0..3 {
                let g = GroupName::parse(&format!("g{}", (u + k * 7) % groups)).unwrap();
                s.add_user_to_group(&name, &g)?;
            }
            let e = Entity::User(name);
            s.put_inline_policy(&e, &pname(0), &doc(u))?;
            s.attach_policy(&e, &parn(u % policies))?;
        }
        Ok(())
    })
    .unwrap();
}

/// What `acct_mgmt` does: open, find the user, its policies compiled for
/// the engine, the authentication record, the lockout state.
fn acct_mgmt_reads(path: &Path, user: &str) -> Duration {
    let rule = LockoutRule {
        deny: 5,
        fail_interval: 900,
        unlock_time: 900,
    };
    let name = UserName::parse(user).unwrap();
    let start = Instant::now();
    let s = Store::open(path).unwrap();
    assert!(s.find_user(&name).unwrap().is_some());
    let set = s.policies_for_user(&name).unwrap().policy_set().unwrap();
    assert_eq!(set.identity.len(), 2 + 3 * 3);
    s.ledger()
        .consume_auth_record(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            user,
            "sshd",
            "10.0.0.1",
            now(),
        )
        .unwrap();
    s.ledger().lock_state(user, &rule, now()).unwrap();
    s.list_mfa_devices(&name).unwrap();
    start.elapsed()
}

fn min_time(path: &Path, users: usize) -> Duration {
    (0..40)
        .map(|i| acct_mgmt_reads(path, &format!("u{}", (i * 7919) % users)))
        .min()
        .unwrap()
}

#[test]
fn acct_mgmt_reads_do_not_grow_with_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.db");
    let large = dir.path().join("large.db");
    populate(&small, 50, 10, 20);
    let t = Instant::now();
    populate(&large, 10_000, 500, 1_000);
    eprintln!("populated 10,000 users in {:?}", t.elapsed());
    let t_small = min_time(&small, 50);
    let t_large = min_time(&large, 10_000);
    eprintln!("acct_mgmt reads: small store {t_small:?}, large store {t_large:?}");
    // A full scan of the large store would be ~100x the small one.
    assert!(
        t_large < t_small * 4 + Duration::from_millis(3),
        "small {t_small:?} vs large {t_large:?}"
    );
}
