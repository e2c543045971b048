//! One statement: keyword-level commands first, then the parsed path (whole-statement
//! session calls, unsupported statements, rewrites, type inference), else pass-through.
//!
//! Owns the order of the translation steps and the "print only when something changed" rule.
//! Must not know the details of any single rewrite.

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr, Statement,
    UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::lex::{Piece, max_param, too_deep};
use super::tag::{passthrough, tag_of};
use super::{Advisory, PgStatement, SchemaLookup, SessionContext, SetCommand, Translated};
use crate::error::DbError;
use crate::sql::classify::classify;

/// Translates one statement.
///
/// # Errors
/// See [`super::translate`].
pub(super) fn translate_piece(
    piece: &Piece<'_>,
    ctx: &SessionContext<'_>,
    schema: &dyn SchemaLookup,
) -> Result<PgStatement, DbError> {
    if let Some(statement) = super::control::keyword_statement(piece)? {
        return Ok(statement);
    }
    if too_deep(&piece.tokens) {
        return Ok(PgStatement::Query(passthrough(piece)));
    }
    // `TABLE t` is `SELECT * FROM t` (the parser knows only the latter).
    let table_command = piece.tokens.first().is_some_and(|t| t.is("TABLE"));
    let text = match piece.tokens.get(1) {
        Some(next) if table_command => {
            format!(
                "SELECT * FROM {}",
                piece.text.get(next.start..).unwrap_or_default()
            )
        }
        _ => piece.text.to_owned(),
    };
    // What PostgreSQL's grammar does not accept is SQLite's (or an error SQLite reports in
    // its own words): it runs exactly as written.
    let Ok(mut parsed) = Parser::parse_sql(&PostgreSqlDialect {}, &text) else {
        return Ok(PgStatement::Query(passthrough(piece)));
    };
    let (Some(mut stmt), true) = (parsed.pop(), parsed.is_empty()) else {
        return Ok(PgStatement::Query(passthrough(piece)));
    };
    if let Some(call) = whole_statement_call(&stmt) {
        return Ok(call);
    }
    super::ddl::check_statement(&stmt)?;
    let params = super::infer::params(&stmt, schema, max_param(&piece.tokens));
    let columns = super::columns::result_columns(&stmt, schema);
    let mut changed = table_command | super::ddl::rewrite_before(&mut stmt)?;
    changed |= super::rewrite::rewrite(&mut stmt, ctx)?;
    changed |= super::table_ddl::rewrite_after(&mut stmt);
    let sql = if changed {
        stmt.to_string()
    } else {
        piece.text.to_owned()
    };
    let (tag, tag_counts_rows) = tag_of(&piece.tokens);
    Ok(PgStatement::Query(Translated {
        kind: classify(&sql),
        sql,
        tag,
        tag_counts_rows,
        params,
        columns,
    }))
}

/// `SELECT pg_advisory_lock(k)`, `SELECT set_config('x', 'v', false)` and friends as the
/// whole statement (one select item, nothing else), with literal arguments.
fn whole_statement_call(stmt: &Statement) -> Option<PgStatement> {
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
    let name = f.name.0.last()?.as_ident()?.value.to_ascii_lowercase();
    let args = literal_args(&f.args)?;
    if name == "set_config" {
        return set_config(&args);
    }
    let key = match args.as_slice() {
        [] => None,
        [Lit::Int(k)] => Some(*k),
        [Lit::Int(k1), Lit::Int(k2)] => {
            let (k1, k2) = (i32::try_from(*k1).ok()?, i32::try_from(*k2).ok()?);
            Some((i64::from(k1) << 32) | i64::from(k2.cast_unsigned()))
        }
        _ => return None,
    };
    let advisory = match (name.as_str(), key) {
        ("pg_advisory_unlock_all", None) => Advisory::UnlockAll,
        ("pg_advisory_lock", Some(k)) => Advisory::Lock(k),
        ("pg_try_advisory_lock", Some(k)) => Advisory::TryLock(k),
        ("pg_advisory_unlock", Some(k)) => Advisory::Unlock(k),
        ("pg_advisory_xact_lock", Some(k)) => Advisory::XactLock(k),
        ("pg_try_advisory_xact_lock", Some(k)) => Advisory::TryXactLock(k),
        _ => return None,
    };
    Some(PgStatement::Advisory(advisory))
}

/// A literal function argument.
#[derive(Debug)]
enum Lit {
    Int(i64),
    Str(String),
    Bool(bool),
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
    };
    Some(PgStatement::SetConfig(SetCommand::Value {
        name: name.to_ascii_lowercase(),
        value: value.clone(),
        local,
    }))
}
