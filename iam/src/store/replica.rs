//! The directory as a fleet replicates it (docs/ARCHITECTURE.md,
//! "Replicas"): which tables a host's replica holds, the snapshot and the
//! change sets the directory of record hands out, and their application to
//! a host's store in one transaction each.
//!
//! Every change to a replicated table is recorded by a trigger in
//! `directory_changes` (migration 12) with the row's key, numbered in
//! commit order (the directory's writers take turns). A change set is the
//! current row, or its absence, of every key changed after a change
//! number: applying it to a replica at that number brings the replica to
//! the directory's state at the set's number, whatever happened between.

use super::sql::{Connection, Dialect, OptionalExtension, OwnedValue};
use super::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A replicated table: its key (the trigger's) and every column, in the
/// order the wire carries them. `replicated_tables_are_the_schema`
/// checks both against the schema, so a migration that adds a column or
/// a table fails there until it is listed here or in [`HOST_NEVER_HOLDS`].
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [&'static str],
}

/// What a host's replica holds: what login, elevation, publishing and the
/// host's own `iamctl` reads need. Parents before children.
pub const TABLES: &[Table] = &[
    Table {
        name: "linux_ids",
        key: &["id"],
        columns: &["id", "kind", "owner", "allocated_at"],
    },
    Table {
        name: "users",
        key: &["id"],
        columns: &[
            "id",
            "name",
            "path",
            "unique_id",
            "create_date",
            "status",
            "tags",
            "permissions_boundary",
            "uid",
        ],
    },
    Table {
        name: "login_profiles",
        key: &["user_id"],
        columns: &[
            "user_id",
            "password_hash",
            "password_reset_required",
            "create_date",
            "password_changed",
        ],
    },
    Table {
        name: "groups",
        key: &["id"],
        columns: &["id", "name", "path", "unique_id", "create_date", "gid"],
    },
    Table {
        name: "group_members",
        key: &["group_id", "user_id"],
        columns: &["group_id", "user_id"],
    },
    Table {
        name: "policies",
        key: &["id"],
        columns: &[
            "id",
            "name",
            "path",
            "unique_id",
            "description",
            "create_date",
            "update_date",
            "default_version",
            "next_version",
            "aws_managed",
        ],
    },
    Table {
        name: "policy_versions",
        key: &["policy_id", "version"],
        columns: &["policy_id", "version", "document", "create_date"],
    },
    Table {
        name: "inline_policies",
        key: &["entity_kind", "entity_id", "name"],
        columns: &["entity_kind", "entity_id", "name", "document"],
    },
    Table {
        name: "attachments",
        key: &["entity_kind", "entity_id", "policy_id"],
        columns: &["entity_kind", "entity_id", "policy_id"],
    },
    Table {
        name: "roles",
        key: &["id"],
        columns: &[
            "id",
            "name",
            "path",
            "unique_id",
            "create_date",
            "trust_policy",
            "description",
            "max_session_duration",
            "tags",
            "permissions_boundary",
        ],
    },
    Table {
        name: "mfa_devices",
        key: &["id"],
        columns: &[
            "id",
            "name",
            "path",
            "secret",
            "create_date",
            "user_id",
            "enable_date",
            "drift_steps",
        ],
    },
    Table {
        name: "password_policy",
        key: &["id"],
        columns: &["id", "document"],
    },
    Table {
        name: "ssh_public_keys",
        key: &["ssh_public_key_id"],
        columns: &[
            "ssh_public_key_id",
            "user_id",
            "body",
            "fingerprint",
            "status",
            "upload_date",
            "seq",
        ],
    },
    Table {
        name: "recovery_codes",
        key: &["user_id"],
        columns: &["user_id", "set_id", "hash_key", "hashes", "create_date"],
    },
    Table {
        name: "trust_bindings",
        key: &["role_id", "arn"],
        columns: &["role_id", "arn", "unique_id"],
    },
];

/// Tables a host's replica never receives, and why: the directory of
/// record's own (credentials, events, the password history that only a
/// password change there reads) and each host's ledger.
pub const HOST_NEVER_HOLDS: &[&str] = &[
    // The directory of record's: secrets no host needs, its event store.
    "meta",
    "password_history",
    "access_keys",
    "access_key_last_used",
    "sts_sessions",
    "events",
    "event_resources",
    "directory_changes",
    "fleet_totp_claims",
    "fleet_failures",
    "instance_profiles",
    "join_tokens",
    "host_credentials",
    // The ledger: each host's own login-time state.
    "login_failures",
    "auth_records",
    "login_sessions",
    "role_sessions",
    "totp_steps",
    "recovery_codes_used",
    "last_used",
    "outbox",
];

/// The rows of one table.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TableRows {
    pub table: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<OwnedValue>>,
}

/// Every replicated table at one change number.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Snapshot {
    #[serde(rename = "ChangeNumber")]
    pub change_no: i64,
    pub tables: Vec<TableRows>,
}

/// A key's row now, or `None`: deleted.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RowChange {
    pub table: String,
    pub key: Vec<OwnedValue>,
    pub row: Option<Vec<OwnedValue>>,
}

/// What changed after `since`, up to `change_no`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChangeSet {
    pub since: i64,
    #[serde(rename = "ChangeNumber")]
    pub change_no: i64,
    pub changes: Vec<RowChange>,
}

/// The answer to "what changed since N".
#[derive(Debug)]
pub enum Changes {
    /// Nothing after N yet.
    UpToDate,
    Set(ChangeSet),
    /// N is not a change this directory can continue from (older than
    /// what it keeps, newer than what it has: a restored backup), or so
    /// much changed that a snapshot is cheaper.
    SnapshotNeeded,
}

/// More changed keys than this in one set: a snapshot instead.
pub const MAX_CHANGED_ROWS: usize = 50_000;

/// Why a snapshot or change set cannot be applied here. The replica is left
/// as it was (each apply is one transaction).
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("the change set continues from change {since}, this replica is at {at:?}")]
    Gap { since: i64, at: Option<i64> },
    #[error(
        "the directory sends table {0}, which this host's pam_iam does not know: upgrade pam_iam here"
    )]
    UnknownTable(String),
    #[error(
        "table {table}: the directory sends columns {sent:?}, this host has {here:?}: upgrade pam_iam here or on the server"
    )]
    Columns {
        table: String,
        sent: Vec<String>,
        here: Vec<String>,
    },
    #[error("table {table}: a row or key of {got} values where {want} are expected")]
    Shape {
        table: String,
        got: usize,
        want: usize,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn table(name: &str) -> Result<&'static Table, ReplicaError> {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ReplicaError::UnknownTable(name.to_owned()))
}

fn select(t: &Table) -> String {
    format!("SELECT {} FROM {}", t.columns.join(", "), t.name)
}

fn key_condition(t: &Table, first_param: usize) -> String {
    t.key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ?{}", first_param + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn read_rows(
    c: &Connection,
    sql: &str,
    params: &[OwnedValue],
    width: usize,
) -> Result<Vec<Vec<OwnedValue>>, StoreError> {
    let params: Vec<_> = params.iter().map(OwnedValue::as_value).collect();
    let mut rows = Vec::new();
    c.query_values(sql, &params, &mut |r| {
        let row = (0..width)
            .map(|i| r.get::<_, OwnedValue>(i))
            .collect::<Result<Vec<_>, _>>()?;
        rows.push(row);
        Ok(true)
    })?;
    Ok(rows)
}

fn last_change(c: &Connection) -> Result<i64, StoreError> {
    Ok(c.query_row(
        "SELECT COALESCE(MAX(change_no), 0) FROM directory_changes",
        (),
        |r| r.get(0),
    )?)
}

/// The replica's position is kept in `meta` (absent: not a replica).
const REPLICA_AT: &str = "replica_change_no";

impl Store {
    /// The directory's latest change number (0 before any change).
    pub fn directory_change_no(&self) -> Result<i64, StoreError> {
        self.read(last_change)
    }

    /// Every replicated table, read in one transaction with the change
    /// number it is at.
    pub fn directory_snapshot(&self) -> Result<Snapshot, StoreError> {
        self.read(|c| {
            let change_no = last_change(c)?;
            let tables = TABLES
                .iter()
                .map(|t| {
                    Ok(TableRows {
                        table: t.name.to_owned(),
                        columns: t.columns.iter().map(|s| (*s).to_owned()).collect(),
                        rows: read_rows(c, &select(t), &[], t.columns.len())?,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(Snapshot { change_no, tables })
        })
    }

    /// What changed after `since`: each changed key's current row, read in
    /// one transaction (so the set ends at a transaction's commit).
    pub fn directory_changes(&self, since: i64) -> Result<Changes, StoreError> {
        self.read(|c| {
            let at = last_change(c)?;
            if since == at {
                return Ok(Changes::UpToDate);
            }
            let first: Option<i64> = c
                .query_row("SELECT MIN(change_no) FROM directory_changes", (), |r| {
                    r.get(0)
                })
                .optional()?
                .flatten();
            // Keys older than the first kept change may be gone: only a
            // replica at or after the change before it can continue.
            if since > at || first.is_some_and(|f| since < f - 1) {
                return Ok(Changes::SnapshotNeeded);
            }
            let mut keys = BTreeSet::new();
            let mut stmt = c.prepare_cached(
                "SELECT tbl, row_key FROM directory_changes WHERE change_no > ?1 ORDER BY change_no",
            )?;
            for k in stmt.query_map([since], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })? {
                keys.insert(k?);
                if keys.len() > MAX_CHANGED_ROWS {
                    return Ok(Changes::SnapshotNeeded);
                }
            }
            let mut changes = Vec::with_capacity(keys.len());
            for (name, key) in keys {
                let t = table(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let key: Vec<OwnedValue> = serde_json::from_str(&key).map_err(|e| {
                    StoreError::Corrupt(format!("directory_changes: the key {key}: {e}"))
                })?;
                let sql = format!("{} WHERE {}", select(t), key_condition(t, 1));
                let row = read_rows(c, &sql, &key, t.columns.len())?.pop();
                changes.push(RowChange {
                    table: name,
                    key,
                    row,
                });
            }
            Ok(Changes::Set(ChangeSet {
                since,
                change_no: at,
                changes,
            }))
        })
    }

    /// The change number this replica is at; `None` for a store that is
    /// not a replica (a single host's own directory, or the server's).
    pub fn replica_change_no(&self) -> Result<Option<i64>, StoreError> {
        self.read(|c| {
            let at: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = ?1", [REPLICA_AT], |r| {
                    r.get(0)
                })
                .optional()?;
            at.map(|v| {
                v.parse::<i64>()
                    .map_err(|_| StoreError::Corrupt(format!("meta {REPLICA_AT}: {v}")))
            })
            .transpose()
        })
    }

    /// Makes this store's directory tables the snapshot's, in one
    /// transaction, and marks the store a replica at its change number.
    pub fn apply_snapshot(&self, snapshot: &Snapshot) -> Result<(), ReplicaError> {
        let mut rows = Vec::new();
        for sent in &snapshot.tables {
            let t = table(&sent.table)?;
            check_columns(t, &sent.columns)?;
            for row in &sent.rows {
                rows.push((t, checked(t, t.columns.len(), row)?));
            }
        }
        self.replica_write(|c| {
            for t in TABLES {
                c.execute(&format!("DELETE FROM {}", t.name), ())?;
            }
            for (t, row) in &rows {
                insert(c, t, row)?;
            }
            set_position(c, snapshot.change_no)
        })
    }

    /// Applies a change set continuing from this replica's change number,
    /// in one transaction.
    pub fn apply_changes(&self, set: &ChangeSet) -> Result<(), ReplicaError> {
        let at = self.replica_change_no()?;
        if at != Some(set.since) {
            return Err(ReplicaError::Gap {
                since: set.since,
                at,
            });
        }
        let mut keys = Vec::new();
        let mut rows = Vec::new();
        for change in &set.changes {
            let t = table(&change.table)?;
            keys.push((t, checked(t, t.key.len(), &change.key)?));
            if let Some(row) = &change.row {
                rows.push((t, checked(t, t.columns.len(), row)?));
            }
        }
        self.replica_write(|c| {
            // Every changed key goes first, then the rows that exist now:
            // the set's end state is consistent, its order need not be (a
            // rename swap, a re-created key).
            for (t, key) in &keys {
                let key: Vec<_> = key.iter().map(OwnedValue::as_value).collect();
                c.execute_values(
                    &format!("DELETE FROM {} WHERE {}", t.name, key_condition(t, 1)),
                    &key,
                )?;
            }
            for (t, row) in &rows {
                insert(c, t, row)?;
            }
            set_position(c, set.change_no)
        })
    }

    /// A write of replicated rows. Foreign keys are off for it: the
    /// directory of record checked them, and a cascade here (deleting a
    /// policy row to write its new state would delete its versions) would
    /// destroy rows the set does not carry. SQLite only: a replica is a
    /// host's file.
    fn replica_write(
        &self,
        f: impl FnOnce(&Connection) -> Result<(), StoreError>,
    ) -> Result<(), ReplicaError> {
        if self.conn.dialect() != Dialect::Sqlite || self.depth.get() > 0 {
            return Err(StoreError::InvalidInput(
                "a replica is a host's SQLite store, written outside any other transaction"
                    .to_owned(),
            )
            .into());
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys = OFF")
            .map_err(StoreError::from)?;
        let written = self.write(|c| {
            f(c)?;
            // The triggers recorded the apply itself; a replica hands out
            // no changes of its own.
            c.execute("DELETE FROM directory_changes", ())?;
            Ok(())
        });
        let restored = self.conn.execute_batch("PRAGMA foreign_keys = ON");
        written?;
        restored.map_err(StoreError::from)?;
        Ok(())
    }
}

/// `values`, if there are `want` of them.
fn checked<'a>(
    t: &Table,
    want: usize,
    values: &'a [OwnedValue],
) -> Result<&'a [OwnedValue], ReplicaError> {
    if values.len() != want {
        return Err(ReplicaError::Shape {
            table: t.name.to_owned(),
            got: values.len(),
            want,
        });
    }
    Ok(values)
}

fn check_columns(t: &Table, sent: &[String]) -> Result<(), ReplicaError> {
    if sent
        .iter()
        .map(String::as_str)
        .ne(t.columns.iter().copied())
    {
        return Err(ReplicaError::Columns {
            table: t.name.to_owned(),
            sent: sent.to_vec(),
            here: t.columns.iter().map(|s| (*s).to_owned()).collect(),
        });
    }
    Ok(())
}

fn insert(c: &Connection, t: &Table, row: &[OwnedValue]) -> Result<(), StoreError> {
    let params: Vec<String> = (1..=row.len()).map(|i| format!("?{i}")).collect();
    let values: Vec<_> = row.iter().map(OwnedValue::as_value).collect();
    c.execute_values(
        &format!(
            "INSERT INTO {} ({}) VALUES ({})",
            t.name,
            t.columns.join(", "),
            params.join(", ")
        ),
        &values,
    )?;
    Ok(())
}

fn set_position(c: &Connection, change_no: i64) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [REPLICA_AT, change_no.to_string().as_str()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::names::{GroupName, IamPath, PolicyName};
    use crate::store::Entity;
    use crate::store::test_support::{at, store_with, user};

    fn rows_of(s: &Store) -> Vec<(String, Vec<Vec<OwnedValue>>)> {
        let mut all = s.directory_snapshot().unwrap().tables;
        for t in &mut all {
            t.rows.sort_by_key(|r| format!("{r:?}"));
        }
        all.into_iter().map(|t| (t.table, t.rows)).collect()
    }

    fn names(s: &Store, sql: &str) -> BTreeSet<String> {
        s.read(|c| {
            let mut stmt = c.prepare_cached(sql)?;
            let v = stmt
                .query_map((), |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
        .unwrap()
    }

    #[test]
    fn replicated_tables_are_the_schema() {
        let (_d, s) = store_with(&[]);
        let tables = names(
            &s,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        );
        let listed: BTreeSet<String> = TABLES
            .iter()
            .map(|t| t.name)
            .chain(HOST_NEVER_HOLDS.iter().copied())
            .map(str::to_owned)
            .collect();
        assert_eq!(
            tables, listed,
            "a table is neither replicated nor kept off hosts"
        );
        for t in TABLES {
            let columns = names(
                &s,
                &format!("SELECT name FROM pragma_table_info('{}')", t.name),
            );
            let here: BTreeSet<String> = t.columns.iter().map(|c| (*c).to_owned()).collect();
            assert_eq!(columns, here, "columns of {}", t.name);
            let triggers = names(
                &s,
                &format!(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{}'",
                    t.name
                ),
            );
            assert_eq!(triggers.len(), 3, "insert, update and delete of {}", t.name);
        }
    }

    #[test]
    fn a_replica_follows_snapshot_then_changes_to_the_same_rows() {
        let (_a, source) = store_with(&["alice", "bob"]);
        let g = GroupName::parse("ops").unwrap();
        source.create_group(&g, &IamPath::root(), at(1)).unwrap();
        source.add_user_to_group(&user("alice"), &g).unwrap();
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;
        let p = source
            .create_policy(
                &PolicyName::parse("login").unwrap(),
                &IamPath::root(),
                None,
                doc,
                at(2),
            )
            .unwrap();
        source
            .attach_policy(&Entity::Group(g.clone()), &p.arn)
            .unwrap();

        let (_b, replica) = store_with(&[]);
        assert_eq!(replica.replica_change_no().unwrap(), None);
        replica
            .apply_snapshot(&source.directory_snapshot().unwrap())
            .unwrap();
        let at_snapshot = source.directory_change_no().unwrap();
        assert!(at_snapshot > 0);
        assert_eq!(replica.replica_change_no().unwrap(), Some(at_snapshot));
        assert_eq!(rows_of(&replica), rows_of(&source));
        assert!(matches!(
            source.directory_changes(at_snapshot).unwrap(),
            Changes::UpToDate
        ));

        // Changes of every kind: a new version (policy row updated, a
        // version inserted), a rename, a removal and a deletion.
        source
            .create_policy_version(&p.arn, doc, true, at(3))
            .unwrap();
        source
            .update_user(&user("bob"), Some(&user("robert")), None)
            .unwrap();
        source.remove_user_from_group(&user("alice"), &g).unwrap();
        source
            .detach_policy(&Entity::Group(g.clone()), &p.arn)
            .unwrap();
        source.delete_group(&g).unwrap();
        source
            .create_user(&crate::store::NewUser::new(user("carol")), at(4))
            .unwrap();
        let Changes::Set(set) = source.directory_changes(at_snapshot).unwrap() else {
            panic!("expected a change set");
        };
        assert_eq!(set.since, at_snapshot);
        // A set travels as JSON.
        let set: ChangeSet = serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        replica.apply_changes(&set).unwrap();
        assert_eq!(rows_of(&replica), rows_of(&source));
        assert_eq!(replica.replica_change_no().unwrap(), Some(set.change_no));
        // The replica's own triggers leave nothing to hand on.
        assert_eq!(replica.directory_change_no().unwrap(), 0);
        // The replica's foreign keys are on again, and hold.
        assert!(names(&replica, "SELECT \"table\" FROM pragma_foreign_key_check").is_empty());

        // The same set again is a gap: nothing changes.
        let before = rows_of(&replica);
        assert!(matches!(
            replica.apply_changes(&set),
            Err(ReplicaError::Gap { .. })
        ));
        assert_eq!(rows_of(&replica), before);
    }

    #[test]
    fn a_change_number_the_directory_cannot_continue_from_asks_for_a_snapshot() {
        let (_a, source) = store_with(&["alice"]);
        let at = source.directory_change_no().unwrap();
        assert!(matches!(
            source.directory_changes(at + 1).unwrap(),
            Changes::SnapshotNeeded
        ));
    }

    #[test]
    fn a_set_from_a_newer_schema_is_refused_whole() {
        let (_a, source) = store_with(&["alice"]);
        let (_b, replica) = store_with(&[]);
        let mut snapshot = source.directory_snapshot().unwrap();
        snapshot.tables[1].columns.push("shoe_size".to_owned());
        assert!(matches!(
            replica.apply_snapshot(&snapshot),
            Err(ReplicaError::Columns { .. })
        ));
        snapshot.tables[1].columns.pop();
        snapshot.tables[1].table = "shoes".to_owned();
        assert!(matches!(
            replica.apply_snapshot(&snapshot),
            Err(ReplicaError::UnknownTable(_))
        ));
        assert_eq!(replica.replica_change_no().unwrap(), None);
    }
}
