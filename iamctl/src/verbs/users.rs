//! Users, their tags, passwords (login profiles, change-password, the
//! account password policy) and lockout.

use super::{parse_path, parse_tag_keys, parse_tags, parse_user};
use crate::cli::{self, tri};
use crate::ctx::{Caller, Ctx};
use crate::error::CliError;
use crate::input::{Secret, Secrets};
use crate::shapes;
use iam::login::{CurrentPassword, check_current_password};
use iam::names::{IamPath, UserName, is_linux_login_name, user_arn};
use iam::password::{PasswordPolicy, hash_password};
use iam::secret::SecretString;
use iam::store::NewUser;
use serde_json::{Value, json};

pub fn create_user(ctx: &mut Ctx, a: &cli::CreateUserArgs) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    let path = parse_path(a.path.as_deref())?;
    let tags = parse_tags(ctx, &a.tags.tags)?;
    let arn = user_arn(&ctx.account, &path, &name);
    ctx.authorize_with("iam:CreateUser", &arn, |c| {
        if let Some(b) = &a.permissions_boundary {
            c.set("iam:PermissionsBoundary", b.clone());
        }
        if !tags.is_empty() {
            iam::request::set_request_tags(c, &tags);
        }
    })?;
    if let Some(b) = &a.permissions_boundary {
        ctx.store.get_policy(b)?;
    }
    let user = ctx.commit(
        |user: &iam::store::User| {
            json!({"userName": name.as_str(), "path": user.path.as_str(),
        "permissionsBoundary": a.permissions_boundary})
        },
        |s| {
            s.create_user(
                &NewUser {
                    name: name.clone(),
                    path,
                    tags,
                    permissions_boundary: a.permissions_boundary.clone(),
                },
                ctx.now,
            )
        },
    )?;
    ctx.publish_accounts()?;
    if !is_linux_login_name(name.as_str()) {
        crate::say!(
            "warning: {name} is not a valid Linux login name (^[a-z_][a-z0-9_-]*$, at most 32 characters); \
             this user exists in IAM but cannot log in to a host"
        );
    }
    Ok(json!({"User": shapes::user(&user, true)}))
}

pub fn get_user(ctx: &mut Ctx, a: &cli::OptUserName) -> Result<Value, CliError> {
    let name = match (&a.user_name, &ctx.caller) {
        (Some(n), _) => parse_user(n)?,
        (None, Caller::User(p)) => parse_user(&p.name)?,
        (None, Caller::AssumedRole(_)) => {
            return Err(CliError::new(
                "ValidationError",
                "Must specify userName when calling with non-User credentials",
            ));
        }
        (None, Caller::Root) => {
            return Ok(json!({"User": {
                "UserId": ctx.account.as_str(),
                "Arn": ctx.caller_arn(),
            }}));
        }
    };
    ctx.authorize(&ctx.user_arn(&name))?;
    let user = ctx.store.get_user(&name)?;
    Ok(json!({"User": shapes::user(&user, true)}))
}

pub fn list_users(ctx: &mut Ctx, a: &cli::PathPrefix) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let users = ctx.store.list_users(a.path_prefix.as_deref())?;
    let users: Vec<Value> = users.iter().map(|u| shapes::user(u, false)).collect();
    // Not `json!`: it would serialize the whole list into a second copy
    // (a third of ListUsers' CPU at 100,000 users; bench/README.md).
    Ok(Value::Object(serde_json::Map::from_iter([(
        "Users".to_owned(),
        Value::Array(users),
    )])))
}

/// One page of `ListUsers` (iam-server: `MaxItems`, `Marker`), read from
/// the store's name index: at most `max_items` users after `after`, and
/// whether more follow. Its cost does not grow with the directory.
pub fn list_users_page(
    ctx: &mut Ctx,
    path_prefix: Option<&str>,
    after: Option<&str>,
    max_items: usize,
) -> Result<(Value, Option<String>), CliError> {
    ctx.authorize("*")?;
    let mut users =
        ctx.store
            .list_users_page(path_prefix, after, Some(max_items.saturating_add(1)))?;
    let more = users.len() > max_items;
    users.truncate(max_items);
    let last = more
        .then(|| users.last().map(|u| u.name.to_string()))
        .flatten();
    let listed: Vec<Value> = users.iter().map(|u| shapes::user(u, false)).collect();
    Ok((json!({"Users": listed, "IsTruncated": more}), last))
}

pub fn delete_user(ctx: &mut Ctx, a: &cli::UserName) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    ctx.commit(
        |_| json!({"userName": name.as_str()}),
        |s| s.delete_user(&name),
    )?;
    ctx.publish_accounts()?;
    Ok(Value::Null)
}

pub fn update_user(ctx: &mut Ctx, a: &cli::UpdateUserArgs) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    let new_name = a.new_user_name.as_deref().map(parse_user).transpose()?;
    let new_path: Option<IamPath> = a
        .new_path
        .as_deref()
        .map(|p| parse_path(Some(p)))
        .transpose()?;
    let old = ctx.store.find_user(&name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    // As AWS: the caller needs the action on the old and on the new ARN.
    if let Some(old) = old
        && (new_name.is_some() || new_path.is_some())
    {
        ctx.authorize(&user_arn(
            &ctx.account,
            new_path.as_ref().unwrap_or(&old.path),
            new_name.as_ref().unwrap_or(&old.name),
        ))?;
    }
    ctx.commit(|_| json!({"userName": name.as_str(), "newUserName": a.new_user_name, "newPath": a.new_path}),
        |s| s.update_user(&name, new_name.as_ref(), new_path.as_ref()),
    )?;
    ctx.publish_accounts()?;
    Ok(Value::Null)
}

pub fn tag_user(ctx: &mut Ctx, a: &cli::TagUserArgs) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    let tags = parse_tags(ctx, &a.tags.tags)?;
    let arn = ctx.user_arn(&name);
    super::tag_entity(ctx, &arn, ("userName", name.as_str()), &tags, |s| {
        s.tag_user(&name, &tags)
    })
}

pub fn untag_user(ctx: &mut Ctx, a: &cli::UntagUserArgs) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    let keys = parse_tag_keys(&a.tag_keys.tag_keys)?;
    let arn = ctx.user_arn(&name);
    super::untag_entity(ctx, &arn, ("userName", name.as_str()), &keys, |s| {
        s.untag_user(&name, &keys)
    })
}

pub fn list_user_tags(ctx: &mut Ctx, a: &cli::UserName) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    let user = ctx.store.get_user(&name)?;
    Ok(json!({"Tags": shapes::tags(&user.tags)}))
}

pub fn unlock_user(ctx: &mut Ctx, a: &cli::UserName) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    ctx.store.get_user(&name)?;
    ctx.commit(
        |_| json!({"userName": name.as_str()}),
        |s| s.ledger().reset_failures(name.as_str()),
    )?;
    Ok(Value::Null)
}

// ---- passwords -------------------------------------------------------------

/// Old hashes kept per user: AWS's maximum PasswordReusePrevention, so a
/// stricter policy set later still has the history it needs.
const KEEP_HISTORY: u32 = 24;

/// The policy in force: the stored one, or AWS's default when none is set.
fn password_policy(ctx: &Ctx) -> Result<(PasswordPolicy, bool), CliError> {
    Ok(match ctx.store.get_password_policy()? {
        Some(p) => (p, true),
        None => (PasswordPolicy::default(), false),
    })
}

/// Checks `password` for `user` against the policy (reuse included).
fn check_password(ctx: &Ctx, user: &UserName, password: &SecretString) -> Result<(), CliError> {
    let (policy, _) = password_policy(ctx)?;
    // The current password counts as the first "previous" one.
    let history = match policy.password_reuse_prevention {
        Some(n) => {
            let mut h: Vec<String> = ctx
                .store
                .get_login_profile(user)
                .map(|p| vec![p.password_hash])
                .unwrap_or_default();
            h.extend(ctx.store.password_history(user, n)?);
            h
        }
        None => Vec::new(),
    };
    policy
        .check(password, user.as_str(), &history)
        .map_err(|v| CliError::new("PasswordPolicyViolation", v.to_string()))
}

fn hash(password: &SecretString) -> Result<String, CliError> {
    hash_password(password).map_err(|e| CliError::new("ServiceFailure", e.to_string()))
}

/// AWS takes passwords as flags; iamctl refuses them there (argv is
/// visible to every process and lands in shell history).
fn no_argv_passwords(given: &[&Option<String>]) -> Result<(), CliError> {
    if given.iter().any(|g| g.is_some()) {
        return Err(CliError::invalid_input(
            "iamctl never takes passwords from the command line: leave the flag out and type the password at the prompt, or give it on stdin",
        ));
    }
    Ok(())
}

pub fn create_login_profile(ctx: &mut Ctx, a: &cli::LoginProfileArgs) -> Result<Value, CliError> {
    no_argv_passwords(&[&a.argv_password])?;
    let name = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    ctx.store.get_user(&name)?;
    let password = ctx.secrets.read_new(Secret::Password)?;
    check_password(ctx, &name, &password)?;
    let reset = tri(a.password_reset_required, a.no_password_reset_required).unwrap_or(false);
    let hashed = hash(&password)?;
    let profile = ctx.commit(
        |_| json!({"userName": name.as_str(), "passwordResetRequired": reset}),
        |s| s.create_login_profile(&name, &hashed, reset, ctx.now),
    )?;
    Ok(json!({"LoginProfile": shapes::login_profile(&profile)}))
}

pub fn update_login_profile(
    ctx: &mut Ctx,
    a: &cli::UpdateLoginProfileArgs,
) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    let current = ctx.store.get_login_profile(&name)?;
    let reset = tri(a.password_reset_required, a.no_password_reset_required);
    // At a prompt, as the AWS CLI: a password unless only the flag is set;
    // in a request, a password when one is given.
    let set_password = match &ctx.secrets {
        Secrets::Prompt { .. } => a.password || reset.is_none(),
        Secrets::Given(_) => ctx.secrets.offers(Secret::Password),
    };
    let hashed = if set_password {
        let password = ctx.secrets.read_new(Secret::Password)?;
        check_password(ctx, &name, &password)?;
        Some(hash(&password)?)
    } else {
        None
    };
    ctx.commit(
        |_| {
            json!({"userName": name.as_str(), "passwordResetRequired": reset,
            "passwordChanged": hashed.is_some()})
        },
        |s| match (&hashed, reset) {
            (Some(h), _) => s.set_password(
                &name,
                h,
                reset.unwrap_or(current.password_reset_required),
                KEEP_HISTORY,
                ctx.now,
            ),
            (None, Some(reset)) => s.set_password_reset_required(&name, reset),
            (None, None) => Ok(()),
        },
    )?;
    Ok(Value::Null)
}

pub fn get_login_profile(ctx: &mut Ctx, a: &cli::UserName) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    let profile = ctx.store.get_login_profile(&name)?;
    Ok(json!({"LoginProfile": shapes::login_profile(&profile)}))
}

pub fn delete_login_profile(ctx: &mut Ctx, a: &cli::UserName) -> Result<Value, CliError> {
    let name = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    ctx.commit(
        |_| json!({"userName": name.as_str()}),
        |s| s.delete_login_profile(&name),
    )?;
    Ok(Value::Null)
}

/// Self-service: the caller's own password. As in AWS, a password policy
/// with AllowUsersToChangePassword lets every user do this without a policy
/// (an explicit Deny still wins); otherwise `iam:ChangePassword` on the
/// user's own ARN must be allowed.
///
/// The old password is checked as a login checks it
/// ([`iam::factors::check_current_password`]): a wrong one counts towards the
/// lockout, a locked user is refused, and every attempt is audited.
pub fn change_password(ctx: &mut Ctx, a: &cli::ChangePasswordArgs) -> Result<Value, CliError> {
    no_argv_passwords(&[&a.argv_old_password, &a.argv_new_password])?;
    let Some(name) = ctx.caller_user() else {
        return Err(CliError::new(
            "InvalidUserType",
            "change-password changes the calling IAM user's own password; the root user sets passwords with update-login-profile",
        ));
    };
    let arn = ctx.user_arn(&name);
    let (policy, explicit) = password_policy(ctx)?;
    let implicit_grant = explicit
        && policy.allow_users_to_change_password
        && !super::explicitly_denied(ctx, "iam:ChangePassword", &arn);
    if !implicit_grant {
        ctx.authorize(&arn)?;
    }
    let profile = ctx.store.get_login_profile(&name)?;
    let old = ctx.secrets.read(Secret::OldPassword)?;
    let params = json!({"userName": name.as_str()});
    let checked = check_current_password(
        &ctx.store.ledger(),
        &ctx.config.lockout,
        name.as_str(),
        &profile.password_hash,
        &old,
        ctx.now,
    )?;
    let refused = match checked {
        CurrentPassword::Right => None,
        CurrentPassword::Wrong { .. } => {
            Some(CliError::invalid_input("The old password is incorrect."))
        }
        CurrentPassword::Locked => Some(CliError::new(
            "LimitExceeded",
            format!(
                "Too many failed sign-in attempts: {name} is locked out. Try again later, \
                 or ask an administrator to run unlock-user."
            ),
        )),
    };
    if let Some(e) = refused {
        ctx.audit_refused(params, &e.code, checked.reason());
        return Err(e);
    }
    let changed = ctx.secrets.read_new(Secret::NewPassword).and_then(|new| {
        check_password(ctx, &name, &new)?;
        let hashed = hash(&new)?;
        ctx.commit(
            |_| params.clone(),
            |s| s.set_password(&name, &hashed, false, KEEP_HISTORY, ctx.now),
        )
    });
    if let Err(e) = &changed {
        ctx.audit_refused(params, &e.code, &e.message);
    }
    changed.map(|()| Value::Null)
}

pub fn update_account_password_policy(
    ctx: &mut Ctx,
    a: &cli::PasswordPolicyArgs,
) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    // As AWS: a parameter left out takes its default, not its old value.
    let policy = PasswordPolicy {
        minimum_password_length: a.minimum_password_length.unwrap_or(6),
        require_symbols: tri(a.require_symbols, a.no_require_symbols).unwrap_or(false),
        require_numbers: tri(a.require_numbers, a.no_require_numbers).unwrap_or(false),
        require_uppercase_characters: tri(
            a.require_uppercase_characters,
            a.no_require_uppercase_characters,
        )
        .unwrap_or(false),
        require_lowercase_characters: tri(
            a.require_lowercase_characters,
            a.no_require_lowercase_characters,
        )
        .unwrap_or(false),
        allow_users_to_change_password: tri(
            a.allow_users_to_change_password,
            a.no_allow_users_to_change_password,
        )
        .unwrap_or(false),
        max_password_age: a.max_password_age,
        password_reuse_prevention: a.password_reuse_prevention,
        hard_expiry: tri(a.hard_expiry, a.no_hard_expiry).unwrap_or(false),
    };
    policy
        .validate()
        .map_err(|e| CliError::new("ValidationError", e.to_string()))?;
    ctx.commit(
        |_| serde_json::to_value(&policy).unwrap_or(Value::Null),
        |s| s.set_password_policy(&policy),
    )?;
    Ok(Value::Null)
}

pub fn get_account_password_policy(ctx: &mut Ctx) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let Some(policy) = ctx.store.get_password_policy()? else {
        return Err(CliError::new(
            "NoSuchEntity",
            format!(
                "The Password Policy with domain name {} cannot be found.",
                ctx.account
            ),
        ));
    };
    let mut v = serde_json::to_value(&policy).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "ExpirePasswords".into(),
            json!(policy.max_password_age.is_some()),
        );
    }
    Ok(json!({"PasswordPolicy": v}))
}

pub fn delete_account_password_policy(ctx: &mut Ctx) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    ctx.commit(|_| json!({}), |s| s.delete_password_policy())?;
    Ok(Value::Null)
}
