//! The evaluation corpus (iam-policy/tests/policy_cases) run through the built
//! `iamctl simulate-custom-policy`, as an outside checker would.
// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../iam-policy/tests/common/corpus.rs"]
mod corpus;

use serde_json::{Value, json};
use std::process::Command;

fn simulate(case: &corpus::Case) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamctl"));
    cmd.arg("simulate-custom-policy").arg("--policy-input-list");
    if case.policies.is_empty() {
        // AWS requires at least one identity policy; an empty one grants nothing.
        cmd.arg(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}"#);
    }
    cmd.args(&case.policies);
    if let Some(boundary) = &case.boundary {
        cmd.arg("--permissions-boundary-policy-input-list")
            .args(boundary);
    }
    if let Some(doc) = &case.resource_policy {
        cmd.arg("--resource-policy").arg(doc);
    }
    if let Some(caller) = &case.caller {
        cmd.arg("--caller-arn").arg(caller);
    }
    cmd.arg("--action-names")
        .arg(&case.action)
        .arg("--resource-arns")
        .arg(&case.resource);
    if !case.context.is_empty() {
        let entries: Vec<Value> = case
            .context
            .iter()
            .map(|(k, values, ty)| {
                let mut e = json!({"ContextKeyName": k, "ContextKeyValues": values});
                if let Some(t) = ty {
                    e["ContextKeyType"] = json!(t);
                }
                e
            })
            .collect();
        cmd.arg("--context-entries")
            .arg(Value::Array(entries).to_string());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}: iamctl failed: {}",
        case.id,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn corpus_through_iamctl() {
    let cases = corpus::load();
    let mut failures = Vec::new();
    for case in &cases {
        let out = simulate(case);
        let result = &out["EvaluationResults"][0];
        let decision = result["EvalDecision"].as_str().unwrap_or("");
        if decision != case.expect {
            failures.push(format!(
                "{}: expected {}, got {decision}",
                case.id, case.expect
            ));
            continue;
        }
        if let Some(want) = &case.matched {
            let got = result["MatchedStatements"].as_array().map_or(0, Vec::len);
            if got != want.len() {
                failures.push(format!(
                    "{}: {got} matched statements, expected {}",
                    case.id,
                    want.len()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 200, "only {} corpus cases", cases.len());
}
