//! The PostgreSQL type of an expression, as far as the text and schema tell.
//!
//! Owns the typing rules (aggregates, literals, operators, casts, string and session
//! functions). Must not know where the result is used (parameters or result columns).

use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator, Value,
};

use super::functions::function_name;
use super::scope::Scope;
use crate::pgtype::PgType;

/// The type of `e`, and whether it is a plain table column (whose declared type the
/// frontend reads from SQLite instead).
pub(super) fn expr_type(scope: &mut Scope<'_>, e: &Expr) -> (PgType, bool) {
    let ty = match e {
        Expr::Identifier(id) => {
            if let Some(col) = scope.resolve(std::slice::from_ref(id)) {
                return (col.ty, col.plain);
            }
            session_word_type(&id.value)
        }
        Expr::CompoundIdentifier(parts) => {
            return scope
                .resolve(parts)
                .map_or((PgType::Unknown, false), |c| (c.ty, c.plain));
        }
        Expr::Nested(inner) => return expr_type(scope, inner),
        Expr::Value(v) => value_type(&v.value),
        Expr::TypedString(ts) => type_name(&ts.data_type.to_string()),
        Expr::Cast {
            data_type, expr, ..
        } => {
            let name = data_type.to_string();
            // A result column `x::regclass` prints the relation's name (`casts`).
            let regclass = matches!(
                name.to_ascii_lowercase().as_str(),
                "regclass" | "pg_catalog.regclass"
            );
            if regclass && !matches!(expr.as_ref(), Expr::Value(_)) {
                PgType::Text
            } else {
                type_name(&name)
            }
        }
        Expr::BinaryOp { left, op, right } => binary_type(scope, left, op, right),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            ..
        } => PgType::Bool,
        Expr::UnaryOp { expr, .. } | Expr::Collate { expr, .. } => expr_type(scope, expr).0,
        Expr::Ceil { expr, .. } | Expr::Floor { expr, .. } => expr_type(scope, expr).0,
        e if is_predicate(e) => PgType::Bool,
        Expr::Position { .. } => PgType::Int4,
        Expr::Substring { .. } | Expr::Trim { .. } | Expr::Overlay { .. } => PgType::Text,
        Expr::Extract { .. } => PgType::Numeric,
        Expr::Case {
            conditions,
            else_result,
            ..
        } => {
            let results = conditions.iter().map(|c| &c.result);
            first_known(scope, results.chain(else_result.as_deref()))
        }
        Expr::Subquery(q) => scope
            .query_columns(q)
            .and_then(|cols| cols.first().map(|c| c.ty))
            .unwrap_or(PgType::Unknown),
        Expr::Function(f) => function_type(scope, f),
        _ => PgType::Unknown,
    };
    (ty, false)
}

/// Expressions that are true, false or null.
fn is_predicate(e: &Expr) -> bool {
    matches!(
        e,
        Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsTrue(_)
            | Expr::IsNotTrue(_)
            | Expr::IsFalse(_)
            | Expr::IsNotFalse(_)
            | Expr::IsUnknown(_)
            | Expr::IsNotUnknown(_)
            | Expr::IsDistinctFrom(..)
            | Expr::IsNotDistinctFrom(..)
            | Expr::Exists { .. }
            | Expr::In { .. }
            | Expr::Between { .. }
            | Expr::Like { .. }
            | Expr::ILike { .. }
            | Expr::SimilarTo { .. }
            | Expr::RLike { .. }
            | Expr::AnyOp { .. }
            | Expr::AllOp { .. }
    )
}

/// A PostgreSQL type name as written in a cast.
pub(super) fn type_name(name: &str) -> PgType {
    cast_type(name).unwrap_or(PgType::Unknown)
}

/// The type a cast names, ignoring precisions wherever they stand
/// (`timestamp(3) with time zone` is timestamptz).
pub(super) fn cast_type(name: &str) -> Option<PgType> {
    let mut bare = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    let bare = bare.split_whitespace().collect::<Vec<_>>().join(" ");
    PgType::from_name(&bare)
}

fn session_word_type(word: &str) -> PgType {
    match word.to_ascii_lowercase().as_str() {
        "current_schema" | "current_catalog" | "current_user" | "session_user" | "current_role" => {
            PgType::Text
        }
        _ => PgType::Unknown,
    }
}

fn value_type(v: &Value) -> PgType {
    match v {
        Value::Number(n, _) => {
            if n.contains(['.', 'e', 'E']) {
                PgType::Numeric
            } else if n.parse::<i32>().is_ok() {
                PgType::Int4
            } else if n.parse::<i64>().is_ok() {
                PgType::Int8
            } else {
                PgType::Numeric
            }
        }
        Value::Boolean(_) => PgType::Bool,
        Value::Null | Value::Placeholder(_) => PgType::Unknown,
        _ => PgType::Text,
    }
}

fn is_int(t: PgType) -> bool {
    matches!(t, PgType::Int2 | PgType::Int4 | PgType::Int8)
}

fn binary_type(scope: &mut Scope<'_>, left: &Expr, op: &BinaryOperator, right: &Expr) -> PgType {
    use BinaryOperator as B;
    match op {
        B::StringConcat => PgType::Text,
        B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
            let (l, r) = (expr_type(scope, left).0, expr_type(scope, right).0);
            if is_int(l) && is_int(r) {
                PgType::Int8
            } else if matches!(l, PgType::Float4 | PgType::Float8)
                || matches!(r, PgType::Float4 | PgType::Float8)
            {
                PgType::Float8
            } else if (l == PgType::Numeric || is_int(l)) && (r == PgType::Numeric || is_int(r)) {
                PgType::Numeric
            } else {
                PgType::Unknown
            }
        }
        B::BitwiseAnd | B::BitwiseOr | B::PGBitwiseShiftLeft | B::PGBitwiseShiftRight => {
            PgType::Int8
        }
        B::Arrow | B::LongArrow | B::HashArrow | B::HashLongArrow => PgType::Unknown,
        _ => PgType::Bool,
    }
}

fn first_known<'e>(scope: &mut Scope<'_>, exprs: impl Iterator<Item = &'e Expr>) -> PgType {
    for e in exprs {
        let ty = expr_type(scope, e).0;
        if ty != PgType::Unknown {
            return ty;
        }
    }
    PgType::Unknown
}

fn args_of(f: &sqlparser::ast::Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn function_type(scope: &mut Scope<'_>, f: &sqlparser::ast::Function) -> PgType {
    let Some(name) = function_name(f) else {
        return PgType::Unknown;
    };
    let args = args_of(f);
    let first = |scope: &mut Scope<'_>| {
        args.first()
            .map_or(PgType::Unknown, |a| expr_type(scope, a).0)
    };
    match name.as_str() {
        "sum" => {
            if is_int(first(scope)) {
                PgType::Int8
            } else {
                PgType::Float8
            }
        }
        "min" | "max" | "abs" => first(scope),
        "array_agg" => first(scope).array_of(),
        "date_trunc" => args
            .get(1)
            .map_or(PgType::Unknown, |a| expr_type(scope, a).0),
        "coalesce" | "nullif" | "ifnull" | "greatest" | "least" => {
            first_known(scope, args.iter().copied())
        }
        other => fixed_function_type(other),
    }
}

/// Functions returning text whatever their arguments.
#[rustfmt::skip]
const TEXT_FUNCTIONS: &[&str] = &[
    "lower", "upper", "substr", "substring", "trim", "ltrim", "rtrim", "btrim", "replace",
    "concat", "concat_ws", "format", "quote_ident", "quote_literal", "md5", "repeat", "lpad",
    "rpad", "left", "right", "reverse", "initcap", "to_char", "string_agg", "group_concat",
    "format_type", "pg_get_expr", "pg_get_indexdef", "pg_get_constraintdef", "pg_get_userbyid",
    "obj_description", "col_description", "version", "current_database", "current_catalog",
    "current_schema", "current_user", "session_user", "user", "current_role",
    "current_setting", "set_config", "pg_encoding_to_char", "typeof", "hex",
];

/// Functions returning int4.
#[rustfmt::skip]
const INT4_FUNCTIONS: &[&str] = &[
    "length", "char_length", "character_length", "octet_length", "strpos", "instr",
    "pg_backend_pid", "json_array_length", "jsonb_array_length",
];

/// Functions returning bool.
#[rustfmt::skip]
const BOOL_FUNCTIONS: &[&str] = &[
    "pg_table_is_visible", "has_table_privilege", "has_schema_privilege",
    "has_database_privilege", "pg_try_advisory_lock", "pg_advisory_unlock",
    "bool_and", "bool_or", "every", "pg_collation_is_visible", "pg_type_is_visible",
];

/// The current-time functions (timestamptz).
#[rustfmt::skip]
const NOW_FUNCTIONS: &[&str] = &[
    "now", "transaction_timestamp", "statement_timestamp", "clock_timestamp",
    "current_timestamp", "localtimestamp",
];

/// The result type of functions whose type does not depend on their arguments.
fn fixed_function_type(name: &str) -> PgType {
    match name {
        "count" => PgType::Int8,
        "avg" | "total" | "random" => PgType::Float8,
        "current_date" => PgType::Date,
        "gen_random_uuid" | "uuid_generate_v4" => PgType::Uuid,
        "json_agg" | "json_object_agg" | "json_build_object" | "json_build_array" => PgType::Json,
        "jsonb_agg" | "jsonb_object_agg" | "jsonb_build_object" | "jsonb_build_array" => {
            PgType::Jsonb
        }
        n if TEXT_FUNCTIONS.contains(&n) => PgType::Text,
        n if INT4_FUNCTIONS.contains(&n) => PgType::Int4,
        n if BOOL_FUNCTIONS.contains(&n) => PgType::Bool,
        n if NOW_FUNCTIONS.contains(&n) => PgType::Timestamptz,
        _ => PgType::Unknown,
    }
}
