//! The `pg_catalog` views that do not depend on the schema (`pg_type`, `pg_proc`,
//! `pg_database`, roles, access methods, collations, …), the ones PostgreSQL
//! clients only need to exist with the right columns (`pg_description`, `pg_range`,
//! `pg_enum`, `pg_inherits`, `pg_policy`, …: empty), and the convenience views over
//! `views_pg` (`pg_tables`, `pg_views`, `pg_indexes`, `pg_stat_user_tables`,
//! `pg_statio_user_tables`).
//!
//! Owns the fixed answers: one database (`starbase`, OID 16384), one superuser role
//! (`postgres`, OID 10). Must not know SQLite's schema tables.

use super::types::{pg_proc_values, pg_type_values};
use super::views_pg_settings::pg_settings;

/// `pg_type`: one row per built-in type the gateway reports.
pub(super) fn pg_type() -> String {
    format!(
        "CREATE TEMP VIEW pg_type AS
SELECT CAST(column1 AS INTEGER) AS oid, column2 AS typname, CAST(11 AS INTEGER) AS typnamespace,
       10 AS typowner, column3 AS typlen, column4 AS typbyval, column5 AS typtype,
       column6 AS typcategory, column7 AS typispreferred, 1 AS typisdefined, ',' AS typdelim,
       0 AS typrelid, '-' AS typsubscript, 0 AS typelem, 0 AS typarray, column8 AS typinput,
       column9 AS typoutput, column10 AS typreceive, column11 AS typsend,
       column12 AS typmodin, '-' AS typmodout, '-' AS typanalyze, column13 AS typalign,
       column14 AS typstorage, 0 AS typnotnull, 0 AS typbasetype, -1 AS typtypmod,
       0 AS typndims, column15 AS typcollation, NULL AS typdefaultbin, NULL AS typdefault,
       NULL AS typacl
  FROM (VALUES {})",
        pg_type_values()
    )
}

/// `pg_proc`: the registered functions, type I/O functions and common built-ins.
pub(super) fn pg_proc() -> String {
    format!(
        "CREATE TEMP VIEW pg_proc AS
SELECT CAST(column1 AS INTEGER) AS oid, column2 AS proname, CAST(11 AS INTEGER) AS pronamespace,
       10 AS proowner, 12 AS prolang, 1 AS procost, 0 AS prorows, 0 AS provariadic,
       '-' AS prosupport,
       CASE WHEN column2 IN ('count', 'sum', 'min', 'max', 'avg') THEN 'a' ELSE 'f' END
         AS prokind,
       0 AS prosecdef, 0 AS proleakproof, 0 AS proisstrict, 0 AS proretset,
       'i' AS provolatile, 's' AS proparallel, column4 AS pronargs, 0 AS pronargdefaults,
       column3 AS prorettype, column5 AS proargtypes, NULL AS proallargtypes,
       NULL AS proargmodes, NULL AS proargnames, NULL AS proargdefaults, NULL AS protrftypes,
       column2 AS prosrc, NULL AS probin, NULL AS prosqlbody, NULL AS proconfig, NULL AS proacl
  FROM (VALUES {})",
        pg_proc_values()
    )
}

const PG_DATABASE: &str = r"
CREATE TEMP VIEW pg_database AS
SELECT CAST(16384 AS INTEGER) AS oid, starbase_database_name() AS datname, 10 AS datdba,
       6 AS encoding, 'c' AS datlocprovider, 0 AS datistemplate, 1 AS datallowconn,
       -1 AS datconnlimit, 16383 AS datlastsysoid, 0 AS datfrozenxid, 1 AS datminmxid,
       1663 AS dattablespace, 'C' AS datcollate, 'C' AS datctype, NULL AS daticulocale,
       NULL AS daticurules, NULL AS datcollversion, NULL AS datacl";

const ROLES: &str = r"
CREATE TEMP VIEW pg_roles AS
SELECT 'postgres' AS rolname, 1 AS rolsuper, 1 AS rolinherit, 1 AS rolcreaterole,
       1 AS rolcreatedb, 1 AS rolcanlogin, 1 AS rolreplication, -1 AS rolconnlimit,
       '********' AS rolpassword, NULL AS rolvaliduntil, 1 AS rolbypassrls,
       NULL AS rolconfig, CAST(10 AS INTEGER) AS oid;
CREATE TEMP VIEW pg_authid AS
SELECT CAST(10 AS INTEGER) AS oid, 'postgres' AS rolname, 1 AS rolsuper, 1 AS rolinherit,
       1 AS rolcreaterole, 1 AS rolcreatedb, 1 AS rolcanlogin, 1 AS rolreplication,
       1 AS rolbypassrls, -1 AS rolconnlimit, NULL AS rolpassword, NULL AS rolvaliduntil;
CREATE TEMP VIEW pg_user AS
SELECT 'postgres' AS usename, CAST(10 AS INTEGER) AS usesysid, 1 AS usecreatedb,
       1 AS usesuper, 1 AS userepl, 1 AS usebypassrls, '********' AS passwd,
       NULL AS valuntil, NULL AS useconfig";

const FIXED: &str = r"
CREATE TEMP VIEW pg_am(oid, amname, amhandler, amtype) AS
VALUES (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i');
CREATE TEMP VIEW pg_collation(oid, collname, collnamespace, collowner, collprovider,
  collisdeterministic, collencoding, collcollate, collctype, colliculocale, collicurules,
  collversion) AS
VALUES (100, 'default', 11, 10, 'd', 1, -1, NULL, NULL, NULL, NULL, NULL),
       (950, 'C', 11, 10, 'c', 1, -1, 'C', 'C', NULL, NULL, NULL),
       (951, 'POSIX', 11, 10, 'c', 1, -1, 'POSIX', 'POSIX', NULL, NULL, NULL);
CREATE TEMP VIEW pg_extension(oid, extname, extowner, extnamespace, extrelocatable,
  extversion, extconfig, extcondition) AS
VALUES (13500, 'plpgsql', 10, 11, 0, '1.0', NULL, NULL);
CREATE TEMP VIEW pg_tablespace(oid, spcname, spcowner, spcacl, spcoptions) AS
VALUES (1663, 'pg_default', 10, NULL, NULL), (1664, 'pg_global', 10, NULL, NULL);
CREATE TEMP VIEW pg_opclass(oid, opcmethod, opcname, opcnamespace, opcowner, opcfamily,
  opcintype, opcdefault, opckeytype) AS
VALUES (3124, 403, 'int8_ops', 11, 10, 1976, 20, 1, 0),
       (3126, 403, 'text_ops', 11, 10, 1994, 25, 1, 0),
       (3128, 403, 'float8_ops', 11, 10, 1970, 701, 1, 0),
       (3130, 403, 'bytea_ops', 11, 10, 428, 17, 1, 0)";

/// Catalogs that exist with their columns and no rows.
const EMPTY: &[(&str, &str)] = &[
    ("pg_description", "objoid, classoid, objsubid, description"),
    ("pg_shdescription", "objoid, classoid, description"),
    (
        "pg_range",
        "rngtypid, rngsubtype, rngmultitypid, rngcollation, rngsubopc, rngcanonical, rngsubdiff",
    ),
    ("pg_enum", "oid, enumtypid, enumsortorder, enumlabel"),
    (
        "pg_inherits",
        "inhrelid, inhparent, inhseqno, inhdetachpending",
    ),
    (
        "pg_policy",
        "oid, polname, polrelid, polcmd, polpermissive, polroles, polqual, polwithcheck",
    ),
    (
        "pg_publication",
        "oid, pubname, pubowner, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, \
         pubviaroot",
    ),
    (
        "pg_publication_rel",
        "oid, prpubid, prrelid, prqual, prattrs",
    ),
    ("pg_publication_namespace", "oid, pnpubid, pnnspid"),
    (
        "pg_event_trigger",
        "oid, evtname, evtevent, evtowner, evtfoid, evtenabled, evttags",
    ),
    (
        "pg_foreign_data_wrapper",
        "oid, fdwname, fdwowner, fdwhandler, fdwvalidator, fdwacl, fdwoptions",
    ),
    (
        "pg_foreign_server",
        "oid, srvname, srvowner, srvfdw, srvtype, srvversion, srvacl, srvoptions",
    ),
    ("pg_db_role_setting", "setdatabase, setrole, setconfig"),
    (
        "pg_auth_members",
        "oid, roleid, member, grantor, admin_option, inherit_option, set_option",
    ),
    (
        "pg_statistic_ext",
        "oid, stxrelid, stxname, stxnamespace, stxowner, stxstattarget, stxkeys, stxkind, stxexprs",
    ),
    (
        "pg_depend",
        "classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype",
    ),
    (
        "pg_sequence",
        "seqrelid, seqtypid, seqstart, seqincrement, seqmax, seqmin, seqcache, seqcycle",
    ),
    (
        "pg_rewrite",
        "oid, rulename, ev_class, ev_type, ev_enabled, is_instead, ev_qual, ev_action",
    ),
    ("pg_foreign_table", "ftrelid, ftserver, ftoptions"),
    (
        "pg_partitioned_table",
        "partrelid, partstrat, partnatts, partdefid, partattrs, partclass, partcollation, \
         partexprs",
    ),
    (
        "pg_matviews",
        "schemaname, matviewname, matviewowner, tablespace, hasindexes, ispopulated, definition",
    ),
    (
        "pg_sequences",
        "schemaname, sequencename, sequenceowner, data_type, start_value, min_value, \
         max_value, increment_by, cycle, cache_size, last_value",
    ),
];

/// `CREATE TEMP VIEW name AS SELECT NULL AS col, … WHERE 0` for every [`EMPTY`] catalog.
fn empty_views() -> String {
    EMPTY
        .iter()
        .map(|(name, columns)| {
            let cols: Vec<String> = columns
                .split(", ")
                .map(|c| format!("NULL AS {c}"))
                .collect();
            format!(
                "CREATE TEMP VIEW {name} AS SELECT {} WHERE 0;\n",
                cols.join(", ")
            )
        })
        .collect()
}

const CONVENIENCE: &str = r"
CREATE TEMP VIEW pg_tables AS
SELECT 'public' AS schemaname, relname AS tablename, 'postgres' AS tableowner,
       NULL AS tablespace, relhasindex AS hasindexes, 0 AS hasrules,
       relhastriggers AS hastriggers, 0 AS rowsecurity
  FROM pg_class WHERE relkind = 'r';
CREATE TEMP VIEW pg_views AS
SELECT 'public' AS schemaname, name AS viewname, 'postgres' AS viewowner,
       starbase_view_query(sql) AS definition
  FROM starbase_catalog_relations WHERE type = 'view';
CREATE TEMP VIEW pg_indexes AS
SELECT 'public' AS schemaname, tbl AS tablename, relname AS indexname, NULL AS tablespace,
       indexdef
  FROM starbase_catalog_index;
CREATE TEMP VIEW pg_stat_user_tables AS
SELECT oid AS relid, 'public' AS schemaname, relname, 0 AS seq_scan, 0 AS seq_tup_read,
       0 AS idx_scan, 0 AS idx_tup_fetch, 0 AS n_tup_ins, 0 AS n_tup_upd, 0 AS n_tup_del,
       0 AS n_tup_hot_upd, 0 AS n_live_tup, 0 AS n_dead_tup, 0 AS n_mod_since_analyze,
       0 AS n_ins_since_vacuum, NULL AS last_vacuum, NULL AS last_autovacuum,
       NULL AS last_analyze, NULL AS last_autoanalyze, 0 AS vacuum_count,
       0 AS autovacuum_count, 0 AS analyze_count, 0 AS autoanalyze_count
  FROM pg_class WHERE relkind = 'r';
CREATE TEMP VIEW pg_statio_user_tables AS
SELECT oid AS relid, 'public' AS schemaname, relname, 0 AS heap_blks_read,
       0 AS heap_blks_hit, 0 AS idx_blks_read, 0 AS idx_blks_hit, 0 AS toast_blks_read,
       0 AS toast_blks_hit, 0 AS tidx_blks_read, 0 AS tidx_blks_hit
  FROM pg_class WHERE relkind = 'r'";

/// The fixed views that must exist before `views_pg` (it joins `pg_type`).
pub(super) fn before() -> String {
    format!("{};\n", pg_type())
}

/// Every other view of this module, as one batch (run after `views_pg`).
pub(super) fn after() -> String {
    format!(
        "{};\n{};\n{PG_DATABASE};\n{ROLES};\n{FIXED};\n{}{CONVENIENCE};\n",
        pg_proc(),
        pg_settings(),
        empty_views()
    )
}
