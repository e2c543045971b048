//! The column lists of the catalog views, in PostgreSQL 16's order: clients that run
//! `SELECT t.*` (DBeaver, pgJDBC) read the columns by position.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod catalog;

use catalog::{columns, one, open};
use starbase_backends::sqlite::catalog_column_type;
use starbase_protocol::pgtype::PgType;

/// PostgreSQL 16's columns of each catalog (plus our documented extras at the end).
const SHAPES: &[(&str, &str)] = &[
    ("pg_namespace", "oid nspname nspowner nspacl"),
    (
        "pg_class",
        "oid relname relnamespace reltype reloftype relowner relam relfilenode reltablespace \
         relpages reltuples relallvisible reltoastrelid relhasindex relisshared relpersistence \
         relkind relnatts relchecks relhasrules relhastriggers relhassubclass relrowsecurity \
         relforcerowsecurity relispopulated relreplident relispartition relrewrite \
         relfrozenxid relminmxid relacl reloptions relpartbound",
    ),
    (
        "pg_attribute",
        "attrelid attname atttypid attstattarget attlen attnum attndims attcacheoff atttypmod \
         attbyval attalign attstorage attcompression attnotnull atthasdef atthasmissing \
         attidentity attgenerated attisdropped attislocal attinhcount attcollation attacl \
         attoptions attfdwoptions attmissingval",
    ),
    (
        "pg_type",
        "oid typname typnamespace typowner typlen typbyval typtype typcategory typispreferred \
         typisdefined typdelim typrelid typsubscript typelem typarray typinput typoutput \
         typreceive typsend typmodin typmodout typanalyze typalign typstorage typnotnull \
         typbasetype typtypmod typndims typcollation typdefaultbin typdefault typacl",
    ),
    (
        "pg_index",
        "indexrelid indrelid indnatts indnkeyatts indisunique indnullsnotdistinct \
         indisprimary indisexclusion indimmediate indisclustered indisvalid indcheckxmin \
         indisready indislive indisreplident indkey indcollation indclass indoption indexprs \
         indpred",
    ),
    (
        "pg_constraint",
        "oid conname connamespace contype condeferrable condeferred convalidated conrelid \
         contypid conindid conparentid confrelid confupdtype confdeltype confmatchtype \
         conislocal coninhcount connoinherit conkey confkey conpfeqop conppeqop conffeqop \
         confdelsetcols conexclop conbin condef starbase_table starbase_reftable",
    ),
    ("pg_attrdef", "oid adrelid adnum adbin"),
    (
        "pg_proc",
        "oid proname pronamespace proowner prolang procost prorows provariadic prosupport \
         prokind prosecdef proleakproof proisstrict proretset provolatile proparallel \
         pronargs pronargdefaults prorettype proargtypes proallargtypes proargmodes \
         proargnames proargdefaults protrftypes prosrc probin prosqlbody proconfig proacl",
    ),
    (
        "pg_settings",
        "name setting unit category short_desc extra_desc context vartype source min_val \
         max_val enumvals boot_val reset_val sourcefile sourceline pending_restart",
    ),
    (
        "pg_database",
        "oid datname datdba encoding datlocprovider datistemplate datallowconn datconnlimit \
         datlastsysoid datfrozenxid datminmxid dattablespace datcollate datctype daticulocale \
         daticurules datcollversion datacl",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn catalogs_have_postgres_columns_in_order() {
    let (_dir, db) = open().await;
    for (view, expected) in SHAPES {
        let got = columns(&db, &format!("SELECT * FROM {view}")).await;
        let expected: Vec<&str> = expected.split_whitespace().collect();
        assert_eq!(got, expected, "{view}");
    }
}

/// Views whose values are checked against [`catalog_column_type`].
const TYPED_VIEWS: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_type",
    "pg_index",
    "pg_constraint",
    "pg_attrdef",
    "pg_proc",
    "pg_settings",
    "pg_database",
    "pg_roles",
    "pg_authid",
    "pg_user",
    "pg_am",
    "pg_collation",
    "pg_extension",
    "pg_tablespace",
    "pg_trigger",
    "pg_tables",
    "pg_views",
    "pg_indexes",
    "pg_stat_user_tables",
    "information_schema_tables",
    "information_schema_columns",
    "information_schema_key_column_usage",
];

#[tokio::test(flavor = "multi_thread")]
async fn values_fit_the_reported_column_types() {
    let (_dir, db) = open().await;
    catalog::exec(
        &db,
        "CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN SELECT 1; END",
    )
    .await;
    let mut checked = 0;
    for view in TYPED_VIEWS {
        for column in columns(&db, &format!("SELECT * FROM {view}")).await {
            let check = match catalog_column_type(&column) {
                Some(PgType::Bool) => format!("{column} NOT IN (0, 1)"),
                Some(PgType::Char) => format!("length({column}) > 1"),
                Some(PgType::Oid | PgType::Int2 | PgType::Int4) => {
                    format!("typeof({column}) NOT IN ('integer', 'null')")
                }
                _ => continue,
            };
            let sql = format!("SELECT count(*) FROM {view} WHERE {check}");
            assert_eq!(one(&db, &sql).await, "0", "{sql}");
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked} columns checked");
}

/// The translator spells `pg_database` out column by column (to put the session's database
/// name in it): its list must be the view's.
#[test]
fn the_translators_pg_database_columns_are_the_views() {
    let (_, shape) = SHAPES.iter().find(|(n, _)| *n == "pg_database").unwrap();
    let view: Vec<&str> = shape.split_whitespace().collect();
    assert_eq!(view, starbase_protocol::sql::pg::PG_DATABASE_COLUMNS);
}
