//! The engine: runs a plan for a principal on the backend it targets.
//!
//! Owns the backends of this gateway (the embedded SQLite database and the named external
//! sources), resolving a source name to a `Target`, and the per-request limits applied when
//! running a plan. Frontends hand it a `Plan` and get a `ResultStream`; it must not know any
//! frontend type.

mod import;
pub mod planner;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use starbase_backends::dump::{AnyDump, AnyLoad};
use starbase_backends::sqlite::{ExecOptions, SqliteBackend, WriterLease};
use starbase_backends::{AnyBackend, Event, ResultStream};
use starbase_protocol::{DbError, Dialect, Plan, Row};

use crate::auth::Principal;
use crate::error::Error;
use crate::security::{Guard, admin_plan_is_for_policies};
pub use import::ImportTxn;
pub use sources::{Sources, Target, kind_name};

/// A writer lease that hears nothing for this long is rolled back (a stalled import must not
/// hold the writer).
const LEASE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs plans on the gateway's backends.
#[derive(Debug, Clone)]
pub struct Engine {
    sqlite: SqliteBackend,
    sources: Sources,
    statement_timeout: Option<Duration>,
    /// The allowlist and row-level security; `None`: nothing is restricted.
    guard: Option<Arc<Guard>>,
}

impl Engine {
    /// An engine over the embedded SQLite database only.
    #[must_use]
    pub fn new(sqlite: SqliteBackend, statement_timeout: Option<Duration>) -> Self {
        Self::with_sources(sqlite, Sources::default(), statement_timeout)
    }

    /// An engine over the embedded SQLite database and external `sources`.
    #[must_use]
    pub fn with_sources(
        sqlite: SqliteBackend,
        sources: Sources,
        statement_timeout: Option<Duration>,
    ) -> Self {
        Self {
            sqlite,
            sources,
            statement_timeout,
            guard: None,
        }
    }

    /// The same engine, checking clients' plans with `guard` and sending the admin's SQL on
    /// the policy tables to them.
    #[must_use]
    pub fn with_guard(mut self, guard: Arc<Guard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The allowlist and row-level security, when configured.
    #[must_use]
    pub fn guard(&self) -> Option<&Arc<Guard>> {
        self.guard.as_ref()
    }

    /// Refuses routes that move whole tables (SQL dumps, imports) to a restricted
    /// `principal`: they cannot be filtered row by row nor matched against the allowlist.
    ///
    /// # Errors
    /// `42501` for a client while the allowlist or row-level security is on.
    pub fn check_bulk_route(&self, principal: &Principal, route: &str) -> Result<(), DbError> {
        if self.guard.as_ref().is_some_and(|g| g.restricts(principal)) {
            return Err(DbError::new(
                starbase_protocol::SqlState::INSUFFICIENT_PRIVILEGE,
                format!(
                    "permission denied: {route} is not available to clients while the \
                     allowlist or row-level security is enabled"
                ),
            ));
        }
        Ok(())
    }

    /// Applies the guard to a plan bound for `target`: the admin's SQL on the policy tables
    /// is answered here (returned), a client's plan is checked and rewritten in place.
    async fn guard_plan(
        &self,
        principal: &Principal,
        target: &Target,
        plan: &mut Plan,
    ) -> Result<Option<ResultStream>, Error> {
        let Some(guard) = &self.guard else {
            return Ok(None);
        };
        if principal.role == crate::auth::Role::Admin {
            if admin_plan_is_for_policies(plan)? {
                let empty = Plan {
                    mode: starbase_protocol::ExecMode::Single,
                    steps: Vec::new(),
                };
                let plan = std::mem::replace(plan, empty);
                return Ok(Some(guard.store().execute_admin(plan).await?));
            }
            return Ok(None);
        }
        let read = guard
            .apply(principal, target.name(), self.dialect(target), plan)
            .await?;
        self.check_relations(target.name(), &read).await?;
        Ok(None)
    }

    /// Refuses a restricted statement on an external source that reads anything but the
    /// source's base tables (see `security::Guard::check_relations`); nothing to check on
    /// the embedded database, where SQLite's authorizer watches every read.
    ///
    /// # Errors
    /// `42501` naming the relation; `3D000` for an unknown source; catalog errors.
    pub async fn check_relations(
        &self,
        source: &str,
        read: &std::collections::BTreeSet<String>,
    ) -> Result<(), DbError> {
        let (Some(guard), false) = (&self.guard, read.is_empty()) else {
            return Ok(());
        };
        let target = self.resolve(source)?;
        if target == Target::Internal {
            return Ok(());
        }
        let sql = match self.dialect(&target) {
            Dialect::MySql => {
                "SELECT LOWER(table_name) FROM information_schema.tables \
                 WHERE table_type = 'BASE TABLE' AND table_schema = DATABASE()"
            }
            _ => {
                "SELECT lower(table_name) FROM information_schema.tables \
                 WHERE table_type = 'BASE TABLE' \
                 AND table_schema = ANY (current_schemas(false))"
            }
        };
        let dialect = self.dialect(&target);
        let fetch = || async {
            let plan = Plan {
                mode: starbase_protocol::ExecMode::Single,
                steps: vec![starbase_protocol::Statement::new(
                    sql,
                    dialect,
                    starbase_protocol::Params::None,
                )],
            };
            let stream = self
                .execute_catalog_on(&target, plan)
                .await
                .map_err(|e| e.to_client())?;
            let rows = collect_rows(stream).await?;
            Ok(rows
                .into_iter()
                .filter_map(|row| match row.into_iter().next() {
                    Some(starbase_protocol::Value::Text(name)) => Some(name),
                    Some(starbase_protocol::Value::Bytes(name)) => String::from_utf8(name).ok(),
                    _ => None,
                })
                .collect())
        };
        guard.check_relations(source, read, fetch).await
    }

    /// Runs `plan` on the embedded database for `principal` and returns its result stream.
    ///
    /// # Errors
    /// `57P01` when the backend is shutting down; statement errors arrive on the stream.
    pub async fn execute(&self, principal: &Principal, plan: Plan) -> Result<ResultStream, Error> {
        self.execute_on(principal, &Target::Internal, plan).await
    }

    /// Runs `plan` on `target` for `principal`. Its statements must be written in the
    /// target's [`Engine::dialect`].
    ///
    /// # Errors
    /// `57P01` when the backend is shutting down, `3D000` for a source that is not
    /// configured; statement errors (`08006` for a server that cannot be reached, `53300`
    /// when its pool is exhausted, the server's own SQLSTATEs) arrive on the stream.
    pub async fn execute_on(
        &self,
        principal: &Principal,
        target: &Target,
        mut plan: Plan,
    ) -> Result<ResultStream, Error> {
        if let Some(answer) = self.guard_plan(principal, target, &mut plan).await? {
            return Ok(answer);
        }
        tracing::debug!(
            role = principal.role.as_str(),
            source = target.name(),
            steps = plan.steps.len(),
            "execute"
        );
        self.run_on(target, plan, self.exec_options()).await
    }

    /// Runs the gateway's own catalog query (schema lookups for REST and the routes) on
    /// `target`, bypassing the guard: it is not a client's statement, and what it returns is
    /// schema, never rows.
    ///
    /// # Errors
    /// As [`Engine::execute_on`].
    pub async fn execute_catalog_on(
        &self,
        target: &Target,
        plan: Plan,
    ) -> Result<ResultStream, Error> {
        self.run_on(target, plan, self.exec_options()).await
    }

    /// Runs `plan` without the statement timeout, for exports: they stream for as long as the
    /// client keeps reading, and a client that goes away cancels them.
    ///
    /// # Errors
    /// As [`Engine::execute`].
    pub async fn execute_export(
        &self,
        principal: &Principal,
        plan: Plan,
    ) -> Result<ResultStream, Error> {
        self.execute_export_on(principal, &Target::Internal, plan)
            .await
    }

    /// Runs `plan` on `target` without the statement timeout, as [`Engine::execute_export`].
    ///
    /// # Errors
    /// As [`Engine::execute_on`].
    pub async fn execute_export_on(
        &self,
        principal: &Principal,
        target: &Target,
        mut plan: Plan,
    ) -> Result<ResultStream, Error> {
        if let Some(answer) = self.guard_plan(principal, target, &mut plan).await? {
            return Ok(answer);
        }
        tracing::debug!(
            role = principal.role.as_str(),
            source = target.name(),
            steps = plan.steps.len(),
            "export"
        );
        let opts = ExecOptions {
            statement_timeout: None,
        };
        self.run_on(target, plan, opts).await
    }

    /// Hands `plan` to `target`'s backend, past every check.
    async fn run_on(
        &self,
        target: &Target,
        plan: Plan,
        opts: ExecOptions,
    ) -> Result<ResultStream, Error> {
        match target {
            Target::Internal => Ok(self.sqlite.execute(plan, opts).await?),
            Target::External(name) => Ok(self.sources.backend(name)?.execute(plan, opts).await?),
        }
    }

    /// Takes the writer for one transaction spanning several plans (imports).
    ///
    /// # Errors
    /// `57P01` when shutting down, `55P03` when the write lock cannot be taken.
    pub async fn lease_writer(&self) -> Result<WriterLease, Error> {
        Ok(self.sqlite.lease_writer(LEASE_IDLE_TIMEOUT).await?)
    }

    /// Opens one transaction spanning several plans on `target` (JSON and CSV imports): the
    /// writer lease on the embedded database, a pinned session between `BEGIN` and `COMMIT`
    /// on an external source.
    ///
    /// # Errors
    /// As [`Engine::lease_writer`]; on an external source `08006` or `53300` when no
    /// connection can be had.
    pub async fn begin_import(&self, target: &Target) -> Result<ImportTxn, Error> {
        match target {
            Target::Internal => Ok(ImportTxn::Internal(
                self.lease_writer().await?,
                self.exec_options(),
            )),
            Target::External(name) => {
                let backend = self.sources.backend(name)?;
                let session = backend.session(starbase_backends::SessionConfig::default());
                ImportTxn::begin_external(session, self.exec_options(), backend.dialect()).await
            }
        }
    }

    /// Opens a SQL dump of external source `name` in its own dialect: one pinned connection
    /// inside one read-only snapshot (see `starbase_backends::dump`).
    ///
    /// # Errors
    /// `3D000` for a source that is not configured; `08006`/`53300` when no connection can
    /// be had; the server's errors.
    pub async fn open_dump(
        &self,
        principal: &Principal,
        name: &crate::config::SourceName,
    ) -> Result<AnyDump, Error> {
        tracing::debug!(
            role = principal.role.as_str(),
            source = name.as_str(),
            "dump"
        );
        Ok(self.sources.backend(name)?.open_dump().await?)
    }

    /// Opens a script load into external source `name`: one pinned connection inside one
    /// transaction (see `starbase_backends::dump`).
    ///
    /// # Errors
    /// As [`Engine::open_dump`].
    pub async fn open_load(
        &self,
        principal: &Principal,
        name: &crate::config::SourceName,
    ) -> Result<AnyLoad, Error> {
        tracing::debug!(
            role = principal.role.as_str(),
            source = name.as_str(),
            "script load"
        );
        Ok(self.sources.backend(name)?.open_load().await?)
    }

    /// The statement options for plans run inside a lease.
    #[must_use]
    pub fn exec_options(&self) -> ExecOptions {
        ExecOptions {
            statement_timeout: self.statement_timeout,
        }
    }

    /// The embedded SQLite backend.
    #[must_use]
    pub fn sqlite(&self) -> &SqliteBackend {
        &self.sqlite
    }

    /// The external sources.
    #[must_use]
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The target a request names: empty or `internal` is the embedded database.
    ///
    /// # Errors
    /// `3D000` for a name no source has.
    pub fn resolve(&self, name: &str) -> Result<Target, starbase_protocol::DbError> {
        self.sources.resolve(name)
    }

    /// The SQL dialect statements for `target` are written in: the target backend's own.
    #[must_use]
    pub fn dialect(&self, target: &Target) -> Dialect {
        match target {
            Target::Internal => Dialect::Sqlite,
            Target::External(name) => self
                .sources
                .backend(name)
                .map_or(Dialect::Sqlite, AnyBackend::dialect),
        }
    }

    /// Stops the backends, letting running statements finish.
    pub async fn shutdown(&self) {
        self.sources.shutdown().await;
        self.sqlite.shutdown().await;
    }
}

/// Collects the rows of a small result (catalog lookups, policy tables).
///
/// # Errors
/// The statement's error; `XX000` when the worker stopped before the end.
pub async fn collect_rows(mut stream: ResultStream) -> Result<Vec<Row>, DbError> {
    let mut rows = Vec::new();
    while let Some(event) = stream.recv().await {
        match event.map_err(|e| e.to_db_error())? {
            Event::Rows(batch) => rows.extend(batch),
            Event::Finished => return Ok(rows),
            Event::Step(_) | Event::Columns(_) | Event::Done(_) => {}
        }
    }
    Err(DbError::internal(
        "the database worker stopped before the statement finished",
    ))
}
