//! The credential report, the access report and get-caller-identity.

use crate::cli::{AccessReportArgs, Output};
use crate::ctx::{Caller, Ctx};
use crate::error::CliError;
use crate::shapes::date_str;
use base64::Engine as _;
use serde_json::{Value, json};

/// AWS's credential report columns, all of them, in AWS's order, so existing
/// tooling reads the CSV unchanged. Signing certificates do not exist on a
/// host: `false` / `N/A`, as AWS prints for a user without them.
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

/// `access-report`: who can log in where, assume which role there and run
/// as whom (`iam::access`), as JSON; main renders the text table or the
/// page (`crate::access_page`). It reads what
/// `get-account-authorization-details` reads, so a delegated reviewer needs
/// that action (AWS's for reading every user, group, role and policy).
pub fn access_report(ctx: &mut Ctx, a: &AccessReportArgs) -> Result<Value, CliError> {
    ctx.authorize_with("iam:GetAccountAuthorizationDetails", "*", |_| {})?;
    let local = iam::access::LocalHost {
        hostname: &ctx.config.hostname,
        tags: &ctx.config.host_tags,
        require_mfa: ctx.config.login.require_mfa,
    };
    let scope = iam::access::Scope {
        user: a.user.as_deref(),
        host: a.host.as_deref(),
        role: a.role.as_deref(),
    };
    let report = iam::access::report(&ctx.store, &local, &scope, ctx.now).map_err(|e| match e {
        iam::access::AccessError::Store(e) => e.into(),
        iam::access::AccessError::Principal(e) => e.into(),
        e @ iam::access::AccessError::InvalidTrustPolicy { .. } => {
            CliError::new("ServiceFailure", e.to_string())
        }
    })?;
    serde_json::to_value(&report)
        .map_err(|e| CliError::new("ServiceFailure", format!("access report: {e}")))
}

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
    let no_certs = ["false", "N/A", "false", "N/A"];
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
    root.extend(access_key_columns(&[]));
    root.extend(no_certs.iter().map(|s| (*s).to_owned()));
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
        row.extend(access_key_columns(&ctx.store.list_access_keys(&r.user)?));
        row.extend(no_certs.iter().map(|s| (*s).to_owned()));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok(out)
}

/// `access_key_{1,2}_{active,last_rotated,last_used_date,last_used_region,
/// last_used_service}`: the user's keys oldest first, as AWS numbers them.
fn access_key_columns(keys: &[iam::store::AccessKey]) -> Vec<String> {
    let mut out = Vec::with_capacity(10);
    for i in 0..2 {
        match keys.get(i) {
            Some(k) => {
                let used = k.last_used.as_ref();
                out.push((k.status == iam::store::AccessKeyStatus::Active).to_string());
                out.push(date_str(k.create_date));
                out.push(used.map_or_else(|| "N/A".into(), |u| date_str(u.date)));
                out.push(used.map_or_else(|| "N/A".into(), |u| u.region.clone()));
                out.push(used.map_or_else(|| "N/A".into(), |u| u.service.clone()));
            }
            None => out.extend(["false", "N/A", "N/A", "N/A", "N/A"].map(String::from)),
        }
    }
    out
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
    use super::{COLUMNS, access_key_columns};
    use iam::store::{AccessKey, AccessKeyLastUsed, AccessKeyStatus};

    #[test]
    fn access_key_columns_as_aws() {
        assert_eq!(
            access_key_columns(&[]).join(","),
            "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A"
        );
        let key = |status, last_used| AccessKey {
            id: "AKIAIOSFODNN7EXAMPLE".into(),
            user: iam::names::UserName::parse("alice").unwrap_or_else(|e| panic!("{e}")),
            status,
            create_date: 0,
            last_used,
        };
        let used = AccessKeyLastUsed {
            date: 60,
            service: "iam".into(),
            region: "us-east-1".into(),
        };
        let cols = access_key_columns(&[
            key(AccessKeyStatus::Active, Some(used)),
            key(AccessKeyStatus::Inactive, None),
        ]);
        assert_eq!(
            cols.join(","),
            "true,1970-01-01T00:00:00+00:00,1970-01-01T00:01:00+00:00,us-east-1,iam,\
             false,1970-01-01T00:00:00+00:00,N/A,N/A,N/A"
        );
    }

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
