//! The verbs that act on the store, one function per AWS operation, grouped
//! as the AWS CLI reference groups them. Each one: parse names → authorize
//! the caller on the entity's ARN → one store call (one transaction) →
//! audit → republish accounts if they changed → AWS-shaped output.

mod details;
mod groups;
mod instance_profiles;
mod mfa;
mod policies;
mod report;
mod roles;
mod ssh_keys;
mod users;

pub use users::list_users_page;

use crate::cli::Command;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::input;
use iam::names::{GroupName, IamPath, PolicyName, RoleName, Tag, TagKey, TagValue, UserName};
use iam::policy::Decision;
use serde_json::Value;

/// Runs one verb that needs the store.
pub fn run(ctx: &mut Ctx, cmd: &Command) -> Result<Value, CliError> {
    use Command as C;
    match cmd {
        C::CreateUser(a) => users::create_user(ctx, a),
        C::GetUser(a) => users::get_user(ctx, a),
        C::ListUsers(a) => users::list_users(ctx, a),
        C::DeleteUser(a) => users::delete_user(ctx, a),
        C::UpdateUser(a) => users::update_user(ctx, a),
        C::TagUser(a) => users::tag_user(ctx, a),
        C::UntagUser(a) => users::untag_user(ctx, a),
        C::ListUserTags(a) => users::list_user_tags(ctx, a),
        C::UnlockUser(a) => users::unlock_user(ctx, a),
        C::CreateLoginProfile(a) => users::create_login_profile(ctx, a),
        C::UpdateLoginProfile(a) => users::update_login_profile(ctx, a),
        C::GetLoginProfile(a) => users::get_login_profile(ctx, a),
        C::DeleteLoginProfile(a) => users::delete_login_profile(ctx, a),
        C::ChangePassword(a) => users::change_password(ctx, a),
        C::UpdateAccountPasswordPolicy(a) => users::update_account_password_policy(ctx, a),
        C::GetAccountPasswordPolicy => users::get_account_password_policy(ctx),
        C::DeleteAccountPasswordPolicy => users::delete_account_password_policy(ctx),

        C::CreateGroup(a) => groups::create_group(ctx, a),
        C::GetGroup(a) => groups::get_group(ctx, a),
        C::ListGroups(a) => groups::list_groups(ctx, a),
        C::DeleteGroup(a) => groups::delete_group(ctx, a),
        C::UpdateGroup(a) => groups::update_group(ctx, a),
        C::AddUserToGroup(a) => groups::add_user_to_group(ctx, a),
        C::RemoveUserFromGroup(a) => groups::remove_user_from_group(ctx, a),
        C::ListGroupsForUser(a) => groups::list_groups_for_user(ctx, a),

        C::CreatePolicy(a) => policies::create_policy(ctx, a),
        C::GetPolicy(a) => policies::get_policy(ctx, a),
        C::GetPolicyVersion(a) => policies::get_policy_version(ctx, a),
        C::ListPolicies(a) => policies::list_policies(ctx, a),
        C::DeletePolicy(a) => policies::delete_policy(ctx, a),
        C::CreatePolicyVersion(a) => policies::create_policy_version(ctx, a),
        C::DeletePolicyVersion(a) => policies::delete_policy_version(ctx, a),
        C::SetDefaultPolicyVersion(a) => policies::set_default_policy_version(ctx, a),
        C::ListPolicyVersions(a) => policies::list_policy_versions(ctx, a),
        C::ListEntitiesForPolicy(a) => policies::list_entities_for_policy(ctx, a),
        C::AttachUserPolicy(a) => policies::attach(ctx, user_entity(&a.user_name)?, &a.policy_arn),
        C::DetachUserPolicy(a) => policies::detach(ctx, user_entity(&a.user_name)?, &a.policy_arn),
        C::AttachGroupPolicy(a) => {
            policies::attach(ctx, group_entity(&a.group_name)?, &a.policy_arn)
        }
        C::DetachGroupPolicy(a) => {
            policies::detach(ctx, group_entity(&a.group_name)?, &a.policy_arn)
        }
        C::AttachRolePolicy(a) => policies::attach(ctx, role_entity(&a.role_name)?, &a.policy_arn),
        C::DetachRolePolicy(a) => policies::detach(ctx, role_entity(&a.role_name)?, &a.policy_arn),
        C::ListAttachedUserPolicies(a) => {
            policies::list_attached(ctx, user_entity(&a.user_name)?, a.path_prefix.as_deref())
        }
        C::ListAttachedGroupPolicies(a) => {
            policies::list_attached(ctx, group_entity(&a.group_name)?, a.path_prefix.as_deref())
        }
        C::ListAttachedRolePolicies(a) => {
            policies::list_attached(ctx, role_entity(&a.role_name)?, a.path_prefix.as_deref())
        }
        C::PutUserPolicy(a) => policies::put_inline(
            ctx,
            user_entity(&a.user_name)?,
            &a.policy_name,
            &a.policy_document,
        ),
        C::PutGroupPolicy(a) => policies::put_inline(
            ctx,
            group_entity(&a.group_name)?,
            &a.policy_name,
            &a.policy_document,
        ),
        C::PutRolePolicy(a) => policies::put_inline(
            ctx,
            role_entity(&a.role_name)?,
            &a.policy_name,
            &a.policy_document,
        ),
        C::GetUserPolicy(a) => {
            policies::get_inline(ctx, user_entity(&a.user_name)?, &a.policy_name)
        }
        C::GetGroupPolicy(a) => {
            policies::get_inline(ctx, group_entity(&a.group_name)?, &a.policy_name)
        }
        C::GetRolePolicy(a) => {
            policies::get_inline(ctx, role_entity(&a.role_name)?, &a.policy_name)
        }
        C::DeleteUserPolicy(a) => {
            policies::delete_inline(ctx, user_entity(&a.user_name)?, &a.policy_name)
        }
        C::DeleteGroupPolicy(a) => {
            policies::delete_inline(ctx, group_entity(&a.group_name)?, &a.policy_name)
        }
        C::DeleteRolePolicy(a) => {
            policies::delete_inline(ctx, role_entity(&a.role_name)?, &a.policy_name)
        }
        C::ListUserPolicies(a) => policies::list_inline(ctx, user_entity(&a.user_name)?),
        C::ListGroupPolicies(a) => policies::list_inline(ctx, group_entity(&a.group_name)?),
        C::ListRolePolicies(a) => policies::list_inline(ctx, role_entity(&a.role_name)?),
        C::PutUserPermissionsBoundary(a) => policies::put_boundary(
            ctx,
            user_entity(&a.user_name)?,
            Some(&a.permissions_boundary),
        ),
        C::DeleteUserPermissionsBoundary(a) => {
            policies::put_boundary(ctx, user_entity(&a.user_name)?, None)
        }
        C::PutRolePermissionsBoundary(a) => policies::put_boundary(
            ctx,
            role_entity(&a.role_name)?,
            Some(&a.permissions_boundary),
        ),
        C::DeleteRolePermissionsBoundary(a) => {
            policies::put_boundary(ctx, role_entity(&a.role_name)?, None)
        }

        C::CreateRole(a) => roles::create_role(ctx, a),
        C::GetRole(a) => roles::get_role(ctx, a),
        C::ListRoles(a) => roles::list_roles(ctx, a),
        C::DeleteRole(a) => roles::delete_role(ctx, a),
        C::UpdateRole(a) => roles::update_role(ctx, a),
        C::UpdateAssumeRolePolicy(a) => roles::update_assume_role_policy(ctx, a),
        C::TagRole(a) => roles::tag_role(ctx, a),
        C::UntagRole(a) => roles::untag_role(ctx, a),
        C::ListRoleTags(a) => roles::list_role_tags(ctx, a),

        C::CreateInstanceProfile(a) => instance_profiles::create(ctx, a),
        C::GetInstanceProfile(a) => instance_profiles::get(ctx, a),
        C::ListInstanceProfiles(a) => instance_profiles::list(ctx, a),
        C::DeleteInstanceProfile(a) => instance_profiles::delete(ctx, a),
        C::AddRoleToInstanceProfile(a) => instance_profiles::add_role(ctx, a),
        C::RemoveRoleFromInstanceProfile(a) => instance_profiles::remove_role(ctx, a),
        C::ListInstanceProfilesForRole(a) => instance_profiles::list_for_role(ctx, a),
        C::TagInstanceProfile(a) => instance_profiles::tag(ctx, a),
        C::UntagInstanceProfile(a) => instance_profiles::untag(ctx, a),
        C::ListInstanceProfileTags(a) => instance_profiles::list_tags(ctx, a),

        C::CreateVirtualMfaDevice(a) => mfa::create_virtual_mfa_device(ctx, a),
        C::EnableMfaDevice(a) => mfa::enable_mfa_device(ctx, a),
        C::ResyncMfaDevice(a) => mfa::resync_mfa_device(ctx, a),
        C::CreateRecoveryCodes(a) => mfa::create_recovery_codes(ctx, a),
        C::GetRecoveryCodesStatus(a) => mfa::get_recovery_codes_status(ctx, a),
        C::DeactivateMfaDevice(a) => mfa::deactivate_mfa_device(ctx, a),
        C::DeleteVirtualMfaDevice(a) => mfa::delete_virtual_mfa_device(ctx, a),
        C::ListMfaDevices(a) => mfa::list_mfa_devices(ctx, a),
        C::ListVirtualMfaDevices(a) => mfa::list_virtual_mfa_devices(ctx, a),

        C::UploadSshPublicKey(a) => ssh_keys::upload_ssh_public_key(ctx, a),
        C::ListSshPublicKeys(a) => ssh_keys::list_ssh_public_keys(ctx, a),
        C::GetSshPublicKey(a) => ssh_keys::get_ssh_public_key(ctx, a),
        C::UpdateSshPublicKey(a) => ssh_keys::update_ssh_public_key(ctx, a),
        C::DeleteSshPublicKey(a) => ssh_keys::delete_ssh_public_key(ctx, a),

        C::GenerateCredentialReport => report::generate_credential_report(ctx),
        C::GetCredentialReport => report::get_credential_report(ctx),
        C::AccessReport(a) => report::access_report(ctx, a),
        C::GetCallerIdentity => report::get_caller_identity(ctx),
        C::GetAccountAuthorizationDetails(a) => details::export(ctx, a),
        C::ImportAuthorizationDetails(a) => details::import(ctx, a),

        C::Init(_)
        | C::SetupHost(_)
        | C::Doctor
        | C::Completion(_)
        | C::Man(_)
        | C::SimulateCustomPolicy(_)
        | C::ValidatePolicy(_)
        | C::CheckNoNewAccess(_)
        | C::CheckAccessNotGranted(_)
        | C::SimulatePrincipalPolicy(_)
        | C::AssumeRole(_)
        | C::ListSessions(_)
        | C::RevokeSession(_) => Err(CliError::new("ServiceFailure", "not a store verb")),
    }
}

/// `simulate-principal-policy`: a stored user's or role's real policies,
/// with the context its own calls would get, through the policy helper's
/// result builder — so answers match what iamctl, PAM and assume-role decide.
pub fn simulate_principal(
    ctx: &mut Ctx,
    a: &crate::cli::SimulatePrincipalArgs,
) -> Result<Value, CliError> {
    use iam::store::PolicySource as Src;
    ctx.authorize(&a.policy_source_arn)?;
    let arn = iam::names::IamArn::parse("PolicySourceArn", &a.policy_source_arn)?;
    if arn.account != ctx.account.as_str() {
        return Err(CliError::new(
            "NoSuchEntity",
            format!("The entity {} cannot be found.", a.policy_source_arn),
        ));
    }
    let (principal, stored) = match arn.resource_type.as_str() {
        "user" => {
            let name = parse_user(&arn.name)?;
            (
                iam::principal::Principal::for_user(&ctx.store, &ctx.account, &name)?,
                ctx.store.policies_for_user(&name)?,
            )
        }
        "role" => {
            let name = parse_role(&arn.name)?;
            (
                iam::principal::Principal::for_role(&ctx.store, &ctx.account, &name)?,
                ctx.store.policies_for_role(&name)?,
            )
        }
        other => {
            return Err(CliError::invalid_input(format!(
                "--policy-source-arn must name a user or a role, not a {other}"
            )));
        }
    };
    // Authorized above on the ARN as typed: only the stored spelling may
    // resolve (docs/SECURITY.md, "canonical ARNs").
    if principal.arn != a.policy_source_arn {
        return Err(CliError::new(
            "NoSuchEntity",
            format!("The entity {} cannot be found.", a.policy_source_arn),
        ));
    }
    let mut context = iam::request::principal_context(&principal, ctx.now);
    // Asked about this host: its tags and name, as pam_iam and assume-role
    // put them in the context of host:Login and host:RunAs.
    let host = ctx.config.host_arn();
    if !a.resource_arns.is_empty() && a.resource_arns.iter().all(|r| *r == host) {
        iam::request::set_host_keys(&mut context, &ctx.config.hostname, &ctx.config.host_tags);
    }
    for entries in &a.context_entries {
        crate::simulate::add_context_entries(&mut context, entries)?;
    }
    let resources = if a.resource_arns.is_empty() {
        vec!["*".to_owned()]
    } else {
        a.resource_arns.clone()
    };
    // AWS's SourcePolicyType: "user"/"group"/"role" for inline policies,
    // "IAM Policy" for managed ones, "PermissionsBoundaryPolicy".
    let kinds: Vec<(String, String)> = stored
        .identity
        .iter()
        .map(|d| {
            let ty = match &d.source {
                Src::UserInline => "user",
                Src::GroupInline { .. } => "group",
                Src::RoleInline => "role",
                Src::Managed { .. } => "IAM Policy",
            };
            (d.name.clone(), ty.to_owned())
        })
        .collect();
    let source = |m: &iam::policy::MatchedStatement| -> (String, String) {
        if m.source == iam::policy::PolicySource::Boundary {
            return (m.policy.clone(), "PermissionsBoundaryPolicy".to_owned());
        }
        let ty = kinds
            .iter()
            .find(|(n, _)| *n == m.policy)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| "IAM Policy".to_owned());
        (m.policy.clone(), ty)
    };
    crate::simulate::evaluation_results(
        &principal.policies,
        &principal.arn,
        &a.action_names,
        &resources,
        &context,
        None, // no --resource-owner: a resource ARN's own account decides
        &source,
    )
}

/// The user a verb is about: `--user-name`, else the calling IAM user.
fn user_or_caller(ctx: &Ctx, name: Option<&String>) -> Result<Option<UserName>, CliError> {
    match name {
        Some(n) => Ok(Some(parse_user(n)?)),
        None => Ok(ctx.caller_user()),
    }
}

pub fn parse_user(s: &str) -> Result<UserName, CliError> {
    Ok(UserName::parse(s)?)
}

pub fn parse_group(s: &str) -> Result<GroupName, CliError> {
    Ok(GroupName::parse(s)?)
}

pub fn parse_role(s: &str) -> Result<RoleName, CliError> {
    Ok(RoleName::parse(s)?)
}

pub fn parse_policy_name(s: &str) -> Result<PolicyName, CliError> {
    Ok(PolicyName::parse(s)?)
}

/// `--path`, default `/`.
pub fn parse_path(s: Option<&str>) -> Result<IamPath, CliError> {
    match s {
        Some(p) => Ok(IamPath::parse(p)?),
        None => Ok(IamPath::root()),
    }
}

pub fn parse_tags(ctx: &Ctx, args: &[String]) -> Result<Vec<Tag>, CliError> {
    let tags = input::tags(args, ctx.param_files())?
        .into_iter()
        .map(|(k, v)| {
            Ok(Tag {
                key: TagKey::parse(&k)?,
                value: TagValue::parse(&v)?,
            })
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    iam::names::check_tags(&tags)?;
    Ok(tags)
}

pub fn parse_tag_keys(args: &[String]) -> Result<Vec<TagKey>, CliError> {
    input::tag_keys(args)?
        .iter()
        .map(|k| Ok(TagKey::parse(k)?))
        .collect()
}

/// `Tag<Entity>`: authorizes `iam:<Operation>` on `arn` with the request's
/// tags as condition keys, then `apply`s them in one transaction. `named`
/// is the entity's parameter as its event records it (`("roleName", …)`).
pub fn tag_entity(
    ctx: &mut Ctx,
    arn: &str,
    named: (&str, &str),
    tags: &[Tag],
    apply: impl FnOnce(&iam::store::Store) -> Result<(), iam::store::StoreError>,
) -> Result<Value, CliError> {
    let action = format!("iam:{}", ctx.operation);
    ctx.authorize_with(&action, arn, |c| iam::request::set_request_tags(c, tags))?;
    ctx.commit(
        |_| serde_json::json!({named.0: named.1, "tags": crate::shapes::tags(tags)}),
        apply,
    )?;
    Ok(Value::Null)
}

/// `Untag<Entity>`, as [`tag_entity`] with the tag keys as condition keys.
pub fn untag_entity(
    ctx: &mut Ctx,
    arn: &str,
    named: (&str, &str),
    keys: &[TagKey],
    apply: impl FnOnce(&iam::store::Store) -> Result<(), iam::store::StoreError>,
) -> Result<Value, CliError> {
    let action = format!("iam:{}", ctx.operation);
    ctx.authorize_with(&action, arn, |c| iam::request::set_tag_keys(c, keys.iter()))?;
    let key_names: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    ctx.commit(
        |_| serde_json::json!({named.0: named.1, "tagKeys": key_names}),
        apply,
    )?;
    Ok(Value::Null)
}

fn user_entity(s: &str) -> Result<iam::store::Entity, CliError> {
    Ok(iam::store::Entity::User(parse_user(s)?))
}

fn group_entity(s: &str) -> Result<iam::store::Entity, CliError> {
    Ok(iam::store::Entity::Group(parse_group(s)?))
}

fn role_entity(s: &str) -> Result<iam::store::Entity, CliError> {
    Ok(iam::store::Entity::Role(parse_role(s)?))
}

/// Whether the caller's policies explicitly deny `action` on `resource`.
pub fn explicitly_denied(ctx: &Ctx, action: &str, resource: &str) -> bool {
    ctx.decision(action, resource) == Decision::ExplicitDeny
}
