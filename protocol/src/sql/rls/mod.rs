//! Row-level security: rewrites one client statement so that it can only read and change
//! the rows its caller's policies allow, or refuses it with `42501`.
//!
//! Pure and backend-agnostic: it sees SQL text, the [`PolicySet`], what the caller knows
//! about views ([`Relations`]) and the caller's [`Context`]. It must not know where
//! policies are stored, which frontend asked, or how the statement is executed.
//!
//! How it holds (and where StarbaseDB's leaks):
//! - every reference to a restricted table, wherever it appears (FROM, joins, derived
//!   tables, CTE bodies, set-operation arms, subqueries in any expression, INSERT sources,
//!   UPDATE … FROM, DELETE … USING, RETURNING), becomes
//!   `(SELECT * FROM t WHERE <SELECT predicates ANDed>) AS <alias or t>`, so aliases and
//!   CTEs cannot dodge it; CTE names shadow tables only where every dialect agrees;
//! - UPDATE/DELETE targets get their action's predicates ANDed onto a parenthesised
//!   `WHERE`; INSERT forces `=` policy columns and checks the other operators;
//! - upserts (`INSERT OR REPLACE`, `REPLACE`, `ON CONFLICT DO UPDATE`, `ON DUPLICATE KEY
//!   UPDATE`, `UPDATE OR REPLACE`) on restricted tables are denied: they can overwrite or
//!   delete another caller's row;
//! - anything else (DDL, ATTACH, other PRAGMAs, several statements, unparsable text,
//!   unknown table functions, views reading restricted tables without policies) is
//!   denied; a generic second visit counts every restricted reference and denies when the
//!   walker did not account for one; the printed statement must parse back to the same
//!   AST, so the backend runs exactly what was analysed;
//! - context values are never spliced raw: templates hold slots rendered as quoted,
//!   escaped literals (missing values are `NULL`, which matches nothing).
//!
//! Differences from StarbaseDB (§8 of the spec), user-visible:
//! - policies with a `schema` match (`main`/`public`/the MySQL database, or unqualified
//!   references); `value_type = 'number'` renders numbers unquoted;
//! - an INSERT into a restricted table needs an explicit column list; an `=` policy column
//!   missing from it is added; a replaced `?` is still evaluated so later `?` keep their
//!   positions; other operators need literals that satisfy them (checked per caller);
//! - an UPDATE may set a policy column only to a literal its UPDATE policy allows;
//! - … RETURNING on a restricted table also needs (and applies) its SELECT policies, as
//!   PostgreSQL does, so RETURNING cannot show rows the caller cannot read (for INSERT the
//!   returned rows' policy columns must be forced or literal, checked per caller);
//! - a row forced to a `NULL` policy value (no `sub`, missing claim) is refused.
//!
//! Known limits (all fail closed): `rowid` is not visible through the filter; a
//! schema-qualified column reference (`main.todos.id`) to a filtered table fails;
//! `WITH … INSERT/UPDATE/DELETE` and multi-table UPDATE/DELETE of restricted tables are
//! refused. Outside the rewriter's sight: views not described in [`Relations`],
//! user-defined functions that read tables (SQLite has none unless the host registers
//! them; PostgreSQL/MySQL backends should run client statements under a role without
//! such functions) and `ON CONFLICT REPLACE` declared in a table's schema. There is no
//! optimisation fence: SQLite evaluates the policy terms of a flattened filter before the
//! client's (the corpus holds error-oracle cases to catch a change).

mod build;
mod cache;
mod dml;
mod insert;
mod policy;
mod pragma;
mod relations;
mod rewriter;
mod template;
mod values;
mod verify;

#[cfg(test)]
mod tests;

use sqlparser::ast::{Statement, Value, VisitMut, VisitorMut};
use sqlparser::parser::Parser;

pub use cache::{DEFAULT_RLS_CACHE_ENTRIES, MAX_CACHED_SQL_BYTES, RlsCache};
pub use policy::{Action, Operator, Policy, PolicyRow, PolicySet, PolicyValue, ValueType};
pub use relations::Relations;
pub use template::{Rewritten, Template};
pub use values::{Context, quote_string};

use crate::error::DbError;
use crate::plan::Dialect;
use crate::sqlstate::SqlState;

/// `42501` with `message`.
fn denied(message: impl Into<String>) -> DbError {
    DbError::new(SqlState::INSUFFICIENT_PRIVILEGE, message)
}

/// `42501`: a restricted table has no policy for `action`.
fn no_policy(action: Action, table: &str) -> DbError {
    denied(format!(
        "permission denied: no policy allows {action} on restricted table \"{table}\""
    ))
}

/// SQLite PRAGMAs that only read the schema.
const CATALOG_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
];

/// Rewrites `sql` for the caller in `ctx` (no cache; see [`RlsCache`]).
///
/// Call it for client statements when RLS is enabled, even with an empty [`PolicySet`]
/// (statements outside the allowed kinds are still refused); admins bypass it.
///
/// # Examples
/// ```
/// use starbase_protocol::Dialect;
/// use starbase_protocol::sql::rls::{Context, Policy, PolicySet, Relations, rewrite};
///
/// let select = Policy::from_row("SELECT", None, "todos", "user_id", "context.id()", "string", None)?;
/// let policies = PolicySet::new(vec![select], vec![]);
/// let ctx = Context { subject: Some("u1"), claims: None };
/// let out = rewrite("SELECT * FROM todos t WHERE 1 OR 1", Dialect::Sqlite, &policies, &Relations::empty(), &ctx)?;
/// assert_eq!(
///     out.sql,
///     r#"SELECT * FROM (SELECT * FROM todos WHERE todos."user_id" = 'u1') t WHERE 1 OR 1"#
/// );
/// assert!(rewrite("DROP TABLE todos", Dialect::Sqlite, &policies, &Relations::empty(), &ctx).is_err());
/// # Ok::<(), starbase_protocol::DbError>(())
/// ```
///
/// # Errors
/// `42501` when the statement is not allowed under row-level security, cannot be fully
/// analysed, touches a restricted table without a policy for its action, or writes a row
/// outside the caller's scope.
pub fn rewrite(
    sql: &str,
    dialect: Dialect,
    policies: &PolicySet,
    relations: &Relations,
    ctx: &Context<'_>,
) -> Result<Rewritten, DbError> {
    build_template(sql, dialect, policies, relations)?.render(ctx)
}

/// Analyses and rewrites `sql` into a [`Template`] independent of the caller's context.
///
/// # Errors
/// As [`rewrite`], except the render-time checks.
pub fn build_template(
    sql: &str,
    dialect: Dialect,
    policies: &PolicySet,
    relations: &Relations,
) -> Result<Template, DbError> {
    if sql.to_ascii_lowercase().contains(build::RESERVED_PREFIX) {
        return Err(denied(
            "statement uses a name reserved by row-level security",
        ));
    }
    // SQLite stops reading a statement at a NUL byte; refuse rather than reason about it.
    if sql.contains('\0') {
        return Err(denied("statement contains a NUL character"));
    }
    if dialect == Dialect::Sqlite && pragma::is_pragma(sql) {
        let text = pragma::catalog(sql)?;
        return Template::from_printed(
            &text,
            Vec::new(),
            Vec::new(),
            Default::default(),
            false,
            dialect,
            0,
        );
    }
    let mut stmt = parse_one(sql, dialect)?;
    let mut rw = rewriter::Rewriter::new(policies, dialect);
    statement(&mut rw, &mut stmt)?;
    let found = verify::verify(&stmt, policies, relations)?;
    if found.restricted_refs != rw.accounted {
        return Err(denied(
            "row-level security could not account for every reference to a restricted table",
        ));
    }
    let markers = count_markers(&stmt);
    let printed = print(&stmt, dialect);
    if parse_one(&printed, dialect).ok().as_ref() != Some(&stmt) {
        return Err(denied(
            "row-level security could not re-print the statement faithfully",
        ));
    }
    Template::from_printed(
        &printed,
        rw.slots.values,
        rw.checks,
        found.tables,
        rw.changed,
        dialect,
        markers,
    )
}

fn parse_one(sql: &str, dialect: Dialect) -> Result<Statement, DbError> {
    let d = build::sql_dialect(dialect);
    let mut parsed = Parser::new(d.as_ref())
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|_| denied("statement could not be analysed for row-level security"))?;
    match parsed.len() {
        1 => Ok(parsed.remove(0)),
        0 => Err(denied("empty statement under row-level security")),
        _ => Err(denied(
            "only one statement at a time is allowed under row-level security",
        )),
    }
}

fn statement(rw: &mut rewriter::Rewriter<'_>, stmt: &mut Statement) -> Result<(), DbError> {
    match stmt {
        Statement::Query(q) => rw.query(q, &rewriter::Scope::new()),
        Statement::Insert(ins) => rw.insert(ins),
        Statement::Update(upd) => rw.update(upd),
        Statement::Delete(del) => rw.delete(del),
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => Ok(()),
        Statement::Pragma {
            name, is_eq: false, ..
        } if rw.dialect == Dialect::Sqlite
            && name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| {
                CATALOG_PRAGMAS
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(&i.value))
            }) =>
        {
            Ok(())
        }
        _ => Err(denied("statement is not allowed under row-level security")),
    }
}

/// How many slot-marker calls (`_rls_slot_N()`, unquoted) the statement holds.
fn count_markers(stmt: &Statement) -> usize {
    struct Count(usize);
    impl sqlparser::ast::Visitor for Count {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &sqlparser::ast::Expr) -> std::ops::ControlFlow<()> {
            if let sqlparser::ast::Expr::Function(f) = expr
                && let [sqlparser::ast::ObjectNamePart::Identifier(name)] = f.name.0.as_slice()
                && name.quote_style.is_none()
                && name.value.starts_with(build::SLOT_PREFIX)
            {
                self.0 += 1;
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut count = Count(0);
    let _ = sqlparser::ast::Visit::visit(stmt, &mut count);
    count.0
}

/// Prints the statement; for MySQL, backslashes in string literals are doubled because
/// sqlparser unescapes them when parsing but does not escape them when printing.
fn print(stmt: &Statement, dialect: Dialect) -> String {
    if dialect != Dialect::MySql {
        return stmt.to_string();
    }
    struct Escape;
    impl VisitorMut for Escape {
        type Break = ();
        fn pre_visit_value(
            &mut self,
            value: &mut sqlparser::ast::ValueWithSpan,
        ) -> std::ops::ControlFlow<()> {
            if let Value::SingleQuotedString(s)
            | Value::DoubleQuotedString(s)
            | Value::NationalStringLiteral(s) = &mut value.value
            {
                *s = s.replace('\\', "\\\\");
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut copy = stmt.clone();
    let _ = copy.visit(&mut Escape);
    copy.to_string()
}
