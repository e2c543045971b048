//! Error codes (0A000, 42704, 42601), SQLite-dialect pass-through, and inputs that must
//! not panic.
use super::*;
use crate::sqlstate::SqlState;

fn code(sql: &str) -> SqlState {
    match run(sql) {
        Err(e) => e.code,
        Ok(v) => panic!("{sql}: expected an error, got {v:?}"),
    }
}

#[test]
fn unsupported_constructs_are_0a000_naming_them() {
    for (sql, named) in [
        ("SELECT * FROM users u, LATERAL (SELECT 1) x", "LATERAL"),
        (
            "SELECT * FROM users u LEFT JOIN LATERAL (SELECT u.id) x ON true",
            "LATERAL",
        ),
        ("SELECT DISTINCT ON (name) name FROM users", "DISTINCT ON"),
        ("SELECT * FROM users TABLESAMPLE SYSTEM (10)", "TABLESAMPLE"),
        ("CREATE SCHEMA s", "CREATE SCHEMA"),
        ("CREATE EXTENSION pgcrypto", "CREATE EXTENSION"),
        ("CREATE SEQUENCE s", "CREATE SEQUENCE"),
        ("CREATE TYPE mood AS ENUM ('a', 'b')", "CREATE TYPE"),
        ("LISTEN ch", "LISTEN"),
        ("NOTIFY ch, 'x'", "NOTIFY"),
        ("COPY users FROM STDIN", "COPY"),
        ("DROP TABLE users CASCADE", "CASCADE"),
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT ON CONSTRAINT users_pkey DO NOTHING",
            "ON CONSTRAINT",
        ),
        (
            "SELECT * FROM users WHERE name SIMILAR TO 'a%'",
            "SIMILAR TO",
        ),
        ("SELECT * FROM users WHERE id = ANY($1)", "ANY"),
        ("SELECT current_schemas(false)", "current_schemas"),
        ("SELECT ARRAY[1, 2]", "arrays"),
        ("CREATE TABLE a (tags text[])", "array"),
        ("CREATE TABLE a (n int[])", "array"),
        ("CREATE TABLE a (id SERIAL, name TEXT)", "\"id\""),
        (
            "CREATE TABLE a (id SERIAL PRIMARY KEY, n BIGSERIAL)",
            "\"n\"",
        ),
        (
            "CREATE TABLE a (id INT GENERATED ALWAYS AS IDENTITY, v TEXT)",
            "\"id\"",
        ),
        ("COMMIT AND CHAIN", "AND CHAIN"),
        ("PREPARE TRANSACTION 'x'", "two-phase"),
        ("DO $$ BEGIN PERFORM 1; END $$", "DO blocks"),
        ("SELECT interval '1 day'", "INTERVAL"),
        ("SELECT now() AT TIME ZONE 'Europe/Paris'", "AT TIME ZONE"),
        ("SELECT now() - interval '1 fortnight'", "INTERVAL"),
        ("CREATE INDEX i ON users USING gin (name)", "USING GIN"),
        (
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
            "CREATE FUNCTION",
        ),
        (
            "CREATE MATERIALIZED VIEW mv AS SELECT 1",
            "MATERIALIZED VIEW",
        ),
        ("CREATE DATABASE d", "CREATE DATABASE"),
        ("ALTER TABLE users ADD COLUMN n SERIAL", "\"n\""),
        (
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
            "ALTER TABLE … ALTER COLUMN name",
        ),
        (
            "ALTER TABLE users ADD CONSTRAINT u UNIQUE (name)",
            "ALTER TABLE … ADD CONSTRAINT",
        ),
        ("DROP TABLE users, orders", "several objects"),
        ("COMMENT ON TABLE users IS 'x'", "COMMENT"),
        ("GRANT SELECT ON users TO bob", "GRANT"),
        ("INSERT INTO users (id) VALUES (1), (DEFAULT)", "DEFAULT"),
        ("ALTER TABLE users ADD COLUMN tags TEXT[]", "array"),
        ("TRUNCATE users, orders", "several tables"),
        ("TRUNCATE users CASCADE", "CASCADE"),
        (
            "SELECT * FROM users FETCH FIRST 10 PERCENT ROWS ONLY",
            "PERCENT",
        ),
    ] {
        let err = run(sql).expect_err(sql);
        assert_eq!(err.code, SqlState::FEATURE_NOT_SUPPORTED, "{sql}: {err:?}");
        assert!(err.message.contains(named), "{sql}: {}", err.message);
        assert!(
            err.message
                .ends_with("is not supported by the embedded SQLite database"),
            "{sql}: {}",
            err.message
        );
    }
}

#[test]
fn unknown_setting_is_42704() {
    let err = run("SELECT current_setting('no_such')").unwrap_err();
    assert_eq!(err.code, SqlState::UNDEFINED_OBJECT);
    assert_eq!(
        err.message,
        "unrecognized configuration parameter \"no_such\""
    );
}

#[test]
fn incomplete_text_is_42601() {
    for sql in [
        "SELECT 'abc",
        "SELECT \"abc",
        "SELECT 1 /* open",
        "SELECT E'abc\\'",
        "SELECT $$abc",
        "SELECT $t$abc$$",
        "/* /* nested */",
    ] {
        assert_eq!(code(sql), SqlState::SYNTAX_ERROR, "{sql}");
    }
    let err = run("SELECT 'é', 'abc").unwrap_err();
    assert_eq!(err.position, Some(13));
    assert_eq!(err.message, "unterminated quoted string");
}

#[test]
fn sqlite_dialect_passes_through_unchanged() {
    for sql in [
        "INSERT OR REPLACE INTO users (id) VALUES (1)",
        "SELECT * FROM users INDEXED BY sqlite_autoindex",
        "PRAGMA table_info(users)",
        "SELECT * FROM users WHERE name GLOB 'a*'",
        "CREATE TABLE x (a INTEGER PRIMARY KEY AUTOINCREMENT) STRICT",
        "SELECT json_extract('{}', '$.a')",
        "VACUUM",
        "SELEC 1",
    ] {
        let t = query(sql);
        assert_eq!(t.sql, sql, "{sql}");
    }
}

#[test]
fn odd_inputs_never_panic() {
    let long_digits = "9".repeat(400);
    let deep = "(".repeat(5000);
    let deep_expr = format!("SELECT {}1{}", "(".repeat(300), ")".repeat(300));
    let many_params = format!("SELECT ${}", "9".repeat(30));
    let odd: Vec<String> = [
        "",
        " ",
        ";",
        ";;;",
        "--",
        "/*",
        "*/",
        "'",
        "\"",
        "$",
        "$$",
        "$1",
        "$a$",
        "E'",
        "e'\\",
        "\\",
        "?",
        "::",
        ":::",
        "[",
        "]",
        "(((",
        ")))",
        "SELECT",
        "SELECT ;",
        "SET",
        "SET x",
        "SET x =",
        "SET = 1",
        "SHOW",
        "RESET",
        "BEGIN BEGIN",
        "ROLLBACK TO",
        "RELEASE",
        "SAVEPOINT",
        "COMMIT PREPARED",
        "SELECT 1::",
        "SELECT ::int",
        "SELECT 'é'::regclass",
        "SELECT ñ FROM ü",
        "SELECT '😀' || $1",
        "SELECT 1e",
        "SELECT 1e+",
        "SELECT .5.5",
        "SELECT x FROM y WHERE z ~ ",
        "CREATE TABLE",
        "CREATE TABLE t (",
        "INSERT INTO",
        "SELECT pg_advisory_lock(99999999999999999999)",
        "SELECT pg_advisory_lock(1, 99999999999)",
        "SELECT current_setting()",
        "SELECT current_setting(1)",
        "SELECT EXTRACT(century FROM now())",
        "\u{0}",
        "\u{feff}SELECT 1",
        "SELECT $0",
        "CREATE TRIGGER t BEGIN",
        "WITH",
        "WITH x AS",
        "SELECT * FROM t1, LATERAL",
        "SET TIME ZONE",
        "SET TRANSACTION",
        "SHOW TRANSACTION",
        "SELECT set_config('a')",
        "DROP",
        "SELECT 1 FOR UPDATE OF",
        "x::y::z",
        "E'\\x'",
        "SELECT E'\\u12'",
        "SELECT E'\\777'",
        "SELECT E'\\U0010FFFF'",
        "SELECT E'\\UFFFFFFFF'",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([long_digits, deep, deep_expr, many_params])
    .collect();
    for sql in &odd {
        let result = run(sql);
        if let Err(e) = result {
            assert!(
                [
                    SqlState::SYNTAX_ERROR,
                    SqlState::FEATURE_NOT_SUPPORTED,
                    SqlState::UNDEFINED_OBJECT
                ]
                .contains(&e.code),
                "{sql}: {e:?}"
            );
        }
    }
}

/// Random texts from SQL-ish fragments (a fixed seed, so failures reproduce).
#[test]
fn random_fragments_never_panic() {
    const FRAGMENTS: &[&str] = &[
        "SELECT ",
        "FROM ",
        "users ",
        "WHERE ",
        "id ",
        "= ",
        "$1 ",
        "'a' ",
        "E'\\n' ",
        "$$x$$ ",
        "( ",
        ") ",
        ", ",
        "; ",
        "::int4 ",
        "::regclass ",
        "~* ",
        "ILIKE ",
        "ANY(",
        "ARRAY[",
        "] ",
        "now() ",
        "CURRENT_DATE ",
        "current_setting('timezone') ",
        "IS DISTINCT FROM ",
        "INSERT INTO ",
        "VALUES ",
        "UPDATE ",
        "SET ",
        "DELETE ",
        "CREATE TABLE t (",
        "SERIAL ",
        "PRIMARY KEY ",
        "DEFAULT ",
        "BEGIN ",
        "COMMIT ",
        "ROLLBACK TO ",
        "SAVEPOINT ",
        "SHOW ",
        "RESET ",
        "TO ",
        "LOCAL ",
        "WITH ",
        "AS ",
        "JOIN ",
        "ON ",
        "LATERAL ",
        "LIMIT ",
        "OFFSET ",
        "FETCH FIRST ",
        "ROWS ONLY ",
        "FOR UPDATE ",
        "EXTRACT(year FROM ",
        "position('a' IN ",
        "substring(x FROM ",
        "CASE WHEN ",
        "THEN ",
        "ELSE ",
        "END ",
        "COLLATE \"C\" ",
        "OPERATOR(pg_catalog.~) ",
        "pg_catalog.",
        "information_schema.",
        "/* c */ ",
        "-- c\n",
        "\"Q\" ",
        "1.5 ",
        "99999999999999999999 ",
        "é ",
        "\\ ",
        "'",
        "\"",
        "/*",
        "$",
        "TRUE ",
        "NULL ",
        "* ",
        "RETURNING ",
        "ON CONFLICT (id) DO ",
        "NOTHING ",
        "EXCLUDED.",
        "pg_advisory_lock(",
        "set_config(",
        "TRUNCATE ",
        "USING ",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = next() % 24;
        let mut sql = String::new();
        for _ in 0..len {
            let i = usize::try_from(next() % FRAGMENTS.len() as u64).unwrap();
            sql.push_str(FRAGMENTS[i]);
        }
        if let Err(e) = run(&sql) {
            assert!(
                [
                    SqlState::SYNTAX_ERROR,
                    SqlState::FEATURE_NOT_SUPPORTED,
                    SqlState::UNDEFINED_OBJECT
                ]
                .contains(&e.code),
                "{sql}: {e:?}"
            );
        }
    }
}

#[test]
fn long_operator_chains_pass_through_without_overflowing_the_stack() {
    for n in [300usize, 400, 5_000, 20_000] {
        for sql in [
            format!("SELECT {}1", "1 + ".repeat(n)),
            format!("SELECT {}1::int4", "(1) || ".repeat(n)),
            format!("SELECT 1 WHERE {}true", "x ILIKE 'a' AND ".repeat(n)),
            format!("SELECT 1{}", "::int4".repeat(n)),
            format!("SELECT 1, 2{}", " UNION SELECT 3, 4".repeat(n)),
            // Chains nested in chains: the depths add up.
            format!(
                "SELECT {}1{}",
                "(1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + ".repeat(n / 8),
                ")".repeat(n / 8)
            ),
        ] {
            let t = query(&sql);
            if n > 400 {
                assert_eq!(t.sql, sql);
            }
        }
    }
}

#[test]
fn malformed_bytea_literal_is_22p02() {
    for sql in [
        "SELECT '\\x0g'::bytea",
        "INSERT INTO users (name) VALUES ('\\9'::bytea)",
    ] {
        assert_eq!(code(sql), SqlState::INVALID_TEXT_REPRESENTATION, "{sql}");
    }
}
