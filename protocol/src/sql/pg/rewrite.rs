//! The AST walk that turns PostgreSQL constructs into SQLite ones: relation names, literals,
//! casts, operators, `ANY`/`ALL`, collations, and query-level clauses SQLite lacks.
//!
//! Owns the visitor, the dispatch of each expression to its rewrite (`casts`, `operators`,
//! `functions`, `clauses`), relation names and string literals. Reports whether anything changed, so that untouched statements keep the
//! client's text. Must not know DDL column rules or type inference.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Distinct, Expr, Ident, ObjectName, ObjectNamePart, Query, Select, Statement, TableFactor,
    Value, ValueWithSpan, VisitMut, VisitorMut,
};

use super::SessionContext;
use super::control::not_supported;
use super::functions::{self, call};
use super::{casts, operators};
use crate::error::DbError;

/// Rewrites `stmt` in place; `true` when anything changed.
///
/// # Errors
/// `0A000` for constructs SQLite cannot run; `42704` from `current_setting`.
pub(super) fn rewrite(stmt: &mut Statement, ctx: &SessionContext<'_>) -> Result<bool, DbError> {
    let mut rewriter = Rewriter {
        ctx,
        changed: false,
    };
    match stmt.visit(&mut rewriter) {
        ControlFlow::Continue(()) => Ok(rewriter.changed),
        ControlFlow::Break(e) => Err(e),
    }
}

struct Rewriter<'a, 'c> {
    ctx: &'a SessionContext<'c>,
    changed: bool,
}

fn check(result: Result<bool, DbError>, changed: &mut bool) -> ControlFlow<DbError> {
    match result {
        Ok(c) => {
            *changed |= c;
            ControlFlow::Continue(())
        }
        Err(e) => ControlFlow::Break(e),
    }
}

impl VisitorMut for Rewriter<'_, '_> {
    type Break = DbError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<DbError> {
        check(super::clauses::rewrite_clauses(query), &mut self.changed)
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<DbError> {
        if matches!(select.distinct, Some(Distinct::On(_))) {
            return ControlFlow::Break(not_supported("DISTINCT ON"));
        }
        self.changed |= super::from_functions::rewrite(select);
        self.changed |= casts::regclass_names(select);
        self.changed |= super::arrays::select_list_srfs(select);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<DbError> {
        self.changed |= super::session_relations::pg_database(factor, self.ctx.database);
        match factor {
            TableFactor::Derived { lateral: true, .. }
            | TableFactor::Function { lateral: true, .. } => {
                ControlFlow::Break(not_supported("LATERAL"))
            }
            TableFactor::Table {
                sample: Some(_), ..
            }
            | TableFactor::Derived {
                sample: Some(_), ..
            } => ControlFlow::Break(not_supported("TABLESAMPLE")),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_relation(&mut self, name: &mut ObjectName) -> ControlFlow<DbError> {
        self.changed |= rename_relation(name);
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &mut ValueWithSpan) -> ControlFlow<DbError> {
        let text = match &value.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s.as_str()),
            Value::DollarQuotedString(d) => Some(d.value.as_str()),
            _ => None,
        };
        // SQLite would end the statement text at a NUL; PostgreSQL rejects it in text too.
        if text.is_some_and(|t| t.contains('\0')) {
            return ControlFlow::Break(not_supported("a NUL character in a string"));
        }
        let plain = match &mut value.value {
            Value::EscapedStringLiteral(s) => std::mem::take(s),
            Value::DollarQuotedString(d) => std::mem::take(&mut d.value),
            _ => return ControlFlow::Continue(()),
        };
        value.value = Value::SingleQuotedString(plain);
        self.changed = true;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<DbError> {
        check(functions::any_current_schemas(expr), &mut self.changed)?;
        // Before the children: the array of `= ANY(ARRAY[…])` becomes an IN list rather
        // than an unsupported array.
        if let Some(arithmetic) =
            super::intervals::interval_arithmetic(expr).or_else(|| super::intervals::at_utc(expr))
        {
            *expr = arithmetic;
            self.changed = true;
            return ControlFlow::Continue(());
        }
        if matches!(expr, Expr::AnyOp { .. } | Expr::AllOp { .. }) {
            let old = std::mem::replace(expr, null());
            match operators::any_all(old) {
                Ok(new) => *expr = new,
                Err(e) => return ControlFlow::Break(e),
            }
            self.changed = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<DbError> {
        let old = std::mem::replace(expr, null());
        match rewrite_expr(old, self.ctx) {
            Ok((new, changed)) => {
                *expr = new;
                self.changed |= changed;
                ControlFlow::Continue(())
            }
            Err(e) => ControlFlow::Break(e),
        }
    }
}

/// `pg_catalog.X` → `X`, `public.X` → `X`, `information_schema.X` → `information_schema_X`.
pub(super) fn rename_relation(name: &mut ObjectName) -> bool {
    let parts: Vec<&Ident> = name.0.iter().filter_map(ObjectNamePart::as_ident).collect();
    let [schema, table] = parts.as_slice() else {
        return false;
    };
    let renamed = match schema.value.to_ascii_lowercase().as_str() {
        "pg_catalog" | "public" => (*table).clone(),
        "information_schema" => Ident::new(format!(
            "information_schema_{}",
            table.value.to_ascii_lowercase()
        )),
        _ => return false,
    };
    name.0 = vec![ObjectNamePart::Identifier(renamed)];
    true
}

/// `pg_catalog.pg_class.oid` → `pg_class.oid` (and the other schemas as for relations).
fn qualified_column(mut parts: Vec<Ident>) -> (Expr, bool) {
    if parts.len() < 3 {
        return (Expr::CompoundIdentifier(parts), false);
    }
    let column = parts.split_off(parts.len() - 1);
    let mut relation = ObjectName::from(parts);
    let changed = rename_relation(&mut relation);
    let mut parts: Vec<Ident> = relation
        .0
        .into_iter()
        .filter_map(|p| p.as_ident().cloned())
        .collect();
    parts.extend(column);
    (Expr::CompoundIdentifier(parts), changed)
}

pub(super) fn null() -> Expr {
    Expr::Value(Value::Null.into())
}

/// One expression whose children are already rewritten.
fn rewrite_expr(e: Expr, ctx: &SessionContext<'_>) -> Result<(Expr, bool), DbError> {
    match e {
        Expr::Function(f) => match super::arrays::array_subquery(&f.args) {
            Some(new) if functions::function_name(&f).as_deref() == Some("array") => {
                Ok((new, true))
            }
            _ => functions::rewrite_function(f, ctx),
        },
        Expr::Identifier(id) if id.quote_style.is_none() => {
            match functions::session_word(&id.value, ctx) {
                Some(value) => Ok((value, true)),
                None => Ok((Expr::Identifier(id), false)),
            }
        }
        Expr::BinaryOp { left, op, right } => operators::binary(*left, op, *right),
        Expr::CompoundIdentifier(parts) => Ok(qualified_column(parts)),
        Expr::Cast { .. } | Expr::TypedString(_) | Expr::Collate { .. } => casts::rewrite(e),
        Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::SimilarTo { .. }
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..) => operators::predicate(e),
        Expr::Position { .. } | Expr::Substring { .. } | Expr::Extract { .. } => string_forms(e),
        Expr::Array(_) => Err(not_supported("arrays")),
        Expr::CompoundFieldAccess { root, access_chain } => {
            match super::arrays::subscript(&root, &access_chain) {
                Some(new) => Ok((new, true)),
                None => Err(not_supported("array slices")),
            }
        }
        Expr::Interval(_) => Err(not_supported("INTERVAL")),
        Expr::AtTimeZone { .. } => Err(not_supported("AT TIME ZONE")),
        other => Ok((other, false)),
    }
}

/// `position(a IN b)`, `substring(x FROM a FOR b)`, `EXTRACT(f FROM x)`.
fn string_forms(e: Expr) -> Result<(Expr, bool), DbError> {
    let new = match e {
        Expr::Position { expr, r#in } => call("instr", vec![*r#in, *expr]),
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            special: false,
            shorthand: false,
        } => {
            let from = substring_from.map_or_else(|| number("1"), |f| *f);
            let mut args = vec![*expr, from];
            args.extend(substring_for.map(|f| *f));
            call("substr", args)
        }
        Expr::Extract { field, expr, .. } => functions::extract(&field, *expr)?,
        other => return Ok((other, false)),
    };
    Ok((new, true))
}

pub(super) fn number(n: &str) -> Expr {
    Expr::Value(Value::Number(n.to_owned(), false).into())
}
