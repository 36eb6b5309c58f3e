//! The audit outbox: an event is queued in the transaction of the change it
//! records, so no change commits without its event; it is delivered to the
//! audit log after the commit (at least once: a process killed between
//! delivering and deleting delivers it again, with the same `eventID`).

use super::{Result, Store};
use rusqlite::params;

/// An event waiting to be delivered: its row id and JSON line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub id: i64,
    pub line: String,
    pub denial: bool,
}

impl Store {
    /// Queues an event line; joins the enclosing write transaction.
    pub fn queue_audit(&self, line: &str, denial: bool) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO audit_outbox (line, denial) VALUES (?1, ?2)",
                params![line, denial],
            )?;
            Ok(())
        })
    }

    /// Events not yet delivered, oldest first.
    pub fn queued_audit(&self) -> Result<Vec<QueuedEvent>> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT id, line, denial FROM audit_outbox ORDER BY id")?;
            let rows = st.query_map([], |r| {
                Ok(QueuedEvent {
                    id: r.get(0)?,
                    line: r.get(1)?,
                    denial: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Forgets a delivered event.
    pub fn delete_queued_audit(&self, id: i64) -> Result<()> {
        self.write(|c| {
            c.execute("DELETE FROM audit_outbox WHERE id = ?1", [id])?;
            Ok(())
        })
    }
}
