//! pgwire start-up: SCRAM-SHA-256 against the gateway's tokens, cleartext passwords checked
//! like bearer tokens (tokens or JWTs), and the server parameters reported after
//! authentication.
//!
//! Owns the `SaslMechanismFactory` that plugs [`scram`](super::scram) into pgwire's SASL
//! start-up handler, the cleartext mechanism ([`TokenPassword`]: used when JWT auth is
//! configured and the connection is TLS or from a loopback peer, since a JWT cannot be
//! checked through SCRAM and must not cross a network in the clear), the principal the
//! password proved (stored in the connection's session extensions as [`Authenticated`]), and
//! the `ParameterStatus` set. Any user name is accepted; the password decides the role,
//! exactly as a bearer token does on HTTP. A wrong password is FATAL `28P01` (or `28000`)
//! and closes the connection. Must not know queries or backends.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pgwire::api::ClientInfo;
use pgwire::api::auth::ServerParameterProvider;
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory, AuthState};
use pgwire::api::auth::sasl::SaslMechanismFactory;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::{Authentication, PasswordMessageFamily};

use super::error::wire_error;
use super::scram::{self, Exchange, ScramError, Verifiers};
use super::settings;
use crate::auth::{Authenticator, Principal, Role};
use crate::limit::RateLimiter;

/// Who a connection authenticated as; present once start-up succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    /// The principal (a JWT user's claims included).
    pub principal: Principal,
    /// The rate-limit key of the password as sent, when the mechanism saw it (cleartext);
    /// `None` after SCRAM (the role's token is used then). The password itself is not kept.
    pub credential: Option<u64>,
}

/// Cleartext password authentication: the password is a token or a JWT, checked by the
/// [`Authenticator`] as a bearer token is.
///
/// Only offered when the password cannot be read on the way (TLS, or a loopback peer).
#[derive(Debug, Clone)]
pub struct TokenPassword {
    auth: Authenticator,
    limits: Arc<RateLimiter>,
}

impl TokenPassword {
    /// Checks passwords with `auth`; `limits` keys the session's credential.
    #[must_use]
    pub fn new(auth: Authenticator, limits: Arc<RateLimiter>) -> Self {
        Self { auth, limits }
    }
}

impl AuthMechanismFactory for TokenPassword {
    fn create(&self) -> Box<dyn AuthMechanism> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl AuthMechanism for TokenPassword {
    async fn begin(&mut self, _client: &(dyn ClientInfo + Send + Sync)) -> PgWireResult<AuthState> {
        Ok(AuthState::InProgress(Authentication::CleartextPassword))
    }

    async fn next(
        &mut self,
        client: &(dyn ClientInfo + Send + Sync),
        message: PasswordMessageFamily,
    ) -> PgWireResult<AuthState> {
        let password = message.into_password()?.password;
        match self.auth.authenticate_token(&password).await {
            Ok(principal) => {
                client.session_extensions().insert(Authenticated {
                    principal,
                    credential: Some(self.limits.credential_key(&password)),
                });
                Ok(AuthState::Ok {
                    final_message: None,
                    identity: None,
                })
            }
            Err(e) => Ok(AuthState::Failed(wire_error(&e.fatal()))),
        }
    }
}

/// SCRAM-SHA-256 with the admin and client tokens as the acceptable passwords.
#[derive(Debug, Clone)]
pub struct TokenScram {
    verifiers: Arc<Verifiers<Role>>,
}

impl TokenScram {
    /// Derives the verifiers once (PBKDF2 is slow by design).
    #[must_use]
    pub fn new(admin: &str, client: Option<&str>) -> Self {
        let mut passwords = vec![(Role::Admin, admin)];
        if let Some(client) = client {
            passwords.push((Role::Client, client));
        }
        Self {
            verifiers: Arc::new(Verifiers::new(&passwords)),
        }
    }
}

impl TokenScram {
    /// The verifiers, for exchanges the gateway runs itself (the wire proxy).
    #[must_use]
    pub fn verifiers(&self) -> &Verifiers<Role> {
        &self.verifiers
    }
}

impl AuthMechanismFactory for TokenScram {
    fn create(&self) -> Box<dyn AuthMechanism> {
        Box::new(TokenScramMechanism {
            verifiers: Arc::clone(&self.verifiers),
            exchange: None,
        })
    }
}

impl SaslMechanismFactory for TokenScram {
    fn sasl_mechanism_names(&self) -> Vec<String> {
        vec![scram::MECHANISM.to_owned()]
    }
}

/// One connection's SCRAM exchange.
struct TokenScramMechanism {
    verifiers: Arc<Verifiers<Role>>,
    exchange: Option<Exchange<Role>>,
}

#[async_trait]
impl AuthMechanism for TokenScramMechanism {
    async fn begin(&mut self, _client: &(dyn ClientInfo + Send + Sync)) -> PgWireResult<AuthState> {
        Ok(AuthState::InProgress(Authentication::SASL(vec![
            scram::MECHANISM.to_owned(),
        ])))
    }

    async fn next(
        &mut self,
        client: &(dyn ClientInfo + Send + Sync),
        message: PasswordMessageFamily,
    ) -> PgWireResult<AuthState> {
        let user = client
            .metadata()
            .get(pgwire::api::METADATA_USER)
            .cloned()
            .unwrap_or_default();
        match self.exchange.take() {
            None => {
                let initial = message.into_sasl_initial_response()?;
                let data = initial.data.unwrap_or_default();
                let (server_first, exchange) = self
                    .verifiers
                    .start(&data)
                    .map_err(|e| scram_error(e, &user))?;
                self.exchange = Some(exchange);
                Ok(AuthState::InProgress(Authentication::SASLContinue(
                    Bytes::from(server_first),
                )))
            }
            Some(exchange) => {
                let response = message.into_sasl_response()?;
                let (role, server_final) = exchange
                    .finish(&response.data)
                    .map_err(|e| scram_error(e, &user))?;
                client.session_extensions().insert(Authenticated {
                    principal: Principal::new(role),
                    credential: None,
                });
                Ok(AuthState::Ok {
                    final_message: Some(Authentication::SASLFinal(Bytes::from(server_final))),
                    identity: None,
                })
            }
        }
    }
}

fn scram_error(error: ScramError, user: &str) -> PgWireError {
    match error {
        ScramError::WrongPassword => PgWireError::InvalidPassword(user.to_owned()),
        ScramError::Malformed(what) => PgWireError::InvalidScramMessage(what.to_owned()),
    }
}

/// The `ParameterStatus` messages sent after authentication: what pgJDBC, psql and the
/// other drivers check (`client_encoding` UTF8, `DateStyle` ISO, `integer_datetimes` on, …).
#[derive(Debug, Default)]
pub struct StartupParameters;

impl ServerParameterProvider for StartupParameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let role = client
            .session_extensions()
            .get::<Authenticated>()
            .map(|a| a.principal.role);
        let mut params: HashMap<String, String> = settings::REPORTED
            .iter()
            .map(|&name| {
                let value = settings::default_value(name).unwrap_or_default();
                (settings::reported_name(name).to_owned(), value)
            })
            .collect();
        params.insert(
            "is_superuser".to_owned(),
            if role == Some(Role::Admin) {
                "on"
            } else {
                "off"
            }
            .to_owned(),
        );
        if let Some(app) = client
            .metadata()
            .get(pgwire::api::METADATA_APPLICATION_NAME)
        {
            params.insert("application_name".to_owned(), app.clone());
        }
        if let Some(user) = client.metadata().get(pgwire::api::METADATA_USER) {
            params.insert("session_authorization".to_owned(), user.clone());
        }
        Some(params)
    }
}
