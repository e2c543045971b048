//! The schema-derived catalog views of the embedded SQLite backend: PostgreSQL names for
//! constraints and indexes, DDL showing up at once on every connection, SQLite's internal
//! tables hidden, and the static and empty catalogs.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod catalog;

use catalog::{columns, exec, fails, oid, one, open, open_with, query, rows};
use starbase_protocol::ExecMode;

#[tokio::test(flavor = "multi_thread")]
async fn constraints_and_indexes_have_postgres_names() {
    let (_dir, db) = open().await;
    let cons = "SELECT c.relname, k.conname, k.contype, k.conkey, k.confkey,
        k.confrelid = coalesce(to_regclass('u'), -1), k.confdeltype, k.conindid <> 0
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid ORDER BY 1, 2";
    assert_eq!(
        query(&db, cons).await,
        rows(&[
            &["pair", "pair_b", "u", "{2}", "NULL", "0", " ", "1"],
            &["pair", "pair_pkey", "p", "{1,2}", "NULL", "0", " ", "1"],
            &["t", "t_pkey", "p", "{1}", "NULL", "0", " ", "1"],
            &["t", "t_price_check", "c", "{4}", "NULL", "0", " ", "0"],
            &["t", "t_u_id_fkey", "f", "{10}", "{1}", "1", "c", "1"],
            &["u", "u_email_key", "u", "{2}", "NULL", "0", " ", "1"],
            &["u", "u_pkey", "p", "{1}", "NULL", "0", " ", "1"],
        ])
    );
    let idx = "SELECT c.relname, i.indkey, i.indisprimary, i.indisunique, i.indnatts
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid ORDER BY 1";
    assert_eq!(
        query(&db, idx).await,
        rows(&[
            &["pair_b", "2", "0", "1", "1"],
            &["pair_pkey", "1 2", "1", "1", "2"],
            &["t_name_idx", "3 6", "0", "0", "2"],
            &["t_pkey", "1", "1", "1", "1"],
            &["u_email_key", "2", "0", "1", "1"],
            &["u_pkey", "1", "1", "1", "1"],
        ])
    );
    let indexes = "SELECT tablename, indexname, indexdef FROM pg_indexes
      WHERE tablename = 'pair' ORDER BY 2";
    assert_eq!(
        query(&db, indexes).await,
        rows(&[
            &[
                "pair",
                "pair_b",
                "CREATE UNIQUE INDEX pair_b ON public.pair USING btree (b)"
            ],
            &[
                "pair",
                "pair_pkey",
                "CREATE UNIQUE INDEX pair_pkey ON public.pair USING btree (a, b)",
            ],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expression_partial_and_without_rowid_indexes() {
    let (_dir, db) = open().await;
    exec(
        &db,
        "CREATE INDEX u_lower ON u (lower(email)) WHERE id > 10;
         CREATE TABLE w (k TEXT PRIMARY KEY, v INT) WITHOUT ROWID;",
    )
    .await;
    let sql = "SELECT c.relname, i.indkey, i.indpred, i.indisprimary,
        pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname IN ('u_lower', 'w_pkey') ORDER BY 1";
    assert_eq!(
        query(&db, sql).await,
        rows(&[
            &[
                "u_lower",
                "0",
                "id > 10",
                "0",
                "CREATE INDEX u_lower ON public.u USING btree (lower(email)) WHERE id > 10",
            ],
            &[
                "w_pkey",
                "1",
                "NULL",
                "1",
                "CREATE UNIQUE INDEX w_pkey ON public.w USING btree (k)",
            ],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_columns() {
    let (_dir, db) = open().await;
    exec(
        &db,
        "CREATE TABLE g (a INT, b INT GENERATED ALWAYS AS (a * 2) STORED,
                         c INT AS (a + 1) VIRTUAL)",
    )
    .await;
    let attrs = format!(
        "SELECT attname, attnum, attgenerated FROM pg_attribute WHERE attrelid = {}
          ORDER BY attnum",
        oid("g")
    );
    assert_eq!(
        query(&db, &attrs).await,
        rows(&[&["a", "1", ""], &["b", "2", "s"], &["c", "3", "s"]])
    );
    let columns = "SELECT column_name, is_generated FROM information_schema_columns
      WHERE table_name = 'g' ORDER BY ordinal_position";
    assert_eq!(
        query(&db, columns).await,
        rows(&[&["a", "NEVER"], &["b", "ALWAYS"], &["c", "ALWAYS"]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn named_constraints_keep_their_names() {
    let (_dir, db) = open().await;
    // Unnamed constraints get PostgreSQL's default names; named ones keep theirs.
    exec(
        &db,
        "CREATE TABLE n (a INT, b INT, c INT CONSTRAINT c_positive CHECK (c > 0),
           UNIQUE (a, b), CONSTRAINT n_to_u FOREIGN KEY (c) REFERENCES u, CHECK (a < b))",
    )
    .await;
    let named = format!(
        "SELECT conname, contype, condef FROM pg_constraint WHERE conrelid = {} ORDER BY 1",
        oid("n")
    );
    assert_eq!(
        query(&db, &named).await,
        rows(&[
            &["c_positive", "c", "CHECK (c > 0)"],
            &["n_a_b_key", "u", "UNIQUE (a, b)"],
            &["n_check", "c", "CHECK (a < b)"],
            &["n_to_u", "f", "FOREIGN KEY (c) REFERENCES u(id)"],
        ])
    );
}

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
async fn internal_tables_are_hidden() {
    let (_dir, db) = open().await;
    exec(
        &db,
        "CREATE TABLE auto (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT UNIQUE);
         INSERT INTO auto (v) VALUES ('a'); ANALYZE;",
    )
    .await;
    assert_eq!(
        one(
            &db,
            "SELECT count(*) FROM main.sqlite_schema WHERE name LIKE 'sqlite%'"
        )
        .await,
        "7",
        "sqlite_sequence, sqlite_stat1, sqlite_stat4 and four autoindexes exist"
    );
    for sql in [
        "SELECT relname FROM pg_class WHERE relname LIKE 'sqlite%'",
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'sqlite%'",
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'sqlite%'",
        "SELECT attrelid FROM pg_attribute WHERE attrelid = to_regclass('sqlite_sequence')",
        "SELECT table_name FROM information_schema_tables WHERE table_name LIKE 'sqlite%'",
        "SELECT table_name FROM information_schema_columns WHERE table_name LIKE 'sqlite%'",
    ] {
        assert_eq!(query(&db, sql).await, rows(&[]), "{sql}");
    }
    assert_eq!(
        one(&db, "SELECT to_regclass('sqlite_sequence')").await,
        "NULL"
    );
    let auto = "SELECT relname FROM pg_class WHERE relname LIKE 'auto%' ORDER BY 1";
    assert_eq!(
        query(&db, auto).await,
        rows(&[&["auto"], &["auto_pkey"], &["auto_v_key"]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn static_and_convenience_catalogs() {
    let (_dir, db) = open_with(0);
    catalog::exec(&db, catalog::SCHEMA).await;
    exec(
        &db,
        "CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN SELECT 1; END",
    )
    .await;
    let checks: &[(&str, &[&[&str]])] = &[
        (
            "SELECT rolname, rolsuper, oid FROM pg_roles",
            &[&["postgres", "1", "10"]],
        ),
        (
            "SELECT usename, usesysid, usesuper FROM pg_user",
            &[&["postgres", "10", "1"]],
        ),
        ("SELECT oid, rolname FROM pg_authid", &[&["10", "postgres"]]),
        (
            "SELECT oid, amname FROM pg_am ORDER BY oid",
            &[&["2", "heap"], &["403", "btree"]],
        ),
        (
            "SELECT oid, collname FROM pg_collation ORDER BY oid",
            &[&["100", "default"], &["950", "C"], &["951", "POSIX"]],
        ),
        (
            "SELECT extname, extversion FROM pg_extension",
            &[&["plpgsql", "1.0"]],
        ),
        (
            "SELECT oid, spcname FROM pg_tablespace WHERE oid = 1663",
            &[&["1663", "pg_default"]],
        ),
    ];
    for (sql, expected) in checks {
        assert_eq!(query(&db, sql).await, rows(expected), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn triggers_and_convenience_views() {
    let (_dir, db) = open().await;
    exec(
        &db,
        "CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN SELECT 1; END",
    )
    .await;
    let checks: &[(&str, &[&[&str]])] = &[
        (
            "SELECT tgname, tgrelid = to_regclass('t'), tgisinternal FROM pg_trigger",
            &[&["t_touch", "1", "0"]],
        ),
        (
            "SELECT c.relhastriggers, c.relchecks, c.relnatts, c.relhasindex FROM pg_class c
              WHERE relname = 't'",
            &[&["1", "1", "10", "1"]],
        ),
        (
            "SELECT tablename, hasindexes, hastriggers FROM pg_tables ORDER BY 1",
            &[&["pair", "1", "0"], &["t", "1", "1"], &["u", "1", "0"]],
        ),
        (
            "SELECT viewname, definition FROM pg_views",
            &[&["tv", "SELECT id, name FROM t"]],
        ),
        (
            "SELECT relname, schemaname, n_live_tup FROM pg_stat_user_tables ORDER BY 1",
            &[
                &["pair", "public", "0"],
                &["t", "public", "0"],
                &["u", "public", "0"],
            ],
        ),
        (
            "SELECT proname, pronamespace, prokind FROM pg_proc WHERE oid = 1081",
            &[&["format_type", "11", "f"]],
        ),
        ("SELECT count(*) FROM pg_type", &[&["23"]]),
        (
            "SELECT typname FROM pg_type WHERE typtype = 'p'",
            &[&["unknown"]],
        ),
        (
            "SELECT setting FROM pg_settings WHERE name IN ('server_version_num', 'TimeZone')
              ORDER BY name",
            &[&["UTC"], &["160000"]],
        ),
    ];
    for (sql, expected) in checks {
        assert_eq!(query(&db, sql).await, rows(expected), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_catalogs_have_their_columns() {
    let (_dir, db) = open_with(0);
    for empty in [
        "pg_description",
        "pg_shdescription",
        "pg_range",
        "pg_enum",
        "pg_inherits",
        "pg_policy",
        "pg_publication",
        "pg_publication_rel",
        "pg_statistic_ext",
        "pg_depend",
        "pg_sequence",
        "pg_rewrite",
        "pg_foreign_table",
        "pg_partitioned_table",
        "pg_matviews",
    ] {
        let count = format!("SELECT count(*) FROM {empty}");
        assert_eq!(one(&db, &count).await, "0", "{empty}");
    }
    assert_eq!(
        columns(&db, "SELECT * FROM pg_description").await,
        ["objoid", "classoid", "objsubid", "description"]
    );
    assert_eq!(
        columns(&db, "SELECT * FROM pg_range").await,
        [
            "rngtypid",
            "rngsubtype",
            "rngmultitypid",
            "rngcollation",
            "rngsubopc",
            "rngcanonical",
            "rngsubdiff"
        ]
    );
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
