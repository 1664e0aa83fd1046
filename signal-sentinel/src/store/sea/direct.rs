//! Short reads of an SQLite file on the caller's thread.
//!
//! sqlx-sqlite runs each connection on a thread of its own: every query crosses to that thread
//! and back, and its rows come through a channel. On a 2-core machine that costs about
//! 125 µs of CPU even for one row — more than the read itself. The hottest reads (a page of
//! alerts, an API key by its prefix) are bounded by an index to the rows they return, so they
//! run here instead, on the calling thread, through rusqlite on the same SQLite library
//! (rusqlite 0.39 links the libsqlite3-sys that sqlx does: one SQLite in the binary, built with
//! the workspace's flags).
//!
//! The statement is the one sea-orm builds for SQLite, bound with the text sqlx would bind, so
//! the two paths cannot disagree on what a query means. Rows are decoded by column name into
//! the entity's model, then go through the same conversion to the domain as sea-orm's.
//!
//! Only bounded reads belong here: a read that may scan (a filter no index serves) would hold
//! a runtime thread for its whole duration, and goes through the pool.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use rusqlite::config::DbConfig;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, Row};
use sea_orm::{DbErr, Statement, Value};

/// Idle connections kept (one per runtime thread is what a busy server uses).
const MAX_IDLE: usize = 8;
/// Statements each connection keeps prepared (the reads that come here are few).
const STATEMENT_CACHE: usize = 16;
/// Page cache per connection, in KiB (SQLite's default is 2 MiB; these reads touch few pages).
const CACHE_KIB: i64 = 1024;

/// Read-only connections to one SQLite file, used on the caller's thread.
pub(super) struct DirectReader {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReader {
    /// Reads of the SQLite file at `path` (its connections are opened on first use).
    pub(super) fn new(path: &Path, busy_timeout: Duration) -> Self {
        Self {
            path: path.to_owned(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `statement` and decodes each row with `decode`, which reads the columns it named
    /// in `columns` by their place there (`Columns::at`): names are matched once per query,
    /// not per row and column.
    ///
    /// # Errors
    /// [`DbErr::Conn`] when the file cannot be opened, [`DbErr::Query`] when the statement or
    /// a row fails, or the statement lacks one of `columns`.
    pub(super) fn query<T>(
        &self,
        statement: &Statement,
        columns: &[&str],
        mut decode: impl FnMut(&Row<'_>, &Columns) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, DbErr> {
        let connection = self.take()?;
        let result = run(&connection, statement, columns, &mut decode);
        // A connection that failed is dropped, not reused: it may be what failed.
        if result.is_ok() {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
        }
        result.map_err(|e| DbErr::Query(sea_orm::RuntimeErr::Internal(e.to_string())))
    }

    /// Closes the idle connections.
    pub(super) fn close(&self) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn take(&self) -> Result<Connection, DbErr> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(connection) => Ok(connection),
            None => self
                .open()
                .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::Internal(e.to_string()))),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        // Never creates the file (the pool did, and migrated it); read-write so that a WAL
        // database opens whatever the state of its -shm file, `query_only` so that nothing
        // here can write.
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(self.busy_timeout)?;
        // Plans made once: without the query planner stability guarantee SQLite reads the
        // value bound to `LIMIT ?` while planning, and so re-prepares the statement (parser
        // and planner) every time a new limit is bound — on every page read.
        connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        connection.pragma_update(None, "query_only", true)?;
        connection.pragma_update(None, "cache_size", -CACHE_KIB)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }
}

/// Where each column a decoder reads is in the statement's result.
pub(super) struct Columns {
    places: Vec<usize>,
}

impl Columns {
    /// The place in the row of the decoder's `i`-th column.
    pub(super) fn at(&self, i: usize) -> usize {
        self.places[i]
    }
}

fn run<T>(
    connection: &Connection,
    statement: &Statement,
    columns: &[&str],
    decode: &mut impl FnMut(&Row<'_>, &Columns) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut prepared = connection.prepare_cached(&statement.sql)?;
    let names = prepared.column_names();
    let places = columns
        .iter()
        .map(|c| {
            names
                .iter()
                .position(|n| n == c)
                .ok_or_else(|| rusqlite::Error::InvalidColumnName((*c).to_owned()))
        })
        .collect::<rusqlite::Result<_>>()?;
    let columns = Columns { places };
    let values = statement.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    for (i, value) in values.iter().enumerate() {
        prepared.raw_bind_parameter(i + 1, bound(value)?)?;
    }
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row, &columns)?);
    }
    Ok(out)
}

/// A value as sqlx-sqlite binds it (times as RFC 3339 text, as it stores them).
fn bound(value: &Value) -> rusqlite::Result<SqlValue> {
    let integer = |v: Option<i64>| v.map_or(SqlValue::Null, SqlValue::Integer);
    Ok(match value {
        Value::Bool(v) => integer(v.map(i64::from)),
        Value::TinyInt(v) => integer(v.map(i64::from)),
        Value::SmallInt(v) => integer(v.map(i64::from)),
        Value::Int(v) => integer(v.map(i64::from)),
        Value::BigInt(v) => integer(*v),
        Value::TinyUnsigned(v) => integer(v.map(i64::from)),
        Value::SmallUnsigned(v) => integer(v.map(i64::from)),
        Value::Unsigned(v) => integer(v.map(i64::from)),
        // LIMIT and OFFSET; beyond i64 is beyond any table.
        Value::BigUnsigned(v) => integer(
            v.map(i64::try_from)
                .transpose()
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
        ),
        Value::String(v) => v.clone().map_or(SqlValue::Null, SqlValue::Text),
        Value::ChronoDateTimeUtc(v) => v.map_or(SqlValue::Null, |t| {
            SqlValue::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        other => {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("no direct binding for {other:?}").into(),
            ));
        }
    })
}

/// A time column as sqlx-sqlite decodes it: RFC 3339 text (what it writes), or one of
/// SQLite's own text forms read as UTC.
pub(super) fn time(row: &Row<'_>, column: usize) -> rusqlite::Result<DateTime<Utc>> {
    optional_time(row, column)?.ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Null,
            "a time is NULL".into(),
        )
    })
}

/// A nullable time column (see [`time`]).
pub(super) fn optional_time(
    row: &Row<'_>,
    column: usize,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let Some(text) = row.get_ref(column)?.as_str_or_null()? else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    const FORMATS: [&str; 3] = ["%F %T%.f", "%F %R", "%FT%T%.f"];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| Some(Utc.from_utc_datetime(&t)))
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                column,
                rusqlite::types::Type::Text,
                format!("not a time: {text:?}").into(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_bind_as_sqlx_writes_them() {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
        let v = bound(&Value::ChronoDateTimeUtc(Some(t))).unwrap();
        assert_eq!(v, SqlValue::Text("2026-11-30T15:00:00+00:00".into()));
        let t = t + chrono::Duration::microseconds(1_500);
        let v = bound(&Value::ChronoDateTimeUtc(Some(t))).unwrap();
        assert_eq!(v, SqlValue::Text("2026-11-30T15:00:00.001500+00:00".into()));
        assert_eq!(bound(&Value::BigInt(None)).unwrap(), SqlValue::Null);
        assert_eq!(
            bound(&Value::BigUnsigned(Some(50))).unwrap(),
            SqlValue::Integer(50)
        );
        assert!(bound(&Value::BigUnsigned(Some(u64::MAX))).is_err());
        assert!(bound(&Value::Double(Some(1.0))).is_err());
    }

    #[test]
    fn times_read_in_every_form_sqlx_reads() {
        let c = Connection::open_in_memory().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
        for (text, want) in [
            ("2026-11-30T15:00:00+00:00", at),
            ("2026-11-30T10:00:00-05:00", at),
            (
                "2026-11-30 15:00:00.25",
                at + chrono::Duration::milliseconds(250),
            ),
            ("2026-11-30 15:00", at),
        ] {
            let got = c
                .query_row("SELECT ?1 AS t", [text], |r| time(r, 0))
                .unwrap();
            assert_eq!(got, want, "{text}");
        }
        let none = c
            .query_row("SELECT NULL AS t", [], |r| optional_time(r, 0))
            .unwrap();
        assert_eq!(none, None);
        assert!(
            c.query_row("SELECT 'soon' AS t", [], |r| time(r, 0))
                .is_err()
        );
    }
}
