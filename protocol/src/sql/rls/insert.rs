//! INSERT on a restricted table: every new row must satisfy the INSERT policies. `=`
//! policy columns are forced (added when missing), other operators are checked against
//! literals per caller, INSERT … SELECT is wrapped so its output columns are forced, and
//! upserts are refused (they can overwrite or delete another caller's row).
//!
//! Must not know how tables are found inside queries (`rewriter`).

use sqlparser::ast::{
    Ident, Insert, ObjectName, OnConflictAction, OnInsert, SetExpr, SqliteOnConflict, TableObject,
};

use super::build::{self, Operand, quote_char};
use super::denied;
use super::dml::{last_ident, same_column};
use super::policy::{Action, Operator, Policy};
use super::rewriter::{Check, Rewriter, Scope};
use crate::error::DbError;

impl Rewriter<'_> {
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
            self.insert_defaults(ins, &policies, &table)?;
            if ins.returning.is_some() {
                self.check_returning(ins, &name, &policies, &table)?;
            }
            return Ok(());
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
            self.force_values(ins, &policies, &table)?;
        } else {
            self.query(source, &scope)?;
            self.force_select(ins, &policies, &table)?;
        }
        if ins.returning.is_some() {
            self.check_returning(ins, &name, &policies, &table)?;
        }
        Ok(())
    }

    /// As PostgreSQL: rows an INSERT returns must also pass the SELECT policies. Each SELECT
    /// policy column must be forced by an `=` INSERT policy or be a literal in every row.
    fn check_returning(
        &mut self,
        ins: &Insert,
        name: &ObjectName,
        policies: &[Policy],
        table: &str,
    ) -> Result<(), DbError> {
        let reads: Vec<Policy> = match self.target_policies(Action::Select, name)? {
            Some(reads) => reads,
            None => return Ok(()),
        };
        let rows = match ins.source.as_deref().map(|s| s.body.as_ref()) {
            Some(SetExpr::Values(v)) => Some(&v.rows),
            _ => None,
        };
        for read in &reads {
            let right = self.slots.operand(read);
            if let Some(eq) = Self::forced_by(policies, &read.column) {
                let left = self.slots.operand(eq);
                self.checks.push(Check {
                    left,
                    op: read.operator,
                    right,
                    table: table.to_owned(),
                });
                continue;
            }
            let index = ins
                .columns
                .iter()
                .position(|c| same_column(c, &read.column, self.dialect));
            let literals: Option<Vec<_>> = match (index, rows) {
                (Some(i), Some(rows)) => rows
                    .iter()
                    .map(|r| r.content.get(i).and_then(build::literal))
                    .collect(),
                _ => None,
            };
            let Some(literals) = literals else {
                return Err(denied(format!(
                    "permission denied: RETURNING from restricted table \"{table}\" needs \"{}\" as a literal",
                    read.column
                )));
            };
            for lit in literals {
                self.checks.push(Check {
                    left: Operand::Const(lit),
                    op: read.operator,
                    right: right.clone(),
                    table: table.to_owned(),
                });
            }
        }
        Ok(())
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
}
