//! The STS API: `GetCallerIdentity`, and `AssumeRole` issuing temporary
//! credentials, decided by the rules `iamctl assume-role` uses (the trust
//! policy as the resource policy, the same MFA check and lockout, the
//! same duration bounds), without the host part: a session here runs no
//! command on any host.

use crate::api_error::ApiError;
use crate::app::{App, Authenticated};
use crate::keyring;
use crate::query::Call;
use chrono::{DateTime, Utc};
use iam::elevation::{self as rules, DurationBounds};
use iam::names::{IamArn, RoleName, UniqueIdKind, new_unique_id};
use iam::policy::NotAuthorized;
use iam::request::{CallerFacts, caller_context, set_assume_role_keys, with_fresh_mfa};
use iam::secret::SecretString;
use iam::store::{Store, StsSession};
use iamctl::ctx::Ctx;
use iamctl::error::CliError;
use iamctl::input::Secrets;
use serde_json::{Value, json};

/// AWS's limit on a session made by role chaining.
const CHAINED_MAX_SECONDS: i64 = 3600;

pub fn run(
    app: &App,
    store: Store,
    who: Authenticated,
    call: &Call,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let user = who.user.clone();
    let ctx = app.context(
        store,
        who,
        call.action.clone(),
        Secrets::Given(Vec::new()),
        now,
    );
    match call.action.as_str() {
        // Always allowed, as AWS: it tells callers who they are.
        "GetCallerIdentity" => {
            let principal = principal(&ctx)?;
            Ok(json!({
                "UserId": principal.id,
                "Account": ctx.account.as_str(),
                "Arn": principal.arn,
            }))
        }
        "AssumeRole" => assume_role(app, &ctx, user.as_ref(), &call.input),
        other => Err(ApiError::Internal(format!("{other} is not served"))),
    }
}

fn principal(ctx: &Ctx) -> Result<&iam::principal::Principal, ApiError> {
    ctx.caller
        .principal()
        .ok_or_else(|| ApiError::Internal("API callers are never root".into()))
}

fn assume_role(
    app: &App,
    ctx: &Ctx,
    user: Option<&iam::names::UserName>,
    input: &Value,
) -> Result<Value, ApiError> {
    let caller = principal(ctx)?;
    let text = |k: &str| input.get(k).and_then(Value::as_str);
    let role_arn = text("RoleArn").unwrap_or_default();
    let validation = |e: rules::ElevationError| CliError::new(e.code(), e.to_string());
    if input.get("Policy").is_some() || input.get("PolicyArns").is_some() {
        return Err(CliError::new(
            "ValidationError",
            "Session policies (Policy, PolicyArns) are not supported by this directory.",
        )
        .into());
    }
    let session_name =
        rules::session_name(text("RoleSessionName").unwrap_or_default()).map_err(validation)?;
    // A role that does not exist is refused as one the caller may not
    // assume: the answer says nothing about which roles exist.
    let not_authorized = || {
        let message = NotAuthorized {
            who: "User",
            principal: &caller.arn,
            action: "sts:AssumeRole",
            resource: role_arn,
            why: None,
        }
        .to_string();
        ctx.audit_refused(json!({"roleArn": role_arn}), "AccessDenied", &message);
        ApiError::from(CliError::new("AccessDenied", message))
    };
    let role = IamArn::parse("RoleArn", role_arn)
        .ok()
        .filter(|arn| arn.resource_type == "role" && arn.account == ctx.account.as_str())
        .and_then(|arn| RoleName::parse(&arn.name).ok())
        .and_then(|name| ctx.store.get_role(&name).ok())
        .filter(|role| role.arn == role_arn)
        .ok_or_else(not_authorized)?;
    let requested = input.get("DurationSeconds").and_then(Value::as_i64);
    // Role chaining (a role session assuming a role), as AWS: at most one
    // hour, whatever the role's maximum.
    let chained = matches!(ctx.caller, iamctl::ctx::Caller::AssumedRole(_));
    if chained && requested.is_some_and(|d| d > CHAINED_MAX_SECONDS) {
        return Err(CliError::new(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        )
        .into());
    }
    let duration = DurationBounds::for_role(Some(i64::from(role.max_session_duration)), None)
        .duration(requested)
        .map_err(validation)?;
    let duration = if chained {
        duration.min(CHAINED_MAX_SECONDS)
    } else {
        duration
    };
    let trust = role
        .trust_policy()
        .map_err(|e| ApiError::Internal(format!("stored trust policy of {}: {e}", role.name)))?;

    let mut context = caller_context(caller, ctx.now, &ctx.facts);
    let mut mfa_at = match &ctx.facts {
        CallerFacts::Api(api) => api.session_mfa.flatten(),
        CallerFacts::Login(login) => login.mfa_at,
    };
    if let (Some(serial), Some(code)) = (text("SerialNumber"), text("TokenCode")) {
        check_code(ctx, user, serial, &SecretString::from(code))?;
        context = with_fresh_mfa(&context);
        mfa_at = Some(ctx.now.timestamp());
    }
    set_assume_role_keys(
        &mut context,
        duration,
        &session_name,
        role.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
    );
    if let Err((_, why)) =
        rules::decide_assume_role(&caller.arn, &caller.policies, &role.arn, &trust, &context)
    {
        let message = NotAuthorized {
            who: "User",
            principal: &caller.arn,
            action: "sts:AssumeRole",
            resource: &role.arn,
            why: Some(&why),
        }
        .to_string();
        ctx.audit_refused(json!({"roleArn": role.arn}), "AccessDenied", &message);
        return Err(CliError::new("AccessDenied", message).into());
    }

    let expiration = rules::expiration(ctx.now, duration);
    let access_key_id =
        new_unique_id(UniqueIdKind::SessionKey).map_err(crate::keyring::KeyringError::from)?;
    let secret = keyring::new_secret()?;
    let token = keyring::new_session_token()?;
    let session = StsSession {
        sealed: app.keyring.seal(&access_key_id, &secret)?,
        access_key_id,
        token_sha256: keyring::token_digest(token.expose()),
        role: role.name.clone(),
        role_id: role.id.clone(),
        session_name: session_name.clone(),
        source_arn: caller.arn.clone(),
        mfa_time: mfa_at,
        issued: ctx.now.timestamp(),
        expiration: expiration.timestamp(),
    };
    ctx.commit(
        |_| {
            json!({"roleArn": role.arn, "roleSessionName": session_name.as_str(),
                   "durationSeconds": duration, "accessKeyId": session.access_key_id,
                   "sourceArn": caller.arn})
        },
        |s| {
            s.purge_sts_sessions(ctx.now)?;
            s.create_sts_session(&session)
        },
    )?;
    Ok(json!({
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": secret.expose(),
            "SessionToken": token.expose(),
            "Expiration": rules::iso8601(expiration),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": format!("{}:{session_name}", role.id),
            "Arn": iam::names::assumed_role_arn(&ctx.account, &role.name, &session_name),
        },
    }))
}

/// The second factor, as iamctl assume-role checks it: the caller's own
/// device, the one code check and lockout of a login.
fn check_code(
    ctx: &Ctx,
    user: Option<&iam::names::UserName>,
    serial: &str,
    code: &SecretString,
) -> Result<(), ApiError> {
    let Some(user) = user else {
        return Err(CliError::new(
            "AccessDenied",
            "MultiFactorAuthentication failed: only an IAM user's own device can be used.",
        )
        .into());
    };
    let lockout = iam::factors::lockout_rule(&ctx.config.lockout);
    let checked = rules::mfa_devices_for(&ctx.store, user, Some(serial)).and_then(|devices| {
        rules::check_mfa_code(
            &ctx.store.ledger(),
            user,
            &devices,
            code,
            &lockout,
            ctx.config.totp.skew_steps,
            ctx.now,
        )
    });
    if let Err(e) = iam::ledger::drain(&ctx.store) {
        eprintln!("warning: the ledger's outbox is not drained: {e}");
    }
    checked.map_err(|e| {
        let message = e.to_string();
        ctx.audit_refused(json!({"serialNumber": serial}), "AccessDenied", &message);
        CliError::new("AccessDenied", message).into()
    })
}
