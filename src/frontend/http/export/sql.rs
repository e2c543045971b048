//! SQL text for dumps: SQLite literals for every value, and the statements around the data.
//!
//! Owns the dump's dialect (SQLite, loadable with `sqlite3 new.db < dump.sql`): integers exact,
//! floats with enough digits to read back the same double, text quoted with `''`, BLOBs as
//! `X'…'`, NULL as `NULL`. Must not know HTTP or how rows are read.

use std::fmt::Write as _;

use starbase_protocol::Value;

/// Appends a literal for `value`.
pub(crate) fn literal(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("NULL"),
        Value::Bool(b) => out.push_str(if *b { "1" } else { "0" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_nan() => out.push_str("NULL"),
        // SQLite reads an out-of-range literal as infinity.
        Value::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "9e999" } else { "-9e999" })
        }
        // `{:e}` is the shortest form that reads back as the same double, and always a REAL.
        Value::Float(f) => {
            let _ = write!(out, "{f:e}");
        }
        Value::Numeric(s) | Value::Text(s) => quoted(out, s),
        Value::Bytes(b) => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.reserve(b.len() * 2 + 3);
            out.push_str("X'");
            for byte in b {
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
            out.push('\'');
        }
        Value::Json(j) => quoted(out, &j.to_string()),
        _ => quoted(out, &format!("{value:?}")),
    }
}

/// Appends `'text'` with single quotes doubled.
pub(crate) fn quoted(out: &mut String, s: &str) {
    out.push('\'');
    if s.contains('\'') {
        out.push_str(&s.replace('\'', "''"));
    } else {
        out.push_str(s);
    }
    out.push('\'');
}

/// Appends `"identifier"` with double quotes doubled.
pub(crate) fn ident(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        let cases = [
            (Value::Null, "NULL"),
            (Value::Int(i64::MIN), "-9223372036854775808"),
            (Value::Float(0.1), "1e-1"),
            (Value::Float(2.0), "2e0"),
            (Value::Float(f64::INFINITY), "9e999"),
            (Value::Text("it's\nfine".into()), "'it''s\nfine'"),
            (Value::Bytes(vec![0, 0xab]), "X'00AB'"),
        ];
        for (value, expected) in cases {
            let mut out = String::new();
            literal(&mut out, &value);
            assert_eq!(out, expected);
        }
        let mut out = String::new();
        ident(&mut out, "we\"ird");
        assert_eq!(out, "\"we\"\"ird\"");
    }

    #[test]
    fn floats_read_back_exactly() {
        for f in [0.1, 1.0 / 3.0, 1e300, -2.5e-308, 123_456_789.123_456_78] {
            let mut out = String::new();
            literal(&mut out, &Value::Float(f));
            assert_eq!(out.parse::<f64>().unwrap().to_bits(), f.to_bits(), "{out}");
        }
    }
}
