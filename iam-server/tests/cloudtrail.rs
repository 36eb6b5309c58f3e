//! CloudTrail end to end: the real `aws` CLI against a running iam-server
//! (bootstrap, serve), then `aws cloudtrail lookup-events` by user, event
//! name, time range and pages; no secret in any event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/server.rs"]
mod server;

use serde_json::Value;
use server::{AWS, Server, start};
use std::path::Path;

fn names(server: &Server, args: &[&str]) -> Vec<String> {
    let mut all = vec!["cloudtrail", "lookup-events"];
    all.extend_from_slice(args);
    let out = server.aws(&all).unwrap();
    out["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn lookup_events_with_the_aws_cli() {
    if !Path::new(AWS).exists() {
        eprintln!("skipped: no {AWS}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    let password = "Sup3r-Secret-pw!";
    server
        .aws(&["iam", "create-user", "--user-name", "bob"])
        .unwrap();
    server
        .aws(&["iam", "get-user", "--user-name", "bob"])
        .unwrap();
    let again = server.aws(&["iam", "create-user", "--user-name", "bob"]);
    assert!(again.unwrap_err().contains("EntityAlreadyExists"));
    server
        .aws(&[
            "iam",
            "create-login-profile",
            "--user-name",
            "bob",
            "--password",
            password,
        ])
        .unwrap();
    let role_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    server
        .aws(&[
            "iam",
            "create-role",
            "--role-name",
            "ops",
            "--assume-role-policy-document",
            role_policy,
        ])
        .unwrap();
    let creds = server
        .aws(&[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/ops",
            "--role-session-name",
            "night",
        ])
        .unwrap();
    let secret = creds["Credentials"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = creds["Credentials"]["SessionToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // One event per call, newest first, for the administrator.
    let mine = names(
        &server,
        &[
            "--lookup-attributes",
            "AttributeKey=Username,AttributeValue=iam-admin",
        ],
    );
    assert_eq!(
        mine,
        [
            "AssumeRole",
            "CreateRole",
            "CreateLoginProfile",
            "CreateUser",
            "GetUser",
            "CreateUser"
        ]
    );
    let got = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=GetUser",
        ])
        .unwrap();
    let event = &got["Events"][0];
    assert_eq!(event["ReadOnly"], "true");
    assert_eq!(event["Resources"][0]["ResourceName"], "bob");
    assert_eq!(event["AccessKeyId"], server.key.0.as_str());
    let trail: Value = serde_json::from_str(event["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(trail["requestParameters"]["userName"], "bob");

    // AssumeRole names the role and the session.
    let assumed = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=AssumeRole",
        ])
        .unwrap();
    let trail = assumed["Events"][0]["CloudTrailEvent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(trail.contains("arn:aws:iam::123456789012:role/ops") && trail.contains("night"));

    // A failed call is one event with its error code.
    let failed = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=CreateUser",
        ])
        .unwrap();
    let codes: Vec<Value> = failed["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["CloudTrailEvent"].as_str().unwrap()).unwrap()["errorCode"].clone())
        .collect();
    assert_eq!(codes, [Value::from("EntityAlreadyExists"), Value::Null]);

    // Time range: nothing before the run; everything within it.
    assert!(
        names(
            &server,
            &[
                "--start-time",
                "2000-01-01T00:00:00Z",
                "--end-time",
                "2000-01-02T00:00:00Z"
            ]
        )
        .is_empty()
    );
    assert!(names(&server, &["--start-time", "2000-01-01T00:00:00Z"]).len() >= 6);

    // Pages of 2, through the CLI's paginator (NextToken) and by hand.
    // (Writes only: every lookup is itself a new read event.)
    let writes = "AttributeKey=ReadOnly,AttributeValue=false";
    let all = names(
        &server,
        &["--page-size", "2", "--lookup-attributes", writes],
    );
    assert_eq!(
        all,
        [
            "AssumeRole",
            "CreateRole",
            "CreateLoginProfile",
            "CreateUser",
            "CreateUser"
        ]
    );
    let first = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--max-results",
            "2",
            "--no-paginate",
        ])
        .unwrap();
    assert_eq!(first["Events"].as_array().unwrap().len(), 2);
    let token_next = first["NextToken"].as_str().unwrap().to_owned();
    let bad = server.aws(&[
        "cloudtrail",
        "lookup-events",
        "--max-results",
        "2",
        "--no-paginate",
        "--next-token",
        &token_next,
        "--lookup-attributes",
        "AttributeKey=ReadOnly,AttributeValue=true",
    ]);
    assert!(bad.unwrap_err().contains("InvalidNextTokenException"));
    let two = server.aws(&[
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=x",
        "AttributeKey=Username,AttributeValue=y",
    ]);
    assert!(
        two.unwrap_err()
            .contains("InvalidLookupAttributesException")
    );

    // Never a secret in any event.
    let every = server
        .aws(&["cloudtrail", "lookup-events"])
        .unwrap()
        .to_string();
    for s in [password, &secret, &token, &server.key.1] {
        assert!(!every.contains(s), "a secret in the events");
    }
}
