//! extrausers files rendered from a real store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use iam::local_accounts::LocalAccounts;
use iam::names::*;
use iam::publish::extrausers::{render, sync_extrausers};
use iam::store::*;
use std::os::unix::fs::PermissionsExt;

fn setup() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let s = Store::create(&dir.path().join("iam.db"), &acct).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    for u in ["bob", "amy", "Carol", "dave.smith"] {
        s.create_user(&NewUser::new(UserName::parse(u).unwrap()), now)
            .unwrap();
    }
    let mut ops = NewUser::new(UserName::parse("eve").unwrap());
    ops.path = IamPath::parse("/ops/").unwrap();
    s.create_user(&ops, now).unwrap();
    for g in ["devs", "Admins", "empty"] {
        s.create_group(&GroupName::parse(g).unwrap(), &IamPath::root(), now)
            .unwrap();
    }
    for (u, g) in [
        ("bob", "devs"),
        ("amy", "devs"),
        ("Carol", "devs"),
        ("bob", "Admins"),
    ] {
        s.add_user_to_group(&UserName::parse(u).unwrap(), &GroupName::parse(g).unwrap())
            .unwrap();
    }
    s.create_login_profile(
        &UserName::parse("bob").unwrap(),
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        false,
        now,
    )
    .unwrap();
    (dir, s)
}

#[test]
fn renders_passwd_and_group() {
    let (_d, s) = setup();
    let r = render(&s, &LocalAccounts::default(), "/bin/bash", "/home/%u").unwrap();
    // uids: bob 200000, amy 200001, Carol 200002, dave.smith 200003,
    // eve 200004; groups devs 200005, Admins 200006, empty 200007. (A group named
    // like a user is refused by the store: see store_local_accounts.)
    assert_eq!(
        r.passwd,
        "amy:x:200001:200001:IAM user /amy:/home/amy:/bin/bash\n\
         bob:x:200000:200000:IAM user /bob:/home/bob:/bin/bash\n\
         eve:x:200004:200004:IAM user /ops/eve:/home/eve:/bin/bash\n"
    );
    assert_eq!(
        r.group,
        "amy:x:200001:\nbob:x:200000:\neve:x:200004:\ndevs:x:200005:amy,bob\nempty:x:200007:\n"
    );
    assert_eq!((r.report.users, r.report.groups), (3, 2));
    let skipped = r.report.skipped.join("\n");
    for name in ["user Carol", "user dave.smith", "group Admins"] {
        assert!(skipped.contains(name), "{name} not in {skipped}");
    }
    assert!(!r.passwd.contains("argon2"), "no secret ever");
    for line in r.passwd.lines() {
        assert_eq!(line.split(':').count(), 7, "{line}");
    }
}

#[test]
fn writes_atomically_world_readable() {
    let (d, s) = setup();
    let out = d.path().join("extrausers");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("passwd"), "stale\n").unwrap();
    let report = sync_extrausers(
        &s,
        &LocalAccounts::default(),
        &out,
        "/bin/sh",
        "/srv/home/%u",
    )
    .unwrap();
    assert_eq!(report.users, 3);
    let passwd = std::fs::read_to_string(out.join("passwd")).unwrap();
    assert!(passwd.contains(":/srv/home/bob:/bin/sh\n"));
    assert!(!passwd.contains("stale"));
    for f in ["passwd", "group"] {
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{f}");
    }
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Deleting a user removes it from both files at the next sync.
    let eve = UserName::parse("eve").unwrap();
    s.delete_user(&eve).unwrap();
    sync_extrausers(
        &s,
        &LocalAccounts::default(),
        &out,
        "/bin/sh",
        "/srv/home/%u",
    )
    .unwrap();
    assert!(
        !std::fs::read_to_string(out.join("passwd"))
            .unwrap()
            .contains("eve")
    );
    assert!(
        !std::fs::read_to_string(out.join("group"))
            .unwrap()
            .contains("eve")
    );
}

#[test]
fn rejects_bad_shell_and_home() {
    let (_d, s) = setup();
    assert!(render(&s, &LocalAccounts::default(), "bash", "/home/%u").is_err());
    assert!(render(&s, &LocalAccounts::default(), "/bin/bash", "/home/%u:x").is_err());
    assert!(render(&s, &LocalAccounts::default(), "/bin/bash\n", "/home/%u").is_err());
    assert!(render(&s, &LocalAccounts::default(), "/bin/bash", "").is_err());
    let d = tempfile::tempdir().unwrap();
    assert!(
        sync_extrausers(
            &s,
            &LocalAccounts::default(),
            &d.path().join("missing"),
            "/bin/sh",
            "/home/%u"
        )
        .is_err()
    );
}

#[test]
fn concurrent_syncs_never_lose_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("iam.db");
    let out = dir.path().join("eu");
    std::fs::create_dir(&out).unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    Store::create(&db, &acct).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let (db, out) = (db.clone(), out.clone());
            std::thread::spawn(move || {
                let s = Store::open(&db).unwrap();
                for i in 0..8 {
                    let name = UserName::parse(&format!("t{t}x{i}")).unwrap();
                    s.create_user(&NewUser::new(name), now).unwrap();
                    sync_extrausers(&s, &LocalAccounts::default(), &out, "/bin/sh", "/home/%u")
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let passwd = std::fs::read_to_string(out.join("passwd")).unwrap();
    assert_eq!(passwd.lines().count(), 48, "{passwd}");
}
