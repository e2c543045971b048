//! Set-returning functions in a FROM clause: `generate_series(a, b) AS s`, `… AS s(r)` and
//! `unnest(arr) AS t(x)`.
//!
//! Owns their SQLite spelling: SQLite's table-valued functions (`generate_series`, and
//! `json_each` over `starbase_array_json(arr)` for `unnest`) name their output column
//! `value` and take no column aliases, so the alias list is dropped and every reference to
//! the function's output (`s`, `s.r`, `r`, `t.x`, `x`) becomes `alias.value`. Must not know
//! array text (the catalog's helpers parse it) or select-list set-returning functions
//! (`arrays`).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, ObjectName, ObjectNamePart, Select, SelectItem,
    SetExpr, TableAlias, TableFactor, visit_expressions_mut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::arrays::json_each_from;
use super::functions::call;

/// A function in FROM and the names its output column goes by.
struct Output {
    alias: String,
    column: Option<String>,
}

/// Rewrites the set-returning functions of `select`'s FROM clause and the references to
/// their output; `true` when it changed anything.
pub(super) fn rewrite(select: &mut Select) -> bool {
    let mut outputs = Vec::new();
    for from in &mut select.from {
        rewrite_factor(&mut from.relation, &mut outputs);
        for join in &mut from.joins {
            rewrite_factor(&mut join.relation, &mut outputs);
        }
    }
    if outputs.is_empty() {
        return false;
    }
    let _ = visit_expressions_mut(select, |e| {
        if let Some(new) = reference(e, &outputs) {
            *e = new;
        }
        ControlFlow::<()>::Continue(())
    });
    true
}

fn rewrite_factor(factor: &mut TableFactor, outputs: &mut Vec<Output>) {
    if rewrite_unnest(factor, outputs) {
        return;
    }
    rewrite_table_function(factor, outputs);
}

/// `unnest(arr) [AS t(x)]`, which sqlparser reads as its own kind of FROM item.
fn rewrite_unnest(factor: &mut TableFactor, outputs: &mut Vec<Output>) -> bool {
    if let TableFactor::UNNEST {
        alias,
        array_exprs,
        with_offset: false,
        with_ordinality: false,
        ..
    } = factor
        && let [array] = array_exprs.as_slice()
    {
        let name = alias.as_ref().map_or("unnest", |a| a.name.value.as_str());
        let column = alias
            .as_ref()
            .and_then(|a| a.columns.first())
            .map(|c| c.name.value.clone());
        outputs.push(Output {
            alias: name.to_owned(),
            column,
        });
        *factor = json_each_from(array.clone(), name).relation;
        return true;
    }
    false
}

/// `generate_series(…)`, `pg_partition_ancestors(…)` and `unnest(…)` read as table
/// functions.
fn rewrite_table_function(factor: &mut TableFactor, outputs: &mut Vec<Output>) {
    let TableFactor::Table {
        name,
        args: Some(args),
        alias,
        ..
    } = factor
    else {
        return;
    };
    let Some(function) = last_name(name) else {
        return;
    };
    if function == "pg_partition_ancestors"
        && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(relation))] = args.args.as_slice()
    {
        *factor = partition_ancestors(relation.clone(), alias.as_ref());
        return;
    }
    match function.as_str() {
        "generate_series" => *name = ObjectName::from(vec![Ident::new("generate_series")]),
        "unnest" if args.args.len() == 1 => {
            *name = ObjectName::from(vec![Ident::new("json_each")]);
            if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(array))) = args.args.first_mut()
            {
                *array = call("starbase_array_json", vec![array.clone()]);
            }
        }
        _ => return,
    }
    let table_alias = alias.get_or_insert_with(|| TableAlias {
        explicit: true,
        name: Ident::new(function.clone()),
        columns: Vec::new(),
        at: None,
    });
    let column = table_alias.columns.first().map(|c| c.name.value.clone());
    table_alias.columns.clear();
    outputs.push(Output {
        alias: table_alias.name.value.clone(),
        column,
    });
}

/// `pg_partition_ancestors(rel) [WITH ORDINALITY] AS a(relid, depth)`: SQLite has no
/// partitions, so a relation's only ancestor is itself, at depth 1:
/// `(SELECT rel AS relid, 1 AS depth) AS a`.
fn partition_ancestors(relation: Expr, alias: Option<&TableAlias>) -> TableFactor {
    let column = |i: usize, default: &str| {
        alias
            .and_then(|a| a.columns.get(i))
            .map_or_else(|| Ident::new(default), |c| c.name.clone())
    };
    let name = alias.map_or_else(|| Ident::new("pg_partition_ancestors"), |a| a.name.clone());
    let sql = format!(
        "SELECT 1 FROM (SELECT NULL AS {}, 1 AS {}) AS {name}",
        column(0, "relid"),
        column(1, "ordinality")
    );
    let query = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
        .expect("invariant: the ancestors subquery is valid SQL");
    let mut factor = match *query.body {
        SetExpr::Select(select) => select.from.into_iter().next().map(|f| f.relation),
        _ => None,
    }
    .expect("invariant: the template selects FROM one subquery");
    if let TableFactor::Derived { subquery, .. } = &mut factor
        && let SetExpr::Select(inner) = subquery.body.as_mut()
        && let Some(SelectItem::ExprWithAlias { expr, .. }) = inner.projection.first_mut()
    {
        *expr = relation;
    }
    factor
}

fn last_name(name: &ObjectName) -> Option<String> {
    name.0
        .last()
        .and_then(ObjectNamePart::as_ident)
        .map(|i| i.value.to_ascii_lowercase())
}

/// `alias.value` for an expression naming a function's output.
fn reference(e: &Expr, outputs: &[Output]) -> Option<Expr> {
    let value_of = |o: &Output| {
        Expr::CompoundIdentifier(vec![Ident::new(o.alias.clone()), Ident::new("value")])
    };
    match e {
        Expr::Identifier(id) => outputs
            .iter()
            .find(|o| o.alias == id.value || o.column.as_deref() == Some(id.value.as_str()))
            .map(value_of),
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [table, column] => outputs
                .iter()
                .find(|o| o.alias == table.value && o.column.as_deref() == Some(&column.value))
                .map(value_of),
            _ => None,
        },
        _ => None,
    }
}
