//! SQLite errors to SQLSTATEs.
//!
//! Owns `classify`, the one place where a `rusqlite::Error` becomes a client-facing `DbError`:
//! SQLite's extended result codes first, then (for the catch-all `SQLITE_ERROR`) the prefixes
//! of SQLite's own messages. Messages are SQLite's text without rusqlite's decorations. Must
//! not know about jobs, threads or frontends.

use rusqlite::ffi;
use starbase_protocol::{DbError, SqlState};

/// Maps a rusqlite error to the client-facing error with its SQLSTATE.
///
/// The message is SQLite's own (e.g. `no such table: x`); `position` is set (1-based,
/// in characters of the text that was prepared) when SQLite reports where the error is.
#[must_use]
pub fn classify(err: &rusqlite::Error) -> DbError {
    use rusqlite::Error as E;
    match err {
        E::SqliteFailure(code, msg) => {
            let message = msg
                .clone()
                .unwrap_or_else(|| ffi::code_to_str(code.extended_code).to_owned());
            DbError::new(sqlite_code(code.extended_code, &message), message)
        }
        E::SqlInputError {
            error,
            msg,
            sql,
            offset,
        } => {
            let mut db = DbError::new(sqlite_code(error.extended_code, msg), msg.clone());
            db.position = char_position(sql, *offset);
            db
        }
        E::InvalidParameterCount(given, expected) => DbError::invalid_parameter(format!(
            "statement expects {expected} parameters, but {given} were supplied"
        )),
        E::InvalidParameterName(name) => {
            DbError::invalid_parameter(format!("statement has no parameter \"{name}\""))
        }
        E::ToSqlConversionFailure(e) => {
            DbError::invalid_parameter(format!("invalid parameter value: {e}"))
        }
        E::Empty => DbError::new(SqlState::SYNTAX_ERROR, "empty query"),
        E::MultipleStatement => DbError::new(
            SqlState::SYNTAX_ERROR,
            "cannot insert multiple commands into a prepared statement",
        ),
        other => DbError::internal(other.to_string()),
    }
}

/// The SQLSTATE for an extended result code and its message.
fn sqlite_code(extended: i32, message: &str) -> SqlState {
    match extended {
        ffi::SQLITE_CONSTRAINT_UNIQUE
        | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        | ffi::SQLITE_CONSTRAINT_ROWID => return SqlState::UNIQUE_VIOLATION,
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return SqlState::FOREIGN_KEY_VIOLATION,
        ffi::SQLITE_CONSTRAINT_NOTNULL => return SqlState::NOT_NULL_VIOLATION,
        ffi::SQLITE_CONSTRAINT_CHECK => return SqlState::CHECK_VIOLATION,
        // A STRICT table refusing a value of the wrong type is a type error, not a constraint.
        ffi::SQLITE_CONSTRAINT_DATATYPE => return SqlState::DATATYPE_MISMATCH,
        _ => {}
    }
    match extended & 0xff {
        ffi::SQLITE_CONSTRAINT => SqlState::INTEGRITY_CONSTRAINT_VIOLATION,
        ffi::SQLITE_ERROR => error_message_code(message),
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => SqlState::LOCK_NOT_AVAILABLE,
        ffi::SQLITE_READONLY => SqlState::READ_ONLY_SQL_TRANSACTION,
        ffi::SQLITE_INTERRUPT => SqlState::QUERY_CANCELED,
        ffi::SQLITE_TOOBIG => SqlState::PROGRAM_LIMIT_EXCEEDED,
        ffi::SQLITE_FULL => SqlState::DISK_FULL,
        ffi::SQLITE_NOMEM => SqlState::OUT_OF_MEMORY,
        ffi::SQLITE_AUTH => SqlState::INSUFFICIENT_PRIVILEGE,
        ffi::SQLITE_CORRUPT | ffi::SQLITE_NOTADB => SqlState::DATA_CORRUPTED,
        ffi::SQLITE_RANGE => SqlState::INVALID_PARAMETER_VALUE,
        ffi::SQLITE_MISMATCH => SqlState::DATATYPE_MISMATCH,
        ffi::SQLITE_IOERR | ffi::SQLITE_CANTOPEN => SqlState::IO_ERROR,
        _ => SqlState::INTERNAL_ERROR,
    }
}

/// `SQLITE_ERROR` covers most user mistakes; SQLite tells them apart only in the message.
fn error_message_code(message: &str) -> SqlState {
    const PREFIXES: &[(&str, SqlState)] = &[
        ("no such table", SqlState::UNDEFINED_TABLE),
        ("no such column", SqlState::UNDEFINED_COLUMN),
        ("no such function", SqlState::UNDEFINED_FUNCTION),
        (
            "wrong number of arguments to function",
            SqlState::UNDEFINED_FUNCTION,
        ),
        ("no such index", SqlState::UNDEFINED_OBJECT),
        ("no such view", SqlState::UNDEFINED_OBJECT),
        ("no such trigger", SqlState::UNDEFINED_OBJECT),
        ("duplicate column name", SqlState::DUPLICATE_COLUMN),
        ("unrecognized token", SqlState::SYNTAX_ERROR),
        ("incomplete input", SqlState::SYNTAX_ERROR),
        (
            "wrong number of bindings",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        // Raised in PostgreSQL's words by the catalog functions (`catalog`).
        ("relation \"", SqlState::UNDEFINED_TABLE),
        ("type \"", SqlState::UNDEFINED_OBJECT),
        ("function \"", SqlState::UNDEFINED_FUNCTION),
        ("schema \"", SqlState::INVALID_SCHEMA_NAME),
        ("permission denied for", SqlState::INSUFFICIENT_PRIVILEGE),
        (
            "invalid regular expression:",
            SqlState::INVALID_REGULAR_EXPRESSION,
        ),
        (
            "invalid input syntax for type",
            SqlState::INVALID_TEXT_REPRESENTATION,
        ),
        (
            "field position must not be zero",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
    ];
    if let Some((_, code)) = PREFIXES.iter().find(|(p, _)| message.starts_with(p)) {
        *code
    } else if message.contains("syntax error") {
        SqlState::SYNTAX_ERROR
    } else if message.ends_with("already exists") {
        SqlState::DUPLICATE_TABLE
    } else if message.starts_with("cannot modify") && message.ends_with("because it is a view") {
        SqlState::WRONG_OBJECT_TYPE
    } else {
        SqlState::INTERNAL_ERROR
    }
}

/// 1-based character position of byte `offset` in `sql`, when SQLite gave one.
fn char_position(sql: &str, offset: i32) -> Option<u32> {
    let offset = usize::try_from(offset).ok()?;
    let prefix = sql.get(..offset)?;
    u32::try_from(prefix.chars().count() + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE p (id INTEGER PRIMARY KEY, u TEXT UNIQUE, nn TEXT NOT NULL DEFAULT 'x',
                             c INTEGER CHECK (c > 0));
             CREATE TABLE ch (p_id INTEGER REFERENCES p(id));
             CREATE TABLE s (i INTEGER) STRICT;
             CREATE VIEW pv AS SELECT id FROM p;
             CREATE TRIGGER no_neg BEFORE INSERT ON ch WHEN NEW.p_id < 0
                 BEGIN SELECT RAISE(ABORT, 'negative'); END;
             INSERT INTO p (id, u, c) VALUES (1, 'a', 1);",
        )
        .unwrap();
        conn
    }

    /// Runs `sql` (all statements, to completion) and returns the error it must produce.
    fn fail(conn: &Connection, sql: &str) -> rusqlite::Error {
        let run = || -> rusqlite::Result<()> {
            let mut stmt = conn.prepare(sql)?;
            let mut rows = stmt.raw_query();
            while rows.next()?.is_some() {}
            Ok(())
        };
        run().expect_err(sql)
    }

    fn sqlite_failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn sql_errors_map_to_sqlstates() {
        let conn = conn();
        let cases: &[(&str, &str, &str)] = &[
            (
                "INSERT INTO p (id, u) VALUES (1, 'b')",
                "23505",
                "UNIQUE constraint failed: p.id",
            ),
            (
                "INSERT INTO p (id, u) VALUES (2, 'a')",
                "23505",
                "UNIQUE constraint failed: p.u",
            ),
            (
                "INSERT INTO ch VALUES (99)",
                "23503",
                "FOREIGN KEY constraint failed",
            ),
            (
                "INSERT INTO p (id, nn) VALUES (3, NULL)",
                "23502",
                "NOT NULL constraint failed: p.nn",
            ),
            (
                "INSERT INTO p (id, c) VALUES (4, 0)",
                "23514",
                "CHECK constraint failed: c > 0",
            ),
            ("INSERT INTO ch VALUES (-1)", "23000", "negative"),
            (
                "INSERT INTO s VALUES ('abc')",
                "42804",
                "cannot store TEXT value",
            ),
            (
                "INSERT INTO p (id) VALUES ('abc')",
                "42804",
                "datatype mismatch",
            ),
            ("SELEC 1", "42601", "near \"SELEC\": syntax error"),
            ("SELECT (1", "42601", "incomplete input"),
            ("SELECT 'abc", "42601", "unrecognized token: \"'abc\""),
            ("SELECT * FROM nope", "42P01", "no such table: nope"),
            ("SELECT nope FROM p", "42703", "no such column: nope"),
            ("SELECT nope(1)", "42883", "no such function: nope"),
            (
                "SELECT abs(1, 2)",
                "42883",
                "wrong number of arguments to function abs()",
            ),
            ("CREATE TABLE p (x)", "42P07", "table p already exists"),
            ("CREATE TABLE d (a, a)", "42701", "duplicate column name: a"),
            ("DROP INDEX nope", "42704", "no such index: nope"),
            ("DROP VIEW nope", "42704", "no such view: nope"),
            ("DROP TRIGGER nope", "42704", "no such trigger: nope"),
            (
                "INSERT INTO pv VALUES (1)",
                "42809",
                "cannot modify pv because it is a view",
            ),
            (
                "SELECT zeroblob(2000000000)",
                "54000",
                "string or blob too big",
            ),
            ("SELECT json('{')", "XX000", "malformed JSON"),
        ];
        for (sql, code, message) in cases {
            let err = classify(&fail(&conn, sql));
            assert_eq!(err.code.as_str(), *code, "{sql}: {err:?}");
            assert!(err.message.starts_with(message), "{sql}: {}", err.message);
        }
    }

    #[test]
    fn catalog_function_messages_map_to_sqlstates() {
        let cases: &[(&str, &str)] = &[
            ("relation \"nope\" does not exist", "42P01"),
            ("type \"geometry\" does not exist", "42704"),
            ("function \"nope\" does not exist", "42883"),
            ("schema \"nope\" does not exist", "3F000"),
            (
                "permission denied for function starbase_catalog_load",
                "42501",
            ),
            ("invalid regular expression: unclosed group", "2201B"),
            ("invalid input syntax for type integer: \"x\"", "22P02"),
            ("field position must not be zero", "22023"),
        ];
        for (message, code) in cases {
            let err = rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_ERROR),
                Some((*message).to_owned()),
            );
            let db = classify(&err);
            assert_eq!((db.code.as_str(), db.message.as_str()), (*code, *message));
        }
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = classify(&fail(&conn(), "SELECT 1 FROM p WHERE é ="));
        assert_eq!(err.code, SqlState::SYNTAX_ERROR);
        assert_eq!(err.message, "incomplete input");
        let err = classify(&fail(&conn(), "SELECT 'é', FROM p"));
        assert_eq!(err.message, "near \"FROM\": syntax error");
        // "FROM" starts at character 13 (the é is one character, two bytes).
        assert_eq!(err.position, Some(13), "{err:?}");
    }

    #[test]
    fn locked_readonly_busy_notadb_full_auth_interrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
            .unwrap();

        // SQLITE_LOCKED: dropping a table while a statement still reads it.
        let mut stmt = conn.prepare("SELECT x FROM t").unwrap();
        let mut rows = stmt.raw_query();
        rows.next().unwrap();
        let err = conn.execute_batch("DROP TABLE t").unwrap_err();
        assert_eq!(classify(&err).code.as_str(), "55P03", "{err}");
        drop(rows);
        drop(stmt);

        // SQLITE_BUSY: a second connection wants the write lock the first one holds.
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        let err = other.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        let db = classify(&err);
        assert_eq!(db.code.as_str(), "55P03", "{err}");
        assert_eq!(db.message, "database is locked");
        conn.execute_batch("ROLLBACK").unwrap();

        // SQLITE_READONLY
        let ro = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let err = ro.execute("INSERT INTO t VALUES (3)", []).unwrap_err();
        assert_eq!(classify(&err).code.as_str(), "25006", "{err}");

        // SQLITE_FULL: the database may not grow past its page limit.
        conn.execute_batch("PRAGMA max_page_count = 3").unwrap();
        let err = conn
            .execute_batch("CREATE TABLE big (b); INSERT INTO big VALUES (zeroblob(100000));")
            .unwrap_err();
        assert_eq!(classify(&err).code.as_str(), "53100", "{err}");

        // SQLITE_NOTADB
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let bad = Connection::open(&junk).unwrap();
        let err = bad
            .execute_batch("SELECT * FROM sqlite_master")
            .unwrap_err();
        assert_eq!(classify(&err).code.as_str(), "XX001", "{err}");
    }

    #[test]
    fn authorizer_and_interrupt() {
        use rusqlite::hooks::Authorization;
        let mut conn = conn();
        conn.authorizer(Some(|_: rusqlite::hooks::AuthContext<'_>| {
            Authorization::Deny
        }))
        .unwrap();
        let err = fail(&conn, "SELECT 1");
        assert_eq!(classify(&err).code.as_str(), "42501", "{err}");
        conn.authorizer(None::<fn(rusqlite::hooks::AuthContext<'_>) -> Authorization>)
            .unwrap();

        conn.progress_handler(1, Some(|| true)).unwrap();
        let err = fail(&conn, "SELECT count(*) FROM p");
        let db = classify(&err);
        assert_eq!(db.code.as_str(), "57014", "{err}");
        assert_eq!(db.message, "interrupted");
    }

    #[test]
    fn parameter_errors_are_22023() {
        let conn = conn();
        let mut stmt = conn.prepare("SELECT ?1").unwrap();
        let err = stmt.raw_bind_parameter(5, 1).unwrap_err();
        assert_eq!(classify(&err).code.as_str(), "22023", "{err}");
        let err = stmt.execute([1, 2]).unwrap_err();
        assert_eq!(classify(&err).code.as_str(), "22023", "{err}");
        let err = conn.prepare("").unwrap_err();
        let db = classify(&err);
        assert_eq!(
            (db.code.as_str(), db.message.as_str()),
            ("42601", "empty query")
        );
    }

    #[test]
    fn codes_without_a_cheap_real_trigger() {
        let cases = [
            (ffi::SQLITE_NOMEM, "53200"),
            (ffi::SQLITE_CORRUPT, "XX001"),
            (ffi::SQLITE_MISMATCH, "42804"),
            (ffi::SQLITE_RANGE, "22023"),
            (ffi::SQLITE_IOERR_WRITE, "58030"),
            (ffi::SQLITE_CANTOPEN, "58030"),
            (ffi::SQLITE_LOCKED_SHAREDCACHE, "55P03"),
            (ffi::SQLITE_BUSY_SNAPSHOT, "55P03"),
            (ffi::SQLITE_CONSTRAINT_ROWID, "23505"),
            (ffi::SQLITE_INTERNAL, "XX000"),
        ];
        let err = rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some("wrong number of bindings".into()),
        );
        assert_eq!(classify(&err).code.as_str(), "22023");
        for (code, state) in cases {
            let db = classify(&sqlite_failure(code));
            assert_eq!(db.code.as_str(), state, "code {code}");
            assert!(!db.message.starts_with("Error code"), "{}", db.message);
        }
    }
}
