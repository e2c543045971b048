//! The schema-derived catalog views of the embedded SQLite backend: PostgreSQL names for
//! constraints and indexes, SQLite's internal tables hidden, and the static and empty
//! catalogs.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod catalog;

use catalog::{columns, exec, oid, one, open, open_with, query, rows};

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
            // u is referenced by t's foreign key: PostgreSQL's RI triggers are on both.
            &[&["pair", "1", "0"], &["t", "1", "1"], &["u", "1", "1"]],
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
        "pg_publication_namespace",
        "pg_auth_members",
        "pg_event_trigger",
        "pg_foreign_data_wrapper",
        "pg_foreign_server",
        "pg_db_role_setting",
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

/// The functions psql's `\d` family names in queries over empty catalogs must exist.
#[tokio::test(flavor = "multi_thread")]
async fn functions_over_empty_catalogs_exist() {
    let (_dir, db) = open_with(0);
    for (sql, want) in [
        ("SELECT pg_tablespace_location(1663)", ""),
        ("SELECT pg_has_role('postgres', 'USAGE')", "1"),
        ("SELECT pg_relation_is_publishable(1)", "0"),
        ("SELECT pg_partition_ancestors(42)", "42"),
        ("SELECT pg_collation_is_visible(100)", "1"),
        (
            "SELECT coalesce(pg_get_statisticsobjdef_columns(1), 'none')",
            "none",
        ),
        ("SELECT coalesce(pg_get_triggerdef(1, 1), 'none')", "none"),
        ("SELECT count(*) FROM pg_opclass WHERE NOT opcdefault", "0"),
    ] {
        assert_eq!(one(&db, sql).await, want, "{sql}");
    }
}
