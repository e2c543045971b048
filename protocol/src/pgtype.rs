//! PostgreSQL's built-in types as the gateway reports them: OIDs, names, and the mapping from
//! a SQLite declared type (or a PostgreSQL type name in a cast) to one of them.
//!
//! Owns `PgType`. Pure data: the pgwire frontend turns it into wire OIDs, the catalog views
//! report it in `pg_type`/`pg_attribute`, type inference returns it. Must not know any driver
//! or the wire encoding of values.

use crate::value::ColumnType;

/// A PostgreSQL built-in type the gateway can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PgType {
    /// `bool` (16).
    Bool,
    /// `bytea` (17).
    Bytea,
    /// `int8` (20).
    Int8,
    /// `int2` (21).
    Int2,
    /// `int4` (23).
    Int4,
    /// `text` (25).
    Text,
    /// `oid` (26).
    Oid,
    /// `json` (114).
    Json,
    /// `float4` (700).
    Float4,
    /// `float8` (701).
    Float8,
    /// `bpchar` (1042).
    Bpchar,
    /// `varchar` (1043).
    Varchar,
    /// `date` (1082).
    Date,
    /// `time` (1083).
    Time,
    /// `timestamp` (1114).
    Timestamp,
    /// `timestamptz` (1184).
    Timestamptz,
    /// `interval` (1186).
    Interval,
    /// `numeric` (1700).
    Numeric,
    /// `uuid` (2950).
    Uuid,
    /// `jsonb` (3802).
    Jsonb,
    /// `name` (19).
    Name,
    /// `char` (18), the one-byte internal type of catalog columns.
    Char,
    /// `unknown` (705): nothing better is known.
    Unknown,
    /// `bool[]` (1000), what `array_agg` of booleans returns.
    BoolArray,
    /// `int8[]` (1016), what `array_agg` of integers returns.
    Int8Array,
    /// `text[]` (1009), what `array_agg` of anything else returns.
    TextArray,
}

/// Every type, for catalog generation.
pub const ALL_TYPES: &[PgType] = &[
    PgType::Bool,
    PgType::Bytea,
    PgType::Char,
    PgType::Name,
    PgType::Int8,
    PgType::Int2,
    PgType::Int4,
    PgType::Text,
    PgType::Oid,
    PgType::Json,
    PgType::Float4,
    PgType::Float8,
    PgType::Unknown,
    PgType::Bpchar,
    PgType::Varchar,
    PgType::Date,
    PgType::Time,
    PgType::Timestamp,
    PgType::Timestamptz,
    PgType::Interval,
    PgType::Numeric,
    PgType::Uuid,
    PgType::Jsonb,
];

impl PgType {
    /// The type's OID in `pg_type`.
    #[must_use]
    pub fn oid(self) -> u32 {
        match self {
            PgType::Bool => 16,
            PgType::Bytea => 17,
            PgType::Char => 18,
            PgType::Name => 19,
            PgType::Int8 => 20,
            PgType::Int2 => 21,
            PgType::Int4 => 23,
            PgType::Text => 25,
            PgType::Oid => 26,
            PgType::Json => 114,
            PgType::Float4 => 700,
            PgType::Float8 => 701,
            PgType::Unknown => 705,
            PgType::Bpchar => 1042,
            PgType::Varchar => 1043,
            PgType::Date => 1082,
            PgType::Time => 1083,
            PgType::Timestamp => 1114,
            PgType::Timestamptz => 1184,
            PgType::Interval => 1186,
            PgType::Numeric => 1700,
            PgType::Uuid => 2950,
            PgType::Jsonb => 3802,
            PgType::BoolArray => 1000,
            PgType::Int8Array => 1016,
            PgType::TextArray => 1009,
        }
    }

    /// The type for an OID, when it is one of ours.
    #[must_use]
    pub fn from_oid(oid: u32) -> Option<Self> {
        ALL_TYPES.iter().copied().find(|t| t.oid() == oid)
    }

    /// The type's name in `pg_type.typname`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            PgType::Bool => "bool",
            PgType::Bytea => "bytea",
            PgType::Char => "char",
            PgType::Name => "name",
            PgType::Int8 => "int8",
            PgType::Int2 => "int2",
            PgType::Int4 => "int4",
            PgType::Text => "text",
            PgType::Oid => "oid",
            PgType::Json => "json",
            PgType::Float4 => "float4",
            PgType::Float8 => "float8",
            PgType::Unknown => "unknown",
            PgType::Bpchar => "bpchar",
            PgType::Varchar => "varchar",
            PgType::Date => "date",
            PgType::Time => "time",
            PgType::Timestamp => "timestamp",
            PgType::Timestamptz => "timestamptz",
            PgType::Interval => "interval",
            PgType::Numeric => "numeric",
            PgType::Uuid => "uuid",
            PgType::Jsonb => "jsonb",
            PgType::BoolArray => "_bool",
            PgType::Int8Array => "_int8",
            PgType::TextArray => "_text",
        }
    }

    /// The name `format_type()` prints (`integer`, `character varying`, …).
    #[must_use]
    pub fn sql_name(self) -> &'static str {
        match self {
            PgType::Bool => "boolean",
            PgType::Int8 => "bigint",
            PgType::Int2 => "smallint",
            PgType::Int4 => "integer",
            PgType::Float4 => "real",
            PgType::Float8 => "double precision",
            PgType::Bpchar => "character",
            PgType::Varchar => "character varying",
            PgType::Time => "time without time zone",
            PgType::Timestamp => "timestamp without time zone",
            PgType::Timestamptz => "timestamp with time zone",
            PgType::Char => "\"char\"",
            PgType::BoolArray => "boolean[]",
            PgType::Int8Array => "bigint[]",
            PgType::TextArray => "text[]",
            other => other.name(),
        }
    }

    /// `pg_type.typlen`: the fixed size in bytes, or -1 for variable length.
    #[must_use]
    pub fn typlen(self) -> i16 {
        match self {
            PgType::Bool | PgType::Char => 1,
            PgType::Int2 => 2,
            PgType::Int4 | PgType::Oid | PgType::Float4 | PgType::Date => 4,
            PgType::Int8
            | PgType::Float8
            | PgType::Time
            | PgType::Timestamp
            | PgType::Timestamptz => 8,
            PgType::Interval | PgType::Uuid => 16,
            PgType::Name => 64,
            PgType::Unknown => -2,
            _ => -1,
        }
    }

    /// `pg_type.typcategory`.
    #[must_use]
    pub fn category(self) -> char {
        match self {
            PgType::Bool => 'B',
            PgType::Int2
            | PgType::Int4
            | PgType::Int8
            | PgType::Oid
            | PgType::Float4
            | PgType::Float8
            | PgType::Numeric => 'N',
            PgType::Date | PgType::Time | PgType::Timestamp | PgType::Timestamptz => 'D',
            PgType::Interval => 'T',
            PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Name | PgType::Char => 'S',
            PgType::Unknown => 'X',
            PgType::BoolArray | PgType::Int8Array | PgType::TextArray => 'A',
            _ => 'U',
        }
    }

    /// The type a SQLite declared column type stands for. Exact PostgreSQL spellings win
    /// (`SMALLINT` → int2, `TIMESTAMPTZ` → timestamptz, `VARCHAR(20)` → varchar); anything
    /// else follows SQLite's affinity rules (`…INT…` → int8, `…CHAR…`/`…TEXT…` → text,
    /// `…REAL…`/`…FLOA…`/`…DOUB…` → float8, `BLOB` → bytea, otherwise numeric).
    /// `None` (no declared type, as for expressions) is `Unknown`.
    #[must_use]
    pub fn from_decl(decl: Option<&str>) -> Self {
        let Some(decl) = decl else {
            return PgType::Unknown;
        };
        let d = decl.trim().to_ascii_lowercase();
        if d.is_empty() {
            return PgType::Unknown;
        }
        // SQLite's INTEGER is 64-bit (and may be a rowid alias): int8, where PostgreSQL's is int4.
        // Its REAL is a double: float8, where PostgreSQL's is float4.
        match d.as_str() {
            "integer" | "int" => return PgType::Int8,
            "real" => return PgType::Float8,
            _ => {}
        }
        if let Some(exact) = Self::from_name(&d) {
            return exact;
        }
        if d.starts_with("bool") {
            PgType::Bool
        } else if d.contains("int") {
            PgType::Int8
        } else if d.starts_with("varchar") || d.starts_with("character varying") {
            PgType::Varchar
        } else if d.contains("char") || d.contains("clob") || d.contains("text") {
            PgType::Text
        } else if d.contains("blob") || d.contains("binary") {
            PgType::Bytea
        } else if d.contains("real") || d.contains("floa") || d.contains("doub") {
            PgType::Float8
        } else if d.starts_with("timestamp") && d.contains("with time zone") {
            PgType::Timestamptz
        } else if d.starts_with("timestamp") || d.starts_with("datetime") {
            PgType::Timestamp
        } else if d.starts_with("jsonb") {
            PgType::Jsonb
        } else if d.starts_with("json") {
            PgType::Json
        } else {
            PgType::Numeric
        }
    }

    /// The type a PostgreSQL type name (as in a cast) names (`integer` is int4), ignoring a
    /// `pg_catalog.` prefix, a length or precision in parentheses and letter case.
    /// `None` for names that are not one of ours.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.trim().to_ascii_lowercase();
        let lower = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
        let base = lower.split('(').next().unwrap_or(lower).trim();
        let base = base.trim_matches('"');
        Some(match base {
            "bool" | "boolean" => PgType::Bool,
            "bytea" => PgType::Bytea,
            "int8" | "bigint" | "bigserial" | "serial8" => PgType::Int8,
            "int2" | "smallint" | "smallserial" | "serial2" => PgType::Int2,
            "int4" | "integer" | "int" | "serial" | "serial4" | "mediumint" => PgType::Int4,
            "text" | "clob" => PgType::Text,
            "oid" | "regclass" | "regproc" | "regprocedure" | "regtype" | "regnamespace" => {
                PgType::Oid
            }
            "json" => PgType::Json,
            "jsonb" => PgType::Jsonb,
            "float4" | "real" => PgType::Float4,
            "float8" | "double precision" | "double" | "float" => PgType::Float8,
            "bpchar" | "char" | "character" | "nchar" => PgType::Bpchar,
            "varchar" | "character varying" | "nvarchar" | "string" => PgType::Varchar,
            "date" => PgType::Date,
            "time" | "time without time zone" => PgType::Time,
            "timestamp" | "timestamp without time zone" | "datetime" => PgType::Timestamp,
            "timestamptz" | "timestamp with time zone" => PgType::Timestamptz,
            "interval" => PgType::Interval,
            "numeric" | "decimal" | "money" => PgType::Numeric,
            "uuid" => PgType::Uuid,
            "name" => PgType::Name,
            "\"char\"" => PgType::Char,
            "blob" => PgType::Bytea,
            _ => return None,
        })
    }

    /// The array type whose elements are of this type, as `array_agg` returns it.
    #[must_use]
    pub fn array_of(self) -> Self {
        match self {
            PgType::Bool => PgType::BoolArray,
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => PgType::Int8Array,
            _ => PgType::TextArray,
        }
    }

    /// The coarse column type values of this type are read as.
    #[must_use]
    pub fn column_type(self) -> ColumnType {
        match self {
            PgType::Bool => ColumnType::Bool,
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => ColumnType::Int8,
            PgType::Float4 | PgType::Float8 => ColumnType::Float8,
            PgType::Numeric => ColumnType::Numeric,
            PgType::Bytea => ColumnType::Bytes,
            PgType::Json | PgType::Jsonb => ColumnType::Json,
            PgType::Unknown => ColumnType::Unknown,
            _ => ColumnType::Text,
        }
    }

    /// The SQLite type to `CAST` to for a cast to this type (`CAST(x AS INTEGER)` for
    /// `x::int4`); `None` when a cast changes nothing SQLite stores (dates, uuids, json are
    /// text to SQLite).
    #[must_use]
    pub fn sqlite_cast(self) -> Option<&'static str> {
        match self {
            PgType::Bool | PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => {
                Some("INTEGER")
            }
            PgType::Float4 | PgType::Float8 => Some("REAL"),
            PgType::Numeric => Some("NUMERIC"),
            PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Name | PgType::Char => {
                Some("TEXT")
            }
            PgType::Bytea => Some("BLOB"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_as_the_issue_lists() {
        for (decl, ty) in [
            ("INTEGER", PgType::Int8),
            ("INT", PgType::Int8),
            ("BIGINT", PgType::Int8),
            ("SMALLINT", PgType::Int2),
            ("int4", PgType::Int4),
            ("REAL", PgType::Float8),
            ("DOUBLE PRECISION", PgType::Float8),
            ("DOUBLE", PgType::Float8),
            ("FLOAT", PgType::Float8),
            ("NUMERIC(10,2)", PgType::Numeric),
            ("DECIMAL", PgType::Numeric),
            ("TEXT", PgType::Text),
            ("VARCHAR(20)", PgType::Varchar),
            ("CHAR(3)", PgType::Bpchar),
            ("BLOB", PgType::Bytea),
            ("BOOLEAN", PgType::Bool),
            ("DATE", PgType::Date),
            ("TIMESTAMP", PgType::Timestamp),
            ("TIMESTAMPTZ", PgType::Timestamptz),
            ("timestamp with time zone", PgType::Timestamptz),
            ("UUID", PgType::Uuid),
            ("JSON", PgType::Json),
            ("JSONB", PgType::Jsonb),
            ("UNSIGNED BIG INT", PgType::Int8),
            ("NATIVE CHARACTER(70)", PgType::Text),
            ("", PgType::Unknown),
        ] {
            assert_eq!(PgType::from_decl(Some(decl)), ty, "{decl}");
        }
        assert_eq!(PgType::from_decl(None), PgType::Unknown);
    }

    #[test]
    fn oids_round_trip() {
        for &t in ALL_TYPES {
            assert_eq!(PgType::from_oid(t.oid()), Some(t));
        }
        assert_eq!(PgType::Int8.oid(), 20);
        assert_eq!(PgType::from_name("pg_catalog.int4"), Some(PgType::Int4));
        assert_eq!(PgType::from_name("regclass"), Some(PgType::Oid));
        assert_eq!(PgType::from_name("integer"), Some(PgType::Int4));
        assert_eq!(PgType::from_name("geometry"), None);
    }
}

/// The first OID PostgreSQL gives to user objects; gateway relation OIDs start here.
pub const FIRST_USER_OID: u32 = 16384;

/// The OID the gateway reports for a relation (table, view or index) of the embedded
/// database: a stable function of its name (ASCII case folded), the same on every connection
/// and across restarts, never below [`FIRST_USER_OID`]. PostgreSQL's own catalog relations
/// keep their real OIDs (see [`catalog_relation_oid`]).
#[must_use]
pub fn relation_oid(name: &str) -> u32 {
    if let Some(oid) = catalog_relation_oid(name) {
        return oid;
    }
    // FNV-1a, 32 bits, folded into [FIRST_USER_OID, 2^31): positive as an int4 too.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte.to_ascii_lowercase());
        hash = hash.wrapping_mul(0x0100_0193);
    }
    FIRST_USER_OID + hash % (0x8000_0000 - FIRST_USER_OID)
}

/// The real OIDs of the PostgreSQL catalog relations clients name in `'…'::regclass`.
#[must_use]
pub fn catalog_relation_oid(name: &str) -> Option<u32> {
    let lower = name.trim().to_ascii_lowercase();
    let bare = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
    Some(match bare {
        "pg_type" => 1247,
        "pg_attribute" => 1249,
        "pg_proc" => 1255,
        "pg_class" => 1259,
        "pg_authid" => 1260,
        "pg_database" => 1262,
        "pg_namespace" => 2615,
        "pg_constraint" => 2606,
        "pg_index" => 2610,
        "pg_attrdef" => 2604,
        "pg_description" => 2609,
        "pg_trigger" => 2620,
        "pg_am" => 2601,
        "pg_collation" => 3456,
        "pg_extension" => 3079,
        _ => return None,
    })
}

#[cfg(test)]
mod oid_tests {
    use super::*;

    #[test]
    fn relation_oids_are_stable_and_in_the_user_range() {
        assert_eq!(relation_oid("users"), relation_oid("USERS"));
        assert_ne!(relation_oid("users"), relation_oid("user"));
        for name in ["a", "users", "a_much_longer_table_name_than_usual", ""] {
            let oid = relation_oid(name);
            assert!(
                (FIRST_USER_OID..0x8000_0000).contains(&oid),
                "{name}: {oid}"
            );
        }
        assert_eq!(relation_oid("pg_catalog.pg_class"), 1259);
        assert_eq!(relation_oid("pg_namespace"), 2615);
    }
}
