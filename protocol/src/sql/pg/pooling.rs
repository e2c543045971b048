//! What a PostgreSQL statement does to the session beyond its transaction, as a transaction
//! pooler must know it: session `SET`/`RESET` (to re-apply on another server connection),
//! transaction control, `DISCARD ALL`, `DEALLOCATE`, and the session-level features that
//! cannot move between server connections (LISTEN, session advisory locks, `WITH HOLD`
//! cursors, temporary tables, SQL `PREPARE`, `SET ROLE`, `set_config`).
//!
//! Owns [`SessionEffect`] and [`session_effects`]. Reads tokens only (the lexer), never
//! panics; text the lexer cannot read has no effects (the server reports its syntax error).
//! Must not know the wire protocol or pools.

use super::lex::{Tok, Token};
use super::split::split;

/// One statement's effect on the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEffect {
    /// `SET [SESSION] name {TO|=} value`: `name` as written, `value` the statement's text
    /// after `TO`/`=` (re-applied as `SET name TO value`).
    Set {
        /// The setting's name as written (quoted if it was).
        name: String,
        /// The value's text.
        value: String,
    },
    /// `RESET name` or `SET name TO DEFAULT`.
    Reset(String),
    /// `RESET ALL`.
    ResetAll,
    /// `BEGIN`, `COMMIT`, `ROLLBACK`, `SAVEPOINT`, … (makes a `SET` beside it uncertain).
    TransactionControl,
    /// `DISCARD ALL`: settings, prepared statements and temporary state are gone.
    DiscardAll,
    /// `DEALLOCATE [PREPARE] name` (`None`: `ALL`).
    Deallocate(Option<String>),
    /// A session-level feature that ties the session to its server connection; the text
    /// names it for logs and docs.
    Pin(&'static str),
}

/// The session effects of the statements in `sql`, in order (statements without any are
/// left out, so the usual answer is an empty vector).
#[must_use]
pub fn session_effects(sql: &str) -> Vec<SessionEffect> {
    // Fast path: statements that cannot have an effect (most of them) skip the lexer.
    if !might_affect_session(sql) {
        return Vec::new();
    }
    let Ok(pieces) = split(sql) else {
        return Vec::new();
    };
    pieces
        .iter()
        .filter_map(|piece| effect(piece.text, &piece.tokens))
        .collect()
}

/// A cheap pre-check: false when no statement can have an effect. One statement (no `;`)
/// is decided by its first word and a search for the two functions that pin; anything with
/// a `;` goes to the lexer.
fn might_affect_session(sql: &str) -> bool {
    const FIRST_WORDS: [&str; 16] = [
        "SET",
        "RESET",
        "BEGIN",
        "START",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "SAVEPOINT",
        "RELEASE",
        "PREPARE",
        "DISCARD",
        "DEALLOCATE",
        "LISTEN",
        "LOAD",
        "DECLARE",
    ];
    if sql.trim_end().trim_end_matches(';').contains(';') {
        return true;
    }
    let start = sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    if start.starts_with("--") || start.starts_with("/*") {
        return true;
    }
    let word: &str = start
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if FIRST_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        return true;
    }
    if word.eq_ignore_ascii_case("CREATE") {
        return contains_ignore_case(sql, b"temp");
    }
    contains_ignore_case(sql, b"advisory") || contains_ignore_case(sql, b"set_config")
}

fn contains_ignore_case(text: &str, needle: &[u8]) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn effect(text: &str, tokens: &[Token]) -> Option<SessionEffect> {
    let first = tokens.first()?.word()?;
    let word = |i: usize| tokens.get(i).and_then(Token::word);
    match first.as_str() {
        "SET" => set(text, tokens),
        "RESET" => match word(1).as_deref() {
            Some("ALL") => Some(SessionEffect::ResetAll),
            Some("ROLE" | "SESSION") => Some(SessionEffect::Pin("SET ROLE")),
            _ => Some(SessionEffect::Reset(name_text(text, tokens.get(1..)?)?)),
        },
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE" => {
            Some(SessionEffect::TransactionControl)
        }
        "PREPARE" if word(1).as_deref() == Some("TRANSACTION") => {
            Some(SessionEffect::TransactionControl)
        }
        "PREPARE" => Some(SessionEffect::Pin("SQL PREPARE")),
        "DISCARD" if word(1).as_deref() == Some("ALL") => Some(SessionEffect::DiscardAll),
        "DISCARD"
            if word(1).as_deref() == Some("TEMP") || word(1).as_deref() == Some("TEMPORARY") =>
        {
            None
        }
        "DEALLOCATE" => {
            let at = usize::from(word(1).as_deref() == Some("PREPARE")) + 1;
            match tokens.get(at).map(|t| &t.kind) {
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("ALL") => {
                    Some(SessionEffect::Deallocate(None))
                }
                Some(Tok::Word(w)) => Some(SessionEffect::Deallocate(Some(w.to_ascii_lowercase()))),
                Some(Tok::Quoted(w)) => Some(SessionEffect::Deallocate(Some(w.clone()))),
                _ => None,
            }
        }
        "LISTEN" => Some(SessionEffect::Pin("LISTEN")),
        "LOAD" => Some(SessionEffect::Pin("LOAD")),
        "DECLARE" if has_with_hold(tokens) => Some(SessionEffect::Pin("WITH HOLD cursors")),
        "CREATE" if creates_temporary(tokens) => Some(SessionEffect::Pin("temporary tables")),
        _ => calls_session_function(tokens),
    }
}

fn set(text: &str, tokens: &[Token]) -> Option<SessionEffect> {
    let mut at = 1;
    match tokens.get(1).and_then(Token::word).as_deref() {
        Some("LOCAL" | "TRANSACTION" | "CONSTRAINTS") => return None,
        Some("ROLE") => return Some(SessionEffect::Pin("SET ROLE")),
        Some("SESSION") => match tokens.get(2).and_then(Token::word).as_deref() {
            Some("AUTHORIZATION") => return Some(SessionEffect::Pin("SET SESSION AUTHORIZATION")),
            Some("CHARACTERISTICS") => {
                return Some(SessionEffect::Pin("SET SESSION CHARACTERISTICS"));
            }
            Some("ROLE") => return Some(SessionEffect::Pin("SET ROLE")),
            _ => at = 2,
        },
        _ => {}
    }
    let rest = tokens.get(at..)?;
    // The spellings with their own syntax.
    let (name, value_from) = if rest.first()?.is("TIME") && rest.get(1)?.is("ZONE") {
        ("TimeZone".to_owned(), at + 2)
    } else if rest.first()?.is("SCHEMA") {
        ("search_path".to_owned(), at + 1)
    } else if rest.first()?.is("NAMES") {
        ("client_encoding".to_owned(), at + 1)
    } else {
        let eq = rest
            .iter()
            .position(|t| t.is("TO") || t.kind == Tok::Punct('='))?;
        (name_text(text, &rest[..eq])?, at + eq + 1)
    };
    let value = tokens.get(value_from..)?;
    let first = value.first()?;
    if value.len() == 1 && first.is("DEFAULT") {
        return Some(SessionEffect::Reset(name));
    }
    let value = text.get(first.start..)?.trim().to_owned();
    Some(SessionEffect::Set { name, value })
}

/// The text a run of name tokens spans (`a.b`, `"X"`).
fn name_text(text: &str, tokens: &[Token]) -> Option<String> {
    let (first, last) = (tokens.first()?, tokens.last()?);
    Some(text.get(first.start..last.end)?.to_owned())
}

fn has_with_hold(tokens: &[Token]) -> bool {
    tokens
        .windows(2)
        .take_while(|w| !w[0].is("FOR"))
        .any(|w| w[0].is("WITH") && w[1].is("HOLD"))
}

fn creates_temporary(tokens: &[Token]) -> bool {
    tokens
        .iter()
        .skip(1)
        .take(3)
        .any(|t| t.is("TEMP") || t.is("TEMPORARY"))
}

fn calls_session_function(tokens: &[Token]) -> Option<SessionEffect> {
    tokens.iter().find_map(|t| match &t.kind {
        Tok::Word(w) => {
            let w = w.to_ascii_lowercase();
            if matches!(
                w.as_str(),
                "pg_advisory_lock"
                    | "pg_advisory_lock_shared"
                    | "pg_try_advisory_lock"
                    | "pg_try_advisory_lock_shared"
            ) {
                Some(SessionEffect::Pin("session advisory locks"))
            } else if w == "set_config" {
                Some(SessionEffect::Pin("set_config"))
            } else {
                None
            }
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::SessionEffect::*;
    use super::*;

    fn set(name: &str, value: &str) -> SessionEffect {
        Set {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn plain_statements_have_no_effect() {
        assert!(session_effects("SELECT abalance FROM pgbench_accounts WHERE aid = $1").is_empty());
        assert!(session_effects("UPDATE t SET x = 1").is_empty());
        assert!(session_effects("SET LOCAL statement_timeout = 5").is_empty());
        assert!(session_effects("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").is_empty());
        assert!(session_effects("SELECT pg_advisory_xact_lock(1)").is_empty());
        assert!(session_effects("SELECT 'set_config' AS s").is_empty());
        assert!(session_effects("SELECT 'unterminated").is_empty());
    }

    #[test]
    fn session_settings_are_read_with_their_value_text() {
        assert_eq!(
            session_effects("SET search_path TO a, \"B\"; SELECT 1"),
            vec![set("search_path", "a, \"B\"")]
        );
        assert_eq!(
            session_effects("set session statement_timeout = '5s'"),
            vec![set("statement_timeout", "'5s'")]
        );
        assert_eq!(
            session_effects("SET TIME ZONE 'UTC'"),
            vec![set("TimeZone", "'UTC'")]
        );
        assert_eq!(
            session_effects("SET myapp.user = 7"),
            vec![set("myapp.user", "7")]
        );
        assert_eq!(
            session_effects("SET work_mem TO DEFAULT; RESET DateStyle; RESET ALL"),
            vec![
                Reset("work_mem".to_owned()),
                Reset("DateStyle".to_owned()),
                ResetAll
            ]
        );
    }

    #[test]
    fn transaction_control_discard_and_deallocate_are_seen() {
        assert_eq!(
            session_effects("BEGIN; SET x.y = 1; COMMIT"),
            vec![TransactionControl, set("x.y", "1"), TransactionControl]
        );
        assert_eq!(session_effects("DISCARD ALL"), vec![DiscardAll]);
        assert_eq!(
            session_effects("DEALLOCATE PREPARE _pg3_0"),
            vec![Deallocate(Some("_pg3_0".to_owned()))]
        );
        assert_eq!(session_effects("deallocate all"), vec![Deallocate(None)]);
    }

    #[test]
    fn session_level_features_pin() {
        for (sql, what) in [
            ("LISTEN chan", "LISTEN"),
            ("SELECT pg_advisory_lock(1)", "session advisory locks"),
            (
                "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
                "WITH HOLD cursors",
            ),
            ("CREATE TEMP TABLE t (x int)", "temporary tables"),
            (
                "create global temporary table t (x int)",
                "temporary tables",
            ),
            ("PREPARE p AS SELECT 1", "SQL PREPARE"),
            ("SET ROLE alice", "SET ROLE"),
            ("SELECT set_config('a.b', '1', false)", "set_config"),
        ] {
            assert_eq!(session_effects(sql), vec![Pin(what)], "{sql}");
        }
        assert!(session_effects("DECLARE c CURSOR FOR SELECT 'with hold'").is_empty());
    }
}
