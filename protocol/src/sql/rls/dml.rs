//! Statement-level rules for UPDATE and DELETE: the target on a restricted table is
//! filtered by its action's predicates, policy columns may only be set to allowed
//! literals, and the reads each performs go through the query walker. Also the helpers
//! INSERT shares (`insert`).
//!
//! Must not know how tables are found inside queries (`rewriter`).

use sqlparser::ast::{
    AssignmentTarget, Delete, FromTable, Ident, ObjectName, SqliteOnConflict, TableFactor,
    TableWithJoins, Update, UpdateTableFromKind,
};

use super::build::{self, Operand};
use super::policy::{Action, Policy};
use super::rewriter::{Check, Rewriter, Scope, split_name};
use super::{denied, no_policy};
use crate::error::DbError;
use crate::plan::Dialect;

pub(super) fn last_ident(name: &ObjectName) -> Option<&Ident> {
    name.0.last().and_then(|p| p.as_ident())
}

/// Whether a column reference names the policy column (which is always quoted as given):
/// PostgreSQL folds an unquoted reference to lower case first; SQLite and MySQL compare
/// column names case-insensitively.
pub(super) fn same_column(name: &ObjectName, column: &str, dialect: Dialect) -> bool {
    last_ident(name).is_some_and(|i| match dialect {
        Dialect::Postgres => super::rewriter::name_key(i, dialect) == column,
        Dialect::Sqlite | Dialect::MySql => i.value.eq_ignore_ascii_case(column),
    })
}

impl Rewriter<'_> {
    /// Policies for `action` on a restricted target (`None` when unrestricted).
    pub(super) fn target_policies(
        &self,
        action: Action,
        name: &ObjectName,
    ) -> Result<Option<Vec<Policy>>, DbError> {
        let (schema, table) = split_name(name)?;
        if !self.policies.is_restricted(&table.value) {
            return Ok(None);
        }
        if self.policies.is_invalid(&table.value) {
            return Err(denied(format!(
                "permission denied: restricted table \"{}\" has an invalid policy",
                table.value
            )));
        }
        let found: Vec<Policy> = self
            .policies
            .applicable(action, schema, &table.value, self.dialect)
            .into_iter()
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(no_policy(action, &table.value));
        }
        Ok(Some(found))
    }

    fn restricted_in(&self, tables: &[TableWithJoins]) -> bool {
        tables.iter().any(|t| {
            std::iter::once(&t.relation)
                .chain(t.joins.iter().map(|j| &j.relation))
                .any(|f| match f {
                    TableFactor::Table { name, .. } => {
                        last_ident(name).is_none_or(|i| self.policies.is_restricted(&i.value))
                    }
                    _ => false,
                })
        })
    }

    /// Refuses a FROM/USING item exposed under the target's name: the policy predicate is
    /// qualified by that name and must not bind to another relation.
    fn refuse_shadowed_target(
        tables: &[TableWithJoins],
        qualifier: &Ident,
        table: &str,
    ) -> Result<(), DbError> {
        let shadows = tables
            .iter()
            .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
            .any(|f| {
                let exposed = match f {
                    TableFactor::Table { alias: Some(a), .. }
                    | TableFactor::Derived { alias: Some(a), .. }
                    | TableFactor::Function { alias: Some(a), .. }
                    | TableFactor::UNNEST { alias: Some(a), .. }
                    | TableFactor::NestedJoin { alias: Some(a), .. } => Some(&a.name),
                    TableFactor::Table { name, .. } => last_ident(name),
                    _ => None,
                };
                exposed.is_none_or(|e| e.value.eq_ignore_ascii_case(&qualifier.value))
            });
        if shadows {
            return Err(denied(format!(
                "permission denied: another relation is named like the target of a write on restricted table \"{table}\""
            )));
        }
        Ok(())
    }

    /// UPDATE: target rows filtered by the UPDATE policies; policy columns may only be set
    /// to literals that satisfy them; reads filtered.
    pub(super) fn update(&mut self, upd: &mut Update) -> Result<(), DbError> {
        let scope = Scope::new();
        self.nested(&mut upd.assignments, &scope)?;
        self.nested(&mut upd.selection, &scope)?;
        self.nested(&mut upd.returning, &scope)?;
        self.nested(&mut upd.order_by, &scope)?;
        self.nested(&mut upd.limit, &scope)?;
        match &mut upd.from {
            Some(UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from)) => {
                for t in from {
                    self.table_with_joins(t, &scope)?;
                }
            }
            None => {}
        }
        if !upd.table.joins.is_empty() {
            if self.restricted_in(std::slice::from_ref(&upd.table)) {
                return Err(denied(
                    "multi-table UPDATE of a restricted table is not allowed",
                ));
            }
            return self.table_with_joins(&mut upd.table, &scope);
        }
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = &upd.table.relation
        else {
            return Err(denied(
                "UPDATE target is not allowed under row-level security",
            ));
        };
        let name = name.clone();
        let Some(policies) = self.target_policies(Action::Update, &name)? else {
            return Ok(());
        };
        let table = last_ident(&name)
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let qualifier = alias.as_ref().map_or_else(
            || {
                last_ident(&name)
                    .cloned()
                    .unwrap_or_else(|| Ident::new(table.clone()))
            },
            |a| a.name.clone(),
        );
        if upd.or == Some(SqliteOnConflict::Replace) {
            return Err(denied(format!(
                "permission denied: UPDATE OR REPLACE on restricted table \"{table}\" is not allowed"
            )));
        }
        self.check_assignments(upd, &policies, &table)?;
        if let Some(UpdateTableFromKind::BeforeSet(from) | UpdateTableFromKind::AfterSet(from)) =
            &upd.from
        {
            Self::refuse_shadowed_target(from, &qualifier, &table)?;
        }
        let mut filter = self.filter_for(Action::Update, &name, &qualifier)?;
        if upd.returning.is_some() {
            filter = self.returning_filter(filter, &name, &qualifier)?;
        }
        upd.selection = Some(build::and_where(upd.selection.take(), filter));
        self.accounted += 1;
        Ok(())
    }

    fn check_assignments(
        &mut self,
        upd: &Update,
        policies: &[Policy],
        table: &str,
    ) -> Result<(), DbError> {
        for a in &upd.assignments {
            let targets: Vec<&ObjectName> = match &a.target {
                AssignmentTarget::ColumnName(c) => vec![c],
                AssignmentTarget::Tuple(cs) => cs.iter().collect(),
            };
            for p in policies {
                if !targets
                    .iter()
                    .any(|t| same_column(t, &p.column, self.dialect))
                {
                    continue;
                }
                let (AssignmentTarget::ColumnName(_), Some(lit)) =
                    (&a.target, build::literal(&a.value))
                else {
                    return Err(denied(format!(
                        "permission denied: \"{}\" of restricted table \"{table}\" may only be set to a literal allowed by its policy",
                        p.column
                    )));
                };
                let right = self.slots.operand(p);
                self.checks.push(Check {
                    left: Operand::Const(lit),
                    op: p.operator,
                    right,
                    table: table.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// As PostgreSQL: rows an UPDATE or DELETE returns must also pass the SELECT policies
    /// (else RETURNING would show rows the caller may change but not read).
    fn returning_filter(
        &mut self,
        filter: sqlparser::ast::Expr,
        name: &ObjectName,
        qualifier: &Ident,
    ) -> Result<sqlparser::ast::Expr, DbError> {
        let read = self.filter_for(Action::Select, name, qualifier)?;
        Ok(build::and_where(Some(filter), read))
    }

    /// DELETE: target rows filtered by the DELETE policies; reads filtered.
    pub(super) fn delete(&mut self, del: &mut Delete) -> Result<(), DbError> {
        let scope = Scope::new();
        self.nested(&mut del.selection, &scope)?;
        self.nested(&mut del.returning, &scope)?;
        self.nested(&mut del.order_by, &scope)?;
        self.nested(&mut del.limit, &scope)?;
        if let Some(using) = &mut del.using {
            for t in using {
                self.table_with_joins(t, &scope)?;
            }
        }
        let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &mut del.from;
        let single = from.len() == 1 && from[0].joins.is_empty() && del.tables.is_empty();
        if !single {
            let named_restricted = del
                .tables
                .iter()
                .any(|t| last_ident(t).is_none_or(|i| self.policies.is_restricted(&i.value)));
            if named_restricted || self.restricted_in(from) {
                return Err(denied(
                    "multi-table DELETE of a restricted table is not allowed",
                ));
            }
            for t in from.iter_mut() {
                self.table_with_joins(t, &scope)?;
            }
            return Ok(());
        }
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = &from[0].relation
        else {
            return Err(denied(
                "DELETE target is not allowed under row-level security",
            ));
        };
        let name = name.clone();
        let qualifier = match alias {
            Some(a) => a.name.clone(),
            None => last_ident(&name).cloned().unwrap_or_else(|| Ident::new("")),
        };
        if self.target_policies(Action::Delete, &name)?.is_none() {
            return Ok(());
        }
        if let Some(using) = &del.using {
            let table = last_ident(&name)
                .map(|i| i.value.clone())
                .unwrap_or_default();
            Self::refuse_shadowed_target(using, &qualifier, &table)?;
        }
        let mut filter = self.filter_for(Action::Delete, &name, &qualifier)?;
        if del.returning.is_some() {
            filter = self.returning_filter(filter, &name, &qualifier)?;
        }
        del.selection = Some(build::and_where(del.selection.take(), filter));
        self.accounted += 1;
        Ok(())
    }
}
