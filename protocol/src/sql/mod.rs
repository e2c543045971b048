//! SQL text utilities: classification and placeholder scanning (no parser state), and the
//! PostgreSQL-dialect translation for the pgwire gateway ([`pg`]), and the row-level-security
//! rewriter ([`rls`]).
//!
//! Never panics on any input; unknown SQL is classified `Other` and passes through untouched.

pub mod classify;
pub mod pg;
pub mod rls;
pub mod shape;
