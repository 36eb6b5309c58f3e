//! The fleet's ledger at the directory of record (docs/ARCHITECTURE.md,
//! "Replicas"): the TOTP steps hosts claimed and the login failures they
//! counted, so that a code works once and a lockout holds across the fleet.
//! Hosts report through their agents; iam-server alone writes these tables.

use super::sql::{OptionalExtension, params};
use super::{Result, Store};
use chrono::{DateTime, Utc};

/// How long a claimed step is kept: far longer than any code is valid.
const CLAIMS_KEPT_SECS: i64 = 24 * 3600;

impl Store {
    /// A host claims TOTP step `step` of device `serial` before accepting a
    /// code: granted only if no step at or after it was claimed before, by
    /// any host. One statement (a compare-and-set under the write lock).
    pub fn claim_fleet_step(
        &self,
        serial: &str,
        step: i64,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(|c| {
            let n = c.execute(
                "INSERT INTO fleet_totp_claims (serial, step, host, claimed_at)
                 SELECT ?1, ?2, ?3, ?4
                 WHERE NOT EXISTS (
                     SELECT 1 FROM fleet_totp_claims WHERE serial = ?1 AND step >= ?2)
                 ON CONFLICT DO NOTHING",
                params![serial, step, host, now.timestamp()],
            )?;
            Ok(n == 1)
        })
    }

    /// A host reports a step it accepted (its claim could not reach this
    /// directory in time, or is reported again). `Some(other)`: `other`
    /// host claimed the same step first, so one code let two logins in
    /// (a replay). Claims older than a day are forgotten here.
    pub fn report_fleet_step(
        &self,
        serial: &str,
        step: i64,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        self.write(|c| {
            c.execute(
                "DELETE FROM fleet_totp_claims WHERE claimed_at < ?1",
                [now.timestamp() - CLAIMS_KEPT_SECS],
            )?;
            let n = c.execute(
                "INSERT INTO fleet_totp_claims (serial, step, host, claimed_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![serial, step, host, now.timestamp()],
            )?;
            if n == 1 {
                return Ok(None);
            }
            let first: Option<String> = c
                .query_row(
                    "SELECT host FROM fleet_totp_claims WHERE serial = ?1 AND step = ?2",
                    params![serial, step],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(first.filter(|h| h != host))
        })
    }

    /// A failed login of `user` (as named at the login) on `host`.
    pub fn record_fleet_failure(&self, user: &str, host: &str, at: i64) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO fleet_failures (user_name, host, at) VALUES (?1, ?2, ?3)",
                params![user, host, at],
            )?;
            Ok(())
        })
    }

    /// A failure taken back on `host` (a right current password).
    pub fn forgive_fleet_failure(&self, user: &str, host: &str, at: i64) -> Result<()> {
        self.write(|c| {
            c.execute(
                &format!(
                    "DELETE FROM fleet_failures WHERE {} IN (SELECT {} FROM fleet_failures
                     WHERE user_name = ?1 AND host = ?2 AND at = ?3 LIMIT 1)",
                    c.dialect().row_id(),
                    c.dialect().row_id()
                ),
                params![user, host, at],
            )?;
            Ok(())
        })
    }

    /// Every failure of `user`, on every host, forgotten (a login passed,
    /// or an administrator unlocked the user).
    pub fn reset_fleet_failures(&self, user: &str) -> Result<()> {
        self.write(|c| {
            c.execute("DELETE FROM fleet_failures WHERE user_name = ?1", [user])?;
            Ok(())
        })
    }

    /// The failures of `user` since `since` (unix seconds), on every host,
    /// and the latest one's time.
    pub fn fleet_failures_since(&self, user: &str, since: i64) -> Result<(u32, Option<i64>)> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*), MAX(at) FROM fleet_failures WHERE user_name = ?1 AND at >= ?2",
                params![user, since],
                |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Option<i64>>(1)?)),
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::store::test_support::{at, store_with};

    #[test]
    fn a_step_is_granted_to_one_host_and_never_after_a_later_one() {
        let (_d, s) = store_with(&[]);
        let serial = "arn:aws:iam::123456789012:mfa/alice";
        assert!(s.claim_fleet_step(serial, 100, "web-1", at(0)).unwrap());
        assert!(!s.claim_fleet_step(serial, 100, "web-2", at(0)).unwrap());
        assert!(!s.claim_fleet_step(serial, 99, "web-2", at(0)).unwrap());
        assert!(s.claim_fleet_step(serial, 101, "web-2", at(30)).unwrap());
    }

    #[test]
    fn a_step_reported_by_a_second_host_is_a_replay_and_by_the_same_one_is_not() {
        let (_d, s) = store_with(&[]);
        let serial = "arn:aws:iam::123456789012:mfa/alice";
        assert_eq!(
            s.report_fleet_step(serial, 7, "web-1", at(0)).unwrap(),
            None
        );
        assert_eq!(
            s.report_fleet_step(serial, 7, "web-1", at(1)).unwrap(),
            None
        );
        assert_eq!(
            s.report_fleet_step(serial, 7, "web-2", at(2)).unwrap(),
            Some("web-1".to_owned())
        );
    }

    #[test]
    fn failures_count_across_hosts_until_reset() {
        let (_d, s) = store_with(&[]);
        for (i, host) in ["a", "b", "c", "a", "b"].iter().enumerate() {
            s.record_fleet_failure("Alice", host, 10 + i as i64)
                .unwrap();
        }
        assert_eq!(s.fleet_failures_since("alice", 0).unwrap(), (5, Some(14)));
        assert_eq!(s.fleet_failures_since("alice", 13).unwrap().0, 2);
        s.forgive_fleet_failure("alice", "b", 14).unwrap();
        assert_eq!(s.fleet_failures_since("alice", 0).unwrap().0, 4);
        s.reset_fleet_failures("ALICE").unwrap();
        assert_eq!(s.fleet_failures_since("alice", 0).unwrap(), (0, None));
    }
}
