//! The AST walk that turns PostgreSQL constructs into SQLite ones: relation names, literals,
//! casts, operators, `ANY`/`ALL`, collations, and query-level clauses SQLite lacks.
//!
//! Owns the visitor and the expression rewrites that are not function calls (those live in
//! `functions`). Reports whether anything changed, so that untouched statements keep the
//! client's text. Must not know DDL column rules or type inference.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Distinct, Expr, Ident, InTarget, ObjectName,
    ObjectNamePart, Query, Select, Statement, TableFactor, Value, ValueWithSpan, VisitMut,
    VisitorMut,
};

use super::SessionContext;
use super::control::not_supported;
use super::functions::{self, call, str_lit};
use crate::error::DbError;
use crate::pgtype::PgType;

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
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<DbError> {
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
        if matches!(expr, Expr::AnyOp { .. } | Expr::AllOp { .. }) {
            let old = std::mem::replace(expr, null());
            match any_all(old) {
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

pub(super) fn null() -> Expr {
    Expr::Value(Value::Null.into())
}

fn nested(e: Expr) -> Expr {
    Expr::Nested(Box::new(e))
}

/// One expression whose children are already rewritten.
fn rewrite_expr(e: Expr, ctx: &SessionContext<'_>) -> Result<(Expr, bool), DbError> {
    let new = match e {
        Expr::Cast {
            expr, data_type, ..
        } => cast(*expr, &data_type)?,
        Expr::Function(f) => return functions::rewrite_function(f, ctx),
        Expr::Identifier(id) if id.quote_style.is_none() => {
            match functions::session_word(&id.value, ctx) {
                Some(value) => value,
                None => return Ok((Expr::Identifier(id), false)),
            }
        }
        Expr::ILike { any: true, .. } | Expr::Like { any: true, .. } => {
            return Err(not_supported("LIKE ANY"));
        }
        Expr::ILike {
            negated,
            expr,
            pattern,
            escape_char,
            ..
        } => Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char,
        },
        Expr::SimilarTo { .. } => return Err(not_supported("SIMILAR TO")),
        Expr::BinaryOp { left, op, right } => return binary(*left, op, *right),
        Expr::IsDistinctFrom(a, b) => nested(Expr::BinaryOp {
            left: a,
            op: BinaryOperator::Custom("IS NOT".to_owned()),
            right: b,
        }),
        Expr::IsNotDistinctFrom(a, b) => nested(Expr::BinaryOp {
            left: a,
            op: BinaryOperator::Custom("IS".to_owned()),
            right: b,
        }),
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
        Expr::Collate { expr, collation } if is_default_collation(&collation) => *expr,
        Expr::Array(_) => return Err(not_supported("arrays")),
        Expr::CompoundFieldAccess { .. } => return Err(not_supported("array subscripts")),
        Expr::Interval(_) => return Err(not_supported("INTERVAL")),
        Expr::AtTimeZone { .. } => return Err(not_supported("AT TIME ZONE")),
        Expr::TypedString(ts) => {
            let value = Expr::Value(ts.value);
            cast(value, &ts.data_type)?
        }
        other => return Ok((other, false)),
    };
    Ok((new, true))
}

pub(super) fn number(n: &str) -> Expr {
    Expr::Value(Value::Number(n.to_owned(), false).into())
}

fn is_default_collation(name: &ObjectName) -> bool {
    let last = name
        .0
        .last()
        .and_then(ObjectNamePart::as_ident)
        .map(|i| i.value.to_ascii_lowercase());
    matches!(last.as_deref(), Some("default" | "c" | "posix"))
}

/// `x::type` / `CAST(x AS type)`.
fn cast(expr: Expr, data_type: &DataType) -> Result<Expr, DbError> {
    let name = data_type.to_string().to_ascii_lowercase();
    if matches!(data_type, DataType::Array(_)) || name.ends_with(']') {
        return Err(not_supported("arrays"));
    }
    let literal =
        matches!(&expr, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
    let reg = match name.as_str() {
        "regclass" => Some("starbase_regclass"),
        "regtype" => Some("starbase_regtype"),
        "regproc" | "regprocedure" => Some("starbase_regproc"),
        "regnamespace" => Some("starbase_regnamespace"),
        "regrole" | "regoper" | "regoperator" | "regconfig" | "regdictionary" => Some(""),
        _ => None,
    };
    match reg {
        Some(f) if literal && !f.is_empty() => return Ok(call(f, vec![expr])),
        Some(_) => return Ok(expr),
        None => {}
    }
    let ty = PgType::from_name(&name);
    if ty == Some(PgType::Bool)
        && let Expr::Value(v) = &expr
        && let Value::SingleQuotedString(s) = &v.value
        && let Some(b) = bool_text(s)
    {
        return Ok(Expr::Value(Value::Boolean(b).into()));
    }
    match ty.and_then(PgType::sqlite_cast) {
        Some(_) if ty == Some(PgType::Oid) && !literal => Ok(expr),
        Some(target) => Ok(Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(expr),
            data_type: DataType::Custom(ObjectName::from(vec![Ident::new(target)]), vec![]),
            format: None,
        }),
        None => Ok(expr),
    }
}

/// PostgreSQL's boolean input spellings.
fn bool_text(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Regular-expression and `OPERATOR(…)` forms; other operators unchanged.
fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Result<(Expr, bool), DbError> {
    let symbol = match &op {
        BinaryOperator::PGRegexMatch => "~".to_owned(),
        BinaryOperator::PGRegexIMatch => "~*".to_owned(),
        BinaryOperator::PGRegexNotMatch => "!~".to_owned(),
        BinaryOperator::PGRegexNotIMatch => "!~*".to_owned(),
        BinaryOperator::PGLikeMatch => "~~".to_owned(),
        BinaryOperator::PGILikeMatch => "~~*".to_owned(),
        BinaryOperator::PGNotLikeMatch => "!~~".to_owned(),
        BinaryOperator::PGNotILikeMatch => "!~~*".to_owned(),
        BinaryOperator::PGCustomBinaryOperator(parts) => parts.last().cloned().unwrap_or_default(),
        _ => {
            return Ok((
                Expr::BinaryOp {
                    left: Box::new(left),
                    op,
                    right: Box::new(right),
                },
                false,
            ));
        }
    };
    let (l, r) = (Box::new(left), Box::new(right));
    let regexp = |insensitive: bool, l: Box<Expr>, r: Box<Expr>| {
        let pattern = if insensitive {
            Expr::BinaryOp {
                left: Box::new(str_lit("(?i)")),
                op: BinaryOperator::StringConcat,
                right: r,
            }
        } else {
            *r
        };
        call("regexp", vec![pattern, *l])
    };
    let like = |negated: bool, l: Box<Expr>, r: Box<Expr>| Expr::Like {
        negated,
        any: false,
        expr: l,
        pattern: r,
        escape_char: None,
    };
    let simple = |op: BinaryOperator, l: Box<Expr>, r: Box<Expr>| Expr::BinaryOp {
        left: l,
        op,
        right: r,
    };
    let new = match symbol.as_str() {
        "~" => regexp(false, l, r),
        "~*" => regexp(true, l, r),
        "!~" => not(regexp(false, l, r)),
        "!~*" => not(regexp(true, l, r)),
        "~~" | "~~*" => like(false, l, r),
        "!~~" | "!~~*" => like(true, l, r),
        "=" => simple(BinaryOperator::Eq, l, r),
        "<>" | "!=" => simple(BinaryOperator::NotEq, l, r),
        "<" => simple(BinaryOperator::Lt, l, r),
        ">" => simple(BinaryOperator::Gt, l, r),
        "<=" => simple(BinaryOperator::LtEq, l, r),
        ">=" => simple(BinaryOperator::GtEq, l, r),
        "+" => simple(BinaryOperator::Plus, l, r),
        "-" => simple(BinaryOperator::Minus, l, r),
        "||" => simple(BinaryOperator::StringConcat, l, r),
        other => return Err(not_supported(&format!("operator {other}"))),
    };
    Ok((nested(new), true))
}

fn not(e: Expr) -> Expr {
    Expr::UnaryOp {
        op: sqlparser::ast::UnaryOperator::Not,
        expr: Box::new(e),
    }
}

fn any_all(e: Expr) -> Result<Expr, DbError> {
    match e {
        Expr::AnyOp {
            left,
            compare_op,
            right,
            ..
        } => in_list(*left, &compare_op, *right, &BinaryOperator::Eq, false),
        Expr::AllOp {
            left,
            compare_op,
            right,
        } => in_list(*left, &compare_op, *right, &BinaryOperator::NotEq, true),
        other => Ok(other),
    }
}

/// `x = ANY(ARRAY[…])` → `x IN (…)`, `x <> ALL(ARRAY[…])` → `x NOT IN (…)`, and the same
/// with a subquery.
fn in_list(
    left: Expr,
    op: &BinaryOperator,
    right: Expr,
    wanted: &BinaryOperator,
    negated: bool,
) -> Result<Expr, DbError> {
    let construct = if negated { "ALL" } else { "ANY" };
    if op != wanted {
        return Err(not_supported(&format!("{op} {construct}")));
    }
    let right = match right {
        Expr::Nested(inner) => *inner,
        other => other,
    };
    let target = match right {
        Expr::Array(array) => InTarget::List(array.elem),
        Expr::Subquery(query) => InTarget::Subquery(query),
        _ => return Err(not_supported(&format!("{construct} over an array value"))),
    };
    Ok(Expr::In {
        expr: Box::new(left),
        target,
        negated,
        global: false,
    })
}
