//! A running role session as iamctl makes it: its environment, limits and timeline.

use chrono::{DateTime, TimeDelta, Utc};
use iam::elevation::*;
use iam::names::RoleSessionName;

/// The terminal is warned this long before the session ends.
pub const WARN_BEFORE_EXPIRY: TimeDelta = TimeDelta::seconds(60);

/// Between SIGHUP and SIGKILL when a session ends.
pub const KILL_GRACE: TimeDelta = TimeDelta::seconds(3);

/// How often a supervisor looks at its session record for a revocation.
pub const REVOKE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// sudo's `secure_path`: the only PATH a session starts with.
pub const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// pam_iam's cgroup v2 directory `iam` (under the cgroup2 mount) is
// root-owned, never group- or world-writable, and nothing in it is a
// caller's. Its layout:
// - `iam/iamctl`: a setuid iamctl of a non-root caller, out of the
//   caller's cgroups (which the caller may freeze, throttle or kill);
// - `iam/sessions/ID/supervisor`: the supervisor of role session ID;
// - `iam/sessions/ID/command`: every process of role session ID.

/// Where a setuid iamctl of a non-root caller waits.
pub const IAMCTL_CGROUP: &str = "iam/iamctl";

/// Where a supervisor notes the Linux session id (the command's pid) of a
/// running session, so that what is left of a session whose supervisor died
/// can be found and ended where no cgroup could be made.
pub const RUN_DIR: &str = "/run/iam/sessions";

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
    #[cfg(test)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::BTreeSet;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_072_000 + s, 0).unwrap()
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
}
