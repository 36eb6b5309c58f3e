//! Access Analyzer's policy checks on host policies, from AWS's policy
//! check reference and the custom policy checks' definitions: scenarios
//! whose answers are known by construction, and properties — an ERROR
//! exactly when the store would refuse the document, and a PASS of
//! `CheckNoNewAccess` / `CheckAccessNotGranted` never contradicted by the
//! engine's own decisions.

// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{
    CheckResult, Context, Decision, FindingType, PathStep, Policy, PolicyKind, PolicySet, Request,
    authorize, check_access_not_granted, check_no_new_access, validate_policy,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const HOST: &str = "arn:aws:host::123456789012:host/web-1";

fn doc(statements: Value) -> String {
    serde_json::to_string_pretty(&json!({"Version": "2012-10-17", "Statement": statements}))
        .unwrap()
}

fn codes(document: &str, kind: PolicyKind) -> Vec<(FindingType, &'static str)> {
    validate_policy(document, kind)
        .into_iter()
        .map(|f| (f.finding_type, f.issue_code))
        .collect()
}

fn key(k: &str) -> PathStep {
    PathStep::Key(k.into())
}

fn parsed(document: &str) -> Policy {
    Policy::parse("p", document, PolicyKind::Managed).unwrap()
}

#[test]
fn run_as_without_mfa_is_a_security_warning_at_the_action() {
    let d = doc(json!([{"Effect": "Allow", "Action": "host:RunAs", "Resource": HOST}]));
    let findings = validate_policy(&d, PolicyKind::Managed);
    let mfa = findings
        .iter()
        .find(|f| f.issue_code == "ALLOW_WITHOUT_MFA_CONDITION")
        .unwrap();
    assert_eq!(mfa.finding_type, FindingType::SecurityWarning);
    assert!(mfa.finding_details.contains("host:RunAs"));
    let at = &mfa.locations[0];
    assert_eq!(
        at.path,
        vec![key("Statement"), PathStep::Index(0), key("Action")]
    );
    let text: String = d
        .chars()
        .skip(at.span.start.offset)
        .take(at.span.end.offset - at.span.start.offset)
        .collect();
    assert_eq!(text, "\"host:RunAs\"");
    assert_eq!(at.span.start.line, 4);
    // Without a host:RunAs tag the role runs as root; nothing bounds it.
    assert!(
        findings
            .iter()
            .any(|f| f.issue_code == "RUN_AS_ROOT_WITHOUT_DURATION_BOUND")
    );
    assert!(
        findings
            .iter()
            .all(|f| f.finding_type != FindingType::Error)
    );
}

#[test]
fn an_mfa_condition_and_a_duration_bound_silence_the_host_checks() {
    let d = doc(
        json!([{"Effect": "Allow", "Action": ["host:RunAs", "host:Login"], "Resource": HOST,
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                      "NumericLessThanEquals": {"sts:DurationSeconds": "3600"}}}]),
    );
    assert_eq!(codes(&d, PolicyKind::Managed), vec![]);
    // MFA age bound instead of presence; root excluded by the run-as tag.
    let d = doc(
        json!([{"Effect": "Allow", "Action": "host:RunAs", "Resource": HOST,
        "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "300"},
                      "StringEquals": {"aws:PrincipalTag/host:RunAs": "deploy"}}}]),
    );
    assert_eq!(codes(&d, PolicyKind::Managed), vec![]);
    // BoolIfExists passes a request without the key: not an MFA condition.
    let d = doc(
        json!([{"Effect": "Allow", "Action": "host:Login", "Resource": HOST,
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}}]),
    );
    assert_eq!(
        codes(&d, PolicyKind::Managed),
        vec![(FindingType::SecurityWarning, "ALLOW_WITHOUT_MFA_CONDITION")]
    );
    // A Deny needs no MFA condition.
    let d = doc(json!([{"Effect": "Deny", "Action": "host:*", "Resource": "*"}]));
    assert_eq!(codes(&d, PolicyKind::Managed), vec![]);
}

#[test]
fn allow_with_not_action_and_not_resource_are_security_warnings() {
    let d = doc(
        json!([{"Effect": "Allow", "NotAction": "iam:*", "NotResource": HOST,
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                      "NumericLessThanEquals": {"sts:DurationSeconds": "900"}}}]),
    );
    let found = codes(&d, PolicyKind::Managed);
    assert!(found.contains(&(FindingType::SecurityWarning, "ALLOW_WITH_NOT_ACTION")));
    assert!(found.contains(&(FindingType::SecurityWarning, "ALLOW_WITH_NOT_RESOURCE")));
    let d = doc(json!([{"Effect": "Deny", "NotAction": "iam:*", "NotResource": HOST}]));
    assert_eq!(codes(&d, PolicyKind::Managed), vec![]);
}

#[test]
fn trust_policies_open_to_everyone_or_an_account_without_a_condition() {
    let trust = |principal: Value, condition: Option<Value>| {
        let mut st = json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal});
        if let Some(c) = condition {
            st["Condition"] = c;
        }
        codes(&doc(json!([st])), PolicyKind::Trust)
    };
    assert!(trust(json!("*"), None).contains(&(
        FindingType::SecurityWarning,
        "TRUST_POLICY_OPEN_TO_ALL_PRINCIPALS"
    )));
    assert!(
        trust(json!({"AWS": "arn:aws:iam::123456789012:root"}), None)
            .contains(&(FindingType::SecurityWarning, "TRUST_POLICY_OPEN_TO_ACCOUNT"))
    );
    let mfa = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
    assert_eq!(
        trust(json!({"AWS": "123456789012"}), Some(mfa.clone())),
        vec![]
    );
    assert_eq!(
        trust(
            json!({"AWS": "arn:aws:iam::123456789012:user/alice"}),
            Some(mfa)
        ),
        vec![]
    );
}

#[test]
fn general_checks_where_they_apply() {
    let d = doc(json!([{"Effect": "Deny",
        "Action": ["host:*", "host:Login", "iam:CreateUser", "IAM:createuser"],
        "Resource": ["*", HOST],
        "Condition": {"StringEquals": {"aws:username": ["bob*"], "aws:userid": []},
                      "NumericLessThan": {"aws:MultiFactorAuthAge": "${aws:username}"},
                      "StringLike": {}}}]));
    let mut found = codes(&d, PolicyKind::Managed);
    found.sort();
    assert_eq!(
        found,
        vec![
            (FindingType::Warning, "INVALID_VARIABLE_FOR_OPERATOR"),
            (FindingType::Warning, "WILDCARD_WITHOUT_LIKE_OPERATOR"),
            (FindingType::Suggestion, "EMPTY_ARRAY_CONDITION"),
            (FindingType::Suggestion, "EMPTY_OBJECT_CONDITION"),
            (FindingType::Suggestion, "REDUNDANT_ACTION"),
            (FindingType::Suggestion, "REDUNDANT_ACTION"),
            (FindingType::Suggestion, "REDUNDANT_RESOURCE"),
        ]
    );
    // A resource policy may omit Version (AWS warns); a managed one may not.
    let no_version = json!({"Statement": [{"Effect": "Deny", "Action": "host:Login",
        "Principal": "*", "Resource": HOST}]})
    .to_string();
    assert_eq!(
        codes(&no_version, PolicyKind::Resource),
        vec![(FindingType::Warning, "MISSING_VERSION")]
    );
    let managed =
        json!({"Statement": [{"Effect": "Deny", "Action": "host:Login", "Resource": HOST}]})
            .to_string();
    assert_eq!(
        codes(&managed, PolicyKind::Managed),
        vec![(FindingType::Error, "MISSING_VERSION")]
    );
    let all_values = doc(
        json!([{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:username": "bob"}}}]),
    );
    assert_eq!(
        codes(&all_values, PolicyKind::Managed),
        vec![(
            FindingType::SecurityWarning,
            "FORALLVALUES_WITH_SINGLE_VALUED_KEY"
        )]
    );
}

#[test]
fn refusals_are_errors_with_aws_issue_codes_and_locations() {
    let cases: Vec<(String, PolicyKind, &str)> = vec![
        (
            "{\"Version\": ".into(),
            PolicyKind::Managed,
            "JSON_SYNTAX_ERROR",
        ),
        (
            doc(json!([{"Action": "host:Login", "Resource": "*"}])),
            PolicyKind::Managed,
            "MISSING_EFFECT",
        ),
        (
            doc(json!([{"Effect": "allow", "Action": "host:Login", "Resource": "*"}])),
            PolicyKind::Managed,
            "INVALID_EFFECT",
        ),
        (
            doc(json!([{"Effect": "Allow", "Action": [], "Resource": "*"}])),
            PolicyKind::Managed,
            "EMPTY_ARRAY_ACTION",
        ),
        (
            doc(json!([{"Effect": "Allow", "Action": "Login", "Resource": "*"}])),
            PolicyKind::Managed,
            "INVALID_ACTION",
        ),
        (
            doc(json!([{"Effect": "Allow", "Action": "host:Login"}])),
            PolicyKind::Managed,
            "MISSING_RESOURCE",
        ),
        (
            doc(json!([{"Effect": "Allow", "Action": "host:Login", "Resource": "web-1"}])),
            PolicyKind::Managed,
            "INVALID_ARN_PREFIX",
        ),
        (
            doc(
                json!([{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam:us-east-1:123456789012:user/a"}]),
            ),
            PolicyKind::Managed,
            "ARN_REGION_NOT_ALLOWED",
        ),
        (
            doc(
                json!([{"Effect": "Allow", "Action": "host:Login", "Resource": "*", "Principal": "*"}]),
            ),
            PolicyKind::Managed,
            "UNSUPPORTED_PRINCIPAL",
        ),
        (
            doc(json!([{"Effect": "Allow", "Action": "sts:AssumeRole"}])),
            PolicyKind::Trust,
            "MISSING_PRINCIPAL",
        ),
        (
            doc(
                json!([{"Effect": "Allow", "Action": "host:Login", "NotAction": "x:y", "Resource": "*"}]),
            ),
            PolicyKind::Managed,
            "UNSUPPORTED_ELEMENT_COMBINATION",
        ),
        (
            doc(json!([{"Effect": "Allow", "Action": "host:Login", "Resource": "*", "Cond": {}}])),
            PolicyKind::Managed,
            "INVALID_POLICY_ELEMENT",
        ),
        (
            doc(
                json!([{"Effect": "Allow", "Action": "host:Login", "Resource": "*", "Condition": {"StringEqual": {"a:b": "c"}}}]),
            ),
            PolicyKind::Managed,
            "INVALID_OPERATOR",
        ),
        (
            doc(
                json!([{"Effect": "Allow", "Action": "host:Login", "Resource": "*", "Condition": {"NumericLessThan": {"a:b": "c"}}}]),
            ),
            PolicyKind::Managed,
            "TYPE_MISMATCH",
        ),
        (
            doc(
                json!([{"Sid": "a-b", "Effect": "Allow", "Action": "host:Login", "Resource": "*"}]),
            ),
            PolicyKind::Managed,
            "UNSUPPORTED_SID",
        ),
        (
            doc(json!([{"Effect": 1, "Action": "host:Login", "Resource": "*"}])),
            PolicyKind::Managed,
            "DATA_TYPE_MISMATCH",
        ),
        (
            json!({"Version": "2012-10-17"}).to_string(),
            PolicyKind::Managed,
            "MISSING_STATEMENT",
        ),
        (
            json!({"Version": "2012-10-18", "Statement": []}).to_string(),
            PolicyKind::Managed,
            "INVALID_VERSION",
        ),
    ];
    for (document, kind, code) in cases {
        let findings = validate_policy(&document, kind);
        assert_eq!(findings.len(), 1, "{document}: {findings:?}");
        let f = &findings[0];
        assert_eq!(
            (f.finding_type, f.issue_code),
            (FindingType::Error, code),
            "{document}"
        );
        assert!(
            f.learn_more_link
                .starts_with("https://docs.aws.amazon.com/")
        );
        let span = f.locations[0].span;
        assert!(
            span.start.line >= 1 && span.end.offset >= span.start.offset,
            "{document}: {f:?}"
        );
    }
    // The span of a refused element is that element.
    let d = doc(json!([{"Effect": "Allow", "Action": "host:Login", "Resource": "web-1"}]));
    let f = &validate_policy(&d, PolicyKind::Managed)[0];
    let s = f.locations[0].span;
    assert_eq!(&d[s.start.offset..s.end.offset], "\"web-1\"");
    assert_eq!(
        f.locations[0].path,
        vec![key("Statement"), PathStep::Index(0), key("Resource")]
    );
}

const KNOWN: &[&str] = &["iam:CreateUser", "iam:GetUser"];

#[test]
fn a_widening_change_fails_and_a_narrowing_one_passes() {
    let existing = parsed(&doc(json!([
        {"Sid": "Login", "Effect": "Allow", "Action": "host:Login",
         "Resource": "arn:aws:host::123456789012:host/web-*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Deny", "Action": "host:RunAs", "Resource": "*"}])));
    // Every host: new hosts, and host:RunAs's deny dropped.
    let wider = parsed(&doc(
        json!([{"Sid": "All", "Effect": "Allow", "Action": "host:*", "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]),
    ));
    let check = check_no_new_access(&wider, &existing, KNOWN);
    assert_eq!(check.result, CheckResult::Fail);
    assert_eq!(check.reasons[0].statement_index, Some(0));
    assert_eq!(check.reasons[0].statement_id.as_deref(), Some("All"));
    assert!(
        check
            .reasons
            .iter()
            .any(|r| r.description.contains("Deny of statement 1"))
    );
    // The MFA condition dropped: the same grant under fewer conditions.
    let no_mfa = parsed(&doc(json!([
        {"Effect": "Allow", "Action": "host:Login", "Resource": "arn:aws:host::123456789012:host/web-*"},
        {"Effect": "Deny", "Action": "host:RunAs", "Resource": "*"}])));
    assert_eq!(
        check_no_new_access(&no_mfa, &existing, KNOWN).result,
        CheckResult::Fail
    );
    // One host of the pattern, a condition more, the deny kept and widened.
    let narrower = parsed(&doc(json!([
        {"Effect": "Allow", "Action": "host:Login", "Resource": HOST,
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                       "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Deny", "Action": ["host:RunAs", "sts:AssumeRole"], "Resource": "*"}])));
    let check = check_no_new_access(&narrower, &existing, KNOWN);
    assert_eq!(check.result, CheckResult::Pass, "{check:?}");
    assert!(check.reasons.is_empty());
    // A wildcard service pattern reaches actions nobody listed.
    let other = parsed(&doc(
        json!([{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]),
    ));
    assert_eq!(
        check_no_new_access(&other, &narrower, KNOWN).result,
        CheckResult::Fail
    );
}

#[test]
fn access_not_granted_answers_for_the_listed_actions_and_resources() {
    let p = parsed(&doc(json!([
        {"Effect": "Allow", "Action": "host:*", "Resource": "arn:aws:host::123456789012:host/web-*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Deny", "Action": "host:RunAs", "Resource": "arn:aws:host::123456789012:host/web-9"}])));
    let check = |actions: &[&str], resources: &[&str]| {
        let a: Vec<String> = actions.iter().map(|s| (*s).to_owned()).collect();
        let r: Vec<String> = resources.iter().map(|s| (*s).to_owned()).collect();
        check_access_not_granted(&p, &a, &r)
    };
    let fail = check(&["host:RunAs"], &[]);
    assert_eq!(fail.result, CheckResult::Fail);
    assert_eq!(fail.reasons[0].statement_index, Some(0));
    assert_eq!(check(&["host:RunAs"], &[HOST]).result, CheckResult::Fail);
    assert_eq!(
        check(&["host:RunAs"], &["arn:aws:host::123456789012:host/web-9"]).result,
        CheckResult::Pass
    );
    assert_eq!(
        check(&["host:RunAs"], &["arn:aws:host::123456789012:host/db-1"]).result,
        CheckResult::Pass
    );
    assert_eq!(check(&["sts:AssumeRole"], &[]).result, CheckResult::Pass);
    assert_eq!(check(&["host:Run*"], &[]).result, CheckResult::Fail);
    assert_eq!(
        check(&[], &["arn:aws:host::123456789012:host/*"]).result,
        CheckResult::Fail
    );
}

// ---- properties ----------------------------------------------------------

/// Pieces of statements, valid and not, for every reason the parser has
/// to refuse one (with [`documents`], about a third of the documents
/// parse and two thirds are refused).
fn element() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        prop_oneof![
            Just(json!("Allow")),
            Just(json!("Deny")),
            Just(json!("allow")),
            Just(json!(1))
        ]
        .prop_map(|v| ("Effect", v)),
        prop_oneof![
            Just(json!("host:Login")),
            Just(json!(["host:RunAs", "host:*"])),
            Just(json!([])),
            Just(json!("Login")),
            Just(json!("*")),
            Just(json!([1])),
        ]
        .prop_map(|v| ("Action", v)),
        prop_oneof![Just(json!("iam:*")), Just(json!("host:Login"))].prop_map(|v| ("NotAction", v)),
        prop_oneof![
            Just(json!("*")),
            Just(json!([HOST, "arn:aws:host::123456789012:host/*"])),
            Just(json!("web-1")),
            Just(json!([])),
            Just(json!("arn:aws:iam:us-east-1:123456789012:user/a")),
            Just(json!("arn:aws:s3:::b/${aws:username}")),
        ]
        .prop_map(|v| ("Resource", v)),
        Just(("NotResource", json!(HOST))),
        prop_oneof![
            Just(json!("*")),
            Just(json!({"AWS": "123456789012"})),
            Just(json!({"AWS": "bob"})),
            Just(json!({})),
            Just(json!({"Weird": "x"})),
        ]
        .prop_map(|v| ("Principal", v)),
        Just((
            "NotPrincipal",
            json!({"AWS": "arn:aws:iam::123456789012:user/a"})
        )),
        prop_oneof![
            Just(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
            Just(json!({"NumericLessThan": {"aws:MultiFactorAuthAge": "x"}})),
            Just(json!({"StringEqual": {"a:b": "c"}})),
            Just(json!({"StringEquals": {"aws:username": []}})),
            Just(json!({"NullIfExists": {"a:b": "true"}})),
            Just(json!({"StringLike": {"a:b": "${oops"}})),
            Just(json!({})),
            Just(json!([])),
        ]
        .prop_map(|v| ("Condition", v)),
        prop_oneof![Just(json!("Ok1")), Just(json!("not ok")), Just(json!(7))]
            .prop_map(|v| ("Sid", v)),
        Just(("Extra", json!(1))),
    ]
}

/// A statement of the shape `kind` takes (Effect, Action, and Resource
/// and/or Principal as the kind asks), then up to three changes: an
/// element set to one of [`element`]'s values (valid or not) or removed.
fn statement_for(kind: PolicyKind) -> impl Strategy<Value = Value> {
    let mut base = json!({"Effect": "Allow", "Action": "host:Login"});
    if kind != PolicyKind::Trust {
        base["Resource"] = json!(HOST);
    }
    if kind.is_resource_based() {
        base["Principal"] = json!({"AWS": "123456789012"});
    }
    let change = prop_oneof![
        3 => element().prop_map(|(k, v)| (k, Some(v))),
        1 => proptest::sample::select(&["Effect", "Action", "Resource", "Principal"][..])
            .prop_map(|k| (k, None)),
    ];
    let changes = prop_oneof![
        1 => Just(Vec::new()),
        1 => proptest::collection::vec(change, 1..3),
    ];
    changes.prop_map(move |changes| {
        let mut st = base.clone();
        if let Value::Object(m) = &mut st {
            for (k, v) in changes {
                match v {
                    Some(v) => {
                        m.insert(k.to_owned(), v);
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
        }
        st
    })
}

/// A kind and a document to validate as that kind: mostly of the kind's
/// shape, now and then of another's, with no statement or a truncated
/// (not JSON) text, so that both answers of the parser come often.
fn documents() -> impl Strategy<Value = (PolicyKind, String)> {
    (
        proptest::sample::select(KINDS),
        proptest::sample::select(KINDS),
        0u8..8,
    )
        .prop_flat_map(|(kind, other, pick)| {
            let shape = if pick == 0 { other } else { kind };
            (
                Just(kind),
                prop_oneof![
                    1 => Just(Vec::new()),
                    12 => proptest::collection::vec(statement_for(shape), 1..3),
                ],
                prop_oneof![
                    12 => Just(Some("2012-10-17")),
                    2 => Just(Some("2008-10-17")),
                    2 => Just(None),
                    1 => Just(Some("1")),
                ],
                any::<bool>(),
                0usize..16,
            )
        })
        .prop_map(|(kind, statements, version, one, cut)| {
            let mut top = json!({});
            if let Some(v) = version {
                top["Version"] = json!(v);
            }
            if one && statements.len() == 1 {
                top["Statement"] = statements[0].clone();
            } else {
                top["Statement"] = json!(statements);
            }
            let text = serde_json::to_string_pretty(&top).unwrap_or_default();
            let text = if cut == 0 {
                text.chars().take(text.chars().count() / 2).collect()
            } else {
                text
            };
            (kind, text)
        })
}

const KINDS: &[PolicyKind] = &[
    PolicyKind::Managed,
    PolicyKind::UserInline,
    PolicyKind::GroupInline,
    PolicyKind::RoleInline,
    PolicyKind::Trust,
    PolicyKind::Resource,
];

const ACTIONS: &[&str] = &[
    "host:Login",
    "host:RunAs",
    "sts:AssumeRole",
    "iam:CreateUser",
    "ec2:RunInstances",
];
const RESOURCES: &[&str] = &[
    HOST,
    "arn:aws:host::123456789012:host/db-1",
    "arn:aws:iam::123456789012:role/r",
];

/// Identity policies built from parts the checks compare: actions with
/// wildcards, resources with wildcards, NotAction/NotResource, conditions.
fn identity_policy() -> impl Strategy<Value = Policy> {
    proptest::collection::vec(identity_statement(), 1..4).prop_map(|st| parsed(&doc(json!(st))))
}

/// An existing policy and an edit of it that a reviewer would call
/// narrowing (statements dropped, conditions added, a Deny added), with,
/// now and then, a statement of anything added: the edits that should
/// PASS, and some that should not.
fn edited_policies() -> impl Strategy<Value = (Policy, Policy)> {
    proptest::collection::vec(identity_statement(), 1..4)
        .prop_flat_map(|existing| {
            let n = existing.len();
            (
                Just(existing),
                proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 0..=n),
                proptest::option::of(identity_statement()),
                any::<bool>(),
            )
        })
        .prop_map(|(existing, keep, extra, condition)| {
            let mut new: Vec<Value> = keep.iter().map(|i| existing[*i].clone()).collect();
            if condition && let Some(Value::Object(st)) = new.first_mut() {
                let block = st.entry("Condition").or_insert_with(|| json!({}));
                block["NumericLessThan"] = json!({"aws:MultiFactorAuthAge": "600"});
            }
            if let Some(extra) = extra {
                new.push(extra);
            }
            if new.is_empty() {
                new.push(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
            }
            (parsed(&doc(json!(existing))), parsed(&doc(json!(new))))
        })
}

fn identity_statement() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("Allow"), Just("Allow"), Just("Deny")],
        proptest::sample::subsequence(
            &[
                "host:Login",
                "host:RunAs",
                "host:*",
                "sts:AssumeRole",
                "iam:Create*",
                "*",
                "ec2:*",
            ][..],
            1..3,
        ),
        any::<bool>(),
        proptest::sample::subsequence(
            &[
                "*",
                HOST,
                "arn:aws:host::123456789012:host/*",
                "arn:aws:host::123456789012:host/db-?",
                "arn:aws:iam::123456789012:role/*",
            ][..],
            1..3,
        ),
        0u8..6,
        proptest::sample::subsequence(
            vec![
                json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
                json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
                json!({"StringEquals": {"aws:PrincipalTag/team": "ops"}}),
            ],
            0..3,
        ),
    )
        .prop_map(
            |(effect, actions, not_action, resources, not_resource, conditions)| {
                let mut s = json!({"Effect": effect});
                s[if not_action && effect == "Deny" {
                    "NotAction"
                } else {
                    "Action"
                }] = json!(actions);
                s[if not_resource == 0 {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                let mut block = serde_json::Map::new();
                for c in conditions {
                    if let Value::Object(m) = c {
                        block.extend(m);
                    }
                }
                if !block.is_empty() {
                    s["Condition"] = Value::Object(block);
                }
                s
            },
        )
}

fn contexts() -> Vec<Context> {
    let mut out = Vec::new();
    for mfa in [None, Some("true"), Some("false")] {
        for ip in [None, Some("10.1.1.1"), Some("8.8.8.8")] {
            for team in [None, Some("ops"), Some("dev")] {
                let mut c = Context::new();
                if let Some(m) = mfa {
                    c.set("aws:MultiFactorAuthPresent", m);
                }
                if let Some(i) = ip {
                    c.set("aws:SourceIp", i);
                }
                if let Some(t) = team {
                    c.set("aws:PrincipalTag/team", t);
                }
                out.push(c);
            }
        }
    }
    out
}

fn allowed(p: &Policy, action: &str, resource: &str, context: &Context) -> bool {
    let set = PolicySet {
        identity: vec![p.clone()],
        boundary: None,
        resource: Vec::new(),
    };
    let request = Request {
        principal: "arn:aws:iam::123456789012:user/alice",
        action,
        resource,
        context,
    };
    authorize(&request, &set).decision == Decision::Allowed
}

/// When CheckNoNewAccess says PASS, no request of the scenario that `new`
/// allows is refused by `existing`.
fn pass_means_no_new_access(new: &Policy, existing: &Policy) -> Result<(), TestCaseError> {
    if check_no_new_access(new, existing, KNOWN).result == CheckResult::Pass {
        for ctx in contexts() {
            for a in ACTIONS {
                for r in RESOURCES {
                    prop_assert!(
                        !allowed(new, a, r, &ctx) || allowed(existing, a, r, &ctx),
                        "PASS, yet {} on {} is new: {}\nvs\n{}",
                        a,
                        r,
                        new.document(),
                        existing.document()
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// validate-policy never errors on a document create-policy (or
    /// put-*-policy, or a trust policy's write) accepts, and errors on
    /// every document it refuses.
    #[test]
    fn an_error_exactly_when_the_store_refuses((kind, document) in documents()) {
        let refused = Policy::parse("p", &document, kind).is_err();
        let findings = validate_policy(&document, kind);
        let errors = findings.iter().filter(|f| f.finding_type == FindingType::Error).count();
        prop_assert_eq!(errors > 0, refused, "{:?}", findings);
        for f in &findings {
            prop_assert!(!f.locations.is_empty());
            prop_assert!(f.locations[0].span.start.offset <= f.locations[0].span.end.offset);
            prop_assert!(f.locations[0].span.end.offset <= document.chars().count());
        }
    }

    /// PASS of CheckNoNewAccess: no request the new policy allows is
    /// refused by the existing one.
    #[test]
    fn no_new_access_pass_is_never_contradicted(new in identity_policy(), existing in identity_policy()) {
        pass_means_no_new_access(&new, &existing)?;
    }

    /// The same for edits of one policy, where PASS is common.
    #[test]
    fn no_new_access_pass_is_never_contradicted_for_edits((existing, new) in edited_policies()) {
        pass_means_no_new_access(&new, &existing)?;
    }

    /// PASS of CheckAccessNotGranted: no listed action is allowed on a
    /// listed resource.
    #[test]
    fn access_not_granted_pass_is_never_contradicted(
        p in identity_policy(),
        action in proptest::sample::select(ACTIONS),
        resource in proptest::sample::select(RESOURCES),
        any_resource in any::<bool>(),
    ) {
        let resources = if any_resource { vec![] } else { vec![resource.to_owned()] };
        if check_access_not_granted(&p, &[action.to_owned()], &resources).result == CheckResult::Pass {
            for ctx in contexts() {
                for r in RESOURCES.iter().filter(|r| any_resource || **r == resource) {
                    prop_assert!(!allowed(&p, action, r, &ctx), "PASS, yet {} on {} is allowed: {}", action, r, p.document());
                }
            }
        }
    }
}

/// The same check answers the same for the identical policy: no change,
/// no new access.
#[test]
fn an_unchanged_policy_passes() {
    let p = parsed(&doc(json!([
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "host:Log?n", "NotResource": HOST,
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Deny", "Action": "host:RunAs", "NotResource": HOST}])));
    assert_eq!(check_no_new_access(&p, &p, KNOWN).result, CheckResult::Pass);
}
