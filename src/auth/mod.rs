//! Who is asking: principals, roles and the authenticator that turns credentials into them.
//!
//! Owns `Role`, `Principal`, `Authenticator` and JWT verification (`jwt`, `jwks`).
//! Frontends extract credentials (a bearer header, a `?token=` query, a pgwire password) and
//! hand them here; this module must not know any frontend's types.

mod jwks;
pub mod jwt;
mod token;

use std::sync::Arc;

pub use jwt::{JwtError, JwtVerifier};
pub use token::Authenticator;

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The admin token: everything, bypasses policies.
    Admin,
    /// The client token (and, later, JWT users): subject to policies.
    Client,
}

impl Role {
    /// The role's name as StarbaseDB spells it.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Client => "client",
        }
    }
}

/// The verified claims of a JWT: `sub` and any others, as the token carried them.
pub type Claims = serde_json::Map<String, serde_json::Value>;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// Its role.
    pub role: Role,
    /// The token's verified claims for a JWT user; `None` for the admin and client tokens.
    pub claims: Option<Arc<Claims>>,
}

impl Principal {
    /// A caller authenticated by a static token (no claims).
    #[must_use]
    pub fn new(role: Role) -> Self {
        Self { role, claims: None }
    }

    /// A JWT user: the client role with the token's claims.
    #[must_use]
    pub fn with_claims(claims: Claims) -> Self {
        Self {
            role: Role::Client,
            claims: Some(Arc::new(claims)),
        }
    }

    /// The caller's subject (`sub` claim), what policies call `context.id()`.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.claim("sub").and_then(serde_json::Value::as_str)
    }

    /// Claim `name` of a JWT user, what policies call `context.claim('name')`.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&serde_json::Value> {
        self.claims.as_deref().and_then(|c| c.get(name))
    }
}

#[cfg(test)]
mod jwt_tests;
