//! Statement shapes: the normalized form the allowlist compares statements by.
//!
//! Two statements have the same shape when they differ only in whitespace, comments, the
//! case of keywords and unquoted identifiers, a trailing `;`, and how their parameters are
//! spelled (`?`, `?3`, `$1`, `:name`, `@name` are all one placeholder). Literal values are part
//! of the shape, as in StarbaseDB: allowing `... LIMIT 10` does not allow `... LIMIT 1000`.
//! Works on the token stream, so any statement the tokenizer reads has a shape, whether or
//! not the parser understands it (PRAGMA, `INSERT OR REPLACE`, dialect-specific syntax).
//! Must not know where statements come from or where entries are stored.

use std::collections::BTreeSet;

use sqlparser::dialect::{self as sp, Dialect as SpDialect};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::{DbError, Dialect, SqlState};

/// The shape of `sql` written in `dialect`.
///
/// # Errors
/// `42601` when the text cannot be tokenized (an unterminated string or quoted identifier).
pub fn statement_shape(sql: &str, dialect: Dialect) -> Result<String, DbError> {
    let parser_dialect = parser_dialect(dialect);
    let tokens = Tokenizer::new(parser_dialect.as_ref(), sql)
        .tokenize()
        .map_err(|e| {
            DbError::new(
                SqlState::SYNTAX_ERROR,
                format!("cannot read statement: {e}"),
            )
        })?;
    let mut words: Vec<String> = Vec::with_capacity(tokens.len());
    // Whether the last token pushed is a `:` (or SQLite `@`) glued to what follows: then a
    // word is a named parameter.
    let mut sigil = false;
    for token in tokens {
        let named = std::mem::take(&mut sigil);
        match token {
            Token::Whitespace(_) => {}
            Token::Placeholder(_) => words.push("?".into()),
            Token::Word(_) if named => {
                words.pop();
                words.push("?".into());
            }
            // The gateway takes `$n` parameters on every backend; MySQL's tokenizer reads
            // them as words (`$` may start a MySQL identifier).
            Token::Word(word) if word.quote_style.is_none() && is_dollar_param(&word.value) => {
                words.push("?".into());
            }
            Token::Word(word) => words.push(match word.quote_style {
                None => word.value.to_lowercase(),
                Some(_) => format!("\"{}\"", word.value.replace('"', "\"\"")),
            }),
            Token::Colon => {
                words.push(":".into());
                sigil = true;
            }
            Token::AtSign if dialect == Dialect::Sqlite => {
                words.push("@".into());
                sigil = true;
            }
            other => words.push(other.to_string()),
        }
    }
    while words.last().is_some_and(|w| w == ";") {
        words.pop();
    }
    Ok(words.join(" "))
}

/// Whether `sql` holds one of `words` (lowercase) as an identifier, quoted or not — not
/// inside a string or a comment. Text the tokenizer cannot read counts as holding it when
/// it contains one of them at all, so a caller routing on this errs on the side of the
/// word's owner.
#[must_use]
pub fn names_any_word(sql: &str, words: &[&str]) -> bool {
    // Runs on every admin statement: the cheap test first, without copying the text.
    if !words.iter().any(|w| contains_ignore_case(sql, w)) {
        return false;
    }
    match Tokenizer::new(&sp::GenericDialect {}, sql).tokenize() {
        Ok(tokens) => tokens.iter().any(|t| match t {
            Token::Word(w) => words.contains(&w.value.to_ascii_lowercase().as_str()),
            _ => false,
        }),
        Err(_) => true,
    }
}

/// The names of every common table expression `sql` defines, at any depth (lowercase).
/// SQLite's authorizer reports reads inside a CTE as coming from the CTE's name, as it does
/// for views; these names tell the two apart.
///
/// # Errors
/// `42601` when the text does not parse.
pub fn cte_names(sql: &str, dialect: Dialect) -> Result<BTreeSet<String>, DbError> {
    use sqlparser::ast::{Query, Visit, Visitor};
    use std::ops::ControlFlow;
    struct Names(BTreeSet<String>);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.0.insert(cte.alias.name.value.to_lowercase());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(BTreeSet::new());
    if !contains_ignore_case(sql, "with") {
        return Ok(names.0);
    }
    let statements = sqlparser::parser::Parser::parse_sql(parser_dialect(dialect).as_ref(), sql)
        .map_err(|e| DbError::new(SqlState::SYNTAX_ERROR, e.to_string()))?;
    for statement in &statements {
        let _ = statement.visit(&mut names);
    }
    Ok(names.0)
}

/// `$1`, `$2`, …
fn is_dollar_param(word: &str) -> bool {
    word.strip_prefix('$')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `haystack` contains the ASCII `needle` (lowercase), ignoring ASCII case.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

fn parser_dialect(dialect: Dialect) -> Box<dyn SpDialect> {
    match dialect {
        Dialect::Sqlite => Box::new(sp::SQLiteDialect {}),
        Dialect::Postgres => Box::new(sp::PostgreSqlDialect {}),
        Dialect::MySql => Box::new(sp::MySqlDialect {}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sql: &str) -> String {
        statement_shape(sql, Dialect::Sqlite).unwrap()
    }

    #[test]
    fn whitespace_case_comments_and_semicolons_do_not_matter() {
        let want = shape("SELECT * FROM users WHERE id = ?");
        for sql in [
            "select *\n  from USERS where id=?;",
            "SELECT /* c */ * FROM users -- trailing\n WHERE id = ? ;;",
            "  SELECT\t*\tFROM users WHERE id = ?  ",
        ] {
            assert_eq!(shape(sql), want, "{sql}");
        }
    }

    #[test]
    fn every_placeholder_spelling_is_one_placeholder() {
        let want = shape("SELECT * FROM t WHERE a = ? AND b = ?");
        for sql in [
            "SELECT * FROM t WHERE a = ?1 AND b = ?2",
            "SELECT * FROM t WHERE a = :a AND b = :b",
            "SELECT * FROM t WHERE a = @a AND b = $b",
        ] {
            assert_eq!(shape(sql), want, "{sql}");
        }
        let pg = |s| statement_shape(s, Dialect::Postgres).unwrap();
        assert_eq!(pg("SELECT $1::int LIMIT $2"), pg("select ?::int limit ?"));
        let my = |s| statement_shape(s, Dialect::MySql).unwrap();
        assert_eq!(
            my("SELECT a FROM t WHERE id = $1 LIMIT $2"),
            my("select a from T where id = ? limit ?")
        );
    }

    #[test]
    fn literals_and_quoted_names_are_part_of_the_shape() {
        assert_ne!(
            shape("SELECT * FROM t LIMIT 10"),
            shape("SELECT * FROM t LIMIT 1000")
        );
        assert_ne!(shape("SELECT 'a'"), shape("SELECT 'A'"));
        assert_eq!(
            shape("SELECT \"Name\" FROM t"),
            shape("select `Name` from T")
        );
        assert_ne!(
            shape("SELECT \"Name\" FROM t"),
            shape("SELECT \"name\" FROM t")
        );
        // A comment cannot hide a different statement.
        assert_ne!(
            shape("SELECT 1 -- ; DROP TABLE t"),
            shape("SELECT 1; DROP TABLE t")
        );
    }

    #[test]
    fn cte_names_at_every_depth() {
        let names = cte_names(
            "WITH a AS (SELECT 1), \"B\" AS (WITH c AS (SELECT 2) SELECT * FROM c) \
             SELECT * FROM a, (WITH d AS (SELECT 3) SELECT * FROM d)",
            Dialect::Sqlite,
        )
        .unwrap();
        assert_eq!(names, ["a", "b", "c", "d"].map(String::from).into());
        assert!(cte_names("SELECT 1", Dialect::Sqlite).unwrap().is_empty());
    }

    #[test]
    fn statements_the_parser_does_not_know_still_have_a_shape() {
        assert_eq!(
            shape("PRAGMA table_info(users)"),
            "pragma table_info ( users )"
        );
        assert_eq!(
            shape("INSERT OR REPLACE INTO kv VALUES (?, ?) RETURNING *"),
            shape("insert or replace into KV values (:k,:v) returning *;")
        );
        assert_eq!(
            shape("SELECT * FROM t LIMIT ? OFFSET ?"),
            shape("select * from t limit ?1 offset ?2")
        );
        assert_eq!(
            statement_shape("SELECT 'unterminated", Dialect::Sqlite)
                .unwrap_err()
                .code,
            SqlState::SYNTAX_ERROR
        );
    }
}
