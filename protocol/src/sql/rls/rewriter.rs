//! The query walker: finds every table reference in a query (FROM, joins, derived tables,
//! CTE bodies, set operations, and every subquery nested in any expression) and replaces a
//! reference to a restricted table by a filtered derived table with the same visible name.
//!
//! Owns CTE scoping and table-factor rewriting. Statement-level rules (INSERT, UPDATE,
//! DELETE) live in `dml`; the final completeness check lives in `verify`.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, Select, SetExpr, TableAlias, TableFactor,
    TableWithJoins, VisitMut, VisitorMut,
};

use super::build::{self, Operand, Slots};
use super::policy::{Action, Operator, PolicySet};
use super::{denied, no_policy};
use crate::error::DbError;
use crate::plan::Dialect;

/// Names of the CTEs visible at a point of the query, as [`name_key`] gives them.
pub(super) type Scope = Vec<String>;

/// How the dialect compares an identifier: SQLite folds ASCII case; PostgreSQL folds
/// unquoted identifiers to lower case and keeps quoted ones; MySQL's CTE and table names
/// may be case-sensitive, so only an exact match counts. Used to decide that a reference
/// is certainly a CTE: a near miss is treated as the table (and filtered).
pub(super) fn name_key(ident: &Ident, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => ident.value.to_ascii_lowercase(),
        Dialect::Postgres if ident.quote_style.is_none() => ident.value.to_ascii_lowercase(),
        Dialect::Postgres | Dialect::MySql => ident.value.clone(),
    }
}

/// A check evaluated when a template is rendered: `left op right` must certainly hold
/// (`NULL` never does), else the statement is denied.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Check {
    pub(super) left: Operand,
    pub(super) op: Operator,
    pub(super) right: Operand,
    /// The table the violated check would be reported for.
    pub(super) table: String,
}

/// State of one rewrite.
#[derive(Debug)]
pub(super) struct Rewriter<'p> {
    pub(super) policies: &'p PolicySet,
    pub(super) dialect: Dialect,
    pub(super) slots: Slots,
    pub(super) checks: Vec<Check>,
    /// Restricted-name references the rewrite accounts for: filtered tables it built,
    /// references it resolved to a CTE, and UPDATE/DELETE targets it filtered by `WHERE`.
    pub(super) accounted: usize,
    pub(super) changed: bool,
}

/// Table-valued functions known to read no table.
const HARMLESS_TABLE_FUNCTIONS: &[&str] = &[
    "json_each",
    "json_tree",
    "jsonb_each",
    "jsonb_tree",
    "generate_series",
    "pragma_table_info",
    "pragma_table_xinfo",
    "pragma_index_list",
    "pragma_index_info",
    "pragma_index_xinfo",
    "pragma_foreign_key_list",
    "unnest",
    "json_each_text",
    "jsonb_each_text",
    "json_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "regexp_split_to_table",
    "regexp_matches",
    "string_to_table",
    "generate_subscripts",
];

/// Whether a table-valued function may be called under RLS.
pub(super) fn harmless_table_function(name: &ObjectName) -> bool {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(f)] => HARMLESS_TABLE_FUNCTIONS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&f.value)),
        _ => false,
    }
}

/// `(schema, table)` of a relation name.
///
/// # Errors
/// `42501` for computed name parts or more than three parts.
pub(super) fn split_name(name: &ObjectName) -> Result<(Option<&str>, &Ident), DbError> {
    let idents: Vec<&Ident> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Ok(i),
            ObjectNamePart::Function(_) => Err(denied("computed relation names are not allowed")),
        })
        .collect::<Result<_, _>>()?;
    match idents.as_slice() {
        [t] => Ok((None, t)),
        [s, t] | [_, s, t] => Ok((Some(s.value.as_str()), t)),
        _ => Err(denied(format!("relation name \"{name}\" is not allowed"))),
    }
}

impl<'p> Rewriter<'p> {
    pub(super) fn new(policies: &'p PolicySet, dialect: Dialect) -> Self {
        Self {
            policies,
            dialect,
            slots: Slots::default(),
            checks: Vec::new(),
            accounted: 0,
            changed: false,
        }
    }

    /// The `action` predicates for `[schema.]table`, qualified by `qualifier`.
    ///
    /// # Errors
    /// `42501` when the table has an invalid policy or none for `action`.
    pub(super) fn filter_for(
        &mut self,
        action: Action,
        name: &ObjectName,
        qualifier: &Ident,
    ) -> Result<sqlparser::ast::Expr, DbError> {
        let (schema, table) = split_name(name)?;
        if self.policies.is_invalid(&table.value) {
            return Err(denied(format!(
                "permission denied: restricted table \"{}\" has an invalid policy",
                table.value
            )));
        }
        let applicable = self
            .policies
            .applicable(action, schema, &table.value, self.dialect);
        if applicable.is_empty() {
            return Err(no_policy(action, &table.value));
        }
        self.changed = true;
        build::predicates(qualifier, &applicable, &mut self.slots, self.dialect)
    }

    /// Rewrites a query in the CTE scope `scope`.
    pub(super) fn query(&mut self, q: &mut Query, scope: &Scope) -> Result<(), DbError> {
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return Err(denied(
                "query clause is not allowed under row-level security",
            ));
        }
        let mut full = scope.clone();
        if let Some(with) = &mut q.with {
            let names: Vec<String> = with
                .cte_tables
                .iter()
                .map(|c| name_key(&c.alias.name, self.dialect))
                .collect();
            for (i, cte) in with.cte_tables.iter_mut().enumerate() {
                // A CTE body sees earlier CTEs, and itself only when WITH RECURSIVE. Any
                // other same-named reference is treated as the table (filtered), which at
                // worst filters a CTE too.
                let mut inner = scope.clone();
                inner.extend(names[..i].iter().cloned());
                if with.recursive {
                    inner.push(names[i].clone());
                }
                self.query(&mut cte.query, &inner)?;
            }
            full.extend(names);
        }
        self.set_expr(&mut q.body, &full)?;
        self.nested(&mut q.order_by, &full)?;
        self.nested(&mut q.limit_clause, &full)?;
        self.nested(&mut q.fetch, &full)?;
        self.nested(&mut q.locks, &full)
    }

    fn set_expr(&mut self, body: &mut SetExpr, scope: &Scope) -> Result<(), DbError> {
        match body {
            SetExpr::Select(select) => self.select(select, scope),
            SetExpr::Query(q) => self.query(q, scope),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, scope)?;
                self.set_expr(right, scope)
            }
            SetExpr::Values(values) => self.nested(values, scope),
            SetExpr::Insert(_)
            | SetExpr::Update(_)
            | SetExpr::Delete(_)
            | SetExpr::Merge(_)
            | SetExpr::Table(_) => Err(denied(
                "data-modifying or TABLE subqueries are not allowed under row-level security",
            )),
        }
    }

    fn select(&mut self, select: &mut Select, scope: &Scope) -> Result<(), DbError> {
        if select.into.is_some()
            || !select.lateral_views.is_empty()
            || !select.connect_by.is_empty()
        {
            return Err(denied(
                "SELECT clause is not allowed under row-level security",
            ));
        }
        let mut from = std::mem::take(&mut select.from);
        // Everything but FROM: any subquery nested in any expression is rewritten.
        let rest = self.nested(select, scope);
        let tables = from
            .iter_mut()
            .try_for_each(|t| self.table_with_joins(t, scope));
        select.from = from;
        rest.and(tables)
    }

    pub(super) fn table_with_joins(
        &mut self,
        t: &mut TableWithJoins,
        scope: &Scope,
    ) -> Result<(), DbError> {
        self.table_factor(&mut t.relation, scope)?;
        for join in &mut t.joins {
            self.table_factor(&mut join.relation, scope)?;
            self.nested(&mut join.join_operator, scope)?;
        }
        Ok(())
    }

    fn table_factor(&mut self, factor: &mut TableFactor, scope: &Scope) -> Result<(), DbError> {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => {
                if !harmless_table_function(name) {
                    return Err(denied(format!(
                        "table function \"{name}\" is not allowed under row-level security"
                    )));
                }
                self.nested(factor, scope)
            }
            TableFactor::Table { .. } => self.relation(factor, scope),
            TableFactor::Derived { subquery, .. } => self.query(subquery, scope),
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins, scope),
            TableFactor::UNNEST { array_exprs, .. } => self.nested(array_exprs, scope),
            _ => Err(denied(
                "table expression is not allowed under row-level security",
            )),
        }
    }

    /// A plain table reference: a CTE, an unrestricted table, or a restricted one to filter.
    fn relation(&mut self, factor: &mut TableFactor, scope: &Scope) -> Result<(), DbError> {
        let TableFactor::Table { name, alias, .. } = factor else {
            return Ok(());
        };
        let (schema, table) = split_name(name)?;
        let table = table.clone();
        let unqualified = schema.is_none();
        let restricted = self.policies.is_restricted(&table.value);
        if unqualified && scope.contains(&name_key(&table, self.dialect)) {
            self.accounted += usize::from(restricted);
            return Ok(());
        }
        if !restricted {
            return Ok(());
        }
        let visible = alias.take().unwrap_or_else(|| TableAlias {
            explicit: true,
            name: table.clone(),
            columns: Vec::new(),
            at: None,
        });
        let name = name.clone();
        let filter = self.filter_for(Action::Select, &name, &table)?;
        let inner = factor.clone();
        *factor = build::filtered_table(inner, visible, filter, self.dialect)?;
        self.accounted += 1;
        Ok(())
    }

    /// Rewrites every query nested anywhere inside `node` (outermost ones; each is walked
    /// top-down by [`Rewriter::query`], which handles its own nesting).
    pub(super) fn nested<T: VisitMut>(
        &mut self,
        node: &mut T,
        scope: &Scope,
    ) -> Result<(), DbError> {
        let mut visitor = Nested {
            rw: self,
            scope,
            depth: 0,
        };
        match node.visit(&mut visitor) {
            ControlFlow::Break(e) => Err(e),
            ControlFlow::Continue(()) => Ok(()),
        }
    }
}

struct Nested<'r, 'p> {
    rw: &'r mut Rewriter<'p>,
    scope: &'r Scope,
    depth: usize,
}

impl VisitorMut for Nested<'_, '_> {
    type Break = DbError;

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<DbError> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<DbError> {
        self.depth -= 1;
        if self.depth == 0
            && let Err(e) = self.rw.query(query, self.scope)
        {
            return ControlFlow::Break(e);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<DbError> {
        // Table factors only occur inside queries, which `post_visit_query` walks; one seen
        // outside a query is a shape this walker does not know.
        if self.depth == 0
            && !matches!(
                factor,
                TableFactor::Table { args: Some(_), .. }
                    | TableFactor::Function { .. }
                    | TableFactor::UNNEST { .. }
            )
        {
            return ControlFlow::Break(denied("unexpected table reference"));
        }
        ControlFlow::Continue(())
    }
}
