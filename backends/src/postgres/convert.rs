//! PostgreSQL values and columns to Starbase's.
//!
//! Owns decoding a column of a binary-format result row into a `Value`, and describing
//! result columns. The mapping (documented in the README):
//! int2/int4/int8/oid → `Int`; float4/float8 → `Float`; numeric → `Numeric` (exact text,
//! `NaN`/`Infinity` included); bool → `Bool`; text, varchar, bpchar, name, "char", xml,
//! citext and enums → `Text`; bytea → `Bytes`; json/jsonb → `Json`; uuid → `Text`
//! (lowercase, hyphenated); date → `YYYY-MM-DD`; time → `HH:MM:SS[.ffffff]`; timetz → with
//! `+HH:MM`; timestamp → `YYYY-MM-DDTHH:MM:SS[.ffffff]`; timestamptz → the same in UTC with a
//! `Z` suffix; interval → ISO 8601 duration (`P1Y2M3DT4H5M6.5S`); ±infinity dates →
//! `infinity`/`-infinity`; inet/cidr, money and bit strings → their text form; arrays →
//! JSON arrays of the element values; domains as their base type; anything else → `Text`
//! when its binary form is UTF-8, else `Bytes`. Must not know about plans or streams.

use postgres_types::{FromSql, Kind, Type};
use starbase_protocol::{Column, ColumnType, DbError, SqlState, Value};

use super::datetime;

/// The raw bytes of one column of a row, whatever its type.
#[derive(Debug)]
pub(super) struct Raw<'a>(pub(super) Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Describes result columns.
pub(super) fn columns(columns: &[tokio_postgres::Column]) -> Vec<Column> {
    columns
        .iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            ty: column_type(c.type_()),
            source_type: Some(c.type_().name().to_owned()),
            origin: None,
        })
        .collect()
}

/// The Starbase column type of a PostgreSQL type.
pub(super) fn column_type(ty: &Type) -> ColumnType {
    match *ty {
        Type::BOOL => ColumnType::Bool,
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => ColumnType::Int8,
        Type::FLOAT4 | Type::FLOAT8 => ColumnType::Float8,
        Type::NUMERIC => ColumnType::Numeric,
        Type::BYTEA => ColumnType::Bytes,
        Type::JSON | Type::JSONB => ColumnType::Json,
        _ => match ty.kind() {
            Kind::Array(_) => ColumnType::Json,
            Kind::Domain(base) => column_type(base),
            _ => ColumnType::Text,
        },
    }
}

/// Decodes one binary-format value of type `ty`.
///
/// # Errors
/// `22P03` when the bytes do not match the type (a server or driver bug).
pub(super) fn decode(ty: &Type, raw: Option<&[u8]>) -> Result<Value, DbError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    let bad = || {
        DbError::new(
            SqlState::parse("22P03").unwrap_or(SqlState::INTERNAL_ERROR),
            format!("invalid binary value for type {}", ty.name()),
        )
    };
    decode_known(ty, raw).ok_or_else(bad)
}

fn be<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
    raw.try_into().ok()
}

fn text(raw: &[u8]) -> Option<Value> {
    Some(Value::Text(String::from_utf8_lossy(raw).into_owned()))
}

fn decode_known(ty: &Type, raw: &[u8]) -> Option<Value> {
    Some(match *ty {
        Type::BOOL => Value::Bool(*raw.first()? != 0),
        Type::INT2 => Value::Int(i16::from_be_bytes(be(raw)?).into()),
        Type::INT4 => Value::Int(i32::from_be_bytes(be(raw)?).into()),
        Type::INT8 => Value::Int(i64::from_be_bytes(be(raw)?)),
        Type::OID => Value::Int(u32::from_be_bytes(be(raw)?).into()),
        Type::FLOAT4 => {
            // Through its shortest text so 0.1::float4 reads back as 0.1, as psql shows it.
            let f = f32::from_be_bytes(be(raw)?);
            Value::Float(f.to_string().parse().unwrap_or(f64::from(f)))
        }
        Type::FLOAT8 => Value::Float(f64::from_be_bytes(be(raw)?)),
        Type::NUMERIC => Value::Numeric(numeric(raw)?),
        Type::BYTEA => Value::Bytes(raw.to_vec()),
        Type::JSON => Value::Json(serde_json::from_slice(raw).ok()?),
        Type::JSONB => match raw.split_first()? {
            (1, json) => Value::Json(serde_json::from_slice(json).ok()?),
            _ => return None,
        },
        Type::UUID => Value::Text(uuid(raw)?),
        Type::DATE => Value::Text(datetime::date(i32::from_be_bytes(be(raw)?))),
        Type::TIME => Value::Text(datetime::time(i64::from_be_bytes(be(raw)?))),
        Type::TIMETZ => Value::Text(datetime::timetz(raw)?),
        Type::TIMESTAMP => Value::Text(datetime::timestamp(i64::from_be_bytes(be(raw)?), "")),
        Type::TIMESTAMPTZ => Value::Text(datetime::timestamp(i64::from_be_bytes(be(raw)?), "Z")),
        Type::INTERVAL => Value::Text(datetime::interval(raw)?),
        Type::INET | Type::CIDR => Value::Text(inet(raw, *ty == Type::CIDR)?),
        Type::MONEY => Value::Numeric(cents(i64::from_be_bytes(be(raw)?))),
        Type::BIT | Type::VARBIT => Value::Text(bits(raw)?),
        _ => return decode_other(ty, raw),
    })
}

fn decode_other(ty: &Type, raw: &[u8]) -> Option<Value> {
    match ty.kind() {
        Kind::Array(elem) => array(elem, raw),
        Kind::Domain(base) => decode_known(base, raw),
        Kind::Enum(_) => text(raw),
        _ => match std::str::from_utf8(raw) {
            Ok(s) => Some(Value::Text(s.to_owned())),
            Err(_) => Some(Value::Bytes(raw.to_vec())),
        },
    }
}

/// The binary numeric format: ndigits, weight, sign, dscale, then base-10000 digits.
fn numeric(raw: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> { Some(u16::from_be_bytes(be(raw.get(i..i + 2)?)?)) };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(i16::from_be_bytes(word(2)?.to_be_bytes()));
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let digit = |i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for i in 0..=weight {
            let d = digit(i);
            if i == 0 {
                out.push_str(&d.to_string());
            } else {
                out.push_str(&format!("{d:04}"));
            }
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut frac = String::new();
        let mut i = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        frac.truncate(dscale);
        out.push_str(&frac);
    }
    Some(out)
}

fn uuid(raw: &[u8]) -> Option<String> {
    let b: [u8; 16] = be(raw)?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

fn inet(raw: &[u8], cidr: bool) -> Option<String> {
    let (&family, rest) = raw.split_first()?;
    let (&bits, rest) = rest.split_first()?;
    let addr = rest.get(2..)?;
    let ip: std::net::IpAddr = match family {
        2 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(addr).ok()?).into(),
        3 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?).into(),
        _ => return None,
    };
    let full = if ip.is_ipv4() { 32 } else { 128 };
    Some(if cidr || bits != full {
        format!("{ip}/{bits}")
    } else {
        ip.to_string()
    })
}

fn cents(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let abs = v.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn bits(raw: &[u8]) -> Option<String> {
    let len = usize::try_from(i32::from_be_bytes(be(raw.get(..4)?)?)).ok()?;
    let data = raw.get(4..)?;
    Some(
        (0..len)
            .map(|i| {
                let byte = data.get(i / 8).copied().unwrap_or(0);
                if byte & (0x80 >> (i % 8)) == 0 {
                    '0'
                } else {
                    '1'
                }
            })
            .collect(),
    )
}

/// The binary array format: ndim, has-nulls flag, element OID, (length, lower bound) per
/// dimension, then each element as a length (-1 for NULL) and its bytes.
fn array(elem: &Type, raw: &[u8]) -> Option<Value> {
    let int = |i: usize| -> Option<i32> { Some(i32::from_be_bytes(be(raw.get(i..i + 4)?)?)) };
    let ndim = usize::try_from(int(0)?).ok()?;
    if ndim == 0 {
        return Some(Value::Json(serde_json::Value::Array(Vec::new())));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| usize::try_from(int(12 + 8 * d)?).ok())
        .collect::<Option<_>>()?;
    let mut pos = 12 + 8 * ndim;
    let total: usize = dims.iter().product();
    let mut items = Vec::with_capacity(total);
    for _ in 0..total {
        let len = int(pos)?;
        pos += 4;
        let value = match usize::try_from(len) {
            Ok(len) => {
                let bytes = raw.get(pos..pos + len)?;
                pos += len;
                decode_known(elem, bytes)?
            }
            Err(_) => Value::Null,
        };
        items.push(serde_json::to_value(&value).ok()?);
    }
    Some(Value::Json(nest(&dims, &mut items.into_iter())))
}

fn nest(dims: &[usize], items: &mut impl Iterator<Item = serde_json::Value>) -> serde_json::Value {
    match dims.split_first() {
        Some((&n, [])) => serde_json::Value::Array(items.take(n).collect()),
        Some((&n, rest)) => serde_json::Value::Array((0..n).map(|_| nest(rest, items)).collect()),
        None => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight.cast_unsigned(), sign, dscale] {
            v.extend(w.to_be_bytes());
        }
        for d in digits {
            v.extend(d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_decode_exactly() {
        // 12345678901234567890.12345 = 1234 5678 9012 3456 7890 . 1234 5000
        let raw = num(7, 4, 0, 5, &[1234, 5678, 9012, 3456, 7890, 1234, 5000]);
        assert_eq!(numeric(&raw).unwrap(), "12345678901234567890.12345");
        assert_eq!(
            numeric(&num(1, -2, 0x4000, 6, &[1200])).unwrap(),
            "-0.000012"
        );
        assert_eq!(numeric(&num(0, 0, 0, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric(&num(1, 1, 0, 0, &[7])).unwrap(), "70000");
        assert_eq!(numeric(&num(0, 0, 0xC000, 0, &[])).unwrap(), "NaN");
    }

    #[test]
    fn other_types_decode() {
        assert_eq!(cents(-1234), "-12.34");
        assert_eq!(bits(&[0, 0, 0, 5, 0b1010_1000]).unwrap(), "10101");
        assert_eq!(
            inet(&[2, 32, 0, 4, 10, 0, 0, 1], false).unwrap(),
            "10.0.0.1"
        );
        assert_eq!(
            inet(&[2, 8, 1, 4, 10, 0, 0, 0], true).unwrap(),
            "10.0.0.0/8"
        );
        let id: Vec<u8> = (0..16).collect();
        assert_eq!(uuid(&id).unwrap(), "00010203-0405-0607-0809-0a0b0c0d0e0f");
        let mut arr = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 23, 0, 0, 0, 2, 0, 0, 0, 1];
        arr.extend([0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            array(&Type::INT4, &arr).unwrap(),
            Value::Json(serde_json::json!([7, null]))
        );
    }
}
