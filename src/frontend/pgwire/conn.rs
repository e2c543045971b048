//! One pgwire connection's state: its backend session, settings, schema snapshot for type
//! inference, and the portal left suspended by `Execute` with a row limit.
//!
//! Owns `PgConn` and `PgShared` (what all connections share: the engine, advisory locks,
//! the rate limits), and the connection's caller: its peer address and, once authenticated,
//! its [`Principal`] (a JWT user's claims included, for policies) and the key its queries are
//! rate-limited by.
//! Handlers run one message at a time per connection, so the locks here are never
//! contended; they exist because pgwire's handlers are `Sync`. Must not know the wire
//! encoding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use starbase_backends::sqlite::{ExecOptions, SessionConfig};
use starbase_backends::{AnyBackend, AnySession, BackendKind};
use starbase_backends::{Event, ResultStream, TxnState};
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, Row, Statement, Value};

use super::advisory::AdvisoryLocks;
use super::dialect::{Schema, SchemaColumn};
use super::portal::Suspended;
use super::settings::Settings;
use super::shapes::ShapeCache;
use crate::auth::{Principal, Role};
use crate::engine::Engine;
use crate::limit::RateLimiter;

/// What every pgwire connection of a gateway shares.
#[derive(Debug)]
pub struct PgShared {
    /// The engine plans run on.
    pub engine: Engine,
    /// Session-level advisory locks (`pg_advisory_lock`).
    pub locks: AdvisoryLocks,
    /// How sessions behave (idle-in-transaction timeout).
    pub session: SessionConfig,
    /// External sources served through the gateway's own handlers (MySQL), by database name.
    pub sources: std::collections::HashMap<String, AnyBackend>,
    /// Rate limits (shared with the other frontends); every query counts.
    pub rate_limits: Arc<RateLimiter>,
    next_id: AtomicU64,
}

impl PgShared {
    /// Shared state over `engine`.
    #[must_use]
    pub fn new(engine: Engine, session: SessionConfig) -> Self {
        Self {
            engine,
            locks: AdvisoryLocks::default(),
            session,
            sources: std::collections::HashMap::new(),
            rate_limits: Arc::new(RateLimiter::disabled()),
            next_id: AtomicU64::new(1),
        }
    }
}

/// The schema as of one `schema_version`.
type SchemaSnapshot = (i64, Arc<Schema>);

/// One connection.
#[derive(Debug)]
pub struct PgConn {
    /// Shared state.
    pub shared: Arc<PgShared>,
    /// Unique per connection (advisory lock ownership).
    pub id: u64,
    session: tokio::sync::Mutex<AnySession>,
    kind: Mutex<BackendKind>,
    settings: Mutex<Settings>,
    schema: Mutex<Option<SchemaSnapshot>>,
    /// The portal an `Execute` with a row limit left open, if any.
    pub suspended: tokio::sync::Mutex<Option<Suspended>>,
    caller: Mutex<Caller>,
    shapes: Mutex<ShapeCache>,
    /// The source name the allowlist knows this connection's backend by.
    source: Mutex<String>,
}

/// Who is connected.
#[derive(Debug, Default)]
struct Caller {
    peer: Option<std::net::IpAddr>,
    principal: Option<Principal>,
    credential: Option<u64>,
    session_end: Option<f64>,
}

impl PgConn {
    /// A new connection's state on the embedded database; nothing is opened until the first
    /// plan.
    #[must_use]
    pub fn new(shared: Arc<PgShared>) -> Self {
        let backend = AnyBackend::Sqlite(shared.engine.sqlite().clone());
        Self::on(shared, &backend)
    }

    /// A new connection's state on `backend` (an external MySQL source is served through
    /// the same handlers, its statements passed through rather than translated).
    #[must_use]
    pub fn on(shared: Arc<PgShared>, backend: &AnyBackend) -> Self {
        let session = backend.session(shared.session.clone());
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        Self {
            shared,
            id,
            kind: Mutex::new(backend.kind()),
            session: tokio::sync::Mutex::new(session),
            settings: Mutex::new(Settings::new()),
            schema: Mutex::new(None),
            suspended: tokio::sync::Mutex::new(None),
            caller: Mutex::new(Caller::default()),
            shapes: Mutex::new(ShapeCache::default()),
            source: Mutex::new(crate::engine::Target::Internal.name().to_owned()),
        }
    }

    /// The engine behind this connection.
    #[must_use]
    pub fn kind(&self) -> BackendKind {
        *self.kind.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves this connection from `backend` instead (chosen by the start-up packet's
    /// database, before any plan ran).
    pub async fn use_backend(&self, source: &str, backend: &AnyBackend) {
        *self.session.lock().await = backend.session(self.shared.session.clone());
        *self.kind.lock().unwrap_or_else(PoisonError::into_inner) = backend.kind();
        source.clone_into(&mut self.source.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn caller(&self) -> std::sync::MutexGuard<'_, Caller> {
        self.caller.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the client's address (at accept).
    pub fn set_peer(&self, peer: std::net::IpAddr) {
        self.caller().peer = Some(peer);
    }

    /// The client's address, when known.
    #[must_use]
    pub fn peer(&self) -> Option<std::net::IpAddr> {
        self.caller().peer
    }

    /// Records who start-up authenticated, the rate-limit key of their credential and, for a
    /// JWT, when the session ends (its `exp` plus the leeway, seconds since the epoch).
    pub fn set_principal(&self, principal: Principal, credential: u64, session_end: Option<f64>) {
        let mut caller = self.caller();
        caller.principal = Some(principal);
        caller.credential = Some(credential);
        caller.session_end = session_end;
    }

    /// Whether the session may go on: a session authenticated by a JWT ends when the token
    /// expires.
    ///
    /// # Errors
    /// FATAL `28P01` once the token has expired (the connection is closed).
    pub fn check_session(&self) -> Result<(), DbError> {
        match self.caller().session_end {
            Some(end) if crate::auth::jwt::unix_now() > end => Err(DbError::new(
                starbase_protocol::SqlState::INVALID_PASSWORD,
                "invalid token: the token has expired",
            )
            .with_hint("log in again with a fresh token")
            .fatal()),
            _ => Ok(()),
        }
    }

    /// The authenticated principal (`None` before authentication); for a JWT user it carries
    /// the token's claims.
    #[must_use]
    pub fn principal(&self) -> Option<Principal> {
        self.caller().principal.clone()
    }

    /// The authenticated role (`None` before authentication).
    #[must_use]
    pub fn role(&self) -> Option<Role> {
        self.caller().principal.as_ref().map(|p| p.role)
    }

    /// Counts one query against the rate limits of the peer address and the credential.
    ///
    /// # Errors
    /// `53400` when either is over its limit (the connection stays usable).
    pub fn check_rate(&self) -> Result<(), DbError> {
        let (peer, credential) = {
            let caller = self.caller();
            (caller.peer, caller.credential)
        };
        let limits = &self.shared.rate_limits;
        limits
            .check_addr(peer)
            .and_then(|()| credential.map_or(Ok(()), |key| limits.check_credential(key)))
            .map_err(|limited| limited.to_db_error())
    }

    /// Runs `f` on the simple protocol's translated query shapes.
    pub fn with_shapes<T>(&self, f: impl FnOnce(&mut ShapeCache) -> T) -> T {
        f(&mut self.shapes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `f` on the settings.
    pub fn with_settings<T>(&self, f: impl FnOnce(&mut Settings) -> T) -> T {
        f(&mut self.settings.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs a plan in the connection's session.
    ///
    /// # Errors
    /// `57P01` when the database is shutting down.
    pub async fn execute(&self, mut plan: Plan) -> Result<ResultStream, DbError> {
        // Unrestricted callers (the admin, or a gateway without the allowlist and RLS) go
        // straight on: nothing is cloned or looked up on their statements' way.
        if let Some(guard) = self.restricting_guard() {
            let dialect = match self.kind() {
                BackendKind::MySql => Dialect::MySql,
                BackendKind::Postgres => Dialect::Postgres,
                BackendKind::Sqlite => Dialect::Sqlite,
            };
            let source = self
                .source
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            // Before authentication nothing runs; should anything, it runs as a client.
            let principal = self
                .principal()
                .unwrap_or_else(|| Principal::new(Role::Client));
            let read = guard.apply(&principal, &source, dialect, &mut plan).await?;
            self.shared.engine.check_relations(&source, &read).await?;
        }
        self.execute_unguarded(plan).await
    }

    /// Whether this connection's statements pass the allowlist or row-level security.
    #[must_use]
    pub fn is_restricted(&self) -> bool {
        self.restricting_guard().is_some()
    }

    /// The guard, when it restricts this connection's caller (judged by role alone: no
    /// claims are cloned to decide).
    fn restricting_guard(&self) -> Option<&Arc<crate::security::Guard>> {
        let guard = self.shared.engine.guard()?;
        let role = self.role().unwrap_or(Role::Client);
        guard.restricts(&Principal::new(role)).then_some(guard)
    }

    /// Runs the gateway's own catalog read in the session, past the guard.
    async fn execute_unguarded(&self, plan: Plan) -> Result<ResultStream, DbError> {
        // The session runs one plan at a time: a suspended portal's rest is read ahead first.
        if let Some(suspended) = self.suspended.lock().await.as_mut() {
            suspended.cursor.spill().await;
        }
        let opts: ExecOptions = self.shared.engine.exec_options();
        let mut session = self.session.lock().await;
        session
            .execute(plan, opts)
            .await
            .map_err(|e| e.to_db_error())
    }

    /// One statement as a plan of the given mode.
    #[must_use]
    pub fn plan(sql: &str, params: Vec<Value>, mode: ExecMode) -> Plan {
        let params = if params.is_empty() {
            Params::None
        } else {
            Params::Positional(params)
        };
        Plan {
            mode,
            steps: vec![Statement::new(sql, Dialect::Postgres, params)],
        }
    }

    /// Takes the suspended portal named `name`, if that is the one suspended.
    pub async fn take_suspended(&self, name: &str) -> Option<Suspended> {
        let mut slot = self.suspended.lock().await;
        if slot.as_ref().is_some_and(|s| s.portal == name) {
            slot.take()
        } else {
            None
        }
    }

    /// Keeps `portal` suspended until its next `Execute` (replacing none: only one plan
    /// runs at a time, so only one portal can be suspended).
    pub async fn keep_suspended(&self, portal: Suspended) {
        *self.suspended.lock().await = Some(portal);
    }

    /// Closes the suspended portal, whichever it is (cancelling its statement).
    pub async fn drop_suspended(&self) {
        self.suspended.lock().await.take();
    }

    /// Closes the suspended portal if it is `name`.
    pub async fn drop_suspended_named(&self, name: &str) {
        drop(self.take_suspended(name).await);
    }

    /// Where the session's transaction stands.
    pub async fn txn_state(&self) -> TxnState {
        self.session.lock().await.txn_state()
    }

    /// The tables and columns of the database, for type inference; re-read only when
    /// SQLite's `schema_version` moved (DDL from any connection).
    ///
    /// # Errors
    /// Errors of the catalog queries.
    pub async fn schema(&self) -> Result<Arc<Schema>, DbError> {
        if self.kind() == BackendKind::MySql {
            // MySQL has no cheap schema version to cache by: read the current database's
            // columns (MySQL spells BOOLEAN as tinyint(1)).
            let rows = self
                .rows(
                    "SELECT table_name, column_name, \
                     CASE WHEN column_type = 'tinyint(1)' THEN 'boolean' ELSE column_type END, \
                     is_nullable = 'NO', column_key = 'PRI' \
                     FROM information_schema.columns WHERE table_schema = DATABASE() \
                     ORDER BY table_name, ordinal_position",
                )
                .await?;
            return Ok(Arc::new(schema_from_rows(rows)));
        }
        let version_rows = self
            .rows("SELECT schema_version FROM pragma_schema_version()")
            .await?;
        let version = match version_rows.first().and_then(|r| r.first()) {
            Some(Value::Int(v)) => *v,
            _ => -1,
        };
        if let Some((cached, schema)) = &*self.schema.lock().unwrap_or_else(PoisonError::into_inner)
            && *cached == version
        {
            return Ok(Arc::clone(schema));
        }
        let rows = self
            .rows(
                "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk \
                 FROM main.sqlite_schema AS m, pragma_table_info(m.name) AS p \
                 WHERE m.type IN ('table', 'view') ORDER BY m.name, p.cid",
            )
            .await?;
        let schema = Arc::new(schema_from_rows(rows));
        *self.schema.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((version, Arc::clone(&schema)));
        Ok(schema)
    }

    /// Runs a read in the session and collects its rows (small catalog reads only).
    async fn rows(&self, sql: &str) -> Result<Vec<Row>, DbError> {
        let mut stream = self
            .execute_unguarded(Self::plan(sql, Vec::new(), ExecMode::Single))
            .await?;
        let mut rows = Vec::new();
        while let Some(event) = stream.recv().await {
            match event.map_err(|e| e.to_db_error())? {
                Event::Rows(batch) => rows.extend(batch),
                Event::Finished => return Ok(rows),
                _ => {}
            }
        }
        Err(DbError::internal("the database stopped answering"))
    }
}

fn schema_from_rows(rows: Vec<Row>) -> Schema {
    let mut tables: Vec<(String, Vec<SchemaColumn>)> = Vec::new();
    for row in rows {
        let mut cells = row.into_iter();
        let (Some(Value::Text(table)), Some(Value::Text(name))) = (cells.next(), cells.next())
        else {
            continue;
        };
        let decl = match cells.next() {
            Some(Value::Text(t)) if !t.is_empty() => Some(t),
            _ => None,
        };
        let flag = |v: Option<Value>| {
            matches!(v, Some(Value::Int(n)) if n != 0) || matches!(v, Some(Value::Bool(true)))
        };
        let not_null = flag(cells.next());
        let pk = flag(cells.next());
        let column = SchemaColumn {
            name,
            decl,
            not_null,
            pk,
        };
        match tables.last_mut() {
            Some((t, cols)) if *t == table => cols.push(column),
            _ => tables.push((table, vec![column])),
        }
    }
    Schema::new(tables)
}
