//! The static halves of the catalog: `pg_type` rows for every [`ALL_TYPES`] entry, the
//! `pg_proc` rows (the functions this module registers, the type I/O functions and the
//! SQLite built-ins clients probe), and the `reg*` name lookups over them.
//!
//! Owns the OIDs reported for functions and namespaces. Must not know rusqlite or views.

use std::fmt::Write as _;

use starbase_protocol::pgtype::{ALL_TYPES, PgType};

/// `pg_namespace` OIDs (PostgreSQL's own).
pub(super) const PG_CATALOG_OID: i64 = 11;
/// `public`.
pub(super) const PUBLIC_OID: i64 = 2200;
/// `information_schema` (PostgreSQL 16's OID).
pub(super) const INFORMATION_SCHEMA_OID: i64 = 13183;

/// The namespace OID for a schema name, ignoring case and quotes.
pub(super) fn namespace_oid(name: &str) -> Option<i64> {
    match name.trim().trim_matches('"').to_ascii_lowercase().as_str() {
        "pg_catalog" => Some(PG_CATALOG_OID),
        "public" => Some(PUBLIC_OID),
        "information_schema" => Some(INFORMATION_SCHEMA_OID),
        _ => None,
    }
}

/// Names of the type's input, output, receive and send functions, as PostgreSQL names them.
fn io_names(ty: PgType) -> [String; 4] {
    let n = ty.name();
    let sep = match ty {
        PgType::Json
        | PgType::Jsonb
        | PgType::Uuid
        | PgType::Date
        | PgType::Time
        | PgType::Timestamp
        | PgType::Timestamptz
        | PgType::Interval
        | PgType::Numeric => "_",
        _ => "",
    };
    ["in", "out", "recv", "send"].map(|suffix| format!("{n}{sep}{suffix}"))
}

/// `pg_type.typmodin` (`-` when the type takes no modifier).
fn typmodin(ty: PgType) -> &'static str {
    match ty {
        PgType::Varchar => "varchartypmodin",
        PgType::Bpchar => "bpchartypmodin",
        PgType::Numeric => "numerictypmodin",
        PgType::Time => "timetypmodin",
        PgType::Timestamp => "timestamptypmodin",
        PgType::Timestamptz => "timestamptztypmodin",
        PgType::Interval => "intervaltypmodin",
        _ => "-",
    }
}

/// `pg_type.typalign` and `typstorage`.
fn align_storage(ty: PgType) -> (char, char) {
    match ty.typlen() {
        1 | -2 => ('c', 'p'),
        2 => ('s', 'p'),
        4 => ('i', 'p'),
        8 => ('d', 'p'),
        64 => ('c', 'p'),
        16 => (if ty == PgType::Uuid { 'c' } else { 'd' }, 'p'),
        _ => ('i', 'x'),
    }
}

/// `pg_type.typispreferred`: PostgreSQL's preferred type of each category.
fn preferred(ty: PgType) -> bool {
    matches!(
        ty,
        PgType::Bool
            | PgType::Text
            | PgType::Oid
            | PgType::Float8
            | PgType::Timestamptz
            | PgType::Interval
    )
}

/// The collation of values of the type: `default` (100) for strings, `C` (950) for `name`.
pub(super) fn collation(ty: PgType) -> i64 {
    match ty {
        PgType::Name => 950,
        PgType::Text | PgType::Varchar | PgType::Bpchar => 100,
        _ => 0,
    }
}

/// `VALUES` rows for `pg_type`, in the column order of `views_pg::PG_TYPE`.
pub(super) fn pg_type_values() -> String {
    let mut sql = String::new();
    for (i, &ty) in ALL_TYPES.iter().enumerate() {
        let [input, output, recv, send] = io_names(ty);
        let (align, storage) = align_storage(ty);
        let byval = matches!(ty.typlen(), 1 | 2 | 4 | 8);
        let typtype = if ty == PgType::Unknown { 'p' } else { 'b' };
        let _ = write!(
            sql,
            "{sep}({oid}, '{name}', {len}, {byval}, '{typtype}', '{cat}', {pref}, '{input}', \
             '{output}', '{recv}', '{send}', '{modin}', '{align}', '{storage}', {coll})",
            sep = if i == 0 { "" } else { ",\n" },
            oid = ty.oid(),
            name = ty.name(),
            len = ty.typlen(),
            byval = i32::from(byval),
            cat = ty.category(),
            pref = i32::from(preferred(ty)),
            modin = typmodin(ty),
            coll = collation(ty),
        );
    }
    sql
}

/// A `pg_proc` row: name, OID, return type OID, argument type OIDs.
struct Proc {
    name: &'static str,
    oid: i64,
    ret: u32,
    args: &'static [u32],
}

const fn p(name: &'static str, oid: i64, ret: u32, args: &'static [u32]) -> Proc {
    Proc {
        name,
        oid,
        ret,
        args,
    }
}

/// `pg_proc` rows: the PostgreSQL functions this module registers, the SQLite built-ins
/// clients commonly probe, and the ones clients name in `'…'::regproc` without calling them
/// (pgJDBC's `array_in`, Npgsql's `array_recv`, which keep PostgreSQL's OIDs). The other OIDs
/// are stable values chosen here, taken from PostgreSQL where it was known; what matters is
/// that they are unique (tested) and never change.
const PROCS: &[Proc] = &[
    p("array_in", 750, 2277, &[2275, 26, 23]),
    p("array_out", 751, 2275, &[2277]),
    p("array_recv", 2400, 2277, &[2281, 26, 23]),
    p("array_send", 2401, 17, &[2277]),
    p("format_type", 1081, 25, &[26, 23]),
    p("pg_table_is_visible", 2079, 16, &[26]),
    p("pg_type_is_visible", 2080, 16, &[26]),
    p("pg_function_is_visible", 2081, 16, &[26]),
    p("pg_get_userbyid", 1642, 19, &[26]),
    p("pg_get_expr", 1716, 25, &[194, 26]),
    p("pg_get_indexdef", 1643, 25, &[26]),
    p("pg_get_constraintdef", 1387, 25, &[26]),
    p("pg_get_viewdef", 1641, 25, &[26]),
    p("pg_get_serial_sequence", 1665, 25, &[25, 25]),
    p("obj_description", 1215, 25, &[26, 19]),
    p("col_description", 1216, 25, &[26, 23]),
    p("shobj_description", 1993, 25, &[26, 19]),
    p("has_table_privilege", 1927, 16, &[25, 25]),
    p("has_schema_privilege", 2269, 16, &[25, 25]),
    p("has_database_privilege", 2251, 16, &[25, 25]),
    p("has_column_privilege", 3015, 16, &[25, 25, 25]),
    p("pg_encoding_to_char", 1597, 19, &[23]),
    p("quote_ident", 1282, 25, &[25]),
    p("pg_is_in_recovery", 3810, 16, &[]),
    p("pg_relation_size", 2325, 20, &[2205]),
    p("pg_total_relation_size", 2286, 20, &[2205]),
    p("pg_size_pretty", 2288, 25, &[20]),
    p("txid_current", 2943, 20, &[]),
    p("pg_postmaster_start_time", 2560, 1184, &[]),
    p("to_regclass", 3495, 2205, &[25]),
    p("to_regtype", 3493, 2206, &[25]),
    p("to_regproc", 3494, 24, &[25]),
    p("to_regnamespace", 4086, 4089, &[25]),
    p("left", 3060, 25, &[25, 23]),
    p("right", 3061, 25, &[25, 23]),
    p("split_part", 2088, 25, &[25, 25, 23]),
    p("starts_with", 3696, 16, &[25, 25]),
    p("md5", 2311, 25, &[25]),
    p("gen_random_uuid", 3432, 2950, &[]),
    p("current_database", 861, 19, &[]),
    p("textregexeq", 1254, 16, &[25, 25]),
    p("regexp_replace", 2284, 25, &[25, 25, 25]),
    p("abs", 1395, 20, &[20]),
    p("length", 1317, 23, &[25]),
    p("lower", 870, 25, &[25]),
    p("upper", 871, 25, &[25]),
    p("replace", 2087, 25, &[25, 25, 25]),
    p("substr", 877, 25, &[25, 23, 23]),
    p("trim", 885, 25, &[25]),
    p("count", 2803, 20, &[]),
    p("sum", 2107, 1700, &[20]),
    p("min", 2131, 20, &[20]),
    p("max", 2115, 20, &[20]),
    p("avg", 2100, 1700, &[20]),
    p("random", 1598, 701, &[]),
];

/// The OID of a function by name (a `pg_catalog.` prefix and quotes ignored), including the
/// type I/O functions of [`ALL_TYPES`].
pub(super) fn proc_oid(name: &str) -> Option<i64> {
    let lower = name.trim().to_ascii_lowercase();
    let bare = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
    let bare = bare
        .split('(')
        .next()
        .unwrap_or(bare)
        .trim()
        .trim_matches('"');
    if let Some(proc) = PROCS.iter().find(|p| p.name == bare) {
        return Some(proc.oid);
    }
    io_procs()
        .find(|(n, _, _)| n == bare)
        .map(|(_, oid, _)| oid)
}

/// The I/O functions of every type with synthetic OIDs `9100 + 4 × index + k`.
fn io_procs() -> impl Iterator<Item = (String, i64, u32)> {
    ALL_TYPES.iter().enumerate().flat_map(|(i, &ty)| {
        let base = 9100 + 4 * i64::try_from(i).unwrap_or(0);
        io_names(ty)
            .into_iter()
            .zip(0..)
            .map(move |(name, k)| (name, base + k, ty.oid()))
    })
}

/// `VALUES` rows for `pg_proc`: (oid, proname, prorettype, pronargs, proargtypes).
pub(super) fn pg_proc_values() -> String {
    let mut rows: Vec<String> = PROCS
        .iter()
        .map(|p| {
            let args: Vec<String> = p.args.iter().map(u32::to_string).collect();
            format!(
                "({}, '{}', {}, {}, '{}')",
                p.oid,
                p.name,
                p.ret,
                p.args.len(),
                args.join(" ")
            )
        })
        .collect();
    rows.extend(io_procs().map(|(name, oid, ty)| format!("({oid}, '{name}', {ty}, 1, '2275')")));
    rows.join(",\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_function_names_follow_postgres() {
        assert_eq!(io_names(PgType::Int4)[0], "int4in");
        assert_eq!(io_names(PgType::Uuid)[2], "uuid_recv");
        assert_eq!(io_names(PgType::Timestamptz)[1], "timestamptz_out");
    }

    #[test]
    fn proc_oids_resolve_by_name() {
        assert_eq!(proc_oid("pg_catalog.array_in"), Some(750));
        assert_eq!(proc_oid("ARRAY_RECV"), Some(2400));
        assert_eq!(proc_oid("int4in"), Some(9100 + 4 * 6));
        assert_eq!(proc_oid("no_such_function"), None);
        assert_eq!(namespace_oid("PUBLIC"), Some(2200));
        assert_eq!(namespace_oid("nope"), None);
    }

    #[test]
    fn proc_oids_and_names_are_unique() {
        let mut oids: Vec<i64> = PROCS.iter().map(|p| p.oid).collect();
        let mut names: Vec<String> = PROCS.iter().map(|p| p.name.to_owned()).collect();
        for (name, oid, _) in io_procs() {
            oids.push(oid);
            names.push(name);
        }
        let total = oids.len();
        oids.sort_unstable();
        oids.dedup();
        names.sort();
        names.dedup();
        assert_eq!((oids.len(), names.len()), (total, total));
        assert_eq!(pg_proc_values().lines().count(), total);
    }

    #[test]
    fn values_have_one_row_per_type() {
        assert_eq!(pg_type_values().lines().count(), ALL_TYPES.len());
        assert!(pg_type_values().starts_with("(16, 'bool', 1, 1, 'b', 'B', 1, 'boolin'"));
    }
}
