//! Starbase values as PostgreSQL parameters, typed by what the server inferred.
//!
//! Owns `Param`: a `Value` bound to the parameter type of the prepared statement. Values of
//! the natural binary type go in binary (int2/int4/int8/oid from `Int`, float4/float8 from
//! `Float` or `Int`, bool, bytea, json/jsonb); everything else is sent in text format and
//! parsed by the server with its own input function (numeric, dates, uuid, enums, `Int`
//! into a text column, …), so any type the server can read from text works. Must not know
//! about plans or streams.

use bytes::BufMut;
use postgres_types::{Format, IsNull, ToSql, Type, to_sql_checked};
use starbase_protocol::{DbError, Value};

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// One parameter value for a prepared statement.
#[derive(Debug)]
pub(super) struct Param<'a>(pub(super) &'a Value);

/// Checks the values against the statement's parameter types, before anything is sent.
///
/// # Errors
/// `22023` when the count differs or a value cannot be sent as its parameter's type
/// (bytes into a non-bytea parameter), `22003` when an integer does not fit.
pub(super) fn check(types: &[Type], values: &[Value]) -> Result<(), DbError> {
    if types.len() != values.len() {
        return Err(DbError::invalid_parameter(format!(
            "statement expects {} parameters, but {} were supplied",
            types.len(),
            values.len()
        )));
    }
    for (i, (ty, value)) in types.iter().zip(values).enumerate() {
        let n = i + 1;
        match (ty, value) {
            (&Type::INT2, Value::Int(v)) if i16::try_from(*v).is_err() => {
                return Err(out_of_range(n, "smallint"));
            }
            (&Type::INT4, Value::Int(v)) if i32::try_from(*v).is_err() => {
                return Err(out_of_range(n, "integer"));
            }
            (&Type::OID, Value::Int(v)) if u32::try_from(*v).is_err() => {
                return Err(out_of_range(n, "oid"));
            }
            (ty, Value::Bytes(_)) if *ty != Type::BYTEA && !is_textual(ty) => {
                return Err(DbError::invalid_parameter(format!(
                    "parameter ${n} is of type {}, but a binary value was supplied",
                    ty.name()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn out_of_range(n: usize, ty: &str) -> DbError {
    DbError::new(
        starbase_protocol::SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("parameter ${n} is out of range for type {ty}"),
    )
}

fn is_textual(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

/// How a value is sent for a parameter type.
enum Wire {
    Binary,
    Text,
}

fn wire(ty: &Type, value: &Value) -> Wire {
    match (value, ty) {
        (Value::Int(_) | Value::Bool(_), &Type::INT2 | &Type::INT4 | &Type::INT8 | &Type::OID)
        | (Value::Int(_) | Value::Float(_), &Type::FLOAT4 | &Type::FLOAT8)
        | (Value::Bool(_), &Type::BOOL)
        | (Value::Bytes(_), &Type::BYTEA)
        | (Value::Json(_), &Type::JSON | &Type::JSONB) => Wire::Binary,
        _ => Wire::Text,
    }
}

/// The text a value is sent as when the server parses it.
fn as_text(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_nan() => "NaN".into(),
        Value::Float(f) if f.is_infinite() => {
            if *f > 0.0 { "Infinity" } else { "-Infinity" }.into()
        }
        Value::Float(f) => f.to_string(),
        Value::Numeric(s) | Value::Text(s) => s.clone(),
        // `\x…` is bytea's input form; as text it is what a client would have typed.
        Value::Bytes(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("\\x{hex}")
        }
        Value::Json(j) => j.to_string(),
        _ => String::new(),
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        let value = self.0;
        if value.is_null() {
            return Ok(IsNull::Yes);
        }
        if let Wire::Text = wire(ty, value) {
            out.put_slice(as_text(value).as_bytes());
            return Ok(IsNull::No);
        }
        match (value, ty) {
            (Value::Int(v), &Type::INT2) => out.put_i16(i16::try_from(*v)?),
            (Value::Int(v), &Type::INT4) => out.put_i32(i32::try_from(*v)?),
            (Value::Int(v), &Type::INT8) => out.put_i64(*v),
            (Value::Int(v), &Type::OID) => out.put_u32(u32::try_from(*v)?),
            #[allow(clippy::cast_possible_truncation)]
            (Value::Float(f), &Type::FLOAT4) => out.put_f32(*f as f32),
            (Value::Float(f), &Type::FLOAT8) => out.put_f64(*f),
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            (Value::Int(v), &Type::FLOAT4) => out.put_f32(*v as f32),
            #[allow(clippy::cast_precision_loss)]
            (Value::Int(v), &Type::FLOAT8) => out.put_f64(*v as f64),
            (Value::Bool(b), &Type::BOOL) => out.put_u8(u8::from(*b)),
            // SQLite stores booleans as 0/1: clients written for it send them to integers.
            (Value::Bool(b), &Type::INT2) => out.put_i16(i16::from(*b)),
            (Value::Bool(b), &Type::INT4) => out.put_i32(i32::from(*b)),
            (Value::Bool(b), &Type::INT8) => out.put_i64(i64::from(*b)),
            (Value::Bool(b), &Type::OID) => out.put_u32(u32::from(*b)),
            (Value::Bytes(b), &Type::BYTEA) => out.put_slice(b),
            (Value::Json(j), &Type::JSONB) => {
                out.put_u8(1);
                out.put_slice(j.to_string().as_bytes());
            }
            (Value::Json(j), _) => out.put_slice(j.to_string().as_bytes()),
            _ => return Err("unsupported parameter value".into()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        match wire(ty, self.0) {
            Wire::Binary => Format::Binary,
            Wire::Text => Format::Text,
        }
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_types_go_binary_the_rest_as_text() {
        assert!(matches!(wire(&Type::INT4, &Value::Int(1)), Wire::Binary));
        assert!(matches!(
            wire(&Type::INT8, &Value::Bool(true)),
            Wire::Binary
        ));
        assert!(matches!(
            wire(&Type::NUMERIC, &Value::Numeric("1.5".into())),
            Wire::Text
        ));
        assert!(matches!(wire(&Type::TEXT, &Value::Int(1)), Wire::Text));
        assert!(matches!(
            wire(&Type::JSONB, &Value::Json(serde_json::json!(1))),
            Wire::Binary
        ));
        assert_eq!(as_text(&Value::Bytes(vec![0, 255])), "\\x00ff");
        assert_eq!(as_text(&Value::Float(f64::NEG_INFINITY)), "-Infinity");
    }

    #[test]
    fn values_are_checked_against_types() {
        assert!(check(&[Type::INT4], &[Value::Int(1)]).is_ok());
        assert_eq!(
            check(&[Type::INT2], &[Value::Int(70_000)])
                .unwrap_err()
                .code
                .as_str(),
            "22003"
        );
        assert_eq!(
            check(&[], &[Value::Int(1)]).unwrap_err().code.as_str(),
            "22023"
        );
        assert!(check(&[Type::INT4], &[Value::Bytes(vec![1])]).is_err());
    }
}
