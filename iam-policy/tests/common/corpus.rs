//! Loader for the evaluation corpus in `iam-policy/tests/policy_cases/*.json`,
//! shared by the library test (`iam-policy/tests/policy_corpus.rs`) and the CLI
//! test (`iamctl/tests/simulate_corpus.rs`).
//!
//! A file is `{"topic", "source", "groups": [group…]}`; a group sets
//! `policies` (identity policy documents), optionally `boundary` (a list of
//! documents), `resource_policy`, `caller`, `resource`, `action`, `context`
//! and `types`, and has `cases`; a case may override any of those and says
//! `expect` (`allowed` | `explicitDeny` | `implicitDeny`) and optionally
//! `matched`: the Sids (or `#index`) of the deciding statements.
// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub policies: Vec<String>,
    pub boundary: Option<Vec<String>>,
    pub resource_policy: Option<String>,
    pub caller: Option<String>,
    pub action: String,
    pub resource: String,
    /// (key, values, declared type)
    pub context: Vec<(String, Vec<String>, Option<String>)>,
    pub expect: String,
    pub matched: Option<Vec<String>>,
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("iam-policy")
        .join("tests")
        .join("policy_cases")
}

fn docs(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(|d| d.to_string()).collect(),
        one => vec![one.to_string()],
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

pub fn load() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let root: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (g, group) in root["groups"].as_array().unwrap().iter().enumerate() {
            for (c, case) in group["cases"].as_array().unwrap().iter().enumerate() {
                let get = |k: &str| {
                    case.get(k)
                        .or_else(|| group.get(k))
                        .filter(|v| !v.is_null())
                };
                let name = case["name"].as_str().unwrap_or("");
                let id = format!("{stem}[{g}][{c}] {name}");
                let types = get("types").cloned().unwrap_or(Value::Null);
                let context = get("context")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                let ty = types.get(k).and_then(Value::as_str).map(str::to_owned);
                                (k.clone(), strings(v), ty)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                cases.push(Case {
                    policies: get("policies").map(docs).unwrap_or_default(),
                    boundary: get("boundary").map(docs),
                    resource_policy: get("resource_policy").map(|d| d.to_string()),
                    caller: get("caller").and_then(Value::as_str).map(str::to_owned),
                    action: get("action")
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("{id}: no action"))
                        .to_owned(),
                    resource: get("resource")
                        .and_then(Value::as_str)
                        .unwrap_or("*")
                        .to_owned(),
                    context,
                    expect: case["expect"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{id}: no expect"))
                        .to_owned(),
                    matched: case.get("matched").map(strings),
                    id,
                });
            }
        }
    }
    cases
}
