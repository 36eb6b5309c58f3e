//! Managed policies and their versions, attachments, inline policies and
//! permissions boundaries.

use super::{parse_path, parse_policy_name, parse_tags};
use crate::cli::{self, PolicyScope, tri};
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::shapes;
use iam::names::{IamPath, group_arn, policy_arn, role_arn};
use iam::policy::PolicyKind;
use iam::store::Entity;
use serde_json::{Value, json};

/// The entity's ARN as stored (path included), or at `/` if it is unknown.
pub fn entity_arn(ctx: &Ctx, e: &Entity) -> String {
    let root = IamPath::root();
    match e {
        Entity::User(n) => ctx.user_arn(n),
        Entity::Group(n) => ctx
            .store
            .get_group(n)
            .map(|g| g.arn)
            .unwrap_or_else(|_| group_arn(&ctx.account, &root, n)),
        Entity::Role(n) => ctx
            .store
            .get_role(n)
            .map(|r| r.arn)
            .unwrap_or_else(|_| role_arn(&ctx.account, &root, n)),
    }
}

/// `("UserName", "bob")` etc., for AWS's output and audit parameters.
fn entity_key(e: &Entity) -> (&'static str, &str) {
    match e {
        Entity::User(n) => ("UserName", n.as_str()),
        Entity::Group(n) => ("GroupName", n.as_str()),
        Entity::Role(n) => ("RoleName", n.as_str()),
    }
}

fn audit_key(e: &Entity) -> (&'static str, &str) {
    match e {
        Entity::User(n) => ("userName", n.as_str()),
        Entity::Group(n) => ("groupName", n.as_str()),
        Entity::Role(n) => ("roleName", n.as_str()),
    }
}

pub fn create_policy(ctx: &mut Ctx, a: &cli::CreatePolicyArgs) -> Result<Value, CliError> {
    let name = parse_policy_name(&a.policy_name)?;
    let path = parse_path(a.path.as_deref())?;
    if !parse_tags(ctx, &a.tags.tags)?.is_empty() {
        return Err(CliError::invalid_input(
            "tags on managed policies are not supported by this store",
        ));
    }
    let document = ctx.document(&a.policy_document)?;
    ctx.authorize(&policy_arn(&ctx.account, &path, &name))?;
    let policy = ctx.commit(
        |_| {
            json!({"policyName": name.as_str(), "path": path.as_str(),
        "description": a.description, "policyDocument": shapes::document(&document)})
        },
        |s| s.create_policy(&name, &path, a.description.as_deref(), &document, ctx.now),
    )?;
    ctx.note_findings(&document, PolicyKind::Managed);
    Ok(json!({"Policy": shapes::policy(&policy)}))
}

pub fn get_policy(ctx: &mut Ctx, a: &cli::PolicyArn) -> Result<Value, CliError> {
    ctx.authorize(&a.policy_arn)?;
    let policy = ctx.store.get_policy(&a.policy_arn)?;
    Ok(json!({"Policy": shapes::policy(&policy)}))
}

pub fn get_policy_version(ctx: &mut Ctx, a: &cli::PolicyVersionArgs) -> Result<Value, CliError> {
    ctx.authorize(&a.policy_arn)?;
    let v = ctx.store.get_policy_version(&a.policy_arn, &a.version_id)?;
    Ok(json!({"PolicyVersion": shapes::policy_version(&v, true)}))
}

pub fn list_policies(ctx: &mut Ctx, a: &cli::ListPoliciesArgs) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    // AWS managed policies are here only when an import brought them.
    let only_attached = tri(a.only_attached, a.no_only_attached).unwrap_or(false);
    let policies: Vec<_> = ctx
        .store
        .list_policies(a.path_prefix.as_deref(), only_attached)?
        .into_iter()
        .filter(|p| match a.scope {
            PolicyScope::All => true,
            PolicyScope::Aws => p.aws_managed,
            PolicyScope::Local => !p.aws_managed,
        })
        .collect();
    Ok(json!({"Policies": policies.iter().map(shapes::policy).collect::<Vec<_>>()}))
}

pub fn delete_policy(ctx: &mut Ctx, a: &cli::PolicyArn) -> Result<Value, CliError> {
    ctx.authorize(&a.policy_arn)?;
    ctx.commit(
        |_| json!({"policyArn": a.policy_arn}),
        |s| s.delete_policy(&a.policy_arn),
    )?;
    Ok(Value::Null)
}

pub fn create_policy_version(
    ctx: &mut Ctx,
    a: &cli::CreatePolicyVersionArgs,
) -> Result<Value, CliError> {
    let document = ctx.document(&a.policy_document)?;
    ctx.authorize(&a.policy_arn)?;
    let set_default = tri(a.set_as_default, a.no_set_as_default).unwrap_or(false);
    let v = ctx.commit(
        |_| {
            json!({"policyArn": a.policy_arn, "setAsDefault": set_default,
        "policyDocument": shapes::document(&document)})
        },
        |s| s.create_policy_version(&a.policy_arn, &document, set_default, ctx.now),
    )?;
    ctx.note_findings(&document, PolicyKind::Managed);
    Ok(json!({"PolicyVersion": shapes::policy_version(&v, false)}))
}

pub fn delete_policy_version(ctx: &mut Ctx, a: &cli::PolicyVersionArgs) -> Result<Value, CliError> {
    ctx.authorize(&a.policy_arn)?;
    ctx.commit(
        |_| json!({"policyArn": a.policy_arn, "versionId": a.version_id}),
        |s| s.delete_policy_version(&a.policy_arn, &a.version_id),
    )?;
    Ok(Value::Null)
}

pub fn set_default_policy_version(
    ctx: &mut Ctx,
    a: &cli::PolicyVersionArgs,
) -> Result<Value, CliError> {
    ctx.authorize(&a.policy_arn)?;
    ctx.commit(
        |_| json!({"policyArn": a.policy_arn, "versionId": a.version_id}),
        |s| s.set_default_policy_version(&a.policy_arn, &a.version_id, ctx.now),
    )?;
    Ok(Value::Null)
}

pub fn list_policy_versions(ctx: &mut Ctx, a: &cli::PolicyArn) -> Result<Value, CliError> {
    ctx.authorize(&a.policy_arn)?;
    let versions = ctx.store.list_policy_versions(&a.policy_arn)?;
    Ok(
        json!({"Versions": versions.iter().map(|v| shapes::policy_version(v, false)).collect::<Vec<_>>()}),
    )
}

pub fn list_entities_for_policy(ctx: &mut Ctx, a: &cli::PolicyArn) -> Result<Value, CliError> {
    ctx.authorize(&a.policy_arn)?;
    let (mut users, mut groups, mut roles) = (Vec::new(), Vec::new(), Vec::new());
    for e in ctx.store.list_entities_for_policy(&a.policy_arn)? {
        match e {
            Entity::User(n) => {
                let u = ctx.store.get_user(&n)?;
                users.push(json!({"UserName": n.as_str(), "UserId": u.id}));
            }
            Entity::Group(n) => {
                let g = ctx.store.get_group(&n)?;
                groups.push(json!({"GroupName": n.as_str(), "GroupId": g.id}));
            }
            Entity::Role(n) => {
                let r = ctx.store.get_role(&n)?;
                roles.push(json!({"RoleName": n.as_str(), "RoleId": r.id}));
            }
        }
    }
    Ok(json!({"PolicyGroups": groups, "PolicyUsers": users, "PolicyRoles": roles}))
}

pub fn attach(ctx: &mut Ctx, e: Entity, policy_arn: &str) -> Result<Value, CliError> {
    let action = format!("iam:{}", ctx.operation);
    ctx.authorize_with(&action, &entity_arn(ctx, &e), |c| {
        c.set("iam:PolicyARN", policy_arn.to_owned());
    })?;
    let (k, v) = audit_key(&e);
    ctx.commit(
        |_| json!({k: v, "policyArn": policy_arn}),
        |s| s.attach_policy(&e, policy_arn),
    )?;
    Ok(Value::Null)
}

pub fn detach(ctx: &mut Ctx, e: Entity, policy_arn: &str) -> Result<Value, CliError> {
    let action = format!("iam:{}", ctx.operation);
    ctx.authorize_with(&action, &entity_arn(ctx, &e), |c| {
        c.set("iam:PolicyARN", policy_arn.to_owned());
    })?;
    let (k, v) = audit_key(&e);
    ctx.commit(
        |_| json!({k: v, "policyArn": policy_arn}),
        |s| s.detach_policy(&e, policy_arn),
    )?;
    Ok(Value::Null)
}

pub fn list_attached(
    ctx: &mut Ctx,
    e: Entity,
    path_prefix: Option<&str>,
) -> Result<Value, CliError> {
    ctx.authorize(&entity_arn(ctx, &e))?;
    let attached = ctx.store.list_attached_policies(&e)?;
    let list: Vec<Value> = attached
        .iter()
        .filter(|p| {
            path_prefix.is_none_or(|pre| {
                iam::names::IamArn::parse("PolicyArn", &p.arn).is_ok_and(|a| a.path.has_prefix(pre))
            })
        })
        .map(|p| json!({"PolicyName": p.name.as_str(), "PolicyArn": p.arn}))
        .collect();
    Ok(json!({"AttachedPolicies": list}))
}

pub fn put_inline(
    ctx: &mut Ctx,
    e: Entity,
    policy_name: &str,
    document: &str,
) -> Result<Value, CliError> {
    let name = parse_policy_name(policy_name)?;
    let document = ctx.document(document)?;
    ctx.authorize(&entity_arn(ctx, &e))?;
    let (k, v) = audit_key(&e);
    ctx.commit(|_| json!({k: v, "policyName": name.as_str(), "policyDocument": shapes::document(&document)}),
        |s| s.put_inline_policy(&e, &name, &document),
    )?;
    ctx.note_findings(&document, e.inline_policy_kind());
    Ok(Value::Null)
}

pub fn get_inline(ctx: &mut Ctx, e: Entity, policy_name: &str) -> Result<Value, CliError> {
    let name = parse_policy_name(policy_name)?;
    ctx.authorize(&entity_arn(ctx, &e))?;
    let p = ctx.store.get_inline_policy(&e, &name)?;
    let (k, v) = entity_key(&e);
    Ok(
        json!({k: v, "PolicyName": p.name.as_str(), "PolicyDocument": shapes::document(&p.document)}),
    )
}

pub fn delete_inline(ctx: &mut Ctx, e: Entity, policy_name: &str) -> Result<Value, CliError> {
    let name = parse_policy_name(policy_name)?;
    ctx.authorize(&entity_arn(ctx, &e))?;
    let (k, v) = audit_key(&e);
    ctx.commit(
        |_| json!({k: v, "policyName": name.as_str()}),
        |s| s.delete_inline_policy(&e, &name),
    )?;
    Ok(Value::Null)
}

pub fn list_inline(ctx: &mut Ctx, e: Entity) -> Result<Value, CliError> {
    ctx.authorize(&entity_arn(ctx, &e))?;
    let names: Vec<String> = ctx
        .store
        .list_inline_policies(&e)?
        .into_iter()
        .map(|p| p.name.to_string())
        .collect();
    Ok(json!({"PolicyNames": names}))
}

/// put-/delete-{user,role}-permissions-boundary.
pub fn put_boundary(
    ctx: &mut Ctx,
    e: Entity,
    boundary: Option<&String>,
) -> Result<Value, CliError> {
    let action = format!("iam:{}", ctx.operation);
    ctx.authorize_with(&action, &entity_arn(ctx, &e), |c| {
        if let Some(b) = boundary {
            c.set("iam:PermissionsBoundary", b.clone());
        }
    })?;
    if let Some(b) = boundary {
        ctx.store.get_policy(b)?;
    }
    if matches!(e, Entity::Group(_)) {
        return Err(CliError::invalid_input(
            "groups have no permissions boundary",
        ));
    }
    let (k, v) = audit_key(&e);
    ctx.commit(
        |_| json!({k: v, "permissionsBoundary": boundary}),
        |s| match &e {
            Entity::User(n) => s.set_user_permissions_boundary(n, boundary.map(String::as_str)),
            Entity::Role(n) => s.set_role_permissions_boundary(n, boundary.map(String::as_str)),
            Entity::Group(_) => Ok(()),
        },
    )?;
    Ok(Value::Null)
}
