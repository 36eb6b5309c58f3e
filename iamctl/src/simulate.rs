//! `simulate-custom-policy` (and the result building that
//! `simulate-principal-policy` shares): the policy engine's test port, with
//! the AWS CLI's flags and output.

use crate::cli::SimulateCustomArgs;
use crate::error::CliError;
use crate::input::{self, ParamFiles};
use iam::policy::{
    Context, ContextKeyType, MatchedStatement, Policy, PolicyKind, PolicySet, PolicySource,
    Request, missing_context_keys, simulate,
};
use serde_json::{Value, json};

/// A refused document, named by its place in the input (several may be given).
/// A list parameter as the AWS CLI takes it: values one by one, or one
/// JSON array of strings (`--action-names '["s3:GetObject"]'`).
fn expand(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| {
            let trimmed = v.trim_start();
            match trimmed
                .starts_with('[')
                .then(|| serde_json::from_str::<Vec<String>>(trimmed).ok())
                .flatten()
            {
                Some(items) => items,
                None => vec![v.clone()],
            }
        })
        .collect()
}

fn malformed(source: &str) -> impl Fn(iam::policy::PolicyError) -> CliError + '_ {
    move |e| CliError::new(e.aws_code(), format!("{source}: {e}"))
}

/// `files`: whether `file://` arguments are read (iamctl runs this verb
/// with its caller's rights, having dropped its own).
pub fn run_custom(args: &SimulateCustomArgs, files: ParamFiles) -> Result<Value, CliError> {
    let mut policies = PolicySet::default();
    for (i, arg) in expand(&args.policy_input_list).iter().enumerate() {
        let doc = input::document(arg, files)?;
        let name = format!("PolicyInputList.{}", i + 1);
        policies.identity.push(
            Policy::parse_unlimited(&name, &doc, PolicyKind::Managed).map_err(malformed(&name))?,
        );
    }
    if !args.permissions_boundary_policy_input_list.is_empty() {
        let mut boundary = Vec::new();
        for (i, arg) in args
            .permissions_boundary_policy_input_list
            .iter()
            .enumerate()
        {
            let doc = input::document(arg, files)?;
            let name = format!("PermissionsBoundaryPolicyInputList.{}", i + 1);
            boundary.push(
                Policy::parse_unlimited(&name, &doc, PolicyKind::Managed)
                    .map_err(malformed(&name))?,
            );
        }
        policies.boundary = Some(boundary);
    }
    if let Some(arg) = &args.resource_policy {
        if args.caller_arn.is_none() {
            return Err(CliError::invalid_input(
                "CallerArn is required when a ResourcePolicy is given.",
            ));
        }
        let doc = input::document(arg, files)?;
        // A document shaped like a role trust policy (no Resource element)
        // is decided as one: for sts:AssumeRole the trust policy must allow.
        let policy = Policy::parse_unlimited("ResourcePolicy", &doc, PolicyKind::Trust)
            .or_else(|_| Policy::parse_unlimited("ResourcePolicy", &doc, PolicyKind::Resource))
            .map_err(malformed("ResourcePolicy"))?;
        policies.resource.push(policy);
    }
    // Accepted for AWS CLI compatibility: there are no EC2 resource-handling
    // scenarios here.
    let _ = &args.resource_handling_option;
    let mut context = Context::new();
    for entry in &args.context_entries {
        add_context_entries(&mut context, &input::document(entry, files)?)?;
    }
    let resources = if args.resource_arns.is_empty() {
        vec!["*".to_owned()]
    } else {
        expand(&args.resource_arns)
    };
    let caller = args.caller_arn.as_deref().unwrap_or("");
    evaluation_results(
        &policies,
        caller,
        &expand(&args.action_names),
        &resources,
        &context,
        args.resource_owner.as_deref(),
        &custom_source,
    )
}

/// Whether `resource` belongs to another account than `caller`: its owner
/// is the account in its ARN when it has one (AWS's simulator takes
/// `ResourceOwner` only for a resource ARN without an account, such as an
/// S3 bucket's), else `resource_owner`. Unknown owners are the caller's.
fn is_cross_account(caller: &str, resource: &str, resource_owner: Option<&str>) -> bool {
    let owner = account_of(resource).or_else(|| resource_owner.and_then(account_of));
    match (owner, account_of(caller)) {
        (Some(owner), Some(caller)) => owner != caller,
        _ => false,
    }
}

/// The account of an ARN (`arn:aws:iam::123456789012:…`) or of a bare
/// account ID.
fn account_of(s: &str) -> Option<&str> {
    let account = match s.strip_prefix("arn:") {
        Some(rest) => rest.split(':').nth(3)?,
        None => s,
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// SourcePolicyId and SourcePolicyType for simulate-custom-policy: the
/// policies are named after their place in the input lists.
fn custom_source(m: &MatchedStatement) -> (String, String) {
    let ty = match m.source {
        PolicySource::Identity => "IAM Policy",
        PolicySource::Boundary => "PermissionsBoundaryPolicy",
        PolicySource::Resource => "Resource Policy",
    };
    (m.policy.clone(), ty.to_owned())
}

/// The most action × resource pairs one call evaluates: every result is
/// built before a page is cut, so a request naming thousands of each must
/// not make the server (or the setuid iamctl) build millions.
pub const MAX_EVALUATIONS: usize = 1000;

/// Builds AWS's `{"EvaluationResults": […]}`: one result per action and
/// resource, with the deciding statements and the missing context keys.
/// `resource_owner`: the account owning resources whose ARN names none
/// (`--resource-owner`); a resource in another account than the caller's
/// is decided by AWS's cross-account logic. `source` names each matched
/// statement's SourcePolicyId and SourcePolicyType
/// (simulate-principal-policy names stored policies).
pub fn evaluation_results(
    policies: &PolicySet,
    caller: &str,
    actions: &[String],
    resources: &[String],
    context: &Context,
    resource_owner: Option<&str>,
    source: &dyn Fn(&MatchedStatement) -> (String, String),
) -> Result<Value, CliError> {
    if actions.len().saturating_mul(resources.len()) > MAX_EVALUATIONS {
        return Err(CliError::new(
            "ValidationError",
            format!(
                "At most {MAX_EVALUATIONS} evaluations per call: {} actions × {} resources were requested.",
                actions.len(),
                resources.len()
            ),
        ));
    }
    let all: Vec<&Policy> = policies
        .identity
        .iter()
        .chain(policies.boundary.iter().flatten())
        .chain(&policies.resource)
        .collect();
    let mut results = Vec::new();
    for action in actions {
        for resource in resources {
            let request = Request {
                principal: caller,
                action,
                resource,
                context,
            };
            let cross_account = is_cross_account(caller, resource, resource_owner);
            let response = simulate(&request, policies, cross_account);
            let matched: Vec<Value> = response
                .matched
                .iter()
                .map(|m| {
                    let (id, ty) = source(m);
                    let mut v = json!({"SourcePolicyId": id, "SourcePolicyType": ty});
                    let position = all
                        .iter()
                        .find(|p| p.name() == m.policy)
                        .and_then(|p| p.statement_position(m.index));
                    if let Some((start, end)) = position {
                        v["StartPosition"] = json!({"Line": start.line, "Column": start.column});
                        v["EndPosition"] = json!({"Line": end.line, "Column": end.column});
                    }
                    v
                })
                .collect();
            let mut result = json!({
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": response.decision.as_aws_str(),
                "MatchedStatements": matched,
                "MissingContextValues": missing_context_keys(&request, policies),
            });
            if policies.boundary.is_some() {
                let boundary_only = PolicySet {
                    identity: policies.boundary.clone().unwrap_or_default(),
                    boundary: None,
                    resource: Vec::new(),
                };
                let allowed = simulate(&request, &boundary_only, false).decision
                    == iam::policy::Decision::Allowed;
                result["PermissionsBoundaryDecisionDetail"] =
                    json!({"AllowedByPermissionsBoundary": allowed});
            }
            results.push(result);
        }
    }
    Ok(json!({ "EvaluationResults": results }))
}

/// Adds `--context-entries`: a JSON list of
/// `{"ContextKeyName", "ContextKeyValues", "ContextKeyType"}` or the AWS CLI
/// shorthand `ContextKeyName=k,ContextKeyValues=v1,v2,ContextKeyType=t`.
pub fn add_context_entries(context: &mut Context, text: &str) -> Result<(), CliError> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let value: Value = serde_json::from_str(trimmed).map_err(|e| {
            CliError::invalid_input(format!("Error parsing parameter '--context-entries': {e}"))
        })?;
        let entries = match value {
            Value::Array(items) => items,
            one => vec![one],
        };
        for entry in entries {
            let name = entry
                .get("ContextKeyName")
                .and_then(Value::as_str)
                .ok_or_else(|| CliError::invalid_input("context entry needs ContextKeyName"))?;
            let values = match entry.get("ContextKeyValues") {
                Some(Value::Array(items)) => items.iter().map(json_text).collect(),
                Some(Value::Null) | None => Vec::new(),
                Some(one) => vec![json_text(one)],
            };
            let ty = entry.get("ContextKeyType").and_then(Value::as_str);
            insert(context, name, values, ty)?;
        }
        return Ok(());
    }
    let mut name = None;
    let mut values = Vec::new();
    let mut ty = None;
    let mut current: Option<&str> = None;
    for piece in trimmed.split(',') {
        match piece.split_once('=') {
            Some((k @ ("ContextKeyName" | "ContextKeyValues" | "ContextKeyType"), v)) => {
                current = Some(k);
                match k {
                    "ContextKeyName" => name = Some(v.to_owned()),
                    "ContextKeyValues" => values.push(v.to_owned()),
                    _ => ty = Some(v.to_owned()),
                }
            }
            _ if current == Some("ContextKeyValues") => values.push(piece.to_owned()),
            _ => {
                return Err(CliError::invalid_input(format!(
                    "Error parsing parameter '--context-entries': unexpected {piece:?}"
                )));
            }
        }
    }
    let name = name.ok_or_else(|| CliError::invalid_input("context entry needs ContextKeyName"))?;
    insert(context, &name, values, ty.as_deref())
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn insert(
    context: &mut Context,
    name: &str,
    values: Vec<String>,
    ty: Option<&str>,
) -> Result<(), CliError> {
    match ty {
        Some(t) => {
            let ty: ContextKeyType = t.parse().map_err(CliError::invalid_input)?;
            context
                .insert_typed(name, values, ty)
                .map_err(CliError::invalid_input)
        }
        None => {
            context.insert(name, values);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_context() {
        let mut ctx = Context::new();
        add_context_entries(
            &mut ctx,
            "ContextKeyName=aws:TagKeys,ContextKeyValues=a,b,ContextKeyType=stringList",
        )
        .unwrap();
        assert_eq!(ctx.get("aws:tagkeys").unwrap(), ["a", "b"]);
        add_context_entries(
            &mut ctx,
            r#"[{"ContextKeyName":"aws:SourceIp","ContextKeyValues":["10.0.0.1"],"ContextKeyType":"ip"}]"#,
        )
        .unwrap();
        assert_eq!(ctx.get("AWS:SOURCEIP").unwrap(), ["10.0.0.1"]);
        assert!(add_context_entries(
            &mut ctx,
            r#"[{"ContextKeyName":"aws:SourceIp","ContextKeyValues":["x"],"ContextKeyType":"ip"}]"#,
        )
        .is_err());
    }
}
