//! Result values on the wire: one `Value` as a `DataRow` field of a given PostgreSQL type,
//! in text or binary format.
//!
//! Owns the value encodings. SQLite's types are dynamic, so a value need not match its
//! column's declared type: in text format it is sent as its own text (an `INTEGER` column
//! holding `'abc'` sends `abc`); in binary format a value that converts losslessly is
//! converted (`1` in a `REAL` column, `'42'` in an `INTEGER` one, unix seconds in a
//! `TIMESTAMP` one), and one that does not is a `22P03` error naming the column, never
//! bytes the client would misread. Must not know statements or sessions.

use bytes::{BufMut, BytesMut};
use starbase_protocol::{DbError, PgType, SqlState, Value};

use super::{array, datetime, numeric};

/// Appends one field (length prefix and bytes; `-1` for NULL) to a `DataRow` body.
///
/// # Errors
/// `22P03` when a value cannot be represented in the column's binary format.
pub fn encode_field(
    buf: &mut BytesMut,
    value: &Value,
    ty: PgType,
    binary: bool,
    column: &str,
) -> Result<(), DbError> {
    if value.is_null() {
        buf.put_i32(-1);
        return Ok(());
    }
    let start = buf.len();
    buf.put_i32(0);
    if binary {
        encode_binary(buf, value, ty).map_err(|()| mismatch(value, ty, column))?;
    } else {
        encode_text(buf, value, ty);
    }
    let len = i32::try_from(buf.len() - start - 4).map_err(|_| {
        DbError::limit_exceeded(format!("value of column \"{column}\" exceeds 2 GiB"))
    })?;
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn mismatch(value: &Value, ty: PgType, column: &str) -> DbError {
    let shown = match value {
        Value::Text(s) | Value::Numeric(s) => s.chars().take(40).collect(),
        Value::Bytes(b) => format!("<{} bytes>", b.len()),
        other => text_of(other),
    };
    DbError::new(
        SqlState::INVALID_BINARY_REPRESENTATION,
        format!(
            "column \"{column}\" holds \"{shown}\", which is not a valid {} value",
            ty.name()
        ),
    )
    .with_hint("request this column in text format, or store values of its declared type")
}

/// The text form of a value, as PostgreSQL's output functions would print it.
#[must_use]
pub fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "t" } else { "f" }.to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Numeric(s) | Value::Text(s) => s.clone(),
        Value::Bytes(b) => bytea_hex(b),
        Value::Json(j) => j.to_string(),
        other => format!("{other:?}"),
    }
}

/// `float8out`: the shortest text that reads back as the same double (PostgreSQL 12+ with
/// the default `extra_float_digits = 1`), in fixed notation for decimal exponents -4 to 14
/// and as `d.ddde±XX` outside them, like `%g` (`1e+20`, `1e-05`, `9.223372036854776e+18`).
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` is the same shortest round-trip digits, as `1e20` or `-1.5e-7`.
    let scientific = format!("{f:e}");
    match scientific
        .split_once('e')
        .map(|(m, e)| (m, e.parse::<i32>()))
    {
        Some((mantissa, Ok(exp))) if !(-4..15).contains(&exp) => {
            let sign = if exp < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
        }
        _ => f.to_string(),
    }
}

fn bytea_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("\\x");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn encode_text(buf: &mut BytesMut, value: &Value, ty: PgType) {
    let text = match (ty, value) {
        (PgType::Bool, Value::Int(i)) => if *i == 0 { "f" } else { "t" }.to_owned(),
        (PgType::Bool, Value::Text(s)) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" | "y" | "on" => "t".to_owned(),
            "0" | "false" | "f" | "no" | "n" | "off" => "f".to_owned(),
            _ => s.clone(),
        },
        (PgType::Timestamp | PgType::Timestamptz, Value::Int(secs)) => {
            match datetime::from_unix_seconds(*secs) {
                Some(micros) if ty == PgType::Timestamptz => {
                    format!("{}+00", datetime::format_timestamp(micros))
                }
                Some(micros) => datetime::format_timestamp(micros),
                None => secs.to_string(),
            }
        }
        // SQLite's CURRENT_TIMESTAMP and most stored text carry no offset; they are UTC, and
        // timestamptz_out always prints one (drivers parse it to an aware datetime).
        (PgType::Timestamptz, Value::Text(s)) => match datetime::parse_timestamp(s) {
            Some(micros) => format!("{}+00", datetime::format_timestamp(micros)),
            None => s.clone(),
        },
        (PgType::Bytea, Value::Text(s)) => bytea_hex(s.as_bytes()),
        (PgType::BoolArray, Value::Text(s)) => array::bool_text(s),
        // numeric_out never writes an exponent.
        (PgType::Numeric, Value::Float(f)) if f.is_finite() => f.to_string(),
        _ => text_of(value),
    };
    buf.put_slice(text.as_bytes());
}

fn encode_binary(buf: &mut BytesMut, value: &Value, ty: PgType) -> Result<(), ()> {
    match ty {
        PgType::Bool => buf.put_u8(u8::from(as_bool(value)?)),
        PgType::Int2 => buf.put_i16(i16::try_from(as_int(value)?).map_err(|_| ())?),
        PgType::Int4 => buf.put_i32(i32::try_from(as_int(value)?).map_err(|_| ())?),
        PgType::Oid => buf.put_u32(u32::try_from(as_int(value)?).map_err(|_| ())?),
        PgType::Int8 => buf.put_i64(as_int(value)?),
        #[allow(clippy::cast_possible_truncation)] // float4 is lossy by definition
        PgType::Float4 => buf.put_f32(as_float(value)? as f32),
        PgType::Float8 => buf.put_f64(as_float(value)?),
        PgType::Numeric => {
            let digits = match value {
                Value::Float(f) if f.is_finite() => f.to_string(),
                other => text_of(other),
            };
            buf.put_slice(&numeric::encode(&digits).ok_or(())?);
        }
        PgType::Bytea => match value {
            Value::Bytes(b) => buf.put_slice(b),
            other => buf.put_slice(text_of(other).as_bytes()),
        },
        PgType::Jsonb => {
            buf.put_u8(1);
            buf.put_slice(text_of(value).as_bytes());
        }
        PgType::Date => buf.put_i32(datetime::parse_date(&as_text(value)?).ok_or(())?),
        PgType::Time => buf.put_i64(datetime::parse_time(&as_text(value)?).ok_or(())?),
        PgType::Timestamp | PgType::Timestamptz => buf.put_i64(as_timestamp(value)?),
        PgType::Uuid => buf.put_slice(&as_uuid(value)?),
        PgType::BoolArray | PgType::Int8Array | PgType::TextArray => {
            array::encode_binary(buf, &as_text(value)?, ty)?;
        }
        PgType::Interval => return Err(()),
        _ => match value {
            Value::Bytes(b) => buf.put_slice(&String::from_utf8_lossy(b).into_owned().into_bytes()),
            other => buf.put_slice(text_of(other).as_bytes()),
        },
    }
    Ok(())
}

fn as_bool(value: &Value) -> Result<bool, ()> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Int(i) => Ok(*i != 0),
        Value::Text(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" | "y" | "on" => Ok(true),
            "0" | "false" | "f" | "no" | "n" | "off" => Ok(false),
            _ => Err(()),
        },
        _ => Err(()),
    }
}

fn as_int(value: &Value) -> Result<i64, ()> {
    match value {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        #[allow(clippy::cast_possible_truncation)] // checked: integral and in range
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        Value::Text(s) | Value::Numeric(s) => s.trim().parse().map_err(|_| ()),
        _ => Err(()),
    }
}

fn as_float(value: &Value) -> Result<f64, ()> {
    match value {
        Value::Float(f) => Ok(*f),
        #[allow(clippy::cast_precision_loss)] // PostgreSQL's int8 → float8 cast rounds too
        Value::Int(i) => Ok(*i as f64),
        Value::Text(s) | Value::Numeric(s) => match s.trim().to_ascii_lowercase().as_str() {
            "nan" => Ok(f64::NAN),
            "infinity" | "inf" => Ok(f64::INFINITY),
            "-infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            t => t.parse().map_err(|_| ()),
        },
        _ => Err(()),
    }
}

fn as_text(value: &Value) -> Result<String, ()> {
    match value {
        Value::Text(s) => Ok(s.clone()),
        _ => Err(()),
    }
}

fn as_timestamp(value: &Value) -> Result<i64, ()> {
    match value {
        Value::Text(s) => datetime::parse_timestamp(s).ok_or(()),
        Value::Int(secs) => datetime::from_unix_seconds(*secs).ok_or(()),
        _ => Err(()),
    }
}

fn as_uuid(value: &Value) -> Result<Vec<u8>, ()> {
    match value {
        Value::Bytes(b) if b.len() == 16 => Ok(b.clone()),
        Value::Text(s) => {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 || !hex.is_ascii() {
                return Err(());
            }
            (0..16)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| ()))
                .collect()
        }
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(value: &Value, ty: PgType, binary: bool) -> Result<Vec<u8>, DbError> {
        let mut buf = BytesMut::new();
        encode_field(&mut buf, value, ty, binary, "c")?;
        Ok(buf[4..].to_vec())
    }

    #[test]
    fn text_format() {
        let t = |v: Value, ty| String::from_utf8(field(&v, ty, false).unwrap()).unwrap();
        assert_eq!(t(Value::Int(1), PgType::Bool), "t");
        assert_eq!(t(Value::Int(-5), PgType::Int8), "-5");
        assert_eq!(t(Value::Float(1.5), PgType::Float8), "1.5");
        assert_eq!(t(Value::Float(f64::NAN), PgType::Float8), "NaN");
        assert_eq!(t(Value::Bytes(vec![0, 255]), PgType::Bytea), "\\x00ff");
        assert_eq!(t(Value::Text("abc".into()), PgType::Int8), "abc");
        assert_eq!(
            t(Value::Int(946_684_800), PgType::Timestamptz),
            "2000-01-01 00:00:00+00"
        );
        for (stored, sent) in [
            ("2026-12-01 07:55:45", "2026-12-01 07:55:45+00"),
            ("2026-12-01 07:55:45.250+00", "2026-12-01 07:55:45.25+00"),
            ("2026-12-01T09:55:45+02:00", "2026-12-01 07:55:45+00"),
            ("2026-12-01", "2026-12-01 00:00:00+00"),
            ("infinity", "infinity"),
        ] {
            assert_eq!(t(Value::Text(stored.into()), PgType::Timestamptz), sent);
        }
        assert_eq!(
            t(Value::Text("{1,0,NULL}".into()), PgType::BoolArray),
            "{t,f,NULL}"
        );
        assert_eq!(t(Value::Text("{}".into()), PgType::BoolArray), "{}");
        assert_eq!(
            t(Value::Text("{a,\"b c\"}".into()), PgType::TextArray),
            "{a,\"b c\"}"
        );
        let mut buf = BytesMut::new();
        encode_field(&mut buf, &Value::Null, PgType::Int8, true, "c").unwrap();
        assert_eq!(&buf[..], &(-1i32).to_be_bytes());
    }

    #[test]
    fn float8_text_is_postgres_float8out() {
        // Each right-hand side is what PostgreSQL 15 prints for the same float8.
        let t = |f: f64| String::from_utf8(field(&Value::Float(f), PgType::Float8, false).unwrap());
        for (f, pg) in [
            (1.0, "1"),
            (-0.5, "-0.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e14, "100000000000000"),
            (1e15, "1e+15"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-7, "1e-07"),
            (-1.5e-7, "-1.5e-07"),
            (9_223_372_036_854_775_807.0, "9.223372036854776e+18"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "Infinity"),
        ] {
            assert_eq!(t(f).unwrap(), pg, "{f:e}");
        }
        // numeric_out has no exponent: a REAL in a NUMERIC column keeps its plain digits,
        // in text and in binary.
        let text = field(&Value::Float(1e20), PgType::Numeric, false).unwrap();
        assert_eq!(text, b"100000000000000000000");
        assert_eq!(
            field(&Value::Float(1e20), PgType::Numeric, true).unwrap(),
            numeric::encode("100000000000000000000").unwrap()
        );
    }

    #[test]
    fn binary_format_converts_or_refuses() {
        assert_eq!(
            field(&Value::Int(7), PgType::Int8, true).unwrap(),
            7i64.to_be_bytes()
        );
        assert_eq!(
            field(&Value::Int(7), PgType::Int4, true).unwrap(),
            7i32.to_be_bytes()
        );
        assert_eq!(
            field(&Value::Text("42".into()), PgType::Int2, true).unwrap(),
            42i16.to_be_bytes()
        );
        assert_eq!(
            field(&Value::Int(2), PgType::Float8, true).unwrap(),
            2.0f64.to_be_bytes()
        );
        assert_eq!(field(&Value::Int(1), PgType::Bool, true).unwrap(), vec![1]);
        assert_eq!(
            field(&Value::Text("2000-01-02".into()), PgType::Date, true).unwrap(),
            1i32.to_be_bytes()
        );
        let err = field(&Value::Text("abc".into()), PgType::Int8, true).unwrap_err();
        assert_eq!(err.code, SqlState::INVALID_BINARY_REPRESENTATION);
        assert!(err.message.contains("\"c\""), "{}", err.message);
        assert!(field(&Value::Int(1 << 40), PgType::Int4, true).is_err());
        assert_eq!(
            field(
                &Value::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
                PgType::Uuid,
                true
            )
            .unwrap()
            .len(),
            16
        );
    }
}
