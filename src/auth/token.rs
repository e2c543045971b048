//! Checking a presented credential: the admin and the client token (compared in constant
//! time) first, then, when configured, a JWT.
//!
//! Owns the order of the checks and the answer for a credential that matches nothing. Must
//! not know where the credential came from (header, query string, pgwire password).

use std::sync::Arc;

use starbase_protocol::{DbError, SqlState};
use subtle::ConstantTimeEq;

use super::jwt::{JwtVerifier, looks_like_jwt};
use super::{Principal, Role};
use crate::config::Secret;

/// Checks presented tokens against the configured admin and client tokens, and JWTs.
#[derive(Debug, Clone)]
pub struct Authenticator {
    admin: Secret,
    client: Option<Secret>,
    jwt: Option<Arc<JwtVerifier>>,
}

impl Authenticator {
    /// Builds an authenticator; the admin token is always set (generated if not configured).
    #[must_use]
    pub fn new(admin: Secret, client: Option<Secret>) -> Self {
        Self {
            admin,
            client,
            jwt: None,
        }
    }

    /// Also accepts JWTs this verifier accepts (as the client role, with their claims).
    #[must_use]
    pub fn with_jwt(mut self, jwt: Arc<JwtVerifier>) -> Self {
        self.jwt = Some(jwt);
        self
    }

    /// The static token of `role` (the admin token, or the client token when configured);
    /// for keying the rate limit of a session that proved it without sending it (SCRAM).
    #[must_use]
    pub fn token_of(&self, role: Role) -> Option<&str> {
        match role {
            Role::Admin => Some(self.admin.expose()),
            Role::Client => self.client.as_ref().map(Secret::expose),
        }
    }

    /// When a session of `principal` must end (a JWT's `exp` plus the leeway, seconds since
    /// the epoch); `None` for the static tokens, whose sessions last.
    #[must_use]
    pub fn session_end(&self, principal: &Principal) -> Option<f64> {
        let claims = principal.claims.as_deref()?;
        self.jwt.as_ref()?.session_end(claims)
    }

    /// Whether a session of `principal` has outlived its token.
    #[must_use]
    pub fn session_expired(&self, principal: &Principal) -> bool {
        self.session_end(principal)
            .is_some_and(|end| super::jwt::unix_now() > end)
    }

    /// The JWT verifier, when JWT auth is configured.
    #[must_use]
    pub fn jwt(&self) -> Option<&Arc<JwtVerifier>> {
        self.jwt.as_ref()
    }

    /// Authenticates a bearer credential as StarbaseDB does: the first `Bearer ` prefix is
    /// removed, a bare token is accepted too.
    ///
    /// # Errors
    /// `28000` when no token is presented, otherwise as [`Self::authenticate_token`].
    pub async fn authenticate_bearer(&self, header: Option<&str>) -> Result<Principal, DbError> {
        let token = Self::bearer_token(header).ok_or_else(|| {
            DbError::new(
                SqlState::INVALID_AUTHORIZATION,
                "unauthorized request: missing bearer token",
            )
        })?;
        self.authenticate_token(token).await
    }

    /// The token of an `Authorization` header value: the first `Bearer ` prefix removed,
    /// trimmed; `None` when empty.
    #[must_use]
    pub fn bearer_token(header: Option<&str>) -> Option<&str> {
        header
            .map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim())
            .filter(|t| !t.is_empty())
    }

    /// Authenticates a raw token: the admin token, the client token, or a JWT.
    ///
    /// # Errors
    /// `28P01` when the token matches no configured token and is no valid JWT (or JWT auth is
    /// off); `28000` for a token shaped like a JWT that cannot be decoded.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, DbError> {
        // Both comparisons always run so timing does not reveal which token was close.
        let is_admin = ct_eq(token, self.admin.expose());
        let is_client = self
            .client
            .as_ref()
            .is_some_and(|c| ct_eq(token, c.expose()));
        if is_admin {
            Ok(Principal::new(Role::Admin))
        } else if is_client {
            Ok(Principal::new(Role::Client))
        } else if let Some(jwt) = self.jwt.as_ref().filter(|_| looks_like_jwt(token)) {
            jwt.verify(token)
                .await
                .map(Principal::with_claims)
                .map_err(|e| e.to_db_error())
        } else {
            Err(DbError::new(
                SqlState::INVALID_PASSWORD,
                "unauthorized request: invalid token",
            ))
        }
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(Secret::new("adm".into()), Some(Secret::new("cli".into())))
    }

    #[tokio::test]
    async fn roles_by_token() {
        let a = auth();
        assert_eq!(
            a.authenticate_bearer(Some("Bearer adm"))
                .await
                .unwrap()
                .role,
            Role::Admin
        );
        assert_eq!(
            a.authenticate_bearer(Some("adm")).await.unwrap().role,
            Role::Admin
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer cli"))
                .await
                .unwrap()
                .role,
            Role::Client
        );
    }

    #[tokio::test]
    async fn missing_and_wrong_tokens() {
        let a = auth();
        assert_eq!(
            a.authenticate_bearer(None).await.unwrap_err().code.as_str(),
            "28000"
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer "))
                .await
                .unwrap_err()
                .code
                .as_str(),
            "28000"
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer ad"))
                .await
                .unwrap_err()
                .code
                .as_str(),
            "28P01"
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer admx"))
                .await
                .unwrap_err()
                .code
                .as_str(),
            "28P01"
        );
        let no_client = Authenticator::new(Secret::new("adm".into()), None);
        assert!(no_client.authenticate_token("").await.is_err());
        assert!(no_client.authenticate_token("cli").await.is_err());
    }
}
