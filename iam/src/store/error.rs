//! The store's one error type; each variant maps to one AWS error code.

use crate::local_accounts::Collision;
use crate::names::NameError;
use crate::policy::PolicyError;
use crate::trust::TrustError;
use std::fmt;
use std::path::PathBuf;

/// The kind of entity an error is about; picks AWS's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
    Policy,
    PolicyVersion,
    UserPolicy,
    GroupPolicy,
    RolePolicy,
    LoginProfile,
    MfaDevice,
    PasswordPolicy,
    LoginSession,
    RoleSession,
    AccessKey,
    SshPublicKey,
    InstanceProfile,
    Host,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `name` is the entity's name (or ARN/serial/id where AWS uses those).
    #[error("{}", no_such_entity(*.kind, .name))]
    NoSuchEntity { kind: EntityKind, name: String },

    #[error("{}", already_exists(*.kind, .name))]
    EntityAlreadyExists { kind: EntityKind, name: String },

    /// Message worded as AWS's (`Cannot exceed quota for GroupsPerUser: 10`).
    #[error("{0}")]
    LimitExceeded(String),

    /// `UploadSSHPublicKey` of a key the user already has.
    #[error("The SSH public key is already associated with the user {0}.")]
    DuplicateSshPublicKey(String),

    /// A join token that is unknown, used or expired: one answer for all,
    /// so a guesser learns nothing.
    #[error("The join token is invalid, used or expired.")]
    InvalidJoinToken,

    /// `EnableMFADevice` / `ResyncMFADevice` codes that are not two
    /// consecutive codes of the device.
    #[error("Authentication code for device is not valid.")]
    InvalidAuthenticationCode,

    /// Message worded as AWS's (`Cannot delete entity, must delete policies first.`).
    #[error("{0}")]
    DeleteConflict(String),

    #[error("{0}")]
    InvalidName(#[from] NameError),

    #[error("{0}")]
    InvalidInput(String),

    /// A user or group name that shadows a local account or a reserved
    /// system name (see `crate::local_accounts`); refused on create/rename.
    #[error("{}", name_collision(*.kind, .name, .with))]
    NameCollision {
        kind: EntityKind,
        name: String,
        with: Collision,
    },

    /// The document failed policy validation; the message names statement
    /// and field, and the code is the engine's (`LimitExceeded` for size).
    #[error("{0}")]
    MalformedPolicyDocument(PolicyError),

    /// The store file is missing, not a pam_iam store, corrupt, from a newer
    /// version, or belongs to another account.
    #[error("store {path}: {reason}")]
    Unavailable { path: PathBuf, reason: String },

    /// The store file, or a directory on the way to it, is not trusted
    /// (`crate::trust`): refused before SQLite reads a byte.
    #[error("store {0}")]
    Untrusted(TrustError),

    /// The audit event of a change could not be made: the change is not
    /// committed without it.
    #[error("audit event: {0}")]
    Audit(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("random number generator failed: {0}")]
    Random(getrandom::Error),

    /// Another process held the write lock longer than the busy timeout.
    #[error("the store is busy: another process held its write lock for more than {} s; nothing was changed", super::BUSY_TIMEOUT.as_secs())]
    Busy,

    #[error("database error: {0}")]
    Database(super::sql::Error),

    /// A stored row no longer parses (edited by hand, or a bug).
    #[error("corrupt store row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The AWS error code for this error, as `iamctl` prints it.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::NoSuchEntity { .. } => "NoSuchEntity",
            Self::EntityAlreadyExists { .. } => "EntityAlreadyExists",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::DeleteConflict(_) => "DeleteConflict",
            Self::InvalidJoinToken => "InvalidJoinToken",
            Self::InvalidAuthenticationCode => "InvalidAuthenticationCode",
            Self::DuplicateSshPublicKey(_) => "DuplicateSSHPublicKey",
            Self::InvalidName(_) => "ValidationError",
            Self::InvalidInput(_) | Self::NameCollision { .. } => "InvalidInput",
            Self::MalformedPolicyDocument(e) => e.aws_code(),
            Self::Busy => "ConcurrentModification",
            Self::Database(e) if e.is_serialization_failure() => "ConcurrentModification",
            Self::Unavailable { .. }
            | Self::Untrusted(_)
            | Self::Io { .. }
            | Self::Audit(_)
            | Self::Random(_)
            | Self::Database(_)
            | Self::Corrupt(_) => "ServiceFailure",
        }
    }

    pub(crate) fn no_such(kind: EntityKind, name: impl fmt::Display) -> Self {
        Self::NoSuchEntity {
            kind,
            name: name.to_string(),
        }
    }

    pub(crate) fn exists(kind: EntityKind, name: impl fmt::Display) -> Self {
        Self::EntityAlreadyExists {
            kind,
            name: name.to_string(),
        }
    }
}

impl From<super::sql::Error> for StoreError {
    fn from(e: super::sql::Error) -> Self {
        match e {
            e if e.is_busy() => Self::Busy,
            super::sql::Error::Unavailable(reason) => Self::Unavailable {
                path: PathBuf::from(super::sql::SERVER_LABEL),
                reason,
            },
            e => Self::Database(e),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        super::sql::Error::from(e).into()
    }
}

impl From<getrandom::Error> for StoreError {
    fn from(e: getrandom::Error) -> Self {
        Self::Random(e)
    }
}

fn no_such_entity(kind: EntityKind, name: &str) -> String {
    match kind {
        EntityKind::User => format!("The user with name {name} cannot be found."),
        EntityKind::Group => format!("The group with name {name} cannot be found."),
        EntityKind::Role => format!("The role with name {name} cannot be found."),
        EntityKind::Policy => format!("Policy {name} does not exist or is not attachable."),
        EntityKind::PolicyVersion => format!("Policy version {name} does not exist."),
        EntityKind::UserPolicy => format!("The user policy with name {name} cannot be found."),
        EntityKind::GroupPolicy => format!("The group policy with name {name} cannot be found."),
        EntityKind::RolePolicy => format!("The role policy with name {name} cannot be found."),
        EntityKind::LoginProfile => format!("Login Profile for User {name} cannot be found."),
        EntityKind::MfaDevice => format!("VirtualMFADevice with serial {name} does not exist."),
        EntityKind::PasswordPolicy => {
            format!("The Password Policy with domain name {name} cannot be found.")
        }
        EntityKind::LoginSession => format!("Login session {name} cannot be found."),
        EntityKind::RoleSession => format!("Role session {name} cannot be found."),
        EntityKind::AccessKey => format!("The Access Key with id {name} cannot be found."),
        EntityKind::SshPublicKey => format!("The Public Key with id {name} cannot be found."),
        EntityKind::InstanceProfile => {
            format!("Instance Profile {name} cannot be found.")
        }
        EntityKind::Host => format!("No host named {name} is enrolled."),
    }
}

fn name_collision(kind: EntityKind, name: &str, with: &Collision) -> String {
    let what = match kind {
        EntityKind::User => "user name",
        EntityKind::Group => "group name",
        _ => "name",
    };
    let why = match with {
        Collision::IamUser(_) | Collision::IamGroup(_) => {
            "IAM users and groups share the host's group names"
        }
        _ => "local privileges are granted only through [group_map]",
    };
    format!("The {what} {name} collides with {with}; {why}.")
}

fn already_exists(kind: EntityKind, name: &str) -> String {
    match kind {
        EntityKind::User => format!("User with name {name} already exists."),
        EntityKind::Group => format!("Group with name {name} already exists."),
        EntityKind::Role => format!("Role with name {name} already exists."),
        EntityKind::Policy => {
            format!("A policy called {name} already exists. Duplicate names are not allowed.")
        }
        EntityKind::LoginProfile => format!("Login Profile for user {name} already exists."),
        EntityKind::MfaDevice => {
            format!("MFADevice entity at the same path and name already exists: {name}.")
        }
        EntityKind::InstanceProfile => format!("Instance Profile {name} already exists."),
        EntityKind::Host => format!(
            "A host named {name} is already enrolled; revoke it first (iam-server revoke-host {name})."
        ),
        other => format!("{other:?} {name} already exists."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_worded_like_aws() {
        let e = StoreError::no_such(EntityKind::User, "bob");
        assert_eq!(e.to_string(), "The user with name bob cannot be found.");
        assert_eq!(e.aws_code(), "NoSuchEntity");
        let e = StoreError::exists(EntityKind::Group, "devs");
        assert_eq!(e.to_string(), "Group with name devs already exists.");
        assert_eq!(e.aws_code(), "EntityAlreadyExists");
        let e = StoreError::NameCollision {
            kind: EntityKind::Group,
            name: "sudo".into(),
            with: Collision::LocalGroup("sudo".into()),
        };
        assert_eq!(
            e.to_string(),
            "The group name sudo collides with the local group sudo on this host; \
             local privileges are granted only through [group_map]."
        );
        assert_eq!(e.aws_code(), "InvalidInput");
    }
}
