//! Function-call rewrites: time functions, session functions inlined as literals, the
//! `pg_catalog.` prefix, `EXTRACT`, and `= ANY(current_schemas(…))`.
//!
//! Owns the SQLite spelling of each PostgreSQL function it knows. Must not know settings'
//! storage (it asks [`SessionContext`]) or the catalog functions' implementations (it only
//! names them).

use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    BinaryOperator, CaseWhen, DateTimeField, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, InTarget, ObjectName, ObjectNamePart, Value,
};

use super::SessionContext;
use super::control::not_supported;
use super::rewrite::{null, number};
use crate::error::DbError;
use crate::sqlstate::SqlState;

/// `timestamptz` text of the current time, as SQLite computes it.
pub(super) const NOW_FORMAT: &str = "%Y-%m-%d %H:%M:%f+00";

/// A string literal.
pub(super) fn str_lit(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_owned()).into())
}

/// A call of `name(args…)`.
pub(super) fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

fn now_text() -> Expr {
    call("strftime", vec![str_lit(NOW_FORMAT), str_lit("now")])
}

/// The function's lowercase name without a `pg_catalog.` prefix.
pub(super) fn function_name(f: &Function) -> Option<String> {
    let parts: Vec<&Ident> = f
        .name
        .0
        .iter()
        .filter_map(ObjectNamePart::as_ident)
        .collect();
    match parts.as_slice() {
        [name] => Some(name.value.to_ascii_lowercase()),
        [schema, name] if schema.value.eq_ignore_ascii_case("pg_catalog") => {
            Some(name.value.to_ascii_lowercase())
        }
        _ => None,
    }
}

fn plain_args(f: &Function) -> Option<Vec<&Expr>> {
    match &f.args {
        FunctionArguments::None => Some(Vec::new()),
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        FunctionArguments::Subquery(_) => None,
    }
}

/// A call whose arguments are already rewritten.
///
/// # Errors
/// `0A000` for `current_schemas()` outside `= ANY(…)`; `42704` from `current_setting`.
pub(super) fn rewrite_function(
    mut f: Function,
    ctx: &SessionContext<'_>,
) -> Result<(Expr, bool), DbError> {
    let Some(name) = function_name(&f) else {
        return Ok((Expr::Function(f), false));
    };
    let args = plain_args(&f).unwrap_or_default();
    let new = match name.as_str() {
        "now"
        | "transaction_timestamp"
        | "statement_timestamp"
        | "clock_timestamp"
        | "current_timestamp"
        | "localtimestamp" => now_text(),
        "current_date" => call("date", vec![str_lit("now")]),
        "current_time" => call("strftime", vec![str_lit("%H:%M:%f+00"), str_lit("now")]),
        "localtime" => call("strftime", vec![str_lit("%H:%M:%f"), str_lit("now")]),
        "current_database" | "current_catalog" => str_lit(ctx.database),
        "current_schema" => str_lit("public"),
        "current_user" | "session_user" | "user" | "current_role" | "getpgusername" => {
            str_lit(ctx.user)
        }
        "current_schemas" => return Err(not_supported("current_schemas()")),
        "current_setting" => current_setting(&args, ctx)?,
        "pg_backend_pid" => number(&ctx.backend_pid.to_string()),
        "version" => str_lit(&version(ctx)),
        other => {
            if let Some(portable) = super::portable::sqlite_function(other, &args) {
                return Ok((portable, true));
            }
            // `pg_catalog.f(…)` → `f(…)`, and SQLite's name for the same function
            // (keeping DISTINCT, ORDER BY, FILTER and OVER).
            let renamed = super::portable::sqlite_name(other, args.len());
            let changed = f.name.0.len() == 2 || renamed.is_some();
            if changed {
                let name = renamed.unwrap_or(other);
                f.name = ObjectName::from(vec![Ident::new(name)]);
            }
            return Ok((Expr::Function(f), changed));
        }
    };
    Ok((new, true))
}

/// SQL's niladic session words when they reach the AST as identifiers.
pub(super) fn session_word(word: &str, ctx: &SessionContext<'_>) -> Option<Expr> {
    match word.to_ascii_lowercase().as_str() {
        "current_schema" => Some(str_lit("public")),
        "current_catalog" => Some(str_lit(ctx.database)),
        "current_user" | "session_user" | "current_role" => Some(str_lit(ctx.user)),
        _ => None,
    }
}

/// `version()`'s text.
fn version(ctx: &SessionContext<'_>) -> String {
    let server = (ctx.setting)("server_version").unwrap_or_else(|| "16.0".to_owned());
    format!(
        "PostgreSQL {server} on x86_64-pc-linux-gnu, compiled by Starbase {} (embedded SQLite)",
        env!("CARGO_PKG_VERSION")
    )
}

pub(super) fn string_value(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => string_value(inner),
        _ => None,
    }
}

/// `current_setting('x' [, missing_ok])`.
fn current_setting(args: &[&Expr], ctx: &SessionContext<'_>) -> Result<Expr, DbError> {
    let (name, missing_ok) = match args {
        [name] => (string_value(name), false),
        [name, Expr::Value(v)] => (string_value(name), v.value == Value::Boolean(true)),
        _ => (None, false),
    };
    let Some(name) = name else {
        return Err(not_supported(
            "current_setting() with a non-constant argument",
        ));
    };
    match (ctx.setting)(&name.to_ascii_lowercase()) {
        Some(value) => Ok(str_lit(&value)),
        None if missing_ok => Ok(null()),
        None => Err(DbError::new(
            SqlState::UNDEFINED_OBJECT,
            format!("unrecognized configuration parameter \"{name}\""),
        )),
    }
}

/// `x = ANY(current_schemas(b))` → `x IN ('public')` (with `true`: `('pg_catalog', 'public')`),
/// and `<> ALL(…)` → `NOT IN`.
pub(super) fn any_current_schemas(expr: &mut Expr) -> Result<bool, DbError> {
    let (left, right, negated) = match expr {
        Expr::AnyOp {
            left,
            compare_op: BinaryOperator::Eq,
            right,
            ..
        } => (left, right, false),
        // `x <> ALL(current_schemas(b))` → `x NOT IN (…)`.
        Expr::AllOp {
            left,
            compare_op: BinaryOperator::NotEq,
            right,
        } => (left, right, true),
        _ => return Ok(false),
    };
    let right = match right.as_ref() {
        Expr::Nested(inner) => inner.as_ref(),
        other => other,
    };
    let Expr::Function(f) = right else {
        return Ok(false);
    };
    if function_name(f).as_deref() != Some("current_schemas") {
        return Ok(false);
    }
    let implicit = matches!(plain_args(f).as_deref(), Some([Expr::Value(v)]) if v.value == Value::Boolean(true));
    let mut list = vec![str_lit("public")];
    if implicit {
        list.insert(0, str_lit("pg_catalog"));
    }
    let left = std::mem::replace(left, Box::new(null()));
    *expr = Expr::In {
        expr: left,
        target: InTarget::List(list),
        negated,
        global: false,
    };
    Ok(true)
}

/// `EXTRACT(field FROM x)` → `CAST(strftime(…, x) AS INTEGER|REAL)`.
///
/// # Errors
/// `0A000` for fields SQLite's date functions cannot compute.
pub(super) fn extract(field: &DateTimeField, expr: Expr) -> Result<Expr, DbError> {
    // The current time, rewritten to text with a `+00` suffix SQLite's date functions do
    // not read, is 'now' to them.
    let expr = time_operand(expr);
    let (format, ty) = match field {
        DateTimeField::Year | DateTimeField::Years => ("%Y", "INTEGER"),
        DateTimeField::Month | DateTimeField::Months => ("%m", "INTEGER"),
        DateTimeField::Day | DateTimeField::Days => ("%d", "INTEGER"),
        DateTimeField::Hour | DateTimeField::Hours => ("%H", "INTEGER"),
        DateTimeField::Minute | DateTimeField::Minutes => ("%M", "INTEGER"),
        DateTimeField::Second | DateTimeField::Seconds => ("%f", "REAL"),
        DateTimeField::Epoch => ("%s", "INTEGER"),
        DateTimeField::Dow | DateTimeField::DayOfWeek => ("%w", "INTEGER"),
        DateTimeField::Doy | DateTimeField::DayOfYear => ("%j", "INTEGER"),
        DateTimeField::Isodow => ("%u", "INTEGER"),
        DateTimeField::Week(None) | DateTimeField::IsoWeek => ("%V", "INTEGER"),
        DateTimeField::Isoyear => ("%G", "INTEGER"),
        other => return Err(not_supported(&format!("EXTRACT({other})"))),
    };
    Ok(Expr::Cast {
        kind: sqlparser::ast::CastKind::Cast,
        expr: Box::new(call("strftime", vec![str_lit(format), expr])),
        data_type: sqlparser::ast::DataType::Custom(ObjectName::from(vec![Ident::new(ty)]), vec![]),
        format: None,
    })
}

/// A rewritten time operand as SQLite's date functions read it: the current time is
/// `'now'`, literals stay, anything else goes through [`readable_time`].
pub(super) fn time_operand(expr: Expr) -> Expr {
    if is_now_text(&expr) {
        str_lit("now")
    } else if string_value(&expr).is_some() || is_sqlite_time(&expr) {
        expr
    } else {
        readable_time(expr)
    }
}

/// What SQLite's own date functions return (never with a `+00` suffix).
fn is_sqlite_time(e: &Expr) -> bool {
    match e {
        Expr::Nested(inner) => is_sqlite_time(inner),
        Expr::Function(f) => {
            matches!(
                function_name(f).as_deref(),
                Some("date" | "datetime" | "time" | "julianday" | "unixepoch")
            ) || (function_name(f).as_deref() == Some("strftime") && !is_now_text(e))
        }
        _ => false,
    }
}

/// `x` as SQLite's date functions read it: the `+00` suffix of the timestamptz text `now()`
/// becomes (what `INSERT … VALUES (now())` stores) is `+00:00` to them.
pub(super) fn readable_time(x: Expr) -> Expr {
    Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: vec![CaseWhen {
            condition: Expr::Like {
                negated: false,
                any: false,
                expr: Box::new(x.clone()),
                pattern: Box::new(str_lit("%+00")),
                escape_char: None,
            },
            result: Expr::BinaryOp {
                left: Box::new(x.clone()),
                op: BinaryOperator::StringConcat,
                right: Box::new(str_lit(":00")),
            },
        }],
        else_result: Some(Box::new(x)),
    }
}

fn is_now_text(e: &Expr) -> bool {
    let Expr::Function(f) = e else {
        return false;
    };
    function_name(f).as_deref() == Some("strftime")
        && matches!(plain_args(f).as_deref(), Some([fmt, now])
            if string_value(fmt) == Some(NOW_FORMAT) && string_value(now) == Some("now"))
}
