//! The database: one interface over SQLite (embedded, the default) and PostgreSQL (a
//! multi-site clinic), the migrations of each, and the audit trail.
//!
//! Every handler writes its SQL once, in the subset both engines run: `?N` placeholders
//! (rewritten to `$N` for PostgreSQL, outside quotes), `INSERT ... RETURNING id` instead of
//! SQLite's last row id, `ON CONFLICT DO NOTHING` instead of `INSERT OR IGNORE`, integers for
//! flags, text for timestamps. Rows are read whole into [`Value`]s, so a handler reads a column
//! by index the same way on both.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// SQLite migrations in order; `PRAGMA user_version` holds how many are applied.
const SQLITE_MIGRATIONS: [&str; 4] = [
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_notes_runs_consent_photos.sql"),
    include_str!("../migrations/0003_workspace_accounts.sql"),
    include_str!("../migrations/0004_deletions_screening_gate.sql"),
];

/// The same schema for PostgreSQL (identity keys, `BYTEA`, triggers as PL/pgSQL raising the
/// same messages); the table `schema_version` holds how many are applied.
const POSTGRES_MIGRATIONS: [&str; 4] = [
    include_str!("../migrations/postgres/0001_init.sql"),
    include_str!("../migrations/postgres/0002_notes_runs_consent_photos.sql"),
    include_str!("../migrations/postgres/0003_workspace_accounts.sql"),
    include_str!("../migrations/postgres/0004_deletions_screening_gate.sql"),
];

/// How long a connection attempt to PostgreSQL may take when the URL does not say.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database error from either engine, or a value that does not fit what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// From SQLite.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// From PostgreSQL (the server's message when it sent one).
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// A query expected to return a row returned none.
    #[error("the query returned no rows")]
    NoRows,
    /// A column read as a type its value does not have.
    #[error("column {column}: expected {expected}, found {found}")]
    Type {
        /// The column's index.
        column: usize,
        /// The Rust type asked for.
        expected: &'static str,
        /// What the column held.
        found: String,
    },
    /// A parameter or column of a PostgreSQL type this layer does not map.
    #[error("PostgreSQL type {0} is not one this server uses")]
    UnsupportedType(String),
    /// A query given more or fewer parameters than its placeholders.
    #[error("the query has {expected} placeholders and was given {given} parameters")]
    ParamCount {
        /// Placeholders in the SQL.
        expected: usize,
        /// Parameters given.
        given: usize,
    },
    /// Opening the database did not give the settings the server relies on.
    #[error("{0}")]
    Setup(String),
}

fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        // A connection error says only its kind; the cause (refused, unknown host) follows.
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl DbError {
    /// A UNIQUE constraint refused the row (on either engine).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// Results of this module.
pub type DbResult<T> = Result<T, DbError>;

/// One value, as a parameter or as a column read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT; also booleans as 0 and 1).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes (SQLite BLOB, PostgreSQL BYTEA).
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "bytes",
        }
    }
}

/// A Rust value usable as a query parameter.
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u8, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// The parameters of one query: `params![a, b]`, an array of one type (`[id, clinic]`), or
/// `[]` for none.
pub trait Params {
    /// The values in placeholder order (`?1` first).
    fn values(&self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}
impl Params for [&dyn ToValue; 0] {
    fn values(&self) -> Vec<Value> {
        Vec::new()
    }
}
macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn values(&self) -> Vec<Value> {
                self.iter().map(ToValue::to_value).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8);

/// Query parameters of mixed types, in placeholder order: `params![id, name, None::<i64>]`.
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::ToValue]
    };
    ($($v:expr),+ $(,)?) => {
        &[$(&$v as &dyn $crate::ToValue),+] as &[&dyn $crate::ToValue]
    };
}
pub(crate) use params;

/// A Rust type a column can be read as.
pub trait FromValue: Sized {
    /// The value as this type, or `None` when it does not fit.
    fn from_value(v: Value) -> Result<Self, Value>;
    /// The type's name in messages.
    const NAME: &'static str;
}

impl FromValue for i64 {
    const NAME: &'static str = "an integer";
    fn from_value(v: Value) -> Result<Self, Value> {
        match v {
            Value::Int(n) => Ok(n),
            v => Err(v),
        }
    }
}
/// Narrower integers read from the engine's 64-bit integer, refused when out of their range.
macro_rules! narrow_integer {
    ($($t:ty => $name:literal),* $(,)?) => {$(
        impl FromValue for $t {
            const NAME: &'static str = $name;
            fn from_value(v: Value) -> Result<Self, Value> {
                match v {
                    Value::Int(n) => <$t>::try_from(n).map_err(|_| Value::Int(n)),
                    v => Err(v),
                }
            }
        }
    )*};
}
narrow_integer!(i32 => "a 32-bit integer", u32 => "an unsigned 32-bit integer", usize => "a count");
impl FromValue for bool {
    const NAME: &'static str = "a flag (0 or 1)";
    fn from_value(v: Value) -> Result<Self, Value> {
        match v {
            Value::Int(n) => Ok(n != 0),
            v => Err(v),
        }
    }
}
impl FromValue for f64 {
    const NAME: &'static str = "a real";
    fn from_value(v: Value) -> Result<Self, Value> {
        match v {
            Value::Real(x) => Ok(x),
            // SQLite stores a whole REAL it computed as an integer when asked to; read both.
            Value::Int(n) => Ok(n as f64),
            v => Err(v),
        }
    }
}
impl FromValue for String {
    const NAME: &'static str = "text";
    fn from_value(v: Value) -> Result<Self, Value> {
        match v {
            Value::Text(t) => Ok(t),
            v => Err(v),
        }
    }
}
impl FromValue for Vec<u8> {
    const NAME: &'static str = "bytes";
    fn from_value(v: Value) -> Result<Self, Value> {
        match v {
            Value::Blob(b) => Ok(b),
            v => Err(v),
        }
    }
}
impl FromValue for Value {
    const NAME: &'static str = "any value";
    fn from_value(v: Value) -> Result<Self, Value> {
        Ok(v)
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const NAME: &'static str = T::NAME;
    fn from_value(v: Value) -> Result<Self, Value> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A column position (rows are read by index, as the queries list their columns).
pub trait RowIndex {
    /// The index.
    fn index(&self) -> usize;
}
impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// One row read back, whole.
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// Column `idx` as `T`; a type that does not fit is an error naming the column.
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> DbResult<T> {
        let column = idx.index();
        let v = self.values.get(column).cloned().ok_or(DbError::Type {
            column,
            expected: T::NAME,
            found: format!("no such column (the row has {})", self.values.len()),
        })?;
        T::from_value(v).map_err(|v| DbError::Type {
            column,
            expected: T::NAME,
            found: v.kind().to_string(),
        })
    }
}

/// `.optional()` on a single-row result: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    /// `Ok(None)` for [`DbError::NoRows`].
    fn optional(self) -> DbResult<Option<T>>;
}
impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// An open database. Queries take `&self`, like a SQLite connection; the server keeps one
/// behind a mutex.
pub enum Db {
    /// An embedded SQLite file (WAL, foreign keys on).
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server.
    Postgres(PgConnection),
}

/// A work item for the PostgreSQL connection's thread.
type PgJob = Box<dyn FnOnce(&mut postgres::Client) + Send>;

/// A PostgreSQL client on a thread of its own. The sync `postgres` client drives each call on a
/// private Tokio runtime, which cannot start on a thread already inside the server's runtime
/// (every request handler is); its own thread never is. A call waits for its answer, as a call
/// on SQLite waits for the file.
pub struct PgConnection {
    jobs: mpsc::Sender<PgJob>,
}

impl PgConnection {
    /// Connect on a new thread; the thread ends when the connection is dropped.
    fn connect(config: postgres::Config) -> DbResult<PgConnection> {
        let (jobs, inbox) = mpsc::channel::<PgJob>();
        let (ready, connected) = mpsc::channel();
        std::thread::Builder::new()
            .name("dermasim-postgres".into())
            .spawn(move || match config.connect(postgres::NoTls) {
                Ok(mut client) => {
                    let _ = ready.send(Ok(()));
                    while let Ok(job) = inbox.recv() {
                        job(&mut client);
                    }
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            })
            .map_err(|e| DbError::Setup(format!("cannot start the PostgreSQL thread: {e}")))?;
        match connected.recv() {
            Ok(Ok(())) => Ok(PgConnection { jobs }),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(DbError::Setup("the PostgreSQL thread ended while connecting".into())),
        }
    }

    /// Run `f` on the client and wait for its result.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> DbResult<T> + Send + 'static,
    ) -> DbResult<T> {
        let (answer, result) = mpsc::channel();
        let job: PgJob = Box::new(move |client| {
            let _ = answer.send(f(client));
        });
        let gone = || DbError::Setup("the PostgreSQL connection's thread has ended".into());
        self.jobs.send(job).map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }
}

impl Db {
    /// Which engine, for messages and engine-specific checks.
    pub fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Run a statement; how many rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> DbResult<usize> {
        let values = params.values();
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(values.iter().map(to_sqlite)))?)
            }
            Db::Postgres(c) => {
                let sql = postgres_sql(sql);
                c.call(move |c| {
                    let st = c.prepare(&sql)?;
                    let bound = postgres_params(&st, &values)?;
                    Ok(c.execute(&st, &as_refs(&bound))? as usize)
                })
            }
        }
    }

    /// Run several statements without parameters (schema changes).
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(c) => {
                let sql = sql.to_string();
                c.call(move |c| Ok(c.batch_execute(&sql)?))
            }
        }
    }

    /// Every row of a query, read whole.
    pub fn rows<P: Params>(&self, sql: &str, params: P) -> DbResult<Vec<Row>> {
        let values = params.values();
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare(sql)?;
                let n = st.column_count();
                let mut rows =
                    st.query(rusqlite::params_from_iter(values.iter().map(to_sqlite)))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let values =
                        (0..n).map(|i| r.get_ref(i).map(from_sqlite)).collect::<Result<_, _>>()?;
                    out.push(Row { values });
                }
                Ok(out)
            }
            Db::Postgres(c) => {
                let sql = postgres_sql(sql);
                c.call(move |c| {
                    let st = c.prepare(&sql)?;
                    let bound = postgres_params(&st, &values)?;
                    let rows = c.query(&st, &as_refs(&bound))?;
                    rows.iter().map(from_postgres_row).collect()
                })
            }
        }
    }

    /// The first row of a query through `f`; [`DbError::NoRows`] when there is none.
    pub fn query_row<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        let rows = self.rows(sql, params)?;
        f(rows.first().ok_or(DbError::NoRows)?)
    }

    /// Run an `INSERT` and return the new row's `id` (through `RETURNING id`, which both
    /// engines run; there is no portable last-row-id).
    pub fn insert_returning_id<P: Params>(&self, insert: &str, params: P) -> DbResult<i64> {
        self.query_row(&format!("{} RETURNING id", insert.trim_end()), params, |r| r.get(0))
    }

    /// A statement to run with [`Statement::query_map`] (kept for the shape of the handlers'
    /// list queries; nothing is prepared ahead).
    pub fn prepare<'a>(&'a self, sql: &'a str) -> DbResult<Statement<'a>> {
        Ok(Statement { db: self, sql })
    }

    /// Begin a transaction: committed by [`Transaction::commit`], rolled back when dropped
    /// without it. `&self` like SQLite's unchecked transaction: the caller holds the only
    /// handle (the server's mutex).
    pub fn unchecked_transaction(&self) -> DbResult<Transaction<'_>> {
        self.execute_batch("BEGIN")?;
        Ok(Transaction { db: self, open: true })
    }
}

/// A list query; see [`Db::prepare`].
pub struct Statement<'a> {
    db: &'a Db,
    sql: &'a str,
}

impl Statement<'_> {
    /// Every row through `f`, as an iterator of results (collect into `DbResult<Vec<_>>`).
    pub fn query_map<T, P: Params>(
        &mut self,
        params: P,
        mut f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        let rows = self.db.rows(self.sql, params)?;
        Ok(rows.iter().map(&mut f).collect::<Vec<_>>().into_iter())
    }
}

/// An open transaction; derefs to the database.
pub struct Transaction<'a> {
    db: &'a Db,
    open: bool,
}

impl Transaction<'_> {
    /// Commit.
    pub fn commit(mut self) -> DbResult<()> {
        self.open = false;
        self.db.execute_batch("COMMIT")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // A failed rollback leaves nothing to do here: the connection reports it next time.
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Int(n) => S::Integer(*n),
        Value::Real(x) => S::Real(*x),
        Value::Text(t) => S::Text(t.clone()),
        Value::Blob(b) => S::Blob(b.clone()),
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as S;
    match v {
        S::Null => Value::Null,
        S::Integer(n) => Value::Int(n),
        S::Real(x) => Value::Real(x),
        S::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        S::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// `?N` (and a bare `?`, numbered in order) as PostgreSQL's `$N`; quoted text and
/// identifiers are left alone.
pub(crate) fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                out.push('$');
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next.to_string();
                }
                next = digits.parse::<usize>().unwrap_or(next) + 1;
                out.push_str(&digits);
            }
            None => out.push(c),
        }
    }
    out
}

type PgParam = Box<dyn postgres::types::ToSql + Sync>;

fn as_refs(bound: &[PgParam]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    bound.iter().map(|b| b.as_ref()).collect()
}

/// Each value as the Rust type of the parameter type PostgreSQL inferred for its placeholder
/// (an integer bound to a BIGINT column, NULL typed like its column).
fn postgres_params(st: &postgres::Statement, values: &[Value]) -> DbResult<Vec<PgParam>> {
    use postgres::types::Type;
    if st.params().len() != values.len() {
        return Err(DbError::ParamCount { expected: st.params().len(), given: values.len() });
    }
    st.params()
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let v = values[i].clone();
            let mismatch = |v: &Value| DbError::Type {
                column: i,
                expected: "a value of the parameter's type",
                found: format!("{} for a {} parameter", v.kind(), ty.name()),
            };
            let boxed: PgParam = match (ty, v) {
                (t, Value::Null) => null_of(t)?,
                (&Type::INT8, Value::Int(n)) => Box::new(n),
                (&Type::INT4, Value::Int(n)) => {
                    Box::new(i32::try_from(n).map_err(|_| mismatch(&Value::Int(n)))?)
                }
                (&Type::INT2, Value::Int(n)) => {
                    Box::new(i16::try_from(n).map_err(|_| mismatch(&Value::Int(n)))?)
                }
                (&Type::BOOL, Value::Int(n)) => Box::new(n != 0),
                (&Type::FLOAT8, Value::Int(n)) => Box::new(n as f64),
                (&Type::FLOAT8, Value::Real(x)) => Box::new(x),
                (&Type::FLOAT4, Value::Real(x)) => Box::new(x as f32),
                (&Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME, Value::Text(t)) => {
                    Box::new(t)
                }
                (&Type::BYTEA, Value::Blob(b)) => Box::new(b),
                (_, v) => return Err(mismatch(&v)),
            };
            Ok(boxed)
        })
        .collect()
}

fn null_of(ty: &postgres::types::Type) -> DbResult<PgParam> {
    use postgres::types::Type;
    Ok(match *ty {
        Type::INT8 => Box::new(None::<i64>),
        Type::INT4 => Box::new(None::<i32>),
        Type::INT2 => Box::new(None::<i16>),
        Type::BOOL => Box::new(None::<bool>),
        Type::FLOAT8 => Box::new(None::<f64>),
        Type::FLOAT4 => Box::new(None::<f32>),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Box::new(None::<String>),
        Type::BYTEA => Box::new(None::<Vec<u8>>),
        ref t => return Err(DbError::UnsupportedType(t.name().to_string())),
    })
}

fn from_postgres_row(row: &postgres::Row) -> DbResult<Row> {
    use postgres::types::Type;
    let values = row
        .columns()
        .iter()
        .enumerate()
        .map(|(i, col)| {
            Ok(match *col.type_() {
                Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
                Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|n| Value::Int(n.into())),
                Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|n| Value::Int(n.into())),
                Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(|b| Value::Int(b.into())),
                Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
                Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map(|x| Value::Real(x.into())),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                    row.try_get::<_, Option<String>>(i)?.map(Value::Text)
                }
                Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
                ref t => return Err(DbError::UnsupportedType(t.name().to_string())),
            }
            .unwrap_or(Value::Null))
        })
        .collect::<DbResult<_>>()?;
    Ok(Row { values })
}

/// Open the SQLite file at `path` in WAL mode with foreign keys on, and migrate it.
pub(crate) fn open_sqlite(path: &Path) -> DbResult<Db> {
    let conn = rusqlite::Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(DbError::Setup(format!(
            "the database would not switch to WAL mode (it says {mode})"
        )));
    }
    // FULL: an acknowledged write survives a power cut, not only a killed process.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let db = Db::Sqlite(conn);
    migrate(&db)?;
    Ok(db)
}

/// Connect to the PostgreSQL server of `url` (`postgres://` or `postgresql://`, plain TCP or a
/// Unix socket folder as `host`), and migrate its schema.
pub(crate) fn open_postgres(url: &str) -> DbResult<Db> {
    let mut config: postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(POSTGRES_CONNECT_TIMEOUT);
    }
    let db = Db::Postgres(PgConnection::connect(config)?);
    migrate(&db)?;
    Ok(db)
}

/// Apply the migrations the database lacks, all in one transaction.
fn migrate(db: &Db) -> DbResult<()> {
    let tx = db.unchecked_transaction()?;
    let (migrations, applied): (&[&str], i64) = match db {
        Db::Sqlite(_) => {
            (&SQLITE_MIGRATIONS, tx.query_row("PRAGMA user_version", [], |r| r.get(0))?)
        }
        Db::Postgres(_) => {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
                 LOCK TABLE schema_version IN EXCLUSIVE MODE;",
            )?;
            let v: Option<i64> =
                tx.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?;
            (&POSTGRES_MIGRATIONS, v.unwrap_or(0))
        }
    };
    for (i, sql) in migrations.iter().enumerate().skip(applied.max(0) as usize) {
        tx.execute_batch(sql)?;
        match db {
            Db::Sqlite(_) => tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?,
            Db::Postgres(_) => {
                tx.execute("DELETE FROM schema_version", [])?;
                tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [(i + 1) as i64])?;
            }
        }
    }
    tx.commit()
}

/// How many migrations the database has applied (`PRAGMA user_version` on SQLite, the table
/// `schema_version` on PostgreSQL).
pub fn schema_version(db: &Db) -> DbResult<i64> {
    match db {
        Db::Sqlite(_) => db.query_row("PRAGMA user_version", [], |r| r.get(0)),
        Db::Postgres(_) => {
            db.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        }
    }
}

/// Now as RFC 3339 UTC text.
pub(crate) fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

/// Now in Unix seconds.
pub(crate) fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The id of clinic `name` (created when missing), or of the first clinic (created as
/// "Main clinic" when there is none).
pub(crate) fn clinic_id(conn: &Db, name: Option<&str>) -> DbResult<i64> {
    match name {
        Some(n) => {
            conn.execute("INSERT INTO clinics (name) VALUES (?1) ON CONFLICT DO NOTHING", [n])?;
            conn.query_row("SELECT id FROM clinics WHERE name = ?1", [n], |r| r.get(0))
        }
        None => {
            let first: Option<i64> =
                conn.query_row("SELECT MIN(id) FROM clinics", [], |r| r.get(0))?;
            match first {
                Some(id) => Ok(id),
                None => conn.query_row(
                    "INSERT INTO clinics (name) VALUES ('Main clinic') RETURNING id",
                    [],
                    |r| r.get(0),
                ),
            }
        }
    }
}

/// Append one row to the audit trail (the table refuses updates and deletes).
pub(crate) fn audit(
    conn: &Db,
    user_id: Option<i64>,
    clinic_id: Option<i64>,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    detail: &str,
) -> DbResult<()> {
    conn.execute(
        "INSERT INTO audit (at, user_id, clinic_id, action, entity, entity_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now_text(), user_id, clinic_id, action, entity, entity_id, detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            postgres_sql("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?12 OR c = ?"),
            "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $12 OR c = $13"
        );
        assert_eq!(postgres_sql("x = ? AND y = ?"), "x = $1 AND y = $2");
        assert_eq!(postgres_sql("'it''s ?' || ?2"), "'it''s ?' || $2");
    }

    #[test]
    fn rows_read_back_typed_on_sqlite() {
        let db = Db::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        migrate(&db).unwrap();
        assert_eq!(schema_version(&db).unwrap(), SQLITE_MIGRATIONS.len() as i64);
        let id = clinic_id(&db, Some("North")).unwrap();
        assert_eq!(clinic_id(&db, Some("North")).unwrap(), id, "ON CONFLICT DO NOTHING keeps one");
        let (name, missing): (String, Option<i64>) = db
            .query_row("SELECT name, NULL FROM clinics WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((name.as_str(), missing), ("North", None));
        let wrong = db.query_row("SELECT name FROM clinics", [], |r| r.get::<_, i64>(0));
        assert!(matches!(wrong, Err(DbError::Type { column: 0, .. })), "{wrong:?}");
        let none = db.query_row("SELECT id FROM clinics WHERE id = -1", [], |r| r.get::<_, i64>(0));
        assert!(matches!(none.optional(), Ok(None)));
        let dup = db.execute("INSERT INTO clinics (name) VALUES (?1)", ["North"]).unwrap_err();
        assert!(dup.is_unique_violation(), "{dup}");
    }

    #[test]
    fn a_dropped_transaction_rolls_back() {
        let db = Db::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        migrate(&db).unwrap();
        {
            let tx = db.unchecked_transaction().unwrap();
            tx.execute("INSERT INTO clinics (name) VALUES ('gone')", []).unwrap();
        }
        let n: i64 = db.query_row("SELECT COUNT(*) FROM clinics", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
    }
}
