//! StarbaseDB bearer tokens: the admin and the client token, compared in constant time.
//!
//! Owns checking a presented token. Must not know where the token came from (header, query
//! string, pgwire password).

use starbase_protocol::{DbError, SqlState};
use subtle::ConstantTimeEq;

use super::{Principal, Role};
use crate::config::Secret;

/// Checks presented tokens against the configured admin and client tokens.
#[derive(Debug, Clone)]
pub struct Authenticator {
    admin: Secret,
    client: Option<Secret>,
}

impl Authenticator {
    /// Builds an authenticator; the admin token is always set (generated if not configured).
    #[must_use]
    pub fn new(admin: Secret, client: Option<Secret>) -> Self {
        Self { admin, client }
    }

    /// Authenticates a bearer credential as StarbaseDB does: the first `Bearer ` prefix is
    /// removed, a bare token is accepted too.
    ///
    /// # Errors
    /// `28000` when no token is presented, `28P01` when it matches no configured token.
    pub fn authenticate_bearer(&self, header: Option<&str>) -> Result<Principal, DbError> {
        let token = header
            .map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                DbError::new(
                    SqlState::INVALID_AUTHORIZATION,
                    "unauthorized request: missing bearer token",
                )
            })?;
        self.authenticate_token(token)
    }

    /// Authenticates a raw token.
    ///
    /// # Errors
    /// `28P01` when the token matches no configured token.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, DbError> {
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

    #[test]
    fn roles_by_token() {
        let a = auth();
        assert_eq!(
            a.authenticate_bearer(Some("Bearer adm")).unwrap().role,
            Role::Admin
        );
        assert_eq!(
            a.authenticate_bearer(Some("adm")).unwrap().role,
            Role::Admin
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer cli")).unwrap().role,
            Role::Client
        );
    }

    #[test]
    fn missing_and_wrong_tokens() {
        let a = auth();
        assert_eq!(
            a.authenticate_bearer(None).unwrap_err().code.as_str(),
            "28000"
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer "))
                .unwrap_err()
                .code
                .as_str(),
            "28000"
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer ad"))
                .unwrap_err()
                .code
                .as_str(),
            "28P01"
        );
        assert_eq!(
            a.authenticate_bearer(Some("Bearer admx"))
                .unwrap_err()
                .code
                .as_str(),
            "28P01"
        );
        let no_client = Authenticator::new(Secret::new("adm".into()), None);
        assert!(no_client.authenticate_token("").is_err());
        assert!(no_client.authenticate_token("cli").is_err());
    }
}
