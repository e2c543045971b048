//! Statement-level rules for writes: the target of an INSERT, UPDATE or DELETE on a
//! restricted table, and the reads each performs (which go through the query walker).
//!
//! Owns forcing policy columns in new rows, `WHERE` filtering of changed rows and the
//! upsert refusals. Must not know how tables are found inside queries (`rewriter`).

use sqlparser::ast::{
    AssignmentTarget, Delete, FromTable, Ident, Insert, ObjectName, OnConflictAction, OnInsert,
    SetExpr, SqliteOnConflict, TableFactor, TableObject, TableWithJoins, Update,
    UpdateTableFromKind,
};

use super::build::{self, Operand, quote_char};
use super::policy::{Action, Operator, Policy};
use super::rewriter::{Check, Rewriter, Scope, split_name};
use super::{denied, no_policy};
use crate::error::DbError;
use crate::plan::Dialect;

fn last_ident(name: &ObjectName) -> Option<&Ident> {
    name.0.last().and_then(|p| p.as_ident())
}

/// Whether a column reference names the policy column (which is always quoted as given):
/// PostgreSQL folds an unquoted reference to lower case first; SQLite and MySQL compare
/// column names case-insensitively.
fn same_column(name: &ObjectName, column: &str, dialect: Dialect) -> bool {
    last_ident(name).is_some_and(|i| match dialect {
        Dialect::Postgres => super::rewriter::name_key(i, dialect) == column,
        Dialect::Sqlite | Dialect::MySql => i.value.eq_ignore_ascii_case(column),
    })
}

impl Rewriter<'_> {
    /// Policies for `action` on a restricted target (`None` when unrestricted).
    fn target_policies(
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

    /// INSERT: reads filtered; new rows in a restricted table forced/checked.
    pub(super) fn insert(&mut self, ins: &mut Insert) -> Result<(), DbError> {
        let TableObject::TableName(name) = &ins.table else {
            return Err(denied("INSERT into a table function is not allowed"));
        };
        let name = name.clone();
        let scope = Scope::new();
        self.nested(&mut ins.on, &scope)?;
        self.nested(&mut ins.returning, &scope)?;
        let Some(policies) = self.target_policies(Action::Insert, &name)? else {
            self.nested(&mut ins.assignments, &scope)?;
            return match &mut ins.source {
                Some(source) => self.query(source, &scope),
                None => Ok(()),
            };
        };
        let table = last_ident(&name)
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let upsert = ins.replace_into
            || ins.or == Some(SqliteOnConflict::Replace)
            || matches!(ins.on, Some(OnInsert::DuplicateKeyUpdate(_)))
            || matches!(&ins.on, Some(OnInsert::OnConflict(c)) if matches!(c.action, OnConflictAction::DoUpdate(_)));
        if upsert {
            return Err(denied(format!(
                "permission denied: upserts on restricted table \"{table}\" are not allowed"
            )));
        }
        if !ins.assignments.is_empty()
            || ins.partitioned.is_some()
            || !ins.after_columns.is_empty()
            || ins.overwrite
            || ins.settings.is_some()
            || ins.format_clause.is_some()
            || ins.insert_alias.is_some()
        {
            return Err(denied(format!(
                "INSERT form is not allowed on restricted table \"{table}\""
            )));
        }
        self.changed = true;
        let Some(source) = &mut ins.source else {
            return self.insert_defaults(ins, &policies, &table);
        };
        if ins.columns.is_empty() {
            return Err(denied(format!(
                "permission denied: INSERT into restricted table \"{table}\" needs a column list"
            )));
        }
        let plain_values = source.with.is_none()
            && source.order_by.is_none()
            && source.limit_clause.is_none()
            && source.fetch.is_none()
            && matches!(source.body.as_ref(), SetExpr::Values(_));
        if plain_values {
            self.nested(source, &scope)?;
            self.force_values(ins, &policies, &table)
        } else {
            self.query(source, &scope)?;
            self.force_select(ins, &policies, &table)
        }
    }

    /// `DEFAULT VALUES` becomes `(<policy columns>) VALUES (<policy values>)`.
    fn insert_defaults(
        &mut self,
        ins: &mut Insert,
        policies: &[Policy],
        table: &str,
    ) -> Result<(), DbError> {
        if !ins.columns.is_empty() || policies.iter().any(|p| p.operator != Operator::Eq) {
            return Err(denied(format!(
                "new row violates row-level security policy for table \"{table}\""
            )));
        }
        let q = quote_char(self.dialect);
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for p in policies {
            if !cols.contains(&p.column.to_lowercase()) {
                cols.push(p.column.to_lowercase());
                ins.columns.push(ObjectName::from(vec![Ident::with_quote(
                    q,
                    p.column.clone(),
                )]));
                vals.push(self.slots.sql(p, self.dialect));
            }
            self.require(p, p, table);
        }
        let values = build::parse_query(&format!("VALUES ({})", vals.join(", ")), self.dialect)?;
        ins.source = Some(values);
        self.checks_for_forced(policies, table);
        Ok(())
    }

    /// A check that the forced value of `eq` satisfies `p` (and is not NULL).
    fn require(&mut self, eq: &Policy, p: &Policy, table: &str) {
        let left = self.slots.operand(eq);
        let right = self.slots.operand(p);
        self.checks.push(Check {
            left,
            op: p.operator,
            right,
            table: table.to_owned(),
        });
    }

    /// The first `=` policy of each column decides the forced value; every policy on that
    /// column must then hold for it.
    fn forced_by<'a>(policies: &'a [Policy], column: &str) -> Option<&'a Policy> {
        policies
            .iter()
            .find(|p| p.operator == Operator::Eq && p.column.eq_ignore_ascii_case(column))
    }

    fn checks_for_forced(&mut self, policies: &[Policy], table: &str) {
        for p in policies {
            if let Some(eq) = Self::forced_by(policies, &p.column)
                && eq != p
            {
                self.require(eq, p, table);
            }
        }
    }

    fn force_values(
        &mut self,
        ins: &mut Insert,
        policies: &[Policy],
        table: &str,
    ) -> Result<(), DbError> {
        let dialect = self.dialect;
        let Some(SetExpr::Values(values)) = ins.source.as_deref_mut().map(|s| s.body.as_mut())
        else {
            return Err(denied("unexpected INSERT source"));
        };
        let q = quote_char(dialect);
        for p in policies {
            let index = ins
                .columns
                .iter()
                .position(|c| same_column(c, &p.column, dialect));
            match (Self::forced_by(policies, &p.column), index) {
                (Some(eq), _) if eq != p => {}
                (Some(eq), None) => {
                    ins.columns.push(ObjectName::from(vec![Ident::with_quote(
                        q,
                        eq.column.clone(),
                    )]));
                    for row in &mut values.rows {
                        let sql = self.slots.sql(eq, dialect);
                        row.content.push(build::parse_expr(&sql, dialect)?);
                    }
                    self.require(eq, eq, table);
                }
                (Some(eq), Some(i)) => {
                    for row in &mut values.rows {
                        let cell = row.content.get_mut(i).ok_or_else(|| {
                            denied("INSERT has more target columns than expressions")
                        })?;
                        let sql = self.slots.sql(eq, dialect);
                        *cell = build::forced_value(cell, &sql, dialect)?;
                    }
                    self.require(eq, eq, table);
                }
                (None, Some(i)) => {
                    for row in &values.rows {
                        let lit = row.content.get(i).and_then(build::literal).ok_or_else(|| {
                            denied(format!(
                                "permission denied: the value of \"{}\" in restricted table \"{table}\" must be a literal",
                                p.column
                            ))
                        })?;
                        let right = self.slots.operand(p);
                        self.checks.push(Check {
                            left: Operand::Const(lit),
                            op: p.operator,
                            right,
                            table: table.to_owned(),
                        });
                    }
                }
                (None, None) => {
                    return Err(denied(format!(
                        "new row violates row-level security policy for table \"{table}\""
                    )));
                }
            }
        }
        self.checks_for_forced(policies, table);
        Ok(())
    }

    /// INSERT … SELECT: `WITH _rls_src(c1..cn) AS (<source>) SELECT <forced> FROM _rls_src
    /// WHERE <other policies>`.
    fn force_select(
        &mut self,
        ins: &mut Insert,
        policies: &[Policy],
        table: &str,
    ) -> Result<(), DbError> {
        let dialect = self.dialect;
        let n = ins.columns.len();
        let cols: Vec<String> = (1..=n).map(|i| format!("_rls_c{i}")).collect();
        let mut items = cols.clone();
        let q = quote_char(dialect);
        for p in policies {
            if let Some(eq) = Self::forced_by(policies, &p.column)
                && eq == p
            {
                let sql = self.slots.sql(eq, dialect);
                match ins
                    .columns
                    .iter()
                    .position(|c| same_column(c, &p.column, dialect))
                {
                    Some(i) => items[i] = sql,
                    None => {
                        ins.columns.push(ObjectName::from(vec![Ident::with_quote(
                            q,
                            p.column.clone(),
                        )]));
                        items.push(sql);
                    }
                }
                self.require(eq, eq, table);
            }
        }
        let mut filters = Vec::new();
        for p in policies {
            if Self::forced_by(policies, &p.column).is_some() {
                continue;
            }
            let Some(i) = ins
                .columns
                .iter()
                .position(|c| same_column(c, &p.column, dialect))
            else {
                return Err(denied(format!(
                    "new row violates row-level security policy for table \"{table}\""
                )));
            };
            let value = self.slots.sql(p, dialect);
            filters.push(build::comparison(&items[i], p.operator, &value));
        }
        self.checks_for_forced(policies, table);
        let where_clause = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        };
        let text = format!(
            "WITH _rls_src({}) AS (SELECT 1) SELECT {} FROM _rls_src{where_clause}",
            cols.join(", "),
            items.join(", ")
        );
        let mut wrapper = build::parse_query(&text, dialect)?;
        let (Some(source), Some(with)) = (ins.source.take(), wrapper.with.as_mut()) else {
            return Err(denied("unexpected INSERT source"));
        };
        let Some(cte) = with.cte_tables.first_mut() else {
            return Err(denied("unexpected INSERT source"));
        };
        cte.query = source;
        ins.source = Some(wrapper);
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
        let filter = self.filter_for(Action::Update, &name, &qualifier)?;
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
        let filter = self.filter_for(Action::Delete, &name, &qualifier)?;
        del.selection = Some(build::and_where(del.selection.take(), filter));
        self.accounted += 1;
        Ok(())
    }
}
