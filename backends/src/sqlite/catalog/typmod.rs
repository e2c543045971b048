//! Type details PostgreSQL derives from a type and its modifier: `format_type(oid, typmod)`,
//! the typmod a SQLite declared type stands for (`VARCHAR(20)` is 24), and the
//! `information_schema.columns` numbers (lengths, precisions, scales).
//!
//! Owns PostgreSQL's typmod encoding. Must not know rusqlite or any connection.

use starbase_protocol::pgtype::PgType;

/// PostgreSQL's `format_type(oid, typmod)`; `typmod` is `None` when the caller passed NULL.
pub(super) fn format_type(oid: i64, typmod: Option<i64>) -> String {
    let Some(ty) = u32::try_from(oid).ok().and_then(PgType::from_oid) else {
        return "???".to_owned();
    };
    let modifier = typmod.filter(|m| *m >= 0);
    match (ty, modifier) {
        (PgType::Varchar | PgType::Bpchar, Some(m)) => {
            format!("{}({})", ty.sql_name(), m - 4)
        }
        // bpchar with typmod -1 is not CHARACTER (which means CHARACTER(1)).
        (PgType::Bpchar, None) if typmod.is_some() => "bpchar".to_owned(),
        (PgType::Numeric, Some(m)) if m >= 4 => {
            let m = m - 4;
            format!("numeric({},{})", (m >> 16) & 0xffff, m & 0xffff)
        }
        (PgType::Timestamp, Some(p)) => format!("timestamp({p}) without time zone"),
        (PgType::Timestamptz, Some(p)) => format!("timestamp({p}) with time zone"),
        (PgType::Time, Some(p)) => format!("time({p}) without time zone"),
        _ => ty.sql_name().to_owned(),
    }
}

/// `pg_attribute.atttypmod` for a SQLite declared type: `n + 4` for `varchar(n)`/`char(n)`,
/// `((p << 16) | s) + 4` for `numeric(p,s)`, `p` for `timestamp(p)`, else -1.
pub(super) fn decl_typmod(decl: Option<&str>) -> i64 {
    let Some(decl) = decl else { return -1 };
    let args = decl
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split(',')
                .map(|a| a.trim().parse::<i64>().ok())
                .collect::<Vec<_>>()
        });
    let Some(args) = args else { return -1 };
    match (PgType::from_decl(Some(decl)), args.as_slice()) {
        (PgType::Varchar | PgType::Bpchar, [Some(n)]) if *n >= 1 => n + 4,
        (PgType::Numeric, [Some(p)]) if *p >= 1 => (p << 16) + 4,
        (PgType::Numeric, [Some(p), Some(s)]) if *p >= 1 && *s >= 0 => ((p << 16) | s) + 4,
        (PgType::Timestamp | PgType::Timestamptz | PgType::Time, [Some(p)]) if *p >= 0 => *p,
        _ => -1,
    }
}

/// An `information_schema.columns` number for a declared type (`what` is the column name:
/// `character_maximum_length`, `numeric_precision`, …); `None` where PostgreSQL has NULL.
pub(super) fn decl_info(decl: Option<&str>, what: &str) -> Option<i64> {
    let ty = PgType::from_decl(decl);
    let typmod = Some(decl_typmod(decl)).filter(|m| *m >= 0);
    let is_string = matches!(ty, PgType::Varchar | PgType::Bpchar | PgType::Text);
    let length = typmod.filter(|_| matches!(ty, PgType::Varchar | PgType::Bpchar));
    match what {
        "character_maximum_length" => length.map(|m| m - 4),
        "character_octet_length" if is_string => {
            Some(length.map_or(1_073_741_824, |m| (m - 4) * 4))
        }
        "numeric_precision" => match ty {
            PgType::Int2 => Some(16),
            PgType::Int4 => Some(32),
            PgType::Int8 => Some(64),
            PgType::Float4 => Some(24),
            PgType::Float8 => Some(53),
            PgType::Numeric => typmod.map(|m| ((m - 4) >> 16) & 0xffff),
            _ => None,
        },
        "numeric_precision_radix" => match ty {
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Float4 | PgType::Float8 => Some(2),
            PgType::Numeric => Some(10),
            _ => None,
        },
        "numeric_scale" => match ty {
            PgType::Int2 | PgType::Int4 | PgType::Int8 => Some(0),
            PgType::Numeric => typmod.map(|m| (m - 4) & 0xffff),
            _ => None,
        },
        "datetime_precision" => match ty {
            PgType::Date => Some(0),
            PgType::Time | PgType::Timestamp | PgType::Timestamptz | PgType::Interval => {
                Some(typmod.unwrap_or(6))
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_type_prints_postgres_names() {
        assert_eq!(format_type(23, None), "integer");
        assert_eq!(format_type(23, Some(-1)), "integer");
        assert_eq!(format_type(1043, Some(24)), "character varying(20)");
        assert_eq!(format_type(1043, Some(-1)), "character varying");
        assert_eq!(format_type(1042, Some(7)), "character(3)");
        assert_eq!(format_type(1042, Some(-1)), "bpchar");
        assert_eq!(format_type(1042, None), "character");
        assert_eq!(format_type(1700, Some((10 << 16 | 2) + 4)), "numeric(10,2)");
        assert_eq!(format_type(1700, Some(-1)), "numeric");
        assert_eq!(format_type(1184, None), "timestamp with time zone");
        assert_eq!(format_type(1114, Some(3)), "timestamp(3) without time zone");
        assert_eq!(format_type(18, None), "\"char\"");
        assert_eq!(format_type(424_242, None), "???");
        assert_eq!(format_type(-1, None), "???");
    }

    #[test]
    fn typmods_follow_postgres_encoding() {
        assert_eq!(decl_typmod(Some("VARCHAR(20)")), 24);
        assert_eq!(decl_typmod(Some("CHAR(3)")), 7);
        assert_eq!(decl_typmod(Some("NUMERIC(10,2)")), (10 << 16 | 2) + 4);
        assert_eq!(decl_typmod(Some("numeric(5)")), (5 << 16) + 4);
        assert_eq!(decl_typmod(Some("TIMESTAMP(3)")), 3);
        assert_eq!(decl_typmod(Some("VARCHAR")), -1);
        assert_eq!(decl_typmod(Some("INTEGER")), -1);
        assert_eq!(decl_typmod(Some("NATIVE CHARACTER(70)")), -1);
        assert_eq!(decl_typmod(Some("VARCHAR(x)")), -1);
        assert_eq!(decl_typmod(None), -1);
    }

    #[test]
    fn decl_info_matches_information_schema() {
        let info = |d: &str, w: &str| decl_info(Some(d), w);
        assert_eq!(info("VARCHAR(20)", "character_maximum_length"), Some(20));
        assert_eq!(info("VARCHAR(20)", "character_octet_length"), Some(80));
        assert_eq!(info("TEXT", "character_octet_length"), Some(1_073_741_824));
        assert_eq!(info("TEXT", "character_maximum_length"), None);
        assert_eq!(info("NUMERIC(10,2)", "numeric_precision"), Some(10));
        assert_eq!(info("NUMERIC(10,2)", "numeric_scale"), Some(2));
        assert_eq!(info("NUMERIC(10,2)", "numeric_precision_radix"), Some(10));
        assert_eq!(info("NUMERIC", "numeric_precision"), None);
        assert_eq!(info("INTEGER", "numeric_precision"), Some(64));
        assert_eq!(info("SMALLINT", "numeric_scale"), Some(0));
        assert_eq!(info("TIMESTAMPTZ", "datetime_precision"), Some(6));
        assert_eq!(info("DATE", "datetime_precision"), Some(0));
        assert_eq!(info("UUID", "numeric_precision"), None);
        assert_eq!(info("UUID", "bogus"), None);
    }
}
