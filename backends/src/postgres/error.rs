//! PostgreSQL errors to Starbase's.
//!
//! Owns mapping `tokio_postgres::Error` and pool errors to `DbError`: a server error keeps
//! its SQLSTATE and every field (severity, message, detail, hint, position, constraint,
//! table, column, schema, data type); a refused, reset or closed connection is `08006`
//! naming `host:port`; a pool wait timeout is `53300`. Must not know about plans or streams.

use deadpool_postgres::{PoolError, TimeoutType};
use starbase_protocol::{DbError, ErrorObject, Severity, SqlState};
use tokio_postgres::error::ErrorPosition;

/// Maps a driver error; `address` names the server in connection errors.
pub(super) fn from_pg(err: &tokio_postgres::Error, address: &str) -> DbError {
    if let Some(db) = err.as_db_error() {
        return from_server(db);
    }
    connection_error(&err.to_string(), address, err.is_closed())
}

fn from_server(db: &tokio_postgres::error::DbError) -> DbError {
    let code = SqlState::parse(db.code().code()).unwrap_or(SqlState::INTERNAL_ERROR);
    let mut e = DbError::new(code, db.message());
    if matches!(db.severity(), "FATAL" | "PANIC") {
        e.severity = Severity::Fatal;
    }
    e.detail = db.detail().map(str::to_owned);
    e.hint = db.hint().map(str::to_owned);
    e.position = match db.position() {
        Some(ErrorPosition::Original(p)) => Some(*p),
        _ => None,
    };
    e.constraint = db.constraint().map(str::to_owned);
    let object = ErrorObject {
        schema: db.schema().map(str::to_owned),
        table: db.table().map(str::to_owned),
        column: db.column().map(str::to_owned),
        datatype: db.datatype().map(str::to_owned),
    };
    if object != ErrorObject::default() {
        e.object = Some(Box::new(object));
    }
    e
}

/// `08006` for a connection that could not be opened or broke.
pub(super) fn connection_error(detail: &str, address: &str, closed: bool) -> DbError {
    let message = if closed {
        format!("connection to the PostgreSQL server at {address} was lost")
    } else {
        format!("could not connect to the PostgreSQL server at {address}")
    };
    DbError::new(SqlState::CONNECTION_FAILURE, message).with_detail(detail.to_owned())
}

/// Maps a pool error.
pub(super) fn from_pool(err: &PoolError, address: &str) -> DbError {
    match err {
        PoolError::Timeout(TimeoutType::Wait) => DbError::new(
            SqlState::TOO_MANY_CONNECTIONS,
            format!("no free connection to the PostgreSQL server at {address}"),
        )
        .with_hint("raise the pool size or the acquire timeout"),
        PoolError::Timeout(_) => DbError::new(
            SqlState::CONNECTION_FAILURE,
            format!("timed out connecting to the PostgreSQL server at {address}"),
        ),
        PoolError::Backend(e) => from_pg(e, address),
        PoolError::Closed => DbError::new(SqlState::ADMIN_SHUTDOWN, "the pool is closed"),
        other => connection_error(&other.to_string(), address, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_errors_map_to_sqlstates() {
        let cases = [
            (PoolError::Timeout(TimeoutType::Wait), "53300"),
            (PoolError::Timeout(TimeoutType::Create), "08006"),
            (PoolError::Timeout(TimeoutType::Recycle), "08006"),
            (PoolError::Closed, "57P01"),
        ];
        for (err, code) in cases {
            let mapped = from_pool(&err, "h:1");
            assert_eq!(mapped.code.as_str(), code, "{err:?}");
            assert!(mapped.message.contains("h:1") || code == "57P01");
        }
    }
}
