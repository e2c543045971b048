//! The `information_schema` views, named `information_schema_<name>` (the dialect
//! translator rewrites `information_schema.tables` to `information_schema_tables`):
//! `tables`, `columns`, `table_constraints`, `key_column_usage`, `referential_constraints`,
//! `constraint_column_usage`, `schemata`, `views`, `routines` (empty).
//!
//! Owns the SQL-standard spelling (`BASE TABLE`, `YES`/`NO`, `PRIMARY KEY`, rule names).
//! Built on the `views_pg` views, so it shows exactly the same relations and constraints.
//! Must not read SQLite's schema tables itself, except through those views.

const TABLES: &str = r"
CREATE TEMP VIEW information_schema_tables AS
SELECT starbase_database_name() AS table_catalog, 'public' AS table_schema,
       relname AS table_name, CASE relkind WHEN 'v' THEN 'VIEW' ELSE 'BASE TABLE' END
         AS table_type,
       NULL AS self_referencing_column_name, NULL AS reference_generation,
       NULL AS user_defined_type_catalog, NULL AS user_defined_type_schema,
       NULL AS user_defined_type_name,
       CASE relkind WHEN 'v' THEN 'NO' ELSE 'YES' END AS is_insertable_into,
       'NO' AS is_typed, NULL AS commit_action
  FROM pg_class WHERE relkind IN ('r', 'v')";

const COLUMNS: &str = r"
CREATE TEMP VIEW information_schema_columns AS
SELECT starbase_database_name() AS table_catalog, 'public' AS table_schema,
       t.name AS table_name, c.name AS column_name, c.cid + 1 AS ordinal_position,
       c.dflt_value AS column_default,
       CASE WHEN c.[notnull] OR c.pk > 0 THEN 'NO' ELSE 'YES' END AS is_nullable,
       starbase_decl_sql_name(c.type) AS data_type,
       starbase_decl_info(c.type, 'character_maximum_length') AS character_maximum_length,
       starbase_decl_info(c.type, 'character_octet_length') AS character_octet_length,
       starbase_decl_info(c.type, 'numeric_precision') AS numeric_precision,
       starbase_decl_info(c.type, 'numeric_precision_radix') AS numeric_precision_radix,
       starbase_decl_info(c.type, 'numeric_scale') AS numeric_scale,
       starbase_decl_info(c.type, 'datetime_precision') AS datetime_precision,
       NULL AS interval_type, NULL AS interval_precision, NULL AS character_set_catalog,
       NULL AS character_set_schema, NULL AS character_set_name, NULL AS collation_catalog,
       NULL AS collation_schema, NULL AS collation_name, NULL AS domain_catalog,
       NULL AS domain_schema, NULL AS domain_name,
       starbase_database_name() AS udt_catalog, 'pg_catalog' AS udt_schema,
       starbase_decl_type_name(c.type) AS udt_name, NULL AS scope_catalog,
       NULL AS scope_schema, NULL AS scope_name, NULL AS maximum_cardinality,
       CAST(c.cid + 1 AS TEXT) AS dtd_identifier, 'NO' AS is_self_referencing,
       'NO' AS is_identity, NULL AS identity_generation, NULL AS identity_start,
       NULL AS identity_increment, NULL AS identity_maximum, NULL AS identity_minimum,
       NULL AS identity_cycle,
       CASE WHEN c.hidden IN (2, 3) THEN 'ALWAYS' ELSE 'NEVER' END AS is_generated,
       NULL AS generation_expression,
       CASE t.type WHEN 'view' THEN 'NO' ELSE 'YES' END AS is_updatable
  FROM starbase_catalog_relations t, pragma_table_xinfo(t.name, 'main') c
 WHERE c.hidden <> 1";

const TABLE_CONSTRAINTS: &str = r"
CREATE TEMP VIEW information_schema_table_constraints AS
SELECT starbase_database_name() AS constraint_catalog, 'public' AS constraint_schema,
       k.conname AS constraint_name, starbase_database_name() AS table_catalog,
       'public' AS table_schema, k.starbase_table AS table_name,
       CASE k.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE'
                      WHEN 'f' THEN 'FOREIGN KEY' ELSE 'CHECK' END AS constraint_type,
       'NO' AS is_deferrable, 'NO' AS initially_deferred, 'YES' AS enforced,
       CASE k.contype WHEN 'u' THEN 'YES' WHEN 'p' THEN 'YES' END AS nulls_distinct
  FROM pg_constraint k";

/// One row per (constraint, key column), from `conkey` (`{1,2}` is a JSON array inside).
const KEY_COLUMN_USAGE: &str = r"
CREATE TEMP VIEW information_schema_key_column_usage AS
SELECT starbase_database_name() AS constraint_catalog, 'public' AS constraint_schema,
       k.conname AS constraint_name, starbase_database_name() AS table_catalog,
       'public' AS table_schema, k.starbase_table AS table_name, x.name AS column_name,
       CAST(key.key AS INTEGER) + 1 AS ordinal_position,
       CASE k.contype WHEN 'f' THEN CAST(key.key AS INTEGER) + 1 END
         AS position_in_unique_constraint
  FROM pg_constraint k
  JOIN json_each('[' || substr(k.conkey, 2, length(k.conkey) - 2) || ']') key
  JOIN pragma_table_xinfo(k.starbase_table, 'main') x ON x.cid + 1 = key.value
 WHERE k.contype IN ('p', 'u', 'f')";

const REFERENTIAL_CONSTRAINTS: &str = r"
CREATE TEMP VIEW information_schema_referential_constraints AS
SELECT starbase_database_name() AS constraint_catalog, 'public' AS constraint_schema,
       f.conname AS constraint_name, starbase_database_name() AS unique_constraint_catalog,
       'public' AS unique_constraint_schema, u.conname AS unique_constraint_name,
       'NONE' AS match_option,
       starbase_fk_rule(f.confupdtype) AS update_rule,
       starbase_fk_rule(f.confdeltype) AS delete_rule
  FROM pg_constraint f
  LEFT JOIN pg_constraint u ON u.conindid = f.conindid AND u.contype IN ('p', 'u')
       AND f.conindid <> 0
 WHERE f.contype = 'f'";

/// Columns a constraint uses: its own table's for keys and checks, the referenced table's
/// for foreign keys.
const CONSTRAINT_COLUMN_USAGE: &str = r"
CREATE TEMP VIEW information_schema_constraint_column_usage AS
SELECT starbase_database_name() AS table_catalog, 'public' AS table_schema,
       coalesce(k.starbase_reftable, k.starbase_table) AS table_name, x.name AS column_name,
       starbase_database_name() AS constraint_catalog, 'public' AS constraint_schema,
       k.conname AS constraint_name
  FROM pg_constraint k
  JOIN json_each('[' || substr(coalesce(CASE k.contype WHEN 'f' THEN k.confkey END, k.conkey),
                               2, length(coalesce(CASE k.contype WHEN 'f' THEN k.confkey END,
                                                  k.conkey)) - 2) || ']') key
  JOIN pragma_table_xinfo(coalesce(k.starbase_reftable, k.starbase_table), 'main') x
    ON x.cid + 1 = key.value";

const SCHEMATA: &str = r"
CREATE TEMP VIEW information_schema_schemata AS
SELECT starbase_database_name() AS catalog_name, nspname AS schema_name,
       'postgres' AS schema_owner, NULL AS default_character_set_catalog,
       NULL AS default_character_set_schema, NULL AS default_character_set_name,
       NULL AS sql_path
  FROM pg_namespace";

const VIEWS_VIEW: &str = r"
CREATE TEMP VIEW information_schema_views AS
SELECT starbase_database_name() AS table_catalog, 'public' AS table_schema,
       viewname AS table_name, definition AS view_definition, 'NONE' AS check_option,
       'NO' AS is_updatable, 'NO' AS is_insertable_into, 'NO' AS is_trigger_updatable,
       'NO' AS is_trigger_deletable, 'NO' AS is_trigger_insertable_into
  FROM pg_views";

const ROUTINES: &str = r"
CREATE TEMP VIEW information_schema_routines AS
SELECT NULL AS specific_catalog, NULL AS specific_schema, NULL AS specific_name,
       NULL AS routine_catalog, NULL AS routine_schema, NULL AS routine_name,
       NULL AS routine_type, NULL AS data_type, NULL AS type_udt_name,
       NULL AS routine_body, NULL AS routine_definition, NULL AS external_language
 WHERE 0";

/// The views of this module, in creation order.
pub(super) const VIEWS: &[&str] = &[
    TABLES,
    COLUMNS,
    TABLE_CONSTRAINTS,
    KEY_COLUMN_USAGE,
    REFERENTIAL_CONSTRAINTS,
    CONSTRAINT_COLUMN_USAGE,
    SCHEMATA,
    VIEWS_VIEW,
    ROUTINES,
];
