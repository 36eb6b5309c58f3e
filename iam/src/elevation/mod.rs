//! The rules of `iamctl assume-role` that are not system calls: what a
//! role session may be (duration, name, run-as user, command bounds), the
//! request context of `sts:AssumeRole` and `host:RunAs` (`crate::request`), and the
//! decision with its factors (`decide`). Running a session (fork, pty,
//! cgroups, `/proc`, the supervisor's timeline) is iamctl's: see
//! docs/ARCHITECTURE.md.

use crate::names::RoleSessionName;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;

mod decide;
#[cfg(test)]
mod tests;

pub use decide::*;

/// AWS's lower bound for `DurationSeconds`.
pub const MIN_DURATION_SECONDS: i64 = 900;

/// A role's `MaxSessionDuration` when it sets none, and the default duration.
pub const DEFAULT_DURATION_SECONDS: i64 = 3600;

/// AWS's upper bound for a role's `MaxSessionDuration`.
pub const MAX_MAX_SESSION_DURATION: i64 = 43_200;

/// Role tag naming the Linux user a session runs as (default `root`).
pub const RUN_AS_TAG: &str = "host:RunAs";

/// Role tag naming extra Linux groups (comma-separated) of a session.
pub const GROUPS_TAG: &str = "host:Groups";

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
