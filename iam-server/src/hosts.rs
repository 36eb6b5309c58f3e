//! Hosts as IAM principals (docs/ARCHITECTURE.md, "Hosts as principals"):
//! `iam-server join-token` and `revoke-host`, and the host API over AWS's
//! JSON 1.1 protocol (`X-Amz-Target: IamHost_20261203.<Operation>`):
//!
//! - `JoinHost` {Token, Hostname}: unsigned, the one-time token is its only
//!   authentication. Uses the token up and returns the host's credential
//!   once (the secret is sealed in the store like an access key's).
//! - `DescribeHost` {}: signed with the host's own credential (service
//!   `iam`); the host's name, ARN, role session ARN and its instance
//!   profile with the tags that are `aws:ResourceTag/K` for `host:Login`
//!   and `host:RunAs` there. Like `GetCallerIdentity`, it needs no policy:
//!   it tells a host what it is, and only a host may ask.

use crate::api_error::ApiError;
use crate::config::ServerConfig;
use crate::keyring::{self, Keyring};
use chrono::{DateTime, TimeDelta, Utc};
use iam::names::{
    AccountId, HostName, InstanceProfileName, UniqueIdKind, assumed_role_arn, host_arn,
    new_unique_id, random_base32,
};
use iam::secret::SecretString;
use iam::store::{EnrolledHost, Store};
use iamctl::error::CliError;
use serde::Deserialize;
use serde_json::{Value, json};

/// The `X-Amz-Target` prefix of the host API.
pub const TARGET_PREFIX: &str = "IamHost_20261203.";
pub const JOIN_HOST: &str = "JoinHost";
pub const DESCRIBE_HOST: &str = "DescribeHost";

/// The SigV4 service `DescribeHost` is signed for.
pub const SERVICE: &str = "iam";

/// An unsigned `JoinHost` body is read up to this many bytes, no more.
pub const MAX_JOIN_BODY: usize = 4096;

/// A join token's length in base32 characters (260 random bits).
const TOKEN_CHARS: usize = 52;

/// The default lifetime of a join token.
pub const DEFAULT_TOKEN_LIFETIME: &str = "1h";

/// Whether a request is an unsigned `JoinHost`, whose body the front end
/// reads although it carries no signature.
pub fn is_join(headers: &http::HeaderMap) -> bool {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.strip_prefix(TARGET_PREFIX) == Some(JOIN_HOST))
}

/// Why a local host command failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Store(#[from] iam::store::StoreError),
    #[error("{0}")]
    Name(#[from] iam::names::NameError),
    #[error("{0}")]
    Keyring(#[from] keyring::KeyringError),
    #[error("{0}")]
    Directory(#[from] crate::directory::DirectoryError),
    #[error("--expires-in: {0}")]
    Duration(String),
}

/// `iam-server join-token`: a new one-time token for `profile`, valid for
/// `expires_in` (`"1h"`, `"15m"`, …), and when it expires. Only its
/// SHA-256 is stored; the token is shown this once.
pub fn issue_join_token(
    config: &ServerConfig,
    profile: &str,
    expires_in: &str,
    now: DateTime<Utc>,
) -> Result<(SecretString, DateTime<Utc>), HostError> {
    AccountId::parse(&config.account_id)?;
    let profile = InstanceProfileName::parse(profile)?;
    let lifetime: TimeDelta =
        iam::config::parse_duration(expires_in).map_err(HostError::Duration)?;
    let store = crate::directory::Directory::open(config)?.store()?;
    let token = SecretString::new(random_base32(TOKEN_CHARS).map_err(keyring::KeyringError::from)?);
    let expiration = now + lifetime;
    store.create_join_token(
        &profile,
        &keyring::token_digest(token.expose()),
        now,
        expiration,
    )?;
    Ok((token, expiration))
}

/// `iam-server revoke-host`: deletes the host's credential.
pub fn revoke_host(config: &ServerConfig, hostname: &str) -> Result<(), HostError> {
    let hostname = HostName::parse(hostname)?;
    let store = crate::directory::Directory::open(config)?.store()?;
    Ok(store.revoke_host(&hostname)?)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct JoinInput {
    token: String,
    hostname: String,
}

/// A host enrolled by [`join`]: the answer (with the secret, once) and
/// what its event needs.
pub struct Joined {
    pub output: Value,
    pub host: EnrolledHost,
}

/// `JoinHost`: the body's token is used up and the host's credential made.
/// Every refusal of the token (unknown, used, expired) is one answer.
pub fn join(
    store: &Store,
    keyring: &Keyring,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Joined, ApiError> {
    let input: JoinInput = serde_json::from_slice(body).map_err(|e| {
        // serde's message names a field, never echoes a value.
        CliError::new(
            "ValidationError",
            format!("The JoinHost body must be {{\"Token\": …, \"Hostname\": …}}: {e}"),
        )
    })?;
    let token = SecretString::new(input.token);
    let hostname = HostName::parse(&input.hostname)?;
    let digest = keyring::token_digest(token.expose());
    let access_key_id =
        new_unique_id(UniqueIdKind::HostKey).map_err(keyring::KeyringError::from)?;
    let secret = keyring::new_secret()?;
    let sealed = keyring.seal(&access_key_id, &secret)?;
    let host = store.join_host(&digest, &hostname, &access_key_id, &sealed, now)?;
    let mut output = describe(store.account_id(), &host)?;
    output["AccessKeyId"] = json!(host.access_key_id);
    output["SecretAccessKey"] = json!(secret.expose());
    Ok(Joined { output, host })
}

/// `DescribeHost`'s answer (and the part of `JoinHost`'s without the key).
pub fn describe(account: &AccountId, host: &EnrolledHost) -> Result<Value, ApiError> {
    let profile = &host.instance_profile;
    let session = host.hostname.session_name()?;
    let role_arn = profile.roles.first().map(|r| r.arn.clone());
    let session_arn = profile
        .roles
        .first()
        .map(|r| assumed_role_arn(account, &r.name, &session));
    Ok(json!({
        "AccountId": account.as_str(),
        "Hostname": host.hostname.as_str(),
        "HostArn": host_arn(account, host.hostname.as_str()),
        "Arn": session_arn,
        "RoleArn": role_arn,
        "InstanceProfile": iamctl::shapes::instance_profile(profile),
    }))
}

/// The operation a host API target names.
pub fn operation(target: &str) -> Result<&str, ApiError> {
    match target.strip_prefix(TARGET_PREFIX) {
        Some(op @ (JOIN_HOST | DESCRIBE_HOST)) => Ok(op),
        _ => Err(CliError::new(
            "UnknownOperationException",
            format!(
                "The operation {} is not supported by this server.",
                target.chars().take(80).collect::<String>()
            ),
        )
        .into()),
    }
}
