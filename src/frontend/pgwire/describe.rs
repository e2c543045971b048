//! Result columns as the client sees them: their PostgreSQL types and formats, the
//! `RowDescription` that announces them and the `DataRow`s that carry them.
//!
//! Owns the type policy: a type the translator inferred from the text wins; otherwise
//! SQLite's declared type maps through `PgType::from_decl` (INTEGER → int8, VARCHAR(n) →
//! varchar, …); otherwise (an expression SQLite cannot type) the first row decides when the
//! rows are at hand (simple query), and `text` when they are not (Describe). A computed
//! column of a catalog query takes its PostgreSQL type from the catalog's name table
//! (`catalog_column_type`: `relhasindex` is bool although SQLite gives 0/1). A column read
//! straight from a table carries that table's OID and its `attnum`, as PostgreSQL sends
//! them, so drivers can look up its nullability in `pg_attribute`. Must not know sessions or
//! statements.

use bytes::BytesMut;
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};
use starbase_backends::sqlite::catalog_column_type;
use starbase_protocol::{Column, DbError, PgType, Row, Value, pgtype};

use super::encode::encode_field;

/// One result column on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultColumn {
    /// Column name.
    pub name: String,
    /// Its type; `Unknown` until [`settle_types`] or [`finalize`] decide.
    pub ty: PgType,
    /// Binary format requested.
    pub binary: bool,
    /// OID of the table the column is read from; 0 for a computed column.
    pub table_oid: u32,
    /// The column's `attnum` in that table; 0 for a computed column.
    pub attnum: i16,
}

impl ResultColumn {
    /// A column no table stands behind (a command's answer).
    #[must_use]
    pub fn computed(name: &str, ty: PgType) -> Self {
        Self {
            name: name.to_owned(),
            ty,
            binary: false,
            table_oid: 0,
            attnum: 0,
        }
    }
}

/// The columns of `sql` (the SQLite text) from SQLite's description and the translator's
/// inference.
#[must_use]
pub fn result_columns(sql: &str, columns: &[Column], inferred: &[PgType]) -> Vec<ResultColumn> {
    let catalog = reads_catalog(sql);
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let guessed = inferred.get(i).copied().unwrap_or(PgType::Unknown);
            let ty = match (guessed, &c.source_type) {
                (PgType::Unknown, None) if catalog && c.origin.is_none() => {
                    catalog_column_type(&c.name).unwrap_or(PgType::Unknown)
                }
                (PgType::Unknown, _) => declared_type(c),
                (known, _) => known,
            };
            let (table_oid, attnum) = c
                .origin
                .as_ref()
                .map_or((0, 0), |o| (pgtype::relation_oid(&o.table), o.position));
            ResultColumn {
                name: c.name.clone(),
                ty,
                binary: false,
                table_oid,
                attnum,
            }
        })
        .collect()
}

/// The type a backend's column description stands for: the backend's own reading where it
/// has one (an external server knows its column types), else the declared type's name.
fn declared_type(column: &Column) -> PgType {
    use starbase_protocol::ColumnType as C;
    let from_decl = PgType::from_decl(column.source_type.as_deref());
    match column.ty {
        C::Bool => PgType::Bool,
        C::Int8 if from_decl == PgType::Unknown => PgType::Int8,
        C::Float8 if from_decl == PgType::Unknown => PgType::Float8,
        C::Numeric if from_decl == PgType::Unknown => PgType::Numeric,
        C::Bytes if from_decl == PgType::Unknown => PgType::Bytea,
        C::Json if from_decl == PgType::Unknown => PgType::Json,
        _ => from_decl,
    }
}

/// Whether SQLite text reads a catalog view (they are all `pg_*` or `information_schema_*`).
fn reads_catalog(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("pg_") || lower.contains("information_schema")
}

/// Gives columns still `Unknown` the type of their value in `first` (or `text`).
pub fn settle_types(columns: &mut [ResultColumn], first: Option<&Row>) {
    for (i, column) in columns.iter_mut().enumerate() {
        if column.ty != PgType::Unknown {
            continue;
        }
        column.ty = match first.and_then(|row| row.get(i)) {
            Some(Value::Int(_)) => PgType::Int8,
            Some(Value::Float(_)) => PgType::Float8,
            Some(Value::Bytes(_)) => PgType::Bytea,
            Some(Value::Bool(_)) => PgType::Bool,
            Some(Value::Numeric(_)) => PgType::Numeric,
            Some(Value::Json(_)) => PgType::Json,
            _ => PgType::Text,
        };
    }
}

/// Gives columns still `Unknown` the `text` type (no rows to look at).
pub fn finalize(columns: &mut [ResultColumn]) {
    settle_types(columns, None);
}

/// Applies a Bind's result format codes (none: all text; one: all; else one per column).
pub fn apply_formats(columns: &mut [ResultColumn], codes: &[i16]) {
    for (i, column) in columns.iter_mut().enumerate() {
        let code = match codes {
            [] => 0,
            [one] => *one,
            many => many.get(i).copied().unwrap_or(0),
        };
        column.binary = code == 1;
    }
}

/// The `RowDescription` of `columns`.
#[must_use]
pub fn row_description(columns: &[ResultColumn]) -> RowDescription {
    RowDescription::new(
        columns
            .iter()
            .map(|c| {
                FieldDescription::new(
                    c.name.clone(),
                    i32::try_from(c.table_oid).unwrap_or(0),
                    c.attnum,
                    c.ty.oid(),
                    c.ty.typlen(),
                    -1,
                    i16::from(c.binary),
                )
            })
            .collect(),
    )
}

/// One `DataRow`.
///
/// # Errors
/// `22P03` when a value cannot be sent in its column's binary format.
pub fn data_row(row: &Row, columns: &[ResultColumn]) -> Result<DataRow, DbError> {
    let mut buf = BytesMut::with_capacity(16 * columns.len());
    for (value, column) in row.iter().zip(columns) {
        encode_field(&mut buf, value, column.ty, column.binary, &column.name)?;
    }
    let count = i16::try_from(columns.len().min(row.len()))
        .map_err(|_| DbError::limit_exceeded("too many result columns"))?;
    Ok(DataRow::new(buf, count))
}
