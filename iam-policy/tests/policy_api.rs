//! The engine's public API as other modules use it: Context, Request,
//! PolicySet, authorize (same- and cross-account), Response and the audit
//! wording of a deciding statement.

// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{
    Context, ContextKeyType, Decision, Effect, Policy, PolicyKind, PolicySet, PolicySource,
    Request, authorize, authorize_cross_account, condition_witnesses, missing_context_keys,
};

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

fn policy(name: &str, kind: PolicyKind, doc: &str) -> Policy {
    Policy::parse(name, doc, kind).unwrap()
}

#[test]
fn context_keys_are_case_insensitive_and_typed_values_checked() {
    let mut ctx = Context::new();
    assert!(ctx.is_empty());
    ctx.set("aws:SourceIp", "10.0.0.1");
    ctx.insert("AWS:TagKeys", vec!["a".into(), "b".into()]);
    assert_eq!(ctx.get("AWS:SOURCEIP").unwrap(), ["10.0.0.1"]);
    assert_eq!(ctx.get("aws:tagkeys").unwrap(), ["a", "b"]);
    ctx.set("aws:sourceip", "10.0.0.2");
    assert_eq!(ctx.get("aws:SourceIp").unwrap(), ["10.0.0.2"]);
    assert!(
        ctx.insert_typed("aws:SourceIp", vec!["x".into()], ContextKeyType::Ip)
            .is_err()
    );
    assert!(
        ctx.insert_typed("n", vec!["1".into(), "2".into()], ContextKeyType::Numeric)
            .is_err()
    );
    assert!(
        ctx.insert_typed(
            "n",
            vec!["1".into(), "2".into()],
            ContextKeyType::NumericList
        )
        .is_ok()
    );
    assert_eq!("stringList".parse(), Ok(ContextKeyType::StringList));
    assert_eq!("IP".parse(), Ok(ContextKeyType::Ip));
}

#[test]
fn response_names_deciding_statements_for_audit() {
    let set = PolicySet {
        identity: vec![
            policy(
                "AdminAccess",
                PolicyKind::Managed,
                r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            ),
            policy(
                "bob-inline",
                PolicyKind::UserInline,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"host:RunAs","Resource":"*"}]}"#,
            ),
        ],
        ..PolicySet::default()
    };
    let ctx = Context::new();
    let req = |action| Request {
        principal: ALICE,
        action,
        resource: "arn:aws:host::111122223333:host/web-1",
        context: &ctx,
    };
    let allowed = authorize(&req("host:Login"), &set);
    assert_eq!(allowed.decision, Decision::Allowed);
    assert_eq!(allowed.decision.as_aws_str(), "allowed");
    assert_eq!(allowed.matched.len(), 1);
    assert_eq!(
        allowed.matched[0].to_string(),
        r#"policy AdminAccess statement "AllowAll""#
    );
    assert_eq!(allowed.matched[0].source, PolicySource::Identity);

    let denied = authorize(&req("host:RunAs"), &set);
    assert_eq!(denied.decision.as_aws_str(), "explicitDeny");
    assert_eq!(denied.matched.len(), 1);
    assert_eq!(denied.matched[0].effect, Effect::Deny);
    assert_eq!(denied.matched[0].index, 1);
    assert_eq!(
        denied.matched[0].to_string(),
        "policy bob-inline statement #1"
    );

    let none = authorize(&req("iam:CreateUser"), &PolicySet::default());
    assert_eq!(none.decision.as_aws_str(), "implicitDeny");
    assert!(none.matched.is_empty());
}

#[test]
fn cross_account_needs_identity_and_resource_policy() {
    let identity = policy(
        "p",
        PolicyKind::Managed,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#,
    );
    let queue = policy(
        "queue",
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"FromPartner","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sqs:SendMessage","Resource":"*"}]}"#,
    );
    let ctx = Context::new();
    let req = Request {
        principal: ALICE,
        action: "sqs:SendMessage",
        resource: "arn:aws:sqs:us-east-1:444455556666:queue",
        context: &ctx,
    };
    let both = PolicySet {
        identity: vec![identity.clone()],
        resource: vec![queue.clone()],
        ..PolicySet::default()
    };
    assert_eq!(
        authorize_cross_account(&req, &both).decision,
        Decision::Allowed
    );
    let only_identity = PolicySet {
        identity: vec![identity],
        ..PolicySet::default()
    };
    assert_eq!(
        authorize_cross_account(&req, &only_identity).decision,
        Decision::ImplicitDeny
    );
    // Within one account the identity policy alone suffices.
    assert_eq!(authorize(&req, &only_identity).decision, Decision::Allowed);
    let only_resource = PolicySet {
        resource: vec![queue],
        ..PolicySet::default()
    };
    assert_eq!(
        authorize_cross_account(&req, &only_resource).decision,
        Decision::ImplicitDeny
    );
}

#[test]
fn missing_context_keys_are_reported_as_written() {
    let set = PolicySet {
        identity: vec![policy(
            "p",
            PolicyKind::Managed,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:MultiFactorAuthPresent":"true"}}},{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"x"}}}]}"#,
        )],
        ..PolicySet::default()
    };
    let mut ctx = Context::new();
    ctx.set("aws:multifactorauthpresent", "true");
    let req = Request {
        principal: ALICE,
        action: "host:Login",
        resource: "*",
        context: &ctx,
    };
    assert_eq!(missing_context_keys(&req, &set), vec!["aws:SourceIp"]);
}

#[test]
fn size_limits_per_kind() {
    for (kind, limit) in [
        (PolicyKind::UserInline, 2048),
        (PolicyKind::GroupInline, 5120),
        (PolicyKind::RoleInline, 10240),
        (PolicyKind::Managed, 6144),
        (PolicyKind::Trust, 2048),
    ] {
        assert_eq!(kind.max_chars(), limit);
    }
}

/// The values `condition_witnesses` derives make the engine decide as the
/// condition operators say (IAM User Guide, "Condition operators"): an
/// address inside an `IpAddress` block, a time just after a
/// `DateGreaterThan`, a number just under a `NumericLessThan`, a
/// `StringLike` pattern filled in, `…IfExists` and negated operators left
/// absent; and for a Deny, a value that makes one of its conditions false
/// (the network a `NotIpAddress` Deny excepts). Keys the caller knows are
/// never assigned: a missing principal tag stays missing.
#[test]
fn condition_witnesses_are_requests_under_which_statements_apply() {
    let allow = policy(
        "p",
        PolicyKind::UserInline,
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Office","Effect":"Allow","Action":"host:Login","Resource":"*",
             "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
                          "DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},
                          "NumericLessThan":{"aws:MultiFactorAuthAge":"3600"},
                          "StringLike":{"host:AuthMethod":"publickey*"},
                          "StringNotEquals":{"host:Tty":"console"},
                          "StringEqualsIfExists":{"host:Service":"sshd"}}},
            {"Sid":"Team","Effect":"Allow","Action":"host:Login","Resource":"*",
             "Condition":{"StringEquals":{"aws:PrincipalTag/team":"ops"}}},
            {"Sid":"NotThis","Effect":"Allow","Action":"s3:GetObject","Resource":"*",
             "Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}"#,
    );
    let deny = policy(
        "d",
        PolicyKind::UserInline,
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Deny","Action":"*","Resource":"*",
             "Condition":{"NotIpAddress":{"aws:SourceIp":"172.16.0.0/12"}}}]}"#,
    );
    let ctx = Context::new();
    let request = Request {
        principal: ALICE,
        action: "host:Login",
        resource: "arn:aws:host::111122223333:host/web-1",
        context: &ctx,
    };
    let free = |k: &str| !k.to_ascii_lowercase().starts_with("aws:principaltag/");
    let found = condition_witnesses(&request, [&allow], free);
    assert_eq!(
        found,
        [vec![
            (
                "aws:CurrentTime".to_owned(),
                "2026-01-01T00:00:01Z".to_owned()
            ),
            ("aws:SourceIp".to_owned(), "10.0.0.0".to_owned()),
            ("aws:MultiFactorAuthAge".to_owned(), "3599".to_owned()),
            ("host:AuthMethod".to_owned(), "publickey".to_owned()),
        ]],
        "one assignment: the Team statement needs a key the caller knows"
    );
    let set = PolicySet {
        identity: vec![allow.clone()],
        ..PolicySet::default()
    };
    let mut tried = Context::new();
    for (k, v) in &found[0] {
        tried.set(k, v.clone());
    }
    let allowed = authorize(
        &Request {
            context: &tried,
            ..request
        },
        &set,
    );
    assert_eq!(allowed.decision, Decision::Allowed);
    assert_eq!(allowed.matched[0].sid.as_deref(), Some("Office"));
    assert_eq!(authorize(&request, &set).decision, Decision::ImplicitDeny);

    // With a Deny outside 172.16.0.0/12: its escape, and both together.
    let found = condition_witnesses(&request, [&allow, &deny], free);
    assert_eq!(found.len(), 3);
    assert_eq!(
        found[1],
        [("aws:SourceIp".to_owned(), "172.16.0.0".to_owned())]
    );
    let both = PolicySet {
        identity: vec![allow, deny],
        ..PolicySet::default()
    };
    let decided: Vec<Decision> = found
        .iter()
        .map(|w| {
            let mut c = Context::new();
            for (k, v) in w {
                c.set(k, v.clone());
            }
            authorize(
                &Request {
                    context: &c,
                    ..request
                },
                &both,
            )
            .decision
        })
        .collect();
    assert_eq!(
        decided,
        [
            Decision::ExplicitDeny,
            Decision::ImplicitDeny,
            Decision::ExplicitDeny
        ],
        "10.0.0.0 is outside the Deny's exception, 172.16.0.0 inside it but not in the office"
    );
}
