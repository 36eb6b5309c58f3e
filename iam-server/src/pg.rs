//! PostgreSQL as the directory of record: `iam`'s store (the one home of
//! every directory rule) on a [`Backend`] that speaks to PostgreSQL 15
//! through tokio-postgres, with a small pool. See docs/ARCHITECTURE.md,
//! "iam-server".
//!
//! The store is synchronous and runs on blocking threads; the pool owns a
//! one-worker runtime that drives the connections, and a call blocks on
//! its reply (`Handle::block_on`, never from inside an async task). A
//! connection that fails is dropped, and the next call connects again, so
//! the server recovers by itself when PostgreSQL comes back.

use iam::store::sql::{Backend, Begin, Dialect, Error, OwnedValue, Row, SqlResult, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};

/// How long connecting may take before PostgreSQL counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle connections kept for the next calls; more are opened under load
/// and closed when returned to a full pool.
const MAX_IDLE: usize = 8;

/// A write transaction: the directory's write lock (a transaction-scoped
/// advisory lock; the key is arbitrary but fixed), then the writer's
/// statements.
const WRITE_BEGIN: &str =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(421770)";

/// Why the pool could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("postgres url: {0}")]
    Url(String),
    #[error("cannot start the PostgreSQL client's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("PostgreSQL at {at} is unreachable: {reason}")]
    Unreachable { at: String, reason: String },
}

/// A pool of connections to one database.
pub struct Pg {
    /// `Some` until dropped: a runtime may not be dropped inside another's
    /// async context, so [`Drop`] shuts it down in the background.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    config: tokio_postgres::Config,
    /// host:port/dbname, for messages (never the password).
    label: String,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// One connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
}

impl Pg {
    /// A pool for `url` (libpq's `key=value` form or a `postgresql://`
    /// URL, without a password), with `password` if one is needed.
    /// Connects once, so that an unreachable or misconfigured database
    /// fails the start with a clear error.
    pub fn connect(url: &str, password: Option<&[u8]>) -> Result<Arc<Self>, PgError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| PgError::Url(format!("{e}")))?;
        if config.get_password().is_some() {
            return Err(PgError::Url(
                "holds a password; put it in postgres.password_file instead".into(),
            ));
        }
        if let Some(p) = password {
            config.password(p);
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("iam-server-pg")
            .enable_all()
            .build()
            .map_err(PgError::Runtime)?;
        let pg = Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            label: label(&config),
            config,
            idle: Mutex::new(Vec::new()),
        };
        let first = pg.open().map_err(|e| PgError::Unreachable {
            at: pg.label.clone(),
            reason: e.to_string(),
        })?;
        pg.put_back(first);
        Ok(Arc::new(pg))
    }

    /// Where the database is (host, port, name): for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A connection for one call, from the pool or new.
    pub fn connection(self: &Arc<Self>) -> SqlResult<PgConnection> {
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|c| !c.client.is_closed())
        };
        let conn = match pooled {
            Some(c) => c,
            None => self.open()?,
        };
        Ok(PgConnection {
            pg: Arc::clone(self),
            conn: Some(conn),
            in_transaction: Cell::new(false),
            failed: Cell::new(false),
            conflicted: Rc::new(Cell::new(false)),
        })
    }

    fn open(&self) -> SqlResult<Conn> {
        let (client, connection) = self
            .handle
            .block_on(self.config.connect(NoTls))
            .map_err(|e| unavailable(&self.label, &e))?;
        // Ends when the connection does; the client then reports closed.
        self.handle.spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            client,
            statements: RefCell::new(HashMap::new()),
        })
    }

    fn put_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

fn label(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("{host}:{port}/{db}")
}

fn unavailable(label: &str, e: &tokio_postgres::Error) -> Error {
    Error::Unavailable(format!("PostgreSQL at {label}: {e}"))
}

/// One pooled connection, as the store's [`Backend`]. Back to the pool when
/// dropped, unless it failed or a transaction is still open.
pub struct PgConnection {
    pg: Arc<Pg>,
    conn: Option<Conn>,
    in_transaction: Cell<bool>,
    /// A statement failed in the open transaction (and no savepoint was
    /// rolled back to since): PostgreSQL would answer COMMIT with a
    /// silent ROLLBACK, so [`Backend::commit`] refuses instead.
    failed: Cell<bool>,
    conflicted: Rc<Cell<bool>>,
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.in_transaction.get() && !conn.client.is_closed() {
                self.pg.put_back(conn);
            }
        }
    }
}

impl PgConnection {
    /// Set once a transaction on this connection lost to a concurrent one
    /// (SQLSTATE 40001/40P01): whatever error the caller then saw, running
    /// the whole call again may succeed ([`crate::directory`]).
    pub fn conflict_flag(&self) -> Rc<Cell<bool>> {
        Rc::clone(&self.conflicted)
    }

    fn conn(&self) -> SqlResult<&Conn> {
        self.conn
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the connection is closed".into()))
    }

    fn error(&self, e: tokio_postgres::Error) -> Error {
        if self.in_transaction.get() {
            self.failed.set(true);
        }
        match e.as_db_error() {
            Some(db) => {
                let e = Error::Server {
                    code: db.code().code().to_owned(),
                    message: db.message().to_owned(),
                };
                if e.is_serialization_failure() {
                    self.conflicted.set(true);
                }
                e
            }
            None => unavailable(&self.pg.label, &e),
        }
    }

    fn statement(&self, sql: &str) -> SqlResult<Statement> {
        let conn = self.conn()?;
        if let Some(st) = conn.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self
            .pg
            .handle
            .block_on(conn.client.prepare(&numbered_params(sql)))
            .map_err(|e| self.error(e))?;
        conn.statements
            .borrow_mut()
            .insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn batch(&self, sql: &str) -> SqlResult<()> {
        let conn = self.conn()?;
        self.pg
            .handle
            .block_on(conn.client.batch_execute(sql))
            .map_err(|e| self.error(e))
    }
}

impl Backend for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute_values(&self, sql: &str, params: &[Value<'_>]) -> SqlResult<usize> {
        let st = self.statement(sql)?;
        let params: Vec<PgValue<'_>> = params.iter().map(|v| PgValue(*v)).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let n = self
            .pg
            .handle
            .block_on(self.conn()?.client.execute(&st, &refs))
            .map_err(|e| self.error(e))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn query_values(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> SqlResult<bool>,
    ) -> SqlResult<()> {
        let st = self.statement(sql)?;
        let params: Vec<PgValue<'_>> = params.iter().map(|v| PgValue(*v)).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self
            .pg
            .handle
            .block_on(self.conn()?.client.query(&st, &refs))
            .map_err(|e| self.error(e))?;
        for row in rows {
            let values = (0..row.len())
                .map(|i| column(&row, i))
                .collect::<SqlResult<Vec<_>>>()?;
            if !each(&Row::from_values(&values))? {
                break;
            }
        }
        Ok(())
    }

    fn execute_batch(&self, sql: &str) -> SqlResult<()> {
        self.batch(sql)?;
        if sql.starts_with("ROLLBACK TO") {
            // The store's nested write undone: the transaction goes on.
            self.failed.set(false);
        }
        Ok(())
    }

    fn begin(&self, kind: Begin) -> SqlResult<()> {
        // Writes take the directory's write lock first, so writers run one
        // at a time as on SQLite (`BEGIN IMMEDIATE`), on every server that
        // shares the database: a read-check-write (a name unique
        // case-insensitively, a version limit, a count) sees every earlier
        // write (READ COMMITTED: each statement's snapshot is taken after
        // the lock) and no later one. SERIALIZABLE alone let 50 writers
        // lose to each other (40001) more often than a retry could absorb.
        // Reads see one snapshot and never wait.
        self.batch(match kind {
            Begin::Write => WRITE_BEGIN,
            Begin::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            // No write lock: an event conflicts with nothing.
            Begin::Record => {
                "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit = off"
            }
        })?;
        self.in_transaction.set(true);
        self.failed.set(false);
        Ok(())
    }

    fn commit(&self) -> SqlResult<()> {
        if self.failed.get() {
            self.rollback()?;
            return Err(Error::Server {
                code: "25P02".into(),
                message: "a statement of the transaction failed; nothing was committed".into(),
            });
        }
        let r = self.batch("COMMIT");
        self.in_transaction.set(false);
        r
    }

    fn rollback(&self) -> SqlResult<()> {
        let r = self.batch("ROLLBACK");
        self.in_transaction.set(false);
        self.failed.set(false);
        r
    }
}

/// Rewrites the store's `?N` parameters as PostgreSQL's `$N` (outside
/// quoted strings and identifiers).
fn numbered_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote = None;
    for ch in sql.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), c) if c == q => quote = None,
            (None, '?') => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(ch);
    }
    out
}

/// Column `i` of a row, as the store's value.
fn column(row: &tokio_postgres::Row, i: usize) -> SqlResult<OwnedValue> {
    let ty = row.columns().get(i).map(|c| c.type_().clone());
    let bad = |e: tokio_postgres::Error| Error::Server {
        code: "XX000".into(),
        message: format!("column {i}: {e}"),
    };
    let v = match ty {
        Some(Type::INT8) => row
            .try_get::<_, Option<i64>>(i)
            .map_err(bad)?
            .map(OwnedValue::Integer),
        Some(Type::INT4) => row
            .try_get::<_, Option<i32>>(i)
            .map_err(bad)?
            .map(|n| OwnedValue::Integer(n.into())),
        Some(Type::INT2) => row
            .try_get::<_, Option<i16>>(i)
            .map_err(bad)?
            .map(|n| OwnedValue::Integer(n.into())),
        Some(Type::BOOL) => row
            .try_get::<_, Option<bool>>(i)
            .map_err(bad)?
            .map(|b| OwnedValue::Integer(b.into())),
        Some(Type::BYTEA) => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(bad)?
            .map(OwnedValue::Blob),
        Some(Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR) => row
            .try_get::<_, Option<String>>(i)
            .map_err(bad)?
            .map(OwnedValue::Text),
        _ => {
            return Err(Error::Type {
                column: i,
                expected: "an integer, text or bytes column",
            });
        }
    };
    Ok(v.unwrap_or(OwnedValue::Null))
}

/// A store value bound as the type PostgreSQL inferred for its parameter.
#[derive(Debug)]
struct PgValue<'a>(Value<'a>);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for PgValue<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(n), &Type::INT8) => n.to_sql(ty, out),
            (Value::Integer(n), &Type::INT4) => i32::try_from(n)?.to_sql(ty, out),
            (Value::Integer(n), &Type::INT2) => i16::try_from(n)?.to_sql(ty, out),
            (Value::Integer(n), &Type::BOOL) => (n != 0).to_sql(ty, out),
            (Value::Integer(n), &Type::TEXT | &Type::VARCHAR) => n.to_string().to_sql(ty, out),
            (Value::Text(s), _) if <&str as ToSql>::accepts(ty) => s.to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
            (v, ty) => Err(format!("cannot bind {} as {ty}", kind(v)).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A value's kind, for an error (never the value: it may be a secret).
fn kind(v: Value<'_>) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Integer(_) => "an integer",
        Value::Text(_) => "text",
        Value::Blob(_) => "bytes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_outside_quotes() {
        assert_eq!(
            numbered_params("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $12"
        );
    }
}
