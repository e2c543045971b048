//! Table columns in `CREATE TABLE` and `ALTER TABLE … ADD COLUMN`: serial and identity
//! keys, array types, current-time defaults, and the parentheses SQLite wants around
//! non-literal defaults.
//!
//! Owns the column rules. Must not know other statements or expression rewrites.

use sqlparser::ast::{
    AlterTable, AlterTableOperation, ColumnDef, ColumnOption, CreateTable, DataType, Expr,
    GeneratedAs, Ident, ObjectName, Statement, TableConstraint, UnaryOperator, Value,
};

use super::casts::is_default_collation;
use super::control::not_supported;
use super::functions::function_name;
use crate::error::DbError;

/// `CREATE TABLE` columns, before the expression pass.
///
/// # Errors
/// `0A000` for array columns and serial/identity columns that are not the primary key.
pub(super) fn create_table(table: &mut CreateTable) -> Result<bool, DbError> {
    let table_pk = table_primary_key(&table.constraints);
    // SQLite tables are always logged: UNLOGGED is an optimisation hint.
    let mut changed = std::mem::take(&mut table.unlogged);
    for column in &mut table.columns {
        if generated_key(column)? {
            let inline_pk = column
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)));
            let table_pk_is_this = table_pk
                .as_ref()
                .is_some_and(|pk| pk.eq_ignore_ascii_case(&column.name.value));
            if !(inline_pk || table_pk_is_this) {
                return Err(not_supported(&format!(
                    "a serial or identity column that is not the single-column primary key (column \"{}\")",
                    column.name.value
                )));
            }
            // Exactly `INTEGER PRIMARY KEY`: SQLite's rowid alias, which assigns ids.
            column.data_type =
                DataType::Custom(ObjectName::from(vec![Ident::new("INTEGER")]), vec![]);
            changed = true;
        }
        changed |= time_defaults(column) | plain_column(column);
    }
    Ok(changed)
}

/// `ALTER TABLE … ADD COLUMN`, before the expression pass.
///
/// # Errors
/// `0A000` for array columns and serial/identity columns (an added column cannot be the
/// rowid alias).
pub(super) fn alter_table(alter: &mut AlterTable) -> Result<bool, DbError> {
    let mut changed = false;
    for op in &mut alter.operations {
        if let AlterTableOperation::AddColumn { column_def, .. } = op {
            if generated_key(column_def)? {
                return Err(not_supported(&format!(
                    "adding a serial or identity column (column \"{}\")",
                    column_def.name.value
                )));
            }
            changed |= time_defaults(column_def) | plain_column(column_def);
        }
    }
    Ok(changed)
}

/// `pg_catalog.int4` → `int4` as the declared type; `COLLATE "C"`/`"default"` dropped
/// (SQLite's default collation is binary and it knows no collation by those names).
fn plain_column(column: &mut ColumnDef) -> bool {
    let mut changed = false;
    if let DataType::Custom(name, _) = &mut column.data_type
        && name.0.len() == 2
        && name
            .0
            .first()
            .and_then(|p| p.as_ident())
            .is_some_and(|s| s.value.eq_ignore_ascii_case("pg_catalog"))
    {
        name.0.remove(0);
        changed = true;
    }
    let before = column.options.len();
    column
        .options
        .retain(|o| !matches!(&o.option, ColumnOption::Collation(c) if is_default_collation(c)));
    changed | (column.options.len() != before)
}

/// True for a serial or identity column (the identity clause is removed).
///
/// # Errors
/// `0A000` for array types.
fn generated_key(column: &mut ColumnDef) -> Result<bool, DbError> {
    let ty = column.data_type.to_string().to_ascii_lowercase();
    if matches!(column.data_type, DataType::Array(_)) || ty.ends_with(']') {
        return Err(not_supported(&format!(
            "array column type ({} for column \"{}\")",
            column.data_type, column.name.value
        )));
    }
    let serial = matches!(
        ty.as_str(),
        "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
    );
    Ok(take_identity(column) || serial)
}

/// Removes `GENERATED {ALWAYS|BY DEFAULT} AS IDENTITY`; true when there was one.
fn take_identity(column: &mut ColumnDef) -> bool {
    let before = column.options.len();
    column.options.retain(|o| {
        !matches!(
            &o.option,
            ColumnOption::Generated {
                generated_as: GeneratedAs::Always | GeneratedAs::ByDefault,
                generation_expr: None,
                ..
            }
        )
    });
    column.options.len() != before
}

/// The column of a single-column `PRIMARY KEY (col)` table constraint.
fn table_primary_key(constraints: &[TableConstraint]) -> Option<String> {
    constraints.iter().find_map(|c| match c {
        TableConstraint::PrimaryKey(pk) => match pk.columns.as_slice() {
            [only] => match &only.column.expr {
                Expr::Identifier(id) => Some(id.value.clone()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    })
}

/// `DEFAULT now()` (and the other current-time functions) → `DEFAULT CURRENT_TIMESTAMP`.
fn time_defaults(column: &mut ColumnDef) -> bool {
    let mut changed = false;
    for option in &mut column.options {
        let ColumnOption::Default(expr) = &mut option.option else {
            continue;
        };
        let Expr::Function(f) = expr else { continue };
        let keyword = match function_name(f).as_deref() {
            Some(
                "now"
                | "transaction_timestamp"
                | "statement_timestamp"
                | "clock_timestamp"
                | "current_timestamp"
                | "localtimestamp",
            ) => "CURRENT_TIMESTAMP",
            Some("current_date") => "CURRENT_DATE",
            Some("current_time" | "localtime") => "CURRENT_TIME",
            _ => continue,
        };
        let already = f.name.to_string().eq_ignore_ascii_case(keyword)
            && matches!(f.args, sqlparser::ast::FunctionArguments::None);
        *expr = Expr::Identifier(Ident::new(keyword));
        changed |= !already;
    }
    changed
}

/// After the expression pass: SQLite wants parentheses around non-literal defaults.
pub(super) fn rewrite_after(stmt: &mut Statement) -> bool {
    let columns: Vec<&mut ColumnDef> = match stmt {
        Statement::CreateTable(table) => table.columns.iter_mut().collect(),
        Statement::AlterTable(alter) => alter
            .operations
            .iter_mut()
            .filter_map(|op| match op {
                AlterTableOperation::AddColumn { column_def, .. } => Some(column_def),
                _ => None,
            })
            .collect(),
        _ => return false,
    };
    let mut changed = false;
    for column in columns {
        for option in &mut column.options {
            if let ColumnOption::Default(expr) = &mut option.option
                && !is_literal_default(expr)
            {
                let inner = std::mem::replace(expr, Expr::Value(Value::Null.into()));
                *expr = Expr::Nested(Box::new(inner));
                changed = true;
            }
        }
    }
    changed
}

fn is_literal_default(e: &Expr) -> bool {
    match e {
        Expr::Nested(_) => true,
        Expr::Value(v) => !matches!(v.value, Value::Placeholder(_)),
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(..))),
        Expr::Identifier(id) => matches!(
            id.value.as_str(),
            "CURRENT_TIMESTAMP" | "CURRENT_DATE" | "CURRENT_TIME"
        ),
        _ => false,
    }
}
