//! Directory CRUD, limits and error shapes on real SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use iam::names::*;
use iam::secret::SecretBytes;
use iam::store::*;
use iam::trust::{Problem, TrustError};
use std::os::unix::fs::PermissionsExt;

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"No","Effect":"Deny","Action":"*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn acct() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

/// A fresh store on the backend under test: `crate::backend` is this
/// file's (SQLite) when it is the test crate; iam-server's
/// tests/pg_store.rs includes this file and runs the same cases on
/// PostgreSQL with its own `backend`.
fn new_store() -> (crate::backend::Guard, Store) {
    crate::backend::new_store(&acct())
}

#[allow(dead_code)]
mod backend {
    use iam::names::AccountId;
    use iam::store::Store;

    pub type Guard = tempfile::TempDir;

    pub fn new_store(account: &AccountId) -> (Guard, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("iam.db"), account).unwrap();
        (dir, store)
    }
}

fn user(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

fn group(s: &str) -> GroupName {
    GroupName::parse(s).unwrap()
}

fn role(s: &str) -> RoleName {
    RoleName::parse(s).unwrap()
}

fn pname(s: &str) -> PolicyName {
    PolicyName::parse(s).unwrap()
}

fn add_user(s: &Store, name: &str) -> User {
    s.create_user(&NewUser::new(user(name)), now()).unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag {
        key: TagKey::parse(k).unwrap(),
        value: TagValue::parse(v).unwrap(),
    }
}

fn new_role(name: &str) -> NewRole {
    NewRole {
        name: role(name),
        path: IamPath::root(),
        assume_role_policy_document: TRUST.into(),
        description: None,
        max_session_duration: None,
        tags: vec![],
        permissions_boundary: None,
    }
}

#[test]
fn create_open_and_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/iam.db");
    let s = Store::create(&path, &acct()).unwrap();
    assert_eq!(s.account_id(), &acct());
    assert_eq!(s.schema_version().unwrap(), iam::store::SCHEMA_VERSION);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dmode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dmode, 0o700);
    add_user(&s, "bob");
    // SQLite gives the WAL and shared-memory files the database's mode.
    for suffix in ["-wal", "-shm"] {
        let side = path.with_file_name(format!("iam.db{suffix}"));
        let mode = std::fs::metadata(&side).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{suffix}");
    }
    drop(s);

    // Create again fails; open and open_or_create work and keep data.
    assert!(Store::create(&path, &acct()).is_err());
    let s = Store::open(&path).unwrap();
    assert_eq!(s.get_user(&user("bob")).unwrap().name.as_str(), "bob");
    drop(s);
    let s = Store::open_or_create(&path, &acct()).unwrap();
    assert_eq!(s.list_users(None).unwrap().len(), 1);
    assert_eq!(s.schema_version().unwrap(), iam::store::SCHEMA_VERSION);
    drop(s);

    // Another account's config is refused.
    let other = AccountId::parse("999999999999").unwrap();
    let e = Store::open_or_create(&path, &other).unwrap_err();
    assert!(
        e.to_string().contains("belongs to account 123456789012"),
        "{e}"
    );
}

#[test]
fn open_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let e = Store::open(&missing).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable { .. }));
    assert!(e.to_string().contains("does not exist"), "{e}");

    // Files made 0600, as the store's own are: others' access is refused
    // before SQLite looks (see `iam::trust` and the end of this test).
    let private = |path: &std::path::Path| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap()
    };
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    private(&garbage);
    let e = Store::open(&garbage).unwrap_err();
    assert!(e.to_string().contains("not a pam_iam store"), "{e}");

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    private(&empty);
    let e = Store::open(&empty).unwrap_err();
    assert!(e.to_string().contains("not initialized"), "{e}");
    // ...but init of an empty file (a crash during create) completes it.
    Store::open_or_create(&empty, &acct()).unwrap();
    Store::open(&empty).unwrap();

    let foreign = dir.path().join("foreign.db");
    let c = rusqlite_conn(&foreign);
    drop(c);
    private(&foreign);
    let e = Store::open(&foreign).unwrap_err();
    assert!(e.to_string().contains("not a pam_iam store"), "{e}");

    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&empty, &link).unwrap();
    let e = Store::open(&link).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Untrusted(TrustError::Untrusted {
                problem: Problem::Symlink,
                ..
            })
        ),
        "{e}"
    );

    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o604)).unwrap();
    let e = Store::open(&empty).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Untrusted(TrustError::Untrusted {
                problem: Problem::NotPrivate { mode: 0o604 },
                ..
            })
        ),
        "{e}"
    );
}

/// A SQLite file made by someone else.
fn rusqlite_conn(path: &std::path::Path) -> std::process::Output {
    std::process::Command::new("sqlite3")
        .arg(path)
        .arg("PRAGMA application_id = 7; CREATE TABLE t (x);")
        .output()
        .unwrap()
}

#[test]
fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    for _ in 0..3 {
        let s = Store::open_or_create(&path, &acct()).unwrap();
        assert_eq!(s.schema_version().unwrap(), iam::store::SCHEMA_VERSION);
    }
    // A newer schema than we know is refused, not silently used.
    let out = std::process::Command::new("sqlite3")
        .arg(&path)
        .arg("PRAGMA user_version = 99;")
        .output()
        .unwrap();
    assert!(out.status.success());
    let e = Store::open(&path).unwrap_err();
    assert!(e.to_string().contains("newer"), "{e}");
}

#[test]
fn users_crud_and_case_insensitive_names() {
    let (_d, s) = new_store();
    let bob = add_user(&s, "bob");
    assert_eq!(bob.arn, "arn:aws:iam::123456789012:user/bob");
    assert!(bob.id.starts_with("AIDA") && bob.id.len() == 21);
    assert_eq!(bob.status, UserStatus::Active);
    assert_eq!(bob.create_date, now().timestamp());
    assert_eq!(bob.uid, 200_000);

    let e = s
        .create_user(&NewUser::new(user("BOB")), now())
        .unwrap_err();
    assert_eq!(e.aws_code(), "EntityAlreadyExists");
    assert_eq!(e.to_string(), "User with name BOB already exists.");
    // Lookup is case-insensitive too, as AWS's.
    assert_eq!(s.get_user(&user("Bob")).unwrap().id, bob.id);

    let mut alice = NewUser::new(user("alice"));
    alice.path = IamPath::parse("/ops/").unwrap();
    alice.tags = vec![tag("team", "ops")];
    let alice = s.create_user(&alice, now()).unwrap();
    assert_eq!(alice.arn, "arn:aws:iam::123456789012:user/ops/alice");
    assert_eq!(alice.uid, 200_001);
    let names: Vec<_> = s
        .list_users(None)
        .unwrap()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(s.list_users(Some("/ops/")).unwrap().len(), 1);
    // Pages by name, case-insensitively, from the index: after "ALICE"
    // comes bob; a page of one; a path prefix inside the page's query.
    let page = |prefix, after, limit| -> Vec<String> {
        s.list_users_page(prefix, after, limit)
            .unwrap()
            .into_iter()
            .map(|u| u.name.to_string())
            .collect()
    };
    assert_eq!(page(None, Some("ALICE"), None), ["bob"]);
    assert_eq!(page(None, None, Some(1)), ["alice"]);
    assert_eq!(page(None, Some("bob"), Some(5)), Vec::<String>::new());
    assert_eq!(page(Some("/ops/"), None, Some(5)), ["alice"]);
    assert_eq!(page(Some("/"), Some("alice"), Some(5)), ["bob"]);

    s.tag_user(&user("alice"), &[tag("TEAM", "dev"), tag("env", "prod")])
        .unwrap();
    let tags = s.get_user(&user("alice")).unwrap().tags;
    assert_eq!(tags, vec![tag("TEAM", "dev"), tag("env", "prod")]);
    s.untag_user(&user("alice"), &[TagKey::parse("team").unwrap()])
        .unwrap();
    assert_eq!(
        s.get_user(&user("alice")).unwrap().tags,
        vec![tag("env", "prod")]
    );
    let many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    let e = s.tag_user(&user("alice"), &many).unwrap_err();
    assert_eq!(e.to_string(), "Cannot exceed quota for TagsPerUser: 50");
    assert_eq!(e.aws_code(), "LimitExceeded");
    assert_eq!(s.get_user(&user("alice")).unwrap().tags.len(), 1);

    s.set_user_status(&user("bob"), UserStatus::Disabled)
        .unwrap();
    assert_eq!(
        s.get_user(&user("bob")).unwrap().status,
        UserStatus::Disabled
    );
    // Kept in the ledger, by unique id.
    let bob_id = s.get_user(&user("bob")).unwrap().id;
    s.ledger().record_password_used(&bob_id, now()).unwrap();
    assert_eq!(
        s.get_user(&user("bob")).unwrap().password_last_used,
        Some(now().timestamp())
    );

    let renamed = s
        .update_user(&user("bob"), Some(&user("robert")), None)
        .unwrap();
    assert_eq!(renamed.uid, bob.uid);
    assert_eq!(renamed.id, bob.id);
    assert!(s.find_user(&user("bob")).unwrap().is_none());
    assert_eq!(
        s.find_user_by_uid(bob.uid).unwrap().unwrap().name.as_str(),
        "robert"
    );

    let e = s.get_user(&user("nobody")).unwrap_err();
    assert_eq!(e.to_string(), "The user with name nobody cannot be found.");
    assert_eq!(e.aws_code(), "NoSuchEntity");
    s.delete_user(&user("robert")).unwrap();
    assert!(s.find_user(&user("robert")).unwrap().is_none());
    assert_eq!(
        s.delete_user(&user("robert")).unwrap_err().aws_code(),
        "NoSuchEntity"
    );
}

#[test]
fn uids_are_never_reused() {
    let (_d, mut s) = new_store();
    s.set_limits(Limits {
        uid_range: (5000, 5003),
        max_roles: 250,
    });
    let a = add_user(&s, "a");
    let g = s
        .create_group(&group("g"), &IamPath::root(), now())
        .unwrap();
    assert_eq!((a.uid, g.gid), (5000, 5001));
    s.delete_user(&user("a")).unwrap();
    s.delete_group(&group("g")).unwrap();
    // Same names again: fresh ids, never the old ones.
    let a2 = add_user(&s, "a");
    let g2 = s
        .create_group(&group("g"), &IamPath::root(), now())
        .unwrap();
    assert_eq!((a2.uid, g2.gid), (5002, 5003));
    let e = s.create_user(&NewUser::new(user("b")), now()).unwrap_err();
    assert_eq!(e.aws_code(), "LimitExceeded");
    assert!(s.find_user(&user("b")).unwrap().is_none());
    // Widening the range downwards uses ids never handed out.
    s.set_limits(Limits {
        uid_range: (4998, 5003),
        max_roles: 250,
    });
    assert_eq!(add_user(&s, "b").uid, 4998);
    assert_eq!(add_user(&s, "c").uid, 4999);
    // nobody/nogroup are skipped.
    s.set_limits(Limits {
        uid_range: (65530, 65540),
        max_roles: 250,
    });
    let uids: Vec<u32> = (0..6).map(|i| add_user(&s, &format!("n{i}")).uid).collect();
    assert_eq!(uids, [65530, 65531, 65532, 65533, 65536, 65537]);
    // A range reaching into system ids is refused.
    s.set_limits(Limits {
        uid_range: (0, 10),
        max_roles: 250,
    });
    assert_eq!(
        s.create_user(&NewUser::new(user("x")), now())
            .unwrap_err()
            .aws_code(),
        "InvalidInput"
    );
}

#[test]
fn login_profiles_and_history() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    let e = s.get_login_profile(&user("bob")).unwrap_err();
    assert_eq!(e.to_string(), "Login Profile for User bob cannot be found.");
    let p = s
        .create_login_profile(&user("bob"), "$argon2id$v=19$h1", true, now())
        .unwrap();
    assert!(p.password_reset_required);
    assert!(!format!("{p:?}").contains("h1"));
    let e = s
        .create_login_profile(&user("bob"), "$argon2id$v=19$h1", true, now())
        .unwrap_err();
    assert_eq!(e.aws_code(), "EntityAlreadyExists");

    let later = now() + chrono::Duration::days(1);
    for h in ["h2", "h3", "h4"] {
        s.set_password(
            &user("bob"),
            &format!("$argon2id$v=19${h}"),
            false,
            2,
            later,
        )
        .unwrap();
    }
    let p = s.get_login_profile(&user("bob")).unwrap();
    assert_eq!(p.password_hash, "$argon2id$v=19$h4");
    assert!(!p.password_reset_required);
    assert_eq!(p.password_changed, later.timestamp());
    assert_eq!(p.create_date, now().timestamp());
    assert_eq!(
        s.password_history(&user("bob"), 10).unwrap(),
        ["$argon2id$v=19$h3", "$argon2id$v=19$h2"]
    );
    assert_eq!(s.password_history(&user("bob"), 1).unwrap().len(), 1);
    s.set_password_reset_required(&user("bob"), true).unwrap();
    assert!(
        s.get_login_profile(&user("bob"))
            .unwrap()
            .password_reset_required
    );

    let e = s.delete_user(&user("bob")).unwrap_err();
    assert_eq!(e.aws_code(), "DeleteConflict");
    assert_eq!(
        e.to_string(),
        "Cannot delete entity, must delete login profile first."
    );
    s.delete_login_profile(&user("bob")).unwrap();
    s.delete_user(&user("bob")).unwrap();
}

#[test]
fn groups_and_membership_limit() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    add_user(&s, "amy");
    for i in 0..11 {
        let g = s
            .create_group(&group(&format!("g{i:02}")), &IamPath::root(), now())
            .unwrap();
        assert!(g.id.starts_with("AGPA"));
        assert_eq!(g.arn, format!("arn:aws:iam::123456789012:group/g{i:02}"));
    }
    let e = s
        .create_group(&group("G00"), &IamPath::root(), now())
        .unwrap_err();
    assert_eq!(e.to_string(), "Group with name G00 already exists.");
    for i in 0..10 {
        s.add_user_to_group(&user("bob"), &group(&format!("g{i:02}")))
            .unwrap();
    }
    // Adding again is a no-op, as AWS's.
    s.add_user_to_group(&user("bob"), &group("g00")).unwrap();
    let e = s
        .add_user_to_group(&user("bob"), &group("g10"))
        .unwrap_err();
    assert_eq!(e.aws_code(), "LimitExceeded");
    assert_eq!(e.to_string(), "Cannot exceed quota for GroupsPerUser: 10");
    assert_eq!(s.groups_for_user(&user("bob")).unwrap().len(), 10);
    s.add_user_to_group(&user("amy"), &group("g00")).unwrap();
    let members: Vec<_> = s
        .users_in_group(&group("g00"))
        .unwrap()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    assert_eq!(members, ["amy", "bob"]);

    let e = s.delete_group(&group("g00")).unwrap_err();
    assert_eq!(e.aws_code(), "DeleteConflict");
    let e = s.delete_user(&user("amy")).unwrap_err();
    assert_eq!(e.aws_code(), "DeleteConflict");
    s.remove_user_from_group(&user("amy"), &group("g00"))
        .unwrap();
    s.delete_user(&user("amy")).unwrap();
    assert_eq!(
        s.remove_user_from_group(&user("bob"), &group("g10"))
            .unwrap_err()
            .aws_code(),
        "NoSuchEntity"
    );
    let renamed = s
        .update_group(
            &group("g10"),
            Some(&group("ops")),
            Some(&IamPath::parse("/x/").unwrap()),
        )
        .unwrap();
    assert_eq!(renamed.arn, "arn:aws:iam::123456789012:group/x/ops");
    s.delete_group(&group("ops")).unwrap();
    assert_eq!(s.list_groups(None).unwrap().len(), 10);
}

#[test]
fn managed_policies_versions_and_attachments() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    let p = s
        .create_policy(
            &pname("Admin"),
            &IamPath::root(),
            Some("all"),
            ALLOW_ALL,
            now(),
        )
        .unwrap();
    assert_eq!(p.arn, "arn:aws:iam::123456789012:policy/Admin");
    assert!(p.id.starts_with("ANPA"));
    assert_eq!(p.default_version_id, "v1");
    assert_eq!(p.attachment_count, 0);
    let e = s
        .create_policy(&pname("admin"), &IamPath::root(), None, ALLOW_ALL, now())
        .unwrap_err();
    assert_eq!(e.aws_code(), "EntityAlreadyExists");

    // Versions: up to 5; default cannot be deleted.
    for i in 2..=5 {
        let v = s
            .create_policy_version(&p.arn, ALLOW_ALL, i == 3, now())
            .unwrap();
        assert_eq!(v.version_id, format!("v{i}"));
    }
    let e = s
        .create_policy_version(&p.arn, ALLOW_ALL, false, now())
        .unwrap_err();
    assert_eq!(e.aws_code(), "LimitExceeded");
    assert_eq!(s.get_policy(&p.arn).unwrap().default_version_id, "v3");
    let e = s.delete_policy_version(&p.arn, "v3").unwrap_err();
    assert_eq!(e.aws_code(), "DeleteConflict");
    s.delete_policy_version(&p.arn, "v1").unwrap();
    let v6 = s
        .create_policy_version(&p.arn, ALLOW_ALL, false, now())
        .unwrap();
    assert_eq!(v6.version_id, "v6");
    let ids: Vec<_> = s
        .list_policy_versions(&p.arn)
        .unwrap()
        .into_iter()
        .map(|v| (v.version_id, v.is_default_version))
        .collect();
    assert_eq!(
        ids,
        [
            ("v6".into(), false),
            ("v5".into(), false),
            ("v4".into(), false),
            ("v3".into(), true),
            ("v2".into(), false)
        ]
    );
    s.set_default_policy_version(&p.arn, "v6", now()).unwrap();
    assert!(
        s.get_policy_version(&p.arn, "v6")
            .unwrap()
            .is_default_version
    );
    assert_eq!(
        s.get_policy_version(&p.arn, "v1").unwrap_err().aws_code(),
        "NoSuchEntity"
    );
    assert_eq!(
        s.get_policy_version(&p.arn, "x1").unwrap_err().aws_code(),
        "InvalidInput"
    );

    // Attachments: idempotent, ≤ 10 per entity, block deletes.
    let bob = Entity::User(user("bob"));
    s.attach_policy(&bob, &p.arn).unwrap();
    s.attach_policy(&bob, &p.arn).unwrap();
    assert_eq!(s.get_policy(&p.arn).unwrap().attachment_count, 1);
    let mut arns = vec![p.arn.clone()];
    for i in 0..10 {
        let q = s
            .create_policy(
                &pname(&format!("P{i}")),
                &IamPath::root(),
                None,
                ALLOW_ALL,
                now(),
            )
            .unwrap();
        arns.push(q.arn);
    }
    for arn in &arns[1..10] {
        s.attach_policy(&bob, arn).unwrap();
    }
    let e = s.attach_policy(&bob, &arns[10]).unwrap_err();
    assert_eq!(e.to_string(), "Cannot exceed quota for PoliciesPerUser: 10");
    assert_eq!(s.list_attached_policies(&bob).unwrap().len(), 10);
    assert_eq!(s.list_policies(None, true).unwrap().len(), 10);
    assert_eq!(s.list_policies(None, false).unwrap().len(), 11);
    assert_eq!(
        s.list_entities_for_policy(&p.arn).unwrap(),
        vec![bob.clone()]
    );
    let e = s.delete_policy(&p.arn).unwrap_err();
    assert_eq!(e.aws_code(), "DeleteConflict");
    let e = s.delete_user(&user("bob")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cannot delete entity, must delete policies first."
    );
    s.detach_policy(&bob, &p.arn).unwrap();
    assert_eq!(
        s.detach_policy(&bob, &p.arn).unwrap_err().aws_code(),
        "NoSuchEntity"
    );
    s.delete_policy(&p.arn).unwrap();
    assert_eq!(s.get_policy(&p.arn).unwrap_err().aws_code(), "NoSuchEntity");

    // Unknown and foreign ARNs.
    let e = s
        .attach_policy(&bob, "arn:aws:iam::123456789012:policy/Nope")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Policy arn:aws:iam::123456789012:policy/Nope does not exist or is not attachable."
    );
    let e = s
        .attach_policy(&bob, "arn:aws:iam::999999999999:policy/P1")
        .unwrap_err();
    assert_eq!(e.aws_code(), "NoSuchEntity");
    let e = s
        .attach_policy(&bob, "arn:aws:iam::123456789012:policy/sub/P1")
        .unwrap_err();
    assert_eq!(e.aws_code(), "NoSuchEntity");
    assert_eq!(
        s.attach_policy(&bob, "garbage").unwrap_err().aws_code(),
        "ValidationError"
    );
}

#[test]
fn malformed_policies_leave_the_store_unchanged() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    let bob = Entity::User(user("bob"));
    for bad in ["", "{", "[]", r#"{"Version":"2012-10-17"}"#] {
        let e = s
            .create_policy(&pname("P"), &IamPath::root(), None, bad, now())
            .unwrap_err();
        assert_eq!(e.aws_code(), "MalformedPolicyDocument", "{bad}");
        let e = s.put_inline_policy(&bob, &pname("I"), bad).unwrap_err();
        assert_eq!(e.aws_code(), "MalformedPolicyDocument", "{bad}");
        let mut r = new_role("r");
        r.assume_role_policy_document = bad.into();
        assert_eq!(
            s.create_role(&r, now()).unwrap_err().aws_code(),
            "MalformedPolicyDocument"
        );
    }
    let e = s
        .put_inline_policy(
            &bob,
            &pname("I"),
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"S1","Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
        )
        .unwrap_err();
    assert!(matches!(e, StoreError::MalformedPolicyDocument(_)));
    let msg = e.to_string();
    assert!(
        msg.contains("Statement[0]") && msg.contains("Effect"),
        "{msg}"
    );
    assert!(s.list_policies(None, false).unwrap().is_empty());
    assert!(s.list_inline_policies(&bob).unwrap().is_empty());
    assert!(s.list_roles(None).unwrap().is_empty());
    let p = s
        .create_policy(&pname("P"), &IamPath::root(), None, ALLOW_ALL, now())
        .unwrap();
    assert!(s.create_policy_version(&p.arn, "{", true, now()).is_err());
    assert_eq!(s.list_policy_versions(&p.arn).unwrap().len(), 1);
    assert_eq!(s.get_policy(&p.arn).unwrap().default_version_id, "v1");
}

#[test]
fn inline_policies() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    s.create_group(&group("devs"), &IamPath::root(), now())
        .unwrap();
    s.create_role(&new_role("admin"), now()).unwrap();
    for e in [
        Entity::User(user("bob")),
        Entity::Group(group("devs")),
        Entity::Role(role("admin")),
    ] {
        s.put_inline_policy(&e, &pname("one"), ALLOW_ALL).unwrap();
        s.put_inline_policy(&e, &pname("ONE"), DENY_ALL).unwrap();
        let all = s.list_inline_policies(&e).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name.as_str(), "ONE");
        assert_eq!(
            s.get_inline_policy(&e, &pname("one")).unwrap().document,
            DENY_ALL
        );
        s.delete_inline_policy(&e, &pname("one")).unwrap();
        let err = s.get_inline_policy(&e, &pname("one")).unwrap_err();
        assert_eq!(err.aws_code(), "NoSuchEntity");
    }
    let e = s
        .get_inline_policy(&Entity::User(user("bob")), &pname("x"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "The user policy with name x cannot be found."
    );
    let e = s
        .put_inline_policy(&Entity::User(user("ghost")), &pname("x"), ALLOW_ALL)
        .unwrap_err();
    assert_eq!(e.to_string(), "The user with name ghost cannot be found.");
}

/// A policy document of exactly `chars` characters without whitespace
/// (whitespace is padding that AWS does not count).
fn sized_policy(chars: usize) -> String {
    let (head, tail) = (
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/"#,
        r#""}]}"#,
    );
    format!(
        "  {head}{}{tail}\n  ",
        "a".repeat(chars - head.len() - tail.len())
    )
}

/// AWS quotas: the aggregate of a user's inline policies is at most 2,048
/// characters, a group's 5,120 and a role's 10,240, whitespace not
/// counted; replacing a policy counts the new document instead of the old.
#[test]
fn inline_policy_aggregate_size_follows_aws_quotas() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    s.create_group(&group("devs"), &IamPath::root(), now())
        .unwrap();
    s.create_role(&new_role("admin"), now()).unwrap();
    for (entity, quota) in [
        (Entity::User(user("bob")), 2048),
        (Entity::Group(group("devs")), 5120),
        (Entity::Role(role("admin")), 10240),
    ] {
        let half = quota / 2;
        s.put_inline_policy(&entity, &pname("a"), &sized_policy(half))
            .unwrap();
        s.put_inline_policy(&entity, &pname("b"), &sized_policy(quota - half))
            .unwrap();
        // One more character anywhere is over the aggregate.
        let e = s
            .put_inline_policy(&entity, &pname("c"), &sized_policy(120))
            .unwrap_err();
        assert_eq!(e.aws_code(), "LimitExceeded", "{e}");
        assert!(e.to_string().contains(&quota.to_string()), "{e}");
        let e = s
            .put_inline_policy(&entity, &pname("B"), &sized_policy(quota - half + 1))
            .unwrap_err();
        assert_eq!(e.aws_code(), "LimitExceeded");
        // Replacing "b" (any case) with a document of its size fits.
        s.put_inline_policy(&entity, &pname("B"), &sized_policy(quota - half))
            .unwrap();
        assert_eq!(s.list_inline_policies(&entity).unwrap().len(), 2);
        s.delete_inline_policy(&entity, &pname("a")).unwrap();
        s.put_inline_policy(&entity, &pname("c"), &sized_policy(half))
            .unwrap();
    }
}

#[test]
fn roles() {
    let (_d, mut s) = new_store();
    let mut r = new_role("admin");
    r.tags = vec![tag("host:RunAs", "root")];
    r.description = Some("admins".into());
    let admin = s.create_role(&r, now()).unwrap();
    assert_eq!(admin.arn, "arn:aws:iam::123456789012:role/admin");
    assert!(admin.id.starts_with("AROA"));
    assert_eq!(admin.max_session_duration, 3600);
    assert_eq!(admin.assume_role_policy_document, TRUST);
    assert_eq!(
        s.create_role(&new_role("ADMIN"), now())
            .unwrap_err()
            .aws_code(),
        "EntityAlreadyExists"
    );
    let mut bad = new_role("x");
    bad.max_session_duration = Some(100);
    assert_eq!(
        s.create_role(&bad, now()).unwrap_err().aws_code(),
        "InvalidInput"
    );

    let updated = s
        .update_role(&role("admin"), Some(None), Some(7200))
        .unwrap();
    assert_eq!(updated.max_session_duration, 7200);
    assert_eq!(updated.description, None);
    let trust2 = TRUST.replace(":root", ":user/bob");
    add_user(&s, "bob");
    s.update_assume_role_policy(&role("admin"), &trust2)
        .unwrap();
    assert_eq!(
        s.get_role(&role("admin"))
            .unwrap()
            .assume_role_policy_document,
        trust2
    );
    assert_eq!(
        s.update_assume_role_policy(&role("admin"), ALLOW_ALL)
            .unwrap_err()
            .aws_code(),
        "MalformedPolicyDocument"
    );
    assert!(s.get_role(&role("admin")).unwrap().trust_policy().is_ok());
    s.tag_role(&role("admin"), &[tag("env", "prod")]).unwrap();
    s.untag_role(&role("admin"), &[TagKey::parse("HOST:RUNAS").unwrap()])
        .unwrap();
    assert_eq!(
        s.get_role(&role("admin")).unwrap().tags,
        vec![tag("env", "prod")]
    );

    s.set_limits(Limits {
        uid_range: (200_000, 299_999),
        max_roles: 3,
    });
    s.create_role(&new_role("r2"), now()).unwrap();
    s.create_role(&new_role("r3"), now()).unwrap();
    let e = s.create_role(&new_role("r4"), now()).unwrap_err();
    assert_eq!(e.to_string(), "Cannot exceed quota for RolesPerAccount: 3");
    assert_eq!(s.list_roles(None).unwrap().len(), 3);

    let p = s
        .create_policy(&pname("P"), &IamPath::root(), None, ALLOW_ALL, now())
        .unwrap();
    s.attach_policy(&Entity::Role(role("r2")), &p.arn).unwrap();
    assert_eq!(
        s.delete_role(&role("r2")).unwrap_err().aws_code(),
        "DeleteConflict"
    );
    s.delete_role(&role("r3")).unwrap();
    assert_eq!(
        s.get_role(&role("r3")).unwrap_err().to_string(),
        "The role with name r3 cannot be found."
    );
}

#[test]
fn permissions_boundaries() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    s.create_role(&new_role("admin"), now()).unwrap();
    let b = s
        .create_policy(&pname("Boundary"), &IamPath::root(), None, ALLOW_ALL, now())
        .unwrap();
    let e = s
        .set_user_permissions_boundary(&user("bob"), Some("arn:aws:iam::123456789012:policy/X"))
        .unwrap_err();
    assert_eq!(e.aws_code(), "NoSuchEntity");
    s.set_user_permissions_boundary(&user("bob"), Some(&b.arn))
        .unwrap();
    s.set_role_permissions_boundary(&role("admin"), Some(&b.arn))
        .unwrap();
    assert_eq!(
        s.get_user(&user("bob"))
            .unwrap()
            .permissions_boundary
            .as_deref(),
        Some(b.arn.as_str())
    );
    assert_eq!(
        s.get_policy(&b.arn)
            .unwrap()
            .permissions_boundary_usage_count,
        2
    );
    assert_eq!(
        s.delete_policy(&b.arn).unwrap_err().aws_code(),
        "DeleteConflict"
    );
    let pp = s.policies_for_user(&user("bob")).unwrap();
    assert_eq!(pp.boundary.unwrap().name, "Boundary");
    assert!(
        s.policies_for_role(&role("admin"))
            .unwrap()
            .boundary
            .is_some()
    );
    s.set_user_permissions_boundary(&user("bob"), None).unwrap();
    s.set_role_permissions_boundary(&role("admin"), None)
        .unwrap();
    assert!(
        s.policies_for_user(&user("bob"))
            .unwrap()
            .boundary
            .is_none()
    );
    s.delete_policy(&b.arn).unwrap();
}

#[test]
fn policies_for_user_collects_everything() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    add_user(&s, "amy");
    s.create_group(&group("devs"), &IamPath::root(), now())
        .unwrap();
    s.create_group(&group("ops"), &IamPath::root(), now())
        .unwrap();
    s.add_user_to_group(&user("bob"), &group("devs")).unwrap();
    s.add_user_to_group(&user("bob"), &group("ops")).unwrap();
    let m1 = s
        .create_policy(&pname("M1"), &IamPath::root(), None, ALLOW_ALL, now())
        .unwrap();
    s.create_policy_version(&m1.arn, DENY_ALL, true, now())
        .unwrap();
    let m2 = s
        .create_policy(
            &pname("M2"),
            &IamPath::parse("/t/").unwrap(),
            None,
            ALLOW_ALL,
            now(),
        )
        .unwrap();
    let bob = Entity::User(user("bob"));
    s.put_inline_policy(&bob, &pname("bob-inline"), ALLOW_ALL)
        .unwrap();
    s.attach_policy(&bob, &m1.arn).unwrap();
    s.put_inline_policy(
        &Entity::Group(group("devs")),
        &pname("devs-inline"),
        ALLOW_ALL,
    )
    .unwrap();
    s.attach_policy(&Entity::Group(group("ops")), &m2.arn)
        .unwrap();
    s.attach_policy(&Entity::User(user("amy")), &m2.arn)
        .unwrap();

    let pp = s.policies_for_user(&user("bob")).unwrap();
    let got: Vec<(String, PolicySource)> = pp
        .identity
        .iter()
        .map(|p| (p.name.clone(), p.source.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("bob-inline".into(), PolicySource::UserInline),
            (
                "M1".into(),
                PolicySource::Managed {
                    arn: m1.arn.clone(),
                    group: None
                }
            ),
            (
                "devs-inline".into(),
                PolicySource::GroupInline {
                    group: group("devs")
                }
            ),
            (
                "M2".into(),
                PolicySource::Managed {
                    arn: "arn:aws:iam::123456789012:policy/t/M2".into(),
                    group: Some(group("ops"))
                }
            ),
        ]
    );
    // The managed policy's default version (v2) is what applies.
    assert_eq!(pp.identity[1].document, DENY_ALL);
    // The engine accepts the assembled set.
    let set = pp.policy_set().unwrap();
    assert_eq!(set.identity.len(), 4);
    assert!(set.boundary.is_none());
    assert!(pp.boundary.is_none());
    assert_eq!(s.policies_for_user(&user("amy")).unwrap().identity.len(), 1);
    assert_eq!(
        s.policies_for_user(&user("zed")).unwrap_err().aws_code(),
        "NoSuchEntity"
    );

    s.create_role(&new_role("admin"), now()).unwrap();
    s.put_inline_policy(&Entity::Role(role("admin")), &pname("ri"), ALLOW_ALL)
        .unwrap();
    s.attach_policy(&Entity::Role(role("admin")), &m2.arn)
        .unwrap();
    let rp = s.policies_for_role(&role("admin")).unwrap();
    assert_eq!(rp.identity.len(), 2);
    assert_eq!(rp.identity[0].source, PolicySource::RoleInline);
}

#[test]
fn mfa_devices() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    let secret = SecretBytes::new(vec![7u8; 20]);
    let d = s
        .create_virtual_mfa_device(
            &MfaDeviceName::parse("bob").unwrap(),
            &IamPath::root(),
            &secret,
            now(),
        )
        .unwrap();
    assert_eq!(d.serial_number, "arn:aws:iam::123456789012:mfa/bob");
    assert_eq!(d.user, None);
    assert_eq!(d.secret, secret);
    assert!(!format!("{d:?}").contains("7, 7"));
    assert_eq!(
        s.create_virtual_mfa_device(
            &MfaDeviceName::parse("BOB").unwrap(),
            &IamPath::root(),
            &secret,
            now()
        )
        .unwrap_err()
        .aws_code(),
        "EntityAlreadyExists"
    );
    assert_eq!(
        s.create_virtual_mfa_device(
            &MfaDeviceName::parse("short").unwrap(),
            &IamPath::root(),
            &SecretBytes::new(vec![1; 5]),
            now()
        )
        .unwrap_err()
        .aws_code(),
        "InvalidInput"
    );
    assert!(s.list_mfa_devices(&user("bob")).unwrap().is_empty());
    assert_eq!(s.list_virtual_mfa_devices(Some(false)).unwrap().len(), 1);

    s.enable_mfa_device(&user("bob"), &d.serial_number, 1000, now())
        .unwrap();
    let devs = s.list_mfa_devices(&user("bob")).unwrap();
    assert_eq!(devs.len(), 1);
    assert_eq!(devs[0].user, Some(user("bob")));
    assert_eq!(devs[0].enable_date, Some(now().timestamp()));
    // Enabling takes the later code's step in the ledger.
    assert_eq!(s.ledger().totp_step(&d.serial_number).unwrap(), Some(1000));
    assert_eq!(s.list_virtual_mfa_devices(Some(true)).unwrap().len(), 1);
    assert_eq!(
        s.enable_mfa_device(&user("bob"), &d.serial_number, 1000, now())
            .unwrap_err()
            .aws_code(),
        "EntityAlreadyExists"
    );

    // Steps: only strictly increasing ones are accepted.
    assert!(!s.ledger().accept_totp_step(&d.serial_number, 999).unwrap());
    assert!(!s.ledger().accept_totp_step(&d.serial_number, 1000).unwrap());
    assert!(s.ledger().accept_totp_step(&d.serial_number, 1001).unwrap());
    assert!(!s.ledger().accept_totp_step(&d.serial_number, 1001).unwrap());
    assert_eq!(s.ledger().totp_step(&d.serial_number).unwrap(), Some(1001));

    assert_eq!(
        s.delete_user(&user("bob")).unwrap_err().to_string(),
        "Cannot delete entity, must delete MFA device first."
    );
    assert_eq!(
        s.delete_virtual_mfa_device(&d.serial_number)
            .unwrap_err()
            .aws_code(),
        "DeleteConflict"
    );
    s.deactivate_mfa_device(&user("bob"), &d.serial_number)
        .unwrap();
    assert!(s.list_mfa_devices(&user("bob")).unwrap().is_empty());
    s.delete_virtual_mfa_device(&d.serial_number).unwrap();
    s.delete_user(&user("bob")).unwrap();
}

/// AWS's quota of eight MFA devices per user: a ninth is LimitExceeded and
/// changes nothing. ResyncMFADevice keeps a device's drift and claims the
/// later code's step only when it is newer; a device not the user's is
/// NoSuchEntity; deactivating forgets the drift.
#[test]
fn eight_mfa_devices_per_user_and_resync() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    add_user(&s, "eve");
    let device = |i: u32| {
        s.create_virtual_mfa_device(
            &MfaDeviceName::parse(&format!("bob-{i}")).unwrap(),
            &IamPath::root(),
            &SecretBytes::new(vec![i as u8; 20]),
            now(),
        )
        .unwrap()
        .serial_number
    };
    let serials: Vec<String> = (1..=9).map(device).collect();
    for serial in &serials[..8] {
        s.enable_mfa_device(&user("bob"), serial, 1000, now())
            .unwrap();
    }
    let e = s
        .enable_mfa_device(&user("bob"), &serials[8], 1000, now())
        .unwrap_err();
    assert_eq!(e.aws_code(), "LimitExceeded");
    assert_eq!(
        e.to_string(),
        "Cannot exceed quota for MFADevicesPerUser: 8"
    );
    assert_eq!(s.list_mfa_devices(&user("bob")).unwrap().len(), 8);
    assert_eq!(s.get_mfa_device(&serials[8]).unwrap().user, None);
    assert_eq!(s.ledger().totp_step(&serials[8]).unwrap(), None);

    // Resync: a fast device's drift and step; a slow one's drift only.
    let first = &serials[0];
    s.resync_mfa_device(&user("bob"), first, 20, 1020).unwrap();
    assert_eq!(s.get_mfa_device(first).unwrap().drift_steps, 20);
    assert_eq!(s.ledger().totp_step(first).unwrap(), Some(1020));
    s.resync_mfa_device(&user("bob"), first, -4, 1016).unwrap();
    assert_eq!(s.get_mfa_device(first).unwrap().drift_steps, -4);
    assert_eq!(s.ledger().totp_step(first).unwrap(), Some(1020));
    for (who, serial) in [("eve", first), ("bob", &serials[8])] {
        let e = s
            .resync_mfa_device(&user(who), serial, 3, 2000)
            .unwrap_err();
        assert_eq!(e.aws_code(), "NoSuchEntity", "{who} {serial}");
    }
    // Nothing changed by the refusals.
    assert_eq!(s.get_mfa_device(first).unwrap().drift_steps, -4);
    assert_eq!(s.ledger().totp_step(first).unwrap(), Some(1020));
    assert_eq!(s.ledger().totp_step(&serials[8]).unwrap(), None);
    s.deactivate_mfa_device(&user("bob"), first).unwrap();
    assert_eq!(s.get_mfa_device(first).unwrap().drift_steps, 0);
}

/// Recovery codes (ours): one set per user, replaced whole; uses are the
/// ledger's, once per code, per set; the user's deletion takes the set.
#[test]
fn recovery_codes_one_set_per_user_used_once() {
    use iam::recovery_codes::RecoveryCodes;
    let (_d, s) = new_store();
    add_user(&s, "bob");
    assert_eq!(s.recovery_codes(&user("bob")).unwrap(), None);
    let first = RecoveryCodes::generate(now().timestamp()).unwrap();
    s.put_recovery_codes(&user("bob"), &first.set).unwrap();
    assert_eq!(
        s.recovery_codes(&user("bob")).unwrap(),
        Some(first.set.clone())
    );
    let ledger = s.ledger();
    assert!(
        ledger
            .use_recovery_code(&first.set.set_id, 2, now())
            .unwrap()
    );
    assert!(
        !ledger
            .use_recovery_code(&first.set.set_id, 2, now())
            .unwrap()
    );
    assert_eq!(ledger.recovery_codes_used(&first.set.set_id).unwrap(), 1);
    let second = RecoveryCodes::generate(now().timestamp() + 1).unwrap();
    s.put_recovery_codes(&user("bob"), &second.set).unwrap();
    assert_eq!(
        s.recovery_codes(&user("bob")).unwrap(),
        Some(second.set.clone())
    );
    assert_eq!(ledger.recovery_codes_used(&second.set.set_id).unwrap(), 0);
    assert_eq!(
        s.put_recovery_codes(&user("nobody"), &second.set)
            .unwrap_err()
            .aws_code(),
        "NoSuchEntity"
    );
    s.delete_user(&user("bob")).unwrap();
    add_user(&s, "bob");
    assert_eq!(s.recovery_codes(&user("bob")).unwrap(), None);
}

#[test]
fn password_policy_and_credential_report() {
    let (_d, s) = new_store();
    assert_eq!(s.get_password_policy().unwrap(), None);
    let e = s.delete_password_policy().unwrap_err();
    assert_eq!(
        e.to_string(),
        "The Password Policy with domain name 123456789012 cannot be found."
    );
    let mut pp = iam::password::PasswordPolicy {
        minimum_password_length: 14,
        password_reuse_prevention: Some(5),
        ..Default::default()
    };
    s.set_password_policy(&pp).unwrap();
    assert_eq!(s.get_password_policy().unwrap(), Some(pp.clone()));
    pp.require_symbols = true;
    s.set_password_policy(&pp).unwrap();
    assert_eq!(s.get_password_policy().unwrap(), Some(pp));
    s.delete_password_policy().unwrap();
    assert_eq!(s.get_password_policy().unwrap(), None);

    add_user(&s, "bob");
    add_user(&s, "amy");
    s.create_login_profile(&user("bob"), "$argon2id$x", false, now())
        .unwrap();
    let d = s
        .create_virtual_mfa_device(
            &MfaDeviceName::parse("bob").unwrap(),
            &IamPath::root(),
            &SecretBytes::new(vec![1; 20]),
            now(),
        )
        .unwrap();
    s.enable_mfa_device(&user("bob"), &d.serial_number, 1, now())
        .unwrap();
    let rows = s.credential_report().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].user.as_str(), "amy");
    assert!(!rows[0].password_enabled && !rows[0].mfa_active);
    assert!(rows[1].password_enabled && rows[1].mfa_active);
    assert_eq!(rows[1].password_last_changed, Some(now().timestamp()));
    assert_eq!(rows[1].arn, "arn:aws:iam::123456789012:user/bob");
}

#[test]
fn atomically_groups_writes() {
    let (_d, s) = new_store();
    let r = s.atomically(|s| {
        add_user(s, "bob");
        s.create_group(&group("devs"), &IamPath::root(), now())?;
        s.add_user_to_group(&user("bob"), &group("nope"))
    });
    assert_eq!(r.unwrap_err().aws_code(), "NoSuchEntity");
    assert!(s.list_users(None).unwrap().is_empty());
    assert!(s.list_groups(None).unwrap().is_empty());
    // A failed inner step that the closure handles only undoes itself.
    s.atomically(|s| {
        add_user(s, "bob");
        assert!(s.create_user(&NewUser::new(user("BOB")), now()).is_err());
        add_user(s, "amy");
        Ok(())
    })
    .unwrap();
    assert_eq!(s.list_users(None).unwrap().len(), 2);
    // The uid of the failed, rolled-back attempt was not consumed, and no
    // uid is ever used twice.
    let uids: Vec<u32> = s.list_users(None).unwrap().iter().map(|u| u.uid).collect();
    assert_eq!(uids, [200_001, 200_000]);
}

#[test]
fn export_and_import_round_trip() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    s.create_group(&group("devs"), &IamPath::root(), now())
        .unwrap();
    s.add_user_to_group(&user("bob"), &group("devs")).unwrap();
    let p = s
        .create_policy(
            &pname("P"),
            &IamPath::parse("/t/").unwrap(),
            None,
            ALLOW_ALL,
            now(),
        )
        .unwrap();
    s.create_policy_version(&p.arn, DENY_ALL, true, now())
        .unwrap();
    s.attach_policy(&Entity::Group(group("devs")), &p.arn)
        .unwrap();
    s.put_inline_policy(&Entity::User(user("bob")), &pname("i"), ALLOW_ALL)
        .unwrap();
    s.set_user_permissions_boundary(&user("bob"), Some(&p.arn))
        .unwrap();
    s.create_role(&new_role("admin"), now()).unwrap();
    s.attach_policy(&Entity::Role(role("admin")), &p.arn)
        .unwrap();
    let out = s.authorization_details().unwrap();
    assert_eq!(out.users.len(), 1);
    assert_eq!(out.users[0].groups, vec![group("devs")]);
    assert_eq!(out.users[0].inline_policies.len(), 1);
    assert_eq!(out.groups[0].attached_policies[0].arn, p.arn);
    assert_eq!(out.roles[0].attached_policies.len(), 1);
    assert_eq!(out.policies[0].versions.len(), 2);

    // Into another account's store: ARNs are rewritten, ids kept.
    let details = ImportDetails {
        users: out
            .users
            .iter()
            .map(|u| ImportUser {
                name: u.user.name.clone(),
                path: u.user.path.clone(),
                id: Some(u.user.id.clone()),
                create_date: Some(u.user.create_date),
                tags: u.user.tags.clone(),
                permissions_boundary: u.user.permissions_boundary.clone(),
                groups: u.groups.clone(),
                inline_policies: u.inline_policies.clone(),
                attached_policy_arns: u.attached_policies.iter().map(|a| a.arn.clone()).collect(),
            })
            .collect(),
        groups: out
            .groups
            .iter()
            .map(|g| ImportGroup {
                name: g.group.name.clone(),
                path: g.group.path.clone(),
                id: Some(g.group.id.clone()),
                create_date: Some(g.group.create_date),
                inline_policies: g.inline_policies.clone(),
                attached_policy_arns: g.attached_policies.iter().map(|a| a.arn.clone()).collect(),
            })
            .collect(),
        roles: out
            .roles
            .iter()
            .map(|r| ImportRole {
                role: NewRole {
                    name: r.role.name.clone(),
                    path: r.role.path.clone(),
                    assume_role_policy_document: r.role.assume_role_policy_document.clone(),
                    description: r.role.description.clone(),
                    max_session_duration: Some(r.role.max_session_duration),
                    tags: r.role.tags.clone(),
                    permissions_boundary: r.role.permissions_boundary.clone(),
                },
                id: Some(r.role.id.clone()),
                create_date: Some(r.role.create_date),
                inline_policies: r.inline_policies.clone(),
                attached_policy_arns: r.attached_policies.iter().map(|a| a.arn.clone()).collect(),
            })
            .collect(),
        policies: out
            .policies
            .iter()
            .map(|p| ImportPolicy {
                name: p.policy.name.clone(),
                path: p.policy.path.clone(),
                id: Some(p.policy.id.clone()),
                description: p.policy.description.clone(),
                create_date: Some(p.policy.create_date),
                versions: p
                    .versions
                    .iter()
                    .map(|v| {
                        (
                            v.version_id.clone(),
                            v.document.clone(),
                            v.is_default_version,
                        )
                    })
                    .collect(),
                aws_managed: false,
            })
            .collect(),
    };
    let dir2 = tempfile::tempdir().unwrap();
    let other = AccountId::parse("210987654321").unwrap();
    let s2 = Store::create(&dir2.path().join("iam.db"), &other).unwrap();
    let later = now() + chrono::Duration::days(3);
    let sum = s2.import(&details, later).unwrap();
    assert_eq!(
        (sum.users, sum.groups, sum.roles, sum.policies),
        (1, 1, 1, 1)
    );
    let back = s2.authorization_details().unwrap();
    assert_eq!(back.users[0].user.id, out.users[0].user.id);
    assert_eq!(back.users[0].user.create_date, now().timestamp());
    assert_eq!(
        back.users[0].user.permissions_boundary.as_deref(),
        Some("arn:aws:iam::210987654321:policy/t/P")
    );
    assert_eq!(
        back.groups[0].attached_policies[0].arn,
        "arn:aws:iam::210987654321:policy/t/P"
    );
    assert_eq!(back.policies[0].versions, out.policies[0].versions);
    assert_eq!(back.policies[0].policy.default_version_id, "v2");
    assert_eq!(back.users[0].groups, vec![group("devs")]);
    assert_eq!(back.roles[0].role.id, out.roles[0].role.id);
    // New version numbers continue after the imported ones.
    let arn2 = &back.policies[0].policy.arn;
    assert_eq!(
        s2.create_policy_version(arn2, ALLOW_ALL, false, later)
            .unwrap()
            .version_id,
        "v3"
    );

    // Importing again conflicts, and leaves everything as it was.
    let before = s2.authorization_details().unwrap();
    let e = s2.import(&details, later).unwrap_err();
    assert_eq!(e.aws_code(), "EntityAlreadyExists");
    assert_eq!(s2.authorization_details().unwrap(), before);

    // A bad document late in the import rolls back all of it.
    let dir3 = tempfile::tempdir().unwrap();
    let s3 = Store::create(&dir3.path().join("iam.db"), &acct()).unwrap();
    let mut broken = details.clone();
    broken.roles[0].inline_policies.push(InlinePolicy {
        name: pname("bad"),
        document: "{".into(),
    });
    let e = s3.import(&broken, later).unwrap_err();
    assert_eq!(e.aws_code(), "MalformedPolicyDocument");
    assert_eq!(
        s3.authorization_details().unwrap(),
        AuthorizationDetails::default()
    );
    // And the uids that rollback released are handed out fresh.
    assert_eq!(add_user(&s3, "zed").uid, 200_000);
}

#[test]
fn deleted_secrets_do_not_linger_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    let s = Store::create(&path, &acct()).unwrap();
    let seed = b"SEEDSEEDSEEDSEEDSEED".to_vec();
    let d = s
        .create_virtual_mfa_device(
            &MfaDeviceName::parse("gone").unwrap(),
            &IamPath::root(),
            &SecretBytes::new(seed.clone()),
            now(),
        )
        .unwrap();
    s.delete_virtual_mfa_device(&d.serial_number).unwrap();
    drop(s); // the last connection checkpoints the WAL into the file
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(seed.len()).any(|w| w == seed.as_slice()));
}

// ---- trust policies bound to unique IDs ---------------------------------------
// AWS User Guide, "IAM JSON policy elements: Principal" (IAM roles, IAM
// users): a user or role ARN in a role trust policy is transformed to the
// principal's unique ID when the policy is saved; a principal deleted and
// re-created gets a new ID the policy does not match, and the policy then
// shows the old ID instead of the ARN. "Renaming an IAM user": policies that
// name the user as principal follow the rename. A principal that does not
// exist is refused: `MalformedPolicyDocument: Invalid principal in policy`.

fn trusting(principals: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":{principals}}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

fn role_trusting(s: &Store, name: &str, principals: &str) -> Result<Role, StoreError> {
    let mut new = new_role(name);
    new.assume_role_policy_document = trusting(principals);
    s.create_role(&new, now())
}

/// Whether `caller` (the principal as the decision sees it) may assume
/// `target`: the one decision of iamctl assume-role and STS AssumeRole.
fn may_assume(s: &Store, caller: &iam::principal::Principal, target: &str) -> bool {
    let r = s.get_role(&role(target)).unwrap();
    let context = iam::request::principal_context(caller, now());
    iam::elevation::decide_assume_role(
        &caller.arn,
        &caller.policies,
        &r.arn,
        &r.trust_policy().unwrap(),
        &context,
    )
    .is_ok()
}

fn as_user(s: &Store, name: &str) -> iam::principal::Principal {
    iam::principal::Principal::for_user(s, &acct(), &user(name)).unwrap()
}

fn as_session(s: &Store, name: &str) -> iam::principal::Principal {
    let session = RoleSessionName::parse("s1").unwrap();
    iam::principal::Principal::for_role_session(s, &acct(), &role(name), &session).unwrap()
}

fn shown_principal(s: &Store, name: &str) -> serde_json::Value {
    let doc: serde_json::Value =
        serde_json::from_str(&s.get_role(&role(name)).unwrap().assume_role_policy_document)
            .unwrap();
    doc["Statement"][0]["Principal"]["AWS"].clone()
}

#[test]
fn trust_in_a_user_is_not_inherited_by_a_namesake_created_after_its_deletion() {
    let (_d, s) = new_store();
    let old_bob = add_user(&s, "bob");
    role_trusting(&s, "ops", r#""arn:aws:iam::123456789012:user/bob""#).unwrap();
    assert!(may_assume(&s, &as_user(&s, "bob"), "ops"));
    s.delete_user(&user("bob")).unwrap();
    // Shown as AWS shows it: the stale unique ID instead of the ARN.
    assert_eq!(shown_principal(&s, "ops"), serde_json::json!(old_bob.id));
    add_user(&s, "bob");
    assert!(!may_assume(&s, &as_user(&s, "bob"), "ops"));
    assert_eq!(shown_principal(&s, "ops"), serde_json::json!(old_bob.id));
    // The role stays listable and exportable with the stale ID in it.
    assert_eq!(s.list_roles(None).unwrap().len(), 1);
    // Saving the policy again binds the new bob.
    s.update_assume_role_policy(
        &role("ops"),
        &trusting(r#""arn:aws:iam::123456789012:user/bob""#),
    )
    .unwrap();
    assert!(may_assume(&s, &as_user(&s, "bob"), "ops"));
}

#[test]
fn trust_in_a_renamed_user_follows_the_rename() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    add_user(&s, "carol");
    role_trusting(
        &s,
        "ops",
        r#"["arn:aws:iam::123456789012:user/bob","arn:aws:iam::123456789012:user/carol"]"#,
    )
    .unwrap();
    s.update_user(
        &user("bob"),
        Some(&user("robert")),
        Some(&IamPath::parse("/eng/").unwrap()),
    )
    .unwrap();
    assert!(may_assume(&s, &as_user(&s, "robert"), "ops"));
    assert!(may_assume(&s, &as_user(&s, "carol"), "ops"));
    assert_eq!(
        shown_principal(&s, "ops"),
        serde_json::json!([
            "arn:aws:iam::123456789012:user/eng/robert",
            "arn:aws:iam::123456789012:user/carol"
        ])
    );
    // The old name is free again; whoever takes it is not trusted.
    add_user(&s, "bob");
    assert!(!may_assume(&s, &as_user(&s, "bob"), "ops"));
}

#[test]
fn trust_in_a_role_is_not_inherited_by_a_namesake_created_after_its_deletion() {
    let (_d, s) = new_store();
    let old = role_trusting(&s, "ci", r#""arn:aws:iam::123456789012:root""#).unwrap();
    role_trusting(&s, "deploy", r#""arn:aws:iam::123456789012:role/ci""#).unwrap();
    assert!(may_assume(&s, &as_session(&s, "ci"), "deploy"));
    s.delete_role(&role("ci")).unwrap();
    role_trusting(&s, "ci", r#""arn:aws:iam::123456789012:root""#).unwrap();
    assert!(!may_assume(&s, &as_session(&s, "ci"), "deploy"));
    assert_eq!(shown_principal(&s, "deploy"), serde_json::json!(old.id));
}

#[test]
fn a_trust_policy_naming_a_principal_that_does_not_exist_is_refused_on_save() {
    let (_d, s) = new_store();
    add_user(&s, "bob");
    for missing in [
        "arn:aws:iam::123456789012:user/nobody",
        "arn:aws:iam::123456789012:role/nobody",
        // bob exists, but not under this path.
        "arn:aws:iam::123456789012:user/eng/bob",
        // A role may not trust itself before it exists.
        "arn:aws:iam::123456789012:role/ops",
    ] {
        let err = role_trusting(&s, "ops", &format!("\"{missing}\"")).unwrap_err();
        assert_eq!(err.aws_code(), "MalformedPolicyDocument", "{missing}");
        assert!(
            err.to_string().contains(&format!(
                "Invalid principal in policy: \"AWS\":\"{missing}\""
            )),
            "{err}"
        );
    }
    assert!(s.list_roles(None).unwrap().is_empty());
    role_trusting(&s, "ops", r#""arn:aws:iam::123456789012:user/bob""#).unwrap();
    let err = s
        .update_assume_role_policy(
            &role("ops"),
            &trusting(r#""arn:aws:iam::123456789012:user/nobody""#),
        )
        .unwrap_err();
    assert_eq!(err.aws_code(), "MalformedPolicyDocument");
    // The refused update changed nothing.
    assert!(may_assume(&s, &as_user(&s, "bob"), "ops"));
    // Once the role exists it may trust itself.
    s.update_assume_role_policy(
        &role("ops"),
        &trusting(r#""arn:aws:iam::123456789012:role/ops""#),
    )
    .unwrap();
}

#[test]
fn account_service_federated_and_anyone_principals_are_not_bound() {
    let (_d, s) = new_store();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root","123456789012","arn:aws:iam::111122223333:user/elsewhere","arn:aws:sts::123456789012:assumed-role/gone/s"],"Service":"ec2.amazonaws.com","Federated":"arn:aws:iam::123456789012:saml-provider/idp"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}"#;
    let mut new = new_role("open");
    new.assume_role_policy_document = doc.into();
    let r = s.create_role(&new, now()).unwrap();
    assert_eq!(r.assume_role_policy_document, doc);
    assert!(r.trust.bindings.is_empty());
}

/// AWS managed policies are AWS's, not the account's (User Guide, "AWS
/// managed policies"): one brought by an import keeps its
/// `arn:aws:iam::aws:policy/…` ARN, is attached and used as a boundary by
/// it, and this account's spelling of it names nothing.
#[test]
fn an_imported_aws_managed_policy_keeps_its_arn() {
    let (_d, s) = new_store();
    let aws_arn = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess";
    let details = ImportDetails {
        policies: vec![ImportPolicy {
            name: pname("ViewOnlyAccess"),
            path: IamPath::parse("/job-function/").unwrap(),
            id: Some("ANPAID22R6XPJATWOFDK6".into()),
            description: None,
            create_date: None,
            versions: vec![("v17".into(), ALLOW_ALL.into(), true)],
            aws_managed: true,
        }],
        users: vec![ImportUser {
            name: user("viewer"),
            path: IamPath::root(),
            id: None,
            create_date: None,
            tags: vec![],
            permissions_boundary: Some(aws_arn.into()),
            groups: vec![],
            inline_policies: vec![],
            attached_policy_arns: vec![aws_arn.into()],
        }],
        ..ImportDetails::default()
    };
    s.import(&details, now()).unwrap();
    let policy = s.get_policy(aws_arn).unwrap();
    assert!(policy.aws_managed);
    assert_eq!(policy.arn, aws_arn);
    assert_eq!(policy.default_version_id, "v17");
    assert_eq!(
        s.list_attached_policies(&Entity::User(user("viewer")))
            .unwrap()[0]
            .arn,
        aws_arn
    );
    assert_eq!(
        s.get_user(&user("viewer"))
            .unwrap()
            .permissions_boundary
            .as_deref(),
        Some(aws_arn)
    );
    let here = "arn:aws:iam::123456789012:policy/job-function/ViewOnlyAccess";
    assert_eq!(s.get_policy(here).unwrap_err().aws_code(), "NoSuchEntity");
    add_user(&s, "other");
    s.attach_policy(&Entity::User(user("other")), aws_arn)
        .unwrap();
    assert_eq!(s.get_policy(aws_arn).unwrap().attachment_count, 2);
    let policies = s.policies_for_user(&user("other")).unwrap();
    assert!(format!("{policies:?}").contains(aws_arn), "{policies:?}");
}
