//! TOTP steps accepted (per device serial), recovery codes used (per set)
//! and last-used times (per user unique id).

use super::{Ledger, Outgoing, outbox::queue_in};
use crate::store::sql::{OptionalExtension, params};
use crate::store::{Result, StoreError};
use chrono::{DateTime, Utc};

impl Ledger<'_> {
    /// The last TOTP step accepted for device `serial`; a step at or below
    /// it is refused.
    pub fn totp_step(&self, serial: &str) -> Result<Option<u64>> {
        self.store.read(|c| {
            c.query_row(
                "SELECT step FROM totp_steps WHERE serial = ?1",
                [serial],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|s| u64::try_from(s).map_err(|_| StoreError::Corrupt(format!("TOTP step {s}"))))
            .transpose()
        })
    }

    /// Accepts TOTP time step `step` for device `serial` if it is later
    /// than every step accepted before: a compare-and-set, so of two
    /// concurrent logins with one code exactly one wins, on any host
    /// sharing this store. `false` means replayed (or an older step). An
    /// accepted step is queued for the directory of record.
    pub fn accept_totp_step(&self, serial: &str, step: u64) -> Result<bool> {
        let value = i64::try_from(step)
            .map_err(|_| StoreError::InvalidInput(format!("TOTP step {step} out of range")))?;
        self.store.write(|c| {
            let n = c.execute(
                "INSERT INTO totp_steps (serial, step) VALUES (?1, ?2)
                 ON CONFLICT (serial) DO UPDATE SET step = excluded.step
                 WHERE totp_steps.step < excluded.step",
                params![serial, value],
            )?;
            if n == 1 {
                let serial = serial.to_owned();
                queue_in(c, &Outgoing::TotpStep { serial, step })?;
            }
            Ok(n == 1)
        })
    }

    /// Uses up code `code` of recovery code set `set_id`, if it is unused:
    /// an insert that only one of two concurrent logins wins, as
    /// [`Self::accept_totp_step`]. `false`: used before. A use is queued
    /// for the directory of record.
    pub fn use_recovery_code(&self, set_id: &str, code: u32, now: DateTime<Utc>) -> Result<bool> {
        let at = now.timestamp();
        self.store.write(|c| {
            let n = c.execute(
                "INSERT INTO recovery_codes_used (set_id, code, used_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (set_id, code) DO NOTHING",
                params![set_id, code, at],
            )?;
            if n == 1 {
                let set_id = set_id.to_owned();
                queue_in(c, &Outgoing::RecoveryCodeUsed { set_id, code, at })?;
            }
            Ok(n == 1)
        })
    }

    /// How many codes of set `set_id` are used.
    pub fn recovery_codes_used(&self, set_id: &str) -> Result<u32> {
        self.store.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM recovery_codes_used WHERE set_id = ?1",
                [set_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Records a successful password login of the user with unique id
    /// `unique_id` (`PasswordLastUsed`).
    pub fn record_password_used(&self, unique_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.store.write(|c| {
            c.execute(
                "INSERT INTO last_used (unique_id, password) VALUES (?1, ?2)
                 ON CONFLICT (unique_id) DO UPDATE SET password = excluded.password",
                params![unique_id, now.timestamp()],
            )?;
            Ok(())
        })
    }
}
