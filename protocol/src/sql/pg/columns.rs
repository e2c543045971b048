//! Result column types of a statement, when its column list is known from the text (a
//! SELECT list without `*`, or RETURNING).
//!
//! Owns the "plain column reference → Unknown" rule (the frontend reads SQLite's declared
//! type for those). Must not know parameter inference.

use sqlparser::ast::{SelectItem, SetExpr, Statement};

use super::SchemaLookup;
use super::scope::{Col, Scope, Source};
use crate::pgtype::PgType;

/// The inferred type per result column; empty when not determinable.
pub(super) fn result_columns(stmt: &Statement, schema: &dyn SchemaLookup) -> Vec<PgType> {
    let mut scope = Scope::new(schema);
    let cols = match stmt {
        Statement::Query(query) => {
            if has_wildcard(&query.body) {
                return Vec::new();
            }
            scope.query_columns(query)
        }
        Statement::Insert(insert) => {
            let alias = insert.table_alias.as_ref().map(|a| a.alias.value.as_str());
            let sources = target_source(&scope, &insert.table, alias);
            returning(&mut scope, sources, insert.returning.as_deref())
        }
        Statement::Update(update) => {
            let mut sources = Vec::new();
            scope.factor_sources(&update.table.relation, &mut sources);
            returning(&mut scope, sources, update.returning.as_deref())
        }
        Statement::Delete(delete) => {
            let tables = match &delete.from {
                sqlparser::ast::FromTable::WithFromKeyword(t)
                | sqlparser::ast::FromTable::WithoutKeyword(t) => t,
            };
            let sources = scope.sources_of_from(tables);
            returning(&mut scope, sources, delete.returning.as_deref())
        }
        _ => None,
    };
    cols.map(|cols| {
        cols.into_iter()
            .map(|c| if c.plain { PgType::Unknown } else { c.ty })
            .collect()
    })
    .unwrap_or_default()
}

/// The innermost SELECT list of a body has `*`.
fn has_wildcard(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.projection.iter().any(is_wildcard),
        SetExpr::SetOperation { left, .. } => has_wildcard(left),
        SetExpr::Query(q) => has_wildcard(&q.body),
        _ => false,
    }
}

fn is_wildcard(item: &SelectItem) -> bool {
    matches!(
        item,
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
    )
}

/// The DML target as a source.
pub(super) fn target_source(
    scope: &Scope<'_>,
    table: &sqlparser::ast::TableObject,
    alias: Option<&str>,
) -> Vec<Source> {
    let sqlparser::ast::TableObject::TableName(name) = table else {
        return Vec::new();
    };
    let cols = scope.table(name).unwrap_or_default();
    let name = alias.map_or_else(
        || super::scope::table_name(name).unwrap_or_default(),
        str::to_ascii_lowercase,
    );
    vec![Source { name, cols }]
}

fn returning(
    scope: &mut Scope<'_>,
    sources: Vec<Source>,
    items: Option<&[SelectItem]>,
) -> Option<Vec<Col>> {
    let items = items?;
    if items.iter().any(is_wildcard) {
        return None;
    }
    scope.push_sources(sources);
    let mut cols = Vec::new();
    for item in items {
        match scope.item_columns(item) {
            Some(c) => cols.extend(c),
            None => {
                scope.pop();
                return None;
            }
        }
    }
    scope.pop();
    Some(cols)
}
