//! Where the directory is, chosen once at start: the embedded SQLite file
//! (the default, one node) or PostgreSQL (the directory of record when
//! `[postgres]` is configured). Either way a call gets an `iam` store, the
//! one home of every directory rule. See docs/ARCHITECTURE.md, "iam-server".

use crate::config::ServerConfig;
use crate::pg::{Pg, PgError};
use iam::names::AccountId;
use iam::store::sql::{self, Backend, Begin, Dialect, Row, SqlResult, Value};
use iam::store::{Store, StoreError};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use std::time::Instant;

/// How many times a call whose transaction lost to a concurrent one
/// (PostgreSQL's serialization failure) is run, in all.
pub const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory: {0}")]
    Store(#[from] StoreError),
    #[error("the directory: {0}")]
    Pg(#[from] PgError),
    #[error("the directory: postgres.password_file: {0}")]
    Password(String),
}

/// The directory's backend.
#[derive(Debug)]
pub enum Directory {
    /// The embedded SQLite file, and connections to it kept open between
    /// calls (opening one reads the schema: most of a small call's cost).
    Sqlite(Arc<SqlitePool>),
    /// PostgreSQL, for the account recorded in it.
    Postgres { pg: Arc<Pg>, account: AccountId },
}

impl Directory {
    /// Opens the configured directory for the server's account: creates the
    /// SQLite file or applies PostgreSQL's migrations (refusing a newer
    /// schema or another account's database). Fails when PostgreSQL is
    /// unreachable.
    pub fn open(config: &ServerConfig) -> Result<Self, DirectoryError> {
        let account = AccountId::parse(&config.account_id)
            .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        let Some(pg) = &config.postgres else {
            let path = config.directory_path();
            let store = Store::open_or_create(&path, &account)?;
            return Ok(Self::Sqlite(Arc::new(SqlitePool {
                account: store.account_id().clone(),
                path,
                idle: Mutex::default(),
                gate: WriteGate::default(),
            })));
        };
        let password = match &pg.password_file {
            Some(path) => Some(read_password(path)?),
            None => None,
        };
        let pool = Pg::connect(&pg.url, password.as_deref().map(|p| p.as_slice()))?;
        Self::on_pool(pool, &account)
    }

    /// A PostgreSQL directory on `pool` for `account` (migrated here).
    pub fn on_pool(pool: Arc<Pg>, account: &AccountId) -> Result<Self, DirectoryError> {
        let conn = pool.connection().map_err(StoreError::from)?;
        let store = Store::open_backend(Box::new(conn), &label(&pool), Some(account))?;
        Ok(Self::Postgres {
            account: store.account_id().clone(),
            pg: pool,
        })
    }

    /// A store for one call.
    pub fn store(&self) -> Result<Store, StoreError> {
        Ok(self.store_and_flag()?.0)
    }

    fn store_and_flag(&self) -> Result<(Store, Option<Conflict>), StoreError> {
        match self {
            Self::Sqlite(pool) => {
                let conn = PooledSqlite::take(pool)?;
                let store = Store::with_backend(Box::new(conn), &pool.path, pool.account.clone());
                Ok((store, None))
            }
            Self::Postgres { pg, account } => {
                let conn = pg.connection()?;
                let flag = conn.conflict_flag();
                let store = Store::with_backend(Box::new(conn), &label(pg), account.clone());
                Ok((store, Some(flag)))
            }
        }
    }

    /// Runs `f` on a store, again on a fresh one (up to [`MAX_ATTEMPTS`] in
    /// all) when its transaction lost to a concurrent one. `f` is the whole
    /// call, so running it again is as if the client had retried.
    pub fn run<T, E: From<StoreError>>(
        &self,
        mut f: impl FnMut(Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut attempt = 1;
        loop {
            let (store, flag) = self.store_and_flag()?;
            let r = f(store);
            let conflicted = flag.is_some_and(|f| f.get());
            if r.is_ok() || !conflicted || attempt >= MAX_ATTEMPTS {
                return r;
            }
            std::thread::sleep(backoff(attempt));
            attempt += 1;
        }
    }
}

type Conflict = std::rc::Rc<std::cell::Cell<bool>>;

/// At most this many idle SQLite connections are kept (as many as calls
/// may run at once).
const MAX_IDLE: usize = crate::front::MAX_CONCURRENT_CALLS;

/// The SQLite directory's idle connections.
#[derive(Debug)]
pub struct SqlitePool {
    path: PathBuf,
    account: AccountId,
    idle: Mutex<Vec<sql::Sqlite>>,
    gate: WriteGate,
}

/// This server's writers take turns here before SQLite's write lock and
/// are woken the moment it is free. SQLite's busy handler, which also
/// waits for other processes (iamctl), polls every few milliseconds: with
/// only that, the lock sat idle between the server's own writers.
#[derive(Debug, Default)]
struct WriteGate {
    taken: Mutex<bool>,
    freed: Condvar,
}

impl WriteGate {
    /// Waits for the gate, at most [`iam::store::BUSY_TIMEOUT`].
    fn enter(&self) -> SqlResult<()> {
        let deadline = Instant::now() + iam::store::BUSY_TIMEOUT;
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        while *taken {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(sql::Error::Unavailable(
                    "the directory's writers did not make way within the busy timeout".into(),
                ));
            }
            taken = self
                .freed
                .wait_timeout(taken, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *taken = true;
        Ok(())
    }

    fn leave(&self) {
        *self.taken.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.freed.notify_one();
    }
}

/// A connection taken from the pool for one call, given back when the call
/// drops it outside a transaction.
struct PooledSqlite {
    pool: Arc<SqlitePool>,
    conn: Option<sql::Sqlite>,
    /// This connection's transaction holds the pool's [`WriteGate`].
    in_gate: Cell<bool>,
}

impl PooledSqlite {
    fn take(pool: &Arc<SqlitePool>) -> Result<Self, StoreError> {
        let idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => Store::connect_current(&pool.path)?,
        };
        Ok(Self {
            pool: Arc::clone(pool),
            conn: Some(conn),
            in_gate: Cell::new(false),
        })
    }

    fn leave_gate(&self) {
        if self.in_gate.replace(false) {
            self.pool.gate.leave();
        }
    }

    fn conn(&self) -> SqlResult<&sql::Sqlite> {
        self.conn
            .as_ref()
            .ok_or_else(|| sql::Error::Unavailable("the connection was given back".into()))
    }
}

impl Drop for PooledSqlite {
    fn drop(&mut self) {
        self.leave_gate();
        let Some(conn) = self.conn.take() else { return };
        if !conn.reusable() {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

impl Backend for PooledSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn execute_values(&self, q: &str, params: &[Value<'_>]) -> SqlResult<usize> {
        self.conn()?.execute_values(q, params)
    }
    fn query_values(
        &self,
        q: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> SqlResult<bool>,
    ) -> SqlResult<()> {
        self.conn()?.query_values(q, params, each)
    }
    fn execute_batch(&self, q: &str) -> SqlResult<()> {
        self.conn()?.execute_batch(q)
    }
    fn begin(&self, kind: Begin) -> SqlResult<()> {
        if kind != Begin::Read {
            self.pool.gate.enter()?;
            self.in_gate.set(true);
        }
        let begun = self.conn()?.begin(kind);
        if begun.is_err() {
            self.leave_gate();
        }
        begun
    }
    fn commit(&self) -> SqlResult<()> {
        let committed = self.conn()?.commit();
        if committed.is_ok() {
            self.leave_gate();
        }
        committed
    }
    fn rollback(&self) -> SqlResult<()> {
        let rolled_back = self.conn()?.rollback();
        self.leave_gate();
        rolled_back
    }
}

fn label(pg: &Pg) -> PathBuf {
    PathBuf::from(format!("postgresql://{}", pg.label()))
}

/// 5–40 ms, growing, jittered so that the losers do not collide again.
fn backoff(attempt: u32) -> Duration {
    let mut b = [0u8; 1];
    let jitter = getrandom::fill(&mut b).map_or(0, |()| u64::from(b[0] % 10));
    Duration::from_millis(5 * u64::from(attempt.min(4)) + jitter)
}

/// The password, from a file only its owner (root, or the server's own
/// user) can read (docs/SECURITY.md): never
/// in server.toml or argv. A trailing newline is not part of it.
fn read_password(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, DirectoryError> {
    iam::trust::check(path, iam::trust::Contents::Private)
        .map_err(|e| DirectoryError::Password(e.to_string()))?;
    let mut bytes = zeroize::Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| DirectoryError::Password(format!("{}: {e}", path.display())))?,
    );
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(bytes)
}
