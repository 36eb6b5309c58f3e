//! Roles: trust policy, description, session duration, tags.

use super::{parse_path, parse_role, parse_tag_keys, parse_tags};
use crate::cli;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::shapes;
use iam::names::{IamPath, RoleName, role_arn};
use iam::store::NewRole;
use serde_json::{Value, json};

fn arn(ctx: &Ctx, name: &RoleName) -> String {
    match ctx.store.get_role(name) {
        Ok(r) => r.arn,
        Err(_) => role_arn(&ctx.account, &IamPath::root(), name),
    }
}

pub fn create_role(ctx: &mut Ctx, a: &cli::CreateRoleArgs) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    let path = parse_path(a.path.as_deref())?;
    let tags = parse_tags(ctx, &a.tags.tags)?;
    let trust = ctx.document(&a.assume_role_policy_document)?;
    ctx.authorize_with(
        "iam:CreateRole",
        &role_arn(&ctx.account, &path, &name),
        |c| {
            if let Some(b) = &a.permissions_boundary {
                c.set("iam:PermissionsBoundary", b.clone());
            }
            if !tags.is_empty() {
                iam::request::set_request_tags(c, &tags);
            }
        },
    )?;
    if let Some(b) = &a.permissions_boundary {
        ctx.store.get_policy(b)?;
    }
    let new = NewRole {
        name: name.clone(),
        path,
        assume_role_policy_document: trust.clone(),
        description: a.description.clone(),
        max_session_duration: a.max_session_duration,
        tags,
        permissions_boundary: a.permissions_boundary.clone(),
    };
    let role = ctx.commit(
        |role: &iam::store::Role| {
            json!({"roleName": name.as_str(), "path": role.path.as_str(),
            "assumeRolePolicyDocument": shapes::document(&trust),
            "description": a.description, "maxSessionDuration": a.max_session_duration,
            "permissionsBoundary": a.permissions_boundary})
        },
        |s| s.create_role(&new, ctx.now),
    )?;
    ctx.note_findings(&trust, iam::policy::PolicyKind::Trust);
    Ok(json!({"Role": shapes::role(&role, false)}))
}

pub fn get_role(ctx: &mut Ctx, a: &cli::RoleName) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    let role = ctx.store.get_role(&name)?;
    Ok(json!({"Role": shapes::role(&role, true)}))
}

pub fn list_roles(ctx: &mut Ctx, a: &cli::PathPrefix) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let roles = ctx.store.list_roles(a.path_prefix.as_deref())?;
    Ok(json!({"Roles": roles.iter().map(|r| shapes::role(r, false)).collect::<Vec<_>>()}))
}

pub fn delete_role(ctx: &mut Ctx, a: &cli::RoleName) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    ctx.commit(
        |_| json!({"roleName": name.as_str()}),
        |s| s.delete_role(&name),
    )?;
    Ok(Value::Null)
}

pub fn update_role(ctx: &mut Ctx, a: &cli::UpdateRoleArgs) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    let description = a
        .description
        .as_deref()
        .map(|d| (!d.is_empty()).then_some(d));
    ctx.commit(
        |_| {
            json!({"roleName": name.as_str(), "description": a.description,
        "maxSessionDuration": a.max_session_duration})
        },
        |s| s.update_role(&name, description, a.max_session_duration),
    )?;
    Ok(Value::Null)
}

pub fn update_assume_role_policy(
    ctx: &mut Ctx,
    a: &cli::UpdateAssumeRolePolicyArgs,
) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    let trust = ctx.document(&a.policy_document)?;
    ctx.authorize(&arn(ctx, &name))?;
    ctx.commit(
        |_| json!({"roleName": name.as_str(), "policyDocument": shapes::document(&trust)}),
        |s| s.update_assume_role_policy(&name, &trust),
    )?;
    ctx.note_findings(&trust, iam::policy::PolicyKind::Trust);
    Ok(Value::Null)
}

pub fn tag_role(ctx: &mut Ctx, a: &cli::TagRoleArgs) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    let tags = parse_tags(ctx, &a.tags.tags)?;
    let arn = arn(ctx, &name);
    super::tag_entity(ctx, &arn, ("roleName", name.as_str()), &tags, |s| {
        s.tag_role(&name, &tags)
    })
}

pub fn untag_role(ctx: &mut Ctx, a: &cli::UntagRoleArgs) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    let keys = parse_tag_keys(&a.tag_keys.tag_keys)?;
    let arn = arn(ctx, &name);
    super::untag_entity(ctx, &arn, ("roleName", name.as_str()), &keys, |s| {
        s.untag_role(&name, &keys)
    })
}

pub fn list_role_tags(ctx: &mut Ctx, a: &cli::RoleName) -> Result<Value, CliError> {
    let name = parse_role(&a.role_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    let role = ctx.store.get_role(&name)?;
    Ok(json!({"Tags": shapes::tags(&role.tags)}))
}
