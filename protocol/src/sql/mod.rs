//! SQL text utilities that need no parser state: classification and placeholder scanning.
//!
//! Never panics on any input; unknown SQL is classified `Other` and passes through untouched.

pub mod classify;
