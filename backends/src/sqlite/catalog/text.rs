//! Pure text helpers behind the catalog functions: `format_type`, typmods from declared
//! types, `quote_ident`, `pg_size_pretty`, `split_part`, `left`/`right`, and the query of a
//! `CREATE VIEW`.
//!
//! Owns PostgreSQL's output rules for these. Must not know rusqlite or any connection.

use starbase_protocol::pgtype::PgType;

/// PostgreSQL's `format_type(oid, typmod)`; `typmod` is `None` when the caller passed NULL.
pub(super) fn format_type(oid: i64, typmod: Option<i64>) -> String {
    let Some(ty) = u32::try_from(oid).ok().and_then(PgType::from_oid) else {
        return "???".to_owned();
    };
    let modifier = typmod.filter(|m| *m >= 0);
    match (ty, modifier) {
        (PgType::Varchar | PgType::Bpchar, Some(m)) => {
            format!("{}({})", ty.sql_name(), m - 4)
        }
        // bpchar with typmod -1 is not CHARACTER (which means CHARACTER(1)).
        (PgType::Bpchar, None) if typmod.is_some() => "bpchar".to_owned(),
        (PgType::Numeric, Some(m)) if m >= 4 => {
            let m = m - 4;
            format!("numeric({},{})", (m >> 16) & 0xffff, m & 0xffff)
        }
        (PgType::Timestamp, Some(p)) => format!("timestamp({p}) without time zone"),
        (PgType::Timestamptz, Some(p)) => format!("timestamp({p}) with time zone"),
        (PgType::Time, Some(p)) => format!("time({p}) without time zone"),
        _ => ty.sql_name().to_owned(),
    }
}

/// `pg_attribute.atttypmod` for a SQLite declared type: `n + 4` for `varchar(n)`/`char(n)`,
/// `((p << 16) | s) + 4` for `numeric(p,s)`, `p` for `timestamp(p)`, else -1.
pub(super) fn decl_typmod(decl: Option<&str>) -> i64 {
    let Some(decl) = decl else { return -1 };
    let args = decl
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split(',')
                .map(|a| a.trim().parse::<i64>().ok())
                .collect::<Vec<_>>()
        });
    let Some(args) = args else { return -1 };
    match (PgType::from_decl(Some(decl)), args.as_slice()) {
        (PgType::Varchar | PgType::Bpchar, [Some(n)]) if *n >= 1 => n + 4,
        (PgType::Numeric, [Some(p)]) if *p >= 1 => (p << 16) + 4,
        (PgType::Numeric, [Some(p), Some(s)]) if *p >= 1 && *s >= 0 => ((p << 16) | s) + 4,
        (PgType::Timestamp | PgType::Timestamptz | PgType::Time, [Some(p)]) if *p >= 0 => *p,
        _ => -1,
    }
}

/// An `information_schema.columns` number for a declared type (`what` is the column name:
/// `character_maximum_length`, `numeric_precision`, …); `None` where PostgreSQL has NULL.
pub(super) fn decl_info(decl: Option<&str>, what: &str) -> Option<i64> {
    let ty = PgType::from_decl(decl);
    let typmod = Some(decl_typmod(decl)).filter(|m| *m >= 0);
    let is_string = matches!(ty, PgType::Varchar | PgType::Bpchar | PgType::Text);
    let length = typmod.filter(|_| matches!(ty, PgType::Varchar | PgType::Bpchar));
    match what {
        "character_maximum_length" => length.map(|m| m - 4),
        "character_octet_length" if is_string => {
            Some(length.map_or(1_073_741_824, |m| (m - 4) * 4))
        }
        "numeric_precision" => match ty {
            PgType::Int2 => Some(16),
            PgType::Int4 => Some(32),
            PgType::Int8 => Some(64),
            PgType::Float4 => Some(24),
            PgType::Float8 => Some(53),
            PgType::Numeric => typmod.map(|m| ((m - 4) >> 16) & 0xffff),
            _ => None,
        },
        "numeric_precision_radix" => match ty {
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Float4 | PgType::Float8 => Some(2),
            PgType::Numeric => Some(10),
            _ => None,
        },
        "numeric_scale" => match ty {
            PgType::Int2 | PgType::Int4 | PgType::Int8 => Some(0),
            PgType::Numeric => typmod.map(|m| (m - 4) & 0xffff),
            _ => None,
        },
        "datetime_precision" => match ty {
            PgType::Date => Some(0),
            PgType::Time | PgType::Timestamp | PgType::Timestamptz | PgType::Interval => {
                Some(typmod.unwrap_or(6))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `pg_constraint.confupdtype`/`confdeltype` for SQLite's action name.
pub(super) fn fk_action(action: &str) -> &'static str {
    match action.to_ascii_uppercase().as_str() {
        "RESTRICT" => "r",
        "CASCADE" => "c",
        "SET NULL" => "n",
        "SET DEFAULT" => "d",
        _ => "a",
    }
}

/// The `information_schema` rule name for a `pg_constraint` action code.
pub(super) fn fk_rule(code: &str) -> &'static str {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
}

/// Keywords `quote_ident` quotes: PostgreSQL's reserved, column-name and type/function-name
/// keywords (everything that is not an unreserved keyword).
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// PostgreSQL's `quote_ident`: unchanged when it is a lower-case identifier that is not a
/// keyword, else double-quoted with `"` doubled.
pub(super) fn quote_ident(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !QUOTED_KEYWORDS.contains(&name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// PostgreSQL 16's `pg_size_pretty(bigint)`: bytes below 10 kB, then kB, MB, GB, TB, PB,
/// each rounded half away from zero.
pub(super) fn size_pretty(bytes: i64) -> String {
    // (name, limit, rounded, unit bits)
    const UNITS: [(&str, u64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let mut size = bytes;
    for (i, &(name, limit, round, bits)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1);
        if next.is_none() || size.unsigned_abs() < limit {
            if round {
                size = (size + if size < 0 { -1 } else { 1 }) / 2;
            }
            return format!("{size} {name}");
        }
        if let Some(&(_, _, next_round, next_bits)) = next {
            let shift = next_bits - bits - u32::from(next_round) + u32::from(round);
            size /= 1i64 << shift;
        }
    }
    format!("{size} PB")
}

/// `left(text, n)`: the first `n` characters, or all but the last `-n`.
pub(super) fn left(text: &str, n: i64) -> String {
    let len = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    let take = if n >= 0 { n } else { (len + n).max(0) };
    text.chars()
        .take(usize::try_from(take).unwrap_or(usize::MAX))
        .collect()
}

/// `right(text, n)`: the last `n` characters, or all but the first `-n`.
pub(super) fn right(text: &str, n: i64) -> String {
    let len = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    let skip = if n >= 0 { (len - n).max(0) } else { -n };
    text.chars()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .collect()
}

/// `split_part(text, delimiter, n)`: field `n` (1-based; negative counts from the end),
/// or empty when there is no such field. `None` for `n = 0`, which PostgreSQL rejects.
pub(super) fn split_part(text: &str, delimiter: &str, n: i64) -> Option<String> {
    if n == 0 {
        return None;
    }
    let fields: Vec<&str> = if delimiter.is_empty() {
        if text.is_empty() { vec![] } else { vec![text] }
    } else {
        text.split(delimiter).collect()
    };
    let len = i64::try_from(fields.len()).unwrap_or(i64::MAX);
    let index = if n > 0 { n - 1 } else { len + n };
    Some(
        usize::try_from(index)
            .ok()
            .and_then(|i| fields.get(i))
            .map_or_else(String::new, |f| (*f).to_owned()),
    )
}

/// The query of a `CREATE VIEW … AS <query>` statement: the text after the first `AS`
/// outside quotes and parentheses.
pub(super) fn view_query(sql: &str) -> Option<&str> {
    let bytes = sql.as_bytes();
    let (mut i, mut depth) = (0usize, 0i32);
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
            }
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'a' | b'A' if depth == 0 && is_as_keyword(bytes, i) => {
                return sql.get(i + 2..).map(str::trim);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// True when `bytes[i..]` starts the word `AS` (not part of a longer identifier).
fn is_as_keyword(bytes: &[u8], i: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    bytes
        .get(i + 1)
        .is_some_and(|b| b.eq_ignore_ascii_case(&b's'))
        && (i == 0 || !word(bytes[i - 1]))
        && !bytes.get(i + 2).copied().is_some_and(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_type_prints_postgres_names() {
        assert_eq!(format_type(23, None), "integer");
        assert_eq!(format_type(23, Some(-1)), "integer");
        assert_eq!(format_type(1043, Some(24)), "character varying(20)");
        assert_eq!(format_type(1043, Some(-1)), "character varying");
        assert_eq!(format_type(1042, Some(7)), "character(3)");
        assert_eq!(format_type(1042, Some(-1)), "bpchar");
        assert_eq!(format_type(1042, None), "character");
        assert_eq!(format_type(1700, Some((10 << 16 | 2) + 4)), "numeric(10,2)");
        assert_eq!(format_type(1700, Some(-1)), "numeric");
        assert_eq!(format_type(1184, None), "timestamp with time zone");
        assert_eq!(format_type(1114, Some(3)), "timestamp(3) without time zone");
        assert_eq!(format_type(18, None), "\"char\"");
        assert_eq!(format_type(424_242, None), "???");
        assert_eq!(format_type(-1, None), "???");
    }

    #[test]
    fn typmods_follow_postgres_encoding() {
        assert_eq!(decl_typmod(Some("VARCHAR(20)")), 24);
        assert_eq!(decl_typmod(Some("CHAR(3)")), 7);
        assert_eq!(decl_typmod(Some("NUMERIC(10,2)")), (10 << 16 | 2) + 4);
        assert_eq!(decl_typmod(Some("numeric(5)")), (5 << 16) + 4);
        assert_eq!(decl_typmod(Some("TIMESTAMP(3)")), 3);
        assert_eq!(decl_typmod(Some("VARCHAR")), -1);
        assert_eq!(decl_typmod(Some("INTEGER")), -1);
        assert_eq!(decl_typmod(Some("NATIVE CHARACTER(70)")), -1);
        assert_eq!(decl_typmod(Some("VARCHAR(x)")), -1);
        assert_eq!(decl_typmod(None), -1);
    }

    #[test]
    fn decl_info_matches_information_schema() {
        let info = |d: &str, w: &str| decl_info(Some(d), w);
        assert_eq!(info("VARCHAR(20)", "character_maximum_length"), Some(20));
        assert_eq!(info("VARCHAR(20)", "character_octet_length"), Some(80));
        assert_eq!(info("TEXT", "character_octet_length"), Some(1_073_741_824));
        assert_eq!(info("TEXT", "character_maximum_length"), None);
        assert_eq!(info("NUMERIC(10,2)", "numeric_precision"), Some(10));
        assert_eq!(info("NUMERIC(10,2)", "numeric_scale"), Some(2));
        assert_eq!(info("NUMERIC(10,2)", "numeric_precision_radix"), Some(10));
        assert_eq!(info("NUMERIC", "numeric_precision"), None);
        assert_eq!(info("INTEGER", "numeric_precision"), Some(64));
        assert_eq!(info("SMALLINT", "numeric_scale"), Some(0));
        assert_eq!(info("TIMESTAMPTZ", "datetime_precision"), Some(6));
        assert_eq!(info("DATE", "datetime_precision"), Some(0));
        assert_eq!(info("UUID", "numeric_precision"), None);
        assert_eq!(info("UUID", "bogus"), None);
        assert_eq!(fk_action("set null"), "n");
        assert_eq!(fk_action("NO ACTION"), "a");
        assert_eq!(fk_rule("c"), "CASCADE");
        assert_eq!(fk_rule(" "), "NO ACTION");
    }

    #[test]
    fn quote_ident_follows_postgres_rules() {
        assert_eq!(quote_ident("users"), "users");
        assert_eq!(quote_ident("_a1$"), "_a1$");
        assert_eq!(quote_ident("Users"), "\"Users\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident(""), "\"\"");
    }

    #[test]
    fn size_pretty_matches_postgres() {
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(10_239), "10239 bytes");
        assert_eq!(size_pretty(10_240), "10 kB");
        assert_eq!(size_pretty(1_048_576), "1024 kB");
        assert_eq!(size_pretty(20 * 1024 * 1024), "20 MB");
        assert_eq!(size_pretty(-10_240), "-10 kB");
        assert_eq!(size_pretty(i64::MAX), "8192 PB");
    }

    #[test]
    fn left_right_and_split_part() {
        assert_eq!(left("héllo", 2), "hé");
        assert_eq!(left("hello", -2), "hel");
        assert_eq!(left("hi", -5), "");
        assert_eq!(right("héllo", 3), "llo");
        assert_eq!(right("hello", -2), "llo");
        assert_eq!(right("hi", 5), "hi");
        assert_eq!(split_part("a,b,c", ",", 2).as_deref(), Some("b"));
        assert_eq!(split_part("a,b,c", ",", -1).as_deref(), Some("c"));
        assert_eq!(split_part("a,b,c", ",", 4).as_deref(), Some(""));
        assert_eq!(split_part("abc", "", 1).as_deref(), Some("abc"));
        assert_eq!(split_part("abc", "", 2).as_deref(), Some(""));
        assert_eq!(split_part("a", ",", 0), None);
    }

    #[test]
    fn view_query_skips_names_and_quotes() {
        assert_eq!(view_query("CREATE VIEW v AS SELECT 1"), Some("SELECT 1"));
        assert_eq!(
            view_query("CREATE VIEW \"as\" (a, \"as\") as\nSELECT x AS a FROM t"),
            Some("SELECT x AS a FROM t")
        );
        assert_eq!(view_query("CREATE VIEW vas AS SELECT 2"), Some("SELECT 2"));
        assert_eq!(view_query("CREATE VIEW v"), None);
    }
}
