//! Array constructs over array *values* (catalog columns such as `indkey`, `conkey`,
//! `polroles`): `x = ANY(arr)`, `x <> ALL(arr)`, `arr[i]`, `ARRAY(subquery)`, and the
//! set-returning `unnest(arr)` / `generate_subscripts(arr, 1)` in a select list.
//!
//! Owns their SQLite spelling over the catalog's array helpers: an array is its PostgreSQL
//! text, `starbase_array_json(arr)` turns it into a JSON array for `json_each`,
//! `starbase_array_get(arr, i)` subscripts it (lower bound 0 for `int2vector`, 1 otherwise),
//! and `array_agg` builds one. Must not know how those helpers parse arrays (the catalog
//! does) or array literals `ARRAY[…]` (`operators` turns them into IN lists).

use sqlparser::ast::{
    AccessExpr, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, InTarget, Query,
    Select, SelectItem, SetExpr, Subscript, TableFactor, TableWithJoins,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::functions::{call, function_name};
use super::rewrite::{null, number};

/// Prefix of the `json_each` aliases this module adds to a FROM clause.
const UNNEST_ALIAS: &str = "_sb_unnest";
/// The column name `ARRAY(subquery)` gives the subquery's single output.
const ELEMENT: &str = "_sb_elem";

/// `x = ANY(arr)` → `x IN (SELECT value FROM json_each(starbase_array_json(arr)))`
/// (`NOT IN` for `x <> ALL(arr)`).
pub(super) fn in_array(left: Expr, array: Expr, negated: bool) -> Expr {
    let mut query = template_query(&format!("SELECT value FROM {}", json_each_sql("x")));
    if let SetExpr::Select(select) = query.body.as_mut()
        && let Some(from) = select.from.first_mut()
    {
        set_json_each_arg(&mut from.relation, array);
    }
    Expr::In {
        expr: Box::new(left),
        target: InTarget::Subquery(query),
        negated,
        global: false,
    }
}

/// `arr[i]` → `starbase_array_get(arr, i)`; `None` for other accesses (slices, fields).
pub(super) fn subscript(root: &Expr, chain: &[AccessExpr]) -> Option<Expr> {
    let [path @ .., AccessExpr::Subscript(Subscript::Index { index })] = chain else {
        return None;
    };
    // `i.indkey[0]` parses as `i` with the access chain `.indkey`, `[0]`.
    let array = if path.is_empty() {
        root.clone()
    } else {
        let mut parts = match root {
            Expr::Identifier(id) => vec![id.clone()],
            Expr::CompoundIdentifier(ids) => ids.clone(),
            _ => return None,
        };
        for access in path {
            match access {
                AccessExpr::Dot(Expr::Identifier(id)) => parts.push(id.clone()),
                _ => return None,
            }
        }
        Expr::CompoundIdentifier(parts)
    };
    Some(call("starbase_array_get", vec![array, index.clone()]))
}

/// `ARRAY(SELECT x …)` → `(SELECT array_agg(_sb_elem) FROM (SELECT x AS _sb_elem …))`;
/// `None` unless the subquery is a plain SELECT of one column.
pub(super) fn array_subquery(arguments: &FunctionArguments) -> Option<Expr> {
    let FunctionArguments::Subquery(inner) = arguments else {
        return None;
    };
    let mut inner = inner.clone();
    let SetExpr::Select(select) = inner.body.as_mut() else {
        return None;
    };
    let [item] = select.projection.as_mut_slice() else {
        return None;
    };
    let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) =
        std::mem::replace(item, SelectItem::UnnamedExpr(null()))
    else {
        return None;
    };
    *item = SelectItem::ExprWithAlias {
        expr,
        alias: Ident::new(ELEMENT),
    };
    let mut outer = template_query(&format!(
        "SELECT array_agg({ELEMENT}) FROM (SELECT 1) AS {ELEMENT}s"
    ));
    if let SetExpr::Select(select) = outer.body.as_mut()
        && let Some(from) = select.from.first_mut()
        && let TableFactor::Derived { subquery, .. } = &mut from.relation
    {
        *subquery = inner;
    }
    Some(Expr::Subquery(outer))
}

/// Moves `unnest(arr)` and `generate_subscripts(arr, 1)` out of `select`'s list into its FROM
/// clause as `json_each(starbase_array_json(arr)) AS _sb_unnestN` (one per distinct array,
/// so `unnest(a)` and `generate_subscripts(a, 1)` stay in step, as PostgreSQL zips them);
/// `true` when it moved any.
pub(super) fn select_list_srfs(select: &mut Select) -> bool {
    let mut arrays: Vec<String> = Vec::new();
    let mut added: Vec<TableWithJoins> = Vec::new();
    for item in &mut select.projection {
        let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else {
            continue;
        };
        let Some((array, is_unnest)) = srf_call(expr) else {
            continue;
        };
        let key = array.to_string();
        let n = arrays.iter().position(|a| *a == key).unwrap_or_else(|| {
            arrays.push(key);
            let alias = format!("{UNNEST_ALIAS}{}", arrays.len() - 1);
            added.push(json_each_from(array.clone(), &alias));
            arrays.len() - 1
        });
        let column = |c: &str| {
            Expr::CompoundIdentifier(vec![
                Ident::new(format!("{UNNEST_ALIAS}{n}")),
                Ident::new(c),
            ])
        };
        let replacement = if is_unnest {
            column("value")
        } else {
            Expr::BinaryOp {
                left: Box::new(column("key")),
                op: sqlparser::ast::BinaryOperator::Plus,
                right: Box::new(call("array_lower", vec![array, number("1")])),
            }
        };
        // An unnamed call keeps PostgreSQL's output name (`unnest`, `generate_subscripts`).
        let alias = match item {
            SelectItem::ExprWithAlias { alias, .. } => alias.clone(),
            _ if is_unnest => Ident::new("unnest"),
            _ => Ident::new("generate_subscripts"),
        };
        *item = SelectItem::ExprWithAlias {
            expr: replacement,
            alias,
        };
    }
    let changed = !added.is_empty();
    select.from.extend(added);
    changed
}

/// `unnest(arr)` → (arr, true); `generate_subscripts(arr, 1)` → (arr, false).
fn srf_call(expr: &Expr) -> Option<(Expr, bool)> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<&Expr> = list
        .args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect();
    let name = function_name(f)?;
    match (name.as_str(), args.as_slice()) {
        ("unnest", [array]) => Some(((*array).clone(), true)),
        ("generate_subscripts", [array, dim]) if dim.to_string() == "1" => {
            Some(((*array).clone(), false))
        }
        _ => None,
    }
}

fn json_each_sql(alias: &str) -> String {
    format!("json_each(starbase_array_json(NULL)) AS {alias}")
}

/// `json_each(starbase_array_json(array)) AS alias`, a FROM item.
pub(super) fn json_each_from(array: Expr, alias: &str) -> TableWithJoins {
    let query = template_query(&format!("SELECT 1 FROM {}", json_each_sql(alias)));
    let mut from = match *query.body {
        SetExpr::Select(select) => select.from.into_iter().next(),
        _ => None,
    }
    .expect("invariant: the template selects FROM one relation");
    set_json_each_arg(&mut from.relation, array);
    from
}

fn set_json_each_arg(relation: &mut TableFactor, array: Expr) {
    if let TableFactor::Table {
        args: Some(args), ..
    } = relation
        && let Some(first) = args.args.first_mut()
    {
        *first = FunctionArg::Unnamed(FunctionArgExpr::Expr(call(
            "starbase_array_json",
            vec![array],
        )));
    }
}

/// A query this module spells out; its text is fixed, so it always parses.
fn template_query(sql: &str) -> Box<Query> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_query())
        .expect("invariant: the array templates are valid SQL")
}
