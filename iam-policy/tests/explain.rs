//! `explain`: which side denied a request, and AWS's sentence for it, as
//! iamctl's authorization and assume-role report it.
// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{
    Context, Explanation, NotAuthorized, Policy, PolicyKind, PolicySet, PolicySource, Request,
    authorize, explain,
};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const ROLE: &str = "arn:aws:iam::123456789012:role/admin";

fn policy(name: &str, kind: PolicyKind, statements: &str) -> Policy {
    let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    Policy::parse(name, &doc, kind).unwrap()
}

fn identity(statements: &str) -> Vec<Policy> {
    vec![policy("alice-policy", PolicyKind::UserInline, statements)]
}

fn trust(principal: &str) -> Policy {
    policy(
        "trust",
        PolicyKind::Trust,
        &format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}"#
        ),
    )
}

const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
const ALLOW_S3: &str = r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#;

/// The explanation and AWS's sentence for `action` on `resource`.
fn why(set: &PolicySet, action: &str, resource: &str) -> Option<(Explanation, String)> {
    let context = Context::new();
    let request = Request {
        principal: ALICE,
        action,
        resource,
        context: &context,
    };
    let response = authorize(&request, set);
    let why = explain(&request, set, &response)?;
    let sentence = NotAuthorized::of(&request, &why).to_string();
    Some((why, sentence))
}

#[test]
fn no_identity_allow_and_no_boundary_allow_are_told_apart() {
    let user = "arn:aws:iam::123456789012:user/bob";
    let mut set = PolicySet {
        identity: identity(ALLOW_S3),
        ..PolicySet::default()
    };
    let (why, sentence) = why(&set, "iam:UpdateLoginProfile", user).unwrap();
    assert_eq!(why, Explanation::NoIdentityAllow);
    assert_eq!(
        sentence,
        format!(
            "User: {ALICE} is not authorized to perform: iam:UpdateLoginProfile on resource: {user} \
             because no identity-based policy allows the iam:UpdateLoginProfile action"
        )
    );
    set.identity = identity(ALLOW_ALL);
    assert!(self::why(&set, "iam:UpdateLoginProfile", user).is_none());
    set.boundary = Some(vec![policy("boundary", PolicyKind::Managed, ALLOW_S3)]);
    let (why, sentence) = self::why(&set, "iam:UpdateLoginProfile", user).unwrap();
    assert_eq!(why, Explanation::NoBoundaryAllow);
    assert!(
        sentence
            .ends_with(" because no permissions boundary allows the iam:UpdateLoginProfile action"),
        "{sentence}"
    );
}

#[test]
fn an_explicit_deny_names_its_statement_and_side() {
    let deny = r#"{"Sid":"NoRoles","Effect":"Deny","Action":"sts:*","Resource":"*"}"#;
    let set = PolicySet {
        identity: identity(&format!("{ALLOW_ALL},{deny}")),
        boundary: None,
        resource: vec![trust(ALICE)],
    };
    let (why, sentence) = self::why(&set, "sts:AssumeRole", ROLE).unwrap();
    let Explanation::ExplicitDeny(m) = &why else {
        panic!("{why:?}")
    };
    assert_eq!(m.source, PolicySource::Identity);
    assert!(
        sentence.ends_with(
            " with an explicit deny in policy alice-policy statement \"NoRoles\" \
             (an identity-based policy)"
        ),
        "{sentence}"
    );

    let set = PolicySet {
        identity: identity(ALLOW_ALL),
        boundary: Some(vec![policy(
            "boundary",
            PolicyKind::Managed,
            &format!(r#"{ALLOW_ALL},{{"Effect":"Deny","Action":"iam:*","Resource":"*"}}"#),
        )]),
        resource: vec![],
    };
    let (_, sentence) = self::why(&set, "iam:CreateUser", "*").unwrap();
    assert!(
        sentence.ends_with(
            " with an explicit deny in policy boundary statement #1 (a permissions boundary)"
        ),
        "{sentence}"
    );
}

#[test]
fn a_trust_policy_says_whether_it_admits_the_caller() {
    let bob = "arn:aws:iam::123456789012:user/bob";
    let root = "arn:aws:iam::123456789012:root";
    let assume = r#"{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}"#;
    let case = |identity_statements: &str, trusted: &str, boundary: Option<&str>| PolicySet {
        identity: identity(identity_statements),
        boundary: boundary.map(|b| vec![policy("boundary", PolicyKind::Managed, b)]),
        resource: vec![trust(trusted)],
    };
    let said = |set: &PolicySet| why(set, "sts:AssumeRole", ROLE).unwrap();

    let (why_, sentence) = said(&case(assume, bob, None));
    assert_eq!(
        why_,
        Explanation::TrustDoesNotAdmit {
            identity_allows: true
        }
    );
    assert_eq!(
        sentence,
        format!(
            "User: {ALICE} is not authorized to perform: sts:AssumeRole on resource: {ROLE} \
             because the role's trust policy does not allow it"
        )
    );
    let (_, sentence) = said(&case(ALLOW_S3, bob, None));
    assert!(
        sentence.ends_with(
            " because the role's trust policy does not allow it and no identity-based policy \
             allows the sts:AssumeRole action"
        ),
        "{sentence}"
    );
    let (why_, sentence) = said(&case(ALLOW_S3, root, None));
    assert_eq!(why_, Explanation::TrustAdmitsAccountOnly);
    assert!(
        sentence.ends_with(
            " because no identity-based policy allows the sts:AssumeRole action (the trust \
             policy trusts the account, not the user)"
        ),
        "{sentence}"
    );
    let (why_, _) = said(&case(assume, root, Some(ALLOW_S3)));
    assert_eq!(why_, Explanation::NoBoundaryAllow);
    assert!(why(&case(assume, root, None), "sts:AssumeRole", ROLE).is_none());
    assert!(why(&case(ALLOW_S3, ALICE, None), "sts:AssumeRole", ROLE).is_none());
}

#[test]
fn the_sentence_without_a_reason_names_who_and_what() {
    let sentence = NotAuthorized {
        who: "Role",
        principal: ROLE,
        action: "host:RunAs",
        resource: "arn:aws:host::123456789012:host/web-1",
        why: None,
    }
    .to_string();
    assert_eq!(
        sentence,
        format!(
            "Role: {ROLE} is not authorized to perform: host:RunAs on resource: \
             arn:aws:host::123456789012:host/web-1"
        )
    );
}
