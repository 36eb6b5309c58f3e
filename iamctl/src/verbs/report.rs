//! The credential report and get-caller-identity.

use crate::cli::Output;
use crate::ctx::{Caller, Ctx};
use crate::error::CliError;
use crate::shapes::date_str;
use base64::Engine as _;
use serde_json::{Value, json};

/// AWS's credential report columns, all of them, in AWS's order, so existing
/// tooling reads the CSV unchanged. Access keys and signing certificates do
/// not exist on a host: `false` / `N/A`, as AWS prints for a user without them.
const COLUMNS: &[&str] = &[
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

/// The report is computed from the store when asked for, so "generate" has
/// nothing to wait for: it answers COMPLETE as AWS does once it is done.
pub fn generate_credential_report(ctx: &mut Ctx) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    Ok(
        json!({"State": "COMPLETE", "Description": "The credential report is built from the store on every get-credential-report."}),
    )
}

pub fn get_credential_report(ctx: &mut Ctx) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let csv = credential_report_csv(ctx)?;
    if ctx.output == Output::Text {
        // As `aws iam get-credential-report --output text --query Content |
        // base64 -d`: the CSV itself.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(csv.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| {
                CliError::new("ServiceFailure", format!("cannot write the report: {e}"))
            })?;
        return Ok(Value::Null);
    }
    Ok(json!({
        "Content": base64::engine::general_purpose::STANDARD.encode(csv.as_bytes()),
        "ReportFormat": "text/csv",
        "GeneratedTime": date_str(ctx.now.timestamp()),
    }))
}

fn credential_report_csv(ctx: &Ctx) -> Result<String, CliError> {
    let policy = ctx.store.get_password_policy()?;
    let no_keys = [
        "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A",
        "false", "N/A",
    ];
    let mut out = COLUMNS.join(",");
    out.push('\n');
    let mut root = vec![
        "<root_account>".to_owned(),
        iam::names::root_arn(&ctx.account),
        "N/A".into(),
        "not_supported".into(),
        "N/A".into(),
        "not_supported".into(),
        "not_supported".into(),
        "false".into(),
    ];
    root.extend(no_keys.iter().map(|s| (*s).to_owned()));
    out.push_str(&root.join(","));
    out.push('\n');
    for r in ctx.store.credential_report()? {
        let next_rotation = match (&policy, r.password_enabled, r.password_last_changed) {
            (Some(p), true, Some(changed)) => chrono::DateTime::from_timestamp(changed, 0)
                .and_then(|c| p.expires_at(c))
                .map(|t| date_str(t.timestamp()))
                .unwrap_or_else(|| "N/A".into()),
            _ => "N/A".into(),
        };
        let mut row = vec![
            r.user.to_string(),
            r.arn.clone(),
            date_str(r.user_creation_time),
            r.password_enabled.to_string(),
            match (r.password_enabled, r.password_last_used) {
                (_, Some(t)) => date_str(t),
                (true, None) => "no_information".into(),
                (false, None) => "N/A".into(),
            },
            match (r.password_enabled, r.password_last_changed) {
                (true, Some(t)) => date_str(t),
                _ => "N/A".into(),
            },
            next_rotation,
            r.mfa_active.to_string(),
        ];
        row.extend(no_keys.iter().map(|s| (*s).to_owned()));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// `sts get-caller-identity`: needs no permission, as in AWS.
pub fn get_caller_identity(ctx: &mut Ctx) -> Result<Value, CliError> {
    let user_id = match &ctx.caller {
        Caller::Root => ctx.account.to_string(),
        // `AIDA…` for a user; `AROA…:SESSION` for a role session, as AWS.
        Caller::User(p) | Caller::AssumedRole(p) => p.id.clone(),
    };
    Ok(json!({"UserId": user_id, "Account": ctx.account.as_str(), "Arn": ctx.caller_arn()}))
}

#[cfg(test)]
mod tests {
    use super::COLUMNS;

    #[test]
    fn all_aws_columns_in_order() {
        assert_eq!(COLUMNS.len(), 22);
        assert_eq!(
            COLUMNS[..8].join(","),
            "user,arn,user_creation_time,password_enabled,password_last_used,\
             password_last_changed,password_next_rotation,mfa_active"
        );
        assert_eq!(COLUMNS[21], "cert_2_last_rotated");
    }
}
