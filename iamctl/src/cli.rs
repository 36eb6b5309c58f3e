//! The command tree: every verb and flag named as the AWS CLI names them
//! (`aws iam …`, `aws sts …`), so AWS muscle memory and docs carry over.
//! Completions and man pages are generated from these same definitions.

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "iamctl",
    version,
    about = "AWS-style IAM for this Linux host",
    long_about = "AWS-style IAM for this Linux host: the verbs, flags, documents and \
                  outputs of `aws iam` / `aws sts`, against the host's IAM store.\n\n\
                  Run as root, iamctl acts as the account's root user. Any other caller \
                  acts as the IAM user named like its Linux login, and every call is \
                  authorized by the account's policies with the AWS action name."
)]
pub struct Cli {
    /// Another iam.toml (ignored for non-root callers of a setuid iamctl).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Output format, as the AWS CLI's --output.
    #[arg(long, global = true, value_enum, default_value_t = Output::Json)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Json,
    Text,
    Table,
    /// A self-contained page (access-report only).
    Html,
}

#[derive(Debug, Subcommand, Deserialize)]
pub enum Command {
    // ---- ours: setup and tooling -------------------------------------
    /// Write a starter iam.toml (if none) and create the store (0600); idempotent.
    #[serde(skip)]
    Init(InitArgs),
    /// Configure this host for IAM logins: nsswitch, PAM profile, sshd drop-in (ours).
    #[serde(skip)]
    SetupHost(SetupHostArgs),
    /// Check everything an IAM login needs on this host, with the fix for each failure (ours).
    #[serde(skip)]
    Doctor,
    /// Print a shell completion script (ours, not AWS's).
    #[command(hide = true)]
    #[serde(skip)]
    Completion(CompletionArgs),
    /// Write man pages (ours, not AWS's).
    #[command(hide = true)]
    #[serde(skip)]
    Man(ManArgs),

    // ---- users --------------------------------------------------------
    /// Create an IAM user (and its Linux account through extrausers).
    CreateUser(CreateUserArgs),
    /// Show a user (the caller when --user-name is omitted).
    GetUser(OptUserName),
    /// List users.
    ListUsers(PathPrefix),
    /// Delete a user (it must have no login profile, groups, policies or MFA).
    DeleteUser(UserName),
    /// Rename a user or change its path (the Linux login follows the name; the UID stays).
    UpdateUser(UpdateUserArgs),
    /// Add or overwrite tags on a user.
    TagUser(TagUserArgs),
    /// Remove tags from a user.
    UntagUser(UntagUserArgs),
    /// List a user's tags.
    ListUserTags(UserName),
    /// Reset a user's login lockout (ours, not AWS's).
    #[serde(skip)]
    UnlockUser(UserName),

    // ---- passwords ----------------------------------------------------
    /// Give a user a password (read from the terminal, or one line of stdin).
    CreateLoginProfile(LoginProfileArgs),
    /// Change a user's password and/or its reset-required flag.
    UpdateLoginProfile(UpdateLoginProfileArgs),
    /// Show whether a user has a password.
    GetLoginProfile(UserName),
    /// Remove a user's password.
    DeleteLoginProfile(UserName),
    /// Change the caller's own password (old, then new; from the terminal or stdin).
    ChangePassword(ChangePasswordArgs),
    /// Set the account password policy.
    UpdateAccountPasswordPolicy(PasswordPolicyArgs),
    /// Show the account password policy.
    GetAccountPasswordPolicy,
    /// Remove the account password policy (back to the defaults).
    DeleteAccountPasswordPolicy,

    // ---- groups -------------------------------------------------------
    /// Create a group (and its Linux group through extrausers).
    CreateGroup(CreateGroupArgs),
    /// Show a group and its members.
    GetGroup(GroupName),
    /// List groups.
    ListGroups(PathPrefix),
    /// Delete a group (it must have no members or policies).
    DeleteGroup(GroupName),
    /// Rename a group or change its path (the Linux group follows the name; the GID stays).
    UpdateGroup(UpdateGroupArgs),
    /// Add a user to a group.
    AddUserToGroup(GroupMemberArgs),
    /// Remove a user from a group.
    RemoveUserFromGroup(GroupMemberArgs),
    /// List the groups a user belongs to.
    ListGroupsForUser(UserName),

    // ---- managed policies ---------------------------------------------
    /// Create a customer managed policy.
    CreatePolicy(CreatePolicyArgs),
    /// Show a managed policy.
    GetPolicy(PolicyArn),
    /// Show one version of a managed policy, with its document.
    GetPolicyVersion(PolicyVersionArgs),
    /// List managed policies.
    ListPolicies(ListPoliciesArgs),
    /// Delete a managed policy (it must be detached and have only its default version).
    DeletePolicy(PolicyArn),
    /// Add a version to a managed policy (at most 5).
    CreatePolicyVersion(CreatePolicyVersionArgs),
    /// Delete a non-default policy version.
    DeletePolicyVersion(PolicyVersionArgs),
    /// Make a version the default.
    SetDefaultPolicyVersion(PolicyVersionArgs),
    /// List a managed policy's versions.
    ListPolicyVersions(PolicyArn),
    /// List the users, groups and roles a managed policy is attached to.
    ListEntitiesForPolicy(PolicyArn),

    // ---- attachments --------------------------------------------------
    /// Attach a managed policy to a user.
    AttachUserPolicy(UserPolicyArn),
    /// Detach a managed policy from a user.
    DetachUserPolicy(UserPolicyArn),
    /// List the managed policies attached to a user.
    ListAttachedUserPolicies(UserNamePathPrefix),
    /// Attach a managed policy to a group.
    AttachGroupPolicy(GroupPolicyArn),
    /// Detach a managed policy from a group.
    DetachGroupPolicy(GroupPolicyArn),
    /// List the managed policies attached to a group.
    ListAttachedGroupPolicies(GroupNamePathPrefix),
    /// Attach a managed policy to a role.
    AttachRolePolicy(RolePolicyArn),
    /// Detach a managed policy from a role.
    DetachRolePolicy(RolePolicyArn),
    /// List the managed policies attached to a role.
    ListAttachedRolePolicies(RoleNamePathPrefix),

    // ---- inline policies ----------------------------------------------
    /// Add or replace a user's inline policy.
    PutUserPolicy(PutUserPolicyArgs),
    /// Show a user's inline policy.
    GetUserPolicy(UserPolicyName),
    /// Delete a user's inline policy.
    DeleteUserPolicy(UserPolicyName),
    /// List a user's inline policy names.
    ListUserPolicies(UserName),
    /// Add or replace a group's inline policy.
    PutGroupPolicy(PutGroupPolicyArgs),
    /// Show a group's inline policy.
    GetGroupPolicy(GroupPolicyName),
    /// Delete a group's inline policy.
    DeleteGroupPolicy(GroupPolicyName),
    /// List a group's inline policy names.
    ListGroupPolicies(GroupName),
    /// Add or replace a role's inline (permission) policy.
    PutRolePolicy(PutRolePolicyArgs),
    /// Show a role's inline policy.
    GetRolePolicy(RolePolicyName),
    /// Delete a role's inline policy.
    DeleteRolePolicy(RolePolicyName),
    /// List a role's inline policy names.
    ListRolePolicies(RoleName),

    // ---- permissions boundaries ---------------------------------------
    /// Set a managed policy as a user's permissions boundary.
    PutUserPermissionsBoundary(UserBoundaryArgs),
    /// Remove a user's permissions boundary.
    DeleteUserPermissionsBoundary(UserName),
    /// Set a managed policy as a role's permissions boundary.
    PutRolePermissionsBoundary(RoleBoundaryArgs),
    /// Remove a role's permissions boundary.
    DeleteRolePermissionsBoundary(RoleName),

    // ---- roles --------------------------------------------------------
    /// Create a role with a trust policy.
    CreateRole(CreateRoleArgs),
    /// Show a role.
    GetRole(RoleName),
    /// List roles.
    ListRoles(PathPrefix),
    /// Delete a role (it must have no policies).
    DeleteRole(RoleName),
    /// Change a role's description and/or maximum session duration.
    UpdateRole(UpdateRoleArgs),
    /// Replace a role's trust policy.
    UpdateAssumeRolePolicy(UpdateAssumeRolePolicyArgs),
    /// Add or overwrite tags on a role.
    TagRole(TagRoleArgs),
    /// Remove tags from a role.
    UntagRole(UntagRoleArgs),
    /// List a role's tags.
    ListRoleTags(RoleName),

    // ---- instance profiles (a host's role: docs/ARCHITECTURE.md) --------
    /// Create an instance profile: what hands a role to enrolled hosts.
    CreateInstanceProfile(CreateInstanceProfileArgs),
    /// Show an instance profile with its role and tags.
    GetInstanceProfile(InstanceProfileName),
    /// List instance profiles.
    ListInstanceProfiles(PathPrefix),
    /// Delete an instance profile (it must hold no role); its hosts are revoked.
    DeleteInstanceProfile(InstanceProfileName),
    /// Put a role in an instance profile (at most one).
    AddRoleToInstanceProfile(InstanceProfileRoleArgs),
    /// Take the role out of an instance profile: its hosts are refused from then on.
    RemoveRoleFromInstanceProfile(InstanceProfileRoleArgs),
    /// List the instance profiles that hold a role.
    ListInstanceProfilesForRole(RoleName),
    /// Add or overwrite tags on an instance profile (its hosts' tags).
    TagInstanceProfile(TagInstanceProfileArgs),
    /// Remove tags from an instance profile.
    UntagInstanceProfile(UntagInstanceProfileArgs),
    /// List an instance profile's tags.
    ListInstanceProfileTags(InstanceProfileName),

    // ---- MFA ----------------------------------------------------------
    /// Create a virtual MFA device (TOTP seed); shows or writes its QR code.
    #[serde(rename = "CreateVirtualMFADevice")]
    CreateVirtualMfaDevice(CreateVirtualMfaDeviceArgs),
    /// Assign a virtual MFA device to a user with two consecutive codes.
    #[serde(rename = "EnableMFADevice")]
    EnableMfaDevice(MfaCodesArgs),
    /// Resynchronize a user's MFA device whose clock drifted, with two consecutive codes.
    #[serde(rename = "ResyncMFADevice")]
    ResyncMfaDevice(MfaCodesArgs),
    /// Take an MFA device away from a user.
    #[serde(rename = "DeactivateMFADevice")]
    DeactivateMfaDevice(DeactivateMfaDeviceArgs),
    /// Delete an (unassigned) virtual MFA device.
    #[serde(rename = "DeleteVirtualMFADevice")]
    DeleteVirtualMfaDevice(SerialNumber),
    /// List a user's MFA devices (the caller's when --user-name is omitted).
    #[serde(rename = "ListMFADevices")]
    ListMfaDevices(OptUserName),
    /// List virtual MFA devices.
    #[serde(rename = "ListVirtualMFADevices")]
    ListVirtualMfaDevices(ListVirtualMfaDevicesArgs),
    /// Make ten single-use recovery codes for a user (the caller's when --user-name is omitted), shown once; replaces any earlier set (ours).
    #[serde(skip)]
    CreateRecoveryCodes(OptUserName),
    /// Show how many of a user's recovery codes are left (ours).
    #[serde(skip)]
    GetRecoveryCodesStatus(OptUserName),

    // ---- SSH public keys ----------------------------------------------
    /// Add an SSH public key to a user (ssh-rsa >= 2048 bits, ssh-ed25519, ECDSA, or PEM).
    #[serde(rename = "UploadSSHPublicKey")]
    UploadSshPublicKey(UploadSshPublicKeyArgs),
    /// List a user's SSH public keys (the caller's when --user-name is omitted).
    #[serde(rename = "ListSSHPublicKeys")]
    ListSshPublicKeys(OptUserName),
    /// Show one SSH public key, in OpenSSH (SSH) or PEM encoding.
    #[serde(rename = "GetSSHPublicKey")]
    GetSshPublicKey(GetSshPublicKeyArgs),
    /// Make an SSH public key Active or Inactive (an inactive key logs nobody in).
    #[serde(rename = "UpdateSSHPublicKey")]
    UpdateSshPublicKey(UpdateSshPublicKeyArgs),
    /// Delete an SSH public key.
    #[serde(rename = "DeleteSSHPublicKey")]
    DeleteSshPublicKey(SshPublicKeyIdArgs),

    // ---- reports, export, simulation, identity ------------------------
    /// Build the credential report.
    GenerateCredentialReport,
    /// Print the credential report (AWS's CSV, base64 in JSON `Content`).
    GetCredentialReport,
    /// Export users, groups, roles and policies in AWS's JSON shape.
    GetAccountAuthorizationDetails(AuthorizationDetailsArgs),
    /// Load a get-account-authorization-details file, in one transaction (ours).
    #[serde(skip)]
    ImportAuthorizationDetails(ImportArgs),
    /// Who can log in where, assume which role, and become root (ours):
    /// `--output json|text|html`.
    #[serde(skip)]
    AccessReport(AccessReportArgs),
    /// Evaluate a stored user's or role's real policies.
    SimulatePrincipalPolicy(SimulatePrincipalArgs),
    /// Evaluate policy documents against actions and resources.
    SimulateCustomPolicy(SimulateCustomArgs),
    /// Show who the caller is.
    #[serde(skip)]
    GetCallerIdentity,

    // ---- Access Analyzer's policy checks (iamctl/src/analyzer.rs) ------
    /// Check a policy document: errors, security warnings, warnings, suggestions (Access Analyzer's).
    #[serde(skip)]
    ValidatePolicy(ValidatePolicyArgs),
    /// Does a changed policy allow anything the existing one does not? PASS or FAIL (Access Analyzer's).
    #[serde(skip)]
    CheckNoNewAccess(CheckNoNewAccessArgs),
    /// Does a policy allow none of these actions and resources? PASS or FAIL (Access Analyzer's).
    #[serde(skip)]
    CheckAccessNotGranted(CheckAccessNotGrantedArgs),

    // ---- elevation (iamctl/src/elevate) ------------------------------
    /// Run a command (default: a login shell) as a role, for a limited time.
    #[serde(skip)]
    AssumeRole(AssumeRoleArgs),
    /// List role sessions: your own, or all with iam:ListSessions.
    #[serde(skip)]
    ListSessions(ListSessionsArgs),
    /// End a role session and every process in it.
    #[serde(skip)]
    RevokeSession(RevokeSessionArgs),
}

#[derive(Debug, Args)]
pub struct SetupHostArgs {
    /// Also configure sshd: a drop-in in /etc/ssh/sshd_config.d enabling PAM keyboard-interactive.
    #[arg(long)]
    pub ssh: bool,
    /// Set [login] require_mfa = true (refused while no IAM user has an MFA device).
    #[arg(long)]
    pub require_mfa: bool,
    /// Print the changes without making them.
    #[arg(long)]
    pub dry_run: bool,
    /// Enrol this host with iam-server first (https://SERVER[:PORT]): its
    /// credential goes to agent.toml beside iam.toml (0600 root), its
    /// account and hostname into iam.toml.
    #[arg(long, value_name = "URL", requires_all = ["token", "ca_fingerprint"])]
    pub join: Option<String>,
    /// The one-time join token (`iam-server join-token`); `-` reads it from stdin.
    #[arg(long, requires = "join")]
    pub token: Option<String>,
    /// The server certificate's SHA-256 fingerprint, as iam-server prints it.
    #[arg(long, value_name = "FINGERPRINT", requires = "join")]
    pub ca_fingerprint: Option<String>,
    /// The name to enrol this host as (default: the kernel hostname).
    #[arg(long, requires = "join")]
    pub hostname: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulateCustomArgs {
    /// Identity-based policies (inline JSON or file://PATH), one or more.
    #[arg(long, num_args = 1.., required = true, value_name = "POLICY")]
    #[serde(default)]
    pub policy_input_list: Vec<String>,
    /// Permissions boundary policies (inline JSON or file://PATH).
    #[arg(long, num_args = 1.., value_name = "POLICY")]
    #[serde(default)]
    pub permissions_boundary_policy_input_list: Vec<String>,
    /// A resource-based policy (inline JSON or file://PATH); needs --caller-arn.
    #[arg(long, value_name = "POLICY")]
    pub resource_policy: Option<String>,
    /// The account that owns a resource whose ARN names no account (an S3
    /// bucket's; an account ID or ARN). A resource ARN with an account is
    /// owned by that account. When the owner is not the caller's account,
    /// AWS's cross-account logic applies.
    #[arg(long, value_name = "ARN")]
    pub resource_owner: Option<String>,
    /// The simulated caller: an IAM user (or role session) ARN.
    #[arg(long, value_name = "ARN")]
    pub caller_arn: Option<String>,
    /// Actions to simulate, e.g. host:Login.
    #[arg(long, num_args = 1.., required = true, value_name = "ACTION")]
    #[serde(default)]
    pub action_names: Vec<String>,
    /// Resources to simulate (default: *).
    #[arg(long, num_args = 1.., value_name = "ARN")]
    #[serde(default)]
    pub resource_arns: Vec<String>,
    /// Context entries: a JSON list as AWS's, or the shorthand
    /// `ContextKeyName=k,ContextKeyValues=v1,v2,ContextKeyType=string`.
    #[arg(long, num_args = 1.., value_name = "ENTRIES")]
    #[serde(default, deserialize_with = "json_items")]
    pub context_entries: Vec<String>,
    /// Accepted for AWS compatibility (only the default is supported).
    #[arg(long, value_name = "OPTION")]
    pub resource_handling_option: Option<String>,
}

/// Access Analyzer's `policyType`: how a document is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzerPolicyType {
    /// Attached to a user, group or role (validated as a managed policy).
    #[value(name = "IDENTITY_POLICY")]
    IdentityPolicy,
    /// Attached to a resource: a role's trust policy here.
    #[value(name = "RESOURCE_POLICY")]
    ResourcePolicy,
}

/// A finding type, or none: the threshold of `--fail-on` (ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    #[value(name = "ERROR")]
    Error,
    #[value(name = "SECURITY_WARNING")]
    SecurityWarning,
    #[value(name = "WARNING")]
    Warning,
    #[value(name = "SUGGESTION")]
    Suggestion,
    #[value(name = "NONE")]
    None,
}

#[derive(Debug, Args)]
pub struct ValidatePolicyArgs {
    /// The policy (inline JSON or file://PATH).
    #[arg(long, value_name = "POLICY")]
    pub policy_document: String,
    /// IDENTITY_POLICY or RESOURCE_POLICY.
    #[arg(long, value_enum)]
    pub policy_type: AnalyzerPolicyType,
    /// For RESOURCE_POLICY: AWS::IAM::AssumeRolePolicyDocument validates a
    /// role trust policy; AWS's other resource types are accepted.
    #[arg(long, value_name = "TYPE")]
    pub validate_policy_resource_type: Option<String>,
    /// Accepted for AWS compatibility: findings are in English.
    #[arg(long, value_name = "LOCALE")]
    pub locale: Option<String>,
    /// Exit with status 1 when a finding of this type or a graver one is
    /// found (ours; default SECURITY_WARNING: errors and security warnings).
    #[arg(long, value_enum, default_value_t = FailOn::SecurityWarning)]
    pub fail_on: FailOn,
}

#[derive(Debug, Args)]
pub struct CheckNoNewAccessArgs {
    /// The changed policy (inline JSON or file://PATH).
    #[arg(long, value_name = "POLICY")]
    pub new_policy_document: String,
    /// The policy as it is now (inline JSON or file://PATH).
    #[arg(long, value_name = "POLICY")]
    pub existing_policy_document: String,
    /// IDENTITY_POLICY or RESOURCE_POLICY.
    #[arg(long, value_enum)]
    pub policy_type: AnalyzerPolicyType,
}

#[derive(Debug, Args)]
pub struct CheckAccessNotGrantedArgs {
    /// The policy (inline JSON or file://PATH).
    #[arg(long, value_name = "POLICY")]
    pub policy_document: String,
    /// `actions=host:RunAs,host:Login,resources=ARN,…` or AWS's JSON
    /// `[{"actions":[…],"resources":[…]}]` (one access entry).
    #[arg(long, num_args = 1.., required = true, value_name = "ACCESS")]
    pub access: Vec<String>,
    /// IDENTITY_POLICY or RESOURCE_POLICY.
    #[arg(long, value_enum)]
    pub policy_type: AnalyzerPolicyType,
}

#[derive(Debug, Args)]
pub struct AssumeRoleArgs {
    /// The role to assume.
    #[arg(long)]
    pub role_name: String,
    /// The role's ARN (checked against --role-name when both are given).
    #[arg(long)]
    pub role_arn: Option<String>,
    /// Names the session in its ARN and the audit trail (default USER-EPOCH).
    #[arg(long)]
    pub role_session_name: Option<String>,
    /// Lifetime, 900 to the role's MaxSessionDuration (default 3600).
    #[arg(long, allow_negative_numbers = true)]
    pub duration_seconds: Option<i64>,
    /// MFA device of the caller (default: its enabled device, when asked).
    #[arg(long)]
    pub serial_number: Option<String>,
    /// A one-time code from the MFA device (else asked for when needed).
    #[arg(long)]
    pub token_code: Option<String>,
    /// What to run (default: a login shell of the role's run-as user).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListSessionsArgs {
    /// Only this user's sessions (others' need iam:ListSessions).
    #[arg(long)]
    pub user_name: Option<String>,
    /// Include ended sessions.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "session_id"])))]
pub struct RevokeSessionArgs {
    /// The session to end (as list-sessions shows it).
    #[arg(value_name = "SESSION_ID")]
    pub id: Option<String>,
    /// The same, as a flag (AWS CLI style).
    #[arg(long, value_name = "SESSION_ID")]
    pub session_id: Option<String>,
}

/// `--flag` / `--no-flag`, as the AWS CLI spells booleans; `None` when neither.
/// The verb an API request asks for (iam-server): its `Action` and its
/// parameters as botocore's model shapes them (secrets taken out first:
/// [`crate::input::Secrets::Given`]). A `false` flag becomes its `No…` twin,
/// as `--no-…` does on the command line. Verbs that are not AWS API
/// actions (setup, ours, STS) are not found.
pub fn command_from_request(
    action: &str,
    mut input: serde_json::Map<String, serde_json::Value>,
) -> Result<Command, serde_json::Error> {
    let negated: Vec<String> = input
        .iter()
        .filter(|(_, v)| **v == serde_json::Value::Bool(false))
        .map(|(k, _)| k.clone())
        .collect();
    for key in negated {
        input.remove(&key);
        input.insert(format!("No{key}"), serde_json::Value::Bool(true));
    }
    // An action without parameters is a unit variant (`GetAccountPasswordPolicy`),
    // which serde reads from its bare name, not from a map.
    if input.is_empty() {
        if let Ok(command) = Command::deserialize(serde_json::Value::String(action.to_owned())) {
            return Ok(command);
        }
    }
    let mut request = serde_json::Map::new();
    request.insert(action.to_owned(), serde_json::Value::Object(input));
    Command::deserialize(serde_json::Value::Object(request))
}

/// A list of structures from an API request (`Tags`, `ContextEntries`),
/// each item as the JSON text the CLI would take for it, so both front
/// ends go through one parser.
fn json_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .collect())
}

pub fn tri(yes: bool, no: bool) -> Option<bool> {
    match (yes, no) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The 12-digit account id for a new iam.toml (default: a random one).
    #[arg(long)]
    pub account_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write iamctl.1 and one page per verb here (default: iamctl.1 to stdout).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserName {
    /// The IAM user (also its Linux login name).
    #[arg(long)]
    pub user_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OptUserName {
    /// The IAM user; default: the caller.
    #[arg(long)]
    pub user_name: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupName {
    #[arg(long)]
    pub group_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleName {
    #[arg(long)]
    pub role_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfileName {
    #[arg(long)]
    pub instance_profile_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInstanceProfileArgs {
    #[arg(long)]
    pub instance_profile_name: String,
    #[arg(long)]
    pub path: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfileRoleArgs {
    #[arg(long)]
    pub instance_profile_name: String,
    #[arg(long)]
    pub role_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInstanceProfileArgs {
    #[arg(long)]
    pub instance_profile_name: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInstanceProfileArgs {
    #[arg(long)]
    pub instance_profile_name: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub tag_keys: TagKeysArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyArn {
    #[arg(long)]
    pub policy_arn: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SerialNumber {
    #[arg(long)]
    pub serial_number: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PathPrefix {
    #[arg(long)]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsArg {
    /// Tags: `Key=k,Value=v …` (AWS shorthand) or a JSON list of {"Key","Value"}.
    #[arg(long, num_args = 1.., value_name = "Key=k,Value=v")]
    #[serde(default, deserialize_with = "json_items")]
    pub tags: Vec<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserArgs {
    #[arg(long)]
    pub user_name: String,
    #[arg(long)]
    pub path: Option<String>,
    /// ARN of a managed policy to use as the permissions boundary.
    #[arg(long)]
    pub permissions_boundary: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateUserArgs {
    #[arg(long)]
    pub user_name: String,
    #[arg(long)]
    pub new_path: Option<String>,
    #[arg(long)]
    pub new_user_name: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagUserArgs {
    #[arg(long)]
    pub user_name: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagRoleArgs {
    #[arg(long)]
    pub role_name: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagKeysArg {
    /// Tag keys: `k1 k2 …` or a JSON list of strings.
    #[arg(long, num_args = 1.., required = true)]
    #[serde(default)]
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagUserArgs {
    #[arg(long)]
    pub user_name: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub tag_keys: TagKeysArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagRoleArgs {
    #[arg(long)]
    pub role_name: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub tag_keys: TagKeysArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginProfileArgs {
    #[arg(long)]
    pub user_name: String,
    /// AWS's flag, refused: passwords never come from argv.
    #[arg(long = "password", hide = true, value_name = "PASSWORD")]
    #[serde(skip)]
    pub argv_password: Option<String>,
    /// The user must choose a new password at next login.
    #[arg(long, overrides_with = "no_password_reset_required")]
    #[serde(default)]
    pub password_reset_required: bool,
    #[arg(long, overrides_with = "password_reset_required")]
    #[serde(default)]
    pub no_password_reset_required: bool,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateLoginProfileArgs {
    #[arg(long)]
    pub user_name: String,
    /// Set a new password, read from the terminal or stdin (never from argv).
    /// Implied when no reset flag is given.
    #[arg(long)]
    #[serde(skip)]
    pub password: bool,
    #[arg(long, overrides_with = "no_password_reset_required")]
    #[serde(default)]
    pub password_reset_required: bool,
    #[arg(long, overrides_with = "password_reset_required")]
    #[serde(default)]
    pub no_password_reset_required: bool,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangePasswordArgs {
    /// AWS's flags, refused: passwords never come from argv.
    #[arg(long = "old-password", hide = true, value_name = "PASSWORD")]
    #[serde(skip)]
    pub argv_old_password: Option<String>,
    #[arg(long = "new-password", hide = true, value_name = "PASSWORD")]
    #[serde(skip)]
    pub argv_new_password: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicyArgs {
    #[arg(long)]
    pub minimum_password_length: Option<u32>,
    #[arg(long, overrides_with = "no_require_symbols")]
    #[serde(default)]
    pub require_symbols: bool,
    #[arg(long, overrides_with = "require_symbols")]
    #[serde(default)]
    pub no_require_symbols: bool,
    #[arg(long, overrides_with = "no_require_numbers")]
    #[serde(default)]
    pub require_numbers: bool,
    #[arg(long, overrides_with = "require_numbers")]
    #[serde(default)]
    pub no_require_numbers: bool,
    #[arg(long, overrides_with = "no_require_uppercase_characters")]
    #[serde(default)]
    pub require_uppercase_characters: bool,
    #[arg(long, overrides_with = "require_uppercase_characters")]
    #[serde(default)]
    pub no_require_uppercase_characters: bool,
    #[arg(long, overrides_with = "no_require_lowercase_characters")]
    #[serde(default)]
    pub require_lowercase_characters: bool,
    #[arg(long, overrides_with = "require_lowercase_characters")]
    #[serde(default)]
    pub no_require_lowercase_characters: bool,
    #[arg(long, overrides_with = "no_allow_users_to_change_password")]
    #[serde(default)]
    pub allow_users_to_change_password: bool,
    #[arg(long, overrides_with = "allow_users_to_change_password")]
    #[serde(default)]
    pub no_allow_users_to_change_password: bool,
    /// Days (1–1095).
    #[arg(long)]
    pub max_password_age: Option<u32>,
    /// How many previous passwords cannot be reused (1–24).
    #[arg(long)]
    pub password_reuse_prevention: Option<u32>,
    #[arg(long, overrides_with = "no_hard_expiry")]
    #[serde(default)]
    pub hard_expiry: bool,
    #[arg(long, overrides_with = "hard_expiry")]
    #[serde(default)]
    pub no_hard_expiry: bool,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupArgs {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub path: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateGroupArgs {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub new_path: Option<String>,
    #[arg(long)]
    pub new_group_name: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupMemberArgs {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub user_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyArgs {
    #[arg(long)]
    pub policy_name: String,
    /// The JSON document, or file://PATH.
    #[arg(long)]
    pub policy_document: String,
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersionArgs {
    #[arg(long)]
    pub policy_arn: String,
    #[arg(long)]
    pub version_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[value(rename_all = "PascalCase")]
pub enum PolicyScope {
    All,
    #[value(name = "AWS")]
    #[serde(rename = "AWS")]
    Aws,
    Local,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesArgs {
    #[arg(long, value_enum, default_value_t = PolicyScope::All)]
    pub scope: PolicyScope,
    #[arg(long, overrides_with = "no_only_attached")]
    #[serde(default)]
    pub only_attached: bool,
    #[arg(long, overrides_with = "only_attached")]
    #[serde(default)]
    pub no_only_attached: bool,
    #[arg(long)]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyVersionArgs {
    #[arg(long)]
    pub policy_arn: String,
    /// The JSON document, or file://PATH.
    #[arg(long)]
    pub policy_document: String,
    #[arg(long, overrides_with = "no_set_as_default")]
    #[serde(default)]
    pub set_as_default: bool,
    #[arg(long, overrides_with = "set_as_default")]
    #[serde(default)]
    pub no_set_as_default: bool,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPolicyArn {
    #[arg(long)]
    pub user_name: String,
    #[arg(long)]
    pub policy_arn: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupPolicyArn {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub policy_arn: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RolePolicyArn {
    #[arg(long)]
    pub role_name: String,
    #[arg(long)]
    pub policy_arn: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserNamePathPrefix {
    #[arg(long)]
    pub user_name: String,
    #[arg(long)]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupNamePathPrefix {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleNamePathPrefix {
    #[arg(long)]
    pub role_name: String,
    #[arg(long)]
    pub path_prefix: Option<String>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutUserPolicyArgs {
    #[arg(long)]
    pub user_name: String,
    #[arg(long)]
    pub policy_name: String,
    /// The JSON document, or file://PATH.
    #[arg(long)]
    pub policy_document: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutGroupPolicyArgs {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub policy_name: String,
    /// The JSON document, or file://PATH.
    #[arg(long)]
    pub policy_document: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRolePolicyArgs {
    #[arg(long)]
    pub role_name: String,
    #[arg(long)]
    pub policy_name: String,
    /// The JSON document, or file://PATH.
    #[arg(long)]
    pub policy_document: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPolicyName {
    #[arg(long)]
    pub user_name: String,
    #[arg(long)]
    pub policy_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupPolicyName {
    #[arg(long)]
    pub group_name: String,
    #[arg(long)]
    pub policy_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RolePolicyName {
    #[arg(long)]
    pub role_name: String,
    #[arg(long)]
    pub policy_name: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserBoundaryArgs {
    #[arg(long)]
    pub user_name: String,
    /// ARN of the managed policy to use as the boundary.
    #[arg(long)]
    pub permissions_boundary: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleBoundaryArgs {
    #[arg(long)]
    pub role_name: String,
    /// ARN of the managed policy to use as the boundary.
    #[arg(long)]
    pub permissions_boundary: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRoleArgs {
    #[arg(long)]
    pub role_name: String,
    /// The trust policy (JSON, or file://PATH).
    #[arg(long)]
    pub assume_role_policy_document: String,
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Seconds, 3600–43200 (default 3600).
    #[arg(long)]
    pub max_session_duration: Option<u32>,
    #[arg(long)]
    pub permissions_boundary: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRoleArgs {
    #[arg(long)]
    pub role_name: String,
    #[arg(long)]
    pub description: Option<String>,
    /// Seconds, 3600–43200.
    #[arg(long)]
    pub max_session_duration: Option<u32>,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAssumeRolePolicyArgs {
    #[arg(long)]
    pub role_name: String,
    /// The trust policy (JSON, or file://PATH).
    #[arg(long)]
    pub policy_document: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
pub enum BootstrapMethod {
    #[value(name = "QRCodePNG")]
    #[serde(rename = "QRCodePNG")]
    QrCodePng,
    #[value(name = "Base32StringSeed")]
    Base32StringSeed,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVirtualMfaDeviceArgs {
    #[arg(long)]
    #[serde(rename = "VirtualMFADeviceName")]
    pub virtual_mfa_device_name: String,
    #[arg(long)]
    pub path: Option<String>,
    /// Write the QR code (PNG) or the base32 seed here. Without it, the
    /// otpauth:// URI and a QR code are shown on the terminal.
    #[arg(long, requires = "bootstrap_method")]
    #[serde(skip)]
    pub outfile: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub bootstrap_method: Option<BootstrapMethod>,
    #[command(flatten)]
    #[serde(flatten)]
    pub tags: TagsArg,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MfaCodesArgs {
    #[arg(long)]
    pub user_name: String,
    #[arg(long)]
    pub serial_number: String,
    /// A code from the device.
    #[arg(long)]
    pub authentication_code1: String,
    /// The next code from the device.
    #[arg(long)]
    pub authentication_code2: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeactivateMfaDeviceArgs {
    #[arg(long)]
    pub user_name: Option<String>,
    #[arg(long)]
    pub serial_number: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[value(rename_all = "PascalCase")]
pub enum AssignmentStatus {
    Assigned,
    Unassigned,
    /// AWS's default when the parameter is omitted.
    #[default]
    Any,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVirtualMfaDevicesArgs {
    #[arg(long, value_enum, default_value_t = AssignmentStatus::Any)]
    #[serde(default)]
    pub assignment_status: AssignmentStatus,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadSshPublicKeyArgs {
    #[arg(long)]
    pub user_name: String,
    /// The public key: an OpenSSH line or PEM, inline or file://PATH.
    #[arg(long)]
    #[serde(rename = "SSHPublicKeyBody")]
    pub ssh_public_key_body: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SshPublicKeyIdArgs {
    #[arg(long)]
    pub user_name: String,
    /// The key's id (APKA…), as upload-ssh-public-key printed it.
    #[arg(long)]
    #[serde(rename = "SSHPublicKeyId")]
    pub ssh_public_key_id: String,
}

/// `--encoding` of get-ssh-public-key: AWS's `encodingType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
pub enum KeyEncoding {
    #[value(name = "SSH")]
    #[serde(rename = "SSH")]
    Ssh,
    #[value(name = "PEM")]
    #[serde(rename = "PEM")]
    Pem,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSshPublicKeyArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub key: SshPublicKeyIdArgs,
    #[arg(long, value_enum)]
    pub encoding: KeyEncoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[value(rename_all = "PascalCase")]
pub enum KeyStatus {
    Active,
    Inactive,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSshPublicKeyArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub key: SshPublicKeyIdArgs,
    #[arg(long, value_enum)]
    pub status: KeyStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[value(rename_all = "PascalCase")]
pub enum EntityFilter {
    User,
    Role,
    Group,
    LocalManagedPolicy,
    #[value(name = "AWSManagedPolicy")]
    #[serde(rename = "AWSManagedPolicy")]
    AwsManagedPolicy,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthorizationDetailsArgs {
    #[arg(long, value_enum, num_args = 1..)]
    #[serde(default)]
    pub filter: Vec<EntityFilter>,
}

/// `access-report`'s filters: each narrows the report to one name.
#[derive(Debug, Args)]
pub struct AccessReportArgs {
    /// Only this IAM user.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only this host (its hostname, as host ARNs name it).
    #[arg(long, value_name = "HOSTNAME")]
    pub host: Option<String>,
    /// Only this role.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A get-account-authorization-details JSON file (PATH or file://PATH).
    pub file: String,
}

#[derive(Debug, Args, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulatePrincipalArgs {
    /// ARN of the user or role whose stored policies are evaluated.
    #[arg(long)]
    pub policy_source_arn: String,
    /// Actions to simulate, e.g. host:Login iam:ChangePassword.
    #[arg(long, num_args = 1.., required = true, value_name = "ACTION")]
    #[serde(default)]
    pub action_names: Vec<String>,
    /// Resources to simulate (default: *).
    #[arg(long, num_args = 1.., value_name = "ARN")]
    #[serde(default)]
    pub resource_arns: Vec<String>,
    /// Context entries: AWS's JSON list or shorthand.
    #[arg(long, num_args = 1.., value_name = "ENTRIES")]
    #[serde(default, deserialize_with = "json_items")]
    pub context_entries: Vec<String>,
}

/// `list-users` → `ListUsers`, `enable-mfa-device` → `EnableMFADevice`,
/// `upload-ssh-public-key` → `UploadSSHPublicKey`: the AWS operation name
/// (table titles, action names, audit).
pub fn operation_name(verb: &str) -> String {
    verb.split('-')
        .map(|w| {
            if w == "mfa" || w == "ssh" {
                return w.to_ascii_uppercase();
            }
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn api_requests_become_the_same_commands() {
        let req = |action: &str, input: serde_json::Value| {
            let serde_json::Value::Object(map) = input else {
                panic!("not an object")
            };
            command_from_request(action, map)
        };
        let Command::CreateUser(a) = req(
            "CreateUser",
            serde_json::json!({"UserName": "bob", "Tags": [{"Key": "a", "Value": "1"}]}),
        )
        .unwrap() else {
            panic!("wrong verb")
        };
        assert_eq!(a.user_name, "bob");
        assert_eq!(a.tags.tags, vec![r#"{"Key":"a","Value":"1"}"#.to_owned()]);
        let Command::CreatePolicyVersion(v) = req(
            "CreatePolicyVersion",
            serde_json::json!({"PolicyArn": "arn", "PolicyDocument": "{}", "SetAsDefault": false}),
        )
        .unwrap() else {
            panic!("wrong verb")
        };
        assert_eq!(tri(v.set_as_default, v.no_set_as_default), Some(false));
        let Command::ListPolicies(p) =
            req("ListPolicies", serde_json::json!({"Scope": "AWS"})).unwrap()
        else {
            panic!("wrong verb")
        };
        assert_eq!(p.scope, PolicyScope::Aws);
        assert!(matches!(
            req(
                "EnableMFADevice",
                serde_json::json!({"UserName": "b", "SerialNumber": "s",
                "AuthenticationCode1": "1", "AuthenticationCode2": "2"})
            ),
            Ok(Command::EnableMfaDevice(_))
        ));
        // SSH public keys: botocore's member names (SSH in capitals).
        let Command::GetSshPublicKey(g) = req(
            "GetSSHPublicKey",
            serde_json::json!({"UserName": "u", "SSHPublicKeyId": "APKAEIBAERJR2EXAMPLE",
                "Encoding": "PEM"}),
        )
        .unwrap() else {
            panic!("wrong verb")
        };
        assert_eq!(g.key.ssh_public_key_id, "APKAEIBAERJR2EXAMPLE");
        assert_eq!(g.encoding, KeyEncoding::Pem);
        let Command::UpdateSshPublicKey(u) = req(
            "UpdateSSHPublicKey",
            serde_json::json!({"UserName": "u", "SSHPublicKeyId": "APKA1", "Status": "Inactive"}),
        )
        .unwrap() else {
            panic!("wrong verb")
        };
        assert_eq!(u.status, KeyStatus::Inactive);
        assert!(matches!(
            req(
                "UploadSSHPublicKey",
                serde_json::json!({"UserName": "u", "SSHPublicKeyBody": "ssh-ed25519 AAAA"})
            ),
            Ok(Command::UploadSshPublicKey(_))
        ));
        assert!(matches!(
            req("ListSSHPublicKeys", serde_json::json!({})),
            Ok(Command::ListSshPublicKeys(_))
        ));
        // AssignmentStatus omitted: AWS's default, Any.
        let Command::ListVirtualMfaDevices(l) =
            req("ListVirtualMFADevices", serde_json::json!({})).unwrap()
        else {
            panic!("wrong verb")
        };
        assert_eq!(l.assignment_status, AssignmentStatus::Any);
        let Command::ResyncMfaDevice(r) = req(
            "ResyncMFADevice",
            serde_json::json!({"UserName": "u", "SerialNumber": "s",
                "AuthenticationCode1": "123456", "AuthenticationCode2": "234567"}),
        )
        .unwrap() else {
            panic!("wrong verb")
        };
        assert_eq!(r.authentication_code2, "234567");
        // Ours, not on the API.
        for action in ["CreateRecoveryCodes", "GetRecoveryCodesStatus"] {
            assert!(req(action, serde_json::json!({})).is_err(), "{action}");
        }
        assert!(matches!(
            req(
                "DeleteSSHPublicKey",
                serde_json::json!({"UserName": "u", "SSHPublicKeyId": "APKA1"})
            ),
            Ok(Command::DeleteSshPublicKey(_))
        ));
        // Ours, or not an API action: not reachable from a request.
        for action in [
            "AssumeRole",
            "UnlockUser",
            "SetupHost",
            "Init",
            "ImportAuthorizationDetails",
        ] {
            assert!(req(action, serde_json::json!({})).is_err(), "{action}");
        }
        // Actions without parameters.
        assert!(matches!(
            req("GetAccountPasswordPolicy", serde_json::json!({})),
            Ok(Command::GetAccountPasswordPolicy)
        ));
        assert!(matches!(
            req("GenerateCredentialReport", serde_json::json!({})),
            Ok(Command::GenerateCredentialReport)
        ));
        // A file the CLI would write is never one the server writes.
        let Command::CreateVirtualMfaDevice(d) = req(
            "CreateVirtualMFADevice",
            serde_json::json!({"VirtualMFADeviceName": "d", "Outfile": "/etc/passwd"}),
        )
        .unwrap() else {
            panic!("wrong verb")
        };
        assert!(d.outfile.is_none());
    }

    #[test]
    fn aws_flag_names_parse() {
        let cli = Cli::try_parse_from([
            "iamctl",
            "create-user",
            "--user-name",
            "bob",
            "--tags",
            "Key=a,Value=1",
            "Key=b,Value=2",
            "--permissions-boundary",
            "arn:aws:iam::123456789012:policy/b",
        ])
        .unwrap();
        let Command::CreateUser(a) = cli.command else {
            panic!("wrong verb")
        };
        assert_eq!(a.tags.tags.len(), 2);
        let cli = Cli::try_parse_from([
            "iamctl",
            "update-account-password-policy",
            "--minimum-password-length",
            "12",
            "--require-symbols",
            "--no-require-numbers",
        ])
        .unwrap();
        let Command::UpdateAccountPasswordPolicy(p) = cli.command else {
            panic!("wrong verb")
        };
        assert_eq!(tri(p.require_symbols, p.no_require_symbols), Some(true));
        assert_eq!(tri(p.require_numbers, p.no_require_numbers), Some(false));
        assert_eq!(tri(p.require_uppercase_characters, false), None);
    }

    #[test]
    fn operation_names_are_aws_spelled() {
        assert_eq!(operation_name("list-users"), "ListUsers");
        assert_eq!(operation_name("enable-mfa-device"), "EnableMFADevice");
        assert_eq!(
            operation_name("create-virtual-mfa-device"),
            "CreateVirtualMFADevice"
        );
        assert_eq!(operation_name("list-mfa-devices"), "ListMFADevices");
        assert_eq!(
            operation_name("upload-ssh-public-key"),
            "UploadSSHPublicKey"
        );
        assert_eq!(operation_name("list-ssh-public-keys"), "ListSSHPublicKeys");
        assert_eq!(
            operation_name("get-account-password-policy"),
            "GetAccountPasswordPolicy"
        );
    }
}
