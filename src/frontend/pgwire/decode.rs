//! Bind parameters off the wire: one parameter's bytes, in text or binary format, as a
//! `Value` for the backend.
//!
//! Owns the parameter decodings per PostgreSQL type. Integers, floats, booleans and bytea
//! become SQLite's own kinds; numeric stays exact text; dates, times, uuids and json become
//! their canonical text (what SQLite stores for them). Malformed input is `22P02` (text) or
//! `22P03` (binary) naming the parameter. Must not know statements or sessions.

use starbase_protocol::{DbError, PgType, SqlState, Value};

use super::{datetime, numeric};

/// Decodes parameter `index` (1-based, for messages) of type `ty`; `None` bytes are NULL.
///
/// # Errors
/// `22P02` for malformed text, `22P03` for malformed binary.
pub fn decode_param(
    bytes: Option<&[u8]>,
    ty: PgType,
    binary: bool,
    index: usize,
) -> Result<Value, DbError> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    if binary {
        decode_binary(bytes, ty).ok_or_else(|| {
            DbError::new(
                SqlState::INVALID_BINARY_REPRESENTATION,
                format!(
                    "incorrect binary data format in bind parameter {index} (type {})",
                    ty.name()
                ),
            )
        })
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            DbError::new(
                SqlState::INVALID_BYTE_SEQUENCE,
                format!("invalid byte sequence for encoding \"UTF8\" in bind parameter {index}"),
            )
        })?;
        decode_text(text, ty).ok_or_else(|| {
            DbError::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!(
                    "invalid input syntax for type {}: \"{}\"",
                    ty.sql_name(),
                    text.chars().take(60).collect::<String>()
                ),
            )
        })
    }
}

fn decode_text(text: &str, ty: PgType) -> Option<Value> {
    Some(match ty {
        PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => {
            Value::Int(text.trim().parse().ok()?)
        }
        PgType::Float4 | PgType::Float8 => Value::Float(parse_float(text)?),
        PgType::Bool => Value::Bool(match text.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => true,
            "f" | "false" | "n" | "no" | "off" | "0" => false,
            _ => return None,
        }),
        PgType::Numeric => {
            numeric::encode(text)?;
            Value::Numeric(text.trim().to_owned())
        }
        PgType::Bytea => Value::Bytes(parse_bytea(text)?),
        _ => Value::Text(text.to_owned()),
    })
}

fn parse_float(text: &str) -> Option<f64> {
    match text.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" | "+infinity" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// bytea's text input: `\x` hex, or the escape format (`\\`, `\ooo`, plain bytes).
fn parse_bytea(text: &str) -> Option<Vec<u8>> {
    if let Some(hex) = text.strip_prefix("\\x") {
        let hex: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !hex.len().is_multiple_of(2) {
            return None;
        }
        return hex
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
            .collect();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = std::str::from_utf8(bytes.get(i + 1..i + 4)?).ok()?;
            out.push(u8::from_str_radix(octal, 8).ok()?);
            i += 4;
        }
    }
    Some(out)
}

fn decode_binary(bytes: &[u8], ty: PgType) -> Option<Value> {
    Some(match ty {
        PgType::Bool => match bytes {
            [b] => Value::Bool(*b != 0),
            _ => return None,
        },
        PgType::Int2 => Value::Int(i64::from(i16::from_be_bytes(bytes.try_into().ok()?))),
        PgType::Int4 => Value::Int(i64::from(i32::from_be_bytes(bytes.try_into().ok()?))),
        PgType::Oid => Value::Int(i64::from(u32::from_be_bytes(bytes.try_into().ok()?))),
        PgType::Int8 => Value::Int(i64::from_be_bytes(bytes.try_into().ok()?)),
        PgType::Float4 => Value::Float(f64::from(f32::from_be_bytes(bytes.try_into().ok()?))),
        PgType::Float8 => Value::Float(f64::from_be_bytes(bytes.try_into().ok()?)),
        PgType::Numeric => Value::Numeric(numeric::decode(bytes)?),
        PgType::Bytea => Value::Bytes(bytes.to_vec()),
        PgType::Jsonb => match bytes.split_first() {
            Some((1, rest)) => Value::Text(String::from_utf8(rest.to_vec()).ok()?),
            _ => return None,
        },
        PgType::Date => Value::Text(datetime::format_date(i32::from_be_bytes(
            bytes.try_into().ok()?,
        ))),
        PgType::Time => Value::Text(datetime::format_time(i64::from_be_bytes(
            bytes.try_into().ok()?,
        ))),
        PgType::Timestamp => Value::Text(datetime::format_timestamp(i64::from_be_bytes(
            bytes.try_into().ok()?,
        ))),
        PgType::Timestamptz => Value::Text(format!(
            "{}+00",
            datetime::format_timestamp(i64::from_be_bytes(bytes.try_into().ok()?))
        )),
        PgType::Uuid => Value::Text(format_uuid(bytes.try_into().ok()?)),
        _ => Value::Text(String::from_utf8(bytes.to_vec()).ok()?),
    })
}

fn format_uuid(bytes: [u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_params() {
        let d = |t: &str, ty| decode_param(Some(t.as_bytes()), ty, false, 1);
        assert_eq!(d("42", PgType::Int4).unwrap(), Value::Int(42));
        assert_eq!(d("1.5", PgType::Float8).unwrap(), Value::Float(1.5));
        assert_eq!(d("true", PgType::Bool).unwrap(), Value::Bool(true));
        assert_eq!(
            d("12.50", PgType::Numeric).unwrap(),
            Value::Numeric("12.50".into())
        );
        assert_eq!(
            d("\\x00ff", PgType::Bytea).unwrap(),
            Value::Bytes(vec![0, 255])
        );
        assert_eq!(
            d("a\\\\b\\001", PgType::Bytea).unwrap(),
            Value::Bytes(b"a\\b\x01".to_vec())
        );
        assert_eq!(d("hi", PgType::Unknown).unwrap(), Value::Text("hi".into()));
        let err = d("x1", PgType::Int8).unwrap_err();
        assert_eq!(err.code, SqlState::INVALID_TEXT_REPRESENTATION);
        assert_eq!(err.message, "invalid input syntax for type bigint: \"x1\"");
        assert_eq!(
            decode_param(None, PgType::Int8, false, 1).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn binary_params() {
        let d = |b: &[u8], ty| decode_param(Some(b), ty, true, 2);
        assert_eq!(d(&7i64.to_be_bytes(), PgType::Int8).unwrap(), Value::Int(7));
        assert_eq!(d(&7i32.to_be_bytes(), PgType::Int4).unwrap(), Value::Int(7));
        assert_eq!(d(&[1], PgType::Bool).unwrap(), Value::Bool(true));
        assert_eq!(
            d(&1.5f64.to_be_bytes(), PgType::Float8).unwrap(),
            Value::Float(1.5)
        );
        assert_eq!(
            d(&[0u8; 16], PgType::Uuid).unwrap(),
            Value::Text("00000000-0000-0000-0000-000000000000".into())
        );
        assert_eq!(
            d(&0i32.to_be_bytes(), PgType::Date).unwrap(),
            Value::Text("2000-01-01".into())
        );
        let err = d(&[1, 2, 3], PgType::Int8).unwrap_err();
        assert_eq!(err.code, SqlState::INVALID_BINARY_REPRESENTATION);
    }
}
