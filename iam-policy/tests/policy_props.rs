//! Property tests of the evaluation: adding a Deny statement never turns a
//! deny into an allow, and never turns an allow into an implicit deny.

// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{Context, Decision, Policy, PolicyKind, PolicySet, Request, authorize};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: &[&str] = &["host:Login", "host:RunAs", "s3:GetObject", "iam:CreateUser"];
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "host:*",
    "s3:Get*",
    "host:Log?n",
    "iam:*",
    "HOST:login",
];
const RESOURCES: &[&str] = &[
    "arn:aws:host::123456789012:host/web-1",
    "arn:aws:s3:::b/k",
    "arn:aws:iam::123456789012:role/r",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:host::123456789012:host/*",
    "arn:aws:host::123456789012:host/web-?",
    "arn:aws:s3:::b/*",
    "arn:aws:iam::*:role/*",
];
const CALLERS: &[&str] = &[
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:user/bob",
    "arn:aws:sts::123456789012:assumed-role/r/s",
];
const PRINCIPALS: &[&str] = &[
    "*",
    "123456789012",
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:role/r",
    "arn:aws:sts::123456789012:assumed-role/r/s",
];

fn conditions() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(
            json!({"StringEquals": {"aws:PrincipalTag/team": "ops"}})
        )),
        Just(Some(
            json!({"StringNotEquals": {"aws:PrincipalTag/team": "ops"}})
        )),
        Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        Just(Some(
            json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
        )),
        Just(Some(
            json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        )),
        Just(Some(
            json!({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
        )),
        Just(Some(
            json!({"ForAllValues:StringEquals": {"aws:PrincipalTag/team": ["ops", "dev"]}})
        )),
        Just(Some(
            json!({"ForAnyValue:StringLike": {"aws:PrincipalTag/team": "d*"}})
        )),
        Just(Some(json!({"Null": {"aws:SourceIp": "true"}}))),
    ]
}

/// A statement; `resource_based` adds a Principal (or NotPrincipal).
fn statement(resource_based: bool, effect: Option<&'static str>) -> impl Strategy<Value = Value> {
    let effect = match effect {
        Some(e) => Just(e).boxed(),
        None => prop_oneof![Just("Allow"), Just("Deny")].boxed(),
    };
    (
        effect,
        proptest::sample::subsequence(ACTION_PATTERNS, 1..3),
        any::<bool>(),
        proptest::sample::subsequence(RESOURCE_PATTERNS, 1..3),
        any::<bool>(),
        conditions(),
        proptest::sample::subsequence(PRINCIPALS, 1..3),
        any::<bool>(),
    )
        .prop_map(
            move |(
                effect,
                actions,
                not_action,
                resources,
                not_resource,
                cond,
                principals,
                not_principal,
            )| {
                let mut s = json!({"Effect": effect});
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                if resource_based {
                    let p = if principals.contains(&"*") {
                        json!("*")
                    } else {
                        json!({"AWS": principals})
                    };
                    s[if not_principal {
                        "NotPrincipal"
                    } else {
                        "Principal"
                    }] = p;
                }
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                if let Some(c) = cond {
                    s["Condition"] = c;
                }
                s
            },
        )
}

fn document(resource_based: bool) -> impl Strategy<Value = Vec<Value>> {
    proptest::collection::vec(statement(resource_based, None), 1..4)
}

fn context() -> impl Strategy<Value = Context> {
    (
        prop_oneof![
            Just(None),
            Just(Some(vec!["ops"])),
            Just(Some(vec!["dev"])),
            Just(Some(vec!["ops", "qa"]))
        ],
        prop_oneof![Just(None), Just(Some("10.1.2.3")), Just(Some("8.8.8.8"))],
        prop_oneof![Just(None), Just(Some("true")), Just(Some("false"))],
    )
        .prop_map(|(team, ip, mfa)| {
            let mut ctx = Context::new();
            if let Some(t) = team {
                ctx.insert(
                    "aws:PrincipalTag/team",
                    t.into_iter().map(String::from).collect(),
                );
            }
            if let Some(ip) = ip {
                ctx.set("aws:SourceIp", ip);
            }
            if let Some(m) = mfa {
                ctx.set("aws:MultiFactorAuthPresent", m);
            }
            ctx
        })
}

fn policy(name: &str, statements: &[Value], kind: PolicyKind) -> Policy {
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    Policy::parse_unlimited(name, &doc, kind).unwrap()
}

#[derive(Debug, Clone)]
struct Scenario {
    identity: Vec<Vec<Value>>,
    boundary: Option<Vec<Value>>,
    resource: Option<Vec<Value>>,
}

impl Scenario {
    fn set(&self) -> PolicySet {
        PolicySet {
            identity: self
                .identity
                .iter()
                .enumerate()
                .map(|(i, s)| policy(&format!("p{i}"), s, PolicyKind::Managed))
                .collect(),
            boundary: self
                .boundary
                .as_ref()
                .map(|s| vec![policy("boundary", s, PolicyKind::Managed)]),
            resource: self
                .resource
                .iter()
                .map(|s| policy("resource", s, PolicyKind::Resource))
                .collect(),
        }
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(document(false), 0..3),
        proptest::option::of(document(false)),
        proptest::option::of(document(true)),
    )
        .prop_map(|(identity, boundary, resource)| Scenario {
            identity,
            boundary,
            resource,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adding_a_deny_never_grants(
        base in scenario(),
        where_to in 0usize..3,
        deny_identity in statement(false, Some("Deny")),
        deny_resource in statement(true, Some("Deny")),
        action in proptest::sample::select(ACTIONS),
        resource in proptest::sample::select(RESOURCES),
        caller in proptest::sample::select(CALLERS),
        ctx in context(),
    ) {
        let request = Request { principal: caller, action, resource, context: &ctx };
        let before = authorize(&request, &base.set()).decision;
        let mut more = base.clone();
        match where_to {
            0 => more.identity.push(vec![deny_identity]),
            1 => match &mut more.boundary {
                Some(b) => b.push(deny_identity),
                None => more.identity.push(vec![deny_identity]),
            },
            _ => match &mut more.resource {
                Some(r) => r.push(deny_resource),
                None => more.resource = Some(vec![deny_resource]),
            },
        }
        let after = authorize(&request, &more.set()).decision;
        if before != Decision::Allowed {
            prop_assert_ne!(after, Decision::Allowed, "a Deny turned {:?} into an allow", before);
        } else {
            prop_assert_ne!(after, Decision::ImplicitDeny, "a Deny turned an allow into an implicit deny");
        }
        if after == Decision::ExplicitDeny {
            prop_assert!(authorize(&request, &more.set()).matched.iter().all(|m| m.effect == iam_policy::Effect::Deny));
        }
    }
}
