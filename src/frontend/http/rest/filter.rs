//! GET `/rest/...` query parameters: filters (`col=v`, `col.op=v`), `sort_by`, `order`,
//! `limit`, `offset`, turned into a parameterised WHERE / ORDER BY / LIMIT clause.
//!
//! Owns the filter grammar (spec §5.2, plus `col.is=null|notnull`). Every column is checked
//! against the table and quoted; every value is a bound parameter coerced to the column's
//! type. Must not know HTTP.

use starbase_protocol::{ColumnType, DbError, Dialect, SqlState, Value};

use super::schema::{ColumnInfo, TableInfo};

/// SQL clauses with their parameters, numbered `$1…` from `first_param`.
#[derive(Debug)]
pub(super) struct Clauses {
    /// How names are quoted and `OFFSET` without `LIMIT` is written.
    dialect: Dialect,
    /// Conditions joined by `AND` (without the `WHERE`).
    pub(super) conditions: Vec<String>,
    /// Bound values, in placeholder order.
    pub(super) params: Vec<Value>,
    /// ` ORDER BY …` or empty.
    pub(super) order_by: String,
    /// ` LIMIT … OFFSET …` or empty.
    pub(super) limit: String,
}

impl Clauses {
    /// No clauses yet, for statements on `table`.
    pub(super) fn for_table(table: &TableInfo) -> Self {
        Self {
            dialect: table.dialect,
            conditions: Vec::new(),
            params: Vec::new(),
            order_by: String::new(),
            limit: String::new(),
        }
    }

    fn quote(&self, name: &str) -> String {
        match self.dialect {
            Dialect::MySql => format!("`{}`", name.replace('`', "``")),
            Dialect::Postgres | Dialect::Sqlite => super::schema::quote(name),
        }
    }

    /// Adds `"col" = $n` for a value given as text.
    pub(super) fn equals(&mut self, column: &ColumnInfo, raw: &str) -> Result<(), DbError> {
        let value = coerce(column, raw)?;
        self.push(column, "=", value);
        Ok(())
    }

    /// Adds `"col" <op> $n` for a bound value.
    pub(super) fn push(&mut self, column: &ColumnInfo, op: &str, value: Value) {
        self.params.push(value);
        let name = self.quote(&column.name);
        self.conditions
            .push(format!("{name} {op} ${}", self.params.len()));
    }

    /// ` WHERE …` or empty.
    pub(super) fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// Builds the clauses of a GET from its query pairs; `skip` names parameters already used
/// (the primary key from the path).
///
/// # Errors
/// `42703` for an unknown column, `22023` for an unknown operator or a bad reserved value,
/// `22P02` for a value that does not fit the column's type.
pub(super) fn from_query(
    table: &TableInfo,
    pairs: &[(String, String)],
    clauses: &mut Clauses,
) -> Result<(), DbError> {
    let mut sort_by = None;
    let mut descending = false;
    let mut limit = None;
    let mut offset = None;
    for (key, raw) in pairs {
        match key.as_str() {
            "sort_by" => sort_by = Some(table.column(raw)?),
            "order" => {
                descending = match raw.to_ascii_lowercase().as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => {
                        return Err(bad(format!(
                            "order must be \"asc\" or \"desc\", not \"{raw}\""
                        )));
                    }
                }
            }
            "limit" => limit = Some(count("limit", raw)?),
            "offset" => offset = Some(count("offset", raw)?),
            _ => filter(table, key, raw, clauses)?,
        }
    }
    if let Some(column) = sort_by {
        clauses.order_by = format!(
            " ORDER BY {} {}",
            table.quote(&column.name),
            if descending { "DESC" } else { "ASC" }
        );
    }
    clauses.limit = match (limit, offset) {
        (Some(l), Some(o)) => format!(" LIMIT {l} OFFSET {o}"),
        (Some(l), None) => format!(" LIMIT {l}"),
        // SQLite's "no limit" is -1, which PostgreSQL refuses; MySQL has no OFFSET alone.
        (None, Some(o)) => match table.dialect {
            Dialect::Sqlite => format!(" LIMIT -1 OFFSET {o}"),
            Dialect::Postgres => format!(" OFFSET {o}"),
            Dialect::MySql => format!(" LIMIT 18446744073709551615 OFFSET {o}"),
        },
        (None, None) => String::new(),
    };
    Ok(())
}

fn filter(table: &TableInfo, key: &str, raw: &str, clauses: &mut Clauses) -> Result<(), DbError> {
    let (name, op) = match key.rsplit_once('.') {
        Some((name, op)) if table.column(key).is_err() => (name, op),
        _ => (key, "eq"),
    };
    let column = table.column(name)?;
    let sql_op = match op {
        "eq" => "=",
        "ne" => "<>",
        "gt" => ">",
        "lt" => "<",
        "gte" => ">=",
        "lte" => "<=",
        "like" => "LIKE",
        "in" => {
            let values = raw
                .split(',')
                .map(|v| coerce(column, v.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            let start = clauses.params.len();
            let placeholders: Vec<String> = (1..=values.len())
                .map(|i| format!("${}", start + i))
                .collect();
            clauses.params.extend(values);
            clauses.conditions.push(format!(
                "{} IN ({})",
                table.quote(&column.name),
                placeholders.join(", ")
            ));
            return Ok(());
        }
        "is" => {
            let test = match raw.to_ascii_lowercase().as_str() {
                "null" => "IS NULL",
                "notnull" | "not.null" => "IS NOT NULL",
                _ => {
                    return Err(bad(format!(
                        "{key} must be \"null\" or \"notnull\", not \"{raw}\""
                    )));
                }
            };
            clauses
                .conditions
                .push(format!("{} {test}", table.quote(&column.name)));
            return Ok(());
        }
        _ => {
            return Err(bad(format!(
                "unknown filter operator \"{op}\" (use eq, ne, gt, lt, gte, lte, like, in or is)"
            )));
        }
    };
    let value = if op == "like" {
        Value::Text(raw.to_owned())
    } else {
        coerce(column, raw)?
    };
    clauses.push(column, sql_op, value);
    Ok(())
}

/// A value given as text (path or query string), as the column's type.
///
/// # Errors
/// `22P02` when an integer or float column gets text that is not a number.
pub(super) fn coerce(column: &ColumnInfo, raw: &str) -> Result<Value, DbError> {
    let invalid = |what: &str| {
        DbError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!(
                "invalid input for {what} column \"{}\": \"{raw}\"",
                column.name
            ),
        )
    };
    Ok(match column.ty {
        ColumnType::Int8 => Value::Int(raw.parse().map_err(|_| invalid("integer"))?),
        ColumnType::Float8 => Value::Float(raw.parse().map_err(|_| invalid("floating-point"))?),
        ColumnType::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Value::Int(1),
            "false" | "f" | "0" => Value::Int(0),
            _ => return Err(invalid("boolean")),
        },
        _ => Value::Text(raw.to_owned()),
    })
}

fn count(name: &str, raw: &str) -> Result<u64, DbError> {
    raw.parse().map_err(|_| {
        bad(format!(
            "{name} must be a non-negative integer, not \"{raw}\""
        ))
    })
}

fn bad(message: String) -> DbError {
    DbError::invalid_parameter(message)
}
