//! The completeness check run on every rewritten statement, independent of the walker:
//! a generic visit of the whole AST that counts every reference to a restricted table
//! name, rejects views that read restricted tables, unknown table functions and functions
//! that run SQL text or touch files, and collects the relations the statement touches.
//!
//! Owns the second opinion only. Must not rewrite anything.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Statement, TableFactor, TableObject, Visit, Visitor};

use super::denied;
use super::policy::PolicySet;
use super::relations::Relations;
use super::rewriter::harmless_table_function;
use crate::error::DbError;

/// Scalar functions that run SQL given as text, or read or write files or extensions:
/// they could read a restricted table behind the rewriter's back.
const DANGEROUS_FUNCTIONS: &[&str] = &[
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "table_to_xml",
    "table_to_xmlschema",
    "table_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "schema_to_xml",
    "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema",
    "database_to_xml",
    "database_to_xmlschema",
    "database_to_xml_and_xmlschema",
    "dblink",
    "dblink_exec",
    "dblink_open",
    "dblink_fetch",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "lo_import",
    "lo_export",
    "lo_get",
    "set_config",
    "load_file",
    "sys_exec",
    "sys_eval",
];

/// Relations that expose other rows' values without naming their table: raw pages,
/// statistics samples and histograms, other sessions' statement texts (best effort; the
/// external backends should also run client statements under a role without access).
const DANGEROUS_RELATIONS: &[&str] = &[
    "sqlite_dbpage",
    "sqlite_stat3",
    "sqlite_stat4",
    "pg_statistic",
    "pg_stats",
    "pg_stats_ext",
    "pg_stats_ext_exprs",
    "pg_statistic_ext_data",
    "pg_stat_activity",
    "pg_stat_statements",
    "column_statistics",
    "processlist",
];

/// MySQL schemas with other sessions' statements and server internals.
const DANGEROUS_SCHEMAS: &[&str] = &["performance_schema", "sys", "mysql"];

/// What the verification found.
#[derive(Debug)]
pub(super) struct Verified {
    /// Every relation name the statement references, lowercased, without schema (CTE
    /// names included), plus the relations of referenced views.
    pub(super) tables: BTreeSet<String>,
    /// References to restricted table names.
    pub(super) restricted_refs: usize,
}

/// Runs the check over `stmt`.
///
/// # Errors
/// `42501` for a view reading a restricted table, an unknown table function, a dangerous
/// function, or a computed relation name.
pub(super) fn verify(
    stmt: &Statement,
    policies: &PolicySet,
    relations: &Relations,
) -> Result<Verified, DbError> {
    let mut v = Verifier {
        policies,
        relations,
        found: Verified {
            tables: BTreeSet::new(),
            restricted_refs: 0,
        },
    };
    if let Statement::Insert(ins) = stmt
        && let TableObject::TableName(name) = &ins.table
    {
        v.relation_name(name)?;
    }
    if let Statement::Delete(del) = stmt {
        for name in &del.tables {
            v.relation_name(name)?;
        }
    }
    match stmt.visit(&mut v) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(v.found),
    }
}

struct Verifier<'a> {
    policies: &'a PolicySet,
    relations: &'a Relations,
    found: Verified,
}

impl Verifier<'_> {
    /// Records a relation name; returns whether it is a restricted table name.
    fn relation_name(&mut self, name: &sqlparser::ast::ObjectName) -> Result<bool, DbError> {
        let (schema, table) = super::rewriter::split_name(name)?;
        let lower = table.value.to_ascii_lowercase();
        let schema = schema.map(str::to_ascii_lowercase);
        if DANGEROUS_RELATIONS.contains(&lower.as_str())
            || schema.is_some_and(|s| DANGEROUS_SCHEMAS.contains(&s.as_str()))
        {
            return Err(denied(format!(
                "relation \"{}\" is not allowed",
                table.value
            )));
        }
        let restricted = self.policies.is_restricted(&lower);
        if let Some(reads) = self.relations.view_reads(&lower) {
            if !restricted && reads.iter().any(|r| self.policies.is_restricted(r)) {
                return Err(denied(format!(
                    "permission denied: view \"{}\" reads a restricted table and has no policy of its own",
                    table.value
                )));
            }
            self.found.tables.extend(reads.iter().cloned());
        }
        self.found.tables.insert(lower);
        Ok(restricted)
    }
}

impl Visitor for Verifier<'_> {
    type Break = DbError;

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<DbError> {
        let outcome = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => {
                if harmless_table_function(name) {
                    Ok(())
                } else {
                    Err(denied(format!("table function \"{name}\" is not allowed")))
                }
            }
            TableFactor::Table { name, .. } => self.relation_name(name).map(|restricted| {
                self.found.restricted_refs += usize::from(restricted);
            }),
            TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. } => Ok(()),
            _ => Err(denied(
                "table expression is not allowed under row-level security",
            )),
        };
        match outcome {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<DbError> {
        if let Expr::Function(f) = expr
            && let Some(last) = f.name.0.last().and_then(|p| p.as_ident())
            && DANGEROUS_FUNCTIONS
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&last.value))
        {
            return ControlFlow::Break(denied(format!(
                "function \"{}\" is not allowed under row-level security",
                last.value
            )));
        }
        ControlFlow::Continue(())
    }
}
