//! The store's SQL façade: what the store's code needs of a database
//! connection, so that the one store runs on the embedded SQLite file (here)
//! and on PostgreSQL (iam-server's backend; `iam` opens no sockets). See
//! docs/ARCHITECTURE.md, "iam-server".
//!
//! The calls look like rusqlite's (`execute`, `query_row`, `prepare_cached`
//! then `query_map`, `optional`), so each SQL statement is written once.
//! Parameters are `?N`; a backend that spells them otherwise rewrites them.
//! Values are NULL, 64-bit integers (booleans are 0/1), text and blobs.

use std::fmt;

/// What [`crate::store::StoreError::Unavailable`] names as the store when a
/// database server (not a file) is unavailable.
pub const SERVER_LABEL: &str = "database server";

/// One SQL value, borrowed: a parameter, or a column of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Integer(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// An owned [`Value`], for a backend whose rows are not borrowed from a
/// statement (PostgreSQL's), and for rows a replica receives (JSON: null, a
/// number, a string, an array of bytes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum OwnedValue {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl OwnedValue {
    pub fn as_value(&self) -> Value<'_> {
        match self {
            Self::Null => Value::Null,
            Self::Integer(i) => Value::Integer(*i),
            Self::Text(s) => Value::Text(s),
            Self::Blob(b) => Value::Blob(b),
        }
    }
}

/// Which SQL a backend speaks, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The column that identifies a row of a table without a key of its
    /// own (`login_failures`).
    pub fn row_id(self) -> &'static str {
        match self {
            Self::Sqlite => "rowid",
            Self::Postgres => "ctid",
        }
    }
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// Reads and writes: SQLite's `BEGIN IMMEDIATE` (the write lock up
    /// front); on PostgreSQL the directory's write lock (an advisory lock)
    /// first, so writers run one at a time there too.
    Write,
    /// One consistent snapshot for reads.
    Read,
    /// The event of an API call that changed nothing (iam-server): written
    /// without waiting for the disk (SQLite's `synchronous=NORMAL`,
    /// PostgreSQL's `synchronous_commit = off`). A crash of the process
    /// loses nothing; a power loss may lose the last such events, never a
    /// change or its event (docs/ARCHITECTURE.md, "iam-server").
    Record,
}

/// Why a statement failed. Never carries a parameter's value (a statement's
/// parameters may be password hashes or sealed secrets).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `query_row` found no row ([`OptionalExtension::optional`] makes it
    /// `None`).
    #[error("the query returned no row")]
    NoRows,
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A column holds another type than the store reads from it.
    #[error("column {column}: expected {expected}")]
    Type {
        column: usize,
        expected: &'static str,
    },
    /// A server database's refusal, with its SQLSTATE.
    #[error("{message} (SQLSTATE {code})")]
    Server { code: String, message: String },
    /// The database cannot be reached (down, restarting, network): the
    /// caller may try again later.
    #[error("{0}")]
    Unavailable(String),
}

impl Error {
    /// A UNIQUE, CHECK, NOT NULL or foreign-key constraint refused a write.
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            Self::Sqlite(e) => {
                e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
            }
            Self::Server { code, .. } => code.starts_with("23"),
            _ => false,
        }
    }

    /// Another writer held SQLite's lock past the busy timeout.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Self::Sqlite(e) if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            )
        )
    }

    /// A serializable transaction lost to a concurrent one (SQLSTATE 40001,
    /// or a deadlock, 40P01): running it again may succeed.
    pub fn is_serialization_failure(&self) -> bool {
        matches!(self, Self::Server { code, .. } if code == "40001" || code == "40P01")
    }
}

pub type SqlResult<T> = std::result::Result<T, Error>;

/// A database connection as the store uses it. Object safe: the store holds
/// a `Box<dyn Backend>`; the generic calls are on [`Connection`].
pub trait Backend {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns the number of rows changed.
    fn execute_values(&self, sql: &str, params: &[Value<'_>]) -> SqlResult<usize>;
    /// Runs one query, handing each row to `each` until it returns false.
    fn query_values(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> SqlResult<bool>,
    ) -> SqlResult<()>;
    /// Runs statements without parameters (migrations, savepoints).
    fn execute_batch(&self, sql: &str) -> SqlResult<()>;
    fn begin(&self, kind: Begin) -> SqlResult<()>;
    fn commit(&self) -> SqlResult<()>;
    fn rollback(&self) -> SqlResult<()>;
}

/// A connection, as the store's functions take it (`c: &Connection`).
pub type Connection = dyn Backend;

impl dyn Backend + '_ {
    /// Runs one statement; returns the number of rows changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> SqlResult<usize> {
        params.with_values(&mut |v| self.execute_values(sql, v))
    }

    /// The first row of a query, mapped by `f`; [`Error::NoRows`] if none.
    pub fn query_row<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> SqlResult<T>,
    ) -> SqlResult<T> {
        let mut f = Some(f);
        let mut out = None;
        params.with_values(&mut |v| {
            self.query_values(sql, v, &mut |row| {
                if let Some(f) = f.take() {
                    out = Some(f(row)?);
                }
                Ok(false)
            })
        })?;
        out.ok_or(Error::NoRows)
    }

    /// A statement to run with [`Statement::query_map`] (the backend caches
    /// prepared statements by their text; this only keeps rusqlite's shape).
    pub fn prepare_cached(&self, sql: &str) -> SqlResult<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_owned(),
        })
    }
}

/// A statement of [`Connection::prepare_cached`].
pub struct Statement<'c> {
    conn: &'c (dyn Backend + 'c),
    sql: String,
}

impl Statement<'_> {
    /// Every row, mapped by `f`, in order.
    pub fn query_map<T, P: Params>(
        &mut self,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> SqlResult<T>,
    ) -> SqlResult<std::vec::IntoIter<SqlResult<T>>> {
        let mut out = Vec::new();
        params.with_values(&mut |v| {
            self.conn.query_values(&self.sql, v, &mut |row| {
                out.push(f(row));
                Ok(true)
            })
        })?;
        Ok(out.into_iter())
    }
}

/// `.optional()` on a `query_row` result, as rusqlite's.
pub trait OptionalExtension<T> {
    fn optional(self) -> SqlResult<Option<T>>;
}

impl<T> OptionalExtension<T> for SqlResult<T> {
    fn optional(self) -> SqlResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One row of a result.
pub struct Row<'a>(RowInner<'a>);

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Values(&'a [OwnedValue]),
}

/// A column index (rusqlite's `get::<_, T>` shape).
pub trait RowIndex {
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl<'a> Row<'a> {
    /// A row of values a backend has already read.
    pub fn from_values(values: &'a [OwnedValue]) -> Self {
        Self(RowInner::Values(values))
    }

    /// Column `i`, converted to `T`.
    pub fn get<I: RowIndex, T: FromSql>(&self, i: I) -> SqlResult<T> {
        let i = i.index();
        let v = match &self.0 {
            RowInner::Sqlite(r) => match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::Integer(n),
                rusqlite::types::ValueRef::Text(t) => {
                    Value::Text(std::str::from_utf8(t).map_err(|_| type_error(i, "UTF-8 text"))?)
                }
                rusqlite::types::ValueRef::Blob(b) => Value::Blob(b),
                rusqlite::types::ValueRef::Real(_) => return Err(type_error(i, T::EXPECTED)),
            },
            RowInner::Values(v) => v
                .get(i)
                .ok_or_else(|| type_error(i, "a column"))?
                .as_value(),
        };
        T::from_sql(v).ok_or_else(|| type_error(i, T::EXPECTED))
    }
}

fn type_error(column: usize, expected: &'static str) -> Error {
    Error::Type { column, expected }
}

/// A Rust value read from a column.
pub trait FromSql: Sized {
    const EXPECTED: &'static str;
    fn from_sql(v: Value<'_>) -> Option<Self>;
}

impl FromSql for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_sql(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Integer(i) => Some(i),
            _ => None,
        }
    }
}

impl FromSql for u32 {
    const EXPECTED: &'static str = "a 32-bit unsigned integer";
    fn from_sql(v: Value<'_>) -> Option<Self> {
        i64::from_sql(v).and_then(|i| u32::try_from(i).ok())
    }
}

impl FromSql for i32 {
    const EXPECTED: &'static str = "a 32-bit integer";
    fn from_sql(v: Value<'_>) -> Option<Self> {
        i64::from_sql(v).and_then(|i| i32::try_from(i).ok())
    }
}

impl FromSql for bool {
    const EXPECTED: &'static str = "a boolean (integer)";
    fn from_sql(v: Value<'_>) -> Option<Self> {
        i64::from_sql(v).map(|i| i != 0)
    }
}

impl FromSql for String {
    const EXPECTED: &'static str = "text";
    fn from_sql(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.to_owned()),
            _ => None,
        }
    }
}

/// Any column, as it is (a replicated row).
impl FromSql for OwnedValue {
    const EXPECTED: &'static str = "a value";
    fn from_sql(v: Value<'_>) -> Option<Self> {
        Some(match v {
            Value::Null => Self::Null,
            Value::Integer(i) => Self::Integer(i),
            Value::Text(t) => Self::Text(t.to_owned()),
            Value::Blob(b) => Self::Blob(b.to_vec()),
        })
    }
}

impl FromSql for Vec<u8> {
    const EXPECTED: &'static str = "a blob";
    fn from_sql(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.to_vec()),
            _ => None,
        }
    }
}

impl<T: FromSql> FromSql for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_sql(v: Value<'_>) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_sql(v).map(Some),
        }
    }
}

/// A Rust value bound as a parameter.
pub trait ToSql {
    fn to_sql(&self) -> Value<'_>;
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Value<'_> {
        (**self).to_sql()
    }
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> Value<'_> {
        *self
    }
}

impl ToSql for i64 {
    fn to_sql(&self) -> Value<'_> {
        Value::Integer(*self)
    }
}

impl ToSql for i32 {
    fn to_sql(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}

impl ToSql for u32 {
    fn to_sql(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}

impl ToSql for bool {
    fn to_sql(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_sql(),
            None => Value::Null,
        }
    }
}

/// A statement's parameters: `()`, an array of one type, or
/// [`params!`](crate::params) for mixed types. Bound without allocating.
pub trait Params {
    fn with_values<R>(&self, f: &mut dyn FnMut(&[Value<'_>]) -> R) -> R;
}

impl Params for () {
    fn with_values<R>(&self, f: &mut dyn FnMut(&[Value<'_>]) -> R) -> R {
        f(&[])
    }
}

/// Parameters made at run time (a query built from optional filters).
impl Params for &[&dyn ToSql] {
    fn with_values<R>(&self, f: &mut dyn FnMut(&[Value<'_>]) -> R) -> R {
        let values: Vec<Value<'_>> = self.iter().map(|p| p.to_sql()).collect();
        f(&values)
    }
}

impl<T: ToSql, const N: usize> Params for [T; N] {
    fn with_values<R>(&self, f: &mut dyn FnMut(&[Value<'_>]) -> R) -> R {
        let values: [Value<'_>; N] = std::array::from_fn(|i| self[i].to_sql());
        f(&values)
    }
}

/// Mixed-type parameters, as rusqlite's `params!`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_params {
    ($($p:expr),* $(,)?) => {
        [$(&$p as &dyn $crate::store::sql::ToSql),*]
    };
}
pub use crate::sql_params as params;

/// The embedded SQLite connection.
pub struct Sqlite {
    conn: rusqlite::Connection,
    /// The open transaction is a [`Begin::Record`]: its end restores
    /// `synchronous=FULL`.
    relaxed: std::cell::Cell<bool>,
}

impl fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sqlite").finish_non_exhaustive()
    }
}

impl Sqlite {
    /// Statements the store runs, prepared once per connection (the PAM
    /// module runs a handful per login; `iamctl` a few dozen per verb).
    const STATEMENT_CACHE: usize = 64;

    pub fn new(conn: rusqlite::Connection) -> Self {
        conn.set_prepared_statement_cache_capacity(Self::STATEMENT_CACHE);
        Self {
            conn,
            relaxed: std::cell::Cell::new(false),
        }
    }

    /// Back to every other transaction's durability after a
    /// [`Begin::Record`].
    fn restore_synchronous(&self) -> SqlResult<()> {
        if self.relaxed.get() {
            self.run_cached("PRAGMA synchronous = FULL")?;
            self.relaxed.set(false);
        }
        Ok(())
    }

    /// One statement without parameters or rows (a transaction's begin or
    /// end), prepared once per connection rather than parsed each time.
    fn run_cached(&self, sql: &str) -> SqlResult<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Whether a pool may give the connection to the next caller: no
    /// transaction open, and every commit durable again after a
    /// [`Begin::Record`].
    pub fn reusable(&self) -> bool {
        !self.in_transaction() && !self.relaxed.get()
    }

    /// A private in-memory database (tests: the SQLite migrations' schema).
    pub fn in_memory() -> SqlResult<Self> {
        Ok(Self::new(rusqlite::Connection::open_in_memory()?))
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Backend for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute_values(&self, sql: &str, params: &[Value<'_>]) -> SqlResult<usize> {
        let mut st = self.conn.prepare_cached(sql)?;
        Ok(st.execute(rusqlite::params_from_iter(params))?)
    }

    fn query_values(
        &self,
        sql: &str,
        params: &[Value<'_>],
        each: &mut dyn FnMut(&Row<'_>) -> SqlResult<bool>,
    ) -> SqlResult<()> {
        let mut st = self.conn.prepare_cached(sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(params))?;
        while let Some(r) = rows.next()? {
            if !each(&Row(RowInner::Sqlite(r)))? {
                break;
            }
        }
        Ok(())
    }

    fn execute_batch(&self, sql: &str) -> SqlResult<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn begin(&self, kind: Begin) -> SqlResult<()> {
        if kind == Begin::Record {
            // Outside a transaction, where SQLite allows the change.
            self.run_cached("PRAGMA synchronous = NORMAL")?;
            self.relaxed.set(true);
        }
        let begun = self.run_cached(match kind {
            Begin::Write | Begin::Record => "BEGIN IMMEDIATE",
            Begin::Read => "BEGIN DEFERRED",
        });
        if begun.is_err() {
            self.restore_synchronous()?;
        }
        begun
    }

    fn commit(&self) -> SqlResult<()> {
        let committed = self.run_cached("COMMIT");
        if !self.in_transaction() {
            self.restore_synchronous()?;
        }
        committed
    }

    fn rollback(&self) -> SqlResult<()> {
        let rolled_back = self.run_cached("ROLLBACK");
        self.restore_synchronous()?;
        rolled_back
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sqlite_rows_and_params_round_trip() {
        let c = Sqlite::new(rusqlite::Connection::open_in_memory().unwrap());
        let c: &Connection = &c;
        c.execute_batch("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n INTEGER)")
            .unwrap();
        let none: Option<i64> = None;
        c.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            params![7i64, "x", vec![1u8, 2], none],
        )
        .unwrap();
        let (i, s, b, n, t): (i64, String, Vec<u8>, Option<i64>, bool) = c
            .query_row("SELECT i, s, b, n, i FROM t WHERE s = ?1", ["x"], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap();
        assert_eq!((i, s.as_str(), b, n, t), (7, "x", vec![1, 2], None, true));
        assert!(matches!(
            c.query_row("SELECT i FROM t WHERE s = 'y'", (), |r| r.get::<_, i64>(0)),
            Err(Error::NoRows)
        ));
        assert!(matches!(
            c.query_row("SELECT s FROM t", (), |r| r.get::<_, i64>(0)),
            Err(Error::Type { column: 0, .. })
        ));
    }
}
