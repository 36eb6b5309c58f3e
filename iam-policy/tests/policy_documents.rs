//! Parser corpus: iam-policy/tests/policy_documents/{valid,invalid}.json. Every
//! valid document parses; every invalid one is refused with an error that
//! contains the expected fragment (naming statement, Sid and field).

// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{Policy, PolicyKind};
use serde_json::Value;
use std::path::Path;

fn kind(v: &Value) -> PolicyKind {
    match v.as_str().unwrap_or("managed") {
        "user" => PolicyKind::UserInline,
        "group" => PolicyKind::GroupInline,
        "role" => PolicyKind::RoleInline,
        "managed" => PolicyKind::Managed,
        "trust" => PolicyKind::Trust,
        "resource" => PolicyKind::Resource,
        other => panic!("unknown kind {other}"),
    }
}

/// A document of exactly `size` characters without whitespace, padded with
/// whitespace that must not count.
fn sized(spec: &Value) -> String {
    let size = spec["size"].as_u64().unwrap() as usize;
    let (head, tail) = if spec["trust"].as_bool().unwrap_or(false) {
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/"#,
            r#""},"Action":"sts:AssumeRole"}]}"#,
        )
    } else {
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/"#,
            r#""}]}"#,
        )
    };
    let pad = "a".repeat(size - head.len() - tail.len());
    let doc = format!(
        "{}\n\t  {head}{pad}{tail}\n{}",
        " ".repeat(300),
        " ".repeat(300)
    );
    assert_eq!(doc.chars().filter(|c| !c.is_whitespace()).count(), size);
    doc
}

fn documents(file: &str) -> Vec<(String, PolicyKind, String, Option<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/policy_documents")
        .join(file);
    let root: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    root["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let text = if let Some(t) = d.get("text") {
                t.as_str().unwrap().to_owned()
            } else if let Some(spec) = d.get("text_repeat") {
                sized(spec)
            } else {
                serde_json::to_string_pretty(&d["document"]).unwrap()
            };
            (
                d["name"].as_str().unwrap().to_owned(),
                kind(&d["kind"]),
                text,
                d.get("error").and_then(Value::as_str).map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn valid_documents_parse() {
    let docs = documents("valid.json");
    assert!(docs.len() >= 15);
    for (name, kind, text, _) in docs {
        let policy =
            Policy::parse(&name, &text, kind).unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        assert_eq!(policy.document(), text);
        assert_eq!(policy.name(), name);
    }
}

#[test]
fn invalid_documents_are_refused_precisely() {
    let docs = documents("invalid.json");
    assert!(docs.len() >= 50);
    for (name, kind, text, fragment) in docs {
        let fragment = fragment.unwrap_or_else(|| panic!("{name}: no error fragment"));
        match Policy::parse(&name, &text, kind) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => assert!(
                e.to_string().contains(&fragment),
                "{name}: error {e:?} lacks {fragment:?}"
            ),
        }
    }
}

#[test]
fn simulator_parse_has_no_size_limit() {
    let big = sized(&serde_json::json!({"size": 20000}));
    assert!(Policy::parse("big", &big, PolicyKind::Managed).is_err());
    assert!(Policy::parse_unlimited("big", &big, PolicyKind::Managed).is_ok());
}
