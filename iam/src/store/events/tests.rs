//! The events table: atomic with the write it records, ordered, filtered,
//! paged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::audit::{self, AuditEvent, EventSource, UserIdentity};
use crate::names::{AccountId, UserName};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

fn store(dir: &tempfile::TempDir) -> Store {
    let account = AccountId::parse("123456789012").unwrap();
    Store::create(&dir.path().join("iam.db"), &account).unwrap()
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, minute, 0).unwrap()
}

fn event(name: &str, user: &str, minute: u32, params: serde_json::Value) -> AuditEvent {
    let who = UserIdentity::iam_user(
        "123456789012",
        &format!("arn:aws:iam::123456789012:user/{user}"),
        user,
    );
    AuditEvent::iamctl(
        EventSource::Iam,
        name,
        who,
        "iam-server",
        at(minute),
        params,
    )
    .build()
    .unwrap()
}

fn page(store: &Store, filter: Option<EventFilter>) -> Vec<String> {
    let query = EventQuery {
        filter,
        start: None,
        end: None,
        limit: 50,
        after: None,
    };
    let (events, next) = store.lookup_events(&query).unwrap();
    assert_eq!(next, None);
    events.into_iter().map(|e| e.event_name).collect()
}

#[test]
fn an_event_commits_with_its_write_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let bob = UserName::parse("bob").unwrap();
    let failed: Result<()> = store.atomically(|s| {
        s.create_user(&crate::store::NewUser::new(bob.clone()), at(0))?;
        audit::queue(
            &s.ledger(),
            &event("CreateUser", "admin", 0, json!({"userName": "bob"})),
        )?;
        Err(StoreError::InvalidInput(
            "the write fails after queueing".into(),
        ))
    });
    assert!(failed.is_err());
    assert_eq!(store.deliver_queued_events().unwrap(), 0);
    assert!(page(&store, None).is_empty());
    assert!(store.find_user(&bob).unwrap().is_none());

    store
        .atomically(|s| {
            s.create_user(&crate::store::NewUser::new(bob.clone()), at(0))?;
            audit::queue(
                &s.ledger(),
                &event("CreateUser", "admin", 0, json!({"userName": "bob"})),
            )
        })
        .unwrap();
    assert_eq!(store.deliver_queued_events().unwrap(), 1);
    assert_eq!(store.deliver_queued_events().unwrap(), 0);
    assert!(store.ledger().queued_audit().unwrap().is_empty());
    let (events, _) = store
        .lookup_events(&EventQuery {
            filter: Some(EventFilter::ResourceName("bob".into())),
            start: None,
            end: None,
            limit: 5,
            after: None,
        })
        .unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.username.as_deref(), Some("admin"));
    assert!(!e.read_only);
    assert_eq!(
        e.resources,
        vec![EventResource {
            resource_type: "AWS::IAM::User".into(),
            resource_name: "bob".into()
        }]
    );
    let json: serde_json::Value = serde_json::from_str(&e.event).unwrap();
    assert_eq!(json["readOnly"], false);
    assert_eq!(json["eventName"], "CreateUser");
}

#[test]
fn newest_first_filtered_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let names = [
        "CreateUser",
        "GetUser",
        "ListUsers",
        "CreateGroup",
        "GetGroup",
    ];
    for (i, name) in names.iter().enumerate() {
        let user = if i % 2 == 0 { "alice" } else { "bob" };
        let minute = u32::try_from(i).unwrap();
        store
            .record_event(&event(name, user, minute, json!({"groupName": "ops"})))
            .unwrap();
    }
    // Two events in the same second keep their insertion order.
    let same = event("DeleteGroup", "bob", 4, json!({}));
    store.record_event(&same).unwrap();
    store.record_event(&same).unwrap(); // delivered twice, stored once
    assert_eq!(
        page(&store, None),
        [
            "DeleteGroup",
            "GetGroup",
            "CreateGroup",
            "ListUsers",
            "GetUser",
            "CreateUser"
        ]
    );
    assert_eq!(
        page(&store, Some(EventFilter::Username("alice".into()))),
        ["GetGroup", "ListUsers", "CreateUser"]
    );
    assert_eq!(
        page(&store, Some(EventFilter::ReadOnly(true))),
        ["GetGroup", "ListUsers", "GetUser"]
    );
    assert_eq!(
        page(&store, Some(EventFilter::EventName("GetUser".into()))),
        ["GetUser"]
    );
    assert_eq!(
        page(
            &store,
            Some(EventFilter::EventSource("iam.amazonaws.com".into()))
        )
        .len(),
        6
    );
    assert_eq!(
        page(&store, Some(EventFilter::EventId(same.event_id.clone()))),
        ["DeleteGroup"]
    );
    assert_eq!(
        page(
            &store,
            Some(EventFilter::ResourceType("AWS::IAM::Group".into()))
        )
        .len(),
        5
    );
    assert!(page(&store, Some(EventFilter::AccessKeyId("AKIAX".into()))).is_empty());

    // Pages of two, within 12:01..12:04 inclusive.
    let mut query = EventQuery {
        filter: None,
        start: Some(at(1).timestamp()),
        end: Some(at(4).timestamp()),
        limit: 2,
        after: None,
    };
    let mut seen = Vec::new();
    loop {
        let (events, next) = store.lookup_events(&query).unwrap();
        seen.extend(events.into_iter().map(|e| e.event_name));
        match next {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "DeleteGroup",
            "GetGroup",
            "CreateGroup",
            "ListUsers",
            "GetUser"
        ]
    );
}

#[test]
fn refusals_name_the_resource_and_sessions_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let who = UserIdentity::assumed_role(
        "123456789012",
        "arn:aws:sts::123456789012:assumed-role/ops/night-shift",
    );
    let refused = AuditEvent::iamctl(
        EventSource::Iam,
        "GetUser",
        who,
        "iam-server",
        at(0),
        json!({"action": "iam:GetUser", "resource": "arn:aws:iam::123456789012:user/carol"}),
    )
    .error("AccessDenied", "no")
    .build()
    .unwrap();
    store.record_event(&refused).unwrap();
    let (events, _) = store
        .lookup_events(&EventQuery {
            filter: Some(EventFilter::Username("night-shift".into())),
            start: None,
            end: None,
            limit: 1,
            after: None,
        })
        .unwrap();
    assert_eq!(events[0].error_code.as_deref(), Some("AccessDenied"));
    assert!(events[0].read_only);
    assert_eq!(
        events[0].resources[0].resource_name,
        "arn:aws:iam::123456789012:user/carol"
    );
}

/// One event per API call: the server's own event is written unless the
/// verb recorded one for the same request, and an outbox left behind by a
/// failed delivery is moved first.
#[test]
fn a_call_records_one_event_and_delivers_what_was_left_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let facts = crate::request::ApiFacts {
        source_ip: "192.0.2.1".parse().unwrap(),
        session_mfa: None,
        service: "iam".into(),
        access_key_id: "AKIAEXAMPLEEXAMPLE00".into(),
        request_id: "req-1".into(),
        user_agent: None,
    };
    let who = UserIdentity::iam_user(
        "123456789012",
        "arn:aws:iam::123456789012:user/alice",
        "alice",
    );
    let call = || {
        AuditEvent::api(
            &facts,
            "GetUser",
            who.clone(),
            "iam-server",
            at(1),
            json!({}),
        )
        .build()
        .unwrap()
    };
    store
        .atomically(|s| audit::queue(&s.ledger(), &event("CreateUser", "admin", 0, json!({}))))
        .unwrap();
    store.record_call_events(&[call(), call()]).unwrap();
    store.record_call_events(&[call()]).unwrap();
    assert_eq!(page(&store, None), ["GetUser", "CreateUser"]);
    assert!(store.ledger().queued_audit().unwrap().is_empty());
    // A relaxed commit leaves the connection's durability as it was.
    let sync: i64 = store
        .read(|c| Ok(c.query_row("PRAGMA synchronous", (), |r| r.get(0))?))
        .unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
}
