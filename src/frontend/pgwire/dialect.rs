//! The PostgreSQL dialect as the pgwire frontend sees it: the translator of
//! `starbase_protocol::sql::pg`, which turns client text into statements for SQLite and
//! commands the gateway answers itself, with what it infers about their types.
//!
//! Owns nothing but the re-export, so the frontend names one place for the dialect.

pub use starbase_protocol::sql::pg::{
    Advisory, AdvisoryParams, PgStatement, Schema, SchemaColumn, SessionContext, SetCommand, Shape,
    Translated, shape, to_mysql, translate,
};
