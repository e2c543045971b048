//! Time arithmetic: `timestamp ± interval '…'` as `strftime(…, ts, '+7 days', …)`, and
//! `ts AT TIME ZONE 'UTC'` (the only zone the embedded database knows: it stores UTC).
//!
//! Owns reading PostgreSQL interval literals into SQLite date modifiers. Must not know other
//! expressions (intervals and other zones anywhere else stay unsupported).

use sqlparser::ast::{BinaryOperator, Expr, Interval};

use super::functions::{NOW_FORMAT, call, function_name, readable_time, str_lit, string_value};

/// `ts + interval` / `ts - interval` / `interval + ts`, before its operands are rewritten;
/// `None` leaves the expression alone (an interval elsewhere is refused later).
pub(super) fn interval_arithmetic(e: &Expr) -> Option<Expr> {
    let Expr::BinaryOp { left, op, right } = e else {
        return None;
    };
    let (ts, interval, negate) = match (left.as_ref(), op, right.as_ref()) {
        (ts, BinaryOperator::Plus, Expr::Interval(i)) => (ts, i, false),
        (Expr::Interval(i), BinaryOperator::Plus, ts) => (ts, i, false),
        (ts, BinaryOperator::Minus, Expr::Interval(i)) => (ts, i, true),
        _ => return None,
    };
    if matches!(ts, Expr::Interval(_)) {
        return None;
    }
    let modifiers = modifiers(interval, negate)?;
    let mut args = vec![str_lit(NOW_FORMAT), sqlite_time(ts)];
    args.extend(modifiers.iter().map(|m| str_lit(m)));
    Some(call("strftime", args))
}

/// `ts AT TIME ZONE 'UTC'` → the UTC timestamp without a zone, as SQLite prints it.
pub(super) fn at_utc(e: &Expr) -> Option<Expr> {
    let Expr::AtTimeZone {
        timestamp,
        time_zone,
    } = e
    else {
        return None;
    };
    let zone = string_value(time_zone)?.to_ascii_lowercase();
    if !matches!(
        zone.as_str(),
        "utc" | "etc/utc" | "gmt" | "etc/gmt" | "uct" | "z" | "zulu" | "+00" | "+00:00"
    ) {
        return None;
    }
    Some(call(
        "strftime",
        vec![str_lit("%Y-%m-%d %H:%M:%f"), sqlite_time(timestamp)],
    ))
}

/// A time operand as SQLite's date functions read it.
fn sqlite_time(ts: &Expr) -> Expr {
    if is_now(ts) {
        str_lit("now")
    } else if string_value(ts).is_some() {
        ts.clone()
    } else {
        readable_time(ts.clone())
    }
}

/// The current-time functions, before they are rewritten.
fn is_now(e: &Expr) -> bool {
    let Expr::Function(f) = e else { return false };
    matches!(
        function_name(f).as_deref(),
        Some(
            "now"
                | "current_timestamp"
                | "transaction_timestamp"
                | "statement_timestamp"
                | "clock_timestamp"
                | "localtimestamp"
        )
    )
}

/// SQLite modifiers for an interval literal (`'1 day 2 hours'`, `'7' DAY`).
fn modifiers(interval: &Interval, negate: bool) -> Option<Vec<String>> {
    let text = string_value(&interval.value)?;
    let words: Vec<&str> = text.split_whitespace().collect();
    let pairs: Vec<(&str, String)> = match (&interval.leading_field, words.as_slice()) {
        (Some(field), [n]) => vec![(*n, field.to_string().to_ascii_lowercase())],
        (None, words) if !words.is_empty() && words.len() % 2 == 0 => words
            .chunks(2)
            .map(|c| (c[0], c[1].to_ascii_lowercase()))
            .collect(),
        _ => return None,
    };
    if interval.last_field.is_some() && interval.leading_field.is_some() {
        return None;
    }
    pairs
        .into_iter()
        .map(|(n, unit)| modifier(n, &unit, negate))
        .collect()
}

fn modifier(n: &str, unit: &str, negate: bool) -> Option<String> {
    let mut value: f64 = n.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let unit = match unit.trim_end_matches('s') {
        "year" | "yr" | "y" => "years",
        "mon" | "month" => "months",
        "week" | "w" => {
            value *= 7.0;
            "days"
        }
        "day" | "d" => "days",
        "hour" | "hr" | "h" => "hours",
        "min" | "minute" | "m" => "minutes",
        "sec" | "second" => "seconds",
        _ => return None,
    };
    if negate {
        value = -value;
    }
    Some(format!("{value:+} {unit}"))
}
