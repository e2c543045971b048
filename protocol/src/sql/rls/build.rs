//! Building the pieces the rewriter splices in: predicates, forced values and filtered
//! derived tables, each produced as SQL text and parsed back so the AST is exactly what
//! the dialect's parser yields for it (the round-trip check relies on that).
//!
//! Owns slot markers and the snippets' shapes. Must not decide what is allowed.

use sqlparser::ast::{BinaryOperator, Expr, Ident, Query, SetExpr, TableAlias, TableFactor, Value};
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use super::denied;
use super::policy::{Operator, Policy, PolicyValue, ValueType};
use super::values::{Context, Val};
use crate::error::DbError;
use crate::plan::Dialect;

/// Prefix of every name the rewriter invents; statements containing it are refused.
pub(super) const RESERVED_PREFIX: &str = "_rls_";
/// Marker function standing for a context value in the printed template.
pub(super) const SLOT_PREFIX: &str = "_rls_slot_";

/// The sqlparser dialect for ours.
pub(super) fn sql_dialect(dialect: Dialect) -> Box<dyn SqlDialect> {
    match dialect {
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::MySql => Box::new(MySqlDialect {}),
    }
}

/// The identifier quote character the dialect's SQL uses.
pub(super) fn quote_char(dialect: Dialect) -> char {
    if dialect == Dialect::MySql { '`' } else { '"' }
}

/// The operand of a render-time check.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    /// Known when the template is built.
    Const(Val),
    /// A context value, resolved at render time.
    Slot(usize),
}

/// Context values a template needs, deduplicated.
#[derive(Debug, Default)]
pub(super) struct Slots {
    pub(super) values: Vec<(PolicyValue, ValueType)>,
}

impl Slots {
    /// The SQL text for a policy value: a literal, or a marker for a context value.
    pub(super) fn sql(&mut self, policy: &Policy, dialect: Dialect) -> String {
        match self.operand(policy) {
            Operand::Const(val) => val.to_sql(dialect),
            Operand::Slot(i) => format!("{SLOT_PREFIX}{i}()"),
        }
    }

    /// The policy value as a check operand (registers a slot without writing a marker).
    pub(super) fn operand(&mut self, policy: &Policy) -> Operand {
        if let PolicyValue::Literal(..) = policy.value {
            return Operand::Const(Val::resolve(
                &policy.value,
                policy.value_type,
                &Context::default(),
            ));
        }
        let key = (policy.value.clone(), policy.value_type);
        let i = match self.values.iter().position(|v| *v == key) {
            Some(i) => i,
            None => {
                self.values.push(key);
                self.values.len() - 1
            }
        };
        Operand::Slot(i)
    }
}

fn parser_error(what: &str) -> DbError {
    denied(format!("row-level security could not build {what}"))
}

/// Parses an expression snippet in `dialect`.
pub(super) fn parse_expr(text: &str, dialect: Dialect) -> Result<Expr, DbError> {
    let d = sql_dialect(dialect);
    Parser::new(d.as_ref())
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|_| parser_error("a predicate"))
}

/// Parses a query snippet in `dialect`.
pub(super) fn parse_query(text: &str, dialect: Dialect) -> Result<Box<Query>, DbError> {
    let d = sql_dialect(dialect);
    Parser::new(d.as_ref())
        .try_with_sql(text)
        .and_then(|mut p| p.parse_query())
        .map_err(|_| parser_error("a query"))
}

/// `<qualifier>.<column> <op> <value>` for every policy, ANDed.
pub(super) fn predicates(
    qualifier: &Ident,
    policies: &[&Policy],
    slots: &mut Slots,
    dialect: Dialect,
) -> Result<Expr, DbError> {
    let q = quote_char(dialect);
    let parts: Vec<String> = policies
        .iter()
        .map(|p| {
            format!(
                "{qualifier}.{} {} {}",
                Ident::with_quote(q, p.column.clone()),
                p.operator.as_sql(),
                slots.sql(p, dialect)
            )
        })
        .collect();
    parse_expr(&parts.join(" AND "), dialect)
}

/// `existing AND policy`, with the existing condition parenthesised so `OR` cannot escape.
pub(super) fn and_where(existing: Option<Expr>, policy: Expr) -> Expr {
    match existing {
        None => policy,
        Some(e) => Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(e))),
            op: BinaryOperator::And,
            right: Box::new(Expr::Nested(Box::new(policy))),
        },
    }
}

/// `(SELECT * FROM <table> WHERE <filter>) AS <alias>`: `table` is the original reference
/// without its alias; the alias (or the table's own name) keeps what the query sees.
pub(super) fn filtered_table(
    table: TableFactor,
    alias: TableAlias,
    filter: Expr,
    dialect: Dialect,
) -> Result<TableFactor, DbError> {
    let mut query = parse_query("SELECT * FROM _rls_t WHERE 1 = 1", dialect)?;
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(parser_error("a filtered table"));
    };
    let Some(from) = select.from.first_mut() else {
        return Err(parser_error("a filtered table"));
    };
    from.relation = table;
    select.selection = Some(filter);
    Ok(TableFactor::Derived {
        lateral: false,
        subquery: query,
        alias: Some(alias),
        sample: None,
    })
}

/// The value forced into a policy column. A replaced expression holding a parameter is
/// still evaluated (its value ignored) so positional parameters keep their numbering.
pub(super) fn forced_value(
    original: &Expr,
    value_sql: &str,
    dialect: Dialect,
) -> Result<Expr, DbError> {
    if !has_placeholder(original) {
        return parse_expr(value_sql, dialect);
    }
    let text_type = if dialect == Dialect::MySql {
        "CHAR"
    } else {
        "TEXT"
    };
    let mut expr = parse_expr(
        &format!(
            "CASE WHEN CAST((_rls_x) AS {text_type}) IS NULL THEN {value_sql} ELSE {value_sql} END"
        ),
        dialect,
    )?;
    struct Substitute<'e>(&'e Expr);
    impl sqlparser::ast::VisitorMut for Substitute<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if matches!(expr, Expr::Identifier(i) if i.value == "_rls_x") {
                *expr = self.0.clone();
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = sqlparser::ast::VisitMut::visit(&mut expr, &mut Substitute(original));
    Ok(expr)
}

/// Whether an expression contains a bind parameter anywhere.
pub(super) fn has_placeholder(expr: &Expr) -> bool {
    use sqlparser::ast::Visit;
    struct Finder;
    impl sqlparser::ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_value(
            &mut self,
            value: &sqlparser::ast::ValueWithSpan,
        ) -> std::ops::ControlFlow<()> {
            if matches!(value.value, Value::Placeholder(_)) {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        }
    }
    expr.visit(&mut Finder).is_break()
}

/// The literal an expression denotes, if it is one (`'x'`, `5`, `-5`, `NULL`).
pub(super) fn literal(expr: &Expr) -> Option<Val> {
    match expr {
        Expr::Nested(e) => literal(e),
        Expr::Value(v) => match &v.value {
            Value::Null => Some(Val::Null),
            Value::Number(n, _) => Some(Val::resolve(
                &PolicyValue::Literal(n.clone(), ValueType::Number),
                ValueType::Number,
                &Context::default(),
            ))
            .filter(|v| *v != Val::Null),
            Value::SingleQuotedString(s) => Some(Val::Str(s.clone())),
            _ => None,
        },
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            Val::Num(text, n) => Some(Val::Num(format!("-{text}"), -n)),
            _ => None,
        },
        _ => None,
    }
}

/// `Operator` as it appears in a predicate over forced output columns.
pub(super) fn comparison(left: &str, op: Operator, right: &str) -> String {
    format!("({left}) {} {right}", op.as_sql())
}
