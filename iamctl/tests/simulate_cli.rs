//! `iamctl simulate-custom-policy` as an AWS CLI user drives it: file://
//! documents, several actions and resources, context entries in JSON and
//! shorthand, AWS-shaped output, and one-line AWS errors.

// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::process::{Command, Output};

fn iamctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iamctl"))
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "iamctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const LOGIN_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "LoginFromLan", "Effect": "Allow", "Action": "host:Login",
     "Resource": "arn:aws:host::123456789012:host/*",
     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
    {"Sid": "NoRunAs", "Effect": "Deny", "Action": "host:RunAs", "Resource": "*"}
  ]
}"#;

#[test]
fn file_documents_several_actions_and_resources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(&path, LOGIN_POLICY).unwrap();
    let file_arg = format!("file://{}", path.display());
    let out = json(&iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        &file_arg,
        "--action-names",
        "host:Login",
        "host:RunAs",
        "--resource-arns",
        "arn:aws:host::123456789012:host/web-1",
        "arn:aws:s3:::bucket",
        "--context-entries",
        "ContextKeyName=aws:SourceIp,ContextKeyValues=10.9.8.7,ContextKeyType=ip",
    ]));
    let results = out["EvaluationResults"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["EvalActionName"].as_str().unwrap(),
                r["EvalResourceName"].as_str().unwrap(),
                r["EvalDecision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "host:Login",
                "arn:aws:host::123456789012:host/web-1",
                "allowed"
            ),
            ("host:Login", "arn:aws:s3:::bucket", "implicitDeny"),
            (
                "host:RunAs",
                "arn:aws:host::123456789012:host/web-1",
                "explicitDeny"
            ),
            ("host:RunAs", "arn:aws:s3:::bucket", "explicitDeny"),
        ]
    );
    let matched = &results[0]["MatchedStatements"][0];
    assert_eq!(matched["SourcePolicyId"], "PolicyInputList.1");
    assert_eq!(matched["SourcePolicyType"], "IAM Policy");
    // The statement starts on line 4 of the file, at its opening brace.
    assert_eq!(matched["StartPosition"]["Line"], 4);
    assert_eq!(matched["StartPosition"]["Column"], 5);
    assert_eq!(results[1]["MatchedStatements"], serde_json::json!([]));
}

#[test]
fn default_resource_is_star_and_missing_context_is_listed() {
    let out = json(&iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        LOGIN_POLICY,
        "--action-names",
        "host:Login",
    ]));
    let r = &out["EvaluationResults"][0];
    assert_eq!(r["EvalResourceName"], "*");
    assert_eq!(r["EvalDecision"], "implicitDeny");
    assert_eq!(
        r["MissingContextValues"],
        serde_json::json!(["aws:SourceIp"])
    );
}

#[test]
fn json_context_entries_without_type_and_boundary_detail() {
    let out = json(&iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:TagUser","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}]}"#,
        "--permissions-boundary-policy-input-list",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
        "--action-names",
        "iam:TagUser",
        "--context-entries",
        r#"[{"ContextKeyName":"aws:TagKeys","ContextKeyValues":["a","c"]}]"#,
    ]));
    let r = &out["EvaluationResults"][0];
    assert_eq!(r["EvalDecision"], "implicitDeny");
    assert_eq!(
        r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"],
        true
    );
}

#[test]
fn resource_policy_needs_caller_and_names_its_type() {
    let rp = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Bob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let empty = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}"#;
    let out = iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        empty,
        "--resource-policy",
        rp,
        "--action-names",
        "s3:GetObject",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("InvalidInput: "));
    let out = json(&iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        empty,
        "--resource-policy",
        rp,
        "--caller-arn",
        "arn:aws:iam::123456789012:user/bob",
        "--resource-owner",
        "arn:aws:iam::123456789012:root",
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        "arn:aws:s3:::b/k",
    ]));
    let r = &out["EvaluationResults"][0];
    assert_eq!(r["EvalDecision"], "allowed");
    assert_eq!(
        r["MatchedStatements"][0]["SourcePolicyId"],
        "ResourcePolicy"
    );
    assert_eq!(
        r["MatchedStatements"][0]["SourcePolicyType"],
        "Resource Policy"
    );
}

#[test]
fn malformed_policy_is_one_aws_error_line() {
    let out = iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"X","Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}]}"#,
        "--action-names",
        "s3:GetObject",
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "MalformedPolicyDocument: PolicyInputList.2: Statement[0] (Sid \"X\"), Action:"
        ),
        "{err}"
    );
}

#[test]
fn bad_context_entries_are_invalid_input() {
    for entry in [
        r#"[{"ContextKeyName":"aws:SourceIp","ContextKeyValues":["nope"],"ContextKeyType":"ip"}]"#,
        r#"[{"ContextKeyName":"k","ContextKeyValues":["1"],"ContextKeyType":"integer"}]"#,
        "ContextKeyValues=1",
        "[not json",
    ] {
        let out = iamctl(&[
            "simulate-custom-policy",
            "--policy-input-list",
            LOGIN_POLICY,
            "--action-names",
            "host:Login",
            "--context-entries",
            entry,
        ]);
        assert!(!out.status.success(), "{entry} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("InvalidInput: "), "{entry}: {err}");
    }
}

/// The first EvalDecision of a simulation with caller carol of account
/// 111122223333 and `args`.
fn carol_decides(args: &[&str]) -> String {
    let mut all = vec![
        "simulate-custom-policy",
        "--caller-arn",
        "arn:aws:iam::111122223333:user/carol",
    ];
    all.extend_from_slice(args);
    json(&iamctl(&all))["EvaluationResults"][0]["EvalDecision"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn another_account_owning_the_resource_needs_both_sides() {
    let identity = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Id","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let nothing = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}"#;
    let to_account = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ToAccount","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}]}"#;
    let run = |policy: &str, owner: &str| {
        carol_decides(&[
            "--policy-input-list",
            policy,
            "--resource-policy",
            to_account,
            "--resource-owner",
            owner,
            "--action-names",
            "s3:GetObject",
            "--resource-arns",
            "arn:aws:s3:::shared/k",
        ])
    };
    // Cross-account: the resource policy names the caller's account and the
    // caller's identity policy allows.
    assert_eq!(run(identity, "arn:aws:iam::444455556666:root"), "allowed");
    // Cross-account without an identity allow: denied.
    assert_eq!(run(nothing, "444455556666"), "implicitDeny");
    // Same account: naming the account still needs the identity allow.
    assert_eq!(run(nothing, "111122223333"), "implicitDeny");
    assert_eq!(run(identity, "111122223333"), "allowed");
}

#[test]
fn list_parameters_also_take_a_json_array() {
    let docs = serde_json::to_string(&[LOGIN_POLICY]).unwrap();
    let out = json(&iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        &docs,
        "--action-names",
        r#"["host:Login","host:RunAs"]"#,
        "--resource-arns",
        r#"["arn:aws:host::123456789012:host/a"]"#,
    ]));
    let results = out["EvaluationResults"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["EvalDecision"], "explicitDeny");
}

/// AWS's simulator: `--resource-arns` defaults to `*`, which stands for any
/// resource, so an Allow naming specific ARNs answers it.
#[test]
fn a_specific_arn_allow_answers_the_default_star_request() {
    let out = json(&iamctl(&[
        "simulate-custom-policy",
        "--policy-input-list",
        LOGIN_POLICY,
        "--action-names",
        "host:Login",
        "--context-entries",
        "ContextKeyName=aws:SourceIp,ContextKeyValues=10.1.1.1,ContextKeyType=ip",
    ]));
    let r = &out["EvaluationResults"][0];
    assert_eq!(r["EvalResourceName"], "*");
    assert_eq!(r["EvalDecision"], "allowed");
    assert_eq!(r["MatchedStatements"].as_array().unwrap().len(), 1);
}

/// AWS's simulator takes the resource's owner from its ARN when the ARN
/// names an account; `--resource-owner` counts only for an ARN without one.
#[test]
fn the_resource_arns_own_account_is_its_owner() {
    let identity = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Id","Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#;
    let run = |resource: &str, owner: &str| {
        carol_decides(&[
            "--policy-input-list",
            identity,
            "--resource-owner",
            owner,
            "--action-names",
            "sqs:SendMessage",
            "--resource-arns",
            resource,
        ])
    };
    // Another account's queue, whatever --resource-owner says: without a
    // queue policy, cross-account access is denied.
    assert_eq!(
        run("arn:aws:sqs:us-east-1:444455556666:q", "111122223333"),
        "implicitDeny"
    );
    // The caller's own queue, whatever --resource-owner says.
    assert_eq!(
        run("arn:aws:sqs:us-east-1:111122223333:q", "444455556666"),
        "allowed"
    );
    // An ARN without an account: --resource-owner decides.
    assert_eq!(run("arn:aws:sqs:::q", "444455556666"), "implicitDeny");
    assert_eq!(run("arn:aws:sqs:::q", "111122223333"), "allowed");
}
