//! Migrations into the directory/ledger split.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::names::{UserName, mfa_arn};
use chrono::{TimeZone, Utc};

const ACCT: &str = "123456789012";

/// A store as pam_iam left it at schema 4: `last_step` and
/// `password_last_used` in directory rows, an event in `audit_outbox`.
fn schema_4_store(path: &Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    for sql in &schema::MIGRATIONS[..4] {
        c.execute_batch(sql).unwrap();
    }
    c.execute_batch(&format!(
        "PRAGMA user_version = 4;
         PRAGMA application_id = {};
         INSERT INTO meta VALUES ('account_id', '{ACCT}');
         INSERT INTO linux_ids VALUES (70000, 'user', 'bob', 0);
         INSERT INTO users (id, name, path, unique_id, create_date, password_last_used, status, uid)
           VALUES (1, 'bob', '/', 'AIDABOB', 0, 1234, 'Active', 70000);
         INSERT INTO mfa_devices (name, path, secret, create_date, user_id, enable_date, last_step)
           VALUES ('bob-phone', '/team/', x'3132333435363738393031323334353637383930', 0, 1, 0, 987654);
         INSERT INTO audit_outbox (line, denial) VALUES ('{{\"queued\":1}}', 1);",
        schema::APPLICATION_ID
    ))
    .unwrap();
}

#[test]
fn migration_5_keeps_steps_last_used_and_queued_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    schema_4_store(&path);
    // As pam_iam creates a store: nobody else may read it.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let bob = UserName::parse("bob").unwrap();
    assert_eq!(store.get_user(&bob).unwrap().password_last_used, Some(1234));
    let device = &store.list_mfa_devices(&bob).unwrap()[0];
    let serial = mfa_arn(
        store.account_id(),
        &crate::names::IamPath::parse("/team/").unwrap(),
        &crate::names::MfaDeviceName::parse("bob-phone").unwrap(),
    );
    assert_eq!(device.serial_number, serial);
    assert_eq!(store.ledger().totp_step(&serial).unwrap(), Some(987_654));
    assert!(!store.ledger().accept_totp_step(&serial, 987_654).unwrap());
    let queued = store.ledger().queued_audit().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].line, "{\"queued\":1}");
    assert!(queued[0].denial);
    assert_eq!(
        store.credential_report().unwrap()[0].password_last_used,
        Some(1234)
    );
}

/// `PasswordLastUsed` belongs to the user's unique id: a rename keeps it,
/// a user re-created under the name does not inherit it.
#[test]
fn last_used_follows_the_unique_id() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let (bob, rob) = (
        UserName::parse("bob").unwrap(),
        UserName::parse("rob").unwrap(),
    );
    let user = store.create_user(&NewUser::new(bob.clone()), now).unwrap();
    store.ledger().record_password_used(&user.id, now).unwrap();
    store.update_user(&bob, Some(&rob), None).unwrap();
    let last = Some(now.timestamp());
    assert_eq!(store.get_user(&rob).unwrap().password_last_used, last);
    assert_eq!(store.list_users(None).unwrap()[0].password_last_used, last);
    store.delete_user(&rob).unwrap();
    store.create_user(&NewUser::new(rob.clone()), now).unwrap();
    assert_eq!(store.get_user(&rob).unwrap().password_last_used, None);
}

/// SQLite's journal files hold the same hashes and seeds as the store: one
/// others may read is refused as the store itself would be.
/// A PAM call is one short process: closing its connection leaves the WAL
/// and its index for the next login (`Store::open_for_login`), with what it
/// committed readable by the next connection; iamctl's close (`Store::open`)
/// checkpoints the WAL into the database and removes both, SQLite's default.
#[test]
fn a_login_connection_leaves_the_wal_in_place_and_iamctl_checkpoints_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    drop(Store::create(&path, &crate::names::AccountId::parse(ACCT).unwrap()).unwrap());
    let journal = |suffix: &str| dir.path().join(format!("iam.db-{suffix}")).exists();
    assert!(!journal("wal") && !journal("shm"));
    let serial = format!("arn:aws:iam::{ACCT}:mfa/bob-phone");
    let login = Store::open_for_login(&path).unwrap();
    assert!(login.ledger().accept_totp_step(&serial, 42).unwrap());
    drop(login);
    assert!(
        journal("wal") && journal("shm"),
        "a login's close removed the WAL"
    );
    let admin = Store::open(&path).unwrap();
    assert_eq!(admin.ledger().totp_step(&serial).unwrap(), Some(42));
    drop(admin);
    assert!(
        !journal("wal") && !journal("shm"),
        "iamctl's close left the WAL"
    );
}

#[test]
fn a_readable_journal_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    drop(Store::create(&path, &crate::names::AccountId::parse(ACCT).unwrap()).unwrap());
    let shm = dir.path().join("iam.db-shm");
    std::fs::write(&shm, "").unwrap();
    std::fs::set_permissions(&shm, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Untrusted(_)), "{err}");
    std::fs::set_permissions(&shm, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    Store::open(&path).unwrap();
}

/// Migration 10 widens the outbox's kinds (recovery codes) by rebuilding
/// the table on SQLite: what a host had queued before the upgrade is still
/// there, in order, and is delivered.
#[test]
fn migration_10_keeps_what_the_outbox_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    let before = 9;
    let c = rusqlite::Connection::open(&path).unwrap();
    for sql in &schema::MIGRATIONS[..before] {
        c.execute_batch(sql).unwrap();
    }
    c.execute_batch(&format!(
        "PRAGMA user_version = {before};
         PRAGMA application_id = {};
         INSERT INTO meta VALUES ('account_id', '{ACCT}');
         INSERT INTO outbox (id, kind, body, denial) VALUES (7, 'audit', '{{\"a\":1}}', 1);
         INSERT INTO outbox (id, kind, body) VALUES (9, 'totp_step', '{{\"change\":\"totp_step\",\"serial\":\"s\",\"step\":3}}');",
        schema::APPLICATION_ID
    ))
    .unwrap();
    drop(c);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let store = Store::open(&path).unwrap();
    let queued = store.ledger().queued_audit().unwrap();
    assert_eq!(
        (queued[0].id, queued[0].line.as_str(), queued[0].denial),
        (7, "{\"a\":1}", true)
    );
    assert_eq!(
        store.ledger().outgoing().unwrap(),
        vec![(
            9,
            crate::ledger::Outgoing::TotpStep {
                serial: "s".into(),
                step: 3
            }
        )]
    );
    assert!(
        store
            .ledger()
            .use_recovery_code("set", 0, chrono::Utc::now())
            .unwrap()
    );
    assert_eq!(store.ledger().outgoing().unwrap().len(), 2);
}

/// Migration 9 binds the trust policies saved before it to the principals
/// that hold their ARNs at the upgrade (what AWS would have bound on save);
/// an ARN nobody holds then is bound to nobody, so a namesake created after
/// the upgrade is not trusted.
#[test]
fn migration_9_binds_existing_trust_policies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    // The first eight migrations, then the store's upgrade runs the rest.
    let before = 8;
    let c = rusqlite::Connection::open(&path).unwrap();
    for sql in &schema::MIGRATIONS[..before] {
        c.execute_batch(sql).unwrap();
    }
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/bob","arn:aws:iam::123456789012:user/gone"]},"Action":"sts:AssumeRole"}]}"#;
    c.execute_batch(&format!(
        "PRAGMA user_version = {before};
         PRAGMA application_id = {};
         INSERT INTO meta VALUES ('account_id', '{ACCT}');
         INSERT INTO linux_ids VALUES (70000, 'user', 'bob', 0);
         INSERT INTO users (id, name, path, unique_id, create_date, status, uid)
           VALUES (1, 'bob', '/', 'AIDABOB', 0, 'Active', 70000);
         INSERT INTO roles (name, path, unique_id, create_date, trust_policy, max_session_duration)
           VALUES ('ops', '/', 'AROAOPS', 0, '{trust}', 3600);",
        schema::APPLICATION_ID
    ))
    .unwrap();
    drop(c);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let store = Store::open(&path).unwrap();
    let ops = store
        .get_role(&crate::names::RoleName::parse("ops").unwrap())
        .unwrap();
    assert_eq!(
        ops.trust.bindings,
        vec![TrustBinding {
            arn: "arn:aws:iam::123456789012:user/bob".into(),
            unique_id: "AIDABOB".into(),
        }]
    );
    let account = ACCT.to_owned();
    assert_eq!(
        ops.trust
            .binding(&account, "arn:aws:iam::123456789012:user/gone"),
        Some(crate::policy::PrincipalBinding::Nobody)
    );
    assert_eq!(
        ops.trust
            .binding(&account, "arn:aws:iam::123456789012:root"),
        None
    );
}
