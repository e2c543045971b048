//! The `pg_catalog` views computed from the live schema: `pg_namespace`, `pg_class`,
//! `pg_attribute`, `pg_attrdef`, `pg_index`, `pg_constraint`, `pg_trigger`, and the
//! internal helpers `starbase_catalog_relations` / `starbase_catalog_index` /
//! `starbase_catalog_fk` they share.
//!
//! Owns how SQLite's schema (`main.sqlite_schema` and the `pragma_*` table-valued functions,
//! read on every query, never cached) is presented in PostgreSQL's shape: index and
//! constraint names (`<table>_pkey`, `<table>_<cols>_key`, `<table>_<cols>_fkey`), the
//! synthesised primary-key index of a rowid table, attnums, typmods. Hidden: SQLite's
//! internal tables (`sqlite_%`), by the same rule as the dump. Must not know the static
//! catalogs (see `views_pg_static`) or information_schema.

/// The user's tables and views: the dump's rule (`sql IS NOT NULL`, no `sqlite_` names),
/// without views whose query no longer compiles (see `snapshot`).
const RELATIONS: &str = r"
CREATE TEMP VIEW starbase_catalog_relations AS
SELECT name, type, sql, CAST(starbase_relation_oid(name) AS INTEGER) AS oid,
       CASE type WHEN 'view' THEN 'v' ELSE 'r' END AS relkind
  FROM main.sqlite_schema
 WHERE type IN ('table', 'view') AND sql IS NOT NULL
   AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
   AND (type = 'table' OR starbase_view_ok(name))";

/// Every index in PostgreSQL's naming, plus a `<table>_pkey` for a rowid alias primary key
/// (`INTEGER PRIMARY KEY`), which has no SQLite index. `indkey` is PostgreSQL's int2vector
/// text (`1 2`, 0 for an expression); the definition's key list is the `CREATE INDEX` text's
/// own (expressions included), or the quoted columns for constraint indexes.
const INDEX: &str = r"
CREATE TEMP VIEW starbase_catalog_index AS
WITH raw AS (
  SELECT t.name AS tbl, t.oid AS tbl_oid, t.sql AS tbl_sql, il.name AS sqlite_name,
         il.[unique] AS is_unique,
         il.origin AS origin, il.partial AS partial,
         (SELECT s.sql FROM main.sqlite_schema s WHERE s.type = 'index' AND s.name = il.name)
           AS index_sql,
         (SELECT group_concat(CASE WHEN x.cid >= 0 THEN x.cid + 1 ELSE 0 END, ' '
                              ORDER BY x.seqno)
            FROM pragma_index_xinfo(il.name, 'main') x WHERE x.key) AS indkey,
         (SELECT group_concat(coalesce(x.name, 'expr'), '_' ORDER BY x.seqno)
            FROM pragma_index_xinfo(il.name, 'main') x WHERE x.key) AS key_names,
         (SELECT group_concat(x.name, ',' ORDER BY x.seqno)
            FROM pragma_index_xinfo(il.name, 'main') x WHERE x.key) AS key_csv,
         (SELECT group_concat(coalesce(x.name, ''), char(31) ORDER BY x.seqno)
            FROM pragma_index_xinfo(il.name, 'main') x WHERE x.key) AS key_units,
         (SELECT group_concat(coalesce(quote_ident(x.name), '(expression)')
                              || CASE WHEN x.[desc] THEN ' DESC' ELSE '' END, ', '
                              ORDER BY x.seqno)
            FROM pragma_index_xinfo(il.name, 'main') x WHERE x.key) AS key_list,
         (SELECT count(*) FROM pragma_index_xinfo(il.name, 'main') x WHERE x.key) AS natts
    FROM starbase_catalog_relations t, pragma_index_list(t.name, 'main') il
   WHERE t.type = 'table'
  UNION ALL
  SELECT t.name, t.oid, t.sql, NULL, 1, 'pk', 0, NULL,
         (SELECT group_concat(c.cid + 1, ' ' ORDER BY c.pk)
            FROM pragma_table_info(t.name, 'main') c WHERE c.pk > 0),
         (SELECT group_concat(c.name, '_' ORDER BY c.pk)
            FROM pragma_table_info(t.name, 'main') c WHERE c.pk > 0),
         (SELECT group_concat(c.name, ',' ORDER BY c.pk)
            FROM pragma_table_info(t.name, 'main') c WHERE c.pk > 0),
         (SELECT group_concat(c.name, char(31) ORDER BY c.pk)
            FROM pragma_table_info(t.name, 'main') c WHERE c.pk > 0),
         (SELECT group_concat(quote_ident(c.name), ', ' ORDER BY c.pk)
            FROM pragma_table_info(t.name, 'main') c WHERE c.pk > 0),
         (SELECT count(*) FROM pragma_table_info(t.name, 'main') c WHERE c.pk > 0)
    FROM starbase_catalog_relations t
   WHERE t.type = 'table'
     AND EXISTS (SELECT 1 FROM pragma_table_info(t.name, 'main') c WHERE c.pk > 0)
     AND NOT EXISTS (SELECT 1 FROM pragma_index_list(t.name, 'main') il
                      WHERE il.origin = 'pk')
), named AS (
  SELECT raw.*, CASE origin WHEN 'pk' THEN tbl || '_pkey'
                            WHEN 'u' THEN coalesce(starbase_constraint_name(tbl_sql, 'u', key_csv),
                                                   tbl || '_' || key_names || '_key')
                            ELSE sqlite_name END AS relname
    FROM raw
)
SELECT named.*, CAST(starbase_relation_oid(relname) AS INTEGER) AS indexrelid,
       starbase_index_predicate(index_sql) AS predicate,
       'CREATE ' || CASE WHEN is_unique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
         || quote_ident(relname) || ' ON public.' || quote_ident(tbl)
         || ' USING btree (' || coalesce(starbase_index_keys(index_sql), key_list) || ')'
         || coalesce(' WHERE ' || starbase_index_predicate(index_sql), '') AS indexdef
  FROM named";

/// Foreign keys, one row per constraint, with the referenced columns resolved (a
/// `REFERENCES u` without columns means `u`'s primary key).
const FK: &str = r"
CREATE TEMP VIEW starbase_catalog_fk AS
WITH cols AS (
  SELECT t.name AS tbl, t.oid AS tbl_oid, t.sql AS tbl_sql, fk.id AS id, fk.seq AS seq,
         fk.[table] AS reftable,
         fk.[from] AS from_col,
         coalesce(fk.[to], (SELECT p.name FROM pragma_table_info(fk.[table], 'main') p
                             WHERE p.pk = fk.seq + 1)) AS to_col,
         fk.on_update AS on_update, fk.on_delete AS on_delete
    FROM starbase_catalog_relations t, pragma_foreign_key_list(t.name, 'main') fk
   WHERE t.type = 'table'
)
SELECT tbl, tbl_oid, tbl_sql, id, reftable,
       CAST(starbase_relation_oid(reftable) AS INTEGER) AS ref_oid,
       max(on_update) AS on_update, max(on_delete) AS on_delete,
       group_concat(from_col, '_' ORDER BY seq) AS from_names,
       group_concat(from_col, ',' ORDER BY seq) AS from_csv,
       group_concat(quote_ident(from_col), ', ' ORDER BY seq) AS from_list,
       group_concat(quote_ident(to_col), ', ' ORDER BY seq) AS to_list,
       '{' || group_concat((SELECT x.cid + 1 FROM pragma_table_xinfo(tbl, 'main') x
                             WHERE x.name = from_col COLLATE NOCASE), ',' ORDER BY seq)
           || '}' AS conkey,
       '{' || group_concat((SELECT x.cid + 1 FROM pragma_table_xinfo(reftable, 'main') x
                             WHERE x.name = to_col COLLATE NOCASE), ',' ORDER BY seq)
           || '}' AS confkey,
       group_concat((SELECT x.cid + 1 FROM pragma_table_xinfo(reftable, 'main') x
                      WHERE x.name = to_col COLLATE NOCASE), ' ' ORDER BY seq) AS ref_indkey
  FROM cols GROUP BY tbl, id";

const PG_NAMESPACE: &str = r"
CREATE TEMP VIEW pg_namespace(oid, nspname, nspowner, nspacl) AS
VALUES (11, 'pg_catalog', 10, NULL), (2200, 'public', 10, NULL),
       (13183, 'information_schema', 10, NULL)";

const PG_CLASS: &str = r"
CREATE TEMP VIEW pg_class AS
WITH rels AS (
  SELECT t.oid, t.name AS relname, t.relkind,
         CASE t.relkind WHEN 'r' THEN 2 ELSE 0 END AS relam,
         EXISTS (SELECT 1 FROM starbase_catalog_index i WHERE i.tbl_oid = t.oid) AS relhasindex,
         (SELECT count(*) FROM pragma_table_xinfo(t.name, 'main') c WHERE c.hidden <> 1)
           AS relnatts,
         CASE t.relkind WHEN 'r' THEN
           (SELECT count(*) FROM json_each(starbase_table_checks(t.name, t.sql)))
         ELSE 0 END AS relchecks,
         -- PostgreSQL enforces foreign keys with triggers on both tables, and psql lists
         -- a table's foreign keys (either way) only when this is set.
         (EXISTS (SELECT 1 FROM main.sqlite_schema s
                   WHERE s.type = 'trigger' AND s.tbl_name = t.name COLLATE NOCASE)
          OR EXISTS (SELECT 1 FROM pragma_foreign_key_list(t.name, 'main'))
          OR EXISTS (SELECT 1 FROM starbase_catalog_fk f
                      WHERE f.reftable = t.name COLLATE NOCASE)) AS relhastriggers
    FROM starbase_catalog_relations t
  UNION ALL
  SELECT indexrelid, relname, 'i', 403, 0, natts, 0, 0 FROM starbase_catalog_index
)
SELECT CAST(oid AS INTEGER) AS oid, relname, CAST(2200 AS INTEGER) AS relnamespace,
       0 AS reltype, 0 AS reloftype, 10 AS relowner, relam, oid AS relfilenode,
       0 AS reltablespace, 0 AS relpages, -1.0 AS reltuples, 0 AS relallvisible,
       0 AS reltoastrelid, relhasindex, 0 AS relisshared, 'p' AS relpersistence,
       relkind, relnatts, relchecks, 0 AS relhasrules, relhastriggers, 0 AS relhassubclass,
       0 AS relrowsecurity, 0 AS relforcerowsecurity, 1 AS relispopulated,
       'd' AS relreplident, 0 AS relispartition, 0 AS relrewrite, 0 AS relfrozenxid,
       0 AS relminmxid, NULL AS relacl, NULL AS reloptions, NULL AS relpartbound
  FROM rels";

const PG_ATTRIBUTE: &str = r"
CREATE TEMP VIEW pg_attribute AS
SELECT t.oid AS attrelid, c.name AS attname,
       CAST(starbase_decl_type_oid(c.type) AS INTEGER) AS atttypid,
       -1 AS attstattarget, ty.typlen AS attlen, CAST(c.cid + 1 AS INTEGER) AS attnum,
       0 AS attndims, -1 AS attcacheoff, starbase_decl_typmod(c.type) AS atttypmod,
       ty.typbyval AS attbyval, ty.typalign AS attalign, ty.typstorage AS attstorage,
       '' AS attcompression, (c.[notnull] OR c.pk > 0) AS attnotnull,
       c.dflt_value IS NOT NULL AS atthasdef, 0 AS atthasmissing, '' AS attidentity,
       CASE WHEN c.hidden IN (2, 3) THEN 's' ELSE '' END AS attgenerated,
       0 AS attisdropped, 1 AS attislocal, 0 AS attinhcount,
       coalesce(ty.typcollation, 0) AS attcollation, NULL AS attacl, NULL AS attoptions,
       NULL AS attfdwoptions, NULL AS attmissingval
  FROM starbase_catalog_relations t, pragma_table_xinfo(t.name, 'main') c
  LEFT JOIN pg_type ty ON ty.oid = starbase_decl_type_oid(c.type)
 WHERE c.hidden <> 1";

const PG_ATTRDEF: &str = r"
CREATE TEMP VIEW pg_attrdef AS
SELECT CAST(starbase_relation_oid(t.name || '/attrdef/' || (c.cid + 1)) AS INTEGER) AS oid,
       t.oid AS adrelid, CAST(c.cid + 1 AS INTEGER) AS adnum, c.dflt_value AS adbin
  FROM starbase_catalog_relations t, pragma_table_xinfo(t.name, 'main') c
 WHERE t.type = 'table' AND c.dflt_value IS NOT NULL";

/// PostgreSQL 16's columns, in its order (as for every catalog here: `SELECT *` clients
/// read them by position).
const PG_INDEX: &str = r"
CREATE TEMP VIEW pg_index AS
SELECT indexrelid, tbl_oid AS indrelid, natts AS indnatts, natts AS indnkeyatts,
       is_unique AS indisunique, 0 AS indnullsnotdistinct, origin = 'pk' AS indisprimary,
       0 AS indisexclusion, 1 AS indimmediate, 0 AS indisclustered, 1 AS indisvalid,
       0 AS indcheckxmin, 1 AS indisready, 1 AS indislive, 0 AS indisreplident, indkey,
       starbase_vector_fill(indkey, 0) AS indcollation, starbase_vector_fill(indkey, 0) AS indclass,
       starbase_vector_fill(indkey, 0) AS indoption,
       NULL AS indexprs, predicate AS indpred
  FROM starbase_catalog_index";

/// Primary keys, unique constraints (both from their indexes), foreign keys and CHECKs. Extra
/// columns beyond PostgreSQL's: `condef` (what `pg_get_constraintdef` returns), and the table
/// names `starbase_table`/`starbase_reftable` that spare `information_schema` a join.
const PG_CONSTRAINT: &str = r"
CREATE TEMP VIEW pg_constraint AS
WITH cons AS (
  SELECT i.relname AS conname, i.origin AS contype, i.tbl AS tbl, NULL AS reftable,
         i.tbl_oid AS conrelid,
         i.indexrelid AS conindid, 0 AS confrelid,
         '{' || replace(i.indkey, ' ', ',') || '}' AS conkey, NULL AS confkey,
         ' ' AS confupdtype, ' ' AS confdeltype, ' ' AS confmatchtype,
         CASE i.origin WHEN 'pk' THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END
           || i.key_list || ')' AS condef
    FROM starbase_catalog_index i WHERE i.origin IN ('pk', 'u')
  UNION ALL
  SELECT coalesce(starbase_constraint_name(f.tbl_sql, 'f', f.from_csv),
                  f.tbl || '_' || f.from_names || '_fkey'), 'f', f.tbl, f.reftable, f.tbl_oid,
         coalesce((SELECT i.indexrelid FROM starbase_catalog_index i
                    WHERE i.tbl_oid = f.ref_oid AND i.is_unique AND i.indkey = f.ref_indkey),
                  0),
         f.ref_oid, f.conkey, f.confkey, starbase_fk_action(f.on_update),
         starbase_fk_action(f.on_delete), 's',
         'FOREIGN KEY (' || f.from_list || ') REFERENCES ' || quote_ident(f.reftable)
           || '(' || f.to_list || ')'
           || CASE WHEN f.on_update = 'NO ACTION' THEN '' ELSE ' ON UPDATE ' || f.on_update END
           || CASE WHEN f.on_delete = 'NO ACTION' THEN '' ELSE ' ON DELETE ' || f.on_delete END
    FROM starbase_catalog_fk f
  UNION ALL
  SELECT json_extract(k.value, '$[0]'), 'c', t.name, NULL, t.oid, 0, 0,
         coalesce('{' || (SELECT x.cid + 1 FROM pragma_table_xinfo(t.name, 'main') x
                           WHERE x.name = json_extract(k.value, '$[1]') COLLATE NOCASE)
                  || '}', NULL),
         NULL, ' ', ' ', ' ', 'CHECK (' || json_extract(k.value, '$[2]') || ')'
    FROM starbase_catalog_relations t, json_each(starbase_table_checks(t.name, t.sql)) k
   WHERE t.type = 'table'
)
SELECT CAST(starbase_relation_oid(tbl || '/constraint/' || conname) AS INTEGER) AS oid,
       conname, CAST(2200 AS INTEGER) AS connamespace,
       CASE contype WHEN 'pk' THEN 'p' ELSE contype END AS contype,
       0 AS condeferrable, 0 AS condeferred, 1 AS convalidated, conrelid, 0 AS contypid,
       conindid, 0 AS conparentid, confrelid, confupdtype, confdeltype, confmatchtype,
       1 AS conislocal, 0 AS coninhcount, 0 AS connoinherit, conkey, confkey,
       NULL AS conpfeqop, NULL AS conppeqop, NULL AS conffeqop, NULL AS confdelsetcols,
       NULL AS conexclop, NULL AS conbin, condef, tbl AS starbase_table,
       CASE contype WHEN 'f' THEN reftable END AS starbase_reftable
  FROM cons";

const PG_TRIGGER: &str = r"
CREATE TEMP VIEW pg_trigger AS
SELECT CAST(starbase_relation_oid(name || '/trigger') AS INTEGER) AS oid,
       CAST(starbase_relation_oid(tbl_name) AS INTEGER) AS tgrelid, 0 AS tgparentid,
       name AS tgname, 0 AS tgfoid, 0 AS tgtype, 'O' AS tgenabled, 0 AS tgisinternal,
       0 AS tgconstrrelid, 0 AS tgconstrindid, 0 AS tgconstraint, 0 AS tgdeferrable,
       0 AS tginitdeferred, 0 AS tgnargs, '' AS tgattr, '' AS tgargs, NULL AS tgqual,
       NULL AS tgoldtable, NULL AS tgnewtable, sql AS tgdef
  FROM main.sqlite_schema
 WHERE type = 'trigger' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'";

/// The views of this module, in creation order (each after what it reads; `pg_type` comes
/// first from `views_pg_static`).
pub(super) const VIEWS: &[&str] = &[
    RELATIONS,
    INDEX,
    FK,
    PG_NAMESPACE,
    PG_CLASS,
    PG_ATTRIBUTE,
    PG_ATTRDEF,
    PG_INDEX,
    PG_CONSTRAINT,
    PG_TRIGGER,
];
