//! The two engines behind one small interface: SQL is written once, with `?` placeholders and the
//! subset both SQLite and PostgreSQL understand (`ON CONFLICT DO NOTHING`, `RETURNING`, `substr`);
//! values are three kinds (NULL, integer, text). Schema migrations are applied here, at open.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The migrations, in order; a database records the ones applied in `schema_version`.
/// `{{ID}}` in them is each engine's auto-numbered primary key.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "desk", include_str!("migrations/0002_desk.sql")),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// How long a writer waits for another process's transaction (SQLite) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Any key will do as long as nothing else in the same PostgreSQL database uses it: it keeps two
/// processes from migrating at once.
const PG_MIGRATION_LOCK: i64 = 0x0044_5258_4341_5345; // "DRXCASE"

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(n) => *n,
            Value::Text(t) => t.parse().unwrap_or(0),
            Value::Null => 0,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Int(n) => n.to_string(),
            Value::Null => String::new(),
        }
    }

    pub fn opt_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            other => Some(other.text()),
        }
    }

    pub fn opt_int(&self) -> Option<i64> {
        match self {
            Value::Null => None,
            other => Some(other.int()),
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map(Into::into).unwrap_or(Value::Null)
    }
}

pub type Row = Vec<Value>;

enum Engine {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

pub struct Db {
    engine: Engine,
    /// How the database is named in messages (a path, or the URL without its password).
    pub label: String,
}

/// Where the database is: a file, or a PostgreSQL URL.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// The default database file: in the user's data directory.
pub fn default_path() -> Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = if cfg!(windows) {
        var("LOCALAPPDATA").map(PathBuf::from)
    } else {
        var("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local").join("share")))
    };
    match base {
        Some(base) => Ok(base.join("drx-collect").join("cases.sqlite")),
        None => Err(Error::usage(
            "cannot tell where the case database goes (no HOME, XDG_DATA_HOME or LOCALAPPDATA); give --db PATH",
        )),
    }
}

/// Makes the directory of the default database: the data directory as any program would, then
/// its `drx-collect` directory readable by this user only (the database holds customers' host
/// names, versions and findings, as private as the bundles themselves).
pub fn create_default_dir(path: &Path) -> Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let hint = "give --db PATH";
    if let Some(base) = dir.parent().filter(|b| !b.as_os_str().is_empty()) {
        std::fs::create_dir_all(base)
            .map_err(|e| Error::io("create the directory", base, &e, hint))?;
    }
    match crate::platform::create_private_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create the directory", dir, &e, hint)),
    }
}

/// A new, empty database file readable by this user only (0600, as bundles are); another
/// importer creating it at the same moment is fine. Its directory must exist: a mistyped
/// `--db` path makes no directories.
fn create_private_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(Error::failed(format!(
                "cannot create the case database {}: its directory {} does not exist; create it, or give another --db PATH",
                path.display(),
                dir.display()
            )));
        }
    }
    match crate::platform::create_new_private(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(
            "create the case database",
            path,
            &e,
            "give another --db PATH",
        )),
    }
}

/// The URL without its password, for messages.
fn url_label(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, tail) = match rest.find('@') {
        Some(at) if rest[..at].find('/').is_none() => (&rest[..at], &rest[at..]),
        _ => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{tail}"),
        None => url.to_string(),
    }
}

/// `?` placeholders to PostgreSQL's `$1, $2, ...` (our SQL has no `?` inside literals).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT8 => n.to_sql(ty, out),
                _ => n.to_string().to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_value(row: &postgres::Row, i: usize) -> std::result::Result<Value, postgres::Error> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|n| Value::Int(n.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|n| Value::Int(n.into())),
        Type::VOID => None,
        _ => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

impl Db {
    /// Opens and migrates the database `spec`: a PostgreSQL URL or a SQLite file. `create`: make
    /// the file when it is not there (import); queries never do, so a mistyped `--db` is named
    /// instead of answered from a new empty file.
    pub fn open(spec: &str, create: bool) -> Result<Db> {
        let mut db = if is_postgres(spec) {
            let label = url_label(spec);
            let client = postgres::Client::connect(spec, postgres::NoTls).map_err(|e| {
                Error::failed(format!(
                    "cannot connect to the case database {label}: {}",
                    pg_text(&e)
                ))
            })?;
            Db {
                engine: Engine::Postgres(Box::new(client)),
                label,
            }
        } else {
            Db::open_sqlite(Path::new(spec), create)?
        };
        db.migrate()?;
        Ok(db)
    }

    fn open_sqlite(path: &Path, create: bool) -> Result<Db> {
        let label = path.display().to_string();
        if std::fs::symlink_metadata(path).is_err() {
            if !create {
                return Err(Error::failed(format!(
                    "there is no case database at {label}; check --db, or import bundles first (`drx-collect cases import` creates it)"
                )));
            }
            create_private_file(path)?;
        }
        // Never created by SQLite itself (its files are 0644): the file was made private above,
        // and SQLite gives its -wal and -shm files the database file's mode.
        let flags = rusqlite::OpenFlags::default() - rusqlite::OpenFlags::SQLITE_OPEN_CREATE;
        let conn = rusqlite::Connection::open_with_flags(path, flags)
            .map_err(|e| Error::failed(format!("cannot open the case database {label}: {e}")))?;
        let mut db = Db {
            engine: Engine::Sqlite(conn),
            label,
        };
        if let Engine::Sqlite(conn) = &db.engine {
            conn.busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| Error::failed(format!("case database {}: {e}", db.label)))?;
        }
        // WAL: readers never wait for a writer, and a writer's commit is one append. Checked
        // first, since asking for it is a write that fails on a file that is not a database.
        // Switching a new file to WAL takes an exclusive lock for which SQLite does not always
        // call the busy handler (two importers creating the database at once): retry, bounded.
        let started = std::time::Instant::now();
        let mut switched = db.batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        );
        while let Err(err) = &switched {
            let busy = err.message().contains("locked") || err.message().contains("busy");
            if !busy || started.elapsed() > BUSY_TIMEOUT {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            switched = db.batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            );
        }
        switched.map_err(|e| {
            Error::failed(format!(
                "{}; is it a drx-collect case database? Give another --db PATH",
                e.message()
            ))
        })?;
        Ok(db)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.engine, Engine::Postgres(_))
    }

    fn fail(&self, what: impl std::fmt::Display) -> Error {
        Error::failed(format!("case database {}: {what}", self.label))
    }

    pub fn batch(&mut self, sql: &str) -> Result<()> {
        let result = match &mut self.engine {
            Engine::Sqlite(conn) => conn.execute_batch(sql).map_err(|e| e.to_string()),
            Engine::Postgres(client) => client.batch_execute(sql).map_err(|e| pg_text(&e)),
        };
        result.map_err(|e| self.fail(e))
    }

    pub fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let result = match &mut self.engine {
            Engine::Sqlite(conn) => conn
                .prepare_cached(sql)
                .and_then(|mut st| st.execute(rusqlite::params_from_iter(params.iter())))
                .map(|n| n as u64)
                .map_err(|e| e.to_string()),
            Engine::Postgres(client) => {
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                client
                    .execute(numbered(sql).as_str(), &refs)
                    .map_err(|e| pg_text(&e))
            }
        };
        result.map_err(|e| self.fail(e))
    }

    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let result = match &mut self.engine {
            Engine::Sqlite(conn) => sqlite_query(conn, sql, params).map_err(|e| e.to_string()),
            Engine::Postgres(client) => {
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                client
                    .query(numbered(sql).as_str(), &refs)
                    .and_then(|rows| {
                        rows.iter()
                            .map(|row| (0..row.len()).map(|i| pg_value(row, i)).collect())
                            .collect()
                    })
                    .map_err(|e| pg_text(&e))
            }
        };
        result.map_err(|e| self.fail(e))
    }

    /// Starts a transaction that will write: SQLite takes the write lock now (waiting up to the
    /// busy timeout), so two importers queue instead of failing at commit.
    pub fn begin_write(&mut self) -> Result<()> {
        match self.engine {
            Engine::Sqlite(_) => self.batch("BEGIN IMMEDIATE"),
            Engine::Postgres(_) => self.batch("BEGIN"),
        }
    }

    pub fn commit(&mut self) -> Result<()> {
        self.batch("COMMIT")
    }

    pub fn rollback(&mut self) {
        // Nothing to do if it fails: the connection's transaction dies with it.
        let _ = self.batch("ROLLBACK");
    }

    /// Runs `work` in a write transaction, rolled back if it fails.
    pub fn write<T>(&mut self, work: impl FnOnce(&mut Db) -> Result<T>) -> Result<T> {
        self.begin_write()?;
        match work(self) {
            Ok(value) => {
                self.commit()?;
                Ok(value)
            }
            Err(err) => {
                self.rollback();
                Err(err)
            }
        }
    }

    /// Brings the schema to `SCHEMA_VERSION` in one transaction; refuses a newer database.
    fn migrate(&mut self) -> Result<()> {
        let id = if self.is_postgres() {
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        } else {
            "INTEGER PRIMARY KEY"
        };
        self.write(|db| {
            if db.is_postgres() {
                db.exec(
                    "SELECT pg_advisory_xact_lock(?)",
                    &[Value::Int(PG_MIGRATION_LOCK)],
                )?;
            }
            db.batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            )?;
            let current = db
                .query("SELECT MAX(version) FROM schema_version", &[])?
                .first()
                .and_then(|row| row.first())
                .and_then(Value::opt_int)
                .unwrap_or(0);
            if current > SCHEMA_VERSION {
                return Err(Error::failed(format!(
                    "the case database {} has schema version {current}, newer than this drx-collect understands ({SCHEMA_VERSION}); use a newer drx-collect",
                    db.label
                )));
            }
            for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
                db.batch(&sql.replace("{{ID}}", id))?;
                db.exec(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    &[
                        Value::Int(*version),
                        Value::from(*name),
                        Value::from(super::now_text()),
                    ],
                )?;
            }
            Ok(())
        })
    }
}

fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut st = conn.prepare_cached(sql)?;
    let columns = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(f) => Value::Text(f.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::Text(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        out.push(values);
    }
    Ok(out)
}

/// The server's own message (with its detail), not the client's "db error" wrapper.
fn pg_text(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            url_label("postgres://desk:s3cret@db.example/cases"),
            "postgres://desk:***@db.example/cases"
        );
        assert_eq!(
            url_label("postgresql://desk@db/cases"),
            "postgresql://desk@db/cases"
        );
        assert_eq!(
            url_label("postgresql:///cases?host=/tmp/x"),
            "postgresql:///cases?host=/tmp/x"
        );
    }

    #[test]
    fn a_newer_schema_is_refused_and_an_older_one_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.sqlite");
        let spec = path.to_str().unwrap();
        let mut db = Db::open(spec, true).unwrap();
        let version = db
            .query("SELECT MAX(version) FROM schema_version", &[])
            .unwrap();
        assert_eq!(version[0][0], Value::Int(SCHEMA_VERSION));
        // Opening again applies nothing twice.
        drop(db);
        let mut db = Db::open(spec, false).unwrap();
        let rows = db
            .query("SELECT COUNT(*) FROM schema_version", &[])
            .unwrap();
        assert_eq!(rows[0][0], Value::Int(MIGRATIONS.len() as i64));
        db.exec(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
            &[Value::Int(SCHEMA_VERSION + 1), "future".into(), "x".into()],
        )
        .unwrap();
        drop(db);
        let err = Db::open(spec, false)
            .err()
            .expect("a newer schema is refused");
        assert!(
            err.message().contains("newer than this drx-collect"),
            "{err}"
        );
    }

    /// A database written by a binary of schema 1 opens: migrated to the current schema, its
    /// rows kept, the new columns empty.
    #[test]
    fn a_schema_1_database_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&MIGRATIONS[0].2.replace("{{ID}}", "INTEGER PRIMARY KEY"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL); \
             INSERT INTO schema_version VALUES (1, 'init', '2026-11-24T10:00:00Z'); \
             INSERT INTO bundles (sha256, file_name, host, host_lower, case_id, tool_name, tool_version, size_bytes, files, imported_at, os, os_release, kernel) \
             VALUES ('ab', 'b.tgz', 'n1', 'n1', 'CASE-1', 'drx-collect', '0.1', 1, 1, '2026-11-24T10:00:00Z', 'linux', 'x', 'y'); \
             INSERT INTO findings (bundle_id, seq, rule, severity, title) VALUES (1, 0, 'CONFIG-BOM', 'error', 't');",
        )
        .unwrap();
        drop(conn);
        let mut db = Db::open(path.to_str().unwrap(), false).unwrap();
        let rows = db
            .query("SELECT MAX(version) FROM schema_version", &[])
            .unwrap();
        assert_eq!(rows[0][0], Value::Int(SCHEMA_VERSION));
        let rows = db
            .query(
                "SELECT b.host, b.path, f.excerpt, (SELECT COUNT(*) FROM cases) FROM bundles b JOIN findings f ON f.bundle_id = b.id",
                &[],
            )
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![
                Value::from("n1"),
                Value::Null,
                Value::Null,
                Value::Int(0)
            ]]
        );
    }

    #[test]
    fn a_file_that_is_not_a_database_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
        let err = Db::open(path.to_str().unwrap(), true)
            .err()
            .expect("refused");
        assert!(err.message().contains("notes.txt"), "{err}");
    }
}
