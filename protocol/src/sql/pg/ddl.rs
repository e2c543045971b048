//! Statement-level rules: statements SQLite has no counterpart for, and `CREATE TABLE`
//! column rewrites (serial/identity keys, array types, column defaults).
//!
//! Owns what happens to DDL before and after the expression rewrites. Must not know
//! expression-level translations (the visitor in `rewrite` does those).

use sqlparser::ast::{
    ColumnDef, ColumnOption, ConflictTarget, CreateTable, DataType, Expr, GeneratedAs, Ident,
    ObjectName, OnConflict, OnInsert, Statement, TableConstraint, UnaryOperator, Value,
};

use sqlparser::ast::{CascadeOption, CreateIndex, Delete, IndexType, Truncate};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::control::not_supported;
use super::functions::function_name;
use crate::error::DbError;

/// Refuses statements that cannot be translated.
///
/// # Errors
/// `0A000` naming the statement or clause.
pub(super) fn check_statement(stmt: &Statement) -> Result<(), DbError> {
    let what = match stmt {
        Statement::CreateSchema { .. } => "CREATE SCHEMA",
        Statement::CreateExtension(_) => "CREATE EXTENSION",
        Statement::CreateSequence { .. } => "CREATE SEQUENCE",
        Statement::CreateType { .. } => "CREATE TYPE",
        Statement::CreateDomain(_) => "CREATE DOMAIN",
        Statement::CreateFunction(_) => "CREATE FUNCTION",
        Statement::CreateProcedure { .. } => "CREATE PROCEDURE",
        Statement::CreateDatabase { .. } => "CREATE DATABASE",
        Statement::CreateRole(_) => "CREATE ROLE",
        Statement::CreatePolicy(_) => "CREATE POLICY",
        Statement::CreateView(view) if view.materialized => "CREATE MATERIALIZED VIEW",
        Statement::LISTEN { .. } => "LISTEN",
        Statement::UNLISTEN { .. } => "UNLISTEN",
        Statement::NOTIFY { .. } => "NOTIFY",
        Statement::Copy { .. } => "COPY",
        Statement::Drop { cascade: true, .. } => "DROP … CASCADE",
        Statement::Insert(insert) => match &insert.on {
            Some(OnInsert::OnConflict(OnConflict {
                conflict_target: Some(ConflictTarget::OnConstraint(_)),
                ..
            })) => "ON CONFLICT ON CONSTRAINT",
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    Err(not_supported(what))
}

/// Rewrites before the expression pass: `RESTRICT` dropped, `CREATE TABLE` columns,
/// `DELETE … USING`.
///
/// # Errors
/// `0A000` for array columns and serial/identity columns that are not the primary key.
pub(super) fn rewrite_before(stmt: &mut Statement) -> Result<bool, DbError> {
    match stmt {
        Statement::Drop { restrict, .. } if *restrict => {
            *restrict = false;
            Ok(true)
        }
        Statement::CreateTable(table) => create_table(table),
        Statement::Delete(delete) => Ok(delete_using(delete)),
        Statement::CreateIndex(index) => create_index(index),
        Statement::Truncate(truncate) => {
            let delete = truncate_as_delete(truncate)?;
            *stmt = delete;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `CONCURRENTLY` and `USING btree` dropped (SQLite's indexes are b-trees, built under its
/// one writer); operator classes dropped.
///
/// # Errors
/// `0A000` for other index methods, `INCLUDE` and `WITH (…)` options.
fn create_index(index: &mut CreateIndex) -> Result<bool, DbError> {
    let mut changed = false;
    if index.concurrently {
        index.concurrently = false;
        changed = true;
    }
    match &index.using {
        None => {}
        Some(IndexType::BTree) => {
            index.using = None;
            changed = true;
        }
        Some(other) => return Err(not_supported(&format!("USING {other} indexes"))),
    }
    if !index.include.is_empty() {
        return Err(not_supported("INCLUDE in an index"));
    }
    if !index.with.is_empty() {
        return Err(not_supported("WITH options on an index"));
    }
    for column in &mut index.columns {
        changed |= column.operator_class.take().is_some();
    }
    Ok(changed)
}

/// `TRUNCATE [TABLE] t` → `DELETE FROM t` (SQLite's truncate optimisation).
///
/// # Errors
/// `0A000` for several tables and `CASCADE`.
fn truncate_as_delete(truncate: &Truncate) -> Result<Statement, DbError> {
    if matches!(truncate.cascade, Some(CascadeOption::Cascade)) {
        return Err(not_supported("TRUNCATE … CASCADE"));
    }
    let [target] = truncate.table_names.as_slice() else {
        return Err(not_supported("TRUNCATE of several tables"));
    };
    let sql = format!("DELETE FROM {}", target.name);
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_statement())
        .map_err(|_| not_supported("TRUNCATE of this table name"))
}

/// `DELETE FROM t USING u WHERE c` → `DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE c)`
/// (SQLite has no `USING`; the subquery is correlated with `t`).
fn delete_using(delete: &mut Delete) -> bool {
    let Some(using) = delete.using.as_ref().filter(|u| !u.is_empty()) else {
        return false;
    };
    let tables: Vec<String> = using.iter().map(ToString::to_string).collect();
    let mut sub = format!("SELECT 1 FROM {}", tables.join(", "));
    if let Some(selection) = &delete.selection {
        sub.push_str(&format!(" WHERE {selection}"));
    }
    let Ok(query) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sub)
        .and_then(|mut p| p.parse_query())
    else {
        return false;
    };
    delete.using = None;
    delete.selection = Some(Expr::Exists {
        subquery: query,
        negated: false,
    });
    true
}

fn create_table(table: &mut CreateTable) -> Result<bool, DbError> {
    let table_pk = table_primary_key(&table.constraints);
    let mut changed = false;
    for column in &mut table.columns {
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
        let identity = take_identity(column);
        if serial || identity {
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
        changed |= time_defaults(column);
    }
    Ok(changed)
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
    let Statement::CreateTable(table) = stmt else {
        return false;
    };
    let mut changed = false;
    for column in &mut table.columns {
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
