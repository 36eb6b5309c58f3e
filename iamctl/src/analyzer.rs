//! Access Analyzer's policy checks with the AWS CLI's flags and output
//! (`aws accessanalyzer validate-policy`, `check-no-new-access`,
//! `check-access-not-granted`), and the warnings a policy write prints.
//! The checks themselves are the engine's (`iam::policy::validate_policy`,
//! `check_no_new_access`, `check_access_not_granted`); this maps flags to
//! them and their answers to AWS's member names. No store: these verbs run
//! with the caller's rights, as `simulate-custom-policy` does.

use crate::cli::{
    self, AnalyzerPolicyType, CheckAccessNotGrantedArgs, CheckNoNewAccessArgs, Command, FailOn,
    ValidatePolicyArgs,
};
use crate::error::CliError;
use crate::input::{self, ParamFiles};
use iam::policy::{
    AccessCheck, Finding, FindingType, PathStep, Policy, PolicyKind, Span, TextPosition,
    check_access_not_granted, check_no_new_access, validate_policy,
};
use serde_json::{Value, json};

/// Access Analyzer's `ValidatePolicyResourceType` values.
const RESOURCE_TYPES: [&str; 6] = [
    "AWS::S3::Bucket",
    "AWS::S3::AccessPoint",
    "AWS::S3::MultiRegionAccessPoint",
    "AWS::S3ObjectLambda::AccessPoint",
    "AWS::IAM::AssumeRolePolicyDocument",
    "AWS::DynamoDB::Table",
];

/// Access Analyzer's `Locale` values.
const LOCALES: [&str; 10] = [
    "DE", "EN", "ES", "FR", "IT", "JA", "KO", "PT_BR", "ZH_CN", "ZH_TW",
];

/// The most entries of `actions` or `resources` in one `--access`, as
/// Access Analyzer bounds them.
const MAX_ACCESS_ENTRIES: usize = 100;

fn validation(message: impl Into<String>) -> CliError {
    CliError::new("ValidationException", message)
}

/// `validate-policy`: `{"findings": […]}`.
pub fn validate(args: &ValidatePolicyArgs, files: ParamFiles) -> Result<Value, CliError> {
    if let Some(locale) = args.locale.as_deref().filter(|l| !LOCALES.contains(l)) {
        return Err(validation(format!(
            "Invalid locale {locale}: use one of {}.",
            LOCALES.join(", ")
        )));
    }
    let kind = match (
        args.policy_type,
        args.validate_policy_resource_type.as_deref(),
    ) {
        (_, Some(t)) if !RESOURCE_TYPES.contains(&t) => {
            return Err(validation(format!(
                "Invalid validatePolicyResourceType {t}: use one of {}.",
                RESOURCE_TYPES.join(", ")
            )));
        }
        (AnalyzerPolicyType::IdentityPolicy, Some(_)) => {
            return Err(validation(
                "validatePolicyResourceType applies only to a RESOURCE_POLICY.",
            ));
        }
        (AnalyzerPolicyType::IdentityPolicy, None) => PolicyKind::Managed,
        (AnalyzerPolicyType::ResourcePolicy, Some("AWS::IAM::AssumeRolePolicyDocument")) => {
            PolicyKind::Trust
        }
        (AnalyzerPolicyType::ResourcePolicy, _) => PolicyKind::Resource,
    };
    let document = input::document(&args.policy_document, files)?;
    let findings: Vec<Value> = validate_policy(&document, kind)
        .iter()
        .map(finding)
        .collect();
    Ok(json!({ "findings": findings }))
}

fn finding(f: &Finding) -> Value {
    json!({
        "findingDetails": f.finding_details,
        "findingType": f.finding_type.as_aws_str(),
        "issueCode": f.issue_code,
        "learnMoreLink": f.learn_more_link,
        "locations": f.locations.iter().map(|l| json!({
            "path": l.path.iter().map(|step| match step {
                PathStep::Key(k) => json!({"key": k}),
                PathStep::Index(i) => json!({"index": i}),
            }).collect::<Vec<_>>(),
            "span": span(&l.span),
        })).collect::<Vec<_>>(),
    })
}

fn span(s: &Span) -> Value {
    let at = |p: &TextPosition| json!({"line": p.line, "column": p.column, "offset": p.offset});
    json!({"start": at(&s.start), "end": at(&s.end)})
}

/// A document of `policy_type` for the custom checks: an identity policy
/// as a managed one; a resource policy as a role trust policy when it is
/// shaped like one (no Resource), else as another resource policy.
fn access_policy(
    name: &str,
    arg: &str,
    policy_type: AnalyzerPolicyType,
    files: ParamFiles,
) -> Result<Policy, CliError> {
    let document = input::document(arg, files)?;
    let parsed = match policy_type {
        AnalyzerPolicyType::IdentityPolicy => {
            Policy::parse_unlimited(name, &document, PolicyKind::Managed)
        }
        AnalyzerPolicyType::ResourcePolicy => {
            Policy::parse_unlimited(name, &document, PolicyKind::Trust)
                .or_else(|_| Policy::parse_unlimited(name, &document, PolicyKind::Resource))
        }
    };
    parsed.map_err(|e| validation(format!("{name}: {e}")))
}

fn check(c: &AccessCheck) -> Value {
    json!({
        "result": c.result.as_aws_str(),
        "message": c.message,
        "reasons": c.reasons.iter().map(|r| {
            let mut v = json!({"description": r.description});
            if let Some(i) = r.statement_index {
                v["statementIndex"] = json!(i);
            }
            if let Some(id) = &r.statement_id {
                v["statementId"] = json!(id);
            }
            v
        }).collect::<Vec<_>>(),
    })
}

/// The `iam:` actions iamctl authorizes (one per verb, `iam:CreateUser`
/// for `create-user`): part of the action space the custom checks examine.
fn iam_actions() -> Vec<String> {
    use clap::CommandFactory;
    cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("iam:{}", cli::operation_name(s.get_name())))
        .collect()
}

/// `check-no-new-access`: `{"result", "message", "reasons"}`.
pub fn no_new_access(args: &CheckNoNewAccessArgs, files: ParamFiles) -> Result<Value, CliError> {
    let new = access_policy(
        "newPolicyDocument",
        &args.new_policy_document,
        args.policy_type,
        files,
    )?;
    let existing = access_policy(
        "existingPolicyDocument",
        &args.existing_policy_document,
        args.policy_type,
        files,
    )?;
    let known = iam_actions();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    Ok(check(&check_no_new_access(&new, &existing, &known)))
}

/// `check-access-not-granted`: `{"result", "message", "reasons"}`.
pub fn access_not_granted(
    args: &CheckAccessNotGrantedArgs,
    files: ParamFiles,
) -> Result<Value, CliError> {
    let policy = access_policy(
        "policyDocument",
        &args.policy_document,
        args.policy_type,
        files,
    )?;
    let (actions, resources) = parse_access(&args.access)?;
    Ok(check(&check_access_not_granted(
        &policy, &actions, &resources,
    )))
}

/// `--access`: the AWS CLI's shorthand (`actions=a,b,resources=r`) or
/// JSON (`[{"actions": […], "resources": […]}]`); one entry, as Access
/// Analyzer takes, with at least one action or resource.
fn parse_access(args: &[String]) -> Result<(Vec<String>, Vec<String>), CliError> {
    let bad = |why: &str| validation(format!("Error parsing parameter '--access': {why}"));
    let mut entries: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for arg in args {
        let trimmed = arg.trim();
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            let v: Value = serde_json::from_str(trimmed).map_err(|e| bad(&e.to_string()))?;
            let items = match v {
                Value::Array(items) => items,
                one => vec![one],
            };
            for item in items {
                let Value::Object(map) = item else {
                    return Err(bad("each access entry is an object"));
                };
                let mut entry = (Vec::new(), Vec::new());
                for (k, v) in map {
                    let list: Vec<String> = serde_json::from_value(v)
                        .map_err(|_| bad(&format!("{k} must be a list of strings")))?;
                    match k.as_str() {
                        "actions" => entry.0 = list,
                        "resources" => entry.1 = list,
                        other => return Err(bad(&format!("unknown member {other}"))),
                    }
                }
                entries.push(entry);
            }
            continue;
        }
        let mut entry = (Vec::new(), Vec::new());
        let mut current: Option<bool> = None;
        for piece in trimmed.split(',') {
            let value = if let Some(v) = piece.strip_prefix("actions=") {
                current = Some(true);
                v
            } else if let Some(v) = piece.strip_prefix("resources=") {
                current = Some(false);
                v
            } else {
                piece
            };
            let value = value.trim_matches(['[', ']']);
            match current {
                Some(true) if !value.is_empty() => entry.0.push(value.to_owned()),
                Some(false) if !value.is_empty() => entry.1.push(value.to_owned()),
                Some(_) => {}
                None => {
                    return Err(bad(&format!(
                        "expected actions=… or resources=…, got {piece:?}"
                    )));
                }
            }
        }
        entries.push(entry);
    }
    let [(actions, resources)] =
        <[_; 1]>::try_from(entries).map_err(|_| bad("give exactly one access entry"))?;
    if actions.is_empty() && resources.is_empty() {
        return Err(bad("an access entry needs actions or resources"));
    }
    if actions.len() > MAX_ACCESS_ENTRIES || resources.len() > MAX_ACCESS_ENTRIES {
        return Err(bad(&format!(
            "at most {MAX_ACCESS_ENTRIES} actions and {MAX_ACCESS_ENTRIES} resources"
        )));
    }
    Ok((actions, resources))
}

/// Whether a verb's answer fails the check it was asked for: exit status
/// 1 for a CI pipeline. `validate-policy`: a finding at `--fail-on` or
/// graver; the custom checks: FAIL.
pub fn fails(command: &Command, output: &Value) -> bool {
    match command {
        Command::ValidatePolicy(a) => {
            let threshold = match a.fail_on {
                FailOn::Error => FindingType::Error,
                FailOn::SecurityWarning => FindingType::SecurityWarning,
                FailOn::Warning => FindingType::Warning,
                FailOn::Suggestion => FindingType::Suggestion,
                FailOn::None => return false,
            };
            let order = [
                FindingType::Error,
                FindingType::SecurityWarning,
                FindingType::Warning,
                FindingType::Suggestion,
            ];
            output["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["findingType"].as_str())
                .filter_map(|t| order.iter().find(|o| o.as_aws_str() == t))
                .any(|t| *t <= threshold)
        }
        Command::CheckNoNewAccess(_) | Command::CheckAccessNotGranted(_) => {
            output["result"] == "FAIL"
        }
        _ => false,
    }
}

/// The findings of a policy just written, one line each for stderr
/// (`SECURITY_WARNING ALLOW_WITHOUT_MFA_CONDITION at Statement[0].Action,
/// line 5, column 16: …`): what AWS's console shows beside a policy it
/// accepts. Never an ERROR: the write succeeded.
pub fn warning_lines(document: &str, kind: PolicyKind) -> Vec<String> {
    validate_policy(document, kind)
        .iter()
        .filter(|f| f.finding_type != FindingType::Error)
        .map(|f| {
            let place = f.locations.first().map(|l| {
                let mut path = String::new();
                for step in &l.path {
                    match step {
                        PathStep::Key(k) if path.is_empty() => path.push_str(k),
                        PathStep::Key(k) => {
                            path.push('.');
                            path.push_str(k);
                        }
                        PathStep::Index(i) => path.push_str(&format!("[{i}]")),
                    }
                }
                format!(
                    " at {}, line {}, column {}",
                    if path.is_empty() { "the policy" } else { &path },
                    l.span.start.line,
                    l.span.start.column + 1
                )
            });
            format!(
                "{} {}{}: {}",
                f.finding_type.as_aws_str(),
                f.issue_code,
                place.unwrap_or_default(),
                f.finding_details
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_shorthand_and_json() {
        let one = |s: &str| parse_access(&[s.to_owned()]);
        assert_eq!(
            one("actions=host:RunAs,host:Login,resources=arn:aws:host::1:host/a").unwrap(),
            (
                vec!["host:RunAs".to_owned(), "host:Login".to_owned()],
                vec!["arn:aws:host::1:host/a".to_owned()]
            )
        );
        assert_eq!(
            one(r#"[{"actions":["host:RunAs"]}]"#).unwrap(),
            (vec!["host:RunAs".to_owned()], vec![])
        );
        assert!(one("host:RunAs").is_err());
        assert!(one("actions=").is_err());
        assert!(one(r#"[{"actions":["a:b"]},{"actions":["c:d"]}]"#).is_err());
    }
}
