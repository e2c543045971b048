//! Statements from tokens: splitting a text at top-level `;` (trigger bodies kept whole),
//! the highest `$n`, and the depth guard that keeps pathological chains away from the parser.
//!
//! Owns `Piece`. Must not know the AST.

use super::lex::{Tok, Token, tokenize};
use crate::error::DbError;

/// A statement's byte range in the text and its tokens.
#[derive(Debug, Clone)]
pub(super) struct Piece<'a> {
    /// The statement's text, trimmed, without its `;`.
    pub(super) text: &'a str,
    /// Its tokens, offsets relative to `text`.
    pub(super) tokens: Vec<Token>,
}

/// Splits `sql` into statements at top-level `;` (not inside a trigger body's
/// `BEGIN … END`). Pieces without tokens (comments only) are dropped.
///
/// # Errors
/// `42601` for unterminated quotes or comments.
pub(super) fn split(sql: &str) -> Result<Vec<Piece<'_>>, DbError> {
    let tokens = tokenize(sql)?;
    let mut pieces = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut depth = 0usize;
    for token in tokens {
        if token.kind == Tok::Semi && depth == 0 {
            push_piece(sql, &mut current, &mut pieces);
            continue;
        }
        depth = trigger_depth(&current, &token, depth);
        current.push(token);
    }
    push_piece(sql, &mut current, &mut pieces);
    Ok(pieces)
}

/// Tracks `BEGIN … END` nesting inside `CREATE TRIGGER` (and `CASE … END` inside it).
fn trigger_depth(current: &[Token], token: &Token, depth: usize) -> usize {
    let is_trigger = current.first().is_some_and(|t| t.is("CREATE"))
        && current.iter().take(6).any(|t| t.is("TRIGGER"));
    if !is_trigger {
        return depth;
    }
    if token.is("BEGIN") || (token.is("CASE") && depth > 0) {
        depth + 1
    } else if token.is("END") {
        depth.saturating_sub(1)
    } else {
        depth
    }
}

fn push_piece<'a>(sql: &'a str, current: &mut Vec<Token>, pieces: &mut Vec<Piece<'a>>) {
    let tokens = std::mem::take(current);
    let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
        return;
    };
    let (start, end) = (first.start, last.end);
    let text = sql.get(start..end).unwrap_or("");
    let tokens = tokens
        .into_iter()
        .map(|t| Token {
            start: t.start - start,
            end: t.end - start,
            kind: t.kind,
        })
        .collect();
    pieces.push(Piece { text, tokens });
}

/// Operators in one chain beyond which a statement is not parsed: sqlparser builds chains
/// (`a + b + …`, `… UNION …`, `x::t::t…`) as left-deep trees, and dropping, printing or
/// walking a tree thousands deep would overflow the stack. SQLite, with its own expression
/// depth limit, gets such a statement as written.
const MAX_CHAIN: usize = 400;

/// True when the operator chains open at some point (one per parenthesis level, each since
/// the last comma at its level) together with the set operations so far are longer than
/// [`MAX_CHAIN`]: roughly the depth of the tree the parser would build.
pub(super) fn too_deep(tokens: &[Token]) -> bool {
    const CHAIN_WORDS: &[&str] = &[
        "AND", "OR", "NOT", "LIKE", "ILIKE", "SIMILAR", "IS", "IN", "BETWEEN", "COLLATE", "AT",
    ];
    let mut levels: Vec<usize> = vec![0];
    // The sum of `levels`, kept as it changes.
    let mut open = 0usize;
    let mut set_ops = 0usize;
    for token in tokens {
        match &token.kind {
            Tok::Punct('(') => levels.push(0),
            Tok::Punct(')') if levels.len() > 1 => open -= levels.pop().unwrap_or(0),
            Tok::Punct(',') => {
                if let Some(level) = levels.last_mut() {
                    open -= *level;
                    *level = 0;
                }
            }
            Tok::Punct('.' | '[' | ']' | ')') => {}
            Tok::Punct(_) => {
                open += 1;
                if let Some(level) = levels.last_mut() {
                    *level += 1;
                }
            }
            Tok::Word(w) => {
                let upper = w.to_ascii_uppercase();
                if matches!(upper.as_str(), "UNION" | "INTERSECT" | "EXCEPT") {
                    set_ops += 1;
                } else if CHAIN_WORDS.contains(&upper.as_str()) {
                    open += 1;
                    if let Some(level) = levels.last_mut() {
                        *level += 1;
                    }
                }
            }
            _ => {}
        }
        if open + set_ops > MAX_CHAIN {
            return true;
        }
    }
    false
}

/// The highest `$n` among the tokens (0 when none); capped so that a huge `$n` cannot
/// allocate a huge vector.
pub(super) fn max_param(tokens: &[Token]) -> usize {
    const MAX_PARAMS: usize = 65_535;
    tokens
        .iter()
        .filter_map(|t| match t.kind {
            Tok::Param(n) => Some(n.min(MAX_PARAMS)),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}
