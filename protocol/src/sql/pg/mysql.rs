//! PostgreSQL text for a MySQL/MariaDB server: the mechanical translations (casts, string
//! literals, quoted identifiers, `ILIKE`, `||`, `pg_catalog.` function prefixes, serial and
//! identity columns, `ON CONFLICT`), and `0A000` naming the construct for what has no
//! mechanical MySQL form (`DISTINCT ON`, arrays, `LATERAL`, `generate_series`, `::regclass`,
//! `UPDATE … RETURNING`, …).
//!
//! Owns [`to_mysql`]. Works on the lexer's tokens, never panics; `$n` placeholders are left
//! for the backend. Text without any PostgreSQL-only construct comes back as it was written
//! (but for string literals, re-quoted for MySQL's backslash escapes). Must not know the
//! backend or the wire.

use super::lex::{Tok, Token, tokenize};
use crate::error::DbError;
use crate::sqlstate::SqlState;

/// One statement's text rewritten for MySQL/MariaDB.
///
/// # Errors
/// `0A000` naming a PostgreSQL construct that cannot be translated; `42601` for an
/// unterminated literal or comment.
pub fn to_mysql(sql: &str) -> Result<String, DbError> {
    let tokens = tokenize(sql)?;
    refuse(&tokens)?;
    let mut items = items(sql, &tokens);
    strip_catalog_prefix(&mut items);
    casts(&mut items)?;
    concat(&mut items)?;
    ilike(&mut items)?;
    if items.first().is_some_and(|i| i.is("CREATE")) && items.get(1).is_some_and(|i| i.is("TABLE"))
    {
        create_table(&mut items);
    }
    if items.first().is_some_and(|i| i.is("INSERT")) {
        on_conflict(&mut items)?;
    }
    let mut out = String::with_capacity(sql.len() + 16);
    for item in &items {
        out.push_str(&item.ws);
        out.push_str(&item.text);
    }
    out.push_str(&sql[tokens.last().map_or(0, |t| t.end)..]);
    Ok(out)
}

fn unsupported(what: &str) -> DbError {
    DbError::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("{what} is not supported on a MySQL source"),
    )
}

/// Constructs with no MySQL form.
fn refuse(tokens: &[Token]) -> Result<(), DbError> {
    let word = |i: usize| tokens.get(i).and_then(Token::word);
    let punct = |i: usize, c: char| tokens.get(i).is_some_and(|t| t.kind == Tok::Punct(c));
    let first = word(0).unwrap_or_default();
    for (i, token) in tokens.iter().enumerate() {
        if token.kind == Tok::Punct('[') {
            return Err(unsupported("array syntax"));
        }
        if token.kind == Tok::Punct('@') || (token.kind == Tok::Punct('<') && punct(i + 1, '@')) {
            return Err(unsupported("the containment operators @> and <@"));
        }
        let Some(w) = token.word() else {
            continue;
        };
        let called = punct(i + 1, '(');
        let what = match w.as_str() {
            "DISTINCT" if word(i + 1).as_deref() == Some("ON") => "DISTINCT ON",
            "ARRAY" if called => "ARRAY(...)",
            "LATERAL" => "LATERAL",
            "GENERATE_SERIES" if called => "generate_series",
            "UNNEST" if called => "unnest",
            "FULL" if matches!(word(i + 1).as_deref(), Some("JOIN" | "OUTER")) => "FULL JOIN",
            "FILTER" if called && word(i + 2).as_deref() == Some("WHERE") => "aggregate FILTER",
            "ANY" | "ALL" | "SOME"
                if called
                    && !matches!(word(i + 2).as_deref(), Some("SELECT" | "WITH" | "VALUES")) =>
            {
                "ANY/ALL over an array"
            }
            "RETURNING" if first == "UPDATE" => "UPDATE ... RETURNING",
            "RETURNING" if first == "WITH" => "RETURNING in a WITH query",
            _ => continue,
        };
        return Err(unsupported(what));
    }
    Ok(())
}

/// A token (or a run of them, once rewritten) with the text before it.
#[derive(Debug, Clone)]
struct Item {
    /// Whitespace and comments before it, as written.
    ws: String,
    /// Its MySQL text.
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Word,
    Operand,
    Punct(char),
    Other,
}

impl Item {
    fn is(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    fn punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }
}

fn items(sql: &str, tokens: &[Token]) -> Vec<Item> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut at = 0;
    for token in tokens {
        let ws = sql.get(at..token.start).unwrap_or("").to_owned();
        at = token.end;
        let raw = sql.get(token.start..token.end).unwrap_or("");
        let (text, kind) = match &token.kind {
            Tok::Word(w) => (w.clone(), Kind::Word),
            Tok::Quoted(name) => (format!("`{}`", name.replace('`', "``")), Kind::Operand),
            Tok::Str(value) => (string_literal(value), Kind::Operand),
            Tok::Number(_) | Tok::Param(_) => (raw.to_owned(), Kind::Operand),
            Tok::Punct(c) => (raw.to_owned(), Kind::Punct(*c)),
            Tok::Semi => (raw.to_owned(), Kind::Other),
        };
        out.push(Item { ws, text, kind });
    }
    out
}

/// A MySQL string literal with this value (backslashes and quotes escaped, which also
/// covers PostgreSQL's `E'…'` and dollar quoting once the lexer decoded them).
fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `pg_catalog.f(…)` → `f(…)`.
fn strip_catalog_prefix(items: &mut Vec<Item>) {
    let mut i = 0;
    while i + 3 < items.len() {
        if items[i].is("pg_catalog")
            && items[i + 1].punct('.')
            && items[i + 2].kind == Kind::Word
            && items[i + 3].punct('(')
        {
            let ws = std::mem::take(&mut items[i].ws);
            items.drain(i..i + 2);
            items[i].ws = ws;
        }
        i += 1;
    }
}

/// The index after the parenthesis group opening at `open`.
fn group_end(items: &[Item], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, item) in items.iter().enumerate().skip(open) {
        if item.punct('(') {
            depth += 1;
        } else if item.punct(')') {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i + 1);
            }
        }
    }
    None
}

/// The index where the operand ending just before `end` starts: a literal, parameter,
/// (qualified) name, function call or parenthesized expression.
fn operand_before(items: &[Item], end: usize) -> Option<usize> {
    let last = end.checked_sub(1)?;
    let mut start = if items[last].punct(')') {
        let mut depth = 0usize;
        let mut open = None;
        for i in (0..=last).rev() {
            if items[i].punct(')') {
                depth += 1;
            } else if items[i].punct('(') {
                depth -= 1;
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
        }
        let open = open?;
        // A function call: its name goes with it.
        if open > 0 && items[open - 1].kind == Kind::Word && !is_keyword(&items[open - 1].text) {
            open - 1
        } else {
            open
        }
    } else if matches!(items[last].kind, Kind::Word | Kind::Operand) {
        last
    } else {
        return None;
    };
    while start >= 2
        && items[start - 1].punct('.')
        && matches!(items[start - 2].kind, Kind::Word | Kind::Operand)
    {
        start -= 2;
    }
    Some(start)
}

/// The index after the operand starting at `start`.
fn operand_after(items: &[Item], start: usize) -> Option<usize> {
    let item = items.get(start)?;
    let mut end = if item.punct('(') {
        group_end(items, start)?
    } else if matches!(item.kind, Kind::Word | Kind::Operand) && !is_keyword(&item.text) {
        if items.get(start + 1).is_some_and(|i| i.punct('(')) {
            group_end(items, start + 1)?
        } else {
            start + 1
        }
    } else {
        return None;
    };
    while items.get(end).is_some_and(|i| i.punct('.'))
        && items
            .get(end + 1)
            .is_some_and(|i| matches!(i.kind, Kind::Word | Kind::Operand))
    {
        end += 2;
    }
    Some(end)
}

/// False when an arithmetic operator next to `[start, end)` binds tighter than `||` and
/// `ILIKE`, so the operand the rewrite would take is not the one PostgreSQL takes.
fn bounded(items: &[Item], start: usize, end: usize) -> bool {
    let tight = |item: Option<&Item>| {
        item.is_some_and(|i| {
            matches!(
                i.kind,
                Kind::Punct('+' | '-' | '*' | '/' | '%' | '^' | '&' | '#' | '~' | '!' | '|')
            )
        })
    };
    let before = start.checked_sub(1).and_then(|i| items.get(i));
    // `x || y` chains are taken whole by the caller, so a `|` after is fine.
    let after = items.get(end).filter(|i| !i.punct('|'));
    !tight(before) && !tight(after)
}

fn is_keyword(word: &str) -> bool {
    const KEYWORDS: [&str; 22] = [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "ON",
        "AS",
        "IS",
        "WHEN",
        "THEN",
        "ELSE",
        "CASE",
        "VALUES",
        "SET",
        "BY",
        "HAVING",
        "JOIN",
        "LIKE",
        "ILIKE",
        "RETURNING",
    ];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Joins `items[start..end]` into one operand item.
fn joined(items: &[Item], start: usize, end: usize) -> String {
    let mut text = String::new();
    for (n, item) in items[start..end].iter().enumerate() {
        if n > 0 {
            text.push_str(&item.ws);
        }
        text.push_str(&item.text);
    }
    text
}

fn replace(items: &mut Vec<Item>, start: usize, end: usize, text: String) {
    let ws = std::mem::take(&mut items[start].ws);
    items.splice(
        start..end,
        [Item {
            ws,
            text,
            kind: Kind::Operand,
        }],
    );
}

/// `x::type` → `CAST(x AS mysql_type)`, left to right (so chains nest).
fn casts(items: &mut Vec<Item>) -> Result<(), DbError> {
    let mut i = 1;
    while i + 1 < items.len() {
        if !(items[i].punct(':') && items[i + 1].punct(':') && items[i + 1].ws.is_empty()) {
            i += 1;
            continue;
        }
        let start = operand_before(items, i).ok_or_else(|| unsupported("this :: cast"))?;
        let (ty, end) = cast_type(items, i + 2)?;
        let operand = joined(items, start, i);
        let text = match ty {
            CastTo::Type(ty) => format!("CAST({operand} AS {ty})"),
            CastTo::Same => operand,
            CastTo::Bool => bool_cast(&operand),
        };
        replace(items, start, end, text);
        i = start + 1;
    }
    Ok(())
}

enum CastTo {
    Type(String),
    /// The value as it is (MySQL's JSON columns take JSON text).
    Same,
    Bool,
}

/// The cast's target type starting at `at`: its MySQL spelling and the index after it.
fn cast_type(items: &[Item], at: usize) -> Result<(CastTo, usize), DbError> {
    let word = |i: usize| {
        items
            .get(i)
            .filter(|it| it.kind == Kind::Word)
            .map(|it| it.text.to_ascii_lowercase())
    };
    let mut name = word(at).ok_or_else(|| unsupported("this :: cast"))?;
    let mut end = at + 1;
    if name == "pg_catalog" && items.get(end).is_some_and(|i| i.punct('.')) {
        name = word(end + 1).ok_or_else(|| unsupported("this :: cast"))?;
        end += 2;
    }
    // Multi-word type names.
    for (first, rest) in [
        ("double", &["precision"][..]),
        ("character", &["varying"][..]),
        ("timestamp", &["with", "time", "zone"][..]),
        ("timestamp", &["without", "time", "zone"][..]),
        ("time", &["with", "time", "zone"][..]),
        ("time", &["without", "time", "zone"][..]),
    ] {
        if name == first
            && rest
                .iter()
                .enumerate()
                .all(|(n, w)| word(end + n).as_deref() == Some(*w))
        {
            name = format!("{first} {}", rest.join(" "));
            end += rest.len();
            break;
        }
    }
    let mut args = String::new();
    if items.get(end).is_some_and(|i| i.punct('(')) {
        let close = group_end(items, end).ok_or_else(|| unsupported("this :: cast"))?;
        args = joined(items, end, close);
        end = close;
    }
    let to = |t: &str| Ok::<_, DbError>(CastTo::Type(t.to_owned()));
    let ty = match name.as_str() {
        "int" | "int2" | "int4" | "int8" | "integer" | "smallint" | "bigint" => to("SIGNED")?,
        "text" | "varchar" | "char" | "character" | "character varying" | "bpchar" | "name" => {
            CastTo::Type(format!("CHAR{args}"))
        }
        "numeric" | "decimal" if args.is_empty() => to("DECIMAL(65,30)")?,
        "numeric" | "decimal" => CastTo::Type(format!("DECIMAL{args}")),
        "float8" | "double precision" | "float" => to("DOUBLE")?,
        "float4" | "real" => to("FLOAT")?,
        "date" => to("DATE")?,
        "timestamp"
        | "timestamptz"
        | "timestamp with time zone"
        | "timestamp without time zone" => to("DATETIME(6)")?,
        "time" | "timetz" | "time with time zone" | "time without time zone" => to("TIME(6)")?,
        "bytea" => to("BINARY")?,
        "uuid" => to("CHAR(36)")?,
        "json" | "jsonb" => CastTo::Same,
        "bool" | "boolean" => CastTo::Bool,
        "regclass" | "regtype" | "regproc" | "regprocedure" | "regoper" | "regnamespace"
        | "regrole" | "oid" => return Err(unsupported(&format!("::{name}"))),
        other => return Err(unsupported(&format!("the cast ::{other}"))),
    };
    if items.get(end).is_some_and(|i| i.punct('[')) {
        return Err(unsupported("array syntax"));
    }
    Ok((ty, end))
}

/// `x::boolean`: PostgreSQL's boolean spellings for literals, `x <> 0` otherwise.
fn bool_cast(operand: &str) -> String {
    let literal = operand
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.trim().to_ascii_lowercase());
    match literal.as_deref() {
        Some("t" | "true" | "y" | "yes" | "on" | "1") => "TRUE".to_owned(),
        Some("f" | "false" | "n" | "no" | "off" | "0") => "FALSE".to_owned(),
        _ => format!("(({operand}) <> 0)"),
    }
}

/// `a [NOT] ILIKE b` → `LOWER(a) [NOT] LIKE LOWER(b)`.
fn ilike(items: &mut Vec<Item>) -> Result<(), DbError> {
    let mut i = 0;
    while i < items.len() {
        if !items[i].is("ILIKE") {
            i += 1;
            continue;
        }
        let negated = i > 0 && items[i - 1].is("NOT");
        let op_start = if negated { i - 1 } else { i };
        let start =
            operand_before(items, op_start).ok_or_else(|| unsupported("ILIKE on this operand"))?;
        let end = operand_after(items, i + 1)
            .filter(|&end| bounded(items, start, end))
            .ok_or_else(|| unsupported("ILIKE on this operand"))?;
        let text = format!(
            "LOWER({}){} LIKE LOWER({})",
            joined(items, start, op_start),
            if negated { " NOT" } else { "" },
            joined(items, i + 1, end).trim_start()
        );
        replace(items, start, end, text);
        i = start + 1;
    }
    Ok(())
}

/// `a || b || c` → `CONCAT(a, b, c)` (MySQL reads `||` as OR).
fn concat(items: &mut Vec<Item>) -> Result<(), DbError> {
    let is_pipes = |items: &[Item], i: usize| {
        items[i].punct('|')
            && items
                .get(i + 1)
                .is_some_and(|n| n.punct('|') && n.ws.is_empty())
    };
    let mut i = 0;
    while i < items.len() {
        if !is_pipes(items, i) {
            i += 1;
            continue;
        }
        let bad = || unsupported("the || operator on this operand (use CONCAT())");
        let start = operand_before(items, i).ok_or_else(bad)?;
        let mut parts = vec![joined(items, start, i)];
        let mut at = i;
        let mut end;
        loop {
            end = operand_after(items, at + 2).ok_or_else(bad)?;
            parts.push(joined(items, at + 2, end).trim_start().to_owned());
            if end < items.len() && is_pipes(items, end) {
                at = end;
            } else {
                break;
            }
        }
        if !bounded(items, start, end) {
            return Err(bad());
        }
        replace(items, start, end, format!("CONCAT({})", parts.join(", ")));
        i = start + 1;
    }
    Ok(())
}

/// Column types and identity columns of a `CREATE TABLE`.
fn create_table(items: &mut Vec<Item>) {
    let Some(open) = items.iter().position(|i| i.punct('(')) else {
        return;
    };
    let mut i = open + 1;
    let mut depth = 1usize;
    let mut element_start = true;
    while i < items.len() && depth > 0 {
        if items[i].punct('(') {
            depth += 1;
        } else if items[i].punct(')') {
            depth -= 1;
        } else if depth == 1 && items[i].punct(',') {
            element_start = true;
            i += 1;
            continue;
        }
        if depth == 1 && element_start {
            element_start = false;
            let constraint = [
                "PRIMARY",
                "UNIQUE",
                "CONSTRAINT",
                "FOREIGN",
                "CHECK",
                "KEY",
                "INDEX",
                "EXCLUDE",
            ]
            .iter()
            .any(|k| items[i].is(k));
            if !constraint && i + 1 < items.len() {
                column_type(items, i + 1);
            }
        }
        if depth == 1 && items[i].is("GENERATED") {
            identity(items, i);
        }
        i += 1;
    }
}

/// Rewrites the PostgreSQL-only type at `at`.
fn column_type(items: &mut Vec<Item>, at: usize) {
    let lower = items[at].text.to_ascii_lowercase();
    let (text, len) = match lower.as_str() {
        "serial" | "serial4" => ("INT AUTO_INCREMENT", 1),
        "bigserial" | "serial8" => ("BIGINT AUTO_INCREMENT", 1),
        "smallserial" | "serial2" => ("SMALLINT AUTO_INCREMENT", 1),
        "int4" => ("INT", 1),
        "int8" => ("BIGINT", 1),
        "int2" => ("SMALLINT", 1),
        "float8" => ("DOUBLE", 1),
        "float4" => ("FLOAT", 1),
        "bytea" => ("LONGBLOB", 1),
        "jsonb" => ("JSON", 1),
        "uuid" => ("CHAR(36)", 1),
        "timestamptz" => ("DATETIME(6)", 1),
        "timestamp"
            if items.get(at + 1).is_some_and(|i| i.is("WITH"))
                && items.get(at + 2).is_some_and(|i| i.is("TIME"))
                && items.get(at + 3).is_some_and(|i| i.is("ZONE")) =>
        {
            ("DATETIME(6)", 4)
        }
        _ => return,
    };
    let ws = std::mem::take(&mut items[at].ws);
    items.splice(
        at..at + len,
        [Item {
            ws,
            text: text.to_owned(),
            kind: Kind::Word,
        }],
    );
}

/// `GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(…)]` → `AUTO_INCREMENT`.
fn identity(items: &mut Vec<Item>, at: usize) {
    let mut j = at + 1;
    if items.get(j).is_some_and(|i| i.is("ALWAYS")) {
        j += 1;
    } else if items.get(j).is_some_and(|i| i.is("BY"))
        && items.get(j + 1).is_some_and(|i| i.is("DEFAULT"))
    {
        j += 2;
    } else {
        return;
    }
    if !(items.get(j).is_some_and(|i| i.is("AS"))
        && items.get(j + 1).is_some_and(|i| i.is("IDENTITY")))
    {
        return;
    }
    let mut end = j + 2;
    if items.get(end).is_some_and(|i| i.punct('(')) {
        end = group_end(items, end).unwrap_or(end);
    }
    let ws = std::mem::take(&mut items[at].ws);
    items.splice(
        at..end,
        [Item {
            ws,
            text: "AUTO_INCREMENT".to_owned(),
            kind: Kind::Word,
        }],
    );
}

/// `ON CONFLICT … DO NOTHING` → `INSERT IGNORE`; `ON CONFLICT … DO UPDATE SET c =
/// EXCLUDED.c` → `ON DUPLICATE KEY UPDATE c = VALUES(c)`.
fn on_conflict(items: &mut Vec<Item>) -> Result<(), DbError> {
    let Some(on) = (0..items.len().saturating_sub(1))
        .find(|&i| items[i].is("ON") && items[i + 1].is("CONFLICT"))
    else {
        return Ok(());
    };
    let Some(act) = (on + 2..items.len().saturating_sub(1)).find(|&i| items[i].is("DO")) else {
        return Err(unsupported("this ON CONFLICT clause"));
    };
    if items[act + 1].is("NOTHING") {
        let ws = std::mem::take(&mut items[on].ws);
        items.drain(on..act + 2);
        if let Some(next) = items.get_mut(on) {
            next.ws = format!(
                "{ws}{}",
                next.ws.trim_start_matches(|c: char| c.is_whitespace())
            );
            if next.ws.is_empty() {
                next.ws = " ".to_owned();
            }
        }
        items[0].text.push_str(" IGNORE");
        return Ok(());
    }
    if !(items[act + 1].is("UPDATE") && items.get(act + 2).is_some_and(|i| i.is("SET"))) {
        return Err(unsupported("this ON CONFLICT clause"));
    }
    let mut depth = 0usize;
    let mut i = act + 3;
    while i < items.len() {
        if items[i].punct('(') {
            depth += 1;
        } else if items[i].punct(')') {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && items[i].is("WHERE") {
            return Err(unsupported("ON CONFLICT DO UPDATE ... WHERE"));
        } else if items[i].is("EXCLUDED")
            && items.get(i + 1).is_some_and(|n| n.punct('.'))
            && items.get(i + 2).is_some()
        {
            let text = format!("VALUES({})", items[i + 2].text);
            replace(items, i, i + 3, text);
        }
        i += 1;
    }
    let ws = std::mem::take(&mut items[on].ws);
    items.splice(
        on..act + 3,
        [Item {
            ws,
            text: "ON DUPLICATE KEY UPDATE".to_owned(),
            kind: Kind::Other,
        }],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::to_mysql;

    fn ok(sql: &str) -> String {
        to_mysql(sql).unwrap()
    }

    fn refused(sql: &str) -> String {
        let err = to_mysql(sql).unwrap_err();
        assert_eq!(err.code.as_str(), "0A000", "{sql}");
        err.message
    }

    #[test]
    fn plain_sql_is_unchanged() {
        for sql in [
            "SELECT id, name FROM t WHERE id = $1",
            "INSERT INTO t (a, b) VALUES ($1, $2)",
            "SELECT now(), TRUE, FALSE, count(*) FROM t GROUP BY a ORDER BY 1 LIMIT 3",
            "UPDATE t SET a = a + 1 WHERE b IN (SELECT x FROM u)",
        ] {
            assert_eq!(ok(sql), sql);
        }
    }

    #[test]
    fn casts_become_cast_with_mysql_types() {
        assert_eq!(ok("SELECT $1::int4"), "SELECT CAST($1 AS SIGNED)");
        assert_eq!(
            ok("SELECT price::numeric(10,2), t.x::text::int FROM t"),
            "SELECT CAST(price AS DECIMAL(10,2)), CAST(CAST(t.x AS CHAR) AS SIGNED) FROM t"
        );
        assert_eq!(
            ok("SELECT (a + 1)::double precision, lower(b)::varchar(5)"),
            "SELECT CAST((a + 1) AS DOUBLE), CAST(lower(b) AS CHAR(5))"
        );
        assert_eq!(
            ok("SELECT '2024-01-02'::date"),
            "SELECT CAST('2024-01-02' AS DATE)"
        );
        assert_eq!(
            ok("SELECT 't'::boolean, x::bool"),
            "SELECT TRUE, ((x) <> 0)"
        );
        assert_eq!(ok("SELECT '{\"a\":1}'::jsonb"), "SELECT '{\"a\":1}'");
        assert!(refused("SELECT 't'::regclass").contains("::regclass"));
        assert!(refused("SELECT '1 day'::interval").contains("::interval"));
        assert!(refused("SELECT '{1}'::int[]").contains("array"));
    }

    #[test]
    fn strings_identifiers_and_operators() {
        assert_eq!(ok("SELECT E'a\\nb''c'"), "SELECT 'a\nb''c'");
        assert_eq!(ok("SELECT 'C:\\dir'"), "SELECT 'C:\\\\dir'");
        assert_eq!(ok("SELECT $$it's$$"), "SELECT 'it''s'");
        assert_eq!(
            ok("SELECT \"Name\" FROM \"My Table\""),
            "SELECT `Name` FROM `My Table`"
        );
        assert_eq!(
            ok("SELECT * FROM t WHERE name ILIKE $1 AND t.b NOT ILIKE 'x%'"),
            "SELECT * FROM t WHERE LOWER(name) LIKE LOWER($1) AND LOWER(t.b) NOT LIKE LOWER('x%')"
        );
        assert_eq!(
            ok("SELECT first || ' ' || upper(last) AS n FROM p"),
            "SELECT CONCAT(first, ' ', upper(last)) AS n FROM p"
        );
        assert_eq!(ok("SELECT pg_catalog.now()"), "SELECT now()");
        assert!(refused("SELECT a + 1 || b FROM t").contains("||"));
    }

    #[test]
    fn ddl_and_upserts() {
        assert_eq!(
            ok(
                "CREATE TABLE t (id SERIAL PRIMARY KEY, big bigserial, doc jsonb, at timestamp with time zone, u uuid)"
            ),
            "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, big BIGINT AUTO_INCREMENT, doc JSON, at DATETIME(6), u CHAR(36))"
        );
        assert_eq!(
            ok(
                "CREATE TABLE t (id int8 GENERATED BY DEFAULT AS IDENTITY (START WITH 5) PRIMARY KEY, uuid text)"
            ),
            "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, uuid text)"
        );
        assert_eq!(
            ok("INSERT INTO t (id) VALUES (1) ON CONFLICT DO NOTHING"),
            "INSERT IGNORE INTO t (id) VALUES (1)"
        );
        assert_eq!(
            ok(
                "INSERT INTO t (id, n) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n, c = t.c + 1"
            ),
            "INSERT INTO t (id, n) VALUES ($1, $2) ON DUPLICATE KEY UPDATE n = VALUES(n), c = t.c + 1"
        );
        assert!(
            refused("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET n = 1 WHERE t.n < 1")
                .contains("WHERE")
        );
    }

    #[test]
    fn untranslatable_constructs_are_named() {
        for (sql, what) in [
            ("SELECT DISTINCT ON (a) a, b FROM t", "DISTINCT ON"),
            ("SELECT ARRAY[1, 2]", "array syntax"),
            ("SELECT ARRAY(SELECT 1)", "ARRAY(...)"),
            ("SELECT * FROM t, LATERAL (SELECT 1) s", "LATERAL"),
            ("SELECT * FROM generate_series(1, 3)", "generate_series"),
            ("UPDATE t SET a = 1 RETURNING a", "UPDATE ... RETURNING"),
            ("SELECT * FROM a FULL JOIN b ON true", "FULL JOIN"),
            (
                "SELECT * FROM t WHERE id = ANY($1)",
                "ANY/ALL over an array",
            ),
            ("SELECT doc @> '{}' FROM t", "@>"),
        ] {
            let message = refused(sql);
            assert!(message.contains(what), "{sql}: {message}");
            assert!(
                message.ends_with("is not supported on a MySQL source"),
                "{message}"
            );
        }
        assert!(to_mysql("SELECT * FROM t WHERE id = ANY (SELECT id FROM u)").is_ok());
    }
}
