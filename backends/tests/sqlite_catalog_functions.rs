//! The PostgreSQL functions the catalog emulation registers on every SQLite connection,
//! with their NULL and error cases, each run on the writer (no readers) and on a reader.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod catalog;

use catalog::{SCHEMA, exec, fails, oid, one, open_with, query};
use starbase_backends::sqlite::SqliteBackend;
use tempfile::TempDir;

/// A backend with [`SCHEMA`] served by the writer alone, and one with readers.
async fn both() -> Vec<(TempDir, SqliteBackend)> {
    let mut out = Vec::new();
    for readers in [0, 2] {
        let (dir, db) = open_with(readers);
        exec(&db, SCHEMA).await;
        out.push((dir, db));
    }
    out
}

/// Asserts each `(expression, expected value)` as `SELECT expression`.
async fn values(db: &SqliteBackend, cases: &[(&str, &str)]) {
    for (expr, expected) in cases {
        let sql = format!("SELECT {expr}");
        assert_eq!(one(db, &sql).await, *expected, "{sql}");
    }
}

/// Asserts that `SELECT expression` fails with `code` and `message`.
async fn error(db: &SqliteBackend, expr: &str, code: &str, message: &str) {
    let e = fails(db, &format!("SELECT {expr}")).await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (code, message),
        "{expr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn regexp_matches_caches_and_rejects_bad_patterns() {
    for (_dir, db) in both().await {
        values(
            &db,
            &[
                ("regexp('^a.c$', 'abc')", "1"),
                ("'abd' REGEXP '^a.c$'", "0"),
                ("'xAbc' REGEXP 'Ab'", "1"),
                ("'abc' REGEXP 'AB'", "0"),
                ("regexp(NULL, 'abc')", "NULL"),
                ("regexp('a', NULL)", "NULL"),
                ("regexp('^1', 123)", "1"),
            ],
        )
        .await;
        let tableplus = "SELECT regexp_replace(pg_get_indexdef(starbase_regclass('pair_pkey')),
                           '.*\\((.*)\\)', '\\1')";
        assert_eq!(one(&db, tableplus).await, "a, b");
        values(
            &db,
            &[
                ("regexp_replace('a-b-c', '-', '+')", "a+b-c"),
                ("regexp_replace('a-b-c', '-', '+', 'g')", "a+b+c"),
                ("regexp_replace('ABC', 'b', '[\\&]', 'i')", "A[B]C"),
                ("regexp_replace('cost', 'o', '$')", "c$st"),
                ("regexp_replace(NULL, 'a', 'b')", "NULL"),
            ],
        )
        .await;
        let unclosed = "invalid regular expression: unclosed group";
        error(&db, "regexp_replace('x', '(', 'y')", "2201B", unclosed).await;
        error(&db, "regexp('(', 'x')", "2201B", unclosed).await;
        let range = "invalid regular expression: invalid repetition count range, \
                     the start must be <= the end";
        error(&db, "'x' REGEXP 'a{2,1}'", "2201B", range).await;
        let many = "SELECT count(*) FROM (VALUES ('a'), ('b'), ('ab'), ('ba')) v
                     WHERE v.column1 REGEXP '^a'";
        assert_eq!(one(&db, many).await, "2");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn regclass_resolves_existing_relations_and_raises_42p01() {
    for (_dir, db) in both().await {
        let t = oid("t");
        values(
            &db,
            &[
                ("starbase_regclass('t')", &t),
                ("starbase_regclass('T')", &t),
                ("starbase_regclass('public.t')", &t),
                ("starbase_regclass('\"t\"')", &t),
                ("starbase_regclass('t_pkey')", &oid("t_pkey")),
                ("starbase_regclass('tv')", &oid("tv")),
                ("starbase_regclass('pg_class')", "1259"),
                ("starbase_regclass('pg_catalog.pg_type')", "1247"),
                ("starbase_regclass('pg_settings')", &oid("pg_settings")),
                ("starbase_regclass('16390')", "16390"),
                ("starbase_regclass(16390)", "16390"),
                ("starbase_regclass(NULL)", "NULL"),
                ("to_regclass('t')", &t),
                ("to_regclass('nope')", "NULL"),
                ("to_regclass('other.t')", "NULL"),
            ],
        )
        .await;
        let missing = "relation \"nope\" does not exist";
        error(&db, "starbase_regclass('nope')", "42P01", missing).await;
        let qualified = "relation \"other.t\" does not exist";
        error(&db, "starbase_regclass('other.t')", "42P01", qualified).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn regtype_regproc_regnamespace() {
    for (_dir, db) in both().await {
        values(
            &db,
            &[
                ("starbase_regtype('integer')", "23"),
                ("starbase_regtype('varchar')", "1043"),
                ("starbase_regtype('character varying(20)')", "1043"),
                ("starbase_regtype('pg_catalog.int8')", "20"),
                ("starbase_regtype('TIMESTAMPTZ')", "1184"),
                ("starbase_regtype(NULL)", "NULL"),
                ("to_regtype('geometry')", "NULL"),
                ("starbase_regproc('pg_catalog.array_in')", "750"),
                ("starbase_regproc('array_recv')", "2400"),
                ("starbase_regproc('format_type')", "1081"),
                ("to_regproc('nope')", "NULL"),
                ("starbase_regnamespace('pg_catalog')", "11"),
                ("starbase_regnamespace('public')", "2200"),
                ("starbase_regnamespace('information_schema')", "13183"),
                ("to_regnamespace('nope')", "NULL"),
            ],
        )
        .await;
        error(
            &db,
            "starbase_regtype('geometry')",
            "42704",
            "type \"geometry\" does not exist",
        )
        .await;
        error(
            &db,
            "starbase_regproc('nope')",
            "42883",
            "function \"nope\" does not exist",
        )
        .await;
        error(
            &db,
            "starbase_regnamespace('nope')",
            "3F000",
            "schema \"nope\" does not exist",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn format_type_and_fixed_answers() {
    for (_dir, db) in both().await {
        values(
            &db,
            &[
                ("format_type(23, -1)", "integer"),
                ("format_type(20, NULL)", "bigint"),
                ("format_type(1043, 24)", "character varying(20)"),
                ("format_type(1043, -1)", "character varying"),
                ("format_type(1700, 655366)", "numeric(10,2)"),
                ("format_type(1184, -1)", "timestamp with time zone"),
                ("format_type(16, -1)", "boolean"),
                ("format_type(NULL, -1)", "NULL"),
                ("format_type(99999, -1)", "???"),
                ("pg_table_is_visible(12345)", "1"),
                ("pg_table_is_visible(NULL)", "NULL"),
                ("pg_type_is_visible(23)", "1"),
                ("pg_function_is_visible(750)", "1"),
                ("pg_get_userbyid(10)", "postgres"),
                ("pg_get_userbyid(NULL)", "NULL"),
                ("pg_get_expr('a + 1', 123)", "a + 1"),
                ("pg_get_expr('now()', 123, true)", "now()"),
                ("pg_get_expr(NULL, 123)", "NULL"),
                ("obj_description(1)", "NULL"),
                ("obj_description(1, 'pg_class')", "NULL"),
                ("col_description(1, 1)", "NULL"),
                ("shobj_description(1, 'pg_database')", "NULL"),
                ("has_table_privilege('t', 'SELECT')", "1"),
                ("has_table_privilege('postgres', 't', 'SELECT')", "1"),
                ("has_schema_privilege('public', 'USAGE')", "1"),
                ("has_schema_privilege('postgres', 'public', 'USAGE')", "1"),
                ("has_database_privilege('starbase', 'CONNECT')", "1"),
                (
                    "has_database_privilege('postgres', 'starbase', 'CONNECT')",
                    "1",
                ),
                ("has_column_privilege('t', 'id', 'SELECT')", "1"),
                ("has_column_privilege('postgres', 't', 'id', 'SELECT')", "1"),
                ("pg_encoding_to_char(6)", "UTF8"),
                ("pg_encoding_to_char(0)", "SQL_ASCII"),
                ("pg_encoding_to_char(99)", ""),
                ("pg_is_in_recovery()", "0"),
                ("pg_get_serial_sequence('t', 'id')", "NULL"),
                ("current_database()", "starbase"),
                ("starbase_database_name()", "starbase"),
            ],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn index_definitions_come_from_the_live_schema() {
    for (_dir, db) in both().await {
        values(
            &db,
            &[
                (
                    &format!("pg_get_indexdef({})", oid("t_pkey")),
                    "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",
                ),
                (
                    "pg_get_indexdef(starbase_regclass('u_email_key'), 0, true)",
                    "CREATE UNIQUE INDEX u_email_key ON public.u USING btree (email)",
                ),
                (
                    "pg_get_indexdef(starbase_regclass('t_pkey'), 1, true)",
                    "id",
                ),
                (
                    "pg_get_indexdef(starbase_regclass('pair_pkey'), 2, true)",
                    "b",
                ),
                (
                    "pg_get_indexdef(starbase_regclass('pair_pkey'), 3, true)",
                    "NULL",
                ),
                (
                    "pg_get_indexdef(starbase_regclass('t_name_idx'), 2, false)",
                    "at",
                ),
                ("pg_get_indexdef(42)", "NULL"),
                ("pg_get_indexdef(NULL)", "NULL"),
            ],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn constraint_and_view_definitions() {
    for (_dir, db) in both().await {
        let con = |name: &str| format!("(SELECT oid FROM pg_constraint WHERE conname = '{name}')");
        values(
            &db,
            &[
                (
                    &format!("pg_get_constraintdef({})", con("pair_pkey")),
                    "PRIMARY KEY (a, b)",
                ),
                (
                    &format!("pg_get_constraintdef({}, true)", con("t_u_id_fkey")),
                    "FOREIGN KEY (u_id) REFERENCES u(id) ON DELETE CASCADE",
                ),
                (
                    &format!("pg_get_constraintdef({})", con("t_price_check")),
                    "CHECK (price >= 0)",
                ),
                ("pg_get_constraintdef(42)", "NULL"),
                (
                    "pg_get_viewdef(starbase_regclass('tv'))",
                    "SELECT id, name FROM t",
                ),
                (
                    "pg_get_viewdef(starbase_regclass('tv'), true)",
                    "SELECT id, name FROM t",
                ),
                ("pg_get_viewdef(starbase_regclass('t'))", "NULL"),
            ],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn relation_sizes_come_from_dbstat() {
    for (_dir, db) in both().await {
        exec(&db, "INSERT INTO u (email) VALUES ('a@example.com')").await;
        let page = one(&db, "SELECT page_size FROM pragma_page_size").await;
        assert_eq!(page, "4096");
        values(
            &db,
            &[
                ("pg_relation_size(starbase_regclass('u'))", "4096"),
                ("pg_relation_size(starbase_regclass('u_email_key'))", "4096"),
                ("pg_table_size(starbase_regclass('u'))", "4096"),
                ("pg_database_size('anything') % 4096", "0"),
                ("pg_database_size(16384) > 0", "1"),
                // The table and its one index (the rowid primary key has none).
                ("pg_total_relation_size(starbase_regclass('u'))", "8192"),
                ("pg_total_relation_size(starbase_regclass('t'))", "8192"),
                ("pg_relation_size(42)", "0"),
                ("pg_relation_size(NULL)", "NULL"),
                (
                    "pg_size_pretty(pg_total_relation_size(starbase_regclass('u')))",
                    "8192 bytes",
                ),
                ("pg_size_pretty(10240)", "10 kB"),
                ("pg_size_pretty(NULL)", "NULL"),
            ],
        )
        .await;
        let rows = (0..400)
            .map(|i| format!("('user{i}@example.com')"))
            .collect::<Vec<_>>()
            .join(", ");
        exec(&db, &format!("INSERT INTO u (email) VALUES {rows}")).await;
        let grown = one(
            &db,
            "SELECT pg_relation_size(starbase_regclass('u')) > 4096",
        )
        .await;
        assert_eq!(
            grown, "1",
            "sizes are read again on every statement that asks"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn string_functions() {
    for (_dir, db) in both().await {
        values(
            &db,
            &[
                ("quote_ident('users')", "users"),
                ("quote_ident('Users')", "\"Users\""),
                ("quote_ident('select')", "\"select\""),
                ("quote_ident('a\"b')", "\"a\"\"b\""),
                ("quote_ident(NULL)", "NULL"),
                ("left('hello', 2)", "he"),
                ("left('hello', -2)", "hel"),
                ("left(NULL, 2)", "NULL"),
                ("right('hello', 2)", "lo"),
                ("right('hello', -2)", "llo"),
                ("right('héllo', 4)", "éllo"),
                ("split_part('a,b,c', ',', 2)", "b"),
                ("split_part('a,b,c', ',', -1)", "c"),
                ("split_part('a,b,c', ',', 5)", ""),
                ("split_part(NULL, ',', 1)", "NULL"),
                ("starts_with('hello', 'he')", "1"),
                ("starts_with('hello', 'lo')", "0"),
                ("starts_with(NULL, 'he')", "NULL"),
                ("md5('')", "d41d8cd98f00b204e9800998ecf8427e"),
                ("md5('abc')", "900150983cd24fb0d6963f7d28e17f72"),
                ("md5(NULL)", "NULL"),
            ],
        )
        .await;
        error(
            &db,
            "split_part('a,b', ',', 0)",
            "22023",
            "field position must not be zero",
        )
        .await;
        error(
            &db,
            "left('abc', 'x')",
            "22P02",
            "invalid input syntax for type integer: \"x\"",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn volatile_functions() {
    for (_dir, db) in both().await {
        let first: i64 = one(&db, "SELECT txid_current()").await.parse().unwrap();
        let second: i64 = one(&db, "SELECT txid_current()").await.parse().unwrap();
        assert!(second > first, "{first} then {second}");
        let a = one(&db, "SELECT gen_random_uuid()").await;
        let b = one(&db, "SELECT gen_random_uuid()").await;
        assert_ne!(a, b);
        for uuid in [&a, &b] {
            let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
            assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
            assert!("89ab".contains(&uuid[19..20]), "RFC 4122 variant: {uuid}");
        }
        let start = one(&db, "SELECT pg_postmaster_start_time()").await;
        assert_eq!(one(&db, "SELECT pg_postmaster_start_time()").await, start);
        let pattern = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00$";
        let shape = query(&db, &format!("SELECT '{start}' REGEXP '{pattern}'")).await;
        assert_eq!(shape, [["1"]], "{start}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn big_databases_report_no_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    // Small pages make a database of over 65536 pages affordable in a test.
    let setup = rusqlite::Connection::open(&path).unwrap();
    setup
        .execute_batch("PRAGMA page_size = 512; CREATE TABLE big (b BLOB);")
        .unwrap();
    drop(setup);
    let mut config = starbase_backends::sqlite::SqliteConfig::new(&path);
    config.readers = 0;
    let db = SqliteBackend::open(config).unwrap();
    let size = "SELECT pg_relation_size(starbase_regclass('big'))";
    assert_eq!(one(&db, size).await, "512");
    exec(&db, "INSERT INTO big VALUES (zeroblob(34000000))").await;
    let pages: i64 = one(&db, "SELECT page_count FROM pragma_page_count")
        .await
        .parse()
        .unwrap();
    assert!(pages > 65_536, "{pages}");
    assert_eq!(one(&db, size).await, "0");
    // The database's own size needs no page scan: it is still there.
    assert_eq!(
        one(&db, "SELECT pg_database_size('main')").await,
        (pages * 512).to_string()
    );
}
