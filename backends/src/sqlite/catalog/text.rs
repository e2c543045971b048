//! Pure text helpers behind the catalog functions: `quote_ident`, `pg_size_pretty`,
//! `split_part`, `left`/`right`, foreign-key action names, and the query of a
//! `CREATE VIEW`.
//!
//! Owns PostgreSQL's output rules for these. Must not know rusqlite, types or connections.

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

/// A PostgreSQL `regexp_replace` replacement (`\\1`, `\\&`, `\\\\`) in the `regex` crate's
/// syntax (`${1}`, `${0}`, `$$` for a literal dollar).
pub(super) fn regex_replacement(replacement: &str) -> String {
    let mut out = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(d @ '1'..='9')) => {
                chars.next();
                out.push_str(&format!("${{{d}}}"));
            }
            ('\\', Some('&')) => {
                chars.next();
                out.push_str("${0}");
            }
            ('\\', Some('\\')) => {
                chars.next();
                out.push('\\');
            }
            ('$', _) => out.push_str("$$"),
            (c, _) => out.push(c),
        }
    }
    out
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
    fn foreign_key_actions_and_rules() {
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
    fn regex_replacements_translate_backreferences() {
        assert_eq!(regex_replacement(r"\1"), "${1}");
        assert_eq!(regex_replacement(r"<\&>"), "<${0}>");
        assert_eq!(regex_replacement(r"a\\b$"), "a\\b$$");
        assert_eq!(regex_replacement("plain"), "plain");
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
