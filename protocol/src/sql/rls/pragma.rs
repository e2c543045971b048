//! SQLite's read-only catalog PRAGMAs (`table_info`, `index_list`, …), which sqlparser
//! cannot parse with an identifier argument: recognised by a tiny strict scanner and
//! re-emitted in a canonical form; any other PRAGMA is refused.
//!
//! Owns the PRAGMA grammar accepted under RLS. Must not know about policies.

use super::{CATALOG_PRAGMAS, denied};
use crate::error::DbError;

/// Whether `sql` starts with the `PRAGMA` keyword.
pub(super) fn is_pragma(sql: &str) -> bool {
    let head = sql.trim_start();
    head.len() >= 6
        && head.is_char_boundary(6)
        && head[..6].eq_ignore_ascii_case("pragma")
        && !head[6..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
}

fn ident(s: &str) -> (&str, &str) {
    let n = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    s.split_at(n)
}

/// `PRAGMA [schema.]name[(arg)]` for a catalog pragma, canonically printed.
///
/// # Errors
/// `42501` for any other pragma or shape (assignments, comments, several statements).
pub(super) fn catalog(sql: &str) -> Result<String, DbError> {
    let refuse = || denied("PRAGMA is not allowed under row-level security");
    let rest = sql.trim().trim_end_matches(';').trim_end();
    let rest = rest.get(6..).ok_or_else(refuse)?.trim_start();
    let (first, mut rest) = ident(rest);
    let (schema, name) = if let Some(after) = rest.strip_prefix('.') {
        let (second, r) = ident(after);
        rest = r;
        (Some(first), second)
    } else {
        (None, first)
    };
    if name.is_empty() || schema.is_some_and(str::is_empty) {
        return Err(refuse());
    }
    if !CATALOG_PRAGMAS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        return Err(refuse());
    }
    let rest = rest.trim();
    let arg = if rest.is_empty() {
        None
    } else {
        let inner = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(refuse)?
            .trim();
        let plain = !inner.is_empty() && ident(inner).1.is_empty();
        let quoted = ['\'', '"'].iter().any(|q| {
            inner.len() >= 2
                && inner.starts_with(*q)
                && inner.ends_with(*q)
                && !inner[1..inner.len() - 1].contains(*q)
                && !inner[1..inner.len() - 1].contains(['\0', ';'])
        });
        if !(plain || quoted) {
            return Err(refuse());
        }
        Some(inner)
    };
    let qualified = schema.map_or_else(|| name.to_owned(), |s| format!("{s}.{name}"));
    Ok(match arg {
        Some(a) => format!("PRAGMA {qualified}({a})"),
        None => format!("PRAGMA {qualified}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_catalog_pragmas_pass() {
        assert!(is_pragma("  pragma table_info(t)") && !is_pragma("pragmatic"));
        assert_eq!(
            catalog("PRAGMA table_info(todos);").unwrap(),
            "PRAGMA table_info(todos)"
        );
        assert_eq!(
            catalog("pragma main.index_list('todos')").unwrap(),
            "PRAGMA main.index_list('todos')"
        );
        for bad in [
            "PRAGMA writable_schema = 1",
            "PRAGMA table_info(todos); DROP TABLE todos",
            "PRAGMA table_info(a b)",
            "PRAGMA journal_mode",
            "PRAGMA table_info('x'')",
            "PRAGMA .table_info(t)",
        ] {
            assert!(catalog(bad).is_err(), "{bad}");
        }
    }
}
