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
    let kind = err.to_string();
    let detail = match std::error::Error::source(err) {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.clone(),
    };
    match client_sqlstate(&kind) {
        Some(code) => DbError::new(code, format!("PostgreSQL client error: {detail}")),
        None => connection_error(&detail, address, err.is_closed()),
    }
}

/// The SQLSTATE of a driver-side error, from its kind (tokio-postgres exposes no kind
/// enum, only this text); `None` for the connection failures (I/O, TLS, closed, connect,
/// timeout), which are `08006`.
fn client_sqlstate(kind: &str) -> Option<SqlState> {
    const TABLE: &[(&str, SqlState)] = &[
        (
            "error serializing parameter",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        ("expected ", SqlState::INVALID_PARAMETER_VALUE),
        ("error deserializing column", SqlState::INTERNAL_ERROR),
        ("invalid column", SqlState::INTERNAL_ERROR),
        ("query returned", SqlState::INTERNAL_ERROR),
        ("unexpected message", SqlState::PROTOCOL_VIOLATION),
        ("error parsing response", SqlState::PROTOCOL_VIOLATION),
        ("error encoding message", SqlState::INTERNAL_ERROR),
        ("authentication error", SqlState::INVALID_PASSWORD),
        (
            "invalid connection string",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        ("invalid configuration", SqlState::INVALID_PARAMETER_VALUE),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| kind.starts_with(prefix))
        .map(|(_, code)| *code)
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
    fn client_errors_map_by_kind() {
        let cases = [
            ("error serializing parameter 2", Some("22023")),
            ("expected 2 parameters but got 1", Some("22023")),
            ("error deserializing column 0", Some("XX000")),
            ("unexpected message from server", Some("08P01")),
            ("authentication error", Some("28P01")),
            ("error communicating with the server", None),
            ("error connecting to server", None),
            ("connection closed", None),
            ("timeout waiting for server", None),
            ("error performing TLS handshake", None),
        ];
        for (kind, code) in cases {
            assert_eq!(
                client_sqlstate(kind)
                    .map(|c| c.as_str().to_owned())
                    .as_deref(),
                code,
                "{kind}"
            );
        }
    }

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
