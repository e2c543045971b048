//! CommandComplete tags from a statement's leading keywords, and the untranslated
//! pass-through statement.
//!
//! Owns the mapping from first keywords to PostgreSQL's tag spelling. Must not know the AST.

use super::Translated;
use super::lex::{Tok, Token};
use super::split::{Piece, max_param};
use crate::pgtype::PgType;
use crate::sql::classify::classify;

/// The tag PostgreSQL prints for a statement starting with these tokens, and whether a row
/// count follows it.
pub(super) fn tag_of(tokens: &[Token]) -> (String, bool) {
    let words: Vec<String> = tokens.iter().take(12).map_while(Token::word).collect();
    let first = words.first().map_or("", String::as_str);
    let tag = match first {
        "SELECT" | "VALUES" | "TABLE" => "SELECT".to_owned(),
        "WITH" => main_verb(tokens),
        "INSERT" | "REPLACE" => "INSERT 0".to_owned(),
        "UPDATE" | "DELETE" | "MERGE" | "FETCH" | "MOVE" | "COPY" => first.to_owned(),
        "BEGIN" => "BEGIN".to_owned(),
        "START" => "START TRANSACTION".to_owned(),
        "COMMIT" | "END" => "COMMIT".to_owned(),
        "ROLLBACK" | "ABORT" => "ROLLBACK".to_owned(),
        "CREATE" | "DROP" | "ALTER" => object_tag(&words),
        "TRUNCATE" => "TRUNCATE TABLE".to_owned(),
        "" => "SELECT".to_owned(),
        other => other.to_owned(),
    };
    let counts = matches!(
        tag.as_str(),
        "SELECT" | "INSERT 0" | "UPDATE" | "DELETE" | "MERGE" | "FETCH" | "MOVE" | "COPY"
    );
    (tag, counts)
}

/// `CREATE TABLE`, `CREATE INDEX` (for `CREATE UNIQUE INDEX` too), `DROP VIEW`, …
fn object_tag(words: &[String]) -> String {
    const SKIP: &[&str] = &[
        "OR",
        "REPLACE",
        "TEMP",
        "TEMPORARY",
        "UNIQUE",
        "UNLOGGED",
        "VIRTUAL",
        "IF",
        "CONCURRENTLY",
    ];
    let verb = words.first().map_or("", String::as_str);
    let mut object: Vec<&str> = Vec::new();
    for w in words.iter().skip(1).map(String::as_str) {
        if SKIP.contains(&w) && object.is_empty() {
            continue;
        }
        object.push(w);
        if !matches!(w, "MATERIALIZED" | "FOREIGN") {
            break;
        }
    }
    if object.is_empty() {
        verb.to_owned()
    } else {
        format!("{verb} {}", object.join(" "))
    }
}

/// The tag of `WITH … <verb>`: the first DML keyword at parenthesis depth 0.
fn main_verb(tokens: &[Token]) -> String {
    let mut depth = 0i32;
    for t in tokens {
        match &t.kind {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            Tok::Word(_) if depth == 0 => match t.word().as_deref() {
                Some("INSERT") => return "INSERT 0".to_owned(),
                Some(v @ ("UPDATE" | "DELETE" | "MERGE")) => return v.to_owned(),
                Some("SELECT" | "VALUES") => return "SELECT".to_owned(),
                _ => {}
            },
            _ => {}
        }
    }
    "SELECT".to_owned()
}

/// The statement as the client wrote it, for SQLite to run (or reject) as is.
pub(super) fn passthrough(piece: &Piece<'_>) -> Translated {
    let (tag, tag_counts_rows) = tag_of(&piece.tokens);
    Translated {
        sql: piece.text.to_owned(),
        kind: classify(piece.text),
        tag,
        tag_counts_rows,
        params: vec![PgType::Unknown; max_param(&piece.tokens)],
        columns: Vec::new(),
    }
}
