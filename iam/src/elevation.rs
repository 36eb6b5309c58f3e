//! Every rule of `iamctl assume-role`: what a role session may be, who may
//! start one, what it runs as, what it sees, and when it ends.
//!
//! `iamctl` only does the system calls (fork, pty, cgroup, signals); the
//! decisions are here so they are testable unprivileged with a fixed clock.
//! Reading `/proc` (which process belongs to which session) is the one piece
//! of I/O besides the store: it is how a role session is recognised without
//! trusting the environment, which inside a session is the caller's to forge.

use crate::names::{AccountId, RoleSessionName, UserName};
use crate::policy::{Context, Decision, Policy, PolicySet, Request, Response, authorize};
use crate::principal::{Principal, PrincipalError};
use crate::secret::SecretString;
use crate::store::{
    AttemptResult, LockoutRule, LoginSession, MfaDevice, RoleSession, RoleSessionStatus, Settled,
    Store, StoreError,
};
use crate::totp;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;

/// AWS's lower bound for `DurationSeconds`.
pub const MIN_DURATION_SECONDS: i64 = 900;
/// A role's `MaxSessionDuration` when it sets none, and the default duration.
pub const DEFAULT_DURATION_SECONDS: i64 = 3600;
/// AWS's upper bound for a role's `MaxSessionDuration`.
pub const MAX_MAX_SESSION_DURATION: i64 = 43_200;
/// The terminal is warned this long before the session ends.
pub const WARN_BEFORE_EXPIRY: TimeDelta = TimeDelta::seconds(60);
/// Between SIGHUP and SIGKILL when a session ends.
pub const KILL_GRACE: TimeDelta = TimeDelta::seconds(3);
/// How often a supervisor looks at its session record for a revocation.
pub const REVOKE_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// Role tag naming the Linux user a session runs as (default `root`).
pub const RUN_AS_TAG: &str = "host:RunAs";
/// Role tag naming extra Linux groups (comma-separated) of a session.
pub const GROUPS_TAG: &str = "host:Groups";
/// sudo's `secure_path`: the only PATH a session starts with.
pub const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The cgroup v2 directory (under the cgroup2 mount) that is pam_iam's:
/// root-owned, never group- or world-writable, and nothing in it is a
/// caller's. Its layout:
/// - `iam/iamctl`: a setuid iamctl of a non-root caller, out of the
///   caller's cgroups (which the caller may freeze, throttle or kill);
/// - `iam/sessions/ID/supervisor`: the supervisor of role session ID;
/// - `iam/sessions/ID/command`: every process of role session ID.
pub const CGROUP_DIR: &str = "iam";
/// Where a setuid iamctl of a non-root caller waits (see [`CGROUP_DIR`]).
pub const IAMCTL_CGROUP: &str = "iam/iamctl";
/// The parent of every session's cgroups (see [`CGROUP_DIR`]).
pub const SESSIONS_CGROUP: &str = "iam/sessions";
/// Where a supervisor notes the Linux session id (the command's pid) of a
/// running session, so that what is left of a session whose supervisor died
/// can be found and ended where no cgroup could be made.
pub const RUN_DIR: &str = "/run/iam/sessions";
/// Upper bound on the command line of a session (bytes over all arguments),
/// so a hostile caller cannot make the audit log or the store carry megabytes.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Upper bound on the number of command arguments.
pub const MAX_COMMAND_ARGS: usize = 1024;

/// Why an elevation request is refused before any policy is evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElevationError {
    #[error(
        "1 validation error detected: Value '{requested}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
    )]
    DurationTooShort { requested: i64, min: i64 },
    #[error(
        "The requested DurationSeconds ({requested}) exceeds the MaxSessionDuration ({max}) set for this role."
    )]
    DurationTooLong { requested: i64, max: i64 },
    #[error(
        "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match [\\w+=,.@-]*"
    )]
    InvalidSessionName,
    #[error("The role's {RUN_AS_TAG} tag is not a valid Linux user name.")]
    InvalidRunAs,
    #[error("The role's {GROUPS_TAG} tag names an invalid Linux group: {0}")]
    InvalidGroup(String),
    #[error(
        "The command is too long (at most {MAX_COMMAND_ARGS} arguments and {MAX_COMMAND_BYTES} bytes)."
    )]
    CommandTooLong,
    #[error("The command contains a NUL byte.")]
    CommandHasNul,
}

impl ElevationError {
    /// The AWS error code printed in front of the message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::DurationTooShort { .. }
            | Self::DurationTooLong { .. }
            | Self::InvalidSessionName
            | Self::CommandTooLong
            | Self::CommandHasNul => "ValidationError",
            Self::InvalidRunAs | Self::InvalidGroup(_) => "InvalidInput",
        }
    }
}

/// The bounds a requested `DurationSeconds` must fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationBounds {
    pub min: i64,
    pub max: i64,
}

impl DurationBounds {
    /// AWS's bounds for a role with `max_session_duration` (None: 3600).
    /// `test_min` (root-only host config, for tests) lowers the floor so a
    /// session can end within a test; it never raises the ceiling.
    pub fn for_role(max_session_duration: Option<i64>, test_min: Option<i64>) -> Self {
        let max = max_session_duration
            .unwrap_or(DEFAULT_DURATION_SECONDS)
            .clamp(DEFAULT_DURATION_SECONDS, MAX_MAX_SESSION_DURATION);
        let min = match test_min {
            Some(t) => t.clamp(1, MIN_DURATION_SECONDS),
            None => MIN_DURATION_SECONDS,
        };
        Self { min, max }
    }

    /// The session's duration: the request within bounds, or 3600.
    pub fn duration(&self, requested: Option<i64>) -> Result<i64, ElevationError> {
        let Some(n) = requested else {
            return Ok(DEFAULT_DURATION_SECONDS.min(self.max));
        };
        if n < self.min {
            Err(ElevationError::DurationTooShort {
                requested: n,
                min: self.min,
            })
        } else if n > self.max {
            Err(ElevationError::DurationTooLong {
                requested: n,
                max: self.max,
            })
        } else {
            Ok(n)
        }
    }
}

/// A role session name from `--role-session-name`: AWS's `[\w+=,.@-]{2,64}`.
pub fn session_name(s: &str) -> Result<RoleSessionName, ElevationError> {
    RoleSessionName::parse(s).map_err(|_| ElevationError::InvalidSessionName)
}

/// The name used when the caller gives none: `USER-EPOCH`, as the AWS CLI's
/// `botocore-session-EPOCH`, but saying who started it.
pub fn default_session_name(
    user: &str,
    now: DateTime<Utc>,
) -> Result<RoleSessionName, ElevationError> {
    let suffix = format!("-{}", now.timestamp());
    let mut head: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))
        .collect();
    head.truncate(64 - suffix.len());
    if head.is_empty() {
        head.push_str("session");
    }
    session_name(&format!("{head}{suffix}"))
}

/// When a session started at `started` for `duration_seconds` ends.
pub fn expiration(started: DateTime<Utc>, duration_seconds: i64) -> DateTime<Utc> {
    started + TimeDelta::seconds(duration_seconds)
}

/// AWS's printed form of a time: `2026-11-25T12:00:00+00:00`.
pub fn iso8601(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Who a session runs as: from the role's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// Linux user (`host:RunAs`, default `root`).
    pub user: String,
    /// Extra Linux groups (`host:Groups`), on top of the user's own.
    pub groups: Vec<String>,
}

impl RunAs {
    /// Reads `host:RunAs` and `host:Groups` from role tags (keys compared
    /// case-insensitively, as IAM treats tag keys).
    pub fn from_tags<'a>(
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ElevationError> {
        let mut user = None;
        let mut groups = Vec::new();
        for (k, v) in tags {
            if k.eq_ignore_ascii_case(RUN_AS_TAG) {
                let v = v.trim();
                if !is_linux_name(v) {
                    return Err(ElevationError::InvalidRunAs);
                }
                user = Some(v.to_owned());
            } else if k.eq_ignore_ascii_case(GROUPS_TAG) {
                let mut seen = BTreeSet::new();
                for g in v.split(',').map(str::trim).filter(|g| !g.is_empty()) {
                    if !is_linux_name(g) {
                        return Err(ElevationError::InvalidGroup(g.to_owned()));
                    }
                    if seen.insert(g) {
                        groups.push(g.to_owned());
                    }
                }
            }
        }
        Ok(Self {
            user: user.unwrap_or_else(|| "root".to_owned()),
            groups,
        })
    }
}

/// A conservative Linux user/group name: what useradd accepts by default,
/// and never something a shell or a path could misread.
fn is_linux_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && s.chars().next().is_some_and(|c| !c.is_ascii_digit())
}

/// The caller's command, checked against the bounds.
pub fn check_command(args: &[String]) -> Result<(), ElevationError> {
    if args.len() > MAX_COMMAND_ARGS
        || args.iter().map(|a| a.len() + 1).sum::<usize>() > MAX_COMMAND_BYTES
    {
        return Err(ElevationError::CommandTooLong);
    }
    if args.iter().any(|a| a.contains('\0')) {
        return Err(ElevationError::CommandHasNul);
    }
    Ok(())
}

/// The target account of a session, as the password database gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUser {
    pub name: String,
    pub home: String,
    pub shell: String,
}

impl TargetUser {
    /// The login shell, or `/bin/sh` when the database has none usable.
    pub fn login_shell(&self) -> &str {
        if self.shell.starts_with('/') && !self.shell.contains("..") {
            &self.shell
        } else {
            "/bin/sh"
        }
    }
}

/// What a session's environment says about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub id: String,
    pub role_name: String,
    pub role_arn: String,
    pub session_name: RoleSessionName,
    pub session_arn: String,
    pub expires: DateTime<Utc>,
}

/// A TERM value worth keeping: a terminfo name, nothing a path lookup or a
/// terminal could misread (sudo refuses `/` and `%`; we accept less).
pub fn sanitize_term(term: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(term).ok()?;
    let ok = (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        && !s.starts_with(['.', '-']);
    ok.then(|| s.to_owned())
}

/// The whole environment of a session, as sudo's `env_reset`: nothing from
/// the caller except a sanitized TERM; HOME, SHELL, USER, LOGNAME of the
/// target; the secure PATH; and the session's own variables.
pub fn session_environment(
    caller_term: Option<&[u8]>,
    target: &TargetUser,
    session: &SessionDescription,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_owned(), target.home.clone()),
        ("SHELL".to_owned(), target.login_shell().to_owned()),
        ("USER".to_owned(), target.name.clone()),
        ("LOGNAME".to_owned(), target.name.clone()),
        ("PATH".to_owned(), SECURE_PATH.to_owned()),
        ("IAM_ROLE_ARN".to_owned(), session.role_arn.clone()),
        ("IAM_SESSION_ARN".to_owned(), session.session_arn.clone()),
        ("IAM_SESSION_ID".to_owned(), session.id.clone()),
        (
            "IAM_SESSION_EXPIRATION".to_owned(),
            iso8601(session.expires),
        ),
        (
            "PS1".to_owned(),
            format!(
                "({}/{}) \\u@\\h:\\w\\$ ",
                session.role_name, session.session_name
            ),
        ),
    ];
    if let Some(term) = caller_term.and_then(sanitize_term) {
        env.push(("TERM".to_owned(), term));
    }
    env
}

/// What a supervisor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing due: sleep at most this long (then look again).
    Wait(std::time::Duration),
    /// Tell the terminal the session ends soon.
    Warn,
    /// Send SIGHUP to every process of the session.
    Hangup,
    /// Send SIGKILL to every process of the session.
    Kill,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The command exited; whatever it left behind is ended too.
    Exited,
    /// `DurationSeconds` ran out.
    Expired,
    /// `revoke-session`.
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running {
        warned: bool,
    },
    HangupDue(EndReason),
    Grace {
        reason: EndReason,
        kill_at: DateTime<Utc>,
    },
    Killed(EndReason),
}

/// The timeline of a session: warn, hang up at the end, kill after a grace.
/// A supervisor calls [`Timeline::step`] whenever it wakes up and does what
/// it says; the timeline never goes backwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    expires: DateTime<Utc>,
    state: State,
}

impl Timeline {
    pub fn new(expires: DateTime<Utc>) -> Self {
        Self {
            expires,
            state: State::Running { warned: false },
        }
    }

    /// End the session now (revoked, or its command exited); a session
    /// already ending keeps its first reason.
    pub fn end(&mut self, reason: EndReason) {
        if let State::Running { .. } = self.state {
            self.state = State::HangupDue(reason);
        }
    }

    /// Why the session is ending, once it is.
    pub fn end_reason(&self) -> Option<EndReason> {
        match self.state {
            State::Running { .. } => None,
            State::HangupDue(r) | State::Grace { reason: r, .. } | State::Killed(r) => Some(r),
        }
    }

    /// Whether SIGKILL has been ordered.
    pub fn killed(&self) -> bool {
        matches!(self.state, State::Killed(_))
    }

    pub fn step(&mut self, now: DateTime<Utc>) -> Step {
        match self.state {
            State::Running { warned } => {
                if now >= self.expires {
                    self.state = State::Grace {
                        reason: EndReason::Expired,
                        kill_at: now + KILL_GRACE,
                    };
                    Step::Hangup
                } else if !warned && now >= self.expires - WARN_BEFORE_EXPIRY {
                    self.state = State::Running { warned: true };
                    Step::Warn
                } else {
                    let next = if warned {
                        self.expires
                    } else {
                        self.expires - WARN_BEFORE_EXPIRY
                    };
                    Step::Wait(to_std(next - now).min(REVOKE_POLL))
                }
            }
            State::HangupDue(reason) => {
                self.state = State::Grace {
                    reason,
                    kill_at: now + KILL_GRACE,
                };
                Step::Hangup
            }
            State::Grace { reason, kill_at } => {
                if now >= kill_at {
                    self.state = State::Killed(reason);
                    Step::Kill
                } else {
                    Step::Wait(to_std(kill_at - now).min(REVOKE_POLL))
                }
            }
            State::Killed(_) => Step::Wait(REVOKE_POLL),
        }
    }
}

fn to_std(d: TimeDelta) -> std::time::Duration {
    d.to_std().unwrap_or(std::time::Duration::ZERO)
}

/// One line of `/proc/PID/limits`: the limit's name (`Max file size`), soft
/// and hard values (`None`: unlimited).
pub type ProcLimit = (String, Option<u64>, Option<u64>);

/// Parses `/proc/PID/limits`. A session starts with init's limits, as a
/// fresh login would, not the caller's: a hostile caller may lower e.g.
/// RLIMIT_FSIZE so that a privileged write stops halfway.
pub fn parse_proc_limits(text: &str) -> Vec<ProcLimit> {
    let value = |v: &str| match v {
        "unlimited" => Some(None),
        n => n.parse::<u64>().ok().map(Some),
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let name = line.get(..26)?.trim();
            let mut rest = line.get(26..)?.split_whitespace();
            let soft = value(rest.next()?)?;
            let hard = value(rest.next()?)?;
            Some((name.to_owned(), soft, hard))
        })
        .collect()
}

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
    /// The facts of `user`'s open login session that process `pid`
    /// descends from.
    pub fn of_process(store: &Store, user: &str, pid: u32) -> Result<Self, StoreError> {
        let sessions = store.list_login_sessions(Some(user), true)?;
        Ok(match login_session_of(&sessions, pid) {
            Some(login) => Self {
                mfa_at: login.mfa_time,
                source_ip: login
                    .rhost
                    .parse::<std::net::IpAddr>()
                    .is_ok()
                    .then(|| login.rhost.clone()),
                found: true,
            },
            None => Self::default(),
        })
    }

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

/// The two questions an assume-role asks of the policy engine.
#[derive(Debug, Clone, Copy)]
pub struct AssumeRoleQuestion<'a> {
    pub caller_arn: &'a str,
    /// The caller's identity policies and boundary (its `resource` is
    /// ignored: the trust policy is the resource policy here).
    pub caller: &'a PolicySet,
    pub role_arn: &'a str,
    pub trust: &'a Policy,
    pub assume_context: &'a Context,
    pub session_arn: &'a str,
    /// The role's permission policies and boundary.
    pub role: &'a PolicySet,
    pub host_arn: &'a str,
    pub run_as_context: &'a Context,
}

/// What the engine said, and which question failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed {
        assume: Response,
        run_as: Response,
    },
    /// `sts:AssumeRole` refused; `identity_allows` (the caller's policies
    /// alone allow it) and `trust_allows` (the trust policy admits the caller,
    /// given an identity Allow) say which side failed, for the message.
    AssumeDenied {
        response: Response,
        identity_allows: bool,
        trust_allows: bool,
    },
    RunAsDenied(Response),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// The response that decided (the failing one on denial).
    pub fn deciding(&self) -> &Response {
        match self {
            Self::Allowed { assume, .. } => assume,
            Self::AssumeDenied { response, .. } | Self::RunAsDenied(response) => response,
        }
    }
}

impl AssumeRoleQuestion<'_> {
    /// Decides as DESIGN.md §3 says: `sts:AssumeRole` with the trust policy
    /// as the resource policy (naming the caller's ARN suffices; naming only
    /// the account needs an identity Allow too; any Deny wins), then
    /// `host:RunAs` on this host with the role's own policies.
    pub fn decide(&self) -> Verdict {
        let assume_set = PolicySet {
            identity: self.caller.identity.clone(),
            boundary: self.caller.boundary.clone(),
            resource: vec![self.trust.clone()],
        };
        let request = Request {
            principal: self.caller_arn,
            action: "sts:AssumeRole",
            resource: self.role_arn,
            context: self.assume_context,
        };
        let assume = authorize(&request, &assume_set);
        if assume.decision != Decision::Allowed {
            let only_identity = PolicySet {
                resource: Vec::new(),
                ..assume_set.clone()
            };
            // Whether the trust policy admits the caller at all: with an
            // identity that allows everything (a trust naming the account
            // needs one).
            let only_trust = PolicySet {
                identity: Policy::parse(
                    "any",
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                    crate::policy::PolicyKind::Managed,
                )
                .into_iter()
                .collect(),
                boundary: None,
                resource: assume_set.resource.clone(),
            };
            return Verdict::AssumeDenied {
                identity_allows: authorize(&request, &only_identity).decision == Decision::Allowed,
                trust_allows: authorize(&request, &only_trust).decision == Decision::Allowed,
                response: assume,
            };
        }
        let run_as = authorize(
            &Request {
                principal: self.session_arn,
                action: "host:RunAs",
                resource: self.host_arn,
                context: self.run_as_context,
            },
            self.role,
        );
        if run_as.decision != Decision::Allowed {
            return Verdict::RunAsDenied(run_as);
        }
        Verdict::Allowed { assume, run_as }
    }

    /// Whether a second factor proved now would turn a denial into an allow:
    /// then (and only then) iamctl asks for a code.
    pub fn mfa_would_allow(&self) -> bool {
        let assume_context = with_fresh_mfa(self.assume_context);
        let run_as_context = with_fresh_mfa(self.run_as_context);
        AssumeRoleQuestion {
            assume_context: &assume_context,
            run_as_context: &run_as_context,
            ..*self
        }
        .decide()
        .is_allowed()
    }

    /// The one-line reason for a denial, AWS-worded, naming the deciding
    /// statement on an explicit deny.
    pub fn denial_message(&self, verdict: &Verdict) -> Option<String> {
        let explicit = |r: &Response| {
            r.matched
                .first()
                .filter(|_| r.decision == Decision::ExplicitDeny)
                .map(|m| format!("with an explicit deny in {m}"))
        };
        match verdict {
            Verdict::Allowed { .. } => None,
            Verdict::AssumeDenied {
                response,
                identity_allows,
                trust_allows,
            } => {
                let why = explicit(response).unwrap_or_else(|| {
                    if !trust_allows && !identity_allows {
                        "because the role's trust policy does not allow it and no identity-based policy allows the sts:AssumeRole action".to_owned()
                    } else if !trust_allows {
                        "because the role's trust policy does not allow it".to_owned()
                    } else {
                        "because no identity-based policy allows the sts:AssumeRole action (the trust policy trusts the account, not the user)".to_owned()
                    }
                });
                Some(format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {} {why}",
                    self.caller_arn, self.role_arn
                ))
            }
            Verdict::RunAsDenied(response) => {
                let why = explicit(response).unwrap_or_else(|| {
                    "because no permissions policy of the role allows host:RunAs on this host"
                        .to_owned()
                });
                Some(format!(
                    "Role: {} is not authorized to perform: host:RunAs on resource: {} {why}",
                    self.role_arn, self.host_arn
                ))
            }
        }
    }
}

/// Why a one-time code did not count as a second factor.
#[derive(Debug, thiserror::Error)]
pub enum MfaFailure {
    #[error(
        "MultiFactorAuthentication failed: user {0} is locked out after too many failed attempts."
    )]
    LockedOut(String),
    #[error("MultiFactorAuthentication failed: {serial} is not an MFA device of user {user}.")]
    NotYourDevice { serial: String, user: String },
    #[error("MultiFactorAuthentication failed: user {0} has no MFA device.")]
    NoDevice(String),
    #[error("MultiFactorAuthentication failed with invalid MFA one time pass code.")]
    InvalidCode,
    #[error(
        "MultiFactorAuthentication failed: that code was already used (each code is accepted once)."
    )]
    Replayed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The lockout rule of `[lockout]`, in the store's terms.
pub fn lockout_rule(config: &crate::config::LockoutConfig) -> LockoutRule {
    LockoutRule {
        deny: config.deny,
        fail_interval: config.fail_interval.num_seconds(),
        unlock_time: config.unlock_time.num_seconds(),
    }
}

/// The device to ask a code for: the given serial, else the user's first
/// enabled device.
pub fn mfa_device_for(
    store: &Store,
    user: &UserName,
    serial: Option<&str>,
) -> Result<MfaDevice, MfaFailure> {
    match serial {
        Some(serial) => {
            let device = store
                .get_mfa_device(serial)
                .map_err(|_| MfaFailure::NotYourDevice {
                    serial: serial.to_owned(),
                    user: user.to_string(),
                })?;
            if device.user.as_ref() != Some(user) || device.enable_date.is_none() {
                return Err(MfaFailure::NotYourDevice {
                    serial: serial.to_owned(),
                    user: user.to_string(),
                });
            }
            Ok(device)
        }
        None => store
            .list_mfa_devices(user)?
            .into_iter()
            .find(|d| d.enable_date.is_some())
            .ok_or_else(|| MfaFailure::NoDevice(user.to_string())),
    }
}

/// Checks a one-time code for `user` on `device` as a login would, through
/// the login's one lockout rule (`Store::settle_attempt`): decided in the
/// transaction that records it, refused while locked out (no code burnt);
/// a wrong or replayed code counts as a failure; the step is taken with the
/// store's compare-and-set, so a code works once, on any host sharing the
/// store.
pub fn check_mfa_code(
    store: &Store,
    user: &UserName,
    device: &MfaDevice,
    code: &SecretString,
    rule: &LockoutRule,
    skew_steps: u8,
    now: DateTime<Utc>,
) -> Result<(), MfaFailure> {
    let mut why = MfaFailure::InvalidCode;
    let settled = store.settle_attempt(user.as_str(), rule, now, |store| {
        let accepted = match totp::verify(&device.secret, code, now, skew_steps, device.last_step) {
            Some(step) => store.accept_totp_step(&device.serial_number, step)?,
            None => false,
        };
        if accepted {
            return Ok(AttemptResult::Pass { reset: false });
        }
        if totp::verify(&device.secret, code, now, skew_steps, None).is_some() {
            why = MfaFailure::Replayed;
        }
        Ok(AttemptResult::Fail { count: true })
    })?;
    match settled {
        Settled::Passed => Ok(()),
        Settled::Locked(_) => Err(MfaFailure::LockedOut(user.to_string())),
        Settled::Failed { .. } => Err(why),
    }
}

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    pub pgrp: u32,
    pub sid: u32,
    /// Start time, unix seconds (rounded down).
    pub start_unix: i64,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22):
    /// exact, so with the pid it names one process, never a successor that
    /// got the same pid.
    pub start_ticks: u64,
    /// Exited, not yet reaped: nothing of it runs.
    pub zombie: bool,
}

/// Linux's fixed `USER_HZ`: the unit of `starttime` in `/proc/PID/stat`.
const USER_HZ: i64 = 100;

impl ProcessInfo {
    /// Reads `/proc/PID/stat`; `None` when the process is gone.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Self::parse(pid, &stat, boot_time()?)
    }

    /// Parses a `/proc/PID/stat` line; `boot_unix` is `/proc/stat` `btime`.
    pub fn parse(pid: u32, stat: &str, boot_unix: i64) -> Option<Self> {
        // The command name may contain spaces and parentheses: fields start
        // after the last ')'. Field 3 (state) is index 0 of the rest.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok());
        Some(Self {
            pid,
            ppid: u32::try_from(field(4)?).ok()?,
            pgrp: u32::try_from(field(5)?).ok()?,
            sid: u32::try_from(field(6)?).ok()?,
            start_unix: boot_unix + field(22)? / USER_HZ,
            start_ticks: u64::try_from(field(22)?).ok()?,
            zombie: fields.first() == Some(&"Z"),
        })
    }
}

fn boot_time() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A session record as far as process membership is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub id: String,
    pub supervisor_pid: u32,
    /// The supervisor's start time in clock ticks, when recorded.
    pub supervisor_start: Option<u64>,
    /// When the record was written (unix seconds), after the supervisor
    /// process started.
    pub started: i64,
    /// The uid the session runs as, when recorded.
    pub run_as_uid: Option<u32>,
}

impl LiveSession {
    /// The membership facts of an active record with a supervisor.
    pub fn of(s: &RoleSession) -> Option<Self> {
        Some(Self {
            id: s.id.clone(),
            supervisor_pid: s.pid?,
            supervisor_start: s.pid_start,
            started: s.started,
            run_as_uid: s.run_as_uid,
        })
    }

    /// Whether the supervisor of this record still runs. A dead pid, or a pid
    /// now used by another process (start time in ticks differs; for records
    /// without one, a process younger than the record), is stale.
    pub fn supervisor_alive(&self) -> bool {
        ProcessInfo::read(self.supervisor_pid).is_some_and(|p| self.is_supervisor(&p))
    }

    /// Whether `p` is this session's supervisor.
    pub fn is_supervisor(&self, p: &ProcessInfo) -> bool {
        p.pid == self.supervisor_pid
            && match self.supervisor_start {
                Some(ticks) => p.start_ticks == ticks,
                None => is_supervisor(p, self.started),
            }
    }
}

/// A session id safe to use as a file name (`rs-` and base32, as the store
/// makes them).
pub fn is_session_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `p` can be the supervisor of a record written at `started`: it
/// must have started before the record (2 s for rounding of both clocks).
/// Only for records without the supervisor's start time in ticks.
pub fn is_supervisor(p: &ProcessInfo, started: i64) -> bool {
    p.start_unix <= started + 2
}

/// The cgroup (relative to the cgroup2 mount) holding every process of
/// session `id`.
pub fn command_cgroup(id: &str) -> String {
    format!("{SESSIONS_CGROUP}/{id}/command")
}

/// The cgroup (relative to the cgroup2 mount) holding the supervisor of
/// session `id`.
pub fn supervisor_cgroup(id: &str) -> String {
    format!("{SESSIONS_CGROUP}/{id}/supervisor")
}

/// The session whose command cgroup a `/proc/PID/cgroup` text names: its
/// cgroup v2 line (`0::PATH`) must be exactly `BASE/iam/sessions/ID/command`,
/// where BASE is the root of the cgroup2 mount in the hierarchy (`/` for a
/// whole-hierarchy mount). Nothing else counts: not the same names deeper
/// in someone's delegated subtree, not a sub-cgroup, not a cgroup v1 line.
///
/// The path in `/proc/PID/cgroup` is relative to the reader's cgroup
/// namespace; iamctl reads its own and then also checks that it is listed
/// in that exact directory's `cgroup.procs` under the mount, which no
/// namespace can fake.
pub fn cgroup_session_id(cgroup: &str, base: &str) -> Option<String> {
    let path = cgroup.lines().find_map(|line| line.strip_prefix("0::"))?;
    let rest = path.strip_prefix(base.trim_end_matches('/'))?;
    let id = rest
        .strip_prefix('/')?
        .strip_prefix(SESSIONS_CGROUP)?
        .strip_prefix('/')?
        .strip_suffix("/command")?;
    (is_session_id(id) && command_cgroup(id) == rest[1..]).then(|| id.to_owned())
}

/// The process asking, identified before any cgroup is trusted: its pid,
/// its real uid (who it is), and the session cgroup it was found in (by
/// iamctl, before it moved itself anywhere; see [`cgroup_session_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerProcess {
    pub pid: u32,
    pub uid: u32,
    pub cgroup_session: Option<String>,
}

/// Which of `sessions` the caller belongs to. Only a caller whose real uid
/// is the session's run-as uid can be in it; then by its exact session
/// cgroup (the directories are root's: a session's processes cannot leave
/// it, and no one else can enter it), else by walking its parents up to a
/// session's live supervisor. The environment is never asked: inside a
/// session it is the caller's to forge.
pub fn session_of_process(caller: &CallerProcess, sessions: &[LiveSession]) -> Option<LiveSession> {
    let runs_as_caller = |s: &&LiveSession| s.run_as_uid == Some(caller.uid);
    if let Some(id) = &caller.cgroup_session
        && let Some(s) = sessions
            .iter()
            .filter(runs_as_caller)
            .find(|s| &s.id == id && s.supervisor_alive())
    {
        return Some(s.clone());
    }
    ancestry(caller.pid).iter().find_map(|info| {
        sessions
            .iter()
            .filter(runs_as_caller)
            .find(|s| s.is_supervisor(info))
            .cloned()
    })
}

/// The processes from `pid` up to (not including) init, nearest first.
pub fn ancestry(pid: u32) -> Vec<ProcessInfo> {
    let mut out = Vec::new();
    let mut current = pid;
    while out.len() < 4096 {
        let Some(info) = ProcessInfo::read(current) else {
            break;
        };
        let parent = info.ppid;
        out.push(info);
        if parent <= 1 {
            break;
        }
        current = parent;
    }
    out
}

/// The caller's login (PAM) session among `sessions`: the open one whose
/// recorded process is an ancestor of `pid`. Its MFA time and source IP are
/// what the caller proved at login.
pub fn login_session_of(sessions: &[LoginSession], pid: u32) -> Option<&LoginSession> {
    let chain = ancestry(pid);
    sessions.iter().find(|s| {
        s.ended.is_none()
            && s.pid.is_some_and(|p| {
                chain
                    .iter()
                    .any(|a| a.pid == p && is_supervisor(a, s.started))
            })
    })
}

/// A record without a supervisor pid this long after it started belongs to
/// a supervisor that died before writing it.
const PIDLESS_GRACE: i64 = 30;

/// Whether an active record has no supervisor any more (it crashed or was
/// killed): such a record must not stay "active".
pub fn is_stale(session: &RoleSession, now: DateTime<Utc>) -> bool {
    if session.status != RoleSessionStatus::Active {
        return false;
    }
    match LiveSession::of(session) {
        None => now.timestamp() > session.started + PIDLESS_GRACE,
        Some(live) => !live.supervisor_alive(),
    }
}

/// Marks every stale active session ended and returns them (the caller
/// ends what is left of their processes). `record` runs in each session's
/// ending transaction (the caller queues its audit event there).
pub fn reap_stale_sessions(
    store: &Store,
    now: DateTime<Utc>,
    mut record: impl FnMut(&Store, &RoleSession) -> Result<(), StoreError>,
) -> Result<Vec<RoleSession>, StoreError> {
    let mut reaped = Vec::new();
    for s in store.list_role_sessions(None, true)? {
        if !is_stale(&s, now) {
            continue;
        }
        let ended = store.atomically(|store| {
            let ended = store.end_role_session(&s.id, RoleSessionStatus::Ended, now)?;
            if ended {
                record(store, &s)?;
            }
            Ok(ended)
        })?;
        if ended {
            reaped.push(s);
        }
    }
    Ok(reaped)
}

/// The role session the caller runs in, if any: an active, unexpired
/// record run as the caller's uid, found by its session cgroup, else by a
/// live supervisor among its ancestors — never by the environment, which
/// inside a session is the caller's to forge. `get-caller-identity` and
/// every iamctl call use this to act as the assumed role, and `assume-role`
/// to refuse nesting.
pub fn current_role_session(
    store: &Store,
    caller: &CallerProcess,
    now: DateTime<Utc>,
) -> Result<Option<RoleSession>, StoreError> {
    let active: Vec<RoleSession> = store
        .list_role_sessions(None, true)?
        .into_iter()
        .filter(|s| s.expires > now.timestamp())
        .collect();
    let live: Vec<LiveSession> = active.iter().filter_map(LiveSession::of).collect();
    Ok(session_of_process(caller, &live).and_then(|l| active.into_iter().find(|s| s.id == l.id)))
}

/// The principal the caller acts as when it runs inside a role session:
/// the session's assumed role (its ARN `arn:aws:sts::…:assumed-role/R/S`, the
/// role's policies). `get-caller-identity` reports it and every iamctl call
/// made inside a session is authorized with it, whatever uid the session
/// runs as (root, by default).
pub fn session_principal(
    store: &Store,
    account: &AccountId,
    caller: &CallerProcess,
    now: DateTime<Utc>,
) -> Result<Option<(RoleSession, Principal)>, PrincipalError> {
    let Some(session) = current_role_session(store, caller, now)? else {
        return Ok(None);
    };
    let principal =
        Principal::for_role_session(store, account, &session.role, &session.session_name)?;
    Ok(Some((session, principal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_072_000 + s, 0).unwrap()
    }

    #[test]
    fn duration_defaults_to_an_hour_and_is_bounded_like_aws() {
        let b = DurationBounds::for_role(None, None);
        assert_eq!(
            b,
            DurationBounds {
                min: 900,
                max: 3600
            }
        );
        assert_eq!(b.duration(None), Ok(3600));
        assert_eq!(b.duration(Some(900)), Ok(900));
        assert_eq!(b.duration(Some(3600)), Ok(3600));
        assert_eq!(
            b.duration(Some(899)),
            Err(ElevationError::DurationTooShort {
                requested: 899,
                min: 900
            })
        );
        assert_eq!(
            b.duration(Some(3601)),
            Err(ElevationError::DurationTooLong {
                requested: 3601,
                max: 3600
            })
        );
        assert_eq!(b.duration(Some(-5)).unwrap_err().code(), "ValidationError");
        let long = DurationBounds::for_role(Some(43_200), None);
        assert_eq!(long.duration(Some(43_200)), Ok(43_200));
        assert!(long.duration(Some(43_201)).is_err());
        // A role record cannot push the ceiling past AWS's, nor below an hour.
        assert_eq!(DurationBounds::for_role(Some(10_000_000), None).max, 43_200);
        assert_eq!(DurationBounds::for_role(Some(60), None).max, 3600);
    }

    #[test]
    fn test_minimum_only_lowers_the_floor() {
        let b = DurationBounds::for_role(None, Some(3));
        assert_eq!(b.duration(Some(3)), Ok(3));
        assert!(b.duration(Some(2)).is_err());
        assert_eq!(DurationBounds::for_role(None, Some(5000)).min, 900);
        assert_eq!(DurationBounds::for_role(None, Some(-1)).min, 1);
    }

    #[test]
    fn session_names_follow_aws_rules() {
        for ok in ["ab", "alice", "a+b=c,d.e@f-g_h", &"x".repeat(64)] {
            assert!(session_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "has space",
            "semi;colon",
            "sl/ash",
            "ünï",
            &"x".repeat(65),
        ] {
            assert_eq!(
                session_name(bad),
                Err(ElevationError::InvalidSessionName),
                "{bad}"
            );
        }
    }

    #[test]
    fn default_session_name_is_valid_and_names_the_user() {
        let n = default_session_name("alice", t(0)).unwrap();
        assert_eq!(n.as_str(), "alice-1764072000");
        let long = default_session_name(&"u".repeat(64), t(0)).unwrap();
        assert_eq!(long.as_str().len(), 64);
        assert!(default_session_name("", t(0)).is_ok());
    }

    #[test]
    fn expiration_prints_aws_style() {
        assert_eq!(iso8601(expiration(t(0), 900)), "2025-11-25T12:15:00+00:00");
    }

    #[test]
    fn run_as_comes_from_role_tags() {
        assert_eq!(
            RunAs::from_tags([]).unwrap(),
            RunAs {
                user: "root".into(),
                groups: vec![]
            }
        );
        let r = RunAs::from_tags([
            ("Host:RunAs", "deploy"),
            ("host:Groups", " docker, adm ,docker,,"),
            ("env", "prod"),
        ])
        .unwrap();
        assert_eq!(r.user, "deploy");
        assert_eq!(r.groups, vec!["docker", "adm"]);
        assert_eq!(
            RunAs::from_tags([("host:RunAs", "../etc")]),
            Err(ElevationError::InvalidRunAs)
        );
        assert_eq!(
            RunAs::from_tags([("host:RunAs", "-o")]),
            Err(ElevationError::InvalidRunAs)
        );
        assert_eq!(
            RunAs::from_tags([("host:Groups", "ok,b ad")]),
            Err(ElevationError::InvalidGroup("b ad".into()))
        );
    }

    #[test]
    fn commands_are_bounded() {
        assert!(check_command(&["id".into(), "-u".into()]).is_ok());
        assert_eq!(
            check_command(&vec!["x".repeat(100); 2000]),
            Err(ElevationError::CommandTooLong)
        );
        assert_eq!(
            check_command(&["y".repeat(MAX_COMMAND_BYTES)]),
            Err(ElevationError::CommandTooLong)
        );
        assert_eq!(
            check_command(&["a\0b".into()]),
            Err(ElevationError::CommandHasNul)
        );
    }

    fn description() -> SessionDescription {
        let session_name = RoleSessionName::parse("ops").unwrap();
        SessionDescription {
            id: "s-1".into(),
            role_name: "admin".into(),
            role_arn: "arn:aws:iam::123456789012:role/admin".into(),
            session_arn: "arn:aws:sts::123456789012:assumed-role/admin/ops".into(),
            session_name,
            expires: t(900),
        }
    }

    #[test]
    fn environment_is_reset_and_describes_the_session() {
        let target = TargetUser {
            name: "root".into(),
            home: "/root".into(),
            shell: "/bin/bash".into(),
        };
        let env = session_environment(Some(b"xterm-256color"), &target, &description());
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some(SECURE_PATH));
        assert_eq!(get("HOME"), Some("/root"));
        assert_eq!(get("USER"), Some("root"));
        assert_eq!(get("LOGNAME"), Some("root"));
        assert_eq!(get("SHELL"), Some("/bin/bash"));
        assert_eq!(get("TERM"), Some("xterm-256color"));
        assert_eq!(
            get("IAM_ROLE_ARN"),
            Some("arn:aws:iam::123456789012:role/admin")
        );
        assert_eq!(
            get("IAM_SESSION_ARN"),
            Some("arn:aws:sts::123456789012:assumed-role/admin/ops")
        );
        assert_eq!(
            get("IAM_SESSION_EXPIRATION"),
            Some("2025-11-25T12:15:00+00:00")
        );
        assert!(get("PS1").unwrap().starts_with("(admin/ops) "));
        assert!(get("LD_PRELOAD").is_none() && get("IFS").is_none());
        let names: BTreeSet<_> = env.iter().map(|(k, _)| k).collect();
        assert_eq!(names.len(), env.len(), "no duplicate variables");
    }

    #[test]
    fn hostile_term_is_dropped_and_bad_shells_replaced() {
        for bad in [
            &b"../../tmp/evil"[..],
            b"xterm\x1b]0;pwned\x07",
            b"%n%n",
            b"",
            b"-x",
            &[b'a'; 65],
            b"\xff\xfe",
        ] {
            assert_eq!(sanitize_term(bad), None, "{bad:?}");
        }
        let target = TargetUser {
            name: "u".into(),
            home: "/".into(),
            shell: "bash".into(),
        };
        let env = session_environment(Some(b"../x"), &target, &description());
        assert!(!env.iter().any(|(k, _)| k == "TERM"));
        assert!(env.contains(&("SHELL".into(), "/bin/sh".into())));
    }

    #[test]
    fn timeline_warns_then_hangs_up_then_kills() {
        let mut tl = Timeline::new(t(900));
        assert_eq!(tl.step(t(0)), Step::Wait(REVOKE_POLL));
        assert_eq!(
            tl.step(t(839)),
            Step::Wait(std::time::Duration::from_secs(1))
        );
        assert_eq!(tl.step(t(840)), Step::Warn);
        assert_eq!(tl.step(t(841)), Step::Wait(REVOKE_POLL));
        assert_eq!(tl.end_reason(), None);
        assert_eq!(tl.step(t(900)), Step::Hangup);
        assert_eq!(tl.end_reason(), Some(EndReason::Expired));
        assert_eq!(tl.step(t(901)), Step::Wait(REVOKE_POLL));
        assert_eq!(tl.step(t(903)), Step::Kill);
        assert!(tl.killed());
        assert_eq!(tl.step(t(904)), Step::Wait(REVOKE_POLL));
    }

    #[test]
    fn short_sessions_warn_at_once_and_revocation_wins() {
        let mut tl = Timeline::new(t(5));
        assert_eq!(tl.step(t(0)), Step::Warn);
        tl.end(EndReason::Revoked);
        tl.end(EndReason::Exited);
        assert_eq!(tl.step(t(1)), Step::Hangup);
        assert_eq!(tl.end_reason(), Some(EndReason::Revoked));
        // Expiry during the grace does not restart it; the grace runs out.
        assert_eq!(tl.step(t(2)), Step::Wait(std::time::Duration::from_secs(1)));
        assert_eq!(tl.step(t(4)), Step::Kill);
        assert_eq!(tl.end_reason(), Some(EndReason::Revoked));
        assert!(tl.killed());
    }

    #[test]
    fn proc_stat_is_parsed_past_hostile_command_names() {
        let stat =
            "4242 (evil) 1 2 3 (x) S 17 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let p = ProcessInfo::parse(4242, stat, 1_000).unwrap();
        assert_eq!((p.ppid, p.pgrp, p.sid), (17, 4242, 4242));
        assert_eq!(p.start_unix, 1_000 + 123);
        assert!(is_supervisor(&p, 1_123));
        assert!(!is_supervisor(&p, 1_100));
        let me = ProcessInfo::read(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
    }

    #[test]
    fn only_the_exact_session_cgroup_counts() {
        let id = "rs-abc234";
        let exact = format!("0::/iam/sessions/{id}/command\n");
        assert_eq!(cgroup_session_id(&exact, "/"), Some(id.into()));
        assert_eq!(
            cgroup_session_id(&format!("4:memory:/x\n{exact}"), "/"),
            Some(id.into())
        );
        // A mount of a sub-hierarchy: the path starts with its root.
        assert_eq!(
            cgroup_session_id(
                &format!("0::/docker/c1/iam/sessions/{id}/command\n"),
                "/docker/c1"
            ),
            Some(id.into())
        );
        for forged in [
            // The old layout, and the names anywhere but at the root: what a
            // user with a delegated subtree (systemd's user@UID.service) can
            // create for itself.
            format!("0::/iam-sessions/{id}\n"),
            format!("0::/user.slice/user-1000.slice/user@1000.service/iam-sessions/{id}\n"),
            format!("0::/user.slice/user-1000.slice/user@1000.service/iam/sessions/{id}/command\n"),
            // A sub-cgroup, the supervisor's cgroup, a prefix.
            format!("0::/iam/sessions/{id}/command/sub\n"),
            format!("0::/iam/sessions/{id}/supervisor\n"),
            format!("0::/iam/sessions/{id}\n"),
            format!("0::/docker/c1x/iam/sessions/{id}/command\n"),
            // Not a session id, not a cgroup v2 line.
            "0::/iam/sessions/../command\n".to_owned(),
            "0::/iam/sessions//command\n".to_owned(),
            "0::/iam/sessions/a/b/command\n".to_owned(),
            format!("1:name=systemd:/iam/sessions/{id}/command\n"),
            "0::/user.slice\n".to_owned(),
        ] {
            let base = if forged.contains("/docker/") {
                "/docker/c1"
            } else {
                "/"
            };
            assert_eq!(cgroup_session_id(&forged, base), None, "{forged}");
        }
    }

    #[test]
    fn a_process_is_found_in_its_supervisors_session() {
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let now = Utc::now().timestamp();
        let uid = 4242;
        let caller = CallerProcess {
            pid: me.pid,
            uid,
            cgroup_session: None,
        };
        let live = |pid: u32, start: Option<u64>, started: i64| LiveSession {
            id: format!("s-{pid}"),
            supervisor_pid: pid,
            supervisor_start: start,
            started,
            run_as_uid: Some(uid),
        };
        // Our parent as a supervisor: found through ancestry.
        let found = session_of_process(&caller, &[live(parent.pid, Some(parent.start_ticks), now)]);
        assert_eq!(found.map(|s| s.id), Some(format!("s-{}", parent.pid)));
        // Another process under the same pid (start time in ticks differs):
        // pid reuse, stale.
        let other = live(parent.pid, Some(parent.start_ticks + 1), now);
        assert_eq!(
            session_of_process(&caller, std::slice::from_ref(&other)),
            None
        );
        assert!(!other.supervisor_alive());
        // A record without ticks: older than the process holding its pid.
        assert_eq!(
            session_of_process(&caller, &[live(parent.pid, None, parent.start_unix - 60)]),
            None
        );
        assert!(live(parent.pid, None, now).supervisor_alive());
        assert!(!live(u32::MAX - 1, None, now).supervisor_alive());
        // Another uid than the session's, or a record without one: not in it.
        let mut theirs = live(parent.pid, Some(parent.start_ticks), now);
        theirs.run_as_uid = Some(uid + 1);
        assert_eq!(
            session_of_process(&caller, std::slice::from_ref(&theirs)),
            None
        );
        theirs.run_as_uid = None;
        assert_eq!(session_of_process(&caller, &[theirs]), None);
        // By cgroup: only a session with a live supervisor and the uid.
        let far = CallerProcess {
            pid: 1,
            uid,
            cgroup_session: Some(format!("s-{}", parent.pid)),
        };
        let s = live(parent.pid, Some(parent.start_ticks), now);
        assert_eq!(
            session_of_process(&far, std::slice::from_ref(&s)),
            Some(s.clone())
        );
        let dead = live(u32::MAX - 1, None, now);
        let far_dead = CallerProcess {
            cgroup_session: Some(dead.id.clone()),
            ..far.clone()
        };
        assert_eq!(session_of_process(&far_dead, &[dead]), None);
        let root = CallerProcess { uid: 0, ..far };
        assert_eq!(session_of_process(&root, &[s]), None);
    }

    const ACCT: &str = "123456789012";
    const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
    const ROLE: &str = "arn:aws:iam::123456789012:role/admin";
    const HOST: &str = "arn:aws:host::123456789012:host/web-1";

    fn policy(name: &str, kind: PolicyKind, json: &str) -> Policy {
        Policy::parse(name, json, kind).unwrap()
    }

    fn trust(principal: &str, condition: &str) -> Policy {
        policy(
            "trust",
            PolicyKind::Trust,
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Trust","Effect":"Allow",
                "Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"{condition}}}]}}"#
            ),
        )
    }

    fn identity(json: &str) -> PolicySet {
        PolicySet {
            identity: vec![policy("alice-policy", PolicyKind::UserInline, json)],
            boundary: None,
            resource: vec![],
        }
    }

    const ALLOW_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"MayAssume",
        "Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"}]}"#;
    const NOTHING: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":"s3:GetObject","Resource":"*"}]}"#;

    fn role_policies(condition: &str) -> PolicySet {
        PolicySet {
            identity: vec![policy(
                "run-as",
                PolicyKind::RoleInline,
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"RunHere","Effect":"Allow",
                    "Action":"host:RunAs","Resource":"arn:aws:host::123456789012:host/*"{condition}}}]}}"#
                ),
            )],
            boundary: None,
            resource: vec![],
        }
    }

    struct Case {
        caller: PolicySet,
        trust: Policy,
        role: PolicySet,
        mfa_at: Option<i64>,
        duration: i64,
        host_env: &'static str,
    }

    impl Case {
        fn new(caller: &str, trust_policy: Policy) -> Self {
            Self {
                caller: identity(caller),
                trust: trust_policy,
                role: role_policies(""),
                mfa_at: None,
                duration: 3600,
                host_env: "prod",
            }
        }

        /// Decides; returns the verdict, the message, and mfa_would_allow.
        fn run(&self) -> (Verdict, Option<String>, bool) {
            let name = RoleSessionName::parse("ops").unwrap();
            let facts = RequestFacts {
                now: t(0),
                mfa_at: self.mfa_at,
                source_ip: Some("192.0.2.7"),
                hostname: "web-1",
                duration_seconds: self.duration,
                session_name: &name,
            };
            let mut base = Context::new();
            base.set("aws:username", "alice");
            base.set("aws:PrincipalArn", ALICE);
            let assume = assume_role_context(&base, &facts, [("team", "ops")]);
            let mut role_base = Context::new();
            role_base.set("aws:PrincipalArn", ROLE);
            let run_as = run_as_context(&role_base, &facts, [("env", self.host_env)]);
            let session_arn = format!("arn:aws:sts::{ACCT}:assumed-role/admin/ops");
            let q = AssumeRoleQuestion {
                caller_arn: ALICE,
                caller: &self.caller,
                role_arn: ROLE,
                trust: &self.trust,
                assume_context: &assume,
                session_arn: &session_arn,
                role: &self.role,
                host_arn: HOST,
                run_as_context: &run_as,
            };
            let v = q.decide();
            let msg = q.denial_message(&v);
            (v, msg, q.mfa_would_allow())
        }
    }

    #[test]
    fn trust_naming_the_user_suffices_naming_the_account_needs_identity() {
        let (v, msg, _) = Case::new(NOTHING, trust(ALICE, "")).run();
        assert!(v.is_allowed(), "{msg:?}");
        let (v, _, _) = Case::new(ALLOW_ASSUME, trust("arn:aws:iam::123456789012:root", "")).run();
        assert!(v.is_allowed());
        let (v, msg, _) = Case::new(NOTHING, trust("arn:aws:iam::123456789012:root", "")).run();
        assert!(matches!(
            v,
            Verdict::AssumeDenied {
                identity_allows: false,
                trust_allows: true,
                ..
            }
        ));
        assert!(
            msg.unwrap()
                .contains("no identity-based policy allows the sts:AssumeRole action")
        );
    }

    #[test]
    fn a_trust_policy_naming_someone_else_denies() {
        let bob = "arn:aws:iam::123456789012:user/bob";
        let (v, msg, mfa) = Case::new(ALLOW_ASSUME, trust(bob, "")).run();
        assert!(matches!(
            v,
            Verdict::AssumeDenied {
                trust_allows: false,
                ..
            }
        ));
        assert_eq!(
            msg.unwrap(),
            format!(
                "User: {ALICE} is not authorized to perform: sts:AssumeRole on resource: {ROLE} because the role's trust policy does not allow it"
            )
        );
        assert!(!mfa, "a code would not help");
    }

    #[test]
    fn an_explicit_deny_wins_and_is_named() {
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoRoles","Effect":"Deny",
            "Action":"sts:*","Resource":"*"}]}"#;
        let (v, msg, _) = Case::new(deny, trust(ALICE, "")).run();
        assert_eq!(v.deciding().decision, Decision::ExplicitDeny);
        assert!(
            msg.unwrap()
                .contains("explicit deny in policy alice-policy statement \"NoRoles\"")
        );
    }

    #[test]
    fn mfa_conditions_see_the_login_or_a_fresh_code() {
        let need_mfa = r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},
            "NumericLessThan":{"aws:MultiFactorAuthAge":"300"}}"#;
        let mut case = Case::new(NOTHING, trust(ALICE, need_mfa));
        let (v, _, mfa) = case.run();
        assert!(!v.is_allowed());
        assert!(mfa, "a fresh code would allow: prompt for one");
        case.mfa_at = Some(t(-100).timestamp());
        assert!(case.run().0.is_allowed(), "MFA at login 100 s ago");
        case.mfa_at = Some(t(-3000).timestamp());
        let (v, _, mfa) = case.run();
        assert!(!v.is_allowed() && mfa, "stale MFA: ask again");
    }

    #[test]
    fn role_tags_are_resource_tags_of_assume_role() {
        let mut case = Case::new(
            NOTHING,
            trust(
                ALICE,
                r#","Condition":{"StringEquals":{"aws:ResourceTag/team":"ops","iam:ResourceTag/team":"ops"}}"#,
            ),
        );
        assert!(case.run().0.is_allowed());
        case.trust = trust(
            ALICE,
            r#","Condition":{"StringEquals":{"aws:ResourceTag/team":"dev"}}"#,
        );
        assert!(!case.run().0.is_allowed());
    }

    #[test]
    fn duration_and_session_name_are_condition_keys() {
        let short_only = r#","Condition":{"NumericLessThanEquals":{"sts:DurationSeconds":"900"},
            "StringLike":{"sts:RoleSessionName":"op*"}}"#;
        let mut case = Case::new(NOTHING, trust(ALICE, short_only));
        case.duration = 900;
        assert!(case.run().0.is_allowed());
        case.duration = 901;
        assert!(!case.run().0.is_allowed());
    }

    #[test]
    fn run_as_is_limited_by_host_tags() {
        let mut case = Case::new(NOTHING, trust(ALICE, ""));
        case.role =
            role_policies(r#","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}"#);
        assert!(case.run().0.is_allowed());
        case.host_env = "dev";
        let (v, msg, mfa) = case.run();
        assert!(matches!(v, Verdict::RunAsDenied(_)));
        assert_eq!(
            msg.unwrap(),
            format!(
                "Role: {ROLE} is not authorized to perform: host:RunAs on resource: {HOST} because no permissions policy of the role allows host:RunAs on this host"
            )
        );
        assert!(!mfa);
    }

    #[test]
    fn the_test_lifetime_key_is_root_configured_and_bounded() {
        let path = std::path::Path::new("/etc/iam/iam.toml");
        let base = "account_id = \"123456789012\"\nhostname = \"h\"\n";
        let c = crate::config::HostConfig::parse(base, path).unwrap();
        assert_eq!(c.elevation.test_min_duration_seconds, None);
        let c = crate::config::HostConfig::parse(
            &format!("{base}[elevation]\ntest_min_duration_seconds = 3\n"),
            path,
        )
        .unwrap();
        assert_eq!(c.elevation.test_min_duration_seconds, Some(3));
        for bad in ["0", "901", "-1"] {
            assert!(
                crate::config::HostConfig::parse(
                    &format!("{base}[elevation]\ntest_min_duration_seconds = {bad}\n"),
                    path
                )
                .is_err()
            );
        }
    }

    #[test]
    fn sessions_are_found_by_ancestry_and_stale_ones_reaped() {
        use crate::names::{AccountId, RoleName, UserName};
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
        let now = Utc::now();
        let user = UserName::parse("alice").unwrap();
        let role = RoleName::parse("admin").unwrap();
        let name = session_name("ops").unwrap();
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let caller = CallerProcess {
            pid: me.pid,
            uid: 4242,
            cgroup_session: None,
        };
        let mine = store
            .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
            .unwrap();
        assert_eq!(
            current_role_session(&store, &caller, now).unwrap(),
            None,
            "no pid yet"
        );
        // Our parent plays the supervisor: we are inside its session.
        store
            .set_role_session_supervisor(&mine.id, me.ppid, parent.start_ticks, 4242)
            .unwrap();
        let found = current_role_session(&store, &caller, now).unwrap().unwrap();
        assert_eq!(found.id, mine.id);
        assert!(!is_stale(&found, now));
        // Once expired it authorizes nothing, whatever its status says.
        let after = now + TimeDelta::seconds(900);
        assert_eq!(current_role_session(&store, &caller, after).unwrap(), None);

        // A session whose supervisor is gone is stale, and reaped once.
        let dead = store
            .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
            .unwrap();
        store
            .set_role_session_supervisor(&dead.id, u32::MAX - 7, 1, 4242)
            .unwrap();
        let pidless = store
            .create_role_session(&user, &role, &name, now, now + TimeDelta::seconds(900))
            .unwrap();
        assert!(!is_stale(&pidless, now), "just created");
        let later = now + TimeDelta::seconds(PIDLESS_GRACE + 1);
        let reaped: BTreeSet<String> = reap_stale_sessions(&store, later, |_, _| Ok(()))
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            reaped,
            BTreeSet::from([dead.id.clone(), pidless.id.clone()])
        );
        assert!(
            reap_stale_sessions(&store, later, |_, _| Ok(()))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.get_role_session(&dead.id).unwrap().status,
            RoleSessionStatus::Ended
        );
        assert_eq!(
            store.get_role_session(&mine.id).unwrap().status,
            RoleSessionStatus::Active
        );
    }

    #[test]
    fn the_login_session_is_the_one_above_us() {
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let login = |id: i64, pid: u32, ended: Option<i64>| LoginSession {
            id,
            user: "alice".into(),
            service: "sshd".into(),
            rhost: "192.0.2.7".into(),
            tty: "pts/0".into(),
            pid: Some(pid),
            started: Utc::now().timestamp(),
            ended,
            mfa_time: Some(1),
        };
        let sessions = [
            login(1, u32::MAX - 3, None),
            login(2, parent.pid, Some(5)),
            login(3, parent.pid, None),
        ];
        assert_eq!(login_session_of(&sessions, me.pid).map(|s| s.id), Some(3));
        assert_eq!(login_session_of(&sessions[..2], me.pid), None);
    }

    #[test]
    fn login_facts_give_the_same_keys_to_every_caller() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let now = t(0);
        let open = |user: &str, rhost: &str, mfa_time: Option<i64>| {
            store
                .open_login_session(&LoginSession {
                    id: 0,
                    user: user.into(),
                    service: "sshd".into(),
                    rhost: rhost.into(),
                    tty: "pts/0".into(),
                    pid: Some(me.ppid),
                    started: Utc::now().timestamp(),
                    ended: None,
                    mfa_time,
                })
                .unwrap()
        };
        let keys = |facts: &LoginFacts| {
            let mut ctx = Context::new();
            facts.apply(&mut ctx, now);
            [
                "aws:MultiFactorAuthPresent",
                "aws:MultiFactorAuthAge",
                "aws:SourceIp",
            ]
            .map(|k| ctx.get(k).map(|v| v.join(",")))
        };
        // No login session above us: no keys at all.
        let none = LoginFacts::of_process(&store, "alice", me.pid).unwrap();
        assert_eq!(none, LoginFacts::default());
        assert_eq!(keys(&none), [None, None, None]);
        open("alice", "192.0.2.7", Some(now.timestamp() - 42));
        open("bob", "host.example", None);
        let alice = LoginFacts::of_process(&store, "alice", me.pid).unwrap();
        assert_eq!(
            keys(&alice),
            [
                Some("true".into()),
                Some("42".into()),
                Some("192.0.2.7".into())
            ]
        );
        // A host name is no source IP; a login without MFA says so.
        let bob = LoginFacts::of_process(&store, "bob", me.pid).unwrap();
        assert_eq!(keys(&bob), [Some("false".into()), None, None]);
    }

    #[test]
    fn mfa_codes_work_once_and_failures_lock_out() {
        use crate::names::{AccountId, IamPath, MfaDeviceName};
        use crate::secret::SecretBytes;
        use crate::store::NewUser;
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
        let now = t(0);
        let alice = UserName::parse("alice").unwrap();
        let bob = UserName::parse("bob").unwrap();
        for u in [&alice, &bob] {
            store.create_user(&NewUser::new(u.clone()), now).unwrap();
        }
        let secret = SecretBytes::new(b"12345678901234567890".to_vec());
        let device = store
            .create_virtual_mfa_device(
                &MfaDeviceName::parse("alice").unwrap(),
                &IamPath::root(),
                &secret,
                now,
            )
            .unwrap();
        let serial = device.serial_number.clone();
        assert!(matches!(
            mfa_device_for(&store, &alice, None),
            Err(MfaFailure::NoDevice(_))
        ));
        // Enabled with the codes of the two previous steps.
        let step_now = totp::step_at(now).unwrap();
        store
            .enable_mfa_device(&alice, &serial, step_now - 1, now)
            .unwrap();
        assert_eq!(
            mfa_device_for(&store, &alice, None).unwrap().serial_number,
            serial
        );
        assert!(matches!(
            mfa_device_for(&store, &bob, Some(&serial)),
            Err(MfaFailure::NotYourDevice { .. })
        ));
        let rule = LockoutRule {
            deny: 3,
            fail_interval: 900,
            unlock_time: 900,
        };
        let check = |code: &str| {
            let device = mfa_device_for(&store, &alice, Some(&serial)).unwrap();
            check_mfa_code(&store, &alice, &device, &code.into(), &rule, 1, now)
        };
        let code = totp::code_at(&secret, now.timestamp() as u64);
        let wrong = if code.expose() == "000000" {
            "111111"
        } else {
            "000000"
        };
        assert!(matches!(check(wrong), Err(MfaFailure::InvalidCode)));
        assert!(check(code.expose()).is_ok());
        assert!(matches!(check(code.expose()), Err(MfaFailure::Replayed)));
        assert!(matches!(check(wrong), Err(MfaFailure::InvalidCode)));
        // Three failures: locked, even with a fresh code.
        let next = totp::code_at(&secret, now.timestamp() as u64 + 30);
        assert!(matches!(
            check(next.expose()),
            Err(MfaFailure::LockedOut(_))
        ));
        assert_eq!(
            store.lock_state("alice", &rule, now).unwrap().failures,
            2 + 1
        );
        // Decided by the login's rule (Store::settle_attempt): the locked
        // attempt was not counted and burnt no code.
        store.reset_failures("alice").unwrap();
        assert!(
            check(next.expose()).is_ok(),
            "the locked attempt took the step"
        );
    }

    #[test]
    fn proc_limits_are_parsed() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max file size             1024                 unlimited            bytes     \n\
                    Max nice priority         0                    0                    \n\
                    garbage\n";
        assert_eq!(
            parse_proc_limits(text),
            vec![
                ("Max cpu time".to_owned(), None, None),
                ("Max file size".to_owned(), Some(1024), None),
                ("Max nice priority".to_owned(), Some(0), Some(0)),
            ]
        );
        let real = std::fs::read_to_string("/proc/self/limits").unwrap();
        assert!(parse_proc_limits(&real).len() >= 16);
    }

    #[test]
    fn inside_a_session_the_caller_is_the_assumed_role() {
        use crate::names::{IamPath, RoleName};
        use crate::store::NewRole;
        let dir = tempfile::tempdir().unwrap();
        let account = AccountId::parse(ACCT).unwrap();
        let store = Store::create(&dir.path().join("iam.db"), &account).unwrap();
        let now = Utc::now();
        let role = RoleName::parse("admin").unwrap();
        store
            .create_role(
                &NewRole {
                    name: role.clone(),
                    path: IamPath::root(),
                    assume_role_policy_document: trust(ALICE, "").document().to_owned(),
                    description: None,
                    max_session_duration: None,
                    tags: Vec::new(),
                    permissions_boundary: None,
                },
                now,
            )
            .unwrap();
        let me = ProcessInfo::read(std::process::id()).unwrap();
        let parent = ProcessInfo::read(me.ppid).unwrap();
        let caller = CallerProcess {
            pid: me.pid,
            uid: 0,
            cgroup_session: None,
        };
        assert!(
            session_principal(&store, &account, &caller, now)
                .unwrap()
                .is_none()
        );
        let s = store
            .create_role_session(
                &UserName::parse("alice").unwrap(),
                &role,
                &session_name("ops").unwrap(),
                now,
                now + TimeDelta::seconds(900),
            )
            .unwrap();
        store
            .set_role_session_supervisor(&s.id, me.ppid, parent.start_ticks, 0)
            .unwrap();
        let (found, principal) = session_principal(&store, &account, &caller, now)
            .unwrap()
            .unwrap();
        assert_eq!(found.id, s.id);
        assert_eq!(
            principal.arn,
            "arn:aws:sts::123456789012:assumed-role/admin/ops"
        );
    }

    #[test]
    fn session_ids_are_safe_file_names() {
        assert!(is_session_id("rs-abcdef234567"));
        for bad in ["", "..", "rs/../x", "RS-A", "rs x", &"a".repeat(65)] {
            assert!(!is_session_id(bad), "{bad}");
        }
    }
}
