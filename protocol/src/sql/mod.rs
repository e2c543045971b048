//! SQL text utilities: classification and placeholder scanning (no parser state), and the
//! PostgreSQL-dialect translation for the pgwire gateway ([`pg`]).
//!
//! Never panics on any input; unknown SQL is classified `Other` and passes through untouched.

pub mod classify;
pub mod pg;
pub mod shape;
