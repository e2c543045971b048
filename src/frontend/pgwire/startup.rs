//! The start-up phase of a pgwire connection: protocol version, SCRAM authentication, the
//! database the client asked for, start-up options, and `ParameterStatus`.
//!
//! Owns the `StartupHandler`: like pgwire's SASL handler (choosing SCRAM, or cleartext
//! passwords when JWT auth is configured and the connection is TLS or from a loopback peer;
//! refusing an address over its failed-login limit with FATAL `53400` and counting each
//! failed login), plus routing by database name
//! (any name is the embedded database; `external` names an external source, which this
//! gateway does not have yet, so it is FATAL `3D000`) and applying `application_name` and
//! `options=-c name=value` to the session's settings. Must not know queries.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory};
use pgwire::api::auth::{
    AuthDriver, AuthOutcome, StartupHandler, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Startup;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use starbase_protocol::{DbError, SqlState};

use super::auth::{Authenticated, StartupParameters, TokenPassword, TokenScram};
use super::conn::PgConn;
use super::error::wire_error;

/// Database names that address an external source rather than the embedded database.
const EXTERNAL_DATABASE: &str = "external";

/// One connection's start-up handler.
pub struct StartupFlow {
    conn: Arc<PgConn>,
    scram: TokenScram,
    auth: crate::auth::Authenticator,
    driver: AuthDriver<Arc<StartupParameters>>,
}

impl std::fmt::Debug for StartupFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup")
            .field("conn", &self.conn.id)
            .finish()
    }
}

impl StartupFlow {
    /// A handler authenticating against `scram` (or, for JWTs, `auth`) and registering the
    /// connection with `manager` (for cancel requests).
    #[must_use]
    pub fn new(
        conn: Arc<PgConn>,
        scram: TokenScram,
        auth: crate::auth::Authenticator,
        manager: Arc<ConnectionManager>,
    ) -> Self {
        Self {
            conn,
            scram,
            auth,
            driver: AuthDriver::new(Arc::new(StartupParameters)).with_connection_manager(manager),
        }
    }

    /// SCRAM unless JWTs are accepted and the password is safe to send: a JWT cannot be
    /// checked through SCRAM, so TLS and loopback connections get cleartext passwords.
    fn mechanism<C: ClientInfo>(&self, client: &C) -> Box<dyn AuthMechanism> {
        let safe = client.is_secure() || client.socket_addr().ip().is_loopback();
        if self.auth.jwt().is_some() && safe {
            TokenPassword::new(self.auth.clone(), Arc::clone(&self.conn.shared.rate_limits))
                .create()
        } else {
            self.scram.create()
        }
    }

    /// A failed login: counted for the address, then FATAL.
    async fn refuse<C>(&self, client: &mut C, error: PgWireError) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<C::Error>,
    {
        self.conn
            .shared
            .rate_limits
            .record_auth_failure(self.conn.peer());
        fatal(client, error).await
    }

    fn check_user(startup: &Startup) -> Result<(), DbError> {
        match startup.parameters.get("user") {
            Some(user) if !user.is_empty() => Ok(()),
            _ => Err(DbError::new(
                SqlState::INVALID_AUTHORIZATION,
                "no PostgreSQL user name specified in startup packet",
            )
            .fatal()),
        }
    }

    /// Routes the connection by its database name: a MySQL source, the embedded database,
    /// or (`external` without a source) `3D000`.
    async fn check_database(&self, startup: &Startup) -> Result<(), DbError> {
        if let Some((name, backend)) = startup
            .parameters
            .get("database")
            .and_then(|db| self.conn.shared.sources.get_key_value(db))
        {
            self.conn.use_backend(name, backend).await;
            return Ok(());
        }
        match startup.parameters.get("database") {
            Some(db) if db == EXTERNAL_DATABASE => Err(DbError::new(
                SqlState::INVALID_CATALOG_NAME,
                format!("database \"{db}\" does not exist"),
            )
            .with_detail(
                "the PostgreSQL-wire listener serves the embedded database only; external \
                 sources are served over HTTP and WebSocket (X-Starbase-Source)",
            )
            .fatal()),
            _ => Ok(()),
        }
    }

    /// Applies `application_name` and `-c name=value` start-up options.
    fn apply_options(&self, startup: &Startup) -> Result<(), DbError> {
        if let Some(app) = startup.parameters.get("application_name") {
            self.conn
                .with_settings(|s| s.set("application_name", app, false))?;
        }
        if let Some(options) = startup.parameters.get("options") {
            let mut words = options.split_whitespace();
            while let Some(word) = words.next() {
                let assignment = match word {
                    "-c" | "--c" => words.next().unwrap_or_default(),
                    other => other
                        .strip_prefix("-c")
                        .or_else(|| other.strip_prefix("--"))
                        .unwrap_or(other),
                };
                if let Some((name, value)) = assignment.split_once('=') {
                    let name = name.to_ascii_lowercase().replace('-', "_");
                    self.conn.with_settings(|s| s.set(&name, value, false))?;
                }
            }
        }
        Ok(())
    }

    async fn finish<C>(&self, client: &mut C, outcome: AuthOutcome) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<C::Error>,
    {
        match outcome {
            AuthOutcome::InProgress => Ok(()),
            AuthOutcome::Authenticated { final_message, .. } => {
                if let Some(authenticated) = client.session_extensions().get::<Authenticated>() {
                    let limits = &self.conn.shared.rate_limits;
                    let principal = authenticated.principal.clone();
                    let credential = authenticated.credential.unwrap_or_else(|| {
                        limits
                            .credential_key(self.auth.token_of(principal.role).unwrap_or_default())
                    });
                    let end = self.auth.session_end(&principal);
                    self.conn.set_principal(principal, credential, end);
                }
                self.driver
                    .complete_authentication(client, final_message)
                    .await
            }
        }
    }
}

/// Ends start-up with a FATAL error: the `ErrorResponse`, then the connection is closed
/// (PostgreSQL sends nothing after a FATAL error, no `ReadyForQuery`).
async fn fatal<C>(client: &mut C, error: PgWireError) -> PgWireResult<()>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let mut info = ErrorInfo::from(error);
    info.severity = "FATAL".to_owned();
    client
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await?;
    client.close().await?;
    Ok(())
}

#[async_trait]
impl StartupHandler for StartupFlow {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<C::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                let checked = match Self::check_user(startup) {
                    Ok(()) => self.check_database(startup).await,
                    Err(e) => Err(e),
                }
                .and_then(|()| self.apply_options(startup).map_err(DbError::fatal));
                let checked = checked.and_then(|()| {
                    self.conn
                        .shared
                        .rate_limits
                        .check_auth_allowed(self.conn.peer())
                        .map_err(|limited| limited.to_db_error().fatal())
                });
                if let Err(e) = checked {
                    return fatal(client, wire_error(&e)).await;
                }
                let mechanism = self.mechanism(client);
                match self.driver.begin_authentication(client, mechanism).await {
                    Ok(outcome) => self.finish(client, outcome).await,
                    Err(e) => self.refuse(client, e).await,
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                match self.driver.advance_authentication(client, message).await {
                    Ok(outcome) => self.finish(client, outcome).await,
                    Err(e) => self.refuse(client, e).await,
                }
            }
            _ => Ok(()),
        }
    }
}
