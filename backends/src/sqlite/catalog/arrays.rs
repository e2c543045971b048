//! PostgreSQL arrays over SQLite text: the array functions catalog queries call
//! (`array_to_string`, `array_length`, `array_upper`, `array_lower`, `cardinality`,
//! `array_agg`) and the `starbase_array_json` / `starbase_array_get` helpers the dialect
//! translator emits for `x = ANY(arr)`, `unnest(arr)`, `generate_subscripts` and `arr[i]`.
//!
//! An array value is its PostgreSQL text: `{1,2}` (lower bound 1; elements may be quoted,
//! `NULL` is null), or the space-separated `int2vector`/`oidvector` form `1 2` (lower bound
//! 0, as `pg_index.indkey[0]` is its first key); a JSON array (`[1,2]`, lower bound 1) is
//! read too. So catalog columns print as PostgreSQL prints them and drivers parse them, and
//! operations on them go through JSON, which SQLite's `json_each` can iterate. Must not know
//! the catalog views or the translator.

use rusqlite::Connection;
use rusqlite::functions::{Aggregate, Context};
use rusqlite::types::ValueRef;

use super::args::{PURE, add, int, text};

/// A one-dimensional array: its lower bound and elements (None = NULL).
#[derive(Debug, PartialEq, Eq)]
struct PgArray {
    lower: i64,
    items: Vec<Option<String>>,
}

/// Registers the array functions on `conn`.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    add(conn, "starbase_array_json", &[1], PURE, |ctx| {
        Ok(array(ctx).map(|a| a.to_json()))
    })?;
    add(conn, "starbase_array_get", &[2], PURE, |ctx| {
        let (Some(a), Some(i)) = (array(ctx), int(ctx, 1)?) else {
            return Ok(None);
        };
        let item = usize::try_from(i - a.lower)
            .ok()
            .and_then(|k| a.items.get(k));
        Ok(item.cloned().flatten().map(element))
    })?;
    add(conn, "array_to_string", &[2, 3], PURE, |ctx| {
        let (Some(a), Some(sep)) = (array(ctx), text(ctx, 1)) else {
            return Ok(None);
        };
        let null = text(ctx, 2);
        let parts: Vec<String> = a
            .items
            .into_iter()
            .filter_map(|item| item.or_else(|| null.clone()))
            .collect();
        Ok(Some(parts.join(&sep)))
    })?;
    add(conn, "array_length", &[2], PURE, |ctx| {
        bound(ctx, |a| i64::try_from(a.items.len()).ok())
    })?;
    add(conn, "array_upper", &[2], PURE, |ctx| {
        bound(ctx, |a| {
            Some(a.lower + i64::try_from(a.items.len()).ok()? - 1)
        })
    })?;
    add(conn, "array_lower", &[2], PURE, |ctx| {
        bound(ctx, |a| Some(a.lower))
    })?;
    add(conn, "cardinality", &[1], PURE, |ctx| {
        Ok(array(ctx).and_then(|a| i64::try_from(a.items.len()).ok()))
    })?;
    // An int2vector/oidvector as long as `vector`, every element `value` (`indoption`).
    add(conn, "starbase_vector_fill", &[2], PURE, |ctx| {
        let (Some(a), Some(value)) = (array(ctx), text(ctx, 1)) else {
            return Ok(None);
        };
        Ok(Some(vec![value; a.items.len()].join(" ")))
    })?;
    conn.create_aggregate_function("array_agg", 1, PURE, ArrayAgg)
}

/// Argument 0 as an array (None for NULL).
fn array(ctx: &Context<'_>) -> Option<PgArray> {
    text(ctx, 0).map(|t| parse(&t))
}

/// `array_length`/`array_upper`/`array_lower(arr, 1)`: NULL for an empty array and for any
/// other dimension, as in PostgreSQL.
fn bound(ctx: &Context<'_>, f: impl Fn(&PgArray) -> Option<i64>) -> rusqlite::Result<Option<i64>> {
    let (Some(a), Some(1)) = (array(ctx), int(ctx, 1)?) else {
        return Ok(None);
    };
    Ok(if a.items.is_empty() { None } else { f(&a) })
}

/// An element as SQLite should see it: integers as integers (so `attnum = ANY(indkey)`
/// compares numbers), everything else as text.
fn element(item: String) -> rusqlite::types::Value {
    match item.parse::<i64>() {
        Ok(n) => rusqlite::types::Value::Integer(n),
        Err(_) => rusqlite::types::Value::Text(item),
    }
}

fn parse(text: &str) -> PgArray {
    let trimmed = text.trim();
    if let Some(inner) = trimmed.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        return PgArray {
            lower: 1,
            items: parse_braced(inner),
        };
    }
    if trimmed.starts_with('[')
        && let Ok(serde_json::Value::Array(values)) = serde_json::from_str(trimmed)
    {
        let items = values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                other => Some(other.to_string()),
            })
            .collect();
        return PgArray { lower: 1, items };
    }
    PgArray {
        lower: 0,
        items: trimmed
            .split_whitespace()
            .map(|s| Some(s.to_owned()))
            .collect(),
    }
}

/// The elements between `{` and `}`: comma-separated, `"…"` with `\` escapes, bare `NULL`.
fn parse_braced(inner: &str) -> Vec<Option<String>> {
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return items;
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut item = String::new();
        let quoted = chars.next_if_eq(&'"').is_some();
        while let Some(c) = chars.next() {
            match c {
                '\\' if quoted => item.extend(chars.next()),
                '"' if quoted => break,
                ',' if !quoted => break,
                _ => item.push(c),
            }
        }
        if quoted {
            // Skip to the separator after the closing quote.
            while chars.next_if(|c| *c != ',').is_some() {}
            chars.next();
        }
        let bare = item.trim();
        items.push(if !quoted && bare.eq_ignore_ascii_case("null") {
            None
        } else if quoted {
            Some(item)
        } else {
            Some(bare.to_owned())
        });
        if chars.peek().is_none() {
            break;
        }
    }
    items
}

impl PgArray {
    fn to_json(&self) -> String {
        let values: Vec<serde_json::Value> = self
            .items
            .iter()
            .map(|item| match item {
                None => serde_json::Value::Null,
                Some(s) => s
                    .parse::<i64>()
                    .map_or_else(|_| serde_json::Value::String(s.clone()), Into::into),
            })
            .collect();
        serde_json::Value::Array(values).to_string()
    }
}

/// PostgreSQL's text of a one-dimensional array: elements quoted when they must be.
fn array_text(items: &[Option<String>]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            None => "NULL".to_owned(),
            Some(s) if needs_quotes(s) => {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            }
            Some(s) => s.clone(),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| c.is_whitespace() || matches!(c, '{' | '}' | ',' | '"' | '\\'))
}

/// `array_agg(x)`: the PostgreSQL text of the collected values (NULL for no rows).
#[derive(Debug)]
struct ArrayAgg;

impl Aggregate<Vec<Option<String>>, Option<String>> for ArrayAgg {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Vec<Option<String>>> {
        Ok(Vec::new())
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut Vec<Option<String>>) -> rusqlite::Result<()> {
        acc.push(match ctx.get_raw(0) {
            ValueRef::Null => None,
            _ => text(ctx, 0),
        });
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<Vec<Option<String>>>,
    ) -> rusqlite::Result<Option<String>> {
        Ok(acc.map(|items| array_text(&items)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(sql: &str) -> Option<String> {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, Option<rusqlite::types::Value>>(0))
            .unwrap()
            .map(|v| match v {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
    }

    #[test]
    fn parses_every_array_spelling() {
        let items = |v: &[Option<&str>]| v.iter().map(|s| s.map(str::to_owned)).collect();
        assert_eq!(
            parse(r#"{1, "a b",NULL,"x\"y","NULL"}"#),
            PgArray {
                lower: 1,
                items: items(&[Some("1"), Some("a b"), None, Some("x\"y"), Some("NULL")]),
            }
        );
        assert_eq!(parse("{}").items, Vec::<Option<String>>::new());
        assert_eq!(parse("1 3").lower, 0);
        assert_eq!(parse("1 3").items, items(&[Some("1"), Some("3")]));
        assert_eq!(
            parse("[1,\"a\",null]").items,
            items(&[Some("1"), Some("a"), None])
        );
    }

    #[test]
    fn functions_answer_as_postgresql() {
        assert_eq!(
            query("SELECT starbase_array_json('{1,x,NULL}')").unwrap(),
            r#"[1,"x",null]"#
        );
        assert_eq!(query("SELECT starbase_array_get('2 3', 0)").unwrap(), "2");
        assert_eq!(query("SELECT starbase_array_get('{2,3}', 2)").unwrap(), "3");
        assert_eq!(query("SELECT starbase_array_get('{2,3}', 3)"), None);
        assert_eq!(
            query("SELECT array_to_string('{a,NULL,b}', ', ')").unwrap(),
            "a, b"
        );
        assert_eq!(
            query("SELECT array_to_string('{a,NULL}', ',', '*')").unwrap(),
            "a,*"
        );
        assert_eq!(query("SELECT array_length('{a,b}', 1)").unwrap(), "2");
        assert_eq!(query("SELECT array_length('{}', 1)"), None);
        assert_eq!(query("SELECT array_upper('1 2 3', 1)").unwrap(), "2");
        assert_eq!(query("SELECT array_lower('{4}', 1)").unwrap(), "1");
        assert_eq!(query("SELECT cardinality('{4,5}')").unwrap(), "2");
        assert_eq!(
            query("SELECT starbase_vector_fill('3 1', 0)").unwrap(),
            "0 0"
        );
        assert_eq!(
            query("SELECT array_agg(x ORDER BY x DESC) FROM (SELECT 'a b' AS x UNION ALL SELECT 'c' UNION ALL SELECT NULL)")
                .unwrap(),
            r#"{c,"a b",NULL}"#
        );
        assert_eq!(query("SELECT array_agg(1) FROM (SELECT 1 WHERE 0)"), None);
        assert_eq!(
            query("SELECT group_concat(value) FROM json_each(starbase_array_json('1 2'))").unwrap(),
            "1,2"
        );
    }
}
