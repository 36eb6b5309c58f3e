//! The embedded store: one SQLite file (WAL, `synchronous=FULL`) holding
//! the directory's tables (written here, by the administrator's verbs) and
//! the ledger's (written through [`crate::ledger::Ledger`]); see
//! docs/ARCHITECTURE.md.
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction, so concurrent
//! `iamctl` and PAM processes serialize on SQLite's write lock (waiting up to
//! the busy timeout) instead of losing updates, and a `kill -9` at any point
//! leaves either the whole change or none of it. Several writes can be
//! grouped with [`Store::atomically`]. The store keeps PHC password hashes
//! and TOTP seeds; it never hashes or verifies anything itself.

mod bindings;
mod credentials;
mod error;
mod events;
mod export;
mod fleet;
mod groups;
mod hosts;
mod instance_profiles;
mod mfa;
mod model;
mod policies;
pub mod replica;
mod roles;
mod schema;
mod schema_pg;
pub mod sql;
mod ssh_keys;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
mod users;

pub use bindings::{SavedTrust, TrustBinding};
pub use credentials::{ACCESS_KEY_USE_INTERVAL, STS_SESSION_PURGE_GRACE};
pub use error::{EntityKind, StoreError};
pub use events::{EventCursor, EventFilter, EventQuery, EventResource, StoredEvent};
pub use hosts::JOIN_TOKEN_MAX_LIFETIME;
pub use instance_profiles::MAX_ROLES_PER_INSTANCE_PROFILE;
pub use model::*;
pub(crate) use users::corrupt;

use crate::local_accounts::LocalAccounts;
use crate::names::AccountId;
use crate::policy::{Policy, PolicyKind};
use crate::trust::{self, Contents, TrustError};
use rusqlite::OpenFlags;
use rusqlite::config::DbConfig;
use sql::{Begin, Connection, Dialect, OptionalExtension};
use std::cell::Cell;
use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The schema version a store has once every migration is applied.
pub const SCHEMA_VERSION: u32 = schema::MIGRATIONS.len() as u32;

// One PostgreSQL migration per SQLite one: a version means the same schema.
const _: () = assert!(schema::MIGRATIONS.len() == schema_pg::MIGRATIONS.len());

/// The migrations of a dialect, in order.
pub fn migrations(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Sqlite => schema::MIGRATIONS,
        Dialect::Postgres => schema_pg::MIGRATIONS,
    }
}

/// How long a writer waits for another process's transaction before
/// failing. Bounded, so PAM never hangs inside sshd.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// When the current wait for the write lock began (per thread: a
    /// connection is never shared between threads).
    static WAIT_STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// SQLite's busy handler: wait up to [`BUSY_TIMEOUT`] for another
/// process's write lock, polling every few milliseconds. SQLite's own
/// handler (`busy_timeout`) backs off to 100 ms sleeps, so under load (50
/// parallel logins on 2 cores) a process that has waited long kept missing
/// the short gaps between other writers' transactions, lost to newcomers
/// and ran into the timeout: a right password refused with
/// PAM_AUTHINFO_UNAVAIL (tests/faults.rs, `parallel_authentications_*`).
fn wait_for_lock(attempt: i32) -> bool {
    let now = Instant::now();
    let started = WAIT_STARTED.with(|w| {
        if attempt == 0 || w.get().is_none() {
            w.set(Some(now));
        }
        w.get().unwrap_or(now)
    });
    if now.duration_since(started) >= BUSY_TIMEOUT {
        return false;
    }
    // 1–10 ms, jittered so waiters do not poll in lockstep.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = u64::from(nanos ^ std::process::id()) % 3;
    let backoff = u64::try_from(attempt.clamp(0, 7)).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1 + backoff + jitter));
    true
}

/// What closing a SQLite store does with its write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnClose {
    /// SQLite's default: the last connection to close checkpoints the WAL
    /// into the database and deletes the WAL and its index.
    Checkpoint,
    /// Both stay for the next connection ([`Store::open_for_login`]).
    KeepWal,
}

/// An open store. One connection; not shared between threads.
pub struct Store {
    conn: Box<Connection>,
    path: PathBuf,
    account: AccountId,
    limits: Limits,
    /// The host's local accounts, which IAM names and ids must not shadow.
    local: LocalAccounts,
    /// Nesting depth of [`Store::write`]; >0 means a transaction is open.
    depth: Cell<u32>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens an existing store (applying pending migrations). Fails clearly
    /// if the file is missing, not a pam_iam store, corrupt or too new.
    /// Symlinks are not followed.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_inner(path, None, OnClose::Checkpoint)
    }

    /// [`Store::open`] for the login path ([`crate::ledger::HostStore`]):
    /// closing leaves the WAL and its index in place. A PAM call is one
    /// short process; when it was the store's only connection, SQLite's
    /// checkpoint on close deleted both files and the next login created
    /// them again (two inodes made and freed per login: 0.3–0.4 ms CPU, a
    /// sixth of what `acct_mgmt` adds to a process; bench/README.md). Committed
    /// writes are still checkpointed by the writer once the WAL holds 1,000
    /// pages (SQLite's `wal_autocheckpoint`), and by iamctl's close.
    pub(crate) fn open_for_login(path: &Path) -> Result<Self> {
        Self::open_inner(path, None, OnClose::KeepWal)
    }

    /// Creates a new store for `account`: parent directory 0700 if it has to
    /// be made, file 0600. Fails if the file already exists.
    pub fn create(path: &Path, account: &AccountId) -> Result<Self> {
        create_file(path)?;
        Self::open_inner(path, Some(account), OnClose::Checkpoint)
    }

    /// `iamctl init`: opens the store, creating it if missing; idempotent.
    /// Fails if an existing store belongs to another account.
    pub fn open_or_create(path: &Path, account: &AccountId) -> Result<Self> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Self::open_inner(path, Some(account), OnClose::Checkpoint),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path, account),
            Err(e) => Err(StoreError::Io {
                context: format!("cannot stat {}", path.display()),
                source: e,
            }),
        }
    }

    /// The account this store belongs to (fixed at creation).
    pub fn account_id(&self) -> &AccountId {
        &self.account
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Applies configured limits (`[accounts] uid_range`, role quota).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The host's local accounts (`/etc/passwd`, `/etc/group`): creating or
    /// renaming a user or group whose name collides with one of them is
    /// refused, and the Linux id allocator skips their ids. Until set, only
    /// [`crate::local_accounts::RESERVED_NAMES`] are refused. Host-side
    /// writers (`iamctl`) set it; see [`crate::local_accounts`].
    pub fn set_local_accounts(&mut self, local: LocalAccounts) {
        self.local = local;
    }

    pub fn local_accounts(&self) -> &LocalAccounts {
        &self.local
    }

    /// Refuses an IAM user or group name that shadows a local account.
    fn check_linux_name(&self, c: &Connection, kind: EntityKind, name: &str) -> Result<()> {
        let collision = |with| {
            Err(StoreError::NameCollision {
                kind,
                name: name.to_owned(),
                with,
            })
        };
        if let Some(with) = self.local.name_collision(name) {
            return collision(with);
        }
        // A user's private group and an IAM group share one namespace.
        let (other, sql) = match kind {
            EntityKind::User => ("group", "SELECT name FROM groups WHERE name = ?1"),
            _ => ("user", "SELECT name FROM users WHERE name = ?1"),
        };
        match c
            .query_row(sql, [name], |r| r.get::<_, String>(0))
            .optional()?
        {
            Some(n) if other == "group" => collision(crate::local_accounts::Collision::IamGroup(n)),
            Some(n) => collision(crate::local_accounts::Collision::IamUser(n)),
            None => Ok(()),
        }
    }

    /// The schema version (number of migrations applied).
    pub fn schema_version(&self) -> Result<u32> {
        read_schema_version(&*self.conn)
    }

    /// Opens a store on a database server's connection (iam-server's
    /// PostgreSQL), applying pending migrations; for a new database, records
    /// `create_for` as its account. `label` names it in errors. Run once at
    /// start; each call then uses [`Store::with_backend`].
    pub fn open_backend(
        conn: Box<Connection>,
        label: &Path,
        create_for: Option<&AccountId>,
    ) -> Result<Self> {
        let store = Self::with_backend(conn, label, AccountId::parse("000000000000")?);
        if store.conn.dialect() == Dialect::Postgres {
            // Outside the migration's transaction: it locks this table
            // first, so that its snapshot is taken after the lock.
            store.conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS pam_iam_schema (version BIGINT NOT NULL)",
            )?;
        }
        let account = store.migrate(create_for)?;
        if let Some(want) = create_for {
            if *want != account {
                return Err(StoreError::Unavailable {
                    path: label.to_owned(),
                    reason: format!("belongs to account {account}, not {want}"),
                });
            }
        }
        Ok(Self { account, ..store })
    }

    /// A store on a connection whose schema [`Store::open_backend`] has
    /// brought up to date, for `account`: no statement runs here.
    pub fn with_backend(conn: Box<Connection>, label: &Path, account: AccountId) -> Self {
        Self {
            conn,
            path: label.to_owned(),
            account,
            limits: Limits::default(),
            local: LocalAccounts::default(),
            depth: Cell::new(0),
        }
    }

    /// Runs `f` as one transaction: all of its writes commit together or
    /// not at all. Nested store calls join it (as savepoints).
    pub fn atomically<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        self.write(|_| f(self))
    }

    /// Runs `f` on one consistent read snapshot (no write lock taken). For
    /// reads only: a write inside would need the lock it did not take.
    pub fn snapshot<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        self.read(|_| f(self))
    }

    fn open_inner(path: &Path, create_for: Option<&AccountId>, on_close: OnClose) -> Result<Self> {
        let store = Self::with_backend(
            Box::new(sql::Sqlite::new(connect(path, on_close)?)),
            path,
            AccountId::parse("000000000000")?,
        );
        let account = store.migrate(create_for)?;
        if let Some(want) = create_for {
            if *want != account {
                return Err(StoreError::Unavailable {
                    path: path.to_owned(),
                    reason: format!("belongs to account {account}, not {want}"),
                });
            }
        }
        Ok(Self { account, ..store })
    }

    /// A connection to the existing store at `path`, checked as
    /// [`Store::open`] checks it, for a caller that keeps connections open
    /// between uses and wraps each use with [`Store::with_backend`]
    /// (iam-server's pool). Runs no migration: a schema that is not
    /// current is an error, as the caller migrated it when it started.
    pub fn connect_current(path: &Path) -> Result<sql::Sqlite> {
        let conn = connect(path, OnClose::Checkpoint)?;
        let conn = sql::Sqlite::new(conn);
        let version = read_schema_version(&conn)?;
        if version != SCHEMA_VERSION {
            return Err(StoreError::Unavailable {
                path: path.to_owned(),
                reason: format!(
                    "schema version {version} changed since start (this build has {SCHEMA_VERSION})"
                ),
            });
        }
        Ok(conn)
    }

    /// Applies pending migrations (and, for a new file, records the
    /// account) in one transaction; returns the store's account id.
    fn migrate(&self, create_for: Option<&AccountId>) -> Result<AccountId> {
        let unavailable = |reason: String| StoreError::Unavailable {
            path: self.path.clone(),
            reason,
        };
        let dialect = self.conn.dialect();
        let migrations = migrations(dialect);
        let latest = migrations.len();
        let current = self.schema_version()? as usize;
        if current > latest {
            return Err(unavailable(format!(
                "schema version {current} is newer than this pam_iam supports ({latest})"
            )));
        }
        if current == latest {
            return self.read(|c| read_account(c, &self.path));
        }
        self.write(|c| {
            if dialect == Dialect::Postgres {
                c.execute_batch("LOCK TABLE pam_iam_schema IN EXCLUSIVE MODE")?;
            }
            // Re-read under the write lock: another process may have migrated.
            let current = usize::try_from(read_schema_version(c)?).unwrap_or(usize::MAX);
            if current == 0 && create_for.is_none() {
                return Err(unavailable(
                    "not initialized (run `iamctl init` to create it)".into(),
                ));
            }
            if current > latest {
                return Err(unavailable(format!(
                    "schema version {current} is newer than this pam_iam supports ({latest})"
                )));
            }
            for (i, sql) in migrations.iter().enumerate().skip(current) {
                c.execute_batch(sql)?;
                write_schema_version(c, i + 1)?;
            }
            if current == 0 {
                if dialect == Dialect::Sqlite {
                    c.execute_batch(&format!(
                        "PRAGMA application_id = {}",
                        schema::APPLICATION_ID
                    ))?;
                }
                if let Some(acct) = create_for {
                    c.execute(
                        "INSERT INTO meta (key, value) VALUES ('account_id', ?1)",
                        [acct.as_str()],
                    )?;
                }
            }
            read_account(c, &self.path)
        })
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction (a savepoint if one is
    /// already open); commits on `Ok`, rolls back on `Err`.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let c = &*self.conn;
        let depth = self.depth.get();
        if depth > 0 {
            c.execute_batch("SAVEPOINT nested")?;
            self.depth.set(depth + 1);
            let r = f(c);
            self.depth.set(depth);
            return match r {
                Ok(v) => {
                    c.execute_batch("RELEASE nested")?;
                    Ok(v)
                }
                Err(e) => {
                    // The outer transaction still rolls back if this fails.
                    let _ = c.execute_batch("ROLLBACK TO nested; RELEASE nested");
                    Err(e)
                }
            };
        }
        self.transaction(Begin::Write, f)
    }

    /// Runs `f` on one consistent snapshot (a deferred transaction, or the
    /// enclosing write transaction).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.depth.get() > 0 {
            return f(&*self.conn);
        }
        self.transaction(Begin::Read, f)
    }

    /// `f` in a new transaction: committed on `Ok`, rolled back on `Err`
    /// (and when the commit fails).
    fn transaction<T>(&self, kind: Begin, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let c = &*self.conn;
        c.begin(kind)?;
        self.depth.set(1);
        let r = f(c);
        self.depth.set(0);
        let committed = match r {
            Ok(v) => c.commit().map(|()| v).map_err(StoreError::from),
            Err(e) => Err(e),
        };
        if committed.is_err() {
            // Nothing to undo if the failed commit already ended it.
            let _ = c.rollback();
        }
        committed
    }

    /// Resolves the ARN of a policy or MFA device of this account to its
    /// row id. Only the spelling AWS prints resolves (name in its stored
    /// case, path exact, no `//`): callers authorize on the ARN they were
    /// given, so any other spelling resolving would let it dodge a Deny
    /// written for the printed one.
    pub(crate) fn id_by_arn(&self, c: &Connection, kind: EntityKind, arn: &str) -> Result<i64> {
        let (field, resource_type, table) = match kind {
            EntityKind::MfaDevice => ("SerialNumber", "mfa", "mfa_devices"),
            _ => ("PolicyArn", "policy", "policies"),
        };
        let not_found = || StoreError::no_such(kind, arn);
        let parsed = crate::names::IamArn::parse(field, arn)?;
        // An AWS managed policy keeps AWS's account in its ARN.
        let aws_managed =
            kind == EntityKind::Policy && parsed.account == crate::names::AWS_MANAGED_ACCOUNT;
        if parsed.canonical() != arn
            || parsed.resource_type != resource_type
            || (parsed.account != self.account.as_str() && !aws_managed)
        {
            return Err(not_found());
        }
        let managed_column = match kind {
            EntityKind::MfaDevice => "0",
            _ => "aws_managed",
        };
        let (id, name, path, stored_aws_managed): (i64, String, String, bool) = c
            .query_row(
                &format!("SELECT id, name, path, {managed_column} FROM {table} WHERE name = ?1"),
                [&parsed.name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?
            .ok_or_else(not_found)?;
        if name != parsed.name || path != parsed.path.as_str() || stored_aws_managed != aws_managed
        {
            return Err(not_found());
        }
        Ok(id)
    }
}

/// The number of migrations applied: SQLite's `user_version`, a row of its
/// own on a database server.
/// Opens `path`'s SQLite connection as every opener of a store does: the
/// one trust rule (docs/SECURITY.md, "file trust": PAM, iamctl and doctor
/// refuse the same stores because they all open here), WAL,
/// `synchronous=FULL`, foreign keys, `secure_delete`; a file of another
/// application is refused.
fn connect(path: &Path, on_close: OnClose) -> Result<rusqlite::Connection> {
    let unavailable = |reason: String| StoreError::Unavailable {
        path: path.to_owned(),
        reason,
    };
    match trust::check(path, Contents::Private) {
        Ok(()) => {}
        Err(TrustError::Missing { .. }) => {
            return Err(unavailable(
                "does not exist (run `iamctl init` to create it)".into(),
            ));
        }
        Err(e) => return Err(StoreError::Untrusted(e)),
    }
    // SQLite's journal files hold the same hashes and seeds: a store made
    // private after a loose one was used may have left them open.
    for suffix in ["-wal", "-shm"] {
        let mut journal = path.as_os_str().to_owned();
        journal.push(suffix);
        match trust::check(Path::new(&journal), Contents::Private) {
            Ok(()) | Err(TrustError::Missing { .. }) => {}
            Err(e) => return Err(StoreError::Untrusted(e)),
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|e| unavailable(format!("cannot open: {e}")))?;
    let setup = || -> rusqlite::Result<i32> {
        conn.busy_handler(Some(wait_for_lock))?;
        let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Deleted rows (old password hashes, TOTP seeds) are zeroed, not
        // left in free pages.
        conn.pragma_update(None, "secure_delete", true)?;
        conn.set_db_config(
            DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            on_close == OnClose::KeepWal,
        )?;
        Ok(app_id)
    };
    let app_id = setup().map_err(|e| unavailable(open_failure(path, &e)))?;
    if app_id != 0 && app_id != schema::APPLICATION_ID {
        return Err(unavailable(
            "not a pam_iam store (foreign application id)".into(),
        ));
    }
    Ok(conn)
}

fn read_schema_version(c: &Connection) -> Result<u32> {
    let sql = match c.dialect() {
        Dialect::Sqlite => "PRAGMA user_version",
        Dialect::Postgres => "SELECT coalesce(max(version), 0) FROM pam_iam_schema",
    };
    let v: i64 = c.query_row(sql, (), |r| r.get(0))?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("schema version {v}")))
}

fn write_schema_version(c: &Connection, version: usize) -> Result<()> {
    let v = i64::try_from(version).unwrap_or(i64::MAX);
    match c.dialect() {
        Dialect::Sqlite => c.execute_batch(&format!("PRAGMA user_version = {v}"))?,
        Dialect::Postgres => {
            c.execute("DELETE FROM pam_iam_schema", ())?;
            c.execute("INSERT INTO pam_iam_schema (version) VALUES (?1)", [v])?;
        }
    }
    Ok(())
}

fn read_account(c: &Connection, path: &Path) -> Result<AccountId> {
    let v: Option<String> = c
        .query_row("SELECT value FROM meta WHERE key = 'account_id'", (), |r| {
            r.get(0)
        })
        .optional()?;
    let v = v.ok_or_else(|| StoreError::Unavailable {
        path: path.to_owned(),
        reason: "no account id recorded".into(),
    })?;
    AccountId::parse(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Creates the store file 0600 (and its parent 0700 if missing).
fn create_file(path: &Path) -> Result<()> {
    let io = |context: String| move |source| StoreError::Io { context, source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io(format!("cannot create {}", parent.display())))?;
        }
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("cannot create {}", path.display())))?;
    Ok(())
}

/// Validates a policy document on write, before anything is stored.
pub(crate) fn check_policy(name: &str, document: &str, kind: PolicyKind) -> Result<()> {
    Policy::parse(name, document, kind)
        .map(drop)
        .map_err(StoreError::MalformedPolicyDocument)
}

/// Converts a stored i64 to u32, or reports a corrupt row.
pub(crate) fn to_u32(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} = {v}")))
}

/// Runs a statement that must change a row; when none changed (the thing
/// is not there), fails with `missing()`.
pub(crate) fn change_one(
    c: &Connection,
    sql: &str,
    params: impl sql::Params,
    missing: impl FnOnce() -> StoreError,
) -> Result<()> {
    if c.execute(sql, params)? == 0 {
        return Err(missing());
    }
    Ok(())
}

/// Why setting up a connection failed, in words an administrator can act
/// on: a full or read-only file system is not a corrupt store (SQLite
/// reports both as I/O errors when it cannot make its -wal/-shm files).
fn open_failure(path: &Path, e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            format!("not a pam_iam store, or corrupt: {e}")
        }
        Some(ErrorCode::DiskFull) => format!("the file system is full: {e}"),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::SystemIoFailure) => {
            // Probe write access (no create, no truncate) to say which.
            match OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
            {
                Err(io) => format!("cannot write it: {io} ({e})"),
                Ok(_) => format!(
                    "cannot create or grow its -wal/-shm files: is the file system full? ({e})"
                ),
            }
        }
        _ => format!("cannot set up the connection: {e}"),
    }
}
