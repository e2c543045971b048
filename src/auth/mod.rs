//! Who is asking: principals, roles and the authenticator that turns credentials into them.
//!
//! Owns `Role`, `Principal` and `Authenticator`. Frontends extract credentials (a bearer
//! header, a `?token=` query, a pgwire password) and hand them here; this module must not
//! know any frontend's types.

mod token;

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

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Its role.
    pub role: Role,
}
