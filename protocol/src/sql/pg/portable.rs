//! PostgreSQL functions SQLite spells differently: `greatest`/`least`, `char_length`,
//! `strpos`, `left`, `btrim`, the `json(b)_agg`/`_build_*` family, `random()`,
//! `gen_random_uuid()`, `date_trunc`.
//!
//! Owns those spellings. Must not know session functions or the catalog's helper
//! functions (another module implements those in SQLite).

use sqlparser::ast::{BinaryOperator, Expr};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::functions::{call, str_lit, string_value, time_operand};
use super::rewrite::number;

/// SQLite's spelling of `name(args…)` (arguments already rewritten), or `None` when the
/// function is the same (or unknown) there.
pub(super) fn sqlite_function(name: &str, args: &[&Expr]) -> Option<Expr> {
    Some(match (name, args) {
        ("left", [s, n]) => call("substr", vec![(*s).clone(), number("1"), (*n).clone()]),
        // PostgreSQL's random() is a float in [0, 1); SQLite's a 64-bit integer.
        ("random", []) => expression("(random() / 18446744073709551616.0 + 0.5)")?,
        ("gen_random_uuid" | "uuid_generate_v4", []) => expression(UUID_V4)?,
        ("date_trunc", [field, x]) => date_trunc(string_value(field)?, x)?,
        _ => return None,
    })
}

/// SQLite's name for a function that is the same there under another name.
pub(super) fn sqlite_name(name: &str, arity: usize) -> Option<&'static str> {
    Some(match (name, arity) {
        // SQLite's multi-argument max()/min() are the scalar greatest/least.
        ("greatest", 2..) => "max",
        ("least", 2..) => "min",
        ("char_length" | "character_length", 1) => "length",
        ("strpos", 2) => "instr",
        ("btrim", 1 | 2) => "trim",
        ("json_agg" | "jsonb_agg", 1) => "json_group_array",
        ("json_object_agg" | "jsonb_object_agg", 2) => "json_group_object",
        ("json_build_object" | "jsonb_build_object", _) => "json_object",
        ("json_build_array" | "jsonb_build_array", _) => "json_array",
        ("jsonb_array_length", 1) => "json_array_length",
        // Booleans are 0/1 in SQLite: AND over a group is its minimum, OR its maximum.
        ("bool_and" | "every", 1) => "min",
        ("bool_or", 1) => "max",
        _ => return None,
    })
}

/// `date_trunc('unit', x)` as the timestamp text SQLite's date functions print.
fn date_trunc(unit: &str, x: &Expr) -> Option<Expr> {
    let time = time_operand(x.clone());
    let format = match unit.to_ascii_lowercase().as_str() {
        "year" => "%Y-01-01 00:00:00",
        "month" => "%Y-%m-01 00:00:00",
        "day" => "%Y-%m-%d 00:00:00",
        "hour" => "%Y-%m-%d %H:00:00",
        "minute" => "%Y-%m-%d %H:%M:00",
        "second" => "%Y-%m-%d %H:%M:%S",
        // The Monday on or before the day (ISO weeks).
        "week" => {
            let monday = call("date", vec![time, str_lit("-6 days"), str_lit("weekday 1")]);
            return Some(Expr::BinaryOp {
                left: Box::new(monday),
                op: BinaryOperator::StringConcat,
                right: Box::new(str_lit(" 00:00:00")),
            });
        }
        _ => return None,
    };
    Some(call("strftime", vec![str_lit(format), time]))
}

/// A version-4 UUID in its text form, from SQLite's `randomblob`.
const UUID_V4: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
    substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || \
    substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

fn expression(sql: &str) -> Option<Expr> {
    Parser::new(&SQLiteDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .ok()
}
