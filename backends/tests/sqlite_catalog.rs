//! The PostgreSQL catalog views of the embedded SQLite backend, through its public API: the
//! queries psql, tokio-postgres, pgJDBC/DBeaver, SQLAlchemy, Django and Diesel send, as the
//! dialect translator hands them to SQLite (`pg_catalog.` dropped, `~` as `regexp`,
//! `'x'::regclass` as `starbase_regclass('x')`), on reader connections.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod catalog;

use catalog::{oid, one, open, query, query_params, rows};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn psql_dt_lists_tables() {
    let (_dir, db) = open().await;
    let sql = r#"SELECT n.nspname as "Schema", c.relname as "Name",
      CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
        WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table'
        WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table'
        WHEN 'I' THEN 'partitioned index' END as "Type",
      pg_get_userbyid(c.relowner) as "Owner"
    FROM pg_class c LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog'
      AND NOT regexp('^pg_toast', n.nspname)
      AND n.nspname <> 'information_schema' AND pg_table_is_visible(c.oid)
    ORDER BY 1,2"#;
    assert_eq!(
        query(&db, sql).await,
        rows(&[
            &["public", "pair", "table", "postgres"],
            &["public", "t", "table", "postgres"],
            &["public", "u", "table", "postgres"],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_d_table_finds_the_table_and_its_columns() {
    let (_dir, db) = open().await;
    let step1 = "SELECT c.oid, n.nspname, c.relname FROM pg_class c
      LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE regexp('^(t)$', c.relname) AND pg_table_is_visible(c.oid) ORDER BY 2, 3";
    let t = oid("t");
    assert_eq!(query(&db, step1).await, rows(&[&[&t, "public", "t"]]));
    // psql passes the OID back as a string literal.
    let attrs = format!(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod),
           (SELECT pg_get_expr(d.adbin, d.adrelid, true) FROM pg_attrdef d
             WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
           a.attnotnull,
           (SELECT c.collname FROM pg_collation c, pg_type t
             WHERE c.oid = a.attcollation AND t.oid = a.atttypid
               AND a.attcollation <> t.typcollation) AS attcollation,
           a.attidentity, a.attgenerated
         FROM pg_attribute a WHERE a.attrelid = '{t}' AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum"
    );
    assert_eq!(
        query(&db, &attrs).await,
        rows(&[
            &["id", "bigint", "NULL", "1", "NULL", "", ""],
            &["small", "smallint", "0", "1", "NULL", "", ""],
            &["name", "character varying(20)", "NULL", "0", "NULL", "", ""],
            &["price", "numeric(10,2)", "NULL", "0", "NULL", "", ""],
            &["flag", "boolean", "NULL", "0", "NULL", "", ""],
            &[
                "at",
                "timestamp with time zone",
                "NULL",
                "0",
                "NULL",
                "",
                ""
            ],
            &["uid", "uuid", "NULL", "0", "NULL", "", ""],
            &["doc", "jsonb", "NULL", "0", "NULL", "", ""],
            &["data", "bytea", "NULL", "0", "NULL", "", ""],
            &["u_id", "bigint", "NULL", "0", "NULL", "", ""],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_d_table_details() {
    let (_dir, db) = open().await;
    let details = format!(
        "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers,
           c.relrowsecurity, c.relforcerowsecurity, 0 AS relhasoids, c.relispartition, '',
           c.reltablespace,
           CASE WHEN c.reloftype = 0 THEN '' ELSE starbase_regtype(c.reloftype) END,
           c.relpersistence, c.relreplident, am.amname
         FROM pg_class c LEFT JOIN pg_class tc ON (c.reltoastrelid = tc.oid)
         LEFT JOIN pg_am am ON (c.relam = am.oid)
         WHERE c.oid = '{}'",
        oid("t")
    );
    // relhastriggers: t has a foreign key, which PostgreSQL enforces with triggers.
    assert_eq!(
        query(&db, &details).await,
        rows(&[&[
            "1", "r", "1", "0", "1", "0", "0", "0", "0", "", "0", "", "p", "d", "heap"
        ]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_d_table_indexes_and_constraints() {
    let (_dir, db) = open().await;
    let t = oid("t");
    let indexes = format!(
        "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid,
           pg_get_indexdef(i.indexrelid, 0, true), pg_get_constraintdef(con.oid, true),
           contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
         FROM pg_class c, pg_class c2, pg_index i
           LEFT JOIN pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid
                                           AND contype IN ('p','u','x'))
         WHERE c.oid = '{t}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
         ORDER BY i.indisprimary DESC, c2.relname"
    );
    assert_eq!(
        query(&db, &indexes).await,
        rows(&[
            &[
                "t_pkey",
                "1",
                "1",
                "0",
                "1",
                "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",
                "PRIMARY KEY (id)",
                "p",
                "0",
                "0",
                "0",
                "0",
            ],
            &[
                "t_name_idx",
                "0",
                "0",
                "0",
                "1",
                "CREATE INDEX t_name_idx ON public.t USING btree (name, at DESC)",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "0",
                "0",
            ],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_d_table_check_and_foreign_key_constraints() {
    let (_dir, db) = open().await;
    let t = oid("t");
    let constraints = format!(
        "SELECT conname, contype, pg_get_constraintdef(r.oid, true) FROM pg_constraint r
          WHERE r.conrelid = '{t}' AND r.contype IN ('c', 'f') ORDER BY 1"
    );
    assert_eq!(
        query(&db, &constraints).await,
        rows(&[
            &["t_price_check", "c", "CHECK (price >= 0)"],
            &[
                "t_u_id_fkey",
                "f",
                "FOREIGN KEY (u_id) REFERENCES u(id) ON DELETE CASCADE",
            ],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn psql_d_table_other_catalogs_exist() {
    let (_dir, db) = open().await;
    // The remaining \d queries only need their catalogs to exist.
    for sql in [
        "SELECT pol.polname FROM pg_policy pol WHERE pol.polrelid = '1'",
        "SELECT t.tgname FROM pg_trigger t WHERE t.tgrelid = '1' AND NOT t.tgisinternal",
        "SELECT c.oid FROM pg_class c, pg_inherits i WHERE c.oid = i.inhparent",
        "SELECT pubname FROM pg_publication p JOIN pg_publication_rel pr ON p.oid = pr.prpubid",
        "SELECT stxname FROM pg_statistic_ext WHERE stxrelid = '1'",
    ] {
        assert_eq!(query(&db, sql).await, rows(&[]), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn attribute_types_of_every_declared_type() {
    let (_dir, db) = open().await;
    let sql = format!(
        "SELECT attname, atttypid, atttypmod, attlen, attbyval, attnotnull, atthasdef,
                attcollation
           FROM pg_attribute WHERE attrelid = {} ORDER BY attnum",
        oid("t")
    );
    assert_eq!(
        query(&db, &sql).await,
        rows(&[
            &["id", "20", "-1", "8", "1", "1", "0", "0"],
            &["small", "21", "-1", "2", "1", "1", "1", "0"],
            &["name", "1043", "24", "-1", "0", "0", "0", "100"],
            &["price", "1700", "655366", "-1", "0", "0", "0", "0"],
            &["flag", "16", "-1", "1", "1", "0", "0", "0"],
            &["at", "1184", "-1", "8", "1", "0", "0", "0"],
            &["uid", "2950", "-1", "16", "0", "0", "0", "0"],
            &["doc", "3802", "-1", "-1", "0", "0", "0", "0"],
            &["data", "17", "-1", "-1", "0", "0", "0", "0"],
            &["u_id", "20", "-1", "8", "1", "0", "0", "0"],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokio_postgres_typeinfo_query() {
    let (_dir, db) = open().await;
    let sql = "SELECT t.typname, t.typtype, t.typelem, r.rngsubtype, t.typbasetype, n.nspname,
                      t.typrelid
      FROM pg_type t
      LEFT OUTER JOIN pg_range r ON r.rngtypid = t.oid
      INNER JOIN pg_namespace n ON t.typnamespace = n.oid
      WHERE t.oid = $1";
    let uuid = rows(&[&["uuid", "b", "0", "NULL", "0", "pg_catalog", "0"]]);
    assert_eq!(query_params(&db, sql, &json!([2950])).await, uuid);
    // A parameter bound as text still matches (the OID columns have integer affinity).
    assert_eq!(query_params(&db, sql, &json!(["2950"])).await, uuid);
    assert_eq!(query_params(&db, sql, &json!([123_456])).await, rows(&[]));
    let sqlx = "SELECT typname, typtype, typcategory, typrelid, typelem, typbasetype
                  FROM pg_type WHERE oid = $1";
    assert_eq!(
        query_params(&db, sqlx, &json!([1043])).await,
        rows(&[&["varchar", "b", "S", "0", "0", "0"]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jdbc_and_dbeaver_connect_queries() {
    let (_dir, db) = open().await;
    let dbs = "SELECT db.oid, db.datname, db.encoding, db.datcollate FROM pg_database db
      WHERE 1 = 1 AND datallowconn AND NOT datistemplate OR db.datname = 'starbase'
      ORDER BY db.datname";
    assert_eq!(
        query(&db, dbs).await,
        rows(&[&["16384", "starbase", "6", "C"]])
    );
    let namespaces = "SELECT n.oid, n.nspname, d.description FROM pg_namespace n
      LEFT OUTER JOIN pg_description d ON d.objoid = n.oid AND d.objsubid = 0
        AND d.classoid = starbase_regclass('pg_namespace')
      ORDER BY nspname";
    assert_eq!(
        query(&db, namespaces).await,
        rows(&[
            &["13183", "information_schema", "NULL"],
            &["11", "pg_catalog", "NULL"],
            &["2200", "public", "NULL"],
        ])
    );
    let setting = "SELECT setting, vartype FROM pg_settings WHERE name = $1";
    assert_eq!(
        query_params(&db, setting, &json!(["standard_conforming_strings"])).await,
        rows(&[&["on", "bool"]])
    );
    assert_eq!(
        one(&db, "SELECT count(*) FROM pg_enum WHERE 1<>1").await,
        "0"
    );
    let type_info = "SELECT typinput = starbase_regproc('pg_catalog.array_in') AS is_array,
        typtype, typname, pg_type.oid FROM pg_type WHERE pg_type.oid = $1";
    assert_eq!(
        query_params(&db, type_info, &json!([23])).await,
        rows(&[&["0", "b", "int4", "23"]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlalchemy_introspection() {
    let (_dir, db) = open().await;
    let tables = "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname";
    assert_eq!(query(&db, tables).await, rows(&[&["pair"], &["t"], &["u"]]));
    let cols = "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS format_type,
        (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
          WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef) AS \"default\",
        a.attnotnull AS not_null, c.relname AS table_name,
        pg_description.description AS comment, a.attgenerated AS generated
      FROM pg_class c
      LEFT OUTER JOIN pg_attribute a ON c.oid = a.attrelid AND a.attnum > 0
        AND NOT a.attisdropped
      LEFT OUTER JOIN pg_description ON pg_description.objoid = a.attrelid
        AND pg_description.objsubid = a.attnum
      JOIN pg_namespace ON pg_namespace.oid = c.relnamespace
      WHERE c.relkind IN ('r','p','f','v','m') AND pg_table_is_visible(c.oid)
        AND c.relname IN ('u') ORDER BY c.relname, a.attnum";
    assert_eq!(
        query(&db, cols).await,
        rows(&[
            &["id", "bigint", "NULL", "1", "u", "NULL", ""],
            &["email", "text", "NULL", "1", "u", "NULL", ""],
        ])
    );
    let fks = "SELECT r.conname, pg_get_constraintdef(r.oid, true) AS condef, n.nspname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_constraint r ON r.conrelid = c.oid
      WHERE r.contype = 'f' AND c.relname = 't' ORDER BY 1";
    assert_eq!(
        query(&db, fks).await,
        rows(&[&[
            "t_u_id_fkey",
            "FOREIGN KEY (u_id) REFERENCES u(id) ON DELETE CASCADE",
            "public",
        ]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn django_introspection() {
    let (_dir, db) = open().await;
    let tables = "SELECT c.relname,
        CASE WHEN c.relispartition THEN 'p' WHEN c.relkind IN ('m','v') THEN 'v' ELSE 't' END,
        obj_description(c.oid, 'pg_class')
      FROM pg_class c LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('f','m','p','r','v') AND n.nspname NOT IN ('pg_catalog','pg_toast')
        AND pg_table_is_visible(c.oid) ORDER BY 1";
    assert_eq!(
        query(&db, tables).await,
        rows(&[
            &["pair", "t", "NULL"],
            &["t", "t", "NULL"],
            &["tv", "v", "NULL"],
            &["u", "t", "NULL"],
        ])
    );
    let cols = "SELECT a.attname AS column_name,
        NOT (a.attnotnull OR ((t.typtype = 'd') AND t.typnotnull)) AS is_nullable,
        pg_get_expr(ad.adbin, ad.adrelid) AS column_default
      FROM pg_attribute AS a
      LEFT JOIN pg_attrdef AS ad ON (a.attrelid = ad.adrelid) AND (a.attnum = ad.adnum)
      JOIN pg_type AS t ON a.atttypid = t.oid JOIN pg_class AS c ON a.attrelid = c.oid
      JOIN pg_namespace AS n ON c.relnamespace = n.oid
      WHERE ((c.relkind IN ('f','m','p','r','v')) AND (c.relname = 't'))
        AND (n.nspname NOT IN ('pg_catalog','pg_toast')) AND pg_table_is_visible(c.oid)
        AND a.attnum <= 3 ORDER BY a.attnum";
    assert_eq!(
        query(&db, cols).await,
        rows(&[
            &["id", "0", "NULL"],
            &["small", "0", "0"],
            &["name", "1", "NULL"]
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diesel_tables_and_columns() {
    let (_dir, db) = open().await;
    let tables = "SELECT table_name, table_type FROM information_schema_tables
      WHERE table_schema = 'public' ORDER BY table_name";
    assert_eq!(
        query(&db, tables).await,
        rows(&[
            &["pair", "BASE TABLE"],
            &["t", "BASE TABLE"],
            &["tv", "VIEW"],
            &["u", "BASE TABLE"],
        ])
    );
    let cols = "SELECT column_name, udt_name, data_type, is_nullable, character_maximum_length,
        numeric_precision, numeric_scale
      FROM information_schema_columns WHERE table_name = 't' AND table_schema = 'public'
        AND ordinal_position IN (1, 3, 4, 6) ORDER BY ordinal_position";
    assert_eq!(
        query(&db, cols).await,
        rows(&[
            &["id", "int8", "bigint", "NO", "NULL", "64", "0"],
            &[
                "name",
                "varchar",
                "character varying",
                "YES",
                "20",
                "NULL",
                "NULL"
            ],
            &["price", "numeric", "numeric", "YES", "NULL", "10", "2"],
            &[
                "at",
                "timestamptz",
                "timestamp with time zone",
                "YES",
                "NULL",
                "NULL",
                "NULL"
            ],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diesel_keys() {
    let (_dir, db) = open().await;
    let pk = "SELECT kcu.column_name FROM information_schema_table_constraints tc
      JOIN information_schema_key_column_usage kcu
        ON tc.constraint_name = kcu.constraint_name AND tc.table_name = kcu.table_name
      WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = 'pair'
      ORDER BY kcu.ordinal_position";
    assert_eq!(query(&db, pk).await, rows(&[&["a"], &["b"]]));
    let fks = "SELECT rc.constraint_name, kcu_fk.table_name, kcu_fk.column_name,
        kcu_pk.table_name, kcu_pk.column_name, rc.delete_rule, rc.update_rule
      FROM information_schema_referential_constraints rc
      JOIN information_schema_key_column_usage kcu_fk
        ON rc.constraint_name = kcu_fk.constraint_name
      JOIN information_schema_key_column_usage kcu_pk
        ON rc.unique_constraint_name = kcu_pk.constraint_name
       AND kcu_pk.ordinal_position = kcu_fk.position_in_unique_constraint";
    assert_eq!(
        query(&db, fks).await,
        rows(&[&[
            "t_u_id_fkey",
            "t",
            "u_id",
            "u",
            "id",
            "CASCADE",
            "NO ACTION"
        ]])
    );
    let usage = "SELECT table_name, column_name FROM information_schema_constraint_column_usage
      WHERE constraint_name = 't_u_id_fkey'";
    assert_eq!(query(&db, usage).await, rows(&[&["u", "id"]]));
}

#[tokio::test(flavor = "multi_thread")]
async fn information_schema_schemata_views_routines() {
    let (_dir, db) = open().await;
    let schemata = "SELECT schema_name FROM information_schema_schemata ORDER BY 1";
    assert_eq!(
        query(&db, schemata).await,
        rows(&[&["information_schema"], &["pg_catalog"], &["public"]])
    );
    let views = "SELECT table_name, view_definition FROM information_schema_views";
    assert_eq!(
        query(&db, views).await,
        rows(&[&["tv", "SELECT id, name FROM t"]])
    );
    assert_eq!(
        one(&db, "SELECT count(*) FROM information_schema_routines").await,
        "0"
    );
}
