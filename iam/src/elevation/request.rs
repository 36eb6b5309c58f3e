//! The request context of an assume-role: `sts:AssumeRole` on the role, `host:RunAs` on this host.

use crate::names::RoleSessionName;
use crate::policy::Context;
use chrono::{DateTime, Utc};

/// The condition keys an assume-role adds to the caller's base context
/// (`aws:username`, `aws:PrincipalArn`, principal tags, … from
/// `iam::principal`).
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
        ctx.set("aws:CurrentTime", iso8601_z(self.now));
        ctx.set("aws:EpochTime", self.now.timestamp().to_string());
        set_login_keys(ctx, self.now, self.mfa_at, self.source_ip);
        ctx.set("host:Hostname", self.hostname);
    }
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

/// The login keys of a request context, one rule for every caller:
/// `aws:MultiFactorAuthPresent`, `aws:MultiFactorAuthAge` (seconds since the
/// second factor) and `aws:SourceIp`.
fn set_login_keys(
    ctx: &mut Context,
    now: DateTime<Utc>,
    mfa_at: Option<i64>,
    source_ip: Option<&str>,
) {
    match mfa_at {
        Some(at) => {
            ctx.set("aws:MultiFactorAuthPresent", "true");
            ctx.set(
                "aws:MultiFactorAuthAge",
                (now.timestamp() - at).max(0).to_string(),
            );
        }
        None => ctx.set("aws:MultiFactorAuthPresent", "false"),
    }
    if let Some(ip) = source_ip {
        ctx.set("aws:SourceIp", ip);
    }
}

/// `2026-11-25T12:00:00Z`: what `aws:CurrentTime` holds.
fn iso8601_z(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
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
    ctx.set("sts:DurationSeconds", facts.duration_seconds.to_string());
    ctx.set("sts:RoleSessionName", facts.session_name.as_str());
    for (k, v) in role_tags {
        // AWS offers a role's tags under both prefixes.
        ctx.set(&format!("aws:ResourceTag/{k}"), v);
        ctx.set(&format!("iam:ResourceTag/{k}"), v);
    }
    ctx
}

/// The context of `host:RunAs` on this host, asked as the role session:
/// the role's base context (its ARN, tags as `aws:PrincipalTag/*`), the
/// facts, and the host's tags as `aws:ResourceTag/*`.
pub fn run_as_context<'a>(
    role_base: &Context,
    facts: &RequestFacts<'_>,
    host_tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Context {
    let mut ctx = role_base.clone();
    facts.apply(&mut ctx);
    for (k, v) in host_tags {
        ctx.set(&format!("aws:ResourceTag/{k}"), v);
    }
    ctx
}

/// The same context with a second factor proved just now.
pub fn with_fresh_mfa(ctx: &Context) -> Context {
    let mut ctx = ctx.clone();
    ctx.set("aws:MultiFactorAuthPresent", "true");
    ctx.set("aws:MultiFactorAuthAge", "0");
    ctx
}
