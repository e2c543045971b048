//! Reading what the `pragma_*` functions do not report from a `CREATE TABLE` text: CHECK
//! constraints (name, column, expression) and the names given with `CONSTRAINT name`.
//!
//! Owns a small tokenizer for SQLite's `CREATE TABLE` (quotes, brackets, nested
//! parentheses) and PostgreSQL's default CHECK names (`<table>_<col>_check`,
//! `<table>_check`, numbered when taken). Must not know rusqlite or views.

/// One token of a table element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// A bare word (keyword or identifier).
    Word(&'a str),
    /// A quoted identifier or string, quotes included.
    Quoted(&'a str),
    /// A parenthesised group, parentheses included.
    Group(&'a str),
    /// Anything else (one character).
    Other,
}

/// Skips a quoted run starting at `i` (the opening quote); returns the index after it.
fn skip_quoted(b: &[u8], i: usize) -> usize {
    let close = if b[i] == b'[' { b']' } else { b[i] };
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == close {
            if close != b']' && b.get(j + 1) == Some(&close) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    j
}

/// The index after the group opening at `i` (a `(`).
fn skip_group(b: &[u8], i: usize) -> usize {
    let (mut j, mut depth) = (i, 0usize);
    while j < b.len() {
        match b[j] {
            b'\'' | b'"' | b'`' | b'[' => {
                j = skip_quoted(b, j);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

fn tokens(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if matches!(c, b'\'' | b'"' | b'`' | b'[') {
            i = skip_quoted(b, i);
            out.push(Tok::Quoted(s.get(start..i).unwrap_or("")));
        } else if c == b'(' {
            i = skip_group(b, i);
            out.push(Tok::Group(s.get(start..i).unwrap_or("")));
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            out.push(Tok::Word(s.get(start..i).unwrap_or("")));
        } else {
            i += 1;
            out.push(Tok::Other);
        }
    }
    out
}

/// The table elements (column definitions and table constraints) of a `CREATE TABLE`.
fn elements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] != b'(' {
        i = if matches!(b[i], b'\'' | b'"' | b'`' | b'[') {
            skip_quoted(b, i)
        } else {
            i + 1
        };
    }
    let end = skip_group(b, i).saturating_sub(1);
    let (mut parts, mut start, mut j) = (Vec::new(), i + 1, i + 1);
    while j < end {
        match b[j] {
            b'\'' | b'"' | b'`' | b'[' => j = skip_quoted(b, j),
            b'(' => j = skip_group(b, j),
            b',' => {
                parts.push(sql.get(start..j).unwrap_or("").trim());
                j += 1;
                start = j;
            }
            _ => j += 1,
        }
    }
    if start < end {
        parts.push(sql.get(start..end).unwrap_or("").trim());
    }
    parts
}

/// An identifier token's name: quotes removed (doubled quotes undone).
fn ident(tok: Tok<'_>) -> Option<String> {
    match tok {
        Tok::Word(w) => Some(w.to_owned()),
        Tok::Quoted(q) if q.len() >= 2 => {
            let inner = &q[1..q.len() - 1];
            Some(match q.as_bytes()[0] {
                b'[' => inner.to_owned(),
                quote => {
                    let quote = char::from(quote).to_string();
                    inner.replace(&quote.repeat(2), &quote)
                }
            })
        }
        _ => None,
    }
}

fn is_kw(tok: Option<&Tok<'_>>, kw: &str) -> bool {
    matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

/// A constraint found in the table text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// `c` check, `p` primary key, `u` unique, `f` foreign key.
    pub(super) kind: char,
    /// The name given with `CONSTRAINT`, if any.
    pub(super) name: Option<String>,
    /// The column of a column constraint, or the columns listed by a table constraint.
    pub(super) columns: Vec<String>,
    /// A CHECK's expression (without its parentheses).
    pub(super) expr: Option<String>,
}

/// The column names listed in a `( … )` group.
fn group_columns(tok: Option<&Tok<'_>>) -> Vec<String> {
    match tok {
        Some(Tok::Group(g)) => g[1..g.len() - 1]
            .split(',')
            .filter_map(|c| tokens(c).first().copied().and_then(ident))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every constraint of a `CREATE TABLE` text that names a kind this module reports.
pub(super) fn constraints(sql: &str) -> Vec<Found> {
    let mut found = Vec::new();
    for element in elements(sql) {
        let toks = tokens(element);
        let table_level = ["constraint", "check", "primary", "unique", "foreign"]
            .iter()
            .any(|kw| is_kw(toks.first(), kw));
        let column = if table_level {
            None
        } else {
            toks.first().copied().and_then(ident)
        };
        let (mut i, mut name) = (usize::from(column.is_some()), None);
        while i < toks.len() {
            if is_kw(toks.get(i), "constraint") {
                name = toks.get(i + 1).copied().and_then(ident);
                i += 2;
                continue;
            }
            if let Some(kind) = constraint_kind(toks[i], column.is_some()) {
                found.push(constraint_at(
                    &toks[i + 1..],
                    kind,
                    column.as_ref(),
                    name.take(),
                ));
            }
            i += 1;
        }
    }
    found
}

/// The kind of constraint a keyword starts (`REFERENCES` only in a column definition).
fn constraint_kind(tok: Tok<'_>, in_column: bool) -> Option<char> {
    let Tok::Word(w) = tok else { return None };
    match w.to_ascii_lowercase().as_str() {
        "check" => Some('c'),
        "primary" => Some('p'),
        "unique" => Some('u'),
        "foreign" => Some('f'),
        "references" if in_column => Some('f'),
        _ => None,
    }
}

/// The constraint of `kind` whose keyword came just before `rest`.
fn constraint_at(
    rest: &[Tok<'_>],
    kind: char,
    column: Option<&String>,
    name: Option<String>,
) -> Found {
    let group = rest.iter().find(|t| matches!(t, Tok::Group(_)));
    let columns = match (column, kind) {
        (Some(c), _) => vec![c.clone()],
        // A table CHECK's group is its expression, not a column list.
        (None, 'c') => Vec::new(),
        (None, _) => group_columns(group),
    };
    let expr = match (kind, group) {
        ('c', Some(Tok::Group(g))) => Some(g[1..g.len() - 1].trim().to_owned()),
        _ => None,
    };
    Found {
        kind,
        name,
        columns,
        expr,
    }
}

/// The CHECK constraints of table `table`: (PostgreSQL name, column, expression).
pub(super) fn checks(table: &str, sql: &str) -> Vec<(String, Option<String>, String)> {
    let mut taken: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for c in constraints(sql).into_iter().filter(|c| c.kind == 'c') {
        let column = c.columns.first().cloned().filter(|_| c.columns.len() == 1);
        let name = c.name.unwrap_or_else(|| {
            let base = match &column {
                Some(col) => format!("{table}_{col}_check"),
                None => format!("{table}_check"),
            };
            (0..)
                .map(|n| {
                    if n == 0 {
                        base.clone()
                    } else {
                        format!("{base}{n}")
                    }
                })
                .find(|n| !taken.contains(n))
                .unwrap_or(base)
        });
        taken.push(name.clone());
        out.push((name, column, c.expr.unwrap_or_default()));
    }
    out
}

/// The name given to the constraint of `kind` on exactly `columns` (comma-separated,
/// case-insensitive), if the table text names it.
pub(super) fn constraint_name(sql: &str, kind: char, columns: &str) -> Option<String> {
    let wanted: Vec<String> = columns
        .split(',')
        .map(|c| c.trim().to_lowercase())
        .collect();
    constraints(sql).into_iter().find_map(|c| {
        let cols: Vec<String> = c.columns.iter().map(|s| s.to_lowercase()).collect();
        (c.kind == kind && cols == wanted)
            .then_some(c.name)
            .flatten()
    })
}

/// `checks` as a JSON array of `[name, column, expression]` for `json_each`.
pub(super) fn checks_json(table: &str, sql: &str) -> String {
    let items: Vec<String> = checks(table, sql)
        .into_iter()
        .map(|(name, column, expr)| {
            let column = column.map_or_else(|| "null".to_owned(), |c| json_str(&c));
            format!("[{},{column},{}]", json_str(&name), json_str(&expr))
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// The key list (inside its parentheses) and the `WHERE` predicate of a `CREATE INDEX`.
pub(super) fn index_parts(sql: &str) -> Option<(String, Option<String>)> {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] != b'(' {
        i = if matches!(b[i], b'\'' | b'"' | b'`' | b'[') {
            skip_quoted(b, i)
        } else {
            i + 1
        };
    }
    let end = skip_group(b, i);
    let keys = sql.get(i + 1..end.checked_sub(1)?)?.trim().to_owned();
    let rest = sql.get(end..)?.trim();
    let predicate = rest
        .get(..5)
        .filter(|w| w.eq_ignore_ascii_case("where"))
        .and_then(|_| rest.get(5..))
        .map(|p| p.trim().to_owned());
    Some((keys, predicate))
}

/// A JSON string literal.
pub(super) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "CREATE TABLE \"t(x\" (id INTEGER PRIMARY KEY, \
        a INT CHECK (a > 0) CONSTRAINT a_u UNIQUE, \
        \"b c\" TEXT DEFAULT (lower('x,y')) CHECK (length(\"b c\") < 5), \
        u INT REFERENCES u(id), \
        CONSTRAINT pair UNIQUE (a, \"b c\"), CHECK (a < 100), CHECK (a <> 7), \
        CONSTRAINT fk FOREIGN KEY (u) REFERENCES u(id))";

    #[test]
    fn finds_checks_with_postgres_names() {
        assert_eq!(
            checks("t", SQL),
            vec![
                (
                    "t_a_check".to_owned(),
                    Some("a".to_owned()),
                    "a > 0".to_owned()
                ),
                (
                    "t_b c_check".to_owned(),
                    Some("b c".to_owned()),
                    "length(\"b c\") < 5".to_owned()
                ),
                ("t_check".to_owned(), None, "a < 100".to_owned()),
                ("t_check1".to_owned(), None, "a <> 7".to_owned()),
            ]
        );
        assert_eq!(
            checks_json("t", "CREATE TABLE t (a CHECK (a <> '\"'))"),
            r#"[["t_a_check","a","a <> '\"'"]]"#
        );
        assert_eq!(checks_json("t", "CREATE TABLE t (a)"), "[]");
    }

    #[test]
    fn splits_create_index() {
        assert_eq!(
            index_parts("CREATE INDEX \"i(\" ON t (lower(a), b DESC) WHERE a > 0"),
            Some(("lower(a), b DESC".to_owned(), Some("a > 0".to_owned())))
        );
        assert_eq!(
            index_parts("CREATE UNIQUE INDEX i ON [t (x)](a)"),
            Some(("a".to_owned(), None))
        );
        assert_eq!(index_parts("CREATE INDEX i"), None);
    }

    #[test]
    fn finds_constraint_names() {
        assert_eq!(constraint_name(SQL, 'u', "a").as_deref(), Some("a_u"));
        assert_eq!(constraint_name(SQL, 'u', "A,b c").as_deref(), Some("pair"));
        assert_eq!(constraint_name(SQL, 'f', "u").as_deref(), Some("fk"));
        assert_eq!(constraint_name(SQL, 'p', "id"), None);
        assert_eq!(constraint_name(SQL, 'u', "b c"), None);
    }
}
