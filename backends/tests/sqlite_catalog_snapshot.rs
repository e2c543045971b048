//! How the catalog stays current and safe on shared connections: DDL shows up at once on
//! every connection, a rollback leaves nothing stale, clients can neither replace the
//! per-connection snapshot nor drop the catalog views, and a broken view is left out.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod catalog;

use catalog::{exec, fails, oid, one, open, open_with, query, rows};
use starbase_protocol::ExecMode;

#[tokio::test(flavor = "multi_thread")]
async fn ddl_shows_up_at_once_on_every_connection() {
    let (_dir, db) = open().await;
    let find = "SELECT relname FROM pg_class WHERE relname LIKE 'later%' ORDER BY 1";
    assert_eq!(query(&db, find).await, rows(&[]));
    assert_eq!(one(&db, "SELECT to_regclass('later')").await, "NULL");
    exec(&db, "CREATE TABLE later (x INTEGER PRIMARY KEY, y TEXT)").await;
    // Every reader sees it on its next query.
    for _ in 0..4 {
        assert_eq!(query(&db, find).await, rows(&[&["later"], &["later_pkey"]]));
        assert_eq!(
            one(&db, "SELECT starbase_regclass('later')").await,
            oid("later")
        );
        let def = format!("SELECT pg_get_indexdef({})", oid("later_pkey"));
        assert_eq!(
            one(&db, &def).await,
            "CREATE UNIQUE INDEX later_pkey ON public.later USING btree (x)"
        );
    }
    // On the writer, DDL earlier in the same text is seen by the statements after it.
    let events = catalog::run(
        &db,
        "CREATE TABLE later2 (z); SELECT starbase_regclass('later2'), count(*) FROM pg_class
           WHERE relname = 'later2'",
        ExecMode::Batch,
    )
    .await
    .unwrap();
    assert_eq!(catalog::text_rows(&events), rows(&[&[&oid("later2"), "1"]]));
    exec(&db, "DROP TABLE later").await;
    assert_eq!(query(&db, find).await, rows(&[&["later2"]]));
    let e = fails(&db, "SELECT starbase_regclass('later')").await;
    assert_eq!(e.code.as_str(), "42P01");
    assert_eq!(e.message, "relation \"later\" does not exist");
}

#[tokio::test(flavor = "multi_thread")]
async fn rolled_back_ddl_leaves_no_stale_definitions() {
    let (_dir, db) = open_with(0);
    let version = "SELECT schema_version FROM pragma_schema_version";
    let before: i64 = one(&db, version).await.parse().unwrap();
    // Loaded inside a transaction that is then rolled back ...
    let failed = catalog::run(
        &db,
        "BEGIN; CREATE TABLE gone (a); SELECT starbase_regclass('gone'); SELECT nope(); COMMIT;",
        ExecMode::Batch,
    )
    .await;
    assert!(failed.is_err());
    // ... then other DDL brings the schema back to the very same version number.
    exec(&db, "CREATE TABLE kept (b)").await;
    assert_eq!(one(&db, version).await, (before + 1).to_string());
    assert_eq!(one(&db, "SELECT to_regclass('gone')").await, "NULL");
    assert_eq!(one(&db, "SELECT to_regclass('kept')").await, oid("kept"));
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_cannot_replace_the_snapshot() {
    for (_dir, db) in [open_with(0), open_with(2)] {
        exec(&db, "CREATE TABLE mine (a)").await;
        assert_eq!(one(&db, "SELECT to_regclass('mine')").await, oid("mine"));
        for sql in [
            "SELECT starbase_catalog_load('r', 1, 'fake', NULL)",
            "SELECT starbase_catalog_load_relations('r', 1, 'fake', NULL)",
            "SELECT starbase_catalog_load_sizes('s', 1, NULL, 1)",
            "SELECT starbase_catalog_set_version('d', '1')",
        ] {
            let e = fails(&db, sql).await;
            assert_eq!(e.code.as_str(), "42501", "{sql}: {e:?}");
            assert!(
                e.message.starts_with("permission denied for function"),
                "{e:?}"
            );
        }
        assert_eq!(one(&db, "SELECT to_regclass('mine')").await, oid("mine"));
        assert_eq!(one(&db, "SELECT to_regclass('fake')").await, "NULL");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_views_cannot_be_dropped() {
    let (_dir, db) = open_with(0);
    for sql in [
        "DROP VIEW pg_class",
        "DROP VIEW temp.information_schema_tables",
    ] {
        let e = catalog::run(&db, sql, ExecMode::Batch).await.unwrap_err();
        let starbase_backends::Error::Db(e) = e else {
            panic!("{sql}: {e:?}")
        };
        assert_eq!(e.code.as_str(), "42501", "{sql}: {e:?}");
    }
    assert_eq!(one(&db, "SELECT count(*) FROM pg_class").await, "0");
    assert_eq!(
        one(&db, "SELECT count(*) FROM information_schema_tables").await,
        "0"
    );
    // Other temp views are the client's own.
    exec(&db, "CREATE TEMP VIEW mine AS SELECT 1; DROP VIEW mine").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_over_a_dropped_table_does_not_break_the_catalog() {
    for (_dir, db) in [open_with(0), open_with(2)] {
        exec(&db, catalog::SCHEMA).await;
        exec(
            &db,
            "CREATE TABLE gone (x); CREATE VIEW orphan AS SELECT x FROM gone",
        )
        .await;
        assert_eq!(
            one(
                &db,
                "SELECT count(*) FROM pg_class WHERE relname = 'orphan'"
            )
            .await,
            "1"
        );
        exec(&db, "DROP TABLE gone").await;
        for sql in [
            "SELECT count(*) FROM pg_class WHERE relname IN ('orphan', 'tv')",
            "SELECT count(DISTINCT attrelid) FROM pg_attribute
              WHERE attrelid IN (to_regclass('tv'), to_regclass('orphan'))",
            "SELECT count(DISTINCT table_name) FROM information_schema_columns
              WHERE table_name IN ('orphan', 'tv')",
            "SELECT count(*) FROM pg_views WHERE viewname IN ('orphan', 'tv')",
        ] {
            assert_eq!(one(&db, sql).await, "1", "{sql}");
        }
        exec(&db, "CREATE TABLE gone (x)").await;
        let back = "SELECT count(*) FROM pg_class WHERE relname = 'orphan'";
        assert_eq!(one(&db, back).await, "1", "the view works again");
    }
}
