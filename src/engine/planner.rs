//! Turns decoded frontend requests into plans.
//!
//! Owns the mapping from StarbaseDB's `/query` body to a `protocol::Plan`. Must not know HTTP.

use starbase_protocol::api::query::{QueryItem, QueryRequest};
use starbase_protocol::{Dialect, ExecMode, Plan, Statement};

/// The plan for a `/query` body: one statement, or an all-or-nothing transaction. The SQL is
/// written in `dialect`, the dialect of the backend the request targets.
#[must_use]
pub fn plan_query(request: QueryRequest, dialect: Dialect) -> Plan {
    let statement = |item: QueryItem| Statement::new(item.sql, dialect, item.params);
    match request {
        QueryRequest::Single(item) => Plan {
            mode: ExecMode::Single,
            steps: vec![statement(item)],
        },
        QueryRequest::Transaction(items) => Plan {
            mode: ExecMode::Transaction,
            steps: items.into_iter().map(statement).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use starbase_protocol::{Params, StmtKind};

    #[test]
    fn single_and_transaction_plans() {
        let item = |sql: &str| QueryItem {
            sql: sql.into(),
            params: Params::None,
        };
        let plan = plan_query(QueryRequest::Single(item("SELECT 1")), Dialect::Sqlite);
        assert_eq!(plan.mode, ExecMode::Single);
        assert!(plan.is_read_only());
        let plan = plan_query(
            QueryRequest::Transaction(vec![item("INSERT INTO t VALUES (1)"), item("SELECT 1")]),
            Dialect::Postgres,
        );
        assert_eq!(plan.mode, ExecMode::Transaction);
        assert_eq!(plan.steps[0].kind, StmtKind::Write);
        assert_eq!(plan.steps[1].dialect, Dialect::Postgres);
        assert!(!plan.is_read_only());
    }
}
