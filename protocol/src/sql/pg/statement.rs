//! One statement: keyword-level commands first, then the parsed path (whole-statement
//! session calls, unsupported statements, rewrites, type inference), else pass-through.
//!
//! Owns the order of the translation steps and the "print only when something changed" rule.
//! Must not know the details of any single rewrite.

use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use super::split::{Piece, max_param, too_deep};
use super::tag::{passthrough, tag_of};
use super::{PgStatement, SchemaLookup, SessionContext, Translated};
use crate::error::DbError;
use crate::sql::classify::classify;

/// Translates one statement.
///
/// # Errors
/// See [`super::translate`].
pub(super) fn translate_piece(
    piece: &Piece<'_>,
    ctx: &SessionContext<'_>,
    schema: &dyn SchemaLookup,
) -> Result<PgStatement, DbError> {
    if let Some(statement) = super::control::keyword_statement(piece)? {
        return Ok(statement);
    }
    if too_deep(&piece.tokens) {
        return Ok(PgStatement::Query(passthrough(piece)));
    }
    let (text, table_command) = parser_text(piece);
    // What PostgreSQL's grammar does not accept is SQLite's (or an error SQLite reports in
    // its own words): it runs exactly as written, typed from SQLite's grammar if that reads it.
    let Ok(mut parsed) = Parser::parse_sql(&PostgreSqlDialect {}, &text) else {
        return Ok(PgStatement::Query(sqlite_dialect(piece, schema)));
    };
    let (Some(mut stmt), true) = (parsed.pop(), parsed.is_empty()) else {
        return Ok(PgStatement::Query(passthrough(piece)));
    };
    if let Some(call) = super::calls::whole_statement_call(&stmt) {
        return Ok(call);
    }
    super::ddl::check_statement(&stmt)?;
    let params = super::infer::params(&stmt, schema, max_param(&piece.tokens));
    let columns = super::columns::result_columns(&stmt, schema);
    let mut changed = table_command | super::ddl::rewrite_before(&mut stmt)?;
    changed |= super::rewrite::rewrite(&mut stmt, ctx)?;
    changed |= super::table_ddl::rewrite_after(&mut stmt);
    let sql = if changed {
        stmt.to_string()
    } else {
        piece.text.to_owned()
    };
    let (tag, tag_counts_rows) = tag_of(&piece.tokens);
    Ok(PgStatement::Query(Translated {
        kind: classify(&sql),
        sql,
        tag,
        tag_counts_rows,
        params,
        columns,
    }))
}

/// The text to parse, and whether it differs from the client's: `TABLE t` is
/// `SELECT * FROM t` (the parser knows only the latter).
fn parser_text(piece: &Piece<'_>) -> (String, bool) {
    let table_command = piece.tokens.first().is_some_and(|t| t.is("TABLE"));
    match piece.tokens.get(1) {
        Some(next) if table_command => {
            let rest = piece.text.get(next.start..).unwrap_or_default();
            (format!("SELECT * FROM {rest}"), true)
        }
        _ => (piece.text.to_owned(), false),
    }
}

/// A statement only SQLite's grammar may read: the client's text, with the parameter and
/// result types that grammar's AST tells.
fn sqlite_dialect(piece: &Piece<'_>, schema: &dyn SchemaLookup) -> Translated {
    let mut translated = passthrough(piece);
    if let Ok(parsed) = Parser::parse_sql(&SQLiteDialect {}, piece.text)
        && let [stmt] = parsed.as_slice()
    {
        translated.params = super::infer::params(stmt, schema, translated.params.len());
        translated.columns = super::columns::result_columns(stmt, schema);
    }
    translated
}
