//! A malicious policy author (docs/SECURITY.md): oversized documents are
//! refused before any JSON is parsed, with the limit named; deep nesting
//! cannot exhaust the stack. Timing is measured in bench/, not asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{MAX_DOCUMENT_BYTES, Policy, PolicyError, PolicyKind};

const STATEMENT: &str = r#"{"Effect":"Allow","Action":"host:Login","Resource":"*"}"#;

fn statements(n: usize) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![STATEMENT; n].join(",")
    )
}

#[test]
fn ten_thousand_statements_are_refused_for_every_stored_kind() {
    let doc = statements(10_000);
    for kind in [
        PolicyKind::UserInline,
        PolicyKind::GroupInline,
        PolicyKind::RoleInline,
        PolicyKind::Managed,
        PolicyKind::Trust,
    ] {
        match Policy::parse("big", &doc, kind) {
            Err(e @ PolicyError::TooLong { bytes, limit }) => {
                assert!(bytes > limit);
                assert_eq!(e.aws_code(), "LimitExceeded", "AWS's code for size");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        // Under the byte bound, the kind's own limit refuses it.
        let doc = statements(2_000 / STATEMENT.len() * 10);
        assert!(doc.len() < MAX_DOCUMENT_BYTES);
        match Policy::parse("big", &doc, kind) {
            Err(e @ PolicyError::TooLarge { limit, chars, .. }) => {
                assert_eq!(limit, kind.max_chars());
                assert!(chars > limit);
                assert_eq!(e.aws_code(), "LimitExceeded", "AWS's code for size");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[test]
fn a_megabyte_is_refused_and_the_error_does_not_echo_it() {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"*","Resource":"*"}}]}}"#,
        "A".repeat(1 << 20)
    );
    let err = Policy::parse("big", &doc, PolicyKind::Managed).unwrap_err();
    assert!(matches!(err, PolicyError::TooLong { .. }), "{err:?}");
    assert!(err.to_string().len() < 1000, "error echoes the document");
}

#[test]
fn whitespace_padding_does_not_get_a_megabyte_through() {
    // Whitespace does not count towards a kind's limit (as in AWS), but the
    // document as a whole is bounded like AWS's PolicyDocument parameter:
    // before this test, a 1 MB document of one statement and spaces was
    // accepted and stored.
    let padded = format!("{}{}", statements(1), " ".repeat(1 << 20));
    match Policy::parse("padded", &padded, PolicyKind::UserInline) {
        Err(PolicyError::TooLong { bytes, limit }) => {
            assert_eq!(limit, MAX_DOCUMENT_BYTES);
            assert_eq!(bytes, padded.len());
        }
        other => panic!("{other:?}"),
    }
    // Pretty-printed policies of normal size still parse.
    let spaced = format!("{}{}", statements(1), " ".repeat(4096));
    assert!(Policy::parse("spaced", &spaced, PolicyKind::UserInline).is_ok());
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}1{}}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(Policy::parse_unlimited("deep", &deep, PolicyKind::Managed).is_err());
}

#[test]
fn the_largest_allowed_policy_parses() {
    // Just under the managed-policy limit (6,144 characters).
    let n = (6144 - 40) / (STATEMENT.len() + 1);
    let doc = statements(n);
    let chars = doc.chars().filter(|c| !c.is_whitespace()).count();
    assert!(chars <= 6144, "{chars}");
    assert!(Policy::parse("max", &doc, PolicyKind::Managed).is_ok());
}
