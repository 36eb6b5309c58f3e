//! Login-time records: lockout counters, authentication records handed
//! from PAM `authenticate` to `acct_mgmt`, login sessions and role
//! (elevation) sessions. Keyed by name, not by foreign key: unknown users
//! are counted like known ones, and records outlive deletions for audit.

use super::{Ledger, Outgoing, outbox::queue_in};
use crate::names::{RoleName, RoleSessionName, UserName, random_base32};
use crate::store::sql::{Connection, OptionalExtension, Row, params};
use crate::store::{
    AttemptResult, AuthRecord, AuthState, EntityKind, LockState, LockoutRule, LoginSession, Result,
    RoleSession, RoleSessionStatus, Settled, StoreError, change_one, corrupt,
};
use chrono::{DateTime, Utc};

/// How long an authentication record stays valid for `acct_mgmt` and
/// `open_session`.
pub const AUTH_RECORD_TTL: i64 = 300;

/// At most this many failure timestamps are kept per user.
const MAX_FAILURES_KEPT: i64 = 64;

/// pam_faillock's decision from the failure timestamps of one user: the
/// failures counted are those within `fail_interval` of the latest one; at
/// least `deny` of them lock the user until `unlock_time` after the latest
/// (`unlock_time == 0`: until reset). `deny == 0` disables lockout.
///
/// A failure stamped later than `now` (this clock stepped back, or another
/// host sharing the store runs ahead) counts as happening now: stepping a
/// clock back must not lift a lockout (fail closed; `unlock-user` resets).
pub fn lock_state(failures: &[i64], rule: &LockoutRule, now: i64) -> LockState {
    let failures: Vec<i64> = failures.iter().map(|t| (*t).min(now)).collect();
    let Some(latest) = failures.iter().copied().max() else {
        return LockState {
            failures: 0,
            locked: false,
            locked_until: None,
        };
    };
    let count = failures
        .iter()
        .filter(|t| **t <= latest && latest - **t < rule.fail_interval)
        .count();
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    let mut state = LockState {
        failures: count,
        locked: false,
        locked_until: None,
    };
    if rule.deny == 0 || count < rule.deny {
        return state;
    }
    if rule.unlock_time == 0 {
        state.locked = true;
    } else if now < latest + rule.unlock_time {
        state.locked = true;
        state.locked_until = Some(latest + rule.unlock_time);
    }
    state
}

impl Ledger<'_> {
    /// Decides one authentication attempt of `user` (known or not) under
    /// the lockout rule, in one write transaction: the lock state is read
    /// there, then `check` runs (its writes, say a TOTP step or the
    /// authentication record, commit with the result), then the result is
    /// recorded. A locked user fails whatever the factors, and `check` does
    /// not run; attempts answered at the same moment are decided one after
    /// the other, each on the failures the ones before it committed (issue
    /// 11, item 6: a lock state read before the prompts let 20 parked
    /// conversations count 19 failures and the 20th still pass).
    ///
    /// Every caller that checks a user's factors goes through here: PAM
    /// `authenticate`, `chauthtok` and `iamctl change-password`.
    pub fn settle_attempt(
        &self,
        user: &str,
        rule: &LockoutRule,
        now: DateTime<Utc>,
        check: impl FnOnce(&Ledger<'_>) -> Result<AttemptResult>,
    ) -> Result<Settled> {
        let at = now.timestamp();
        self.store.write(|c| {
            let before = lock_state(&failures_in(c, user)?, rule, at);
            if before.locked {
                return Ok(Settled::Locked(before));
            }
            match check(self)? {
                AttemptResult::Pass { reset } => {
                    if reset {
                        reset_failures_in(c, user)?;
                    }
                    Ok(Settled::Passed)
                }
                AttemptResult::Fail { count: false } => Ok(Settled::Failed {
                    counted: false,
                    state: before,
                }),
                AttemptResult::Fail { count: true } => Ok(Settled::Failed {
                    counted: true,
                    state: insert_failure(c, user, rule, at)?,
                }),
            }
        })
    }

    /// Takes back one failure of `user` recorded at `now`: a guess counted
    /// before it was checked ([`crate::factors::check_current_password`]) that
    /// proved right.
    pub fn forgive_failure(&self, user: &str, now: DateTime<Utc>) -> Result<()> {
        let at = now.timestamp();
        self.store.write(|c| {
            let n = c.execute(
                &format!(
                    "DELETE FROM login_failures WHERE {row} = (SELECT {row} FROM login_failures
                       WHERE user_name = ?1 AND at = ?2 ORDER BY {row} DESC LIMIT 1)",
                    row = c.dialect().row_id()
                ),
                params![user, at],
            )?;
            if n > 0 {
                let user = user.to_owned();
                queue_in(c, &Outgoing::FailureForgiven { user, at })?;
            }
            Ok(())
        })
    }

    /// Records a failure for `user` (known or not) without a lock check and
    /// returns the resulting state. Old failures beyond the rule's window
    /// are pruned.
    pub fn record_failure(
        &self,
        user: &str,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> Result<LockState> {
        self.store
            .write(|c| insert_failure(c, user, rule, now.timestamp()))
    }

    /// The lockout state of `user` now, without recording anything.
    pub fn lock_state(
        &self,
        user: &str,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> Result<LockState> {
        self.store
            .read(|c| Ok(lock_state(&failures_in(c, user)?, rule, now.timestamp())))
    }

    /// Forgets all failures (`iamctl unlock-user`, or a successful login).
    pub fn reset_failures(&self, user: &str) -> Result<()> {
        self.store.write(|c| reset_failures_in(c, user))
    }

    // ---- authentication records ----------------------------------------

    /// Writes (inserts or replaces, by id) the record of one authentication
    /// attempt, and purges records older than [`AUTH_RECORD_TTL`] (or stamped
    /// further in the future: a clock stepped back).
    pub fn put_auth_record(&self, rec: &AuthRecord) -> Result<()> {
        self.store.write(|c| {
            c.execute(
                "DELETE FROM auth_records WHERE at < ?1 OR at > ?2",
                params![rec.time - AUTH_RECORD_TTL, rec.time + AUTH_RECORD_TTL],
            )?;
            c.execute(
                "INSERT INTO auth_records
                   (id, user_name, service, rhost, tty, at, mfa_time, state, password)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name,
                   service = excluded.service, rhost = excluded.rhost, tty = excluded.tty,
                   at = excluded.at, mfa_time = excluded.mfa_time, state = excluded.state,
                   password = excluded.password",
                params![
                    rec.id,
                    rec.user,
                    rec.service,
                    rec.rhost,
                    rec.tty,
                    rec.time,
                    rec.mfa_time,
                    rec.state.as_str(),
                    i64::from(rec.password)
                ],
            )?;
            Ok(())
        })
    }

    /// The record with this id, whatever its state or age (inspection).
    pub fn get_auth_record(&self, id: &str) -> Result<Option<AuthRecord>> {
        self.store.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {AUTH_RECORD_COLUMNS} FROM auth_records WHERE id = ?1"),
                [id],
                auth_record_from_row,
            )
            .optional()?)
        })
    }

    /// PAM `acct_mgmt`: uses up the authenticated record `id` of this
    /// user, service and remote host written within [`AUTH_RECORD_TTL`]
    /// before `now` (state `authenticated` → `consumed`, in one statement:
    /// two callers cannot both use it). `None` if there is no such record.
    pub fn consume_auth_record(
        &self,
        id: &str,
        user: &str,
        service: &str,
        rhost: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthRecord>> {
        self.change_auth_record(
            "UPDATE auth_records SET state = 'consumed'",
            "state = 'authenticated'",
            [id, user, service, rhost],
            now,
        )
    }

    /// PAM `open_session`: removes the record `id` of this user, service and
    /// remote host (authenticated, or consumed by `acct_mgmt`) and returns
    /// it, if it was written within [`AUTH_RECORD_TTL`] before `now`.
    pub fn take_auth_record(
        &self,
        id: &str,
        user: &str,
        service: &str,
        rhost: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthRecord>> {
        self.change_auth_record(
            "DELETE FROM auth_records",
            "state IN ('authenticated', 'consumed')",
            [id, user, service, rhost],
            now,
        )
    }

    /// The one rule that binds an authentication record to its login: the
    /// random id, the same user, service and remote host, and written
    /// within [`AUTH_RECORD_TTL`] before `now`; `change` (an UPDATE or a
    /// DELETE) applies to it in one statement, if `state` holds.
    fn change_auth_record(
        &self,
        change: &str,
        state: &str,
        [id, user, service, rhost]: [&str; 4],
        now: DateTime<Utc>,
    ) -> Result<Option<AuthRecord>> {
        let now = now.timestamp();
        self.store.write(|c| {
            Ok(c.query_row(
                &format!(
                    "{change}
                     WHERE id = ?1 AND user_name = ?2 AND service = ?3 AND rhost = ?4
                       AND {state} AND at BETWEEN ?5 AND ?6
                     RETURNING {AUTH_RECORD_COLUMNS}"
                ),
                params![id, user, service, rhost, now - AUTH_RECORD_TTL, now],
                auth_record_from_row,
            )
            .optional()?)
        })
    }

    // ---- login sessions ------------------------------------------------

    /// PAM `open_session`: returns the new session's id.
    pub fn open_login_session(&self, s: &LoginSession) -> Result<i64> {
        self.store.write(|c| {
            Ok(c.query_row(
                "INSERT INTO login_sessions (user_name, service, rhost, tty, pid, started, mfa_time)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![s.user, s.service, s.rhost, s.tty, s.pid, s.started, s.mfa_time],
                |r| r.get(0),
            )?)
        })
    }

    /// PAM `close_session`: marks the session ended (once).
    pub fn close_login_session(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.store.write(|c| {
            change_one(
                c,
                "UPDATE login_sessions SET ended = ?1 WHERE id = ?2 AND ended IS NULL",
                params![now.timestamp(), id],
                || StoreError::no_such(EntityKind::LoginSession, id),
            )
        })
    }

    /// Closes the newest open session of `user` on `service`/`tty`, for a
    /// `close_session` that lost the id. Returns whether one was closed.
    pub fn close_login_session_for(
        &self,
        user: &str,
        service: &str,
        tty: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.store.write(|c| {
            let n = c.execute(
                "UPDATE login_sessions SET ended = ?1 WHERE id = (
                   SELECT id FROM login_sessions WHERE user_name = ?2 AND service = ?3 AND tty = ?4
                   AND ended IS NULL ORDER BY started DESC, id DESC LIMIT 1)",
                params![now.timestamp(), user, service, tty],
            )?;
            Ok(n == 1)
        })
    }

    /// Login sessions, newest first; of one user or all; open ones only or all.
    pub fn list_login_sessions(
        &self,
        user: Option<&str>,
        open_only: bool,
    ) -> Result<Vec<LoginSession>> {
        self.store.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, user_name, service, rhost, tty, pid, started, ended, mfa_time
                 FROM login_sessions WHERE (?1 IS NULL OR user_name = ?1) AND (?2 = 0 OR ended IS NULL)
                 ORDER BY started DESC, id DESC",
            )?;
            let rows = st.query_map(params![user, open_only], |r| {
                Ok(LoginSession {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    service: r.get(2)?,
                    rhost: r.get(3)?,
                    tty: r.get(4)?,
                    pid: r.get(5)?,
                    started: r.get(6)?,
                    ended: r.get(7)?,
                    mfa_time: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<crate::store::sql::SqlResult<Vec<_>>>()?)
        })
    }

    // ---- role sessions -------------------------------------------------

    /// Starts an elevation session record (status active), with a fresh
    /// random id.
    pub fn create_role_session(
        &self,
        user: &UserName,
        role: &RoleName,
        session_name: &RoleSessionName,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<RoleSession> {
        let id = format!("rs-{}", random_base32(16)?.to_ascii_lowercase());
        self.store.write(|c| {
            c.execute(
                "INSERT INTO role_sessions (id, user_name, role_name, session_name, started, expires, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active')",
                params![
                    id,
                    user.as_str(),
                    role.as_str(),
                    session_name.as_str(),
                    now.timestamp(),
                    expires.timestamp()
                ],
            )?;
            role_session_in(c, &id)
        })
    }

    /// Records the supervising process of a session (its pid and start
    /// time in clock ticks) and the uid the session runs as, in one write:
    /// from then on the session's processes are recognised as the role.
    pub fn set_role_session_supervisor(
        &self,
        id: &str,
        pid: u32,
        pid_start: u64,
        run_as_uid: u32,
    ) -> Result<()> {
        let pid_start = i64::try_from(pid_start)
            .map_err(|_| StoreError::Corrupt(format!("start time {pid_start}")))?;
        self.store.write(|c| {
            change_one(
                c,
                "UPDATE role_sessions SET pid = ?1, pid_start = ?2, run_as_uid = ?3 WHERE id = ?4",
                params![pid, pid_start, run_as_uid, id],
                || StoreError::no_such(EntityKind::RoleSession, id),
            )
        })
    }

    /// Ends an active session with `status` (ended, revoked, expired).
    /// Returns `false` if it was not active any more.
    pub fn end_role_session(
        &self,
        id: &str,
        status: RoleSessionStatus,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.store.write(|c| {
            role_session_in(c, id)?;
            let n = c.execute(
                "UPDATE role_sessions SET status = ?1, ended = ?2 WHERE id = ?3 AND status = 'active'",
                params![status.as_str(), now.timestamp(), id],
            )?;
            Ok(n == 1)
        })
    }

    pub fn get_role_session(&self, id: &str) -> Result<RoleSession> {
        self.store.read(|c| role_session_in(c, id))
    }

    /// Role sessions, newest first; of one user or all; active ones only or all.
    pub fn list_role_sessions(
        &self,
        user: Option<&UserName>,
        active_only: bool,
    ) -> Result<Vec<RoleSession>> {
        self.store.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ROLE_SESSION_COLUMNS} FROM role_sessions
                 WHERE (?1 IS NULL OR user_name = ?1) AND (?2 = 0 OR status = 'active')
                 ORDER BY started DESC, id"
            ))?;
            let rows = st.query_map(params![user.map(UserName::as_str), active_only], |r| {
                Ok(role_session_from_row(r))
            })?;
            rows.map(|r| r?).collect()
        })
    }

    /// Marks active sessions whose expiry has passed as expired; returns them.
    pub fn expire_role_sessions(&self, now: DateTime<Utc>) -> Result<Vec<RoleSession>> {
        let now = now.timestamp();
        self.store.write(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ROLE_SESSION_COLUMNS} FROM role_sessions WHERE status = 'active' AND expires <= ?1"
            ))?;
            let expired = st
                .query_map([now], |r| Ok(role_session_from_row(r)))?
                .map(|r| r?)
                .collect::<Result<Vec<_>>>()?;
            c.execute(
                "UPDATE role_sessions SET status = 'expired', ended = ?1 WHERE status = 'active' AND expires <= ?1",
                [now],
            )?;
            Ok(expired)
        })
    }
}

const AUTH_RECORD_COLUMNS: &str =
    "id, user_name, service, rhost, tty, at, mfa_time, state, password";

fn auth_record_from_row(r: &Row<'_>) -> crate::store::sql::SqlResult<AuthRecord> {
    let state = match r.get::<_, String>(7)?.as_str() {
        "pending" => AuthState::Pending,
        "authenticated" => AuthState::Authenticated,
        "consumed" => AuthState::Consumed,
        // The table's CHECK allows nothing else.
        _ => AuthState::Failed,
    };
    Ok(AuthRecord {
        id: r.get(0)?,
        user: r.get(1)?,
        service: r.get(2)?,
        rhost: r.get(3)?,
        tty: r.get(4)?,
        time: r.get(5)?,
        mfa_time: r.get(6)?,
        password: r.get::<_, i64>(8)? != 0,
        state,
    })
}

/// One failure of `user` at `now`, pruning what the rule no longer needs;
/// the state after it.
fn insert_failure(c: &Connection, user: &str, rule: &LockoutRule, now: i64) -> Result<LockState> {
    c.execute(
        "INSERT INTO login_failures (user_name, at) VALUES (?1, ?2)",
        params![user, now],
    )?;
    let counted = Outgoing::Failure {
        user: user.to_owned(),
        at: now,
    };
    queue_in(c, &counted)?;
    let keep_after = now - rule.fail_interval.max(0);
    c.execute(
        &format!(
            "DELETE FROM login_failures WHERE user_name = ?1 AND (at <= ?2 OR {row} NOT IN
               (SELECT {row} FROM login_failures WHERE user_name = ?1 ORDER BY at DESC LIMIT ?3))",
            row = c.dialect().row_id()
        ),
        params![user, keep_after, MAX_FAILURES_KEPT],
    )?;
    Ok(lock_state(&failures_in(c, user)?, rule, now))
}

/// Forgets the failures of `user`; queues that only when there were some
/// (a login that passes with none, the common case, queues nothing).
fn reset_failures_in(c: &Connection, user: &str) -> Result<()> {
    let n = c.execute("DELETE FROM login_failures WHERE user_name = ?1", [user])?;
    if n > 0 {
        let user = user.to_owned();
        queue_in(c, &Outgoing::FailuresReset { user })?;
    }
    Ok(())
}

fn failures_in(c: &Connection, user: &str) -> Result<Vec<i64>> {
    let mut st =
        c.prepare_cached("SELECT at FROM login_failures WHERE user_name = ?1 ORDER BY at")?;
    let rows = st.query_map([user], |r| r.get(0))?;
    Ok(rows.collect::<crate::store::sql::SqlResult<Vec<i64>>>()?)
}

const ROLE_SESSION_COLUMNS: &str = "id, user_name, role_name, session_name, started, expires, pid, status, ended, pid_start, run_as_uid";

fn role_session_in(c: &Connection, id: &str) -> Result<RoleSession> {
    c.query_row(
        &format!("SELECT {ROLE_SESSION_COLUMNS} FROM role_sessions WHERE id = ?1"),
        [id],
        |r| Ok(role_session_from_row(r)),
    )
    .optional()?
    .ok_or_else(|| StoreError::no_such(EntityKind::RoleSession, id))?
}

fn role_session_from_row(r: &Row<'_>) -> Result<RoleSession> {
    let status = match r.get::<_, String>(7)?.as_str() {
        "active" => RoleSessionStatus::Active,
        "ended" => RoleSessionStatus::Ended,
        "revoked" => RoleSessionStatus::Revoked,
        _ => RoleSessionStatus::Expired,
    };
    Ok(RoleSession {
        id: r.get(0)?,
        user: UserName::parse(&r.get::<_, String>(1)?).map_err(corrupt)?,
        role: RoleName::parse(&r.get::<_, String>(2)?).map_err(corrupt)?,
        session_name: RoleSessionName::parse(&r.get::<_, String>(3)?).map_err(corrupt)?,
        started: r.get(4)?,
        expires: r.get(5)?,
        pid: r.get(6)?,
        pid_start: r
            .get::<_, Option<i64>>(9)?
            .and_then(|t| u64::try_from(t).ok()),
        run_as_uid: r.get(10)?,
        status,
        ended: r.get(8)?,
    })
}
