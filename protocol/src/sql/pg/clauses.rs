//! Query-level clauses SQLite spells differently or lacks: row locks, `FETCH FIRST`,
//! `OFFSET … ROWS`, `OFFSET` without `LIMIT`.
//!
//! Owns the rewrite of one `Query`'s own clauses (not its expressions). Must not know
//! expressions or statements.

use sqlparser::ast::{Expr, LimitClause, Offset, OffsetRows, Query, Value};

use super::control::not_supported;
use crate::error::DbError;

/// Rewrites the clauses of `query`; `true` when anything changed.
///
/// # Errors
/// `0A000` for `FETCH … WITH TIES` and `FETCH … PERCENT`.
pub(super) fn rewrite_clauses(query: &mut Query) -> Result<bool, DbError> {
    let mut changed = false;
    // One writer: the rows read inside a transaction cannot change under it.
    if !query.locks.is_empty() {
        query.locks.clear();
        changed = true;
    }
    if let Some(fetch) = query.fetch.take() {
        if fetch.with_ties || fetch.percent {
            return Err(not_supported("FETCH … WITH TIES or PERCENT"));
        }
        let quantity = fetch
            .quantity
            .unwrap_or_else(|| Expr::Value(Value::Number("1".to_owned(), false).into()));
        match &mut query.limit_clause {
            Some(LimitClause::LimitOffset { limit, .. }) if limit.is_none() => {
                *limit = Some(quantity);
            }
            None => {
                query.limit_clause = Some(LimitClause::LimitOffset {
                    limit: Some(quantity),
                    offset: None,
                    limit_by: Vec::new(),
                });
            }
            Some(_) => return Err(not_supported("LIMIT together with FETCH")),
        }
        changed = true;
    }
    if let Some(LimitClause::LimitOffset {
        limit,
        offset: Some(offset),
        ..
    }) = &mut query.limit_clause
    {
        changed |= fix_offset(limit, offset);
    }
    Ok(changed)
}

/// `OFFSET n ROWS` → `OFFSET n`; SQLite needs a `LIMIT` before `OFFSET` (`-1`: no limit).
fn fix_offset(limit: &mut Option<Expr>, offset: &mut Offset) -> bool {
    let mut changed = false;
    if offset.rows != OffsetRows::None {
        offset.rows = OffsetRows::None;
        changed = true;
    }
    if limit.is_none() {
        *limit = Some(Expr::Value(Value::Number("-1".to_owned(), false).into()));
        changed = true;
    }
    changed
}
