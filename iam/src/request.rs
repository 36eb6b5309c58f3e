//! Request context: the condition keys of every request the engine decides
//! (`host:Login`, `host:RunAs`, `sts:AssumeRole`, `iam:*`), built here and
//! nowhere else. Callers say what they know (the principal, the time, the
//! login's MFA time and address, the host, tags); this module says which
//! keys that makes and how their values are written (see
//! docs/ARCHITECTURE.md, "Request context").

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::names::{RoleSessionName, Tag, TagKey};
use crate::policy::Context;
use crate::principal::{Principal, PrincipalType};

/// The keys every request of `principal` carries: `aws:username` (users
/// only), `aws:userid`, `aws:PrincipalArn`, `aws:PrincipalAccount`,
/// `aws:PrincipalType`, `aws:PrincipalTag/*`, `aws:CurrentTime` and
/// `aws:EpochTime`.
pub fn principal_context(principal: &Principal, now: DateTime<Utc>) -> Context {
    let mut ctx = Context::new();
    if principal.principal_type == PrincipalType::User {
        ctx.set("aws:username", principal.name.clone());
    }
    ctx.set("aws:userid", principal.id.clone());
    ctx.set("aws:PrincipalArn", principal.principal_arn());
    ctx.set("aws:PrincipalAccount", principal.account.to_string());
    ctx.set("aws:PrincipalType", principal.principal_type.as_aws_str());
    for tag in &principal.tags {
        ctx.set(
            &format!("aws:PrincipalTag/{}", tag.key),
            tag.value.to_string(),
        );
    }
    set_time(&mut ctx, now);
    ctx
}

/// `aws:CurrentTime` (`2026-11-25T12:00:00Z`) and `aws:EpochTime`.
fn set_time(ctx: &mut Context, now: DateTime<Utc>) {
    ctx.set(
        "aws:CurrentTime",
        now.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    ctx.set("aws:EpochTime", now.timestamp().to_string());
}

/// `aws:MultiFactorAuthPresent` and, with a second factor, its
/// `aws:MultiFactorAuthAge` in seconds (never negative); `mfa_at` in unix
/// seconds.
fn set_mfa(ctx: &mut Context, now: DateTime<Utc>, mfa_at: Option<i64>) {
    ctx.set("aws:MultiFactorAuthPresent", mfa_at.is_some().to_string());
    if let Some(at) = mfa_at {
        ctx.set(
            "aws:MultiFactorAuthAge",
            (now.timestamp() - at).max(0).to_string(),
        );
    }
}

/// The login keys: MFA presence and age, and `aws:SourceIp` when known.
fn set_login_keys(
    ctx: &mut Context,
    now: DateTime<Utc>,
    mfa_at: Option<i64>,
    source_ip: Option<&str>,
) {
    set_mfa(ctx, now, mfa_at);
    if let Some(ip) = source_ip {
        ctx.set("aws:SourceIp", ip);
    }
}

/// This host as the resource of `host:Login` and `host:RunAs`: its tags as
/// `aws:ResourceTag/*` and `host:Hostname`.
pub fn set_host_keys(ctx: &mut Context, hostname: &str, host_tags: &BTreeMap<String, String>) {
    set_tag_pairs(
        ctx,
        "aws:ResourceTag",
        host_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    ctx.set("host:Hostname", hostname);
}

/// `PREFIX/KEY = VALUE` for each pair.
fn set_tag_pairs<'a>(
    ctx: &mut Context,
    prefix: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for (key, value) in pairs {
        ctx.set(&format!("{prefix}/{key}"), value);
    }
}

/// The resource's tags as `aws:ResourceTag/*` (a user or role an `iam:*`
/// call acts on).
pub fn set_resource_tags(ctx: &mut Context, tags: &[Tag]) {
    set_tag_pairs(ctx, "aws:ResourceTag", tag_pairs(tags));
}

fn tag_pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))
}

/// `aws:RequestTag/*` and `aws:TagKeys` of a call that sets `tags`, as AWS
/// puts them in the request context (a Deny on `aws:TagKeys` containing
/// `host:RunAs` keeps a delegated administrator from retargeting a role).
pub fn set_request_tags(ctx: &mut Context, tags: &[Tag]) {
    set_tag_pairs(ctx, "aws:RequestTag", tag_pairs(tags));
    set_tag_keys(ctx, tags.iter().map(|t| &t.key));
}

/// `aws:TagKeys` of a call that sets or removes these keys.
pub fn set_tag_keys<'a>(ctx: &mut Context, keys: impl Iterator<Item = &'a TagKey>) {
    ctx.insert("aws:TagKeys", keys.map(|k| k.as_str().to_owned()).collect());
}

/// What one `host:Login` knows, as the PAM items and the authentication
/// record say it.
#[derive(Debug, Clone)]
pub struct LoginRequest<'a> {
    pub now: DateTime<Utc>,
    /// When this login passed its MFA check (unix seconds).
    pub mfa_at: Option<i64>,
    /// `PAM_RHOST` when it is an address (a host name is evidence of nothing).
    pub source_ip: Option<IpAddr>,
    /// `aws:SecureTransport`: an sshd service.
    pub secure_transport: bool,
    pub service: &'a str,
    pub tty: Option<&'a str>,
    /// `host:AuthMethod` (`publickey`, `password+totp`, …), when known.
    pub auth_method: Option<&'a str>,
    pub hostname: &'a str,
    pub host_tags: &'a BTreeMap<String, String>,
}

/// The context of `host:Login`: the principal's keys, the login keys,
/// `aws:SecureTransport`, `host:Service`, `host:Tty`, `host:AuthMethod` and
/// the host's keys.
pub fn login_context(principal: &Principal, login: &LoginRequest<'_>) -> Context {
    login_context_from(&principal_context(principal, login.now), login)
}

/// [`login_context`] on the principal's keys made once
/// ([`principal_context`] at `login.now`), for a caller that asks of many
/// hosts (the access report).
pub fn login_context_from(base: &Context, login: &LoginRequest<'_>) -> Context {
    let mut ctx = base.clone();
    let ip = login.source_ip.map(|ip| ip.to_string());
    set_login_keys(&mut ctx, login.now, login.mfa_at, ip.as_deref());
    ctx.set("aws:SecureTransport", login.secure_transport.to_string());
    ctx.set("host:Service", login.service);
    if let Some(tty) = login.tty {
        ctx.set("host:Tty", tty);
    }
    if let Some(method) = login.auth_method {
        ctx.set("host:AuthMethod", method);
    }
    set_host_keys(&mut ctx, login.hostname, login.host_tags);
    ctx
}

/// What the caller's login (PAM) session proved, as AWS's session
/// credentials say it: whether and when a second factor was shown, and from
/// where. No login session (a cron job, `su`): nothing, as for AWS
/// long-term credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginFacts {
    /// When the login's TOTP check passed (unix seconds); `None`: a login
    /// without MFA. Only meaningful with `found`.
    pub mfa_at: Option<i64>,
    /// The login's remote address, when PAM_RHOST is one (as `host:Login`
    /// sees it).
    pub source_ip: Option<String>,
    /// Whether a login session was found at all.
    pub found: bool,
}

impl LoginFacts {
    /// Adds `aws:MultiFactorAuthPresent`/`Age` and `aws:SourceIp` to a
    /// request context; nothing without a login session.
    pub fn apply(&self, ctx: &mut Context, now: DateTime<Utc>) {
        if self.found {
            set_login_keys(ctx, now, self.mfa_at, self.source_ip.as_deref());
        }
    }
}

/// What a request to iam-server says of itself, as AWS sets it: the
/// client's address, TLS, and for temporary credentials whether (and when)
/// they were issued after an MFA check. Long-term access keys carry no MFA
/// keys at all (AWS: the key is absent, not false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFacts {
    pub source_ip: std::net::IpAddr,
    /// `None`: long-term credentials; `Some(None)`: a session issued
    /// without MFA; `Some(Some(t))`: with MFA proved at `t` (unix seconds).
    pub session_mfa: Option<Option<i64>>,
    /// The SigV4 credential scope's service (`iam`, `sts`, `cloudtrail`).
    pub service: String,
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The server's id of this request, for its audit event.
    pub request_id: String,
    /// The client's `User-Agent` header.
    pub user_agent: Option<String>,
}

/// How the caller reached us, which decides the request keys it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerFacts {
    /// iamctl on a host: the caller's login session.
    Login(LoginFacts),
    /// A signed request to iam-server.
    Api(ApiFacts),
}

impl CallerFacts {
    pub fn apply(&self, ctx: &mut Context, now: DateTime<Utc>) {
        match self {
            Self::Login(login) => login.apply(ctx, now),
            Self::Api(api) => {
                if let Some(mfa_at) = api.session_mfa {
                    set_mfa(ctx, now, mfa_at);
                }
                ctx.set("aws:SourceIp", api.source_ip.to_string());
                ctx.set("aws:SecureTransport", "true");
            }
        }
    }
}

/// The context of an `iam:*` call (or any question iamctl asks the engine
/// for its caller): the principal's keys and what its login session or
/// request says.
pub fn caller_context(principal: &Principal, now: DateTime<Utc>, facts: &CallerFacts) -> Context {
    let mut ctx = principal_context(principal, now);
    facts.apply(&mut ctx, now);
    ctx
}

/// The condition keys an assume-role adds to the caller's base context
/// ([`principal_context`]).
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub now: DateTime<Utc>,
    /// When the caller last proved a second factor (unix seconds): from its
    /// login session record, or a code entered just now.
    pub mfa_at: Option<i64>,
    /// `aws:SourceIp` of the caller's login (absent on a console).
    pub source_ip: Option<&'a str>,
    pub hostname: &'a str,
    pub duration_seconds: i64,
    pub session_name: &'a RoleSessionName,
}

impl RequestFacts<'_> {
    fn apply(&self, ctx: &mut Context) {
        set_time(ctx, self.now);
        set_login_keys(ctx, self.now, self.mfa_at, self.source_ip);
        ctx.set("host:Hostname", self.hostname);
    }
}

/// The context of `sts:AssumeRole` on the role: the caller's base context,
/// the facts, `sts:DurationSeconds`, `sts:RoleSessionName`, and the role's
/// tags as `aws:ResourceTag/*` and `iam:ResourceTag/*`.
pub fn assume_role_context<'a>(
    base: &Context,
    facts: &RequestFacts<'_>,
    role_tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Context {
    let mut ctx = base.clone();
    facts.apply(&mut ctx);
    set_assume_role_keys(
        &mut ctx,
        facts.duration_seconds,
        facts.session_name,
        role_tags,
    );
    ctx
}

/// The keys `sts:AssumeRole` itself adds, on a host (iamctl assume-role) or
/// at iam-server's STS: `sts:DurationSeconds`, `sts:RoleSessionName`, and
/// the role's tags as `aws:ResourceTag/*` and `iam:ResourceTag/*`.
pub fn set_assume_role_keys<'a>(
    ctx: &mut Context,
    duration_seconds: i64,
    session_name: &RoleSessionName,
    role_tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    ctx.set("sts:DurationSeconds", duration_seconds.to_string());
    ctx.set("sts:RoleSessionName", session_name.as_str());
    // AWS offers a role's tags under both prefixes.
    let role_tags: Vec<_> = role_tags.into_iter().collect();
    set_tag_pairs(ctx, "aws:ResourceTag", role_tags.iter().copied());
    set_tag_pairs(ctx, "iam:ResourceTag", role_tags);
}

/// The context of `host:RunAs` on this host, asked as the role session:
/// the role's base context (its ARN, tags as `aws:PrincipalTag/*`), the
/// facts, the session's `sts:DurationSeconds` (so a role's own policy can
/// bound how long it runs, as validate-policy's
/// RUN_AS_ROOT_WITHOUT_DURATION_BOUND asks), and the host's tags as
/// `aws:ResourceTag/*`.
pub fn run_as_context<'a>(
    role_base: &Context,
    facts: &RequestFacts<'_>,
    host_tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Context {
    let mut ctx = role_base.clone();
    facts.apply(&mut ctx);
    ctx.set("sts:DurationSeconds", facts.duration_seconds.to_string());
    set_tag_pairs(&mut ctx, "aws:ResourceTag", host_tags);
    ctx
}

/// The same context with a second factor proved just now.
pub fn with_fresh_mfa(ctx: &Context) -> Context {
    let mut ctx = ctx.clone();
    ctx.set("aws:MultiFactorAuthPresent", "true");
    ctx.set("aws:MultiFactorAuthAge", "0");
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{AccountId, TagValue};
    use crate::policy::PolicySet;
    use chrono::TimeZone;

    fn alice() -> Principal {
        Principal {
            principal_type: PrincipalType::User,
            arn: "arn:aws:iam::123456789012:user/alice".into(),
            id: "AIDAEXAMPLE".into(),
            name: "alice".into(),
            account: AccountId::parse("123456789012").unwrap(),
            tags: vec![Tag {
                key: TagKey::parse("team").unwrap(),
                value: TagValue::parse("ops").unwrap(),
            }],
            policies: PolicySet::default(),
        }
    }

    fn get(ctx: &Context, key: &str) -> Option<String> {
        ctx.get(key).map(|v| v.join(","))
    }

    #[test]
    fn login_context_has_every_key_of_host_login() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let tags = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
        let ctx = login_context(
            &alice(),
            &LoginRequest {
                now,
                mfa_at: Some(now.timestamp() - 30),
                source_ip: "10.0.0.7".parse().ok(),
                secure_transport: true,
                service: "sshd",
                tty: Some("ssh"),
                auth_method: Some("publickey+totp"),
                hostname: "web-1",
                host_tags: &tags,
            },
        );
        for (key, value) in [
            ("aws:username", "alice"),
            ("aws:userid", "AIDAEXAMPLE"),
            ("aws:PrincipalArn", "arn:aws:iam::123456789012:user/alice"),
            ("aws:PrincipalAccount", "123456789012"),
            ("aws:PrincipalType", "User"),
            ("aws:PrincipalTag/team", "ops"),
            ("aws:CurrentTime", "2026-11-25T12:00:00Z"),
            ("aws:EpochTime", &now.timestamp().to_string()),
            ("aws:SourceIp", "10.0.0.7"),
            ("aws:MultiFactorAuthPresent", "true"),
            ("aws:MultiFactorAuthAge", "30"),
            ("aws:SecureTransport", "true"),
            ("host:Service", "sshd"),
            ("host:Tty", "ssh"),
            ("host:AuthMethod", "publickey+totp"),
            ("aws:ResourceTag/env", "prod"),
            ("host:Hostname", "web-1"),
        ] {
            assert_eq!(get(&ctx, key).as_deref(), Some(value), "{key}");
        }
    }

    #[test]
    fn caller_context_adds_login_facts_only_with_a_login_session() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let none = caller_context(&alice(), now, &CallerFacts::Login(LoginFacts::default()));
        assert_eq!(get(&none, "aws:MultiFactorAuthPresent"), None);
        let facts = LoginFacts {
            mfa_at: None,
            source_ip: Some("192.0.2.1".into()),
            found: true,
        };
        let ctx = caller_context(&alice(), now, &CallerFacts::Login(facts));
        assert_eq!(
            get(&ctx, "aws:MultiFactorAuthPresent").as_deref(),
            Some("false")
        );
        assert_eq!(get(&ctx, "aws:MultiFactorAuthAge"), None);
        assert_eq!(get(&ctx, "aws:SourceIp").as_deref(), Some("192.0.2.1"));
        let fresh = with_fresh_mfa(&ctx);
        assert_eq!(get(&fresh, "aws:MultiFactorAuthAge").as_deref(), Some("0"));
    }

    #[test]
    fn api_requests_carry_mfa_keys_only_for_temporary_credentials() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let api = |session_mfa| {
            caller_context(
                &alice(),
                now,
                &CallerFacts::Api(ApiFacts {
                    source_ip: "192.0.2.9".parse().unwrap(),
                    session_mfa,
                    service: "iam".into(),
                    access_key_id: "AKIAEXAMPLE".into(),
                    request_id: "r-1".into(),
                    user_agent: None,
                }),
            )
        };
        let long_term = api(None);
        assert_eq!(get(&long_term, "aws:MultiFactorAuthPresent"), None);
        assert_eq!(
            get(&long_term, "aws:SourceIp").as_deref(),
            Some("192.0.2.9")
        );
        assert_eq!(
            get(&long_term, "aws:SecureTransport").as_deref(),
            Some("true")
        );
        let without = api(Some(None));
        assert_eq!(
            get(&without, "aws:MultiFactorAuthPresent").as_deref(),
            Some("false")
        );
        let with = api(Some(Some(now.timestamp() - 60)));
        assert_eq!(
            get(&with, "aws:MultiFactorAuthPresent").as_deref(),
            Some("true")
        );
        assert_eq!(get(&with, "aws:MultiFactorAuthAge").as_deref(), Some("60"));
    }
}
