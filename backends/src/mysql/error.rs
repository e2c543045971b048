//! MySQL/MariaDB errors to Starbase's.
//!
//! Owns mapping `mysql_async::Error` to `DbError`: server error numbers become the SQLSTATE
//! the embedded SQLite gives for the same failure (the table below, unit-tested row by
//! row), other server errors keep the server's SQLSTATE unless it is the catch-all `HY000`
//! (`XX000` then); I/O failures and closed connections are `08006` naming `host:port`.
//! Must not know about plans or streams.

use starbase_protocol::{DbError, SqlState};

/// Whether the error happened while connecting or on an open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Opening a connection.
    Connect,
    /// Running a statement.
    Run,
}

/// Server error numbers and the SQLSTATE Starbase reports for them.
const ERRNO_TO_SQLSTATE: &[(u16, &str)] = &[
    (1062, "23505"), // ER_DUP_ENTRY
    (1586, "23505"), // ER_DUP_ENTRY_WITH_KEY_NAME
    (1451, "23503"), // ER_ROW_IS_REFERENCED_2
    (1452, "23503"), // ER_NO_REFERENCED_ROW_2
    (1216, "23503"), // ER_NO_REFERENCED_ROW
    (1217, "23503"), // ER_ROW_IS_REFERENCED
    (1048, "23502"), // ER_BAD_NULL_ERROR
    (1364, "23502"), // ER_NO_DEFAULT_FOR_FIELD
    (3819, "23514"), // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
    (4025, "23514"), // ER_CONSTRAINT_FAILED (MariaDB)
    (1064, "42601"), // ER_PARSE_ERROR
    (1149, "42601"), // ER_SYNTAX_ERROR
    (1065, "42601"), // ER_EMPTY_QUERY
    (1146, "42P01"), // ER_NO_SUCH_TABLE
    (1051, "42P01"), // ER_BAD_TABLE_ERROR
    (1109, "42P01"), // ER_UNKNOWN_TABLE
    (1054, "42703"), // ER_BAD_FIELD_ERROR
    (1050, "42P07"), // ER_TABLE_EXISTS_ERROR
    (1060, "42701"), // ER_DUP_FIELDNAME
    (1305, "42883"), // ER_SP_DOES_NOT_EXIST
    (1049, "3D000"), // ER_BAD_DB_ERROR
    (1213, "40P01"), // ER_LOCK_DEADLOCK
    (1205, "55P03"), // ER_LOCK_WAIT_TIMEOUT
    (1290, "25006"), // ER_OPTION_PREVENTS_STATEMENT (read only)
    (1836, "25006"), // ER_READ_ONLY_MODE
    (1317, "57014"), // ER_QUERY_INTERRUPTED
    (3024, "57014"), // ER_QUERY_TIMEOUT (MySQL)
    (1969, "57014"), // ER_STATEMENT_TIMEOUT (MariaDB)
    (1153, "54000"), // ER_NET_PACKET_TOO_LARGE
    (1021, "53100"), // ER_DISK_FULL
    (1037, "53200"), // ER_OUTOFMEMORY
    (1040, "53300"), // ER_CON_COUNT_ERROR
    (1203, "53300"), // ER_TOO_MANY_USER_CONNECTIONS
    (1044, "42501"), // ER_DBACCESS_DENIED_ERROR
    (1142, "42501"), // ER_TABLEACCESS_DENIED_ERROR
    (1143, "42501"), // ER_COLUMNACCESS_DENIED_ERROR
    (1227, "42501"), // ER_SPECIFIC_ACCESS_DENIED_ERROR
    (1045, "28P01"), // ER_ACCESS_DENIED_ERROR
    (1264, "22003"), // ER_WARN_DATA_OUT_OF_RANGE
    (1406, "22001"), // ER_DATA_TOO_LONG
    (1366, "22P02"), // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    (1292, "22007"), // ER_TRUNCATED_WRONG_VALUE (bad date/time)
    (1365, "22012"), // ER_DIVISION_BY_ZERO
    (2002, "08006"), // CR_CONNECTION_ERROR
    (2003, "08006"), // CR_CONN_HOST_ERROR
    (2006, "08006"), // CR_SERVER_GONE_ERROR
    (2013, "08006"), // CR_SERVER_LOST
];

/// The SQLSTATE for a server error number and the SQLSTATE the server sent.
pub(super) fn sqlstate(code: u16, server_state: &str) -> SqlState {
    ERRNO_TO_SQLSTATE
        .iter()
        .find(|(n, _)| *n == code)
        .and_then(|(_, s)| SqlState::parse(s))
        .or_else(|| SqlState::parse(server_state).filter(|s| s.as_str() != "HY000"))
        .unwrap_or(SqlState::INTERNAL_ERROR)
}

/// Maps a driver error; `address` names the server in connection errors.
pub(super) fn from_mysql(err: &mysql_async::Error, address: &str, phase: Phase) -> DbError {
    use mysql_async::{DriverError, Error as E};
    match err {
        E::Server(e) => {
            let mut db = DbError::new(sqlstate(e.code, &e.state), e.message.clone());
            db.detail = Some(format!("MySQL error {} ({})", e.code, e.state));
            db
        }
        E::Io(e) => connection(address, phase, &e.to_string()),
        E::Driver(DriverError::ConnectionClosed | DriverError::PoolDisconnected) => {
            connection(address, Phase::Run, &err.to_string())
        }
        E::Driver(DriverError::NoClientSslFlagFromServer) => {
            connection(address, Phase::Connect, "the server does not support TLS")
        }
        other => DbError::internal(format!("MySQL driver error: {other}")),
    }
}

/// `08006` for a connection that could not be opened or broke.
pub(super) fn connection(address: &str, phase: Phase, detail: &str) -> DbError {
    let message = match phase {
        Phase::Connect => format!("could not connect to the MySQL server at {address}"),
        Phase::Run => format!("connection to the MySQL server at {address} was lost"),
    };
    DbError::new(SqlState::CONNECTION_FAILURE, message).with_detail(detail.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_errno_has_a_valid_sqlstate() {
        for (code, state) in ERRNO_TO_SQLSTATE {
            assert_eq!(sqlstate(*code, "HY000").as_str(), *state, "{code}");
        }
    }

    #[test]
    fn mapping_table() {
        let cases = [
            (1062, "23000", "23505"),
            (1451, "23000", "23503"),
            (1452, "23000", "23503"),
            (1048, "23000", "23502"),
            (1364, "HY000", "23502"),
            (3819, "HY000", "23514"),
            (4025, "23000", "23514"),
            (1064, "42000", "42601"),
            (1146, "42S02", "42P01"),
            (1054, "42S22", "42703"),
            (1213, "40001", "40P01"),
            (1205, "HY000", "55P03"),
            (1317, "70100", "57014"),
            (1040, "08004", "53300"),
            (2013, "HY000", "08006"),
            // unmapped: the server's SQLSTATE, or XX000 for the catch-all
            (1227, "42000", "42501"),
            (9999, "42000", "42000"),
            (9999, "HY000", "XX000"),
        ];
        for (code, server, expected) in cases {
            assert_eq!(sqlstate(code, server).as_str(), expected, "{code}");
        }
    }

    #[test]
    fn connection_errors_name_the_server() {
        let io = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        let e = from_mysql(&io, "127.0.0.1:1", Phase::Connect);
        assert_eq!(e.code, SqlState::CONNECTION_FAILURE);
        assert!(e.message.contains("127.0.0.1:1"), "{}", e.message);
    }
}
