//! The store on PostgreSQL (a real PostgreSQL 15, started per test
//! process): the store's own CRUD cases, the schema against SQLite's, the
//! directory rules under concurrency, retries, and an outage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/postgres.rs"]
mod postgres;

use iam::names::{AccountId, IamPath, PolicyName, UserName};
use iam::store::sql::{Backend, Dialect, Sqlite};
use iam::store::{NewUser, Store, StoreError, UserStatus, migrations};
use iam_server::directory::Directory;
use iam_server::pg::{Pg, PgError};
use postgres::TestPostgres;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The store_crud cases' backend: a fresh database on the shared cluster.
mod backend {
    use super::*;

    pub type Guard = ();

    pub fn new_store(account: &AccountId) -> (Guard, Store) {
        let Some(pg) = TestPostgres::shared() else {
            // Not installed (outside CI): the cases run on SQLite instead.
            let dir = tempfile::tempdir().unwrap().keep();
            return ((), Store::create(&dir.join("iam.db"), account).unwrap());
        };
        (
            (),
            directory_on(&pg.new_database(), account).store().unwrap(),
        )
    }
}

#[path = "../../iam/tests/store_crud.rs"]
mod store_crud;

const ALLOW: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

fn acct() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

fn directory_on(url: &str, account: &AccountId) -> Directory {
    Directory::on_pool(Pg::connect(url, None).unwrap(), account).unwrap()
}

/// A fresh database with the schema, or `None` (skipped) without PostgreSQL.
fn fresh() -> Option<(Directory, String)> {
    let url = TestPostgres::shared()?.new_database();
    Some((directory_on(&url, &acct()), url))
}

fn columns(c: &iam::store::sql::Connection, sql: &str) -> BTreeSet<(String, String)> {
    let mut st = c.prepare_cached(sql).unwrap();
    st.query_map((), |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn both_migrations_make_the_same_tables_and_columns() {
    let Some((_, url)) = fresh() else { return };
    let sqlite = Sqlite::in_memory().unwrap();
    for sql in migrations(Dialect::Sqlite) {
        sqlite.execute_batch(sql).unwrap();
    }
    let lite = columns(
        &sqlite,
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    );
    let pg = Pg::connect(&url, None).unwrap().connection().unwrap();
    let server = columns(
        &pg,
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> 'pam_iam_schema'",
    );
    assert!(lite.len() > 50, "{lite:?}");
    assert_eq!(lite, server);
}

#[test]
fn a_newer_schema_is_refused() {
    let Some((_, url)) = fresh() else { return };
    let pg = TestPostgres::shared().unwrap();
    let db = url.rsplit('=').next().unwrap();
    pg.psql(db, "UPDATE pam_iam_schema SET version = version + 1");
    let e = Directory::on_pool(Pg::connect(&url, None).unwrap(), &acct()).unwrap_err();
    assert!(
        e.to_string().contains("newer than this pam_iam supports"),
        "{e}"
    );
    // And another account's database is refused too.
    pg.psql(db, "UPDATE pam_iam_schema SET version = version - 1");
    let other = AccountId::parse("210987654321").unwrap();
    let e = Directory::on_pool(Pg::connect(&url, None).unwrap(), &other).unwrap_err();
    assert!(
        e.to_string().contains("belongs to account 123456789012"),
        "{e}"
    );
}

#[test]
fn unreachable_at_start_is_a_clear_error() {
    let port = postgres::free_port();
    let url = format!("host=127.0.0.1 port={port} user=iam dbname=iam");
    let e = Pg::connect(&url, None).unwrap_err();
    assert!(matches!(e, PgError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{port}/iam")),
        "{e}"
    );
}

#[test]
fn names_are_unique_case_insensitively_under_concurrency() {
    let Some((dir, _)) = fresh() else { return };
    let dir = Arc::new(dir);
    let now = chrono::Utc::now();
    let outcomes: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let dir = Arc::clone(&dir);
                s.spawn(move || {
                    let name = if i % 2 == 0 { "Bob" } else { "bob" };
                    let new = NewUser::new(UserName::parse(name).unwrap());
                    dir.run(|store| store.create_user(&new, now).map(drop))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = outcomes.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{outcomes:?}");
    for e in outcomes.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(e, StoreError::EntityAlreadyExists { .. }), "{e}");
    }
    assert_eq!(dir.store().unwrap().list_users(None).unwrap().len(), 1);
}

#[test]
fn the_policy_version_limit_holds_under_concurrency() {
    let Some((dir, _)) = fresh() else { return };
    let now = chrono::Utc::now();
    let name = PolicyName::parse("P").unwrap();
    let arn = dir
        .store()
        .unwrap()
        .create_policy(&name, &IamPath::root(), None, ALLOW, now)
        .unwrap()
        .arn;
    let outcomes: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    dir.run(|store| {
                        store
                            .create_policy_version(&arn, ALLOW, false, now)
                            .map(drop)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let made = outcomes.iter().filter(|r| r.is_ok()).count();
    assert_eq!(made, 4, "v1 and four more: {outcomes:?}");
    for e in outcomes.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(e, StoreError::LimitExceeded(_)), "{e}");
    }
    let versions = dir.store().unwrap().list_policy_versions(&arn).unwrap();
    assert_eq!(versions.len(), 5);
}

#[test]
fn writers_take_turns_and_each_sees_the_last_write() {
    // Writers take the directory's write lock (as SQLite's BEGIN
    // IMMEDIATE): a read-check-write cannot interleave with another's.
    let Some((dir, _)) = fresh() else { return };
    let now = chrono::Utc::now();
    let bob = UserName::parse("bob").unwrap();
    dir.store()
        .unwrap()
        .create_user(&NewUser::new(bob.clone()), now)
        .unwrap();
    let held = std::sync::Barrier::new(2);
    let waited = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            dir.run(|store| {
                store.atomically(|s| {
                    s.get_user(&bob)?;
                    held.wait();
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    s.update_user(&bob, None, Some(&IamPath::parse("/moved/").unwrap()))
                })
            })
        });
        held.wait();
        let started = std::time::Instant::now();
        dir.run(|store| store.atomically(|s| s.set_user_status(&bob, UserStatus::Disabled)))
            .unwrap();
        first.join().unwrap().unwrap();
        started.elapsed()
    });
    assert!(
        waited >= std::time::Duration::from_millis(200),
        "the second writer waited {waited:?}"
    );
    let user = dir.store().unwrap().get_user(&bob).unwrap();
    assert_eq!(user.status, UserStatus::Disabled);
    assert_eq!(user.path.as_str(), "/moved/");
}

#[test]
fn an_outage_is_unavailable_and_recovers_by_itself() {
    let Some(pg) = TestPostgres::start() else {
        return;
    };
    let url = pg.new_database();
    let dir = directory_on(&url, &acct());
    let bob = UserName::parse("bob").unwrap();
    dir.store()
        .unwrap()
        .create_user(&NewUser::new(bob.clone()), chrono::Utc::now())
        .unwrap();
    pg.stop();
    let e = dir
        .run(|store| store.get_user(&bob))
        .expect_err("PostgreSQL is down");
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{}", pg.port())),
        "{e}"
    );
    pg.start_again();
    let user = dir.run(|store| store.get_user(&bob)).unwrap();
    assert_eq!(user.name, bob);
}

#[test]
fn a_password_in_the_url_is_refused() {
    let e = Pg::connect("host=127.0.0.1 user=iam password=hunter2 dbname=iam", None).unwrap_err();
    assert!(matches!(e, PgError::Url(_)), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn events_are_stored_filtered_and_paged() {
    use iam::audit::{AuditEvent, EventSource, UserIdentity};
    use iam::store::{EventFilter, EventQuery};
    let Some((dir, _)) = fresh() else { return };
    let store = dir.store().unwrap();
    let event = |name: &str, user: &str, minute: i64| {
        let who = UserIdentity::iam_user(
            "123456789012",
            &format!("arn:aws:iam::123456789012:user/{user}"),
            user,
        );
        let at = chrono::DateTime::from_timestamp(1_790_000_000 + minute * 60, 0).unwrap();
        let params = serde_json::json!({"userName": user});
        AuditEvent::iamctl(EventSource::Iam, name, who, "iam-server", at, params)
            .build()
            .unwrap()
    };
    let first = event("CreateUser", "alice", 0);
    for e in [
        &first,
        &event("GetUser", "bob", 1),
        &event("DeleteUser", "alice", 2),
    ] {
        store.record_event(e).unwrap();
    }
    // Delivery is at least once: a second copy is ignored.
    store.record_event(&first).unwrap();
    let query = |filter, after, limit| EventQuery {
        filter,
        start: None,
        end: None,
        limit,
        after,
    };
    let names = |(events, _): (Vec<iam::store::StoredEvent>, _)| {
        events.into_iter().map(|e| e.event_name).collect::<Vec<_>>()
    };
    let all = store.lookup_events(&query(None, None, 50)).unwrap();
    assert_eq!(names(all), ["DeleteUser", "GetUser", "CreateUser"]);
    let alice = Some(EventFilter::Username("alice".into()));
    let (page, next) = store.lookup_events(&query(alice.clone(), None, 1)).unwrap();
    assert_eq!(page[0].event_name, "DeleteUser");
    assert_eq!(page[0].resources[0].resource_name, "alice");
    let rest = store.lookup_events(&query(alice, next, 1)).unwrap();
    assert_eq!(names(rest), ["CreateUser"]);
    let read_only = Some(EventFilter::ReadOnly(true));
    assert_eq!(
        names(store.lookup_events(&query(read_only, None, 50)).unwrap()),
        ["GetUser"]
    );
    // A call's own event (relaxed commit, no write lock) is written once.
    let facts = iam::request::ApiFacts {
        source_ip: "192.0.2.1".parse().unwrap(),
        session_mfa: None,
        service: "iam".into(),
        access_key_id: "AKIAEXAMPLEEXAMPLE00".into(),
        request_id: "req-1".into(),
        user_agent: None,
    };
    let who = UserIdentity::iam_user(
        "123456789012",
        "arn:aws:iam::123456789012:user/carol",
        "carol",
    );
    let at = chrono::DateTime::from_timestamp(1_790_000_300, 0).unwrap();
    let call = || {
        AuditEvent::api(
            &facts,
            "ListUsers",
            who.clone(),
            "iam-server",
            at,
            serde_json::json!({}),
        )
        .build()
        .unwrap()
    };
    store.record_call_events(&[call(), call()]).unwrap();
    store.record_call_events(&[call()]).unwrap();
    let listed = Some(EventFilter::EventName("ListUsers".into()));
    assert_eq!(
        names(store.lookup_events(&query(listed, None, 50)).unwrap()),
        ["ListUsers"]
    );
}

#[test]
fn a_transaction_with_a_failed_statement_does_not_commit() {
    use iam::store::sql::Begin;
    let Some((_, url)) = fresh() else { return };
    let conn = Pg::connect(&url, None).unwrap().connection().unwrap();
    let c: &iam::store::sql::Connection = &conn;
    c.begin(Begin::Write).unwrap();
    c.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')", ())
        .unwrap();
    assert!(
        c.execute("INSERT INTO no_such_table VALUES (1)", ())
            .is_err()
    );
    // PostgreSQL would turn this COMMIT into a silent ROLLBACK.
    let e = c.commit().unwrap_err();
    assert!(e.to_string().contains("25P02"), "{e}");
    let n: i64 = c
        .query_row("SELECT count(*) FROM meta WHERE key = 'a'", (), |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 0);
}

/// Migration 9 on PostgreSQL binds the trust policies saved before it to
/// the principals holding their ARNs then (as `store::tests` shows on
/// SQLite).
#[test]
fn migration_9_binds_existing_trust_policies_on_postgresql() {
    let Some((_, url)) = fresh() else { return };
    let pg = TestPostgres::shared().unwrap();
    let db = url.rsplit('=').next().unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/bob","arn:aws:iam::123456789012:user/gone"]},"Action":"sts:AssumeRole"}]}"#;
    pg.psql(
        db,
        &format!(
            "DROP TABLE fleet_totp_claims;
             DROP TABLE fleet_failures;
             ALTER TABLE outbox DROP COLUMN delivered;
             DROP FUNCTION record_directory_change() CASCADE;
             DROP TABLE directory_changes;
             DROP TABLE host_credentials;
             DROP TABLE join_tokens;
             DROP TABLE instance_profiles;
             DROP TABLE recovery_codes_used;
             DROP TABLE recovery_codes;
             ALTER TABLE mfa_devices DROP COLUMN drift_steps;
             ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
             ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
                 CHECK (kind IN ('audit', 'password', 'totp_step', 'failures'));
             DROP TABLE trust_bindings;
             ALTER TABLE policies DROP COLUMN aws_managed;
             UPDATE pam_iam_schema SET version = 8;
             INSERT INTO linux_ids VALUES (70000, 'user', 'bob', 0);
             INSERT INTO users (name, path, unique_id, create_date, status, uid)
               VALUES ('bob', '/', 'AIDABOB', 0, 'Active', 70000);
             INSERT INTO roles (name, path, unique_id, create_date, trust_policy, max_session_duration)
               VALUES ('ops', '/', 'AROAOPS', 0, '{trust}', 3600);"
        ),
    );
    let store = directory_on(&url, &acct()).store().unwrap();
    let ops = store
        .get_role(&iam::names::RoleName::parse("ops").unwrap())
        .unwrap();
    assert_eq!(
        ops.trust.bindings,
        vec![iam::store::TrustBinding {
            arn: "arn:aws:iam::123456789012:user/bob".into(),
            unique_id: "AIDABOB".into(),
        }]
    );
}
