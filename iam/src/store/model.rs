//! The directory model as the store hands it out. Timestamps are unix
//! seconds (UTC); ARNs are computed from the account id, path and name.

use super::bindings::SavedTrust;
use crate::names::{
    GroupName, HostName, IamPath, InstanceProfileName, MfaDeviceName, PolicyName, RoleName,
    RoleSessionName, Tag, UserName,
};
use crate::policy::{Policy, PolicyError, PolicyKind, PolicySet};
use crate::secret::SecretBytes;
use chrono::{DateTime, Utc};

/// Whether a user may log in at all (`iamctl` disables, PAM refuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Disabled => "Disabled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: UserName,
    pub path: IamPath,
    /// `AIDA…`
    pub id: String,
    pub arn: String,
    pub create_date: i64,
    /// From the ledger (keyed by `id`): the last password login.
    pub password_last_used: Option<i64>,
    pub status: UserStatus,
    pub tags: Vec<Tag>,
    /// ARN of the managed policy used as permissions boundary.
    pub permissions_boundary: Option<String>,
    /// Linux uid (and gid of the user's private group), allocated once.
    pub uid: u32,
}

/// What `create_user` needs; the store fills in id, ARN, date and uid.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: UserName,
    pub path: IamPath,
    pub tags: Vec<Tag>,
    pub permissions_boundary: Option<String>,
}

impl NewUser {
    /// A user at path `/` without tags or boundary.
    pub fn new(name: UserName) -> Self {
        Self {
            name,
            path: IamPath::root(),
            tags: Vec::new(),
            permissions_boundary: None,
        }
    }
}

/// A user's console/SSH password: an argon2id PHC string, never plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginProfile {
    pub user: UserName,
    pub password_hash: String,
    pub password_reset_required: bool,
    pub create_date: i64,
    /// When the password was last set (for max age and the credential report).
    pub password_changed: i64,
}

impl std::fmt::Debug for LoginProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfile")
            .field("user", &self.user)
            .field("password_hash", &"<redacted>")
            .field("password_reset_required", &self.password_reset_required)
            .field("create_date", &self.create_date)
            .field("password_changed", &self.password_changed)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: GroupName,
    pub path: IamPath,
    /// `AGPA…`
    pub id: String,
    pub arn: String,
    pub create_date: i64,
    /// Linux gid, allocated once.
    pub gid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: PolicyName,
    pub path: IamPath,
    /// `ANPA…`
    pub id: String,
    pub arn: String,
    pub description: Option<String>,
    pub create_date: i64,
    pub update_date: i64,
    /// `v1`, `v2`, …
    pub default_version_id: String,
    /// Users, groups and roles it is attached to.
    pub attachment_count: u32,
    /// Users and roles using it as permissions boundary.
    pub permissions_boundary_usage_count: u32,
    /// An AWS managed policy brought in by an import: its ARN is AWS's
    /// (`arn:aws:iam::aws:policy/…`).
    pub aws_managed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub version_id: String,
    pub document: String,
    pub is_default_version: bool,
    pub create_date: i64,
}

/// An inline policy of a user, group or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicy {
    pub name: PolicyName,
    pub document: String,
}

/// A managed policy attached to an entity (AWS `AttachedPolicies` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub name: PolicyName,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: RoleName,
    pub path: IamPath,
    /// `AROA…`
    pub id: String,
    pub arn: String,
    pub create_date: i64,
    /// The trust policy as AWS shows it: a bound principal under its
    /// current ARN, a deleted one as its unique ID (`store/bindings.rs`).
    pub assume_role_policy_document: String,
    /// The trust policy as saved, with its principals' bindings: what
    /// [`Role::trust_policy`] decides with.
    pub trust: SavedTrust,
    pub description: Option<String>,
    /// Seconds, 3600..=43200; AWS's default is 3600.
    pub max_session_duration: u32,
    pub tags: Vec<Tag>,
    pub permissions_boundary: Option<String>,
}

/// What `create_role` needs.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: RoleName,
    pub path: IamPath,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    /// `None` means AWS's default, 3600.
    pub max_session_duration: Option<u32>,
    pub tags: Vec<Tag>,
    pub permissions_boundary: Option<String>,
}

/// A virtual MFA device (TOTP). The secret is the raw seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaDevice {
    pub name: MfaDeviceName,
    pub path: IamPath,
    /// `arn:aws:iam::ACCT:mfa/NAME`
    pub serial_number: String,
    pub secret: SecretBytes,
    pub create_date: i64,
    /// The user it is enabled for, if any.
    pub user: Option<UserName>,
    pub enable_date: Option<i64>,
    /// How many TOTP steps the device's clock runs ahead (negative:
    /// behind), as `ResyncMFADevice` found it; every check looks there.
    pub drift_steps: i64,
}

impl MfaDevice {
    /// The time the device's clock shows at `now`.
    pub fn device_time(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let seconds = self
            .drift_steps
            .saturating_mul(crate::totp::STEP_SECONDS as i64);
        now.checked_add_signed(chrono::TimeDelta::seconds(seconds))
            .unwrap_or(now)
    }
}

/// The three kinds of principal-like entities that carry policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    User(UserName),
    Group(GroupName),
    Role(RoleName),
}

/// Where a policy in a [`PrincipalPolicies`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    UserInline,
    GroupInline {
        group: GroupName,
    },
    RoleInline,
    /// A managed policy's default version, attached directly or via `group`.
    Managed {
        arn: String,
        group: Option<GroupName>,
    },
}

impl PolicySource {
    /// The kind the policy engine parses this document as.
    pub fn kind(&self) -> PolicyKind {
        match self {
            Self::UserInline => PolicyKind::UserInline,
            Self::GroupInline { .. } => PolicyKind::GroupInline,
            Self::RoleInline => PolicyKind::RoleInline,
            Self::Managed { .. } => PolicyKind::Managed,
        }
    }
}

/// One policy document ready for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The policy's own name (inline name, or managed policy name).
    pub name: String,
    pub document: String,
    pub source: PolicySource,
}

/// Every policy that applies to a user or role, read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrincipalPolicies {
    /// Inline + attached managed (default versions) of the principal and,
    /// for a user, of each of its groups.
    pub identity: Vec<PolicyDocument>,
    /// The permissions boundary's default version, if one is set.
    pub boundary: Option<PolicyDocument>,
}

impl PolicyDocument {
    /// Compiles the document for the policy engine.
    pub fn parse(&self) -> Result<Policy, PolicyError> {
        Policy::parse_stored(&self.name, &self.document, self.source.kind())
    }
}

impl PrincipalPolicies {
    /// Compiles everything into the engine's [`PolicySet`] (no resource
    /// policies: the caller adds a trust policy when it decides
    /// `sts:AssumeRole`). A stored document that no longer parses is an
    /// error, so callers fail closed.
    pub fn policy_set(&self) -> Result<PolicySet, PolicyError> {
        Ok(PolicySet {
            identity: self
                .identity
                .iter()
                .map(PolicyDocument::parse)
                .collect::<Result<_, _>>()?,
            boundary: self
                .boundary
                .as_ref()
                .map(|b| b.parse().map(|p| vec![p]))
                .transpose()?,
            resource: Vec::new(),
        })
    }
}

/// One row of the credential report (the CLI adds root and formats CSV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialReportRow {
    pub user: UserName,
    pub arn: String,
    pub user_creation_time: i64,
    pub password_enabled: bool,
    pub password_last_used: Option<i64>,
    pub password_last_changed: Option<i64>,
    pub mfa_active: bool,
    pub status: UserStatus,
}

/// Store-wide limits that come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `[accounts] uid_range`: Linux ids for users and groups, inclusive.
    pub uid_range: (u32, u32),
    /// AWS's default quota is 1000 roles; pam_iam's default is 250.
    pub max_roles: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            uid_range: (200_000, 299_999),
            max_roles: 250,
        }
    }
}

/// AWS's per-entity limits.
pub const MAX_GROUPS_PER_USER: u32 = 10;
pub const MAX_MANAGED_POLICIES_PER_ENTITY: u32 = 10;
pub const MAX_POLICY_VERSIONS: u32 = 5;
pub const MAX_ACCESS_KEYS_PER_USER: u32 = 2;
pub const MAX_SSH_PUBLIC_KEYS_PER_USER: u32 = 5;

/// pam_faillock's rule: `deny` failures within `fail_interval` seconds lock
/// the account until `unlock_time` seconds after the last failure
/// (`unlock_time == 0`: until an administrator unlocks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    pub deny: u32,
    pub fail_interval: i64,
    pub unlock_time: i64,
}

/// A user's lockout state at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockState {
    /// Failures counted within the fail interval.
    pub failures: u32,
    pub locked: bool,
    /// When the lock lifts by itself (`None` if unlocked or never).
    pub locked_until: Option<i64>,
}

/// How one attempt came out, before the lockout rule has its say
/// ([`Ledger::settle_attempt`](crate::ledger::Ledger::settle_attempt)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// Passed. `reset`: the user's failures are forgotten (a whole login);
    /// a step that proves one factor only (a password before its code, a
    /// current password) keeps them.
    Pass { reset: bool },
    /// Failed. `count`: one failure is recorded (a guess); a refusal that
    /// is no guess (a disabled user) is not counted.
    Fail { count: bool },
}

/// What the lockout rule made of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Not locked, and the check passed.
    Passed,
    /// Not locked, and the check failed; `counted`: a failure was recorded;
    /// `state`: the lock state after it.
    Failed { counted: bool, state: LockState },
    /// Locked when the attempt was decided: the check did not run and
    /// nothing was recorded, whatever the factors.
    Locked(LockState),
}

/// One PAM authentication attempt: written by `authenticate` under a fresh
/// random id, which reaches `acct_mgmt` and `open_session` only through the
/// PAM handle of that login (module data, and the PAM environment that sshd
/// carries from its authentication child to its monitor). Never looked up
/// by user and address: another connection of the same user from the same
/// place cannot borrow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRecord {
    /// Random, 160 bits ([`AuthRecord::new_id`]).
    pub id: String,
    pub user: String,
    pub service: String,
    /// Empty for console logins.
    pub rhost: String,
    pub tty: String,
    pub time: i64,
    /// When the TOTP check passed, if it did.
    pub mfa_time: Option<i64>,
    /// Whether a password was among the factors (every mode but `totp`).
    pub password: bool,
    pub state: AuthState,
}

impl AuthRecord {
    /// Characters of an id: 32 base32 characters, 160 bits.
    pub const ID_LEN: usize = 32;

    /// A fresh random id from the OS generator.
    pub fn new_id() -> Result<String, getrandom::Error> {
        crate::names::random_base32(Self::ID_LEN)
    }

    /// Whether `id` has the shape of an id (it may come from the PAM
    /// environment, which other modules can write).
    pub fn is_id(id: &str) -> bool {
        id.len() == Self::ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    }
}

/// Where an authentication attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthState {
    /// The password is settled (a wrong one already counted); the code
    /// prompt is still to come.
    Pending,
    /// Refused.
    Failed,
    /// Every factor verified; `acct_mgmt` has not used it yet.
    Authenticated,
    /// Used by `acct_mgmt`; `open_session` takes it (MFA age) and deletes it.
    Consumed,
}

impl AuthState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Authenticated => "authenticated",
            Self::Consumed => "consumed",
        }
    }
}

/// A login session (PAM open_session .. close_session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    pub id: i64,
    pub user: String,
    pub service: String,
    pub rhost: String,
    pub tty: String,
    pub pid: Option<u32>,
    pub started: i64,
    pub ended: Option<i64>,
    pub mfa_time: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSessionStatus {
    Active,
    Ended,
    Revoked,
    Expired,
}

impl RoleSessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Ended => "ended",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// An elevation session from `iamctl assume-role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSession {
    pub id: String,
    pub user: UserName,
    pub role: RoleName,
    pub session_name: RoleSessionName,
    pub started: i64,
    pub expires: i64,
    /// The supervising process, once it runs.
    pub pid: Option<u32>,
    /// The supervisor's start time (clock ticks since boot, `/proc/PID/stat`
    /// field 22): with `pid`, the identity of the supervising process.
    pub pid_start: Option<u64>,
    /// The Linux uid the session's command runs as.
    pub run_as_uid: Option<u32>,
    pub status: RoleSessionStatus,
    pub ended: Option<i64>,
}

// ---- access keys and STS sessions (iam-server) ------------------------------

/// AWS's `statusType` of access keys and SSH public keys: an inactive key
/// authenticates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }

    /// AWS's spelling only (`StatusType` in the IAM model).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(Self::Active),
            "Inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// An access key as `ListAccessKeys` shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…`, 20 characters.
    pub id: String,
    /// The owner's current name (keys belong to its unique id).
    pub user: UserName,
    pub status: AccessKeyStatus,
    pub create_date: i64,
    /// From the ledger: the last authenticated call made with it.
    pub last_used: Option<AccessKeyLastUsed>,
}

/// An SSH public key of a user (`UploadSSHPublicKey`). The body is the key
/// in OpenSSH's one-line form (`ssh-ed25519 AAAA…`, no comment), whatever
/// encoding it was uploaded in; the fingerprint is its MD5, as AWS gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPublicKey {
    /// `APKA…`, 20 characters.
    pub id: String,
    /// The owner's current name (keys belong to its unique id).
    pub user: UserName,
    pub body: String,
    pub fingerprint: String,
    pub status: AccessKeyStatus,
    pub upload_date: i64,
}

/// An SSH public key as the uploader parsed it: `body` in OpenSSH's
/// one-line form, `fingerprint` its MD5 (`xx:xx:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSshPublicKey {
    pub body: String,
    pub fingerprint: String,
}

/// `AccessKeyLastUsed` of `GetAccessKeyLastUsed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyLastUsed {
    pub date: i64,
    /// The signing scope's service (`iam`, `sts`).
    pub service: String,
    pub region: String,
}

/// A sealed secret: ciphertext the server's key opens (docs/SECURITY.md);
/// the store never sees the plaintext. `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(pub Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

/// What an access key id presented in a signature stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user's long-term key. The caller refuses an inactive key and, as
    /// pam_iam does for logins, a disabled user.
    AccessKey {
        user: UserName,
        user_status: UserStatus,
        status: AccessKeyStatus,
        sealed: Sealed,
    },
    /// Temporary credentials from `AssumeRole`; may have expired.
    RoleSession(StsSession),
    /// An enrolled host's key (`JoinHost`).
    Host(HostCredential),
}

/// An instance profile (`CreateInstanceProfile`): what hands a role to a
/// host, as EC2 hands one to an instance. It holds at most one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfile {
    pub name: InstanceProfileName,
    pub path: IamPath,
    /// `AIPA…`
    pub id: String,
    pub arn: String,
    pub create_date: i64,
    /// None or one (AWS's quota of one role per profile).
    pub roles: Vec<Role>,
    /// The tags of every host enrolled with it (`aws:ResourceTag/K`).
    pub tags: Vec<Tag>,
}

/// What `create_instance_profile` needs.
#[derive(Debug, Clone)]
pub struct NewInstanceProfile {
    pub name: InstanceProfileName,
    pub path: IamPath,
    pub tags: Vec<Tag>,
}

/// A host's key as authentication needs it: the host is the role session
/// `assumed-role/ROLE/HOSTNAME` of the role its instance profile holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCredential {
    pub hostname: HostName,
    pub sealed: Sealed,
    pub instance_profile: InstanceProfileName,
    /// None once the role is removed from the profile: the host is revoked.
    pub role: Option<RoleName>,
}

/// A host enrolled by `JoinHost` (its secret is returned once, never stored
/// in clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledHost {
    pub hostname: HostName,
    /// `ACCA…`
    pub access_key_id: String,
    pub instance_profile: InstanceProfile,
    pub create_date: i64,
}

/// STS `AssumeRole` credentials as stored: what authenticates them and what
/// rebuilds the assumed-role principal. `create_sts_session` takes one too:
/// `role_id` is the role the caller authorized, `role` its name then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsSession {
    /// `ASIA…`, 20 characters.
    pub access_key_id: String,
    pub sealed: Sealed,
    /// SHA-256 of the session token (the token itself is not stored).
    pub token_sha256: [u8; 32],
    /// The role's name (sessions belong to its unique id, and follow a
    /// rename).
    pub role: RoleName,
    /// `AROA…`
    pub role_id: String,
    pub session_name: RoleSessionName,
    /// Who assumed the role (`aws:SourceArn`-like, for the audit).
    pub source_arn: String,
    /// When an MFA code was verified for the session (`aws:MultiFactorAuthAge`).
    pub mfa_time: Option<i64>,
    pub issued: i64,
    pub expiration: i64,
}

impl StsSession {
    /// `aws:MultiFactorAuthPresent`.
    pub fn mfa_authenticated(&self) -> bool {
        self.mfa_time.is_some()
    }

    pub fn expired(&self, now: i64) -> bool {
        now >= self.expiration
    }
}

// ---- get-account-authorization-details ------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetail {
    pub user: User,
    pub groups: Vec<GroupName>,
    pub inline_policies: Vec<InlinePolicy>,
    pub attached_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDetail {
    pub group: Group,
    pub inline_policies: Vec<InlinePolicy>,
    pub attached_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDetail {
    pub role: Role,
    pub inline_policies: Vec<InlinePolicy>,
    pub attached_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDetail {
    pub policy: ManagedPolicy,
    pub versions: Vec<PolicyVersion>,
}

/// The whole directory, as get-account-authorization-details exports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthorizationDetails {
    pub users: Vec<UserDetail>,
    pub groups: Vec<GroupDetail>,
    pub roles: Vec<RoleDetail>,
    pub policies: Vec<PolicyDetail>,
}

// ---- import --------------------------------------------------------------

/// A directory to import (e.g. from `aws iam get-account-authorization-details`).
/// Ids and dates are kept when given; uids/gids are always allocated here.
/// Attached policies are named by ARN; only the name part is used, so ARNs
/// from another account resolve to the imported policies.
#[derive(Debug, Clone, Default)]
pub struct ImportDetails {
    pub users: Vec<ImportUser>,
    pub groups: Vec<ImportGroup>,
    pub roles: Vec<ImportRole>,
    pub policies: Vec<ImportPolicy>,
}

#[derive(Debug, Clone)]
pub struct ImportUser {
    pub name: UserName,
    pub path: IamPath,
    pub id: Option<String>,
    pub create_date: Option<i64>,
    pub tags: Vec<Tag>,
    pub permissions_boundary: Option<String>,
    pub groups: Vec<GroupName>,
    pub inline_policies: Vec<InlinePolicy>,
    pub attached_policy_arns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ImportGroup {
    pub name: GroupName,
    pub path: IamPath,
    pub id: Option<String>,
    pub create_date: Option<i64>,
    pub inline_policies: Vec<InlinePolicy>,
    pub attached_policy_arns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ImportRole {
    pub role: NewRole,
    pub id: Option<String>,
    pub create_date: Option<i64>,
    pub inline_policies: Vec<InlinePolicy>,
    pub attached_policy_arns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ImportPolicy {
    pub name: PolicyName,
    pub path: IamPath,
    pub id: Option<String>,
    pub description: Option<String>,
    pub create_date: Option<i64>,
    /// Versions as `(version_id like "v3", document, is_default)`.
    pub versions: Vec<(String, String, bool)>,
    /// An AWS managed policy (`arn:aws:iam::aws:policy/…`) brought over
    /// from an AWS export: it has no customer size limit (ReadOnlyAccess is
    /// far over 6,144 characters), so only its validity is checked.
    pub aws_managed: bool,
}

/// Counts of what an import created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub users: usize,
    pub groups: usize,
    pub roles: usize,
    pub policies: usize,
}
