//! Groups and membership.

use super::{parse_group, parse_path, parse_user};
use crate::cli;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::shapes;
use iam::names::{GroupName, IamPath, group_arn};
use serde_json::{Value, json};

fn arn(ctx: &Ctx, name: &GroupName) -> String {
    match ctx.store.get_group(name) {
        Ok(g) => g.arn,
        Err(_) => group_arn(&ctx.account, &IamPath::root(), name),
    }
}

pub fn create_group(ctx: &mut Ctx, a: &cli::CreateGroupArgs) -> Result<Value, CliError> {
    let name = parse_group(&a.group_name)?;
    let path = parse_path(a.path.as_deref())?;
    ctx.authorize(&group_arn(&ctx.account, &path, &name))?;
    let group = ctx.commit(
        |_| json!({"groupName": name.as_str(), "path": path.as_str()}),
        |s| s.create_group(&name, &path, ctx.now),
    )?;
    ctx.publish_accounts()?;
    Ok(json!({"Group": shapes::group(&group)}))
}

pub fn get_group(ctx: &mut Ctx, a: &cli::GroupName) -> Result<Value, CliError> {
    let name = parse_group(&a.group_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    let group = ctx.store.get_group(&name)?;
    let users = ctx.store.users_in_group(&name)?;
    Ok(json!({
        "Users": users.iter().map(|u| shapes::user(u, false)).collect::<Vec<_>>(),
        "Group": shapes::group(&group),
    }))
}

pub fn list_groups(ctx: &mut Ctx, a: &cli::PathPrefix) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let groups = ctx.store.list_groups(a.path_prefix.as_deref())?;
    Ok(json!({"Groups": groups.iter().map(shapes::group).collect::<Vec<_>>()}))
}

pub fn delete_group(ctx: &mut Ctx, a: &cli::GroupName) -> Result<Value, CliError> {
    let name = parse_group(&a.group_name)?;
    ctx.authorize(&arn(ctx, &name))?;
    ctx.commit(
        |_| json!({"groupName": name.as_str()}),
        |s| s.delete_group(&name),
    )?;
    ctx.publish_accounts()?;
    Ok(Value::Null)
}

/// `UpdateGroup`: rename and/or move; the gid stays. A new name that
/// shadows a local account is refused (the store's rule).
pub fn update_group(ctx: &mut Ctx, a: &cli::UpdateGroupArgs) -> Result<Value, CliError> {
    let name = parse_group(&a.group_name)?;
    let new_name = a.new_group_name.as_deref().map(parse_group).transpose()?;
    let new_path = a
        .new_path
        .as_deref()
        .map(|p| parse_path(Some(p)))
        .transpose()?;
    let old = ctx.store.get_group(&name).ok();
    ctx.authorize(&arn(ctx, &name))?;
    // As AWS: the caller needs the action on the old and on the new ARN.
    if let Some(old) = old
        && (new_name.is_some() || new_path.is_some())
    {
        ctx.authorize(&group_arn(
            &ctx.account,
            new_path.as_ref().unwrap_or(&old.path),
            new_name.as_ref().unwrap_or(&old.name),
        ))?;
    }
    ctx.commit(
        |_| {
            json!({"groupName": name.as_str(), "newGroupName": a.new_group_name,
            "newPath": a.new_path})
        },
        |s| s.update_group(&name, new_name.as_ref(), new_path.as_ref()),
    )?;
    ctx.publish_accounts()?;
    Ok(Value::Null)
}

pub fn add_user_to_group(ctx: &mut Ctx, a: &cli::GroupMemberArgs) -> Result<Value, CliError> {
    let group = parse_group(&a.group_name)?;
    let user = parse_user(&a.user_name)?;
    ctx.authorize(&arn(ctx, &group))?;
    ctx.commit(
        |_| json!({"groupName": group.as_str(), "userName": user.as_str()}),
        |s| s.add_user_to_group(&user, &group),
    )?;
    ctx.publish_accounts()?;
    Ok(Value::Null)
}

pub fn remove_user_from_group(ctx: &mut Ctx, a: &cli::GroupMemberArgs) -> Result<Value, CliError> {
    let group = parse_group(&a.group_name)?;
    let user = parse_user(&a.user_name)?;
    ctx.authorize(&arn(ctx, &group))?;
    ctx.commit(
        |_| json!({"groupName": group.as_str(), "userName": user.as_str()}),
        |s| s.remove_user_from_group(&user, &group),
    )?;
    ctx.publish_accounts()?;
    Ok(Value::Null)
}

pub fn list_groups_for_user(ctx: &mut Ctx, a: &cli::UserName) -> Result<Value, CliError> {
    let user = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&user))?;
    let groups = ctx.store.groups_for_user(&user)?;
    Ok(json!({"Groups": groups.iter().map(shapes::group).collect::<Vec<_>>()}))
}
