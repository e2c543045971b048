//! Classifies a statement from its text: read, write, DDL, transaction control or other.
//!
//! A cheap lexer (comments, strings, quoted identifiers, parentheses) rather than a full
//! parser, so that every statement any backend accepts gets a class and nothing is rejected
//! here. The class is a routing hint; backends confirm read-only-ness on the prepared
//! statement. Must not know any backend.

use crate::plan::{StmtKind, TxnControl};

/// Classifies the first statement in `sql`.
#[must_use]
pub fn classify(sql: &str) -> StmtKind {
    let mut words = Words::new(sql);
    let Some(first) = words.first_word() else {
        return StmtKind::Other;
    };
    match first.as_str() {
        "SELECT" | "VALUES" | "TABLE" | "EXPLAIN" | "SHOW" => StmtKind::Read,
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "UPSERT" | "MERGE" | "COPY" => StmtKind::Write,
        "CREATE" | "ALTER" | "DROP" | "TRUNCATE" | "REINDEX" | "COMMENT" | "RENAME" => {
            StmtKind::Ddl
        }
        "BEGIN" | "START" => StmtKind::Transaction(TxnControl::Begin),
        "COMMIT" | "END" => StmtKind::Transaction(TxnControl::Commit),
        "SAVEPOINT" | "RELEASE" => StmtKind::Transaction(TxnControl::Savepoint),
        "ROLLBACK" | "ABORT" => {
            let next = words.next_top_level_word();
            let next = if next.as_deref() == Some("TRANSACTION") || next.as_deref() == Some("WORK")
            {
                words.next_top_level_word()
            } else {
                next
            };
            if next.as_deref() == Some("TO") {
                StmtKind::Transaction(TxnControl::Savepoint)
            } else {
                StmtKind::Transaction(TxnControl::Rollback)
            }
        }
        "WITH" => loop {
            match words.next_top_level_word().as_deref() {
                Some("SELECT" | "VALUES") => break StmtKind::Read,
                Some("INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "MERGE") => {
                    break StmtKind::Write;
                }
                Some(_) => {}
                None => break StmtKind::Other,
            }
        },
        _ => StmtKind::Other,
    }
}

/// Iterates the upper-cased bare words at parenthesis depth 0, skipping comments, string
/// literals, quoted identifiers and everything inside parentheses.
struct Words<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Words<'a> {
    fn new(sql: &'a str) -> Self {
        Self {
            bytes: sql.as_bytes(),
            pos: 0,
        }
    }

    /// The first word, looking through leading parentheses (`(SELECT 1)`).
    fn first_word(&mut self) -> Option<String> {
        self.word(true)
    }

    fn next_top_level_word(&mut self) -> Option<String> {
        self.word(false)
    }

    fn word(&mut self, through_parens: bool) -> Option<String> {
        let mut depth = 0usize;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'-' if self.bytes.get(self.pos + 1) == Some(&b'-') => self.skip_line(),
                b'/' if self.bytes.get(self.pos + 1) == Some(&b'*') => self.skip_block(),
                b'\'' | b'"' | b'`' => self.skip_quoted(b),
                b'[' => self.skip_quoted(b']'),
                b'(' => {
                    depth += usize::from(!through_parens);
                    self.pos += 1;
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    self.pos += 1;
                }
                b';' if depth == 0 => return None,
                b if b.is_ascii_alphabetic() || b == b'_' => {
                    let start = self.pos;
                    while self
                        .bytes
                        .get(self.pos)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
                    {
                        self.pos += 1;
                    }
                    if depth == 0 {
                        let word = &self.bytes[start..self.pos];
                        return Some(String::from_utf8_lossy(word).to_ascii_uppercase());
                    }
                }
                _ => self.pos += 1,
            }
        }
        None
    }

    fn skip_line(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                break;
            }
        }
    }

    fn skip_block(&mut self) {
        self.pos += 2;
        while self.pos < self.bytes.len() {
            if self.bytes[self.pos] == b'*' && self.bytes.get(self.pos + 1) == Some(&b'/') {
                self.pos += 2;
                return;
            }
            self.pos += 1;
        }
    }

    /// Skips a quoted run; a doubled closing quote is an escaped quote.
    fn skip_quoted(&mut self, close: u8) {
        self.pos += 1;
        while let Some(&b) = self.bytes.get(self.pos) {
            self.pos += 1;
            if b == close {
                if self.bytes.get(self.pos) == Some(&close) && close != b']' {
                    self.pos += 1;
                } else {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StmtKind::*;

    #[test]
    fn classifies_common_statements() {
        let cases = [
            ("SELECT 1", Read),
            ("  select * from t", Read),
            ("-- c\n/* x */ (SELECT 1)", Read),
            ("VALUES (1)", Read),
            ("EXPLAIN QUERY PLAN SELECT 1", Read),
            ("WITH x AS (SELECT 1) SELECT * FROM x", Read),
            (
                "WITH RECURSIVE c(n) AS (VALUES(1) UNION ALL SELECT n+1 FROM c) SELECT n FROM c",
                Read,
            ),
            ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", Write),
            ("WITH \"select\" AS (SELECT 1) DELETE FROM t", Write),
            ("INSERT INTO t VALUES (1) RETURNING id", Write),
            ("insert or replace into t values (1)", Write),
            ("REPLACE INTO t VALUES (1)", Write),
            ("UPDATE t SET a = 1", Write),
            ("DELETE FROM t", Write),
            ("CREATE TABLE t (a)", Ddl),
            ("DROP TABLE t", Ddl),
            ("ALTER TABLE t ADD b", Ddl),
            ("BEGIN", Transaction(TxnControl::Begin)),
            ("BEGIN IMMEDIATE", Transaction(TxnControl::Begin)),
            ("START TRANSACTION", Transaction(TxnControl::Begin)),
            ("COMMIT", Transaction(TxnControl::Commit)),
            ("END", Transaction(TxnControl::Commit)),
            ("ROLLBACK", Transaction(TxnControl::Rollback)),
            ("ROLLBACK TO sp", Transaction(TxnControl::Savepoint)),
            (
                "ROLLBACK TRANSACTION TO SAVEPOINT sp",
                Transaction(TxnControl::Savepoint),
            ),
            ("SAVEPOINT sp", Transaction(TxnControl::Savepoint)),
            ("RELEASE sp", Transaction(TxnControl::Savepoint)),
            ("PRAGMA table_info(t)", Other),
            ("VACUUM", Other),
            ("", Other),
            (";", Other),
            ("   -- only a comment", Other),
        ];
        for (sql, kind) in cases {
            assert_eq!(classify(sql), kind, "{sql}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for sql in [
            "'unterminated",
            "/* open",
            "\"",
            "[x",
            "((((",
            "))))",
            "WITH",
            "é SELECT",
            "\0",
        ] {
            let _ = classify(sql);
        }
    }
}
