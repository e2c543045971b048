//! Operator rewrites: regular-expression operators, `OPERATOR(schema.op)`, ILIKE,
//! `IS [NOT] DISTINCT FROM`, and `= ANY(…)` / `<> ALL(…)` as IN lists.
//!
//! Owns the SQLite spelling of PostgreSQL's operators. Must not know functions or casts.

use sqlparser::ast::{BinaryOperator, Expr, InTarget, UnaryOperator, Value};

use super::control::not_supported;
use super::functions::{call, str_lit};
use crate::error::DbError;

fn nested(e: Expr) -> Expr {
    Expr::Nested(Box::new(e))
}

/// `LIKE` / `ILIKE` / `SIMILAR TO` / `IS [NOT] DISTINCT FROM`.
///
/// # Errors
/// `0A000` for `SIMILAR TO` and `LIKE ANY`.
pub(super) fn predicate(e: Expr) -> Result<(Expr, bool), DbError> {
    let new = match e {
        Expr::ILike { any: true, .. } | Expr::Like { any: true, .. } => {
            return Err(not_supported("LIKE ANY"));
        }
        // SQLite's LIKE is ASCII case-insensitive already.
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
        other => return Ok((other, false)),
    };
    Ok((new, true))
}

/// The symbol of an operator this module rewrites.
fn symbol(op: &BinaryOperator) -> Option<String> {
    Some(
        match op {
            BinaryOperator::PGRegexMatch => "~",
            BinaryOperator::PGRegexIMatch => "~*",
            BinaryOperator::PGRegexNotMatch => "!~",
            BinaryOperator::PGRegexNotIMatch => "!~*",
            BinaryOperator::PGLikeMatch => "~~",
            BinaryOperator::PGILikeMatch => "~~*",
            BinaryOperator::PGNotLikeMatch => "!~~",
            BinaryOperator::PGNotILikeMatch => "!~~*",
            BinaryOperator::PGCustomBinaryOperator(parts) => return parts.last().cloned(),
            _ => return None,
        }
        .to_owned(),
    )
}

/// Regular-expression and `OPERATOR(…)` forms; other operators unchanged.
///
/// # Errors
/// `0A000` for an `OPERATOR(…)` SQLite has no counterpart for.
pub(super) fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Result<(Expr, bool), DbError> {
    let Some(symbol) = symbol(&op) else {
        return Ok((
            Expr::BinaryOp {
                left: Box::new(left),
                op,
                right: Box::new(right),
            },
            false,
        ));
    };
    let (l, r) = (Box::new(left), Box::new(right));
    let simple =
        |op: BinaryOperator, left: Box<Expr>, right: Box<Expr>| Expr::BinaryOp { left, op, right };
    let new = match symbol.as_str() {
        "~" => regexp(false, *l, *r),
        "~*" => regexp(true, *l, *r),
        "!~" => not(regexp(false, *l, *r)),
        "!~*" => not(regexp(true, *l, *r)),
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

/// `regexp(pattern, subject)`, with `(?i)` for the case-insensitive operators.
fn regexp(insensitive: bool, subject: Expr, pattern: Expr) -> Expr {
    let pattern = if insensitive {
        Expr::BinaryOp {
            left: Box::new(str_lit("(?i)")),
            op: BinaryOperator::StringConcat,
            right: Box::new(pattern),
        }
    } else {
        pattern
    };
    call("regexp", vec![pattern, subject])
}

fn like(negated: bool, expr: Box<Expr>, pattern: Box<Expr>) -> Expr {
    Expr::Like {
        negated,
        any: false,
        expr,
        pattern,
        escape_char: None,
    }
}

fn not(e: Expr) -> Expr {
    Expr::UnaryOp {
        op: UnaryOperator::Not,
        expr: Box::new(e),
    }
}

pub(super) fn any_all(e: Expr) -> Result<Expr, DbError> {
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
        // A bound array parameter would need array decoding in the frontend.
        Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => {
            return Err(not_supported(&format!(
                "{construct} over an array parameter"
            )));
        }
        array => return Ok(super::arrays::in_array(left, array, negated)),
    };
    Ok(Expr::In {
        expr: Box::new(left),
        target,
        negated,
        global: false,
    })
}
