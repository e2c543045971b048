//! Casts: `x::type`, `CAST(x AS type)`, typed literals (`DATE '…'`), the `reg*` types, and
//! collations SQLite does not need.
//!
//! Owns the mapping of a PostgreSQL cast to SQLite's (through `PgType::sqlite_cast`) and
//! the catalog helper functions that stand for `'…'::regclass` and friends. Must not know
//! operators or session functions.

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Ident, ObjectName, ObjectNamePart, Select,
    SelectItem, SetExpr, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::functions::call;
use crate::error::DbError;
use crate::pgtype::PgType;

/// A cast, typed literal or collation whose operand is already rewritten.
///
/// # Errors
/// `22P02` for a malformed `'…'::bytea` literal.
pub(super) fn rewrite(e: Expr) -> Result<(Expr, bool), DbError> {
    let new = match e {
        Expr::Cast {
            expr, data_type, ..
        } => cast(*expr, &data_type)?,
        Expr::TypedString(ts) => cast(Expr::Value(ts.value), &ts.data_type)?,
        Expr::Collate { expr, collation } if is_default_collation(&collation) => *expr,
        other => return Ok((other, false)),
    };
    Ok((new, true))
}

pub(super) fn is_default_collation(name: &ObjectName) -> bool {
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
        // An array is its PostgreSQL text (`{1,2}`) to SQLite: the cast changes nothing.
        return Ok(expr);
    }
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let literal =
        matches!(&expr, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
    let reg = match name {
        "regclass" => Some("starbase_regclass"),
        "regtype" => Some("starbase_regtype"),
        "regproc" | "regprocedure" => Some("starbase_regproc"),
        "regnamespace" => Some("starbase_regnamespace"),
        "regrole" | "regoper" | "regoperator" | "regconfig" | "regdictionary" => Some(""),
        _ => None,
    };
    // A parameter cast to regclass is a name (its type is inferred as text), like a literal.
    let named =
        literal || matches!(&expr, Expr::Value(v) if matches!(v.value, Value::Placeholder(_)));
    match reg {
        Some(f) if named && !f.is_empty() => return Ok(call(f, vec![expr])),
        Some(_) => return Ok(expr),
        None => {}
    }
    let ty = super::types::cast_type(name);
    if let Some(typed) = typed_literal(ty, &expr) {
        return typed;
    }
    if ty == Some(PgType::Date) && !literal {
        // A timestamp cast to date is its day: kept as is it would never equal one.
        return Ok(call("date", vec![super::functions::time_operand(expr)]));
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

/// A string literal cast to bool or bytea, as the SQLite literal of its value: `CAST('\x00'
/// AS BLOB)` would store the text, a blob literal stores the bytes.
fn typed_literal(ty: Option<PgType>, expr: &Expr) -> Option<Result<Expr, DbError>> {
    let Expr::Value(v) = expr else {
        return None;
    };
    let Value::SingleQuotedString(s) = &v.value else {
        return None;
    };
    match ty? {
        PgType::Bool => bool_text(s).map(|b| Ok(Expr::Value(Value::Boolean(b).into()))),
        PgType::Bytea => Some(super::bytea::blob_literal(s)),
        _ => None,
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

/// A result column `x::regclass` (x not a literal) prints the relation's name, as
/// `regclassout` does: `(SELECT relname FROM pg_class WHERE oid = x)`. Elsewhere (in
/// comparisons) the cast keeps the OID. `true` when it rewrote any.
pub(super) fn regclass_names(select: &mut Select) -> bool {
    let mut changed = false;
    for item in &mut select.projection {
        let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else {
            continue;
        };
        let Expr::Cast {
            expr: operand,
            data_type,
            ..
        } = expr
        else {
            continue;
        };
        let name = data_type.to_string().to_ascii_lowercase();
        let literal = matches!(operand.as_ref(), Expr::Value(_));
        if literal || !matches!(name.as_str(), "regclass" | "pg_catalog.regclass") {
            continue;
        }
        let operand = std::mem::replace(operand.as_mut(), super::rewrite::null());
        // PostgreSQL names an unnamed cast column after its operand's column (`oid`).
        let name = match &operand {
            Expr::Identifier(id) => Some(id.clone()),
            Expr::CompoundIdentifier(parts) => parts.last().cloned(),
            _ => None,
        };
        *expr = relname_of(operand);
        if let (SelectItem::UnnamedExpr(e), Some(alias)) = (&*item, name) {
            *item = SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias,
            };
        }
        changed = true;
    }
    changed
}

/// `(SELECT relname FROM pg_class WHERE oid = operand)`.
fn relname_of(operand: Expr) -> Expr {
    let mut query = Parser::new(&PostgreSqlDialect {})
        .try_with_sql("SELECT relname FROM pg_class WHERE oid = NULL")
        .and_then(|mut p| p.parse_query())
        .expect("invariant: the relname lookup is valid SQL");
    if let SetExpr::Select(select) = query.body.as_mut()
        && let Some(Expr::BinaryOp {
            op: BinaryOperator::Eq,
            right,
            ..
        }) = select.selection.as_mut()
    {
        **right = operand;
    }
    Expr::Subquery(query)
}
