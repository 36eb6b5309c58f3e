//! Property tests: adding a Deny statement never turns a deny into an
//! allow, and never turns an allow into an implicit deny; a document that
//! repeats any key at any depth is refused; policy variables are
//! substituted only where AWS substitutes them.

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

/// Object keys in `v`, counted in document order.
fn count_keys(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.len() + m.values().map(count_keys).sum::<usize>(),
        Value::Array(a) => a.iter().map(count_keys).sum(),
        _ => 0,
    }
}

/// `v` as JSON text with object key number `target` (document order)
/// written twice, the second time with `extra` as its value.
fn render_with_duplicate(v: &Value, target: usize, n: &mut usize, extra: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, val)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let hit = *n == target;
                *n += 1;
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                render_with_duplicate(val, target, n, extra, out);
                if hit {
                    out.push_str(&format!(",{}:{extra}", Value::from(k.as_str())));
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render_with_duplicate(item, target, n, extra, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// What a variable stands in for, and whether AWS substitutes it there.
#[derive(Debug, Clone)]
enum Placement {
    /// One of the ARN's parts 1..=5 (partition … resource).
    ArnPart(usize),
    /// A condition operator on a key the context sets to `value`.
    Operator(&'static str, &'static str, &'static str),
}

const ARN_PARTS: [&str; 6] = [
    "arn",
    "aws",
    "host",
    "us-east-1",
    "123456789012",
    "host/web-1",
];

/// (operator, context key and value, the policy value the variable must
/// become for the condition to hold).
const OPERATOR_PLACEMENTS: &[(&str, &str, &str)] = &[
    ("StringEquals", "x:s", "web"),
    ("StringEqualsIgnoreCase", "x:s", "web"),
    ("StringLike", "x:s", "web"),
    ("StringEqualsIfExists", "x:s", "web"),
    ("ForAnyValue:StringEquals", "x:s", "web"),
    ("ArnEquals", "x:arn", "arn:aws:iam::123456789012:role/r"),
    ("ArnLike", "x:arn", "arn:aws:iam::123456789012:role/r"),
    ("NumericEquals", "x:n", "10"),
    ("NumericLessThanEquals", "x:n", "10"),
    ("DateEquals", "x:date", "2026-01-01T00:00:00Z"),
    ("DateGreaterThanEquals", "x:date", "2026-01-01T00:00:00Z"),
    ("Bool", "x:b", "true"),
    ("BoolIfExists", "x:b", "true"),
    ("BinaryEquals", "x:bin", "QQ=="),
    ("IpAddress", "x:ip", "10.0.0.0/8"),
    ("Null", "x:absent", "true"),
];

fn operator_context_value(key: &str) -> &'static str {
    match key {
        "x:s" => "web",
        "x:arn" => "arn:aws:iam::123456789012:role/r",
        "x:n" => "10",
        "x:date" => "2026-01-01T00:00:00Z",
        "x:b" => "true",
        "x:bin" => "QQ==",
        _ => "10.1.2.3",
    }
}

fn placement() -> impl Strategy<Value = Placement> {
    prop_oneof![
        (1usize..6).prop_map(Placement::ArnPart),
        proptest::sample::select(OPERATOR_PLACEMENTS)
            .prop_map(|(op, key, value)| Placement::Operator(op, key, value)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// AWS refuses a policy document with a duplicate key; this engine
    /// refuses it wherever the key is (element, operator, condition key,
    /// principal type), whatever the second value, on write and on load.
    #[test]
    fn a_duplicated_key_at_any_depth_is_refused(
        statements in document(true),
        resource_based in any::<bool>(),
        which in any::<proptest::sample::Index>(),
        extra in prop_oneof![
            Just(json!("Allow")),
            Just(json!("Deny")),
            Just(json!("*")),
            Just(json!(["s3:*"])),
            Just(json!({})),
        ],
    ) {
        let mut statements = statements;
        let kind = if resource_based {
            PolicyKind::Resource
        } else {
            for s in &mut statements {
                let s = s.as_object_mut().unwrap();
                s.remove("Principal");
                s.remove("NotPrincipal");
            }
            PolicyKind::Managed
        };
        let doc = json!({"Version": "2012-10-17", "Id": "p", "Statement": statements});
        prop_assert!(Policy::parse("p", &doc.to_string(), kind).is_ok());
        let target = which.index(count_keys(&doc));
        let mut text = String::new();
        render_with_duplicate(&doc, target, &mut 0, &extra, &mut text);
        for parsed in [
            Policy::parse("p", &text, kind),
            Policy::parse_stored("p", &text, kind),
            Policy::parse_unlimited("p", &text, kind),
        ] {
            let err = parsed.err().unwrap();
            prop_assert!(err.to_string().contains("duplicate key"), "{text}: {err}");
            prop_assert_eq!(err.aws_code(), "MalformedPolicyDocument");
        }
    }

    /// AWS substitutes a policy variable only in the resource part of a
    /// Resource ARN (after the fifth colon) and in String and ARN
    /// condition operators; anywhere else the same text is literal and
    /// matches nothing. The variable may be part of the text, and may
    /// come from its default.
    #[test]
    fn policy_variables_are_substituted_only_where_aws_substitutes_them(
        place in placement(),
        split in 0usize..4,
        from_default in any::<bool>(),
    ) {
        let mut ctx = Context::new();
        let var = |value: &str, ctx: &mut Context| {
            if from_default {
                format!("${{aws:PrincipalTag/absent, '{value}'}}")
            } else {
                ctx.set("aws:PrincipalTag/v", value);
                "${aws:PrincipalTag/v}".to_owned()
            }
        };
        let (resource_pattern, condition, substituted) = match &place {
            Placement::ArnPart(i) => {
                let part = ARN_PARTS[*i];
                let k = split.min(part.len());
                let mut parts: Vec<String> = ARN_PARTS.iter().map(|p| p.to_string()).collect();
                parts[*i] = format!("{}{}", &part[..k], var(&part[k..], &mut ctx));
                (parts.join(":"), None, *i == 5)
            }
            Placement::Operator(op, key, value) => {
                if *key != "x:absent" {
                    ctx.set(key, operator_context_value(key));
                }
                let cond = json!({ *op: { *key: var(value, &mut ctx) } });
                let substituted = op.starts_with("String")
                    || op.starts_with("Arn")
                    || op.starts_with("ForAnyValue:String");
                ("*".to_owned(), Some(cond), substituted)
            }
        };
        let mut statement = json!({"Effect": "Allow", "Action": "host:Login", "Resource": resource_pattern});
        if let Some(c) = condition {
            statement["Condition"] = c;
        }
        let doc = json!({"Version": "2012-10-17", "Statement": [statement]}).to_string();
        let set = PolicySet {
            identity: vec![Policy::parse("p", &doc, PolicyKind::Managed).unwrap()],
            ..PolicySet::default()
        };
        let request = Request {
            principal: "arn:aws:iam::123456789012:user/bob",
            action: "host:Login",
            resource: &ARN_PARTS.join(":"),
            context: &ctx,
        };
        let decision = authorize(&request, &set).decision;
        let expected = if substituted { Decision::Allowed } else { Decision::ImplicitDeny };
        prop_assert_eq!(decision, expected, "{} with {:?}", doc, ctx);
    }
}
