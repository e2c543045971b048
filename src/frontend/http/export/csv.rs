//! CSV rendering per RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote,
//! CR or LF, quotes doubled.
//!
//! Encoding of values (documented in the README): NULL is an empty unquoted field, numbers
//! unquoted as in JSON, BLOBs unquoted as `\x` + hex (as PostgreSQL writes bytea), and text
//! quoted whenever it could be read back as one of those (empty, numeric-looking, `\x…`), so
//! an import restores the same types. Must not know HTTP.

use starbase_protocol::Value;

/// Appends one record.
pub(crate) fn record<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = Field<'a>>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match field {
            Field::Name(name) => text(out, name, false),
            Field::Value(value) => self::value(out, value),
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// A header name or a value.
pub(crate) enum Field<'a> {
    /// A column name.
    Name(&'a str),
    /// A row value.
    Value(&'a Value),
}

fn value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Float(f) => {
            if let Ok(json) = serde_json::to_string(&Value::Float(*f)) {
                out.extend_from_slice(json.trim_matches('"').as_bytes());
            }
        }
        Value::Numeric(s) | Value::Text(s) => text(out, s, true),
        Value::Bytes(b) => {
            out.extend_from_slice(b"\\x");
            for byte in b {
                out.extend_from_slice(format!("{byte:02x}").as_bytes());
            }
        }
        Value::Json(j) => text(out, &j.to_string(), true),
        _ => text(out, &format!("{value:?}"), true),
    }
}

/// Writes text, quoted when needed. For values (`is_value`), text that would read back as
/// something else is quoted too: the empty string (NULL is the empty unquoted field), text
/// that looks like a number, and text starting with `\x` (the BLOB form).
fn text(out: &mut Vec<u8>, s: &str, is_value: bool) {
    let ambiguous =
        is_value && (s.is_empty() || s.starts_with("\\x") || s.trim().parse::<f64>().is_ok());
    let needs_quotes = ambiguous || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if needs_quotes {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4180_quoting_and_null_vs_empty() {
        let mut out = Vec::new();
        record(&mut out, ["a", "b,c"].iter().map(|n| Field::Name(n)));
        let row = [
            Value::Null,
            Value::Text(String::new()),
            Value::Text("say \"hi\",\nbye".into()),
            Value::Int(i64::MAX),
            Value::Float(0.5),
            Value::Bytes(vec![0, 255]),
        ];
        record(&mut out, row.iter().map(Field::Value));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,\"b,c\"\r\n,\"\",\"say \"\"hi\"\",\nbye\",9223372036854775807,0.5,\\x00ff\r\n"
        );
    }
}
