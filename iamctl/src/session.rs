//! The caller's login session, as pam_iam's `open_session` recorded it,
//! found through the caller's process ancestry. It says what AWS's session
//! credentials say about a caller: whether it signed in with MFA and how long
//! ago (`aws:MultiFactorAuthPresent`, `aws:MultiFactorAuthAge`) and from
//! where (`aws:SourceIp`). No session (a cron job, `su`): the keys are
//! absent, as for AWS long-term credentials.

use chrono::{DateTime, Utc};
use iam::store::{LoginSession, Store};
use std::net::IpAddr;

/// Context keys from the caller's open login session, if one is found.
pub fn login_context(store: &Store, user: &str, now: DateTime<Utc>) -> Vec<(String, String)> {
    let Ok(sessions) = store.list_login_sessions(Some(user), true) else {
        return Vec::new();
    };
    let Some(session) = session_of_ancestors(&sessions) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    match session.mfa_time {
        Some(t) => {
            keys.push(("aws:MultiFactorAuthPresent".into(), "true".into()));
            keys.push((
                "aws:MultiFactorAuthAge".into(),
                (now.timestamp() - t).max(0).to_string(),
            ));
        }
        None => keys.push(("aws:MultiFactorAuthPresent".into(), "false".into())),
    }
    if session.rhost.parse::<IpAddr>().is_ok() {
        keys.push(("aws:SourceIp".into(), session.rhost.clone()));
    }
    keys
}

/// The open session whose recorded pid is one of our ancestors, and whose
/// process started no later than the session (a reused pid did not).
fn session_of_ancestors(sessions: &[LoginSession]) -> Option<&LoginSession> {
    let boot = boot_time()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)?;
    let mut pid = u32::try_from(nix::unistd::getppid().as_raw()).ok()?;
    for _ in 0..4096 {
        if pid <= 1 {
            return None;
        }
        let (ppid, start_ticks) = stat(pid)?;
        let started = boot + start_ticks / ticks;
        if let Some(s) = sessions
            .iter()
            .find(|s| s.pid == Some(pid) && started <= s.started + 1)
        {
            return Some(s);
        }
        pid = ppid;
    }
    None
}

/// `(ppid, starttime in clock ticks)` from /proc/PID/stat.
fn stat(pid: u32) -> Option<(u32, i64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and ')': split after the last one.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

fn boot_time() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_stat() {
        let me = std::process::id();
        let (ppid, start) = stat(me).unwrap();
        assert_eq!(
            ppid,
            u32::try_from(nix::unistd::getppid().as_raw()).unwrap()
        );
        assert!(start > 0);
        assert!(boot_time().unwrap() > 1_000_000_000);
    }
}
