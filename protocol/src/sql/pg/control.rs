//! Keyword-level statements: transaction control and SET / RESET / SHOW, read from tokens
//! (their grammar is small, and the values must be kept exactly as written).
//!
//! Owns the PostgreSQL spellings of these statements and their SQLite or session-command
//! equivalents. Must not know the AST or how the frontend stores settings.

use super::lex::{Tok, Token};
use super::split::Piece;
use super::{PgStatement, Translated};
use crate::error::DbError;
use crate::plan::{StmtKind, TxnControl};
use crate::sqlstate::SqlState;

/// `Some` when the statement is transaction control or SET/RESET/SHOW that this module
/// translates; `None` to hand it to the parser (or to SQLite as is).
///
/// # Errors
/// `0A000` for two-phase commit and `AND CHAIN`.
pub(super) fn keyword_statement(piece: &Piece<'_>) -> Result<Option<PgStatement>, DbError> {
    let t = piece.tokens.as_slice();
    let Some(first) = t.first().and_then(Token::word) else {
        return Ok(None);
    };
    Ok(match first.as_str() {
        "BEGIN" | "START" => begin(t, &first),
        "COMMIT" | "END" | "ROLLBACK" | "ABORT" => end(piece, &first)?,
        // PL/pgSQL has no SQLite counterpart.
        "DO" => return Err(not_supported("DO blocks")),
        "PREPARE" if t.get(1).is_some_and(|w| w.is("TRANSACTION")) => {
            return Err(not_supported("two-phase commit"));
        }
        "SAVEPOINT" => savepoint(piece, 1, "SAVEPOINT", TxnControl::Savepoint),
        "RELEASE" => {
            let at = if t.get(1).is_some_and(|w| w.is("SAVEPOINT")) {
                2
            } else {
                1
            };
            savepoint(piece, at, "RELEASE", TxnControl::Savepoint)
        }
        "SET" => super::control_set::set(t).map(PgStatement::Set),
        "RESET" => super::control_set::reset(t).map(PgStatement::Set),
        "SHOW" => super::control_set::show(t).map(PgStatement::Show),
        _ => None,
    })
}

/// `0A000` naming the construct.
pub(super) fn not_supported(what: &str) -> DbError {
    DbError::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("{what} is not supported by the embedded SQLite database"),
    )
}

fn control(sql: String, kind: TxnControl, tag: &str) -> PgStatement {
    PgStatement::Query(Translated {
        sql,
        kind: StmtKind::Transaction(kind),
        tag: tag.to_owned(),
        tag_counts_rows: false,
        params: Vec::new(),
        columns: Vec::new(),
    })
}

/// `BEGIN [WORK|TRANSACTION] [modes]`, `START TRANSACTION [modes]` → `BEGIN`. SQLite's own
/// `BEGIN DEFERRED|IMMEDIATE|EXCLUSIVE` is left to the parser path (passed through).
fn begin(t: &[Token], first: &str) -> Option<PgStatement> {
    let (rest, tag) = if first == "START" {
        t.get(1).filter(|w| w.is("TRANSACTION"))?;
        (t.get(2..)?, "START TRANSACTION")
    } else {
        let skip = usize::from(
            t.get(1)
                .is_some_and(|w| w.is("WORK") || w.is("TRANSACTION")),
        );
        (t.get(1 + skip..)?, "BEGIN")
    };
    transaction_modes(rest)?;
    Some(control("BEGIN".to_owned(), TxnControl::Begin, tag))
}

/// Transaction modes as `(setting suffix, value)`: `isolation`, `read_only`, `deferrable`.
/// `None` when the tokens are not a list of modes.
pub(super) fn transaction_modes(t: &[Token]) -> Option<Vec<(&'static str, &'static str)>> {
    let words: Vec<String> = t
        .iter()
        .filter(|t| t.kind != Tok::Punct(','))
        .map(|t| t.word())
        .collect::<Option<_>>()?;
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut modes = Vec::new();
    let mut rest = words.as_slice();
    while !rest.is_empty() {
        let (mode, used) = match rest {
            ["ISOLATION", "LEVEL", "SERIALIZABLE", ..] => (("isolation", "serializable"), 3),
            ["ISOLATION", "LEVEL", "REPEATABLE", "READ", ..] => {
                (("isolation", "repeatable read"), 4)
            }
            ["ISOLATION", "LEVEL", "READ", "COMMITTED", ..] => (("isolation", "read committed"), 4),
            ["ISOLATION", "LEVEL", "READ", "UNCOMMITTED", ..] => {
                (("isolation", "read uncommitted"), 4)
            }
            ["READ", "ONLY", ..] => (("read_only", "on"), 2),
            ["READ", "WRITE", ..] => (("read_only", "off"), 2),
            ["NOT", "DEFERRABLE", ..] => (("deferrable", "off"), 2),
            ["DEFERRABLE", ..] => (("deferrable", "on"), 1),
            _ => return None,
        };
        modes.push(mode);
        rest = rest.get(used..).unwrap_or_default();
    }
    Some(modes)
}

/// `COMMIT`/`END`/`ROLLBACK`/`ABORT [WORK|TRANSACTION] [AND NO CHAIN]`, `ROLLBACK … TO
/// [SAVEPOINT] x`.
fn end(piece: &Piece<'_>, first: &str) -> Result<Option<PgStatement>, DbError> {
    let t = piece.tokens.as_slice();
    let skip = usize::from(
        t.get(1)
            .is_some_and(|w| w.is("WORK") || w.is("TRANSACTION")),
    );
    let rest: Vec<String> = t
        .get(1 + skip..)
        .unwrap_or_default()
        .iter()
        .filter_map(Token::word)
        .collect();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let rollback = matches!(first, "ROLLBACK" | "ABORT");
    match rest.as_slice() {
        ["PREPARED", ..] if skip == 0 => Err(not_supported("two-phase commit")),
        ["AND", "CHAIN"] => Err(not_supported("AND CHAIN")),
        [] | ["AND", "NO", "CHAIN"] if t.len() == 1 + skip + rest.len() => Ok(Some(if rollback {
            control("ROLLBACK".to_owned(), TxnControl::Rollback, "ROLLBACK")
        } else {
            control("COMMIT".to_owned(), TxnControl::Commit, "COMMIT")
        })),
        ["TO", ..] if rollback => {
            let at = 2 + skip + usize::from(t.get(2 + skip).is_some_and(|w| w.is("SAVEPOINT")));
            Ok(name_at(piece, at).map(|name| {
                control(
                    format!("ROLLBACK TO {name}"),
                    TxnControl::Savepoint,
                    "ROLLBACK",
                )
            }))
        }
        _ => Ok(None),
    }
}

fn savepoint(piece: &Piece<'_>, at: usize, verb: &str, kind: TxnControl) -> Option<PgStatement> {
    let name = name_at(piece, at)?;
    Some(control(format!("{verb} {name}"), kind, verb))
}

/// The identifier at token `at`, as written, when it is the last token.
fn name_at<'a>(piece: &Piece<'a>, at: usize) -> Option<&'a str> {
    let token = piece.tokens.get(at)?;
    if piece.tokens.len() != at + 1 || !matches!(token.kind, Tok::Word(_) | Tok::Quoted(_)) {
        return None;
    }
    piece.text.get(token.start..token.end)
}
