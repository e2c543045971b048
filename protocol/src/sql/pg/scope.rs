//! Name resolution for type inference: which tables, aliases, CTEs and derived tables a
//! query sees, and the columns (with types) each provides.
//!
//! Owns `Scope` and `Col`. Reads the schema only through [`SchemaLookup`]. Must not know
//! how a type is inferred from an expression beyond asking `types::expr_type`.

use sqlparser::ast::{
    Expr, Ident, ObjectName, ObjectNamePart, Query, SelectItem, SetExpr, TableFactor,
    TableWithJoins,
};

use super::SchemaLookup;
use crate::pgtype::PgType;

/// A column a source provides.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Col {
    /// Lowercase name.
    pub(super) name: String,
    /// Its type.
    pub(super) ty: PgType,
    /// True when it is a table column read as is: the frontend reports SQLite's declared
    /// type for such result columns.
    pub(super) plain: bool,
}

/// A table, alias, CTE or derived table in scope.
#[derive(Debug, Clone)]
pub(super) struct Source {
    /// Lowercase alias or table name.
    pub(super) name: String,
    pub(super) cols: Vec<Col>,
}

/// The stack of visible sources and CTEs.
pub(super) struct Scope<'s> {
    schema: &'s dyn SchemaLookup,
    ctes: Vec<Source>,
    frames: Vec<(Vec<Source>, usize)>,
}

/// Recursion guard: inference gives up (Unknown) on queries nested deeper than this.
const MAX_DEPTH: usize = 64;

impl<'s> Scope<'s> {
    pub(super) fn new(schema: &'s dyn SchemaLookup) -> Self {
        Self {
            schema,
            ctes: Vec::new(),
            frames: Vec::new(),
        }
    }

    pub(super) fn depth_ok(&self) -> bool {
        self.frames.len() < MAX_DEPTH
    }

    /// Pushes a query's CTEs and the sources of its body; balanced by [`Scope::pop`].
    pub(super) fn push_query(&mut self, query: &Query) {
        let ctes_before = self.ctes.len();
        if let Some(with) = &query.with
            && self.depth_ok()
        {
            for cte in &with.cte_tables {
                let mut cols = self.query_columns(&cte.query).unwrap_or_default();
                rename(
                    &mut cols,
                    &cte.alias
                        .columns
                        .iter()
                        .map(|c| &c.name)
                        .collect::<Vec<_>>(),
                );
                self.ctes.push(Source {
                    name: cte.alias.name.value.to_ascii_lowercase(),
                    cols,
                });
            }
        }
        let sources = if self.depth_ok() {
            self.body_sources(&query.body)
        } else {
            Vec::new()
        };
        self.frames.push((sources, ctes_before));
    }

    /// Pushes plain sources (a DML statement's target and its FROM/USING tables).
    pub(super) fn push_sources(&mut self, sources: Vec<Source>) {
        let ctes = self.ctes.len();
        self.frames.push((sources, ctes));
    }

    pub(super) fn pop(&mut self) {
        if let Some((_, ctes)) = self.frames.pop() {
            self.ctes.truncate(ctes);
        }
    }

    fn body_sources(&mut self, body: &SetExpr) -> Vec<Source> {
        match body {
            SetExpr::Select(select) => self.sources_of_from(&select.from),
            SetExpr::SetOperation { left, right, .. } => {
                let mut all = self.body_sources(left);
                all.extend(self.body_sources(right));
                all
            }
            SetExpr::Query(q) => self.body_sources(&q.body),
            _ => Vec::new(),
        }
    }

    pub(super) fn sources_of_from(&mut self, from: &[TableWithJoins]) -> Vec<Source> {
        let mut out = Vec::new();
        for twj in from {
            self.factor_sources(&twj.relation, &mut out);
            for join in &twj.joins {
                self.factor_sources(&join.relation, &mut out);
            }
        }
        out
    }

    pub(super) fn factor_sources(&mut self, factor: &TableFactor, out: &mut Vec<Source>) {
        match factor {
            TableFactor::Table { name, alias, .. } => {
                let cols = self.table(name).unwrap_or_default();
                let mut source = Source {
                    name: alias.as_ref().map_or_else(
                        || table_name(name).unwrap_or_default(),
                        |a| a.name.value.to_ascii_lowercase(),
                    ),
                    cols,
                };
                if let Some(alias) = alias {
                    rename(
                        &mut source.cols,
                        &alias.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
                    );
                }
                out.push(source);
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let mut cols = self.query_columns(subquery).unwrap_or_default();
                if let Some(alias) = alias {
                    rename(
                        &mut cols,
                        &alias.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
                    );
                }
                let name = alias
                    .as_ref()
                    .map(|a| a.name.value.to_ascii_lowercase())
                    .unwrap_or_default();
                out.push(Source { name, cols });
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => out.extend(self.sources_of_from(std::slice::from_ref(table_with_joins))),
            _ => {}
        }
    }

    /// The columns of a table or CTE named `name`.
    pub(super) fn table(&self, name: &ObjectName) -> Option<Vec<Col>> {
        let bare = table_name(name)?;
        if let Some(cte) = self.ctes.iter().rev().find(|c| c.name == bare) {
            return Some(cte.cols.clone());
        }
        let cols = self.schema.columns(&bare)?;
        Some(
            cols.iter()
                .map(|c| Col {
                    name: c.name.to_ascii_lowercase(),
                    ty: PgType::from_decl(c.decl.as_deref()),
                    plain: true,
                })
                .collect(),
        )
    }

    /// The column a (possibly qualified) reference names, innermost scope first.
    pub(super) fn resolve(&self, parts: &[Ident]) -> Option<&Col> {
        let (qualifier, column) = match parts {
            [column] => (None, column),
            [.., q, column] => (Some(q.value.to_ascii_lowercase()), column),
            [] => return None,
        };
        let column = column.value.to_ascii_lowercase();
        self.frames.iter().rev().find_map(|(sources, _)| {
            sources
                .iter()
                .filter(|s| qualifier.as_ref().is_none_or(|q| *q == s.name))
                .find_map(|s| s.cols.iter().find(|c| c.name == column))
        })
    }

    /// All columns of the sources in the innermost frame (for `*`), or of one source.
    fn star(&self, qualifier: Option<&str>) -> Vec<Col> {
        let Some((sources, _)) = self.frames.last() else {
            return Vec::new();
        };
        sources
            .iter()
            .filter(|s| qualifier.is_none_or(|q| q == s.name))
            .flat_map(|s| s.cols.iter().cloned())
            .collect()
    }

    /// The result columns of a query; `None` when they cannot be told (an unknown `*`).
    pub(super) fn query_columns(&mut self, query: &Query) -> Option<Vec<Col>> {
        if !self.depth_ok() {
            return None;
        }
        self.push_query(query);
        let cols = self.body_columns(&query.body);
        self.pop();
        cols
    }

    fn body_columns(&mut self, body: &SetExpr) -> Option<Vec<Col>> {
        match body {
            SetExpr::Select(select) => {
                let mut cols = Vec::new();
                for item in &select.projection {
                    cols.extend(self.item_columns(item)?);
                }
                Some(cols)
            }
            SetExpr::SetOperation { left, .. } => self.body_columns(left),
            SetExpr::Query(q) => self.query_columns(q),
            SetExpr::Values(values) => {
                let row = &values.rows.first()?.content;
                Some(
                    row.iter()
                        .enumerate()
                        .map(|(i, e)| {
                            let (ty, _) = super::types::expr_type(self, e);
                            Col {
                                name: format!("column{}", i + 1),
                                ty,
                                plain: false,
                            }
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// The columns one select item yields (several for `*`).
    pub(super) fn item_columns(&mut self, item: &SelectItem) -> Option<Vec<Col>> {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            SelectItem::Wildcard(_) => {
                let cols = self.star(None);
                return (!cols.is_empty()).then_some(cols);
            }
            SelectItem::QualifiedWildcard(kind, _) => {
                let q = kind.to_string().to_ascii_lowercase();
                let q = q.rsplit('.').next().unwrap_or_default().to_owned();
                let cols = self.star(Some(&q));
                return (!cols.is_empty()).then_some(cols);
            }
            SelectItem::ExprWithAliases { .. } => return None,
        };
        let (ty, plain) = super::types::expr_type(self, expr);
        let name = alias.map_or_else(|| expr_name(expr), |a| a.value.to_ascii_lowercase());
        Some(vec![Col { name, ty, plain }])
    }
}

/// Renames columns by a `(a, b, …)` alias list.
fn rename(cols: &mut [Col], names: &[&Ident]) {
    for (col, name) in cols.iter_mut().zip(names) {
        col.name = name.value.to_ascii_lowercase();
    }
}

/// The lowercase table name as the embedded database knows it.
pub(super) fn table_name(name: &ObjectName) -> Option<String> {
    let parts: Vec<&Ident> = name.0.iter().filter_map(ObjectNamePart::as_ident).collect();
    match parts.as_slice() {
        [table] => Some(table.value.to_ascii_lowercase()),
        [schema, table] if schema.value.eq_ignore_ascii_case("information_schema") => Some(
            format!("information_schema_{}", table.value.to_ascii_lowercase()),
        ),
        [.., table] => Some(table.value.to_ascii_lowercase()),
        [] => None,
    }
}

/// The name PostgreSQL gives an unaliased result column.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(id) => id.value.to_ascii_lowercase(),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .map_or_else(String::new, |p| p.value.to_ascii_lowercase()),
        Expr::Function(f) => f.name.0.last().map_or_else(String::new, |p| {
            p.as_ident()
                .map_or_else(String::new, |i| i.value.to_ascii_lowercase())
        }),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => expr_name(expr),
        _ => "?column?".to_owned(),
    }
}
