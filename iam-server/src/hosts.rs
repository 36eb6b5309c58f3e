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
use crate::bootstrap::LocalError;
use crate::config::ServerConfig;
use crate::keyring::{self, Keyring};
use chrono::{DateTime, TimeDelta, Utc};
use iam::audit::AuditEvent;
use iam::names::{
    AccountId, HostName, InstanceProfileName, UniqueIdKind, assumed_role_arn, host_arn,
    new_unique_id, random_base32,
};
use iam::secret::SecretString;
use iam::store::{EnrolledHost, Store, StoreError};
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

/// `iam-server join-token`: a new one-time token for `profile`, valid for
/// `expires_in` (`"1h"`, `"15m"`, …), and when it expires. Only its
/// SHA-256 is stored; the token is shown this once.
pub fn issue_join_token(
    config: &ServerConfig,
    profile: &str,
    expires_in: &str,
    now: DateTime<Utc>,
) -> Result<(SecretString, DateTime<Utc>), LocalError> {
    AccountId::parse(&config.account_id)?;
    let profile = InstanceProfileName::parse(profile)?;
    let lifetime: TimeDelta = iam::config::parse_duration(expires_in)
        .map_err(|e| LocalError::Argument(format!("--expires-in: {e}")))?;
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
pub fn revoke_host(config: &ServerConfig, hostname: &str) -> Result<(), LocalError> {
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
/// the host.
pub struct Joined {
    pub output: Value,
    pub host: EnrolledHost,
}

/// `JoinHost`: the body's token is used up and the host's credential made,
/// with the event `event` makes of the new host, in one transaction.
/// Every refusal of the token (unknown, used, expired) is one answer.
pub fn join(
    store: &Store,
    keyring: &Keyring,
    body: &[u8],
    now: DateTime<Utc>,
    mut event: impl FnMut(&EnrolledHost) -> Result<AuditEvent, StoreError>,
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
    let host = store.atomically(|s| {
        let host = s.join_host(&digest, &hostname, &access_key_id, &sealed, now)?;
        s.record_event(&event(&host)?)?;
        Ok(host)
    })?;
    let mut output = describe(store.account_id(), &host)?;
    output["AccessKeyId"] = json!(host.access_key_id);
    output["SecretAccessKey"] = json!(secret.expose());
    Ok(Joined { output, host })
}

/// The role session ARN an enrolled host's calls carry
/// (`assumed-role/ROLE/HOSTNAME`), while its profile holds a role.
pub fn session_arn(account: &AccountId, host: &EnrolledHost) -> Option<String> {
    let role = host.instance_profile.roles.first()?;
    let session = host.hostname.session_name().ok()?;
    Some(assumed_role_arn(account, &role.name, &session))
}

/// `DescribeHost`'s answer (and the part of `JoinHost`'s without the key).
pub fn describe(account: &AccountId, host: &EnrolledHost) -> Result<Value, ApiError> {
    let profile = &host.instance_profile;
    let role_arn = profile.roles.first().map(|r| r.arn.clone());
    let session_arn = session_arn(account, host);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chrono::TimeZone;
    use iam::names::{IamPath, PolicyName, RoleName, Tag, TagKey, TagValue};
    use iam::principal::Principal;
    use iam::store::{Credential, Entity, NewInstanceProfile, NewRole};
    use iamctl::ctx::{Caller, Ctx};
    use iamctl::input::Secrets;
    use std::path::Path;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    /// Two profiles, `prod` (tag env=prod) and `dev` (env=dev), each with
    /// a role allowed host:SyncDirectory only on hosts tagged env=prod.
    fn store(dir: &Path) -> Store {
        let acct = AccountId::parse("123456789012").unwrap();
        let s = Store::create(&dir.join("iam.db"), &acct).unwrap();
        let sync = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Action":"host:SyncDirectory","Resource":"arn:aws:host::123456789012:host/*",
            "Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}}]}"#;
        for env in ["prod", "dev"] {
            let role = RoleName::parse(&format!("{env}-host")).unwrap();
            let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
            s.create_role(
                &NewRole {
                    name: role.clone(),
                    path: IamPath::root(),
                    assume_role_policy_document: trust.into(),
                    description: None,
                    max_session_duration: None,
                    tags: Vec::new(),
                    permissions_boundary: None,
                },
                now(),
            )
            .unwrap();
            s.put_inline_policy(
                &Entity::Role(role.clone()),
                &PolicyName::parse("sync").unwrap(),
                sync,
            )
            .unwrap();
            let profile = InstanceProfileName::parse(env).unwrap();
            let tag = Tag {
                key: TagKey::parse("env").unwrap(),
                value: TagValue::parse(env).unwrap(),
            };
            s.create_instance_profile(
                &NewInstanceProfile {
                    name: profile.clone(),
                    path: IamPath::root(),
                    tags: vec![tag],
                },
                now(),
            )
            .unwrap();
            s.add_role_to_instance_profile(&profile, &role).unwrap();
        }
        s
    }

    /// The JoinHost event, as the server makes it.
    fn event(host: &EnrolledHost) -> Result<AuditEvent, StoreError> {
        let arn = session_arn(&AccountId::parse("123456789012").unwrap(), host).unwrap();
        let facts = iam::request::ApiFacts {
            source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            session_mfa: Some(None),
            service: SERVICE.into(),
            access_key_id: host.access_key_id.clone(),
            request_id: format!("join-{}", host.hostname),
            user_agent: None,
        };
        let identity = iam::audit::UserIdentity::assumed_role("123456789012", &arn);
        Ok(
            AuditEvent::api(&facts, JOIN_HOST, identity, "server", now(), json!({}))
                .build()
                .unwrap(),
        )
    }

    fn enrol(s: &Store, keyring: &Keyring, profile: &str, hostname: &str) -> Joined {
        let token = format!("token-of-{hostname}");
        s.create_join_token(
            &InstanceProfileName::parse(profile).unwrap(),
            &keyring::token_digest(&token),
            now(),
            now() + TimeDelta::hours(1),
        )
        .unwrap();
        let body = json!({"Token": token, "Hostname": hostname}).to_string();
        join(s, keyring, body.as_bytes(), now(), event).unwrap()
    }

    /// Authorizes `host:SyncDirectory` on `target` as `hostname`'s session.
    fn may_sync(s: Store, dir: &Path, hostname: &str, target: &str) -> bool {
        let Some(Credential::Host(host)) = s
            .find_credential(
                &s.get_host(&HostName::parse(hostname).unwrap())
                    .unwrap()
                    .access_key_id,
            )
            .unwrap()
        else {
            panic!("no host credential");
        };
        let account = s.account_id().clone();
        let principal = Principal::for_role_session(
            &s,
            &account,
            host.role.as_ref().unwrap(),
            &host.hostname.session_name().unwrap(),
        )
        .unwrap();
        let config = iam::config::HostConfig::parse(
            &format!(
                "account_id = \"123456789012\"\nhostname = \"server\"\naudit_log = {:?}\n",
                dir.join("audit.log")
            ),
            Path::new("/etc/iam/server.toml"),
        )
        .unwrap();
        let ctx = Ctx::for_api(
            config,
            s,
            Caller::AssumedRole(Box::new(principal)),
            "SyncDirectory".into(),
            Secrets::Given(Vec::new()),
            iam::request::ApiFacts {
                source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
                session_mfa: Some(None),
                service: "iam".into(),
                access_key_id: host.hostname.to_string(),
                request_id: "test".into(),
                user_agent: None,
            },
            now(),
        );
        ctx.authorize_with("host:SyncDirectory", target, |_| {})
            .is_ok()
    }

    #[test]
    fn join_host_answers_the_credential_once_and_seals_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let keyring = Keyring::open_or_create(&dir.path().join("server.key")).unwrap();
        let joined = enrol(&s, &keyring, "prod", "web-1");
        let out = &joined.output;
        assert_eq!(
            out["Arn"],
            "arn:aws:sts::123456789012:assumed-role/prod-host/web-1"
        );
        assert_eq!(out["HostArn"], "arn:aws:host::123456789012:host/web-1");
        assert_eq!(
            out["InstanceProfile"]["Tags"],
            json!([{"Key": "env", "Value": "prod"}])
        );
        let id = out["AccessKeyId"].as_str().unwrap();
        // Its event was stored with it.
        let page = s
            .lookup_events(&iam::store::EventQuery {
                filter: None,
                start: None,
                end: None,
                limit: 10,
                after: None,
            })
            .unwrap()
            .0;
        assert_eq!(page.len(), 1);
        assert!(page[0].event.contains("assumed-role/prod-host/web-1"));
        assert!(!page[0].event.contains("token-of-web-1"));
        let secret = out["SecretAccessKey"].as_str().unwrap();
        assert!(UniqueIdKind::HostKey.matches(id));
        match s.find_credential(id).unwrap() {
            Some(Credential::Host(h)) => {
                assert!(!h.sealed.0.windows(40).any(|w| w == secret.as_bytes()));
                assert_eq!(keyring.open(id, &h.sealed).unwrap().expose(), secret);
            }
            other => panic!("{other:?}"),
        }
        // The same token again, a bad body, a bad hostname.
        let body = json!({"Token": "token-of-web-1", "Hostname": "web-2"}).to_string();
        let e = join(&s, &keyring, body.as_bytes(), now(), event)
            .err()
            .unwrap();
        assert_eq!(e.code(), "InvalidJoinToken");
        assert_eq!(e.status(), 403);
        for bad in [
            json!({"Token": "t"}),
            json!({"Token": "t", "Hostname": "h", "Extra": 1}),
            json!({"Token": "t", "Hostname": "web 1"}),
        ] {
            let e = join(&s, &keyring, bad.to_string().as_bytes(), now(), event)
                .err()
                .unwrap();
            assert_eq!(e.code(), "ValidationError", "{bad}");
        }
    }

    #[test]
    fn a_hosts_instance_profile_tags_are_its_resource_tags() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let keyring = Keyring::open_or_create(&dir.path().join("server.key")).unwrap();
        enrol(&s, &keyring, "prod", "web-1");
        enrol(&s, &keyring, "dev", "dev-1");
        let open = || Store::open(&dir.path().join("iam.db")).unwrap();
        let arn = |h: &str| format!("arn:aws:host::123456789012:host/{h}");
        // Allowed only where the resource host's profile says env=prod.
        assert!(may_sync(open(), dir.path(), "web-1", &arn("web-1")));
        assert!(may_sync(open(), dir.path(), "dev-1", &arn("web-1")));
        assert!(!may_sync(open(), dir.path(), "web-1", &arn("dev-1")));
        assert!(!may_sync(open(), dir.path(), "web-1", &arn("unknown")));
    }
}
