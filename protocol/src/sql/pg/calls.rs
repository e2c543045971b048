//! Session functions called as the whole statement: `SELECT pg_advisory_lock(…)` and
//! friends, `SELECT set_config(…)`. The frontend runs them itself (advisory locks live in
//! the gateway, settings in the session).
//!
//! Owns recognising such statements and their arguments. Must not know how locks or settings
//! are kept.

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr, Statement,
    UnaryOperator, Value,
};

use super::functions::function_name;
use super::{Advisory, AdvisoryCall, AdvisoryParams, PgStatement, SetCommand};

/// The key of the two-int4 forms: `(k1 << 32) | (k2 as u32)`.
pub(super) fn two_int4_key(k1: i32, k2: i32) -> i64 {
    (i64::from(k1) << 32) | i64::from(k2.cast_unsigned())
}

/// `SELECT pg_advisory_lock(k)`, `SELECT set_config('x', 'v', false)` and friends as the
/// whole statement (one select item, nothing else), with literal arguments (or, for the
/// advisory locks, parameters).
pub(super) fn whole_statement_call(stmt: &Statement) -> Option<PgStatement> {
    let Statement::Query(query) = stmt else {
        return None;
    };
    if query.with.is_some() || query.order_by.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if !select.from.is_empty() || select.selection.is_some() || select.projection.len() != 1 {
        return None;
    }
    let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) =
        select.projection.first()?
    else {
        return None;
    };
    let Expr::Function(f) = expr else {
        return None;
    };
    let name = function_name(f)?;
    let args = literal_args(&f.args)?;
    if name == "set_config" {
        return set_config(&args);
    }
    advisory(&name, &args)
}

/// The advisory-lock function a name stands for (not `pg_advisory_unlock_all`).
fn advisory_call(name: &str) -> Option<AdvisoryCall> {
    Some(match name {
        "pg_advisory_lock" => AdvisoryCall::Lock,
        "pg_try_advisory_lock" => AdvisoryCall::TryLock,
        "pg_advisory_unlock" => AdvisoryCall::Unlock,
        "pg_advisory_xact_lock" => AdvisoryCall::XactLock,
        "pg_try_advisory_xact_lock" => AdvisoryCall::TryXactLock,
        _ => return None,
    })
}

fn advisory(name: &str, args: &[Lit]) -> Option<PgStatement> {
    if name == "pg_advisory_unlock_all" {
        return args
            .is_empty()
            .then_some(PgStatement::Advisory(Advisory::UnlockAll));
    }
    let call = advisory_call(name)?;
    let params: Option<Vec<usize>> = args
        .iter()
        .map(|a| match a {
            Lit::Param(n) => Some(*n),
            _ => None,
        })
        .collect();
    if let Some(params) = params.filter(|p| matches!(p.len(), 1 | 2)) {
        return Some(PgStatement::AdvisoryParams(AdvisoryParams { call, params }));
    }
    let key = match args {
        [Lit::Int(k)] => *k,
        [Lit::Int(k1), Lit::Int(k2)] => {
            two_int4_key(i32::try_from(*k1).ok()?, i32::try_from(*k2).ok()?)
        }
        _ => return None,
    };
    Some(PgStatement::Advisory(call.with_key(key)))
}

/// A literal function argument.
#[derive(Debug)]
enum Lit {
    Int(i64),
    Str(String),
    Bool(bool),
    /// `$n`.
    Param(usize),
}

fn literal_args(args: &FunctionArguments) -> Option<Vec<Lit>> {
    let list = match args {
        FunctionArguments::List(list) if list.clauses.is_empty() => &list.args,
        _ => return None,
    };
    list.iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => literal(e),
            _ => None,
        })
        .collect()
}

fn literal(e: &Expr) -> Option<Lit> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok().map(Lit::Int),
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => {
                Some(Lit::Str(s.clone()))
            }
            Value::DollarQuotedString(s) => Some(Lit::Str(s.value.clone())),
            Value::Boolean(b) => Some(Lit::Bool(*b)),
            Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok().map(Lit::Param),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            Lit::Int(n) => n.checked_neg().map(Lit::Int),
            _ => None,
        },
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => literal(inner),
        _ => None,
    }
}

fn set_config(args: &[Lit]) -> Option<PgStatement> {
    let [Lit::Str(name), Lit::Str(value), local] = args else {
        return None;
    };
    let local = match local {
        Lit::Bool(b) => *b,
        Lit::Str(s) => matches!(s.to_ascii_lowercase().as_str(), "t" | "true" | "on" | "1"),
        Lit::Int(n) => *n != 0,
        Lit::Param(_) => return None,
    };
    Some(PgStatement::SetConfig(SetCommand::Value {
        name: name.to_ascii_lowercase(),
        value: value.clone(),
        local,
    }))
}
