//! SQLSTATE codes: the five-character error class every Starbase error carries.
//!
//! Owns the `SqlState` newtype, the named codes the gateway assigns itself, and the
//! mapping from a code to an HTTP status. Must not know about any driver or frontend type.

use std::fmt;

/// A five-character SQLSTATE (`[0-9A-Z]{5}`). `Copy` and cheap to pass around.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState([u8; 5]);

impl SqlState {
    /// `00000` successful completion.
    pub const SUCCESS: Self = Self(*b"00000");
    /// `02000` no data (e.g. no row has the requested key).
    pub const NO_DATA: Self = Self(*b"02000");
    /// `08001` sqlclient unable to establish sqlconnection.
    pub const CONNECTION_FAILURE_CLIENT: Self = Self(*b"08001");
    /// `08006` connection failure.
    pub const CONNECTION_FAILURE: Self = Self(*b"08006");
    /// `08P01` protocol violation (malformed request on any frontend).
    pub const PROTOCOL_VIOLATION: Self = Self(*b"08P01");
    /// `0A000` feature not supported.
    pub const FEATURE_NOT_SUPPORTED: Self = Self(*b"0A000");
    /// `22003` numeric value out of range.
    pub const NUMERIC_VALUE_OUT_OF_RANGE: Self = Self(*b"22003");
    /// `22023` invalid parameter value (bad params, bad request DTO).
    pub const INVALID_PARAMETER_VALUE: Self = Self(*b"22023");
    /// `2201B` invalid regular expression.
    pub const INVALID_REGULAR_EXPRESSION: Self = Self(*b"2201B");
    /// `22P02` invalid text representation.
    pub const INVALID_TEXT_REPRESENTATION: Self = Self(*b"22P02");
    /// `23502` not null violation.
    pub const NOT_NULL_VIOLATION: Self = Self(*b"23502");
    /// `23503` foreign key violation.
    pub const FOREIGN_KEY_VIOLATION: Self = Self(*b"23503");
    /// `23505` unique violation.
    pub const UNIQUE_VIOLATION: Self = Self(*b"23505");
    /// `23514` check violation.
    pub const CHECK_VIOLATION: Self = Self(*b"23514");
    /// `23000` integrity constraint violation (unspecified).
    pub const INTEGRITY_CONSTRAINT_VIOLATION: Self = Self(*b"23000");
    /// `25001` active SQL transaction.
    pub const ACTIVE_SQL_TRANSACTION: Self = Self(*b"25001");
    /// `25006` read only SQL transaction.
    pub const READ_ONLY_SQL_TRANSACTION: Self = Self(*b"25006");
    /// `25P01` no active SQL transaction.
    pub const NO_ACTIVE_SQL_TRANSACTION: Self = Self(*b"25P01");
    /// `25P02` in failed SQL transaction.
    pub const IN_FAILED_SQL_TRANSACTION: Self = Self(*b"25P02");
    /// `25P03` idle in transaction session timeout.
    pub const IDLE_IN_TRANSACTION_TIMEOUT: Self = Self(*b"25P03");
    /// `28000` invalid authorization specification (missing credentials).
    pub const INVALID_AUTHORIZATION: Self = Self(*b"28000");
    /// `28P01` invalid password (wrong token).
    pub const INVALID_PASSWORD: Self = Self(*b"28P01");
    /// `3D000` invalid catalog name (unknown source).
    pub const INVALID_CATALOG_NAME: Self = Self(*b"3D000");
    /// `3F000` invalid schema name (no such schema).
    pub const INVALID_SCHEMA_NAME: Self = Self(*b"3F000");
    /// `40001` serialization failure.
    pub const SERIALIZATION_FAILURE: Self = Self(*b"40001");
    /// `40P01` deadlock detected.
    pub const DEADLOCK_DETECTED: Self = Self(*b"40P01");
    /// `42501` insufficient privilege.
    pub const INSUFFICIENT_PRIVILEGE: Self = Self(*b"42501");
    /// `42601` syntax error.
    pub const SYNTAX_ERROR: Self = Self(*b"42601");
    /// `42703` undefined column.
    pub const UNDEFINED_COLUMN: Self = Self(*b"42703");
    /// `42883` undefined function.
    pub const UNDEFINED_FUNCTION: Self = Self(*b"42883");
    /// `42P01` undefined table.
    pub const UNDEFINED_TABLE: Self = Self(*b"42P01");
    /// `42P07` duplicate table.
    pub const DUPLICATE_TABLE: Self = Self(*b"42P07");
    /// `42701` duplicate column.
    pub const DUPLICATE_COLUMN: Self = Self(*b"42701");
    /// `42704` undefined object.
    pub const UNDEFINED_OBJECT: Self = Self(*b"42704");
    /// `wrong_object_type`: the statement needs another kind of object (writing a view).
    pub const WRONG_OBJECT_TYPE: Self = Self(*b"42809");
    /// `42804` datatype mismatch.
    pub const DATATYPE_MISMATCH: Self = Self(*b"42804");
    /// `53100` disk full.
    pub const DISK_FULL: Self = Self(*b"53100");
    /// `53200` out of memory.
    pub const OUT_OF_MEMORY: Self = Self(*b"53200");
    /// `53300` too many connections (pool exhausted).
    pub const TOO_MANY_CONNECTIONS: Self = Self(*b"53300");
    /// `53400` configuration limit exceeded (a rate limit).
    pub const CONFIGURATION_LIMIT_EXCEEDED: Self = Self(*b"53400");
    /// `54000` program limit exceeded (row, size and body limits).
    pub const PROGRAM_LIMIT_EXCEEDED: Self = Self(*b"54000");
    /// `55P03` lock not available (busy / locked).
    pub const LOCK_NOT_AVAILABLE: Self = Self(*b"55P03");
    /// `55P02` cant change runtime param (a read-only setting).
    pub const CANT_CHANGE_RUNTIME_PARAM: Self = Self(*b"55P02");
    /// `22021` character not in repertoire (invalid UTF-8 in a parameter).
    pub const INVALID_BYTE_SEQUENCE: Self = Self(*b"22021");
    /// `22P03` invalid binary representation (a malformed binary parameter).
    pub const INVALID_BINARY_REPRESENTATION: Self = Self(*b"22P03");
    /// `26000` invalid SQL statement name (unknown prepared statement).
    pub const INVALID_SQL_STATEMENT_NAME: Self = Self(*b"26000");
    /// `34000` invalid cursor name (unknown portal).
    pub const INVALID_CURSOR_NAME: Self = Self(*b"34000");
    /// `57014` query canceled (statement timeout, cancel request).
    pub const QUERY_CANCELED: Self = Self(*b"57014");
    /// `57P01` admin shutdown.
    pub const ADMIN_SHUTDOWN: Self = Self(*b"57P01");
    /// `58030` I/O error.
    pub const IO_ERROR: Self = Self(*b"58030");
    /// `XX000` internal error.
    pub const INTERNAL_ERROR: Self = Self(*b"XX000");
    /// `XX001` data corrupted.
    pub const DATA_CORRUPTED: Self = Self(*b"XX001");

    /// Parses a code; `None` unless it is exactly five characters of `[0-9A-Z]`.
    #[must_use]
    pub fn parse(code: &str) -> Option<Self> {
        let bytes: [u8; 5] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            .then_some(Self(bytes))
    }

    /// The code as text, e.g. `"23505"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Invariant: constructed only from ASCII bytes (constants and `parse`).
        std::str::from_utf8(&self.0).unwrap_or("XX000")
    }

    /// The two-character class, e.g. `"23"`.
    #[must_use]
    pub fn class(&self) -> &str {
        &self.as_str()[..2]
    }

    /// The HTTP status this code maps to on the HTTP and WebSocket frontends.
    ///
    /// StarbaseDB answers 500 for every query error; Starbase picks the status from the
    /// SQLSTATE class so clients can tell their mistakes from server faults.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match (self.class(), self.as_str()) {
            ("28", _) => 401,
            (_, "53400") => 429,
            (_, "42501") => 403,
            (_, "3D000") => 404,
            (_, "57014") => 408,
            (_, "55P03") | ("40", _) => 409,
            (_, "08P01") | ("22" | "23" | "42" | "0A" | "25" | "54", _) => 400,
            ("08" | "53", _) | (_, "57P01") => 503,
            _ => 500,
        }
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SqlState({})", self.as_str())
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_five_upper_alnum() {
        assert_eq!(SqlState::parse("23505"), Some(SqlState::UNIQUE_VIOLATION));
        assert_eq!(SqlState::parse("42P01"), Some(SqlState::UNDEFINED_TABLE));
        assert_eq!(SqlState::parse("4250"), None);
        assert_eq!(SqlState::parse("42p01"), None);
        assert_eq!(SqlState::parse("425011"), None);
        assert_eq!(SqlState::UNIQUE_VIOLATION.class(), "23");
    }

    #[test]
    fn http_status_follows_class_table() {
        let cases = [
            ("28000", 401),
            ("28P01", 401),
            ("42501", 403),
            ("3D000", 404),
            ("22023", 400),
            ("23505", 400),
            ("42P01", 400),
            ("42601", 400),
            ("0A000", 400),
            ("08P01", 400),
            ("54000", 400),
            ("40001", 409),
            ("55P03", 409),
            ("57014", 408),
            ("08006", 503),
            ("53300", 503),
            ("53400", 429),
            ("57P01", 503),
            ("XX000", 500),
        ];
        for (code, status) in cases {
            let state = SqlState::parse(code).unwrap();
            assert_eq!(state.http_status(), status, "{code}");
        }
    }
}
