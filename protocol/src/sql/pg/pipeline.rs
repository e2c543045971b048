//! Which statements a transaction pooler may pipeline: send on a server connection that
//! other clients' statements are queued on, before the one ahead has been answered.
//!
//! That is safe only for a statement that runs as its own transaction and leaves nothing
//! behind in the session: one statement, no transaction control, no setting, lock, cursor,
//! temporary object or sequence state that the next client on that connection would
//! inherit or that the client itself would look for later. Decided conservatively from
//! the text alone (a false "no" only costs the statement its own round trip). Owns
//! [`pipeline_safe`]. Must not know the wire protocol or pools.

/// Statement kinds that run as one autocommit transaction and change no session state.
const FIRST_WORDS: [&str; 8] = [
    "SELECT", "VALUES", "TABLE", "WITH", "SHOW", "INSERT", "UPDATE", "DELETE",
];

/// Text that may reach session state from inside such a statement: advisory locks,
/// `set_config`, temporary tables (`SELECT … INTO TEMP`), the session's sequence values.
const SESSION_WORDS: [&[u8]; 5] = [b"advisory", b"set_config", b"temp", b"currval", b"lastval"];

/// True when `sql` is one statement that may be pipelined with other clients' statements
/// on one server connection: it starts with `SELECT`, `VALUES`, `TABLE`, `WITH`, `SHOW`,
/// `INSERT`, `UPDATE` or `DELETE`, holds no `;` but a trailing one, and names none of the
/// session-level functions or `TEMP`. Outside a transaction block such a statement is its
/// own transaction, so the connection is idle again after its answer.
#[must_use]
pub fn pipeline_safe(sql: &str) -> bool {
    let body = sql.trim_end().trim_end_matches(';');
    if body.contains(';') {
        return false;
    }
    let start = body.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    let word = start
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if !FIRST_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        return false;
    }
    !SESSION_WORDS.iter().any(|needle| {
        body.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    })
}

#[cfg(test)]
mod tests {
    use super::pipeline_safe;

    #[test]
    fn single_autocommit_statements_may_be_pipelined() {
        for sql in [
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
            "  select 1",
            "(SELECT 1) UNION (SELECT 2)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "INSERT INTO t VALUES ($1)",
            "update t set a = 1",
            "DELETE FROM t",
            "VALUES (1), (2)",
            "TABLE t",
            "SHOW work_mem",
            "SELECT pg_sleep(1)",
        ] {
            assert!(pipeline_safe(sql), "{sql}");
        }
    }

    #[test]
    fn statements_that_touch_the_session_are_not() {
        for sql in [
            "BEGIN",
            "SELECT 1; BEGIN",
            "SELECT 1; SELECT 2",
            "SELECT ';'; SELECT 2",
            "SET work_mem = '1MB'",
            "START TRANSACTION",
            "COMMIT",
            "LISTEN x",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "PREPARE p AS SELECT 1",
            "CREATE TABLE t (a int)",
            "COPY t FROM STDIN",
            "SELECT pg_advisory_lock(1)",
            "SELECT set_config('search_path', 'x', false)",
            "SELECT * INTO TEMP t2 FROM t",
            "SELECT currval('s')",
            "SELECT lastval()",
            "-- comment\nSELECT 1",
            "/* c */ SELECT 1",
            "",
            "EXPLAIN ANALYZE DELETE FROM t",
        ] {
            assert!(!pipeline_safe(sql), "{sql}");
        }
    }
}
