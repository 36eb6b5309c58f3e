//! The ledger's one outbox. An entry is queued in the transaction of the
//! change it records, so no change commits without it, and handed on after
//! the commit:
//!
//! - audit events go to the audit log (at least once: a process killed
//!   between delivering and deleting delivers it again, with the same
//!   `eventID`);
//! - what a directory of record must learn ([`Outgoing`]) goes to it by
//!   [`drain`]. On a single host the local directory is the directory of
//!   record: a password change is applied to it, the other kinds are only
//!   acknowledged (the local ledger already holds them).

use super::Ledger;
use crate::names::UserName;
use crate::store::sql::{Connection, OptionalExtension, params};
use crate::store::{Result, Store, StoreError};
use serde::{Deserialize, Serialize};

/// An audit event waiting to be delivered: its row id and JSON line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub id: i64,
    pub line: String,
    pub denial: bool,
}

/// A ledger write that a directory of record must learn later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outgoing {
    /// A user set a new password (PAM `chauthtok`). `user` is the unique
    /// id (`AIDA…`): a user re-created under the name is someone else.
    Password {
        user: String,
        hash: String,
        reset_required: bool,
        keep_history: u32,
        at: i64,
    },
    /// A TOTP step of the device `serial` was used up.
    TotpStep { serial: String, step: u64 },
    /// Code `code` of recovery code set `set_id` was used up at `at`.
    RecoveryCodeUsed { set_id: String, code: u32, at: i64 },
    /// A failure of `user` (as named at login) counted at `at`.
    Failure { user: String, at: i64 },
    /// A failure of `user` at `at` taken back (a right current password).
    FailureForgiven { user: String, at: i64 },
    /// The failures of `user` forgotten (a login passed, or `unlock-user`).
    FailuresReset { user: String },
}

impl Outgoing {
    fn kind(&self) -> &'static str {
        match self {
            Self::Password { .. } => "password",
            Self::TotpStep { .. } => "totp_step",
            Self::RecoveryCodeUsed { .. } => "recovery_code",
            Self::Failure { .. } | Self::FailureForgiven { .. } | Self::FailuresReset { .. } => {
                "failures"
            }
        }
    }
}

/// Queues `entry` on `c` (inside the caller's write transaction).
pub(super) fn queue_in(c: &Connection, entry: &Outgoing) -> Result<()> {
    let body = serde_json::to_string(entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    c.execute(
        "INSERT INTO outbox (kind, body) VALUES (?1, ?2)",
        params![entry.kind(), body],
    )?;
    Ok(())
}

impl Ledger<'_> {
    /// Queues an audit event line; joins the enclosing write transaction.
    pub fn queue_audit(&self, line: &str, denial: bool) -> Result<()> {
        self.store.write(|c| {
            c.execute(
                "INSERT INTO outbox (kind, body, denial) VALUES ('audit', ?1, ?2)",
                params![line, denial],
            )?;
            Ok(())
        })
    }

    /// Audit events not yet delivered, oldest first.
    pub fn queued_audit(&self) -> Result<Vec<QueuedEvent>> {
        self.store.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, body, denial FROM outbox WHERE kind = 'audit' ORDER BY id",
            )?;
            let rows = st.query_map((), |r| {
                Ok(QueuedEvent {
                    id: r.get(0)?,
                    line: r.get(1)?,
                    denial: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<crate::store::sql::SqlResult<Vec<_>>>()?)
        })
    }

    /// Forgets a delivered audit event.
    pub fn delete_queued_audit(&self, id: i64) -> Result<()> {
        self.store.write(|c| {
            c.execute("DELETE FROM outbox WHERE id = ?1 AND kind = 'audit'", [id])?;
            Ok(())
        })
    }

    /// Queues a change for the directory of record; joins the enclosing
    /// write transaction (the ledger write it records).
    pub fn queue(&self, entry: &Outgoing) -> Result<()> {
        self.store.write(|c| queue_in(c, entry))
    }

    /// Directory-bound entries not yet drained, oldest first.
    pub fn outgoing(&self) -> Result<Vec<(i64, Outgoing)>> {
        self.store.read(outgoing_in)
    }
}

fn outgoing_in(c: &Connection) -> Result<Vec<(i64, Outgoing)>> {
    let mut st =
        c.prepare_cached("SELECT id, body FROM outbox WHERE kind != 'audit' ORDER BY id")?;
    let rows = st.query_map((), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, body) = row?;
        let entry = serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("outbox entry {id}: {e}")))?;
        out.push((id, entry));
    }
    Ok(out)
}

/// Hands every directory-bound entry to the local directory, the directory
/// of record on a single host, in one transaction: a password change is
/// applied with [`Store::set_password`] (the function `iamctl`'s admin path
/// uses), the other kinds are acknowledged. Every entry is removed, so
/// nothing accumulates. A change for a user deleted since is dropped.
/// Returns how many entries were drained. The fleet replaces this target
/// with the directory server.
pub fn drain(store: &Store) -> Result<usize> {
    let pending: bool = store.read(|c| {
        Ok(c.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE kind != 'audit')",
            (),
            |r| r.get(0),
        )?)
    })?;
    if !pending {
        return Ok(0);
    }
    store.atomically(|store| {
        let entries = store.read(outgoing_in)?;
        for (id, entry) in &entries {
            if let Outgoing::Password {
                user,
                hash,
                reset_required,
                keep_history,
                at,
            } = entry
            {
                let at = chrono::DateTime::from_timestamp(*at, 0)
                    .ok_or_else(|| StoreError::Corrupt(format!("outbox entry {id}: time {at}")))?;
                if let Some(name) = user_by_unique_id(store, user)? {
                    match store.set_password(&name, hash, *reset_required, *keep_history, at) {
                        // Its login profile was deleted meanwhile.
                        Ok(()) | Err(StoreError::NoSuchEntity { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            store.write(|c| {
                c.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
                Ok(())
            })?;
        }
        Ok(entries.len())
    })
}

fn user_by_unique_id(store: &Store, unique_id: &str) -> Result<Option<UserName>> {
    store.read(|c| {
        c.query_row(
            "SELECT name FROM users WHERE unique_id = ?1",
            [unique_id],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .map(|n| UserName::parse(&n).map_err(crate::store::corrupt))
        .transpose()
    })
}
