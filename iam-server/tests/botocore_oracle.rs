//! botocore's own parser and serializer as an independent check of the
//! Query codec (tests/botocore_oracle.py). Needs a Python with botocore:
//! $IAM_VENV or /opt/iam-venv; skipped with a notice without one, except
//! under CI=true where a missing venv is a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use iam_server::query::{self, Model};
use serde_json::{Value, json};

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
    eprintln!(
        "skipping the botocore oracle: no {} (set IAM_VENV)",
        python.display()
    );
    None
}

fn oracle(python: &PathBuf, request: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/botocore_oracle.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn model(service: &str) -> &'static Model {
    match service {
        "iam" => query::iam().unwrap(),
        _ => query::sts().unwrap(),
    }
}

const DATE: &str = "2024-05-06T07:08:09+00:00";

/// Outputs as the verbs produce them: policy documents decoded, dates with
/// an offset, members the model lacks.
fn outputs() -> Vec<(&'static str, &'static str, Value)> {
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]});
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]});
    let user = |name: &str| {
        json!({"Path": "/", "UserName": name, "UserId": format!("AIDA{}", name.to_uppercase()),
            "Arn": format!("arn:aws:iam::123456789012:user/{name}"), "CreateDate": DATE,
            "Tags": [{"Key": "team", "Value": "a&b <c>"}], "LocalOnly": "dropped"})
    };
    let mut alice = user("alice");
    alice["PasswordLastUsed"] = json!(DATE);
    alice["PermissionsBoundary"] = json!({"PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/b"});
    vec![
        ("iam", "GetUser", json!({"User": alice})),
        (
            "iam",
            "ListUsers",
            json!({"Users": [user("alice"), user("bob")], "IsTruncated": true, "Marker": "MTA6YWJj"}),
        ),
        (
            "iam",
            "GetUserPolicy",
            json!({"UserName": "alice", "PolicyName": "p", "PolicyDocument": doc.to_string()}),
        ),
        (
            "iam",
            "GetAccountAuthorizationDetails",
            json!({
                "UserDetailList": [{"Path": "/", "UserName": "alice", "UserId": "AIDAALICE",
                    "Arn": "arn:aws:iam::123456789012:user/alice", "CreateDate": DATE,
                    "UserPolicyList": [{"PolicyName": "inline", "PolicyDocument": doc}],
                    "GroupList": ["admins", "ops"],
                    "AttachedManagedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::123456789012:policy/p"}],
                    "Tags": []}],
                "GroupDetailList": [{"Path": "/", "GroupName": "admins", "GroupId": "AGPA1",
                    "Arn": "arn:aws:iam::123456789012:group/admins", "CreateDate": DATE,
                    "GroupPolicyList": [], "AttachedManagedPolicies": []}],
                "RoleDetailList": [{"Path": "/", "RoleName": "r", "RoleId": "AROA1",
                    "Arn": "arn:aws:iam::123456789012:role/r", "CreateDate": DATE,
                    "AssumeRolePolicyDocument": trust, "InstanceProfileList": [],
                    "RolePolicyList": [], "AttachedManagedPolicies": [],
                    "RoleLastUsed": {"LastUsedDate": DATE, "Region": "local"}}],
                "Policies": [{"PolicyName": "p", "PolicyId": "ANPA1", "Arn": "arn:aws:iam::123456789012:policy/p",
                    "Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": true,
                    "CreateDate": DATE, "UpdateDate": DATE,
                    "PolicyVersionList": [{"Document": doc, "VersionId": "v1", "IsDefaultVersion": true,
                        "CreateDate": DATE}]}],
                "IsTruncated": false
            }),
        ),
        (
            "iam",
            "ListEntitiesForPolicy",
            json!({"PolicyGroups": [{"GroupName": "admins", "GroupId": "AGPA1"}],
                "PolicyUsers": [{"UserName": "alice", "UserId": "AIDAALICE"}],
                "PolicyRoles": [], "IsTruncated": false}),
        ),
        (
            "iam",
            "SimulatePrincipalPolicy",
            json!({"EvaluationResults": [{"EvalActionName": "iam:GetUser", "EvalResourceName": "*",
                "EvalDecision": "allowed",
                "MatchedStatements": [{"SourcePolicyId": "inline", "SourcePolicyType": "user",
                    "StartPosition": {"Line": 1, "Column": 2}, "EndPosition": {"Line": 3, "Column": 4}}],
                "MissingContextValues": [], "EvalDecisionDetails": {"inline": "allowed"}}],
                "IsTruncated": false}),
        ),
        (
            "iam",
            "CreateVirtualMFADevice",
            json!({"VirtualMFADevice": {"SerialNumber": "arn:aws:iam::123456789012:mfa/d",
                "Base32StringSeed": "SkJTV0U0M0JNSEdaRk9VTA==", "EnableDate": DATE}}),
        ),
        (
            "iam",
            "GetCredentialReport",
            json!({"Content": "dXNlcixhcm4K", "ReportFormat": "text/csv", "GeneratedTime": DATE}),
        ),
        (
            "iam",
            "CreateAccessKey",
            json!({"AccessKey": {"UserName": "alice", "AccessKeyId": "AKIAEXAMPLE", "Status": "Active",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "CreateDate": DATE}}),
        ),
        (
            "iam",
            "GetAccountPasswordPolicy",
            json!({"PasswordPolicy": {"MinimumPasswordLength": 14, "RequireSymbols": true,
                "ExpirePasswords": false, "MaxPasswordAge": 90}}),
        ),
        (
            "sts",
            "AssumeRole",
            json!({"Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret/+=",
                "SessionToken": "token", "Expiration": "2024-05-06T08:08:09Z"},
                "AssumedRoleUser": {"AssumedRoleId": "AROA1:s", "Arn": "arn:aws:sts::123456789012:assumed-role/r/s"},
                "PackedPolicySize": 6, "SourceIdentity": "alice"}),
        ),
        (
            "sts",
            "GetCallerIdentity",
            json!({"UserId": "AIDAALICE", "Account": "123456789012",
            "Arn": "arn:aws:iam::123456789012:user/alice"}),
        ),
    ]
}

#[test]
fn botocore_parses_what_we_encode() {
    let Some(python) = python() else { return };
    let mut cases: Vec<Value> = outputs()
        .into_iter()
        .map(|(service, action, output)| {
            let xml = query::encode_result(model(service), action, &output, "rid-1").unwrap();
            json!({"service": service, "action": action, "xml": xml, "status": 200,
                "request_id": "rid-1", "expected": output})
        })
        .collect();
    for (service, action, code, sender) in [
        ("iam", "GetUser", "NoSuchEntity", true),
        ("sts", "AssumeRole", "InternalFailure", false),
    ] {
        let message = "The user with name <bob> & co cannot be found.";
        let xml = query::encode_error(model(service), code, message, sender, "rid-2");
        let kind = if sender { "Sender" } else { "Receiver" };
        cases.push(json!({"service": service, "action": action, "xml": xml,
            "status": if sender { 400 } else { 500 }, "request_id": "rid-2",
            "expected": {"Error": {"Type": kind, "Code": code, "Message": message}}}));
    }
    let answer = oracle(&python, &json!({"mode": "parse", "cases": cases}));
    assert_eq!(answer["failures"], json!([]), "{:#}", answer["failures"]);
}

#[test]
fn we_decode_what_botocore_serializes() {
    let Some(python) = python() else { return };
    let cases = [
        (
            "iam",
            "CreateUser",
            json!({"UserName": "alice+x@example.com", "Path": "/a+b&c/",
            "PermissionsBoundary": "arn:aws:iam::123456789012:policy/b",
            "Tags": [{"Key": "k=1+2:@", "Value": "ü é"}, {"Key": "empty", "Value": ""}]}),
        ),
        (
            "iam",
            "ListUsers",
            json!({"PathPrefix": "/", "MaxItems": 1000, "Marker": "MTA6YWJj"}),
        ),
        ("iam", "UntagRole", json!({"RoleName": "r", "TagKeys": []})),
        (
            "iam",
            "UntagUser",
            json!({"UserName": "u", "TagKeys": ["a", "b", "c"]}),
        ),
        (
            "iam",
            "PutUserPolicy",
            json!({"UserName": "u", "PolicyName": "p",
            "PolicyDocument": "{\"Version\": \"2012-10-17\",\n \"Statement\": []}"}),
        ),
        (
            "iam",
            "UpdateAccountPasswordPolicy",
            json!({"MinimumPasswordLength": 12, "RequireNumbers": true,
            "AllowUsersToChangePassword": false, "MaxPasswordAge": 90}),
        ),
        (
            "iam",
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": "arn:aws:iam::123456789012:user/u",
            "ActionNames": ["iam:GetUser", "iam:ListUsers"], "ResourceArns": ["*"],
            "ContextEntries": [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"],
                "ContextKeyType": "ip"}], "MaxItems": 5}),
        ),
        (
            "iam",
            "GetAccountAuthorizationDetails",
            json!({"Filter": ["User", "Role"], "MaxItems": 10}),
        ),
        (
            "iam",
            "EnableMFADevice",
            json!({"UserName": "u", "SerialNumber": "arn:aws:iam::123456789012:mfa/d",
            "AuthenticationCode1": "123456", "AuthenticationCode2": "654321"}),
        ),
        (
            "sts",
            "AssumeRole",
            json!({"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "ops-session",
            "DurationSeconds": 900, "SerialNumber": "arn:aws:iam::123456789012:mfa/d", "TokenCode": "123456",
            "Tags": [{"Key": "k", "Value": "v"}], "TransitiveTagKeys": ["k"]}),
        ),
        ("sts", "GetCallerIdentity", json!({})),
    ];
    let request: Vec<Value> = cases
        .iter()
        .map(|(s, a, p)| json!({"service": s, "action": a, "params": p}))
        .collect();
    let answer = oracle(&python, &json!({"mode": "serialize", "cases": request}));
    let bodies = answer["bodies"].as_array().unwrap();
    assert_eq!(bodies.len(), cases.len());
    for ((service, action, params), body) in cases.iter().zip(bodies) {
        let form = query::parse_form(body.as_str().unwrap().as_bytes()).unwrap();
        let call = query::decode(model(service), &form).unwrap_or_else(|e| panic!("{action}: {e}"));
        assert_eq!(call.action, *action);
        assert_eq!(&call.input, params, "{action}: {body}");
    }
}
