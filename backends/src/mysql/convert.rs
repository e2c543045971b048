//! MySQL/MariaDB values and columns to Starbase's, and Starbase values as MySQL parameters.
//!
//! Owns the mapping (documented in the README), the same for the text protocol (statements
//! without parameters) and the binary one (with parameters):
//! TINYINT(1)/BOOL → `Bool`; other integer types and YEAR → `Int` (BIGINT UNSIGNED above
//! `i64::MAX` → `Numeric`); BIT → `Int`; DECIMAL → `Numeric` (exact text); FLOAT/DOUBLE →
//! `Float`; CHAR/VARCHAR/TEXT/ENUM/SET → `Text`; BLOB/BINARY/VARBINARY (binary collation) →
//! `Bytes`; JSON → `Json` (MySQL; MariaDB's JSON is LONGTEXT and reads as `Text`); DATE →
//! `YYYY-MM-DD`; DATETIME/TIMESTAMP → `YYYY-MM-DDTHH:MM:SS[.ffffff]` (TIMESTAMP in the
//! session time zone, which the pool sets to UTC); TIME → `[-]HH:MM:SS[.ffffff]`. Must not
//! know about plans or streams.

use mysql_async::Value as MyValue;
use mysql_async::consts::{ColumnFlags, ColumnType as My};
use starbase_protocol::{Column, ColumnType, Value};

/// MySQL's `binary` character set number.
const BINARY_CHARSET: u16 = 63;

/// How a column's values decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Int,
    UInt,
    Bit,
    Decimal,
    Float,
    Text,
    Bytes,
    Json,
    Date,
    DateTime,
    Time,
}

/// The decoding kind of a column.
pub(super) fn kind(col: &mysql_async::Column) -> Kind {
    let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    match col.column_type() {
        My::MYSQL_TYPE_TINY if col.column_length() == 1 => Kind::Bool,
        My::MYSQL_TYPE_TINY
        | My::MYSQL_TYPE_SHORT
        | My::MYSQL_TYPE_INT24
        | My::MYSQL_TYPE_LONG
        | My::MYSQL_TYPE_YEAR => Kind::Int,
        My::MYSQL_TYPE_LONGLONG if unsigned => Kind::UInt,
        My::MYSQL_TYPE_LONGLONG => Kind::Int,
        My::MYSQL_TYPE_BIT => Kind::Bit,
        My::MYSQL_TYPE_DECIMAL | My::MYSQL_TYPE_NEWDECIMAL => Kind::Decimal,
        My::MYSQL_TYPE_FLOAT | My::MYSQL_TYPE_DOUBLE => Kind::Float,
        My::MYSQL_TYPE_JSON => Kind::Json,
        My::MYSQL_TYPE_DATE | My::MYSQL_TYPE_NEWDATE => Kind::Date,
        My::MYSQL_TYPE_DATETIME
        | My::MYSQL_TYPE_DATETIME2
        | My::MYSQL_TYPE_TIMESTAMP
        | My::MYSQL_TYPE_TIMESTAMP2 => Kind::DateTime,
        My::MYSQL_TYPE_TIME | My::MYSQL_TYPE_TIME2 => Kind::Time,
        My::MYSQL_TYPE_GEOMETRY => Kind::Bytes,
        _ if col.character_set() == BINARY_CHARSET => Kind::Bytes,
        _ => Kind::Text,
    }
}

/// Describes result columns.
pub(super) fn columns(cols: &[mysql_async::Column]) -> Vec<Column> {
    cols.iter()
        .map(|c| {
            let kind = kind(c);
            Column {
                name: c.name_str().into_owned(),
                ty: match kind {
                    Kind::Bool => ColumnType::Bool,
                    Kind::Int | Kind::Bit => ColumnType::Int8,
                    Kind::UInt | Kind::Decimal => ColumnType::Numeric,
                    Kind::Float => ColumnType::Float8,
                    Kind::Bytes => ColumnType::Bytes,
                    Kind::Json => ColumnType::Json,
                    Kind::Text | Kind::Date | Kind::DateTime | Kind::Time => ColumnType::Text,
                },
                source_type: Some(type_name(c, kind)),
                origin: None,
            }
        })
        .collect()
}

/// The type as MySQL spells it (lowercase, like `information_schema.COLUMNS.DATA_TYPE`).
fn type_name(col: &mysql_async::Column, kind: Kind) -> String {
    let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let base = match col.column_type() {
        My::MYSQL_TYPE_TINY if kind == Kind::Bool => "tinyint(1)",
        My::MYSQL_TYPE_TINY => "tinyint",
        My::MYSQL_TYPE_SHORT => "smallint",
        My::MYSQL_TYPE_INT24 => "mediumint",
        My::MYSQL_TYPE_LONG => "int",
        My::MYSQL_TYPE_LONGLONG => "bigint",
        My::MYSQL_TYPE_YEAR => "year",
        My::MYSQL_TYPE_BIT => "bit",
        My::MYSQL_TYPE_DECIMAL | My::MYSQL_TYPE_NEWDECIMAL => "decimal",
        My::MYSQL_TYPE_FLOAT => "float",
        My::MYSQL_TYPE_DOUBLE => "double",
        My::MYSQL_TYPE_JSON => "json",
        My::MYSQL_TYPE_DATE | My::MYSQL_TYPE_NEWDATE => "date",
        My::MYSQL_TYPE_DATETIME | My::MYSQL_TYPE_DATETIME2 => "datetime",
        My::MYSQL_TYPE_TIMESTAMP | My::MYSQL_TYPE_TIMESTAMP2 => "timestamp",
        My::MYSQL_TYPE_TIME | My::MYSQL_TYPE_TIME2 => "time",
        My::MYSQL_TYPE_ENUM => "enum",
        My::MYSQL_TYPE_SET => "set",
        My::MYSQL_TYPE_GEOMETRY => "geometry",
        My::MYSQL_TYPE_NULL => "null",
        My::MYSQL_TYPE_STRING if kind == Kind::Bytes => "binary",
        My::MYSQL_TYPE_STRING => "char",
        My::MYSQL_TYPE_VARCHAR | My::MYSQL_TYPE_VAR_STRING if kind == Kind::Bytes => "varbinary",
        My::MYSQL_TYPE_VARCHAR | My::MYSQL_TYPE_VAR_STRING => "varchar",
        _ if kind == Kind::Bytes => "blob",
        _ => "text",
    };
    if unsigned && matches!(kind, Kind::Int | Kind::UInt) {
        format!("{base} unsigned")
    } else {
        base.to_owned()
    }
}

/// Decodes one value of a column of `kind`.
pub(super) fn decode(kind: Kind, value: MyValue) -> Value {
    match value {
        MyValue::NULL => Value::Null,
        MyValue::Int(i) => int(kind, i),
        MyValue::UInt(u) => uint(kind, u),
        // Through its shortest text, as the text protocol sends it.
        MyValue::Float(f) => Value::Float(f.to_string().parse().unwrap_or(f64::from(f))),
        MyValue::Double(f) => Value::Float(f),
        MyValue::Date(y, mo, d, h, mi, s, us) => Value::Text(match kind {
            Kind::Date => format!("{y:04}-{mo:02}-{d:02}"),
            _ => fraction(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"), us),
        }),
        MyValue::Time(neg, days, h, mi, s, us) => {
            let hours = u64::from(days) * 24 + u64::from(h);
            let sign = if neg { "-" } else { "" };
            Value::Text(fraction(format!("{sign}{hours:02}:{mi:02}:{s:02}"), us))
        }
        MyValue::Bytes(b) => from_bytes(kind, b),
    }
}

fn int(kind: Kind, i: i64) -> Value {
    match kind {
        Kind::Bool => Value::Bool(i != 0),
        Kind::Decimal => Value::Numeric(i.to_string()),
        Kind::Text => Value::Text(i.to_string()),
        _ => Value::Int(i),
    }
}

fn uint(kind: Kind, u: u64) -> Value {
    match i64::try_from(u) {
        Ok(i) => int(kind, i),
        Err(_) => Value::Numeric(u.to_string()),
    }
}

fn fraction(mut base: String, us: u32) -> String {
    if us != 0 {
        base.push('.');
        base.push_str(format!("{us:06}").trim_end_matches('0'));
    }
    base
}

/// A value the text protocol sent (or a binary-protocol string, decimal, blob or bit).
fn from_bytes(kind: Kind, b: Vec<u8>) -> Value {
    let text = || String::from_utf8_lossy(&b).into_owned();
    match kind {
        Kind::Bytes => Value::Bytes(b),
        Kind::Bit => Value::Int(
            b.iter()
                .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
                .cast_signed(),
        ),
        Kind::Bool => Value::Bool(text().parse::<i64>().is_ok_and(|i| i != 0)),
        Kind::Int => text()
            .parse()
            .map_or_else(|_| Value::Text(text()), Value::Int),
        Kind::UInt => match text().parse::<u64>() {
            Ok(u) => uint(kind, u),
            Err(_) => Value::Text(text()),
        },
        Kind::Decimal => Value::Numeric(text()),
        Kind::Float => text()
            .parse()
            .map_or_else(|_| Value::Text(text()), Value::Float),
        Kind::Json => serde_json::from_slice(&b).map_or_else(|_| Value::Text(text()), Value::Json),
        Kind::DateTime => Value::Text(datetime_text(&text())),
        Kind::Text | Kind::Date | Kind::Time => Value::Text(text()),
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` → ISO 8601 with `T` and the fraction's trailing zeros off.
fn datetime_text(s: &str) -> String {
    let mut out = s.replacen(' ', "T", 1);
    if out.contains('.') {
        let trimmed = out.trim_end_matches('0').trim_end_matches('.').len();
        out.truncate(trimmed);
    }
    out
}

/// A Starbase value as a MySQL parameter.
pub(super) fn param(value: &Value) -> MyValue {
    match value {
        Value::Bool(b) => MyValue::Int(i64::from(*b)),
        Value::Int(i) => MyValue::Int(*i),
        Value::Float(f) => MyValue::Double(*f),
        Value::Numeric(s) | Value::Text(s) => MyValue::Bytes(s.as_bytes().to_vec()),
        Value::Bytes(b) => MyValue::Bytes(b.clone()),
        Value::Json(j) => MyValue::Bytes(j.to_string().into_bytes()),
        _ => MyValue::NULL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_protocols_decode_alike() {
        let cases = [
            (Kind::Bool, MyValue::Bytes(b"1".to_vec()), Value::Bool(true)),
            (Kind::Bool, MyValue::Int(0), Value::Bool(false)),
            (
                Kind::Int,
                MyValue::Bytes(b"-9223372036854775808".to_vec()),
                Value::Int(i64::MIN),
            ),
            (
                Kind::UInt,
                MyValue::UInt(u64::MAX),
                Value::Numeric(u64::MAX.to_string()),
            ),
            (
                Kind::UInt,
                MyValue::Bytes(b"18446744073709551615".to_vec()),
                Value::Numeric(u64::MAX.to_string()),
            ),
            (
                Kind::Decimal,
                MyValue::Bytes(b"12.50".to_vec()),
                Value::Numeric("12.50".into()),
            ),
            (Kind::Float, MyValue::Float(0.1), Value::Float(0.1)),
            (Kind::Bit, MyValue::Bytes(vec![1, 0]), Value::Int(256)),
            (
                Kind::Json,
                MyValue::Bytes(b"{\"a\":1}".to_vec()),
                Value::Json(serde_json::json!({"a": 1})),
            ),
            (
                Kind::Date,
                MyValue::Date(2024, 2, 29, 0, 0, 0, 0),
                Value::Text("2024-02-29".into()),
            ),
            (
                Kind::DateTime,
                MyValue::Date(2024, 2, 29, 1, 2, 3, 500_000),
                Value::Text("2024-02-29T01:02:03.5".into()),
            ),
            (
                Kind::DateTime,
                MyValue::Bytes(b"2024-02-29 01:02:03.500".to_vec()),
                Value::Text("2024-02-29T01:02:03.5".into()),
            ),
            (
                Kind::DateTime,
                MyValue::Bytes(b"2024-02-29 01:02:03".to_vec()),
                Value::Text("2024-02-29T01:02:03".into()),
            ),
            (
                Kind::Time,
                MyValue::Time(true, 1, 2, 3, 4, 0),
                Value::Text("-26:03:04".into()),
            ),
            (
                Kind::Bytes,
                MyValue::Bytes(vec![0, 255]),
                Value::Bytes(vec![0, 255]),
            ),
        ];
        for (kind, raw, expected) in cases {
            assert_eq!(decode(kind, raw.clone()), expected, "{kind:?} {raw:?}");
        }
    }
}
