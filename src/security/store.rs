//! The allowlist and the row-level-security policies, kept in the metadata database.
//!
//! Owns the tables (`tmp_allowlist_queries`, `tmp_allowlist_rejections`, `tmp_rls_policies`,
//! in StarbaseDB's shapes so its management SQL carries over) and the in-memory snapshot
//! every request reads: the allowed statement shapes per source and the parsed policy set.
//! The snapshot is rebuilt after every change made through the gateway. Must not know how
//! statements are checked or rewritten.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use starbase_backends::ResultStream;
use starbase_backends::sqlite::ExecOptions;
use starbase_protocol::sql::rls::{PolicyRow, PolicySet};
use starbase_protocol::sql::shape::statement_shape;
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, Row, Statement, Value};

use crate::engine::collect_rows;
use crate::meta::MetaDb;

/// The tables, as StarbaseDB creates them.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tmp_allowlist_queries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, sql_statement TEXT NOT NULL, source TEXT DEFAULT 'external');
CREATE TABLE IF NOT EXISTS tmp_allowlist_rejections (
  id INTEGER PRIMARY KEY AUTOINCREMENT, sql_statement TEXT NOT NULL, source TEXT DEFAULT 'external',
  created_at TEXT DEFAULT (datetime('now')));
CREATE TABLE IF NOT EXISTS tmp_rls_policies (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "actions" TEXT NOT NULL CHECK(actions IN ('SELECT','UPDATE','INSERT','DELETE')),
  "schema" TEXT, "table" TEXT NOT NULL, "column" TEXT NOT NULL,
  "value" TEXT NOT NULL, "value_type" TEXT NOT NULL DEFAULT 'string', "operator" TEXT DEFAULT '=');
"#;

/// Rejections kept; older ones are deleted as new ones arrive.
const MAX_REJECTIONS: i64 = 10_000;

/// The names of the policy tables (lowercase).
pub const POLICY_TABLES: [&str; 3] = [
    "tmp_allowlist_queries",
    "tmp_allowlist_rejections",
    "tmp_rls_policies",
];

/// What requests check against, as of the last change.
#[derive(Debug)]
pub struct Snapshot {
    /// `(source, dialect, shape)` of every allowlist entry.
    allowed: HashSet<(String, Dialect, String)>,
    /// Every policy; tables whose policy rows are invalid are denied entirely.
    pub policies: Arc<PolicySet>,
    /// Every restricted table (lowercase, without schema).
    pub protected: Arc<BTreeSet<String>>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            allowed: HashSet::new(),
            policies: Arc::new(PolicySet::new(Vec::new(), Vec::new())),
            protected: Arc::default(),
        }
    }
}

impl Snapshot {
    /// Whether a statement of `shape` in `dialect` is allowed on `source`.
    #[must_use]
    pub fn allows(&self, source: &str, dialect: Dialect, shape: &str) -> bool {
        self.allowed
            .contains(&(source.to_ascii_lowercase(), dialect, shape.to_owned()))
    }
}

/// The policy tables and their snapshot.
#[derive(Debug)]
pub struct PolicyStore {
    meta: MetaDb,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl PolicyStore {
    /// Creates the tables when missing and loads them.
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn open(meta: MetaDb) -> Result<Self, DbError> {
        let store = Self {
            meta,
            snapshot: RwLock::new(Arc::default()),
        };
        store.run(SCHEMA, Vec::new()).await?;
        store.reload().await?;
        Ok(store)
    }

    /// The current snapshot.
    #[must_use]
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Re-reads both tables into a new snapshot. An entry whose text cannot be read allows
    /// nothing; a policy row that is invalid denies everything on its table (fail closed).
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn reload(&self) -> Result<(), DbError> {
        let entries = self
            .run(
                "SELECT sql_statement, coalesce(source, 'external') FROM tmp_allowlist_queries",
                Vec::new(),
            )
            .await?;
        let mut allowed = HashSet::new();
        for row in &entries {
            let (Some(sql), Some(source)) = (text(row, 0), text(row, 1)) else {
                continue;
            };
            for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
                match statement_shape(&sql, dialect) {
                    Ok(shape) => {
                        allowed.insert((source.to_ascii_lowercase(), dialect, shape));
                    }
                    Err(e) => tracing::warn!(sql, error = %e.message, "unreadable allowlist entry"),
                }
            }
        }
        let rows = self
            .run(
                r#"SELECT actions, "schema", "table", "column", value, value_type, operator
                   FROM tmp_rls_policies ORDER BY id"#,
                Vec::new(),
            )
            .await?;
        let rows: Vec<PolicyRow> = rows
            .iter()
            .map(|row| PolicyRow {
                actions: text(row, 0).unwrap_or_default(),
                schema: text(row, 1),
                table: text(row, 2).unwrap_or_default(),
                column: text(row, 3).unwrap_or_default(),
                value: text(row, 4).unwrap_or_default(),
                value_type: text(row, 5),
                operator: text(row, 6),
            })
            .collect();
        let protected: BTreeSet<String> = rows
            .iter()
            .map(|r| r.table.trim().to_ascii_lowercase())
            .collect();
        let policies = PolicySet::from_rows(rows);
        for (_, table) in policies.invalid_tables() {
            tracing::warn!(
                table,
                "a policy of this table is invalid: the table is denied"
            );
        }
        let snapshot = Snapshot {
            allowed,
            policies: Arc::new(policies),
            protected: Arc::new(protected),
        };
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        Ok(())
    }

    /// Records a statement the allowlist refused.
    pub async fn record_rejection(&self, sql: &str, source: &str) {
        let plan = Plan {
            mode: ExecMode::Transaction,
            steps: vec![
                Statement::new(
                    "INSERT INTO tmp_allowlist_rejections (sql_statement, source) VALUES (?, ?)",
                    Dialect::Sqlite,
                    Params::Positional(vec![
                        Value::Text(sql.to_owned()),
                        Value::Text(source.to_owned()),
                    ]),
                ),
                Statement::new(
                    "DELETE FROM tmp_allowlist_rejections \
                     WHERE id <= (SELECT max(id) FROM tmp_allowlist_rejections) - ?",
                    Dialect::Sqlite,
                    Params::Positional(vec![Value::Int(MAX_REJECTIONS)]),
                ),
            ],
        };
        if let Err(e) = self.run_plan(plan).await {
            tracing::warn!(error = %e.message, "could not record an allowlist rejection");
        }
    }

    /// Runs an admin's plan on the policy tables and reloads the snapshot when it may have
    /// changed them. The result is collected (these tables are small) so the reload sees
    /// the committed change before the admin gets the answer.
    ///
    /// # Errors
    /// The plan's error.
    pub async fn execute_admin(&self, plan: Plan) -> Result<ResultStream, DbError> {
        let writes = !plan.is_read_only();
        let mut stream = self.stream(plan).await?;
        let mut events = Vec::new();
        let mut failed = false;
        while let Some(event) = stream.recv().await {
            failed |= event.is_err();
            events.push(event);
        }
        if writes && !failed {
            self.reload().await?;
        }
        let (tx, rx) = ResultStream::channel(1);
        // The receiver is ours until we return it: the send cannot fail.
        let _ = tx.send(events).await;
        Ok(rx)
    }

    pub(super) async fn run(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        self.run_plan(Plan {
            mode: ExecMode::Single,
            steps: vec![Statement::new(
                sql,
                Dialect::Sqlite,
                Params::Positional(params),
            )],
        })
        .await
    }

    async fn run_plan(&self, plan: Plan) -> Result<Vec<Row>, DbError> {
        collect_rows(self.stream(plan).await?).await
    }

    async fn stream(&self, plan: Plan) -> Result<ResultStream, DbError> {
        self.meta
            .backend()
            .execute(plan, ExecOptions::default())
            .await
            .map_err(|e| e.to_db_error())
    }
}

/// Column `i` of `row` as text (`None` for NULL).
pub(super) fn text(row: &Row, i: usize) -> Option<String> {
    match row.get(i)? {
        Value::Null => None,
        Value::Text(s) | Value::Numeric(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Json(j) => Some(j.to_string()),
        other => Some(format!("{other:?}")),
    }
}
