//! Access Analyzer's verbs through the built iamctl, on a scenario whose
//! answers are known by construction: a `host:RunAs` grant without MFA is
//! a SECURITY_WARNING (and fails a CI gate), a change that widens access
//! FAILs `check-no-new-access` and one that narrows it PASSes, and
//! `check-access-not-granted` answers for the listed actions. Every answer
//! is checked against botocore's model of the service (member names,
//! types, enums, required members) and every flag against the AWS CLI's
//! name for its member. A policy write prints its findings on stderr.

// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

struct Answer {
    code: i32,
    json: Value,
    stderr: String,
}

fn iamctl(args: &[&str]) -> Answer {
    let out = Command::new(common::bin()).args(args).output().unwrap();
    Answer {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn file(dir: &tempfile::TempDir, name: &str, body: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_string_pretty(body).unwrap()).unwrap();
    format!("file://{}", path.display())
}

const HOSTS: &str = "arn:aws:host::123456789012:host/*";

fn policy(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A Python with botocore ($IAM_VENV or /opt/iam-venv); without one the
/// shape checks are skipped with a notice, except under CI=true.
fn python() -> Option<PathBuf> {
    let venv =
        std::env::var_os("IAM_VENV").map_or_else(|| PathBuf::from("/opt/iam-venv"), PathBuf::from);
    let python = venv.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but no Python venv with botocore at {}",
        venv.display()
    );
    eprintln!("skipping botocore shape checks: no {}", python.display());
    None
}

/// Checks `output` against botocore's model of `operation`; returns what
/// the model says of the operation's input (flags, required members).
fn botocore_check(operation: &str, output: &Value) -> Option<Value> {
    let python = python()?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/accessanalyzer_shapes.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let request = json!({"operation": operation, "output": output});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let model: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        model["errors"],
        json!([]),
        "{operation} answer is not botocore's shape: {output}"
    );
    Some(model)
}

/// Every input member iamctl takes has the AWS CLI's flag name, and every
/// required one is taken; `skipped` are members iamctl leaves out.
fn flags_are_aws(verb: &str, model: &Value, skipped: &[&str]) {
    let help = Command::new(common::bin())
        .args([verb, "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for (member, flag) in model["flags"].as_object().unwrap() {
        if skipped.contains(&member.as_str()) {
            assert!(
                !model["required"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(member))
            );
            continue;
        }
        assert!(
            help.contains(flag.as_str().unwrap()),
            "{verb} lacks {flag} ({member})"
        );
    }
    for (member, values) in model["enums"].as_object().unwrap() {
        if member == "policyType" {
            for ours in ["IDENTITY_POLICY", "RESOURCE_POLICY"] {
                assert!(values.as_array().unwrap().contains(&json!(ours)));
                assert!(help.contains(ours));
            }
        }
    }
}

#[test]
fn validate_policy_finds_run_as_without_mfa_and_gates_ci() {
    let dir = tempfile::tempdir().unwrap();
    let run_as = file(
        &dir,
        "runas.json",
        &policy(
            json!([{"Sid": "Elevate", "Effect": "Allow", "Action": "host:RunAs", "Resource": HOSTS}]),
        ),
    );
    let a = iamctl(&[
        "validate-policy",
        "--policy-document",
        &run_as,
        "--policy-type",
        "IDENTITY_POLICY",
    ]);
    assert_eq!(a.code, 1, "a SECURITY_WARNING fails the default gate");
    let findings = a.json["findings"].as_array().unwrap();
    let mfa = findings
        .iter()
        .find(|f| f["issueCode"] == "ALLOW_WITHOUT_MFA_CONDITION")
        .unwrap();
    assert_eq!(mfa["findingType"], "SECURITY_WARNING");
    assert_eq!(
        mfa["locations"][0]["path"],
        json!([{"key": "Statement"}, {"index": 0}, {"key": "Action"}])
    );
    let start = &mfa["locations"][0]["span"]["start"];
    assert_eq!(
        (start["line"].as_u64(), start["column"].as_u64()),
        (Some(4), Some(16)),
        "{mfa}"
    );
    if let Some(model) = botocore_check("ValidatePolicy", &a.json) {
        flags_are_aws("validate-policy", &model, &["maxResults", "nextToken"]);
    }
    // The gate's threshold is the caller's.
    for (fail_on, code) in [("ERROR", 0), ("SECURITY_WARNING", 1), ("NONE", 0)] {
        let a = iamctl(&[
            "validate-policy",
            "--policy-document",
            &run_as,
            "--policy-type",
            "IDENTITY_POLICY",
            "--fail-on",
            fail_on,
        ]);
        assert_eq!(a.code, code, "--fail-on {fail_on}");
    }
    // With MFA and a bounded session: nothing to say, exit 0.
    let safe = file(
        &dir,
        "safe.json",
        &policy(
            json!([{"Effect": "Allow", "Action": "host:RunAs", "Resource": HOSTS,
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                          "NumericLessThanEquals": {"sts:DurationSeconds": "3600"}}}]),
        ),
    );
    let a = iamctl(&[
        "validate-policy",
        "--policy-document",
        &safe,
        "--policy-type",
        "IDENTITY_POLICY",
    ]);
    assert_eq!((a.code, a.json.clone()), (0, json!({"findings": []})));
    // A document the store refuses is an ERROR, whatever the threshold.
    let a = iamctl(&[
        "validate-policy",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login"}]}"#,
        "--policy-type",
        "IDENTITY_POLICY",
        "--fail-on",
        "ERROR",
    ]);
    assert_eq!(a.code, 1);
    assert_eq!(a.json["findings"][0]["issueCode"], "MISSING_RESOURCE");
    botocore_check("ValidatePolicy", &a.json);
}

#[test]
fn a_trust_policy_open_to_everyone_is_validated_as_a_role_trust_policy() {
    let open = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]})
    .to_string();
    let a = iamctl(&[
        "validate-policy",
        "--policy-document",
        &open,
        "--policy-type",
        "RESOURCE_POLICY",
        "--validate-policy-resource-type",
        "AWS::IAM::AssumeRolePolicyDocument",
    ]);
    let codes: Vec<&str> = a.json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["issueCode"].as_str())
        .collect();
    assert!(
        codes.contains(&"TRUST_POLICY_OPEN_TO_ALL_PRINCIPALS"),
        "{codes:?}"
    );
    assert_eq!(a.code, 1);
    botocore_check("ValidatePolicy", &a.json);
    let bad = iamctl(&[
        "validate-policy",
        "--policy-document",
        &open,
        "--policy-type",
        "RESOURCE_POLICY",
        "--validate-policy-resource-type",
        "AWS::Nope",
    ]);
    assert_eq!(bad.code, 254);
    assert!(
        bad.stderr.starts_with("ValidationException: "),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_widening_change_fails_and_a_narrowing_one_passes() {
    let dir = tempfile::tempdir().unwrap();
    let existing = file(
        &dir,
        "existing.json",
        &policy(
            json!([{"Effect": "Allow", "Action": "host:Login", "Resource": HOSTS,
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]),
        ),
    );
    let wider = file(
        &dir,
        "wider.json",
        &policy(
            json!([{"Sid": "AnyHostAction", "Effect": "Allow", "Action": "host:*", "Resource": HOSTS,
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]),
        ),
    );
    let narrower = file(
        &dir,
        "narrower.json",
        &policy(json!([{"Effect": "Allow", "Action": "host:Login",
            "Resource": "arn:aws:host::123456789012:host/web-*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}])),
    );
    let check = |new: &str| {
        iamctl(&[
            "check-no-new-access",
            "--new-policy-document",
            new,
            "--existing-policy-document",
            &existing,
            "--policy-type",
            "IDENTITY_POLICY",
        ])
    };
    let fail = check(&wider);
    assert_eq!(fail.code, 1);
    assert_eq!(fail.json["result"], "FAIL");
    assert_eq!(fail.json["reasons"][0]["statementIndex"], 0);
    assert_eq!(fail.json["reasons"][0]["statementId"], "AnyHostAction");
    assert!(
        fail.json["reasons"][0]["description"]
            .as_str()
            .unwrap()
            .contains("host:RunAs")
    );
    let pass = check(&narrower);
    assert_eq!(pass.code, 0);
    assert_eq!(pass.json["result"], "PASS");
    if let Some(model) = botocore_check("CheckNoNewAccess", &fail.json) {
        botocore_check("CheckNoNewAccess", &pass.json);
        flags_are_aws("check-no-new-access", &model, &[]);
    }
}

#[test]
fn access_not_granted_for_run_as() {
    let grants = policy(
        json!([{"Sid": "Elevate", "Effect": "Allow", "Action": "host:RunAs", "Resource": HOSTS,
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]),
    )
    .to_string();
    let login_only =
        policy(json!([{"Effect": "Allow", "Action": "host:Login", "Resource": HOSTS}])).to_string();
    let check = |doc: &str, access: &str| {
        iamctl(&[
            "check-access-not-granted",
            "--policy-document",
            doc,
            "--access",
            access,
            "--policy-type",
            "IDENTITY_POLICY",
        ])
    };
    let fail = check(&grants, "actions=host:RunAs");
    assert_eq!((fail.code, fail.json["result"].as_str()), (1, Some("FAIL")));
    assert_eq!(fail.json["reasons"][0]["statementId"], "Elevate");
    let pass = check(&login_only, "actions=host:RunAs,sts:AssumeRole");
    assert_eq!((pass.code, pass.json["result"].as_str()), (0, Some("PASS")));
    let json_form = check(
        &grants,
        r#"[{"actions":["host:RunAs"],"resources":["arn:aws:host::123456789012:host/web-1"]}]"#,
    );
    assert_eq!(json_form.json["result"], "FAIL");
    if let Some(model) = botocore_check("CheckAccessNotGranted", &fail.json) {
        botocore_check("CheckAccessNotGranted", &pass.json);
        flags_are_aws("check-access-not-granted", &model, &[]);
    }
    let none = check(&grants, "actions=");
    assert_eq!(none.code, 254);
    assert!(none.stderr.starts_with("ValidationException: "));
}

/// create-policy, create-policy-version, put-user-policy and
/// update-assume-role-policy take what AWS takes and print the findings on
/// stderr; a clean policy prints nothing.
#[test]
fn policy_writes_print_their_findings() {
    if !common::require_root("policy_writes_print_their_findings") {
        return;
    }
    let env = common::Env::new();
    let run_as =
        policy(json!([{"Effect": "Allow", "Action": "host:RunAs", "Resource": HOSTS}])).to_string();
    let r = env.run(&[
        "create-policy",
        "--policy-name",
        "elevate",
        "--policy-document",
        &run_as,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "SECURITY_WARNING ALLOW_WITHOUT_MFA_CONDITION at Statement[0].Action, line 1"
        ),
        "{}",
        r.stderr
    );
    let created: Value = serde_json::from_str(&r.stdout).unwrap();
    let arn = created["Policy"]["Arn"].as_str().unwrap().to_owned();
    let safe = policy(
        json!([{"Effect": "Allow", "Action": "host:Login", "Resource": HOSTS,
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]),
    )
    .to_string();
    let r = env.run(&[
        "create-policy-version",
        "--policy-arn",
        &arn,
        "--policy-document",
        &safe,
    ]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    env.ok(&["create-user", "--user-name", "alice"]);
    let r = env.run(&[
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "wide",
        "--policy-document",
        &policy(json!([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}])).to_string(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("SECURITY_WARNING ALLOW_WITH_NOT_ACTION"),
        "{}",
        r.stderr
    );
    let r = env.run(&[
        "create-role",
        "--role-name",
        "ops",
        "--assume-role-policy-document",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
        .to_string(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("TRUST_POLICY_OPEN_TO_ACCOUNT"),
        "{}",
        r.stderr
    );
}
