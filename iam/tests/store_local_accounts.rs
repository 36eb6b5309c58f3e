//! IAM names and ids that would shadow a host's local accounts (issue 11
//! item 4): refused at create and rename (import included), skipped by the
//! id allocator, never published, found for `doctor`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use iam::local_accounts::{Collision, IamAccountKind, LocalAccounts, find_shadowing};
use iam::names::*;
use iam::publish::extrausers::{render, sync_extrausers};
use iam::store::*;
use tempfile::TempDir;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
    build:x:1000:1000::/home/build:/bin/sh\n\
    svc:x:200001:200001::/srv:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nsudo:x:27:build\nbuild:x:1000:\nsvc:x:200001:\nops:x:200003:\n";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn host() -> LocalAccounts {
    LocalAccounts::parse(PASSWD, GROUP)
}

fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let mut store = Store::create(&dir.path().join("iam.db"), &acct).unwrap();
    store.set_local_accounts(host());
    (dir, store)
}

fn user(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

fn group(s: &str) -> GroupName {
    GroupName::parse(s).unwrap()
}

fn create_group(s: &Store, name: &str) -> Result<Group, StoreError> {
    s.create_group(&group(name), &IamPath::root(), now())
}

fn create_user(s: &Store, name: &str) -> Result<User, StoreError> {
    s.create_user(&NewUser::new(user(name)), now())
}

#[test]
fn create_refuses_local_and_reserved_names_whatever_their_case() {
    let (_d, s) = new_store();
    for name in [
        "sudo", "Sudo", "SUDO", "wheel", "Wheel", "root", "build", "docker",
    ] {
        let e = create_group(&s, name).unwrap_err();
        assert_eq!(e.aws_code(), "InvalidInput", "{name}: {e}");
        assert!(
            matches!(
                e,
                StoreError::NameCollision {
                    kind: EntityKind::Group,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = create_user(&s, name).unwrap_err();
        assert_eq!(e.aws_code(), "InvalidInput", "{name}: {e}");
    }
    assert_eq!(
        create_group(&s, "SUDO").unwrap_err().to_string(),
        "The group name SUDO collides with the local group sudo on this host; \
         local privileges are granted only through [group_map]."
    );
    assert_eq!(
        create_user(&s, "wheel").unwrap_err().to_string(),
        "The user name wheel collides with the system name wheel, reserved on every host; \
         local privileges are granted only through [group_map]."
    );
    // Nothing was written, no id was used up.
    assert!(s.list_groups(None).unwrap().is_empty());
    assert!(s.list_users(None).unwrap().is_empty());
    assert_eq!(create_group(&s, "developers").unwrap().gid, 200_000);
}

#[test]
fn reserved_names_are_refused_without_any_local_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let s = Store::create(&dir.path().join("iam.db"), &acct).unwrap();
    assert_eq!(s.local_accounts(), &LocalAccounts::default());
    for name in ["sudo", "Wheel", "ADMIN", "lxd"] {
        assert_eq!(
            create_group(&s, name).unwrap_err().aws_code(),
            "InvalidInput"
        );
    }
    assert!(create_group(&s, "build").is_ok(), "not local here");
}

#[test]
fn rename_refuses_a_colliding_new_name() {
    let (_d, s) = new_store();
    create_group(&s, "devs").unwrap();
    create_user(&s, "alice").unwrap();
    for new in ["sudo", "Sudo", "wheel", "build"] {
        let e = s
            .update_group(&group("devs"), Some(&group(new)), None)
            .unwrap_err();
        assert_eq!(e.aws_code(), "InvalidInput", "{new}");
        let e = s
            .update_user(&user("alice"), Some(&user(new)), None)
            .unwrap_err();
        assert_eq!(e.aws_code(), "InvalidInput", "{new}");
    }
    // Nothing renamed; a rename to a free name works.
    assert!(s.get_group(&group("devs")).is_ok());
    assert!(s.get_user(&user("alice")).is_ok());
    let g = s
        .update_group(&group("devs"), Some(&group("developers")), None)
        .unwrap();
    assert_eq!(g.name.as_str(), "developers");
}

#[test]
fn import_of_a_colliding_group_imports_nothing() {
    let (_d, s) = new_store();
    let details = ImportDetails {
        users: vec![ImportUser {
            name: user("alice"),
            path: IamPath::root(),
            id: None,
            create_date: None,
            tags: vec![],
            permissions_boundary: None,
            groups: vec![group("sudo")],
            inline_policies: vec![],
            attached_policy_arns: vec![],
        }],
        groups: vec![ImportGroup {
            name: group("sudo"),
            path: IamPath::root(),
            id: None,
            create_date: None,
            inline_policies: vec![],
            attached_policy_arns: vec![],
        }],
        ..ImportDetails::default()
    };
    let e = s.import(&details, now()).unwrap_err();
    assert_eq!(e.aws_code(), "InvalidInput", "{e}");
    assert_eq!(
        s.authorization_details().unwrap(),
        AuthorizationDetails::default()
    );
}

#[test]
fn allocator_skips_local_uids_and_gids() {
    let (_d, s) = new_store();
    // 200001 is svc's uid and gid, 200003 the group ops's gid.
    let ids: Vec<u32> = ["a", "b", "c"]
        .iter()
        .map(|n| create_user(&s, n).unwrap().uid)
        .collect();
    assert_eq!(ids, [200_000, 200_002, 200_004]);
}

#[test]
fn colliding_entries_are_never_published_and_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let db = dir.path().join("iam.db");
    // Written by a store that did not know this host's accounts (another
    // host, an older version): names and ids that collide here.
    let s = Store::create(&db, &acct).unwrap();
    for u in ["alice", "build", "svcx"] {
        create_user(&s, u).unwrap();
    }
    for g in ["devs", "ops2", "SVC"] {
        create_group(&s, g).unwrap();
    }
    // uids: alice 200000, build 200001 (svc's uid here), svcx 200002;
    // gids: devs 200003 (ops's gid here), ops2 200004, SVC 200005.
    for (u, g) in [("alice", "devs"), ("alice", "ops2"), ("build", "ops2")] {
        s.add_user_to_group(&user(u), &group(g)).unwrap();
    }
    let r = render(&s, &host(), "/bin/bash", "/home/%u").unwrap();
    assert_eq!(
        r.passwd,
        "alice:x:200000:200000:IAM user /alice:/home/alice:/bin/bash\n\
         svcx:x:200002:200002:IAM user /svcx:/home/svcx:/bin/bash\n"
    );
    assert_eq!(
        r.group, "alice:x:200000:\nsvcx:x:200002:\nops2:x:200004:alice\n",
        "build is no member of anything, devs and SVC are not published"
    );
    let shadowing: Vec<String> = r.report.shadowing.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        shadowing,
        [
            "IAM user build collides with the local user build on this host",
            "IAM group devs collides with gid 200003 of the local group ops on this host",
            "IAM group SVC collides with the local user svc on this host",
        ]
    );
    // doctor sees exactly what publishing left out.
    let found = find_shadowing(&s, &host()).unwrap();
    assert_eq!(found, r.report.shadowing);
    assert_eq!(found[0].kind, IamAccountKind::User);
    assert_eq!(found[0].collision, Collision::LocalUser("build".into()));

    // The written files hold the same.
    let out = dir.path().join("eu");
    std::fs::create_dir(&out).unwrap();
    let report = sync_extrausers(&s, &host(), &out, "/bin/bash", "/home/%u").unwrap();
    assert_eq!((report.users, report.groups), (2, 1));
    let group_file = std::fs::read_to_string(out.join("group")).unwrap();
    assert!(
        !group_file.to_ascii_lowercase().contains("build"),
        "{group_file}"
    );
    assert!(!group_file.contains("devs"), "{group_file}");
}

/// A user's private group and an IAM group share the host's group names:
/// `create-user devs` must not take the Linux group `devs` from the IAM
/// group of that name (a Deny on adding users to it would be dodged, and
/// its members would lose it), nor the other way round, in any case.
#[test]
fn users_and_groups_never_share_a_linux_group_name() {
    let (_d, s) = new_store();
    create_group(&s, "devs").unwrap();
    create_user(&s, "alice").unwrap();
    for name in ["devs", "DEVS"] {
        let e = create_user(&s, name).unwrap_err();
        assert!(
            matches!(&e, StoreError::NameCollision { with: Collision::IamGroup(g), .. } if g == "devs"),
            "{e}"
        );
        assert!(
            e.to_string().contains("share the host's group names"),
            "{e}"
        );
    }
    for name in ["alice", "Alice"] {
        let e = create_group(&s, name).unwrap_err();
        assert!(
            matches!(&e, StoreError::NameCollision { with: Collision::IamUser(u), .. } if u == "alice"),
            "{e}"
        );
    }
    let e = s
        .update_user(&user("alice"), Some(&user("devs")), None)
        .unwrap_err();
    assert!(matches!(e, StoreError::NameCollision { .. }), "{e}");
    create_group(&s, "ops2").unwrap();
    let e = s
        .update_group(&group("ops2"), Some(&group("Alice")), None)
        .unwrap_err();
    assert!(matches!(e, StoreError::NameCollision { .. }), "{e}");
}
