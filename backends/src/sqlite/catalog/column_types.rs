//! The PostgreSQL type of each catalog view column, by column name: SQLite reports no
//! declared type for a view column computed by an expression, and clients parse catalog
//! values by their PostgreSQL type (psql tests booleans against `t`).
//!
//! Owns the name → type table for the columns of the views this module creates; the names
//! are PostgreSQL's and distinctive. Must not know SQLite or how the gateway encodes values.

use starbase_protocol::pgtype::PgType;

/// `bool` columns.
const BOOL: &[&str] = &[
    "relhasindex",
    "relisshared",
    "relhasrules",
    "relhastriggers",
    "relhassubclass",
    "relrowsecurity",
    "relforcerowsecurity",
    "relispopulated",
    "relispartition",
    "attbyval",
    "attnotnull",
    "atthasdef",
    "atthasmissing",
    "attisdropped",
    "attislocal",
    "typbyval",
    "typispreferred",
    "typisdefined",
    "typnotnull",
    "indisunique",
    "opcdefault",
    "indnullsnotdistinct",
    "indisprimary",
    "indisexclusion",
    "indimmediate",
    "indisclustered",
    "indisvalid",
    "indcheckxmin",
    "indisready",
    "indislive",
    "indisreplident",
    "condeferrable",
    "condeferred",
    "convalidated",
    "conislocal",
    "connoinherit",
    "prosecdef",
    "proleakproof",
    "proisstrict",
    "proretset",
    "datistemplate",
    "datallowconn",
    "rolsuper",
    "rolinherit",
    "rolcreaterole",
    "rolcreatedb",
    "rolcanlogin",
    "rolreplication",
    "rolbypassrls",
    "usecreatedb",
    "usesuper",
    "userepl",
    "usebypassrls",
    "tgisinternal",
    "tgdeferrable",
    "tginitdeferred",
    "collisdeterministic",
    "extrelocatable",
    "hasindexes",
    "hasrules",
    "hastriggers",
    "rowsecurity",
    "pending_restart",
    "inhdetachpending",
    "polpermissive",
    "puballtables",
    "pubinsert",
    "pubupdate",
    "pubdelete",
    "pubtruncate",
    "pubviaroot",
    "seqcycle",
    "is_instead",
    "ispopulated",
];

/// `oid` columns.
const OID: &[&str] = &[
    "oid",
    "relnamespace",
    "reltype",
    "reloftype",
    "relowner",
    "relam",
    "relfilenode",
    "reltablespace",
    "reltoastrelid",
    "relrewrite",
    "attrelid",
    "atttypid",
    "attcollation",
    "typnamespace",
    "typowner",
    "typrelid",
    "typelem",
    "typarray",
    "typbasetype",
    "typcollation",
    "indexrelid",
    "indrelid",
    "connamespace",
    "conrelid",
    "contypid",
    "conindid",
    "conparentid",
    "confrelid",
    "adrelid",
    "nspowner",
    "datdba",
    "dattablespace",
    "pronamespace",
    "proowner",
    "prolang",
    "provariadic",
    "prorettype",
    "tgrelid",
    "tgparentid",
    "tgfoid",
    "tgconstrrelid",
    "tgconstrindid",
    "tgconstraint",
    "objoid",
    "classoid",
    "inhrelid",
    "inhparent",
    "polrelid",
    "prpubid",
    "prrelid",
    "stxrelid",
    "stxnamespace",
    "stxowner",
    "collnamespace",
    "collowner",
    "extowner",
    "extnamespace",
    "spcowner",
    "rngtypid",
    "rngsubtype",
    "rngmultitypid",
    "rngcollation",
    "enumtypid",
    "usesysid",
    "relid",
    "seqrelid",
    "seqtypid",
    "ev_class",
    "ftrelid",
    "partrelid",
    "classid",
    "objid",
    "refclassid",
    "refobjid",
];

/// `name` columns.
const NAME: &[&str] = &[
    "relname",
    "attname",
    "typname",
    "nspname",
    "conname",
    "datname",
    "proname",
    "rolname",
    "usename",
    "tgname",
    "collname",
    "extname",
    "spcname",
    "amname",
    "polname",
    "pubname",
    "stxname",
    "rulename",
    "schemaname",
    "tablename",
    "indexname",
    "viewname",
    "tableowner",
    "viewowner",
    "matviewname",
    "sequencename",
];

/// `"char"` columns.
const CHAR: &[&str] = &[
    "relpersistence",
    "relkind",
    "relreplident",
    "typtype",
    "typcategory",
    "typdelim",
    "typalign",
    "typstorage",
    "attalign",
    "attstorage",
    "attcompression",
    "attidentity",
    "attgenerated",
    "contype",
    "confupdtype",
    "confdeltype",
    "confmatchtype",
    "prokind",
    "provolatile",
    "proparallel",
    "tgenabled",
    "collprovider",
    "datlocprovider",
    "amtype",
    "polcmd",
    "ev_type",
    "ev_enabled",
    "deptype",
    "partstrat",
];

/// `int2` columns.
const INT2: &[&str] = &[
    "attlen",
    "attnum",
    "typlen",
    "relnatts",
    "relchecks",
    "indnatts",
    "indnkeyatts",
    "adnum",
    "pronargs",
    "pronargdefaults",
    "tgtype",
    "tgnargs",
];

/// `int4` columns.
const INT4: &[&str] = &[
    "atttypmod",
    "attndims",
    "attcacheoff",
    "attstattarget",
    "attinhcount",
    "typtypmod",
    "typndims",
    "encoding",
    "datconnlimit",
    "relpages",
    "relallvisible",
    "rolconnlimit",
    "coninhcount",
    "objsubid",
    "inhseqno",
    "ordinal_position",
    "position_in_unique_constraint",
    "character_maximum_length",
    "character_octet_length",
    "numeric_precision",
    "numeric_precision_radix",
    "numeric_scale",
    "datetime_precision",
];

/// `float4` columns.
const FLOAT4: &[&str] = &["reltuples", "procost", "prorows", "enumsortorder"];

/// The PostgreSQL type of the catalog view column `column` (exact, lower-case name), for
/// describing results whose SQLite columns have no declared type. `None` for names that are
/// not catalog columns (report those as usual).
#[must_use]
pub fn catalog_column_type(column: &str) -> Option<PgType> {
    let tables: [(&[&str], PgType); 7] = [
        (BOOL, PgType::Bool),
        (OID, PgType::Oid),
        (NAME, PgType::Name),
        (CHAR, PgType::Char),
        (INT2, PgType::Int2),
        (INT4, PgType::Int4),
        (FLOAT4, PgType::Float4),
    ];
    tables
        .iter()
        .find(|(names, _)| names.contains(&column))
        .map(|&(_, ty)| ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_columns_have_their_postgres_types() {
        assert_eq!(catalog_column_type("relhasindex"), Some(PgType::Bool));
        assert_eq!(catalog_column_type("attnotnull"), Some(PgType::Bool));
        assert_eq!(catalog_column_type("oid"), Some(PgType::Oid));
        assert_eq!(catalog_column_type("relname"), Some(PgType::Name));
        assert_eq!(catalog_column_type("relkind"), Some(PgType::Char));
        assert_eq!(catalog_column_type("attnum"), Some(PgType::Int2));
        assert_eq!(catalog_column_type("atttypmod"), Some(PgType::Int4));
        assert_eq!(catalog_column_type("reltuples"), Some(PgType::Float4));
        assert_eq!(catalog_column_type("email"), None);
        assert_eq!(catalog_column_type("RELHASINDEX"), None);
    }

    #[test]
    fn no_column_has_two_types() {
        let all: Vec<&str> = [BOOL, OID, NAME, CHAR, INT2, INT4, FLOAT4].concat();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
    }
}
