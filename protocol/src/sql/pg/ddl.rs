//! Statement-level rules: statements SQLite has no counterpart for, and rewrites of whole
//! statements (`DROP … RESTRICT`, `DELETE … USING`, `TRUNCATE`, `CREATE INDEX` options);
//! table columns are `table_ddl`'s.
//!
//! Owns what happens to a statement before the expression rewrites. Must not know
//! expression-level translations (the visitor in `rewrite` does those).

use sqlparser::ast::{
    AlterTable, AlterTableOperation, CascadeOption, ConflictTarget, CreateIndex, Delete, Expr,
    IndexType, Insert, OnConflict, OnInsert, SetExpr, Statement, Truncate, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::control::not_supported;
use super::table_ddl;
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
        Statement::Drop { names, .. } if names.len() > 1 => "DROP of several objects",
        Statement::Comment { .. } => "COMMENT",
        Statement::Grant(_) => "GRANT",
        Statement::Revoke(_) => "REVOKE",
        Statement::AlterTable(alter) => return check_alter(alter),
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

/// SQLite's ALTER TABLE adds, drops and renames columns and renames tables, nothing else.
///
/// # Errors
/// `0A000` naming the first other operation.
fn check_alter(alter: &AlterTable) -> Result<(), DbError> {
    for op in &alter.operations {
        if !matches!(
            op,
            AlterTableOperation::AddColumn { .. }
                | AlterTableOperation::DropColumn { .. }
                | AlterTableOperation::RenameColumn { .. }
                | AlterTableOperation::RenameTable { .. }
        ) {
            let text = op.to_string();
            let words: Vec<&str> = text.split_whitespace().take(3).collect();
            return Err(not_supported(&format!("ALTER TABLE … {}", words.join(" "))));
        }
    }
    Ok(())
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
        Statement::CreateTable(table) => table_ddl::create_table(table),
        Statement::AlterTable(alter) => table_ddl::alter_table(alter),
        Statement::Delete(delete) => Ok(delete_using(delete)),
        Statement::Insert(insert) => Ok(values_defaults(insert)? | upsert_from_select(insert)),
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

fn is_default_keyword(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("DEFAULT"))
}

/// `INSERT INTO t (a, b) VALUES (DEFAULT, 1)` → `INSERT INTO t (b) VALUES (1)` (SQLite has
/// no `DEFAULT` in VALUES; leaving the column out means the same); all `DEFAULT` →
/// `DEFAULT VALUES`.
///
/// # Errors
/// `0A000` for `DEFAULT` in a multi-row VALUES or without a column list.
fn values_defaults(insert: &mut Insert) -> Result<bool, DbError> {
    let Some(SetExpr::Values(values)) = insert.source.as_mut().map(|q| q.body.as_mut()) else {
        return Ok(false);
    };
    if !values
        .rows
        .iter()
        .flat_map(|r| &r.content)
        .any(is_default_keyword)
    {
        return Ok(false);
    }
    let [row] = values.rows.as_mut_slice() else {
        return Err(not_supported("DEFAULT in a VALUES list of several rows"));
    };
    if insert.columns.len() != row.content.len() {
        return Err(not_supported("DEFAULT in VALUES without a column list"));
    }
    let pairs = std::mem::take(&mut insert.columns)
        .into_iter()
        .zip(std::mem::take(&mut row.content))
        .filter(|(_, e)| !is_default_keyword(e));
    (insert.columns, row.content) = pairs.unzip();
    if insert.columns.is_empty() {
        insert.source = None;
    }
    Ok(true)
}

/// `INSERT … SELECT … FROM … ON CONFLICT`: SQLite reads the `ON` as a join constraint
/// unless the SELECT has a WHERE clause, so one that has none gets `WHERE true`.
fn upsert_from_select(insert: &mut Insert) -> bool {
    if !matches!(insert.on, Some(OnInsert::OnConflict(_))) {
        return false;
    }
    let Some(SetExpr::Select(select)) = insert.source.as_mut().map(|q| q.body.as_mut()) else {
        return false;
    };
    if select.from.is_empty() || select.selection.is_some() {
        return false;
    }
    select.selection = Some(Expr::Value(Value::Boolean(true).into()));
    true
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
