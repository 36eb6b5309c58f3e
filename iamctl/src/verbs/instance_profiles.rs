//! Instance profiles: the container that hands one role to enrolled hosts,
//! as EC2's hands one to an instance (docs/ARCHITECTURE.md, "hosts as
//! principals"). Each verb authorizes `iam:<Operation>` on the profile's
//! ARN; adding a role also needs `iam:PassRole` on the role, as in AWS.

use super::{parse_path, parse_role, parse_tag_keys, parse_tags};
use crate::cli;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::shapes;
use iam::names::{IamPath, InstanceProfileName, instance_profile_arn};
use iam::store::NewInstanceProfile;
use serde_json::{Value, json};

fn parse_name(s: &str) -> Result<InstanceProfileName, CliError> {
    Ok(InstanceProfileName::parse(s)?)
}

/// The stored profile's ARN (its path), or the root path's for one that
/// does not exist (the store then answers NoSuchEntity).
fn arn(ctx: &Ctx, name: &InstanceProfileName) -> String {
    match ctx.store.get_instance_profile(name) {
        Ok(p) => p.arn,
        Err(_) => instance_profile_arn(&ctx.account, &IamPath::root(), name),
    }
}

pub fn create(ctx: &mut Ctx, a: &cli::CreateInstanceProfileArgs) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    let path = parse_path(a.path.as_deref())?;
    let tags = parse_tags(ctx, &a.tags.tags)?;
    ctx.authorize_with(
        "iam:CreateInstanceProfile",
        &instance_profile_arn(&ctx.account, &path, &name),
        |c| {
            if !tags.is_empty() {
                iam::request::set_request_tags(c, &tags);
            }
        },
    )?;
    let new = NewInstanceProfile {
        name: name.clone(),
        path,
        tags,
    };
    let profile = ctx.commit(
        |p: &iam::store::InstanceProfile| {
            json!({"instanceProfileName": name.as_str(), "path": p.path.as_str(),
                   "tags": shapes::tags(&p.tags)})
        },
        |s| s.create_instance_profile(&new, ctx.now),
    )?;
    Ok(json!({"InstanceProfile": shapes::instance_profile(&profile)}))
}

pub fn get(ctx: &mut Ctx, a: &cli::InstanceProfileName) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    let profile = ctx.store.get_instance_profile(&name)?;
    Ok(json!({"InstanceProfile": shapes::instance_profile(&profile)}))
}

pub fn list(ctx: &mut Ctx, a: &cli::PathPrefix) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let profiles = ctx.store.list_instance_profiles(a.path_prefix.as_deref())?;
    Ok(
        json!({"InstanceProfiles": profiles.iter().map(shapes::instance_profile).collect::<Vec<_>>()}),
    )
}

pub fn list_for_role(ctx: &mut Ctx, a: &cli::RoleName) -> Result<Value, CliError> {
    let role = parse_role(&a.role_name)?;
    let role_arn = match ctx.store.get_role(&role) {
        Ok(r) => r.arn,
        Err(_) => iam::names::role_arn(&ctx.account, &IamPath::root(), &role),
    };
    ctx.authorize(&role_arn)?;
    let profiles = ctx.store.list_instance_profiles_for_role(&role)?;
    Ok(
        json!({"InstanceProfiles": profiles.iter().map(shapes::instance_profile).collect::<Vec<_>>()}),
    )
}

pub fn delete(ctx: &mut Ctx, a: &cli::InstanceProfileName) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    ctx.commit(
        |_| json!({"instanceProfileName": name.as_str()}),
        |s| s.delete_instance_profile(&name),
    )?;
    Ok(Value::Null)
}

pub fn add_role(ctx: &mut Ctx, a: &cli::InstanceProfileRoleArgs) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    let role = parse_role(&a.role_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    // AWS: adding a role to a profile passes it (to whatever the profile
    // is given to), so the caller must be allowed to pass that role.
    let stored = ctx.store.get_role(&role)?;
    ctx.authorize_with("iam:PassRole", &stored.arn, |_| {})?;
    ctx.commit(
        |_| json!({"instanceProfileName": name.as_str(), "roleName": role.as_str()}),
        |s| s.add_role_to_instance_profile(&name, &role),
    )?;
    Ok(Value::Null)
}

pub fn remove_role(ctx: &mut Ctx, a: &cli::InstanceProfileRoleArgs) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    let role = parse_role(&a.role_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    ctx.commit(
        |_| json!({"instanceProfileName": name.as_str(), "roleName": role.as_str()}),
        |s| s.remove_role_from_instance_profile(&name, &role),
    )?;
    Ok(Value::Null)
}

pub fn tag(ctx: &mut Ctx, a: &cli::TagInstanceProfileArgs) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    let tags = parse_tags(ctx, &a.tags.tags)?;
    let arn = arn(ctx, &name);
    let named = ("instanceProfileName", name.as_str());
    super::tag_entity(ctx, &arn, named, &tags, |s| {
        s.tag_instance_profile(&name, &tags)
    })
}

pub fn untag(ctx: &mut Ctx, a: &cli::UntagInstanceProfileArgs) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    let keys = parse_tag_keys(&a.tag_keys.tag_keys)?;
    let arn = arn(ctx, &name);
    let named = ("instanceProfileName", name.as_str());
    super::untag_entity(ctx, &arn, named, &keys, |s| {
        s.untag_instance_profile(&name, &keys)
    })
}

pub fn list_tags(ctx: &mut Ctx, a: &cli::InstanceProfileName) -> Result<Value, CliError> {
    let name = parse_name(&a.instance_profile_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    let profile = ctx.store.get_instance_profile(&name)?;
    Ok(json!({"Tags": shapes::tags(&profile.tags)}))
}
