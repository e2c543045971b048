//! SET/RESET/SHOW forms, transaction control, advisory locks, splitting and tags.
use super::*;
use crate::plan::{StmtKind, TxnControl};
use crate::sql::pg::SetCommand;

fn one(sql: &str) -> PgStatement {
    match run(sql) {
        Ok(mut v) if v.len() == 1 => v.pop().unwrap(),
        other => panic!("{sql}: {other:?}"),
    }
}

fn value(name: &str, value: &str, local: bool) -> PgStatement {
    PgStatement::Set(SetCommand::Value {
        name: name.to_owned(),
        value: value.to_owned(),
        local,
    })
}

fn default(name: &str, local: bool) -> PgStatement {
    PgStatement::Set(SetCommand::Default {
        name: name.to_owned(),
        local,
    })
}

#[test]
fn set_forms() {
    let cases = [
        (
            "SET extra_float_digits = 3",
            value("extra_float_digits", "3", false),
        ),
        (
            "SET application_name = 'PostgreSQL JDBC Driver'",
            value("application_name", "PostgreSQL JDBC Driver", false),
        ),
        (
            "SET statement_timeout TO '5s'",
            value("statement_timeout", "5s", false),
        ),
        (
            "set session search_path to a, B",
            value("search_path", "a, b", false),
        ),
        (
            "SET search_path TO \"$user\", public",
            value("search_path", "\"$user\", public", false),
        ),
        (
            "SET LOCAL lock_timeout = 0",
            value("lock_timeout", "0", true),
        ),
        (
            "SET \"DateStyle\" TO ISO, MDY",
            value("datestyle", "ISO, MDY", false),
        ),
        ("SET x.y = -1.5", value("x.y", "-1.5", false)),
        (
            "SET client_min_messages TO WARNING",
            value("client_min_messages", "warning", false),
        ),
        ("SET TIME ZONE 'UTC'", value("timezone", "UTC", false)),
        ("SET TIME ZONE LOCAL", default("timezone", false)),
        ("SET SESSION TIME ZONE DEFAULT", default("timezone", false)),
        ("SET NAMES 'UTF8'", value("client_encoding", "UTF8", false)),
        ("SET work_mem TO DEFAULT", default("work_mem", false)),
        ("SET LOCAL work_mem = DEFAULT", default("work_mem", true)),
        ("RESET work_mem", default("work_mem", false)),
        ("RESET TIME ZONE", default("timezone", false)),
        ("RESET ALL", PgStatement::Set(SetCommand::ResetAll)),
        (
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            value("transaction_isolation", "repeatable read", true),
        ),
        (
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            value("default_transaction_isolation", "serializable", false),
        ),
        (
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY",
            PgStatement::Set(SetCommand::Several(vec![
                SetCommand::Value {
                    name: "transaction_isolation".into(),
                    value: "read committed".into(),
                    local: true,
                },
                SetCommand::Value {
                    name: "transaction_read_only".into(),
                    value: "on".into(),
                    local: true,
                },
            ])),
        ),
        (
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            value("default_transaction_read_only", "off", false),
        ),
        (
            "SELECT set_config('search_path', 'public', false)",
            PgStatement::SetConfig(SetCommand::Value {
                name: "search_path".into(),
                value: "public".into(),
                local: false,
            }),
        ),
        (
            "SELECT pg_catalog.set_config('app.x', 'y', true)",
            PgStatement::SetConfig(SetCommand::Value {
                name: "app.x".into(),
                value: "y".into(),
                local: true,
            }),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(one(sql), expected, "{sql}");
    }
}

#[test]
fn show_forms() {
    for (sql, name) in [
        ("SHOW search_path", "search_path"),
        ("show \"DateStyle\"", "datestyle"),
        ("SHOW ALL", "all"),
        ("SHOW TRANSACTION ISOLATION LEVEL", "transaction_isolation"),
        ("SHOW TIME ZONE", "timezone"),
        (
            "SHOW standard_conforming_strings;",
            "standard_conforming_strings",
        ),
    ] {
        assert_eq!(one(sql), PgStatement::Show(name.to_owned()), "{sql}");
    }
}

#[test]
fn transaction_control() {
    use TxnControl::*;
    let cases = [
        ("BEGIN", "BEGIN", "BEGIN", Begin),
        ("begin work", "BEGIN", "BEGIN", Begin),
        (
            "BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE",
            "BEGIN",
            "BEGIN",
            Begin,
        ),
        ("BEGIN READ ONLY", "BEGIN", "BEGIN", Begin),
        (
            "BEGIN ISOLATION LEVEL READ COMMITTED NOT DEFERRABLE",
            "BEGIN",
            "BEGIN",
            Begin,
        ),
        ("START TRANSACTION", "BEGIN", "START TRANSACTION", Begin),
        (
            "START TRANSACTION READ ONLY, DEFERRABLE",
            "BEGIN",
            "START TRANSACTION",
            Begin,
        ),
        ("COMMIT", "COMMIT", "COMMIT", Commit),
        ("END", "COMMIT", "COMMIT", Commit),
        ("COMMIT WORK", "COMMIT", "COMMIT", Commit),
        ("end transaction", "COMMIT", "COMMIT", Commit),
        ("COMMIT AND NO CHAIN", "COMMIT", "COMMIT", Commit),
        ("ABORT", "ROLLBACK", "ROLLBACK", Rollback),
        ("ROLLBACK WORK", "ROLLBACK", "ROLLBACK", Rollback),
        ("SAVEPOINT sp1", "SAVEPOINT sp1", "SAVEPOINT", Savepoint),
        ("RELEASE SAVEPOINT sp1", "RELEASE sp1", "RELEASE", Savepoint),
        ("RELEASE \"Sp\"", "RELEASE \"Sp\"", "RELEASE", Savepoint),
        (
            "ROLLBACK TO SAVEPOINT sp1",
            "ROLLBACK TO sp1",
            "ROLLBACK",
            Savepoint,
        ),
        (
            "ROLLBACK TRANSACTION TO sp1",
            "ROLLBACK TO sp1",
            "ROLLBACK",
            Savepoint,
        ),
    ];
    let conn = sqlite();
    for (sql, sqlite_sql, tag, kind) in cases {
        let t = query(sql);
        assert_eq!(t.sql, sqlite_sql, "{sql}");
        assert_eq!(t.tag, tag, "{sql}");
        assert_eq!(t.kind, StmtKind::Transaction(kind), "{sql}");
        assert!(!t.tag_counts_rows, "{sql}");
        assert_prepares(&conn, &t.sql);
    }
    // SQLite's own spelling runs as written.
    assert_eq!(query("BEGIN IMMEDIATE").sql, "BEGIN IMMEDIATE");
}

#[test]
fn advisory_locks() {
    use crate::sql::pg::Advisory;
    for (sql, expected) in [
        (
            "SELECT pg_advisory_lock(72707369)",
            Advisory::Lock(72_707_369),
        ),
        (
            "select pg_catalog.pg_try_advisory_lock(-5)",
            Advisory::TryLock(-5),
        ),
        ("SELECT pg_advisory_unlock(7)", Advisory::Unlock(7)),
        ("SELECT pg_advisory_unlock_all()", Advisory::UnlockAll),
        (
            "SELECT pg_advisory_xact_lock(1, 2)",
            Advisory::XactLock((1 << 32) | 2),
        ),
        (
            "SELECT pg_try_advisory_xact_lock(1, -1)",
            Advisory::TryXactLock((1 << 32) | 0xffff_ffff),
        ),
    ] {
        assert_eq!(one(sql), PgStatement::Advisory(expected), "{sql}");
    }
    // sqlx binds the key: the frontend resolves it at Bind.
    use crate::pgtype::PgType;
    use crate::sql::pg::{AdvisoryCall, AdvisoryParams};
    let PgStatement::AdvisoryParams(p) = one("SELECT pg_advisory_lock($1)") else {
        panic!("not an advisory call with parameters");
    };
    assert_eq!(
        p,
        AdvisoryParams {
            call: AdvisoryCall::Lock,
            params: vec![1]
        }
    );
    assert_eq!(p.param_types(), vec![PgType::Int8]);
    assert_eq!(p.bind(&[42]), Some(Advisory::Lock(42)));
    assert_eq!(p.bind(&[]), None);
    let PgStatement::AdvisoryParams(p) =
        one("SELECT pg_try_advisory_xact_lock($2::int4, $1::int4)")
    else {
        panic!("not an advisory call with parameters");
    };
    assert_eq!(p.param_types(), vec![PgType::Int4, PgType::Int4]);
    assert_eq!(p.bind(&[2, 1]), Some(Advisory::TryXactLock((1 << 32) | 2)));
    assert_eq!(p.bind(&[1, i64::MAX]), None);
    // Not the whole statement: left to SQLite (and the catalog functions).
    assert!(matches!(
        one("SELECT pg_advisory_lock(1) FROM users"),
        PgStatement::Query(_)
    ));
}

#[test]
fn splits_statements_and_keeps_untouched_text() {
    let text =
        "SET application_name = 'x'; SELECT 1 ; -- c\n  select  'a;b' /* ; */ ;;; SHOW search_path";
    let out = run(text).unwrap();
    assert_eq!(out.len(), 4);
    assert!(matches!(&out[1], PgStatement::Query(t) if t.sql == "SELECT 1"));
    assert!(matches!(&out[2], PgStatement::Query(t) if t.sql == "select  'a;b'"));
    assert_eq!(run("").unwrap(), vec![PgStatement::Empty]);
    assert_eq!(
        run(" ; -- only\n ;/* x */").unwrap(),
        vec![PgStatement::Empty]
    );
    let trigger = "CREATE TRIGGER tr AFTER INSERT ON users BEGIN UPDATE users SET age = 1; SELECT CASE WHEN 1 THEN 2 END; END; SELECT 2";
    let out = run(trigger).unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    let body = "SELECT $$a;b$$; SELECT E'\\';'";
    assert_eq!(run(body).unwrap().len(), 2);
}

#[test]
fn tags() {
    for (sql, tag, counts) in [
        ("SELECT 1", "SELECT", true),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "SELECT", true),
        (
            "WITH x AS (SELECT 1) INSERT INTO users (id) SELECT * FROM x",
            "INSERT 0",
            true,
        ),
        ("INSERT INTO users (id) VALUES (1)", "INSERT 0", true),
        ("UPDATE users SET age = 1", "UPDATE", true),
        ("DELETE FROM users", "DELETE", true),
        ("CREATE TABLE z (a INT)", "CREATE TABLE", false),
        (
            "CREATE UNIQUE INDEX i ON users (name)",
            "CREATE INDEX",
            false,
        ),
        ("CREATE TEMP TABLE z (a INT)", "CREATE TABLE", false),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE VIEW", false),
        ("DROP TABLE users", "DROP TABLE", false),
        ("ALTER TABLE users ADD COLUMN z TEXT", "ALTER TABLE", false),
        ("PRAGMA table_info(users)", "PRAGMA", false),
    ] {
        let t = query(sql);
        assert_eq!((t.tag.as_str(), t.tag_counts_rows), (tag, counts), "{sql}");
    }
}
