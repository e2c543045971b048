//! A small SQL lexer for the external backends: statement boundaries and placeholders.
//!
//! Owns splitting a step's text at top-level `;` and rewriting its placeholders to the
//! server's style (`$n` for PostgreSQL, `?` for MySQL), skipping string literals, quoted
//! identifiers, comments and (PostgreSQL) dollar quotes. Numbering follows SQLite's, so
//! `Params::bind` binds exactly as on the embedded database: `$N`/`?N` are N, `?` is one more
//! than the largest so far, a name gets a number at its first appearance.
//!
//! Which tokens are placeholders: `$N` and `?N` always; `?` unless the text is PostgreSQL
//! dialect (where `?` is a jsonb operator); `:name` when params were supplied (with an
//! array, not in PostgreSQL-dialect text, where `arr[1:n]` is a slice); `@name` and
//! `$name` only when the params are an object with that key (MySQL's `@var` and PostgreSQL's
//! `@` operator stay untouched otherwise). Must not know any driver.

use std::collections::BTreeMap;

use starbase_protocol::{Params, Placeholder};

/// Whose lexical rules apply (the server parses the text, so the backend decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Server {
    /// `''` escapes, `E'…'` backslash strings, `"ident"`, nested `/* */`, `$tag$…$tag$`.
    Postgres,
    /// Backslash escapes in `'…'` and `"…"`, `` `ident` ``, `#` and `-- ` comments.
    MySql,
}

/// One statement of a step's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece<'a> {
    /// The statement, trimmed, without its `;`.
    pub(crate) text: &'a str,
    /// Characters before it in the step's text (for error positions).
    pub(crate) char_offset: usize,
}

/// A statement with its placeholders rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewritten {
    /// The text for the server.
    pub(crate) sql: String,
    /// Each distinct placeholder with its number, ascending (for `Params::bind`).
    pub(crate) slots: Vec<(usize, Placeholder)>,
    /// The number of every placeholder occurrence, in text order (MySQL binds per `?`).
    pub(crate) occurrences: Vec<usize>,
}

/// What the scanner found at a position.
enum Token {
    /// A placeholder spanning `len` bytes.
    Placeholder(Placeholder, usize),
    /// A top-level `;`.
    Semicolon,
    /// Anything the caller does not care about, spanning `len` bytes; `significant` is false
    /// for whitespace and comments.
    Other { len: usize, significant: bool },
}

struct Scanner<'a> {
    text: &'a str,
    server: Server,
    anonymous: bool,
    params: &'a Params,
}

/// Splits a step's text into its statements (empty and comment-only ones are dropped).
pub(crate) fn split(text: &str, server: Server) -> Vec<Piece<'_>> {
    let scanner = Scanner {
        text,
        server,
        anonymous: false,
        params: &Params::None,
    };
    let mut pieces = Vec::new();
    let (mut start, mut pos, mut significant) = (0, 0, false);
    // Characters before byte `.0` are `.1`, counted incrementally (not from the start for
    // every statement of a long text).
    let mut counted = (0usize, 0usize);
    let mut push = |start: usize, end: usize, significant: bool| {
        let raw = &text[start..end];
        let trimmed = raw.trim_start();
        let lead = raw.len() - trimmed.len();
        if significant {
            let at = start + lead;
            let char_offset = counted.1 + text[counted.0..at].chars().count();
            counted = (at, char_offset);
            pieces.push(Piece {
                text: trimmed.trim_end(),
                char_offset,
            });
        }
    };
    while pos < text.len() {
        match scanner.token(pos) {
            Token::Semicolon => {
                push(start, pos, significant);
                pos += 1;
                start = pos;
                significant = false;
            }
            Token::Placeholder(_, len) => {
                significant = true;
                pos += len;
            }
            Token::Other {
                len,
                significant: s,
            } => {
                significant |= s;
                pos += len;
            }
        }
    }
    push(start, text.len(), significant);
    pieces
}

/// Rewrites the placeholders of one statement for `server`. `anonymous` says whether `?`
/// is a placeholder (false for PostgreSQL-dialect text).
pub(crate) fn rewrite(sql: &str, server: Server, anonymous: bool, params: &Params) -> Rewritten {
    let scanner = Scanner {
        text: sql,
        server,
        anonymous,
        params,
    };
    let mut out = String::with_capacity(sql.len() + 8);
    let mut numbers: BTreeMap<usize, Placeholder> = BTreeMap::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut occurrences = Vec::new();
    let (mut pos, mut copied, mut max) = (0, 0, 0);
    while pos < sql.len() {
        match scanner.token(pos) {
            Token::Placeholder(ph, len) => {
                let n = match &ph {
                    Placeholder::Numbered { n, .. } => *n,
                    Placeholder::Anonymous => max + 1,
                    Placeholder::Named { name, .. } => {
                        match names.iter().find(|(seen, _)| seen == name) {
                            Some((_, n)) => *n,
                            None => {
                                names.push((name.clone(), max + 1));
                                max + 1
                            }
                        }
                    }
                };
                max = max.max(n);
                numbers.entry(n).or_insert(ph);
                occurrences.push(n);
                out.push_str(&sql[copied..pos]);
                match server {
                    Server::Postgres => out.push_str(&format!("${n}")),
                    Server::MySql => out.push('?'),
                }
                pos += len;
                copied = pos;
            }
            Token::Semicolon => pos += 1,
            Token::Other { len, .. } => pos += len,
        }
    }
    out.push_str(&sql[copied..]);
    Rewritten {
        sql: out,
        slots: numbers.into_iter().collect(),
        occurrences,
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

impl Scanner<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn at(&self, pos: usize) -> Option<u8> {
        self.bytes().get(pos).copied()
    }

    /// The token starting at `pos` (always at least one byte long, on a char boundary).
    fn token(&self, pos: usize) -> Token {
        let b = self.bytes()[pos];
        let next = self.at(pos + 1);
        let other = |len: usize| Token::Other {
            len,
            significant: true,
        };
        let comment = |len: usize| Token::Other {
            len,
            significant: false,
        };
        let mysql = self.server == Server::MySql;
        match b {
            b';' => Token::Semicolon,
            b'\'' => other(self.quoted(pos, b'\'', mysql || self.escape_string(pos))),
            b'"' => other(self.quoted(pos, b'"', mysql)),
            b'`' if mysql => other(self.quoted(pos, b'`', false)),
            b'-' if next == Some(b'-') && (!mysql || self.mysql_dash_comment(pos)) => {
                comment(self.line_end(pos))
            }
            b'#' if mysql => comment(self.line_end(pos)),
            b'/' if next == Some(b'*') => comment(self.block_comment(pos)),
            b'$' => self.dollar(pos),
            b'?' => self.question(pos),
            b':' | b'@' => self.named(pos, b),
            _ if b.is_ascii_whitespace() => comment(1),
            _ if is_ident_start(b) => other(self.word(pos)),
            _ => other(1),
        }
    }

    /// Length of an identifier or keyword (keeps `a$1` and `x?` apart from placeholders).
    fn word(&self, pos: usize) -> usize {
        let mut end = pos + 1;
        while self.at(end).is_some_and(is_ident) {
            end += 1;
        }
        end - pos
    }

    /// PostgreSQL `E'…'`: the quote follows a lone `E`.
    fn escape_string(&self, pos: usize) -> bool {
        pos >= 1
            && matches!(self.bytes()[pos - 1], b'E' | b'e')
            && (pos < 2 || !is_ident(self.bytes()[pos - 2]))
    }

    /// MySQL needs whitespace (or the end) after `--` for a comment.
    fn mysql_dash_comment(&self, pos: usize) -> bool {
        self.at(pos + 2)
            .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    }

    /// Length of a quoted token; a doubled quote is an escaped quote.
    fn quoted(&self, pos: usize, quote: u8, backslash: bool) -> usize {
        let mut i = pos + 1;
        while let Some(c) = self.at(i) {
            if backslash && c == b'\\' {
                i += 2;
            } else if c == quote {
                if self.at(i + 1) == Some(quote) {
                    i += 2;
                } else {
                    return i + 1 - pos;
                }
            } else {
                i += 1;
            }
        }
        self.text.len() - pos
    }

    fn line_end(&self, pos: usize) -> usize {
        self.text[pos..]
            .find('\n')
            .map_or(self.text.len() - pos, |n| n + 1)
    }

    /// Length of a block comment (nested on PostgreSQL).
    fn block_comment(&self, pos: usize) -> usize {
        let nested = self.server == Server::Postgres;
        let (mut depth, mut i) = (1usize, pos + 2);
        while i < self.text.len() {
            if self.at(i) == Some(b'*') && self.at(i + 1) == Some(b'/') {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i - pos;
                }
            } else if nested && self.at(i) == Some(b'/') && self.at(i + 1) == Some(b'*') {
                depth += 1;
                i += 2;
            } else {
                i += 1;
            }
        }
        self.text.len() - pos
    }

    fn digits(&self, from: usize) -> usize {
        self.bytes()[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    /// `$N`, a PostgreSQL dollar quote, or `$name`.
    fn dollar(&self, pos: usize) -> Token {
        let digits = self.digits(pos + 1);
        if digits > 0
            && let Ok(n) = self.text[pos + 1..pos + 1 + digits].parse::<usize>()
        {
            return Token::Placeholder(Placeholder::Numbered { n, sigil: '$' }, digits + 1);
        }
        // A tag is an identifier without `$`.
        let tag_len = match self.at(pos + 1) {
            Some(b) if is_ident_start(b) => self.bytes()[pos + 1..]
                .iter()
                .take_while(|&&c| is_ident(c) && c != b'$')
                .count(),
            _ => 0,
        };
        if self.server == Server::Postgres && self.at(pos + 1 + tag_len) == Some(b'$') {
            let name_len = tag_len;
            let tag = &self.text[pos..pos + name_len + 2];
            let body = pos + tag.len();
            let len = self.text[body..]
                .find(tag)
                .map_or(self.text.len() - pos, |n| tag.len() + n + tag.len());
            return Token::Other {
                len,
                significant: true,
            };
        }
        self.named_token(pos, '$', self.word_after(pos))
            .unwrap_or(Token::Other {
                len: 1,
                significant: true,
            })
    }

    /// `?` or `?N` (when `?` is a placeholder here).
    fn question(&self, pos: usize) -> Token {
        if !self.anonymous {
            return Token::Other {
                len: 1,
                significant: true,
            };
        }
        let digits = self.digits(pos + 1);
        match self.text[pos + 1..pos + 1 + digits].parse::<usize>() {
            Ok(n) if digits > 0 => {
                Token::Placeholder(Placeholder::Numbered { n, sigil: '?' }, digits + 1)
            }
            _ => Token::Placeholder(Placeholder::Anonymous, 1),
        }
    }

    /// `:name` or `@name`, unless part of `::`, `:=` or a MySQL `@@variable`.
    fn named(&self, pos: usize, sigil: u8) -> Token {
        let prev = pos.checked_sub(1).map(|p| self.bytes()[p]);
        let len = self.word_after(pos);
        let token = if prev == Some(sigil) || prev.is_some_and(is_ident) {
            None
        } else {
            self.named_token(pos, char::from(sigil), len)
        };
        token.unwrap_or(Token::Other {
            len: 1,
            significant: true,
        })
    }

    /// Length of the identifier right after `pos` (0 when none starts there).
    fn word_after(&self, pos: usize) -> usize {
        match self.at(pos + 1) {
            Some(b) if is_ident_start(b) => self.word(pos + 1),
            _ => 0,
        }
    }

    fn named_token(&self, pos: usize, sigil: char, len: usize) -> Option<Token> {
        if len == 0 {
            return None;
        }
        let name = self.text[pos + 1..pos + 1 + len].trim_end_matches('$');
        let accepted = match self.params {
            Params::None => false,
            // Not in PostgreSQL-dialect text, where `arr[1:n]` is a slice.
            Params::Positional(_) => sigil == ':' && self.anonymous,
            Params::Named(map) => map.iter().any(|(k, _)| {
                k == name || (k.get(1..) == Some(name) && k.starts_with([':', '@', '$']))
            }),
        };
        accepted.then(|| {
            Token::Placeholder(
                Placeholder::Named {
                    name: name.to_owned(),
                    sigil,
                },
                name.len() + 1,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use starbase_protocol::Value;

    fn named(keys: &[&str]) -> Params {
        Params::Named(
            keys.iter()
                .map(|k| ((*k).to_owned(), Value::Int(1)))
                .collect(),
        )
    }

    fn texts(text: &str, server: Server) -> Vec<&str> {
        split(text, server).into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let pg = "SELECT ';' ; SELECT $$a;b$$; /* x; */ -- y;\n SELECT $t$;$t$;;  ";
        assert_eq!(
            texts(pg, Server::Postgres),
            vec![
                "SELECT ';'",
                "SELECT $$a;b$$",
                "/* x; */ -- y;\n SELECT $t$;$t$"
            ]
        );
        let my = "SELECT 'a\\';b'; # c;\nSELECT `x;y`";
        assert_eq!(
            texts(my, Server::MySql),
            vec!["SELECT 'a\\';b'", "# c;\nSELECT `x;y`"]
        );
        assert!(texts(" -- only a comment\n ; ", Server::Postgres).is_empty());
        let pieces = split("SELECT 1; SELECT 2", Server::Postgres);
        assert_eq!(pieces[1].char_offset, 10);
    }

    #[test]
    fn postgres_keeps_dollar_numbers_and_renumbers_the_rest() {
        let r = rewrite("SELECT $2, $1, $2", Server::Postgres, false, &Params::None);
        assert_eq!(r.sql, "SELECT $2, $1, $2");
        assert_eq!(r.slots.iter().map(|s| s.0).collect::<Vec<_>>(), vec![1, 2]);
        let p = named(&["id", ":who"]);
        let r = rewrite(
            "SELECT :id, '::x', a::text, :who, :id, @other",
            Server::Postgres,
            false,
            &p,
        );
        assert_eq!(r.sql, "SELECT $1, '::x', a::text, $2, $1, @other");
        assert_eq!(r.occurrences, vec![1, 2, 1]);
        let r = rewrite("SELECT ?, ?3, ?", Server::Postgres, true, &Params::None);
        assert_eq!(r.sql, "SELECT $1, $3, $4");
        let r = rewrite(
            "SELECT '{}'::jsonb ? 'a'",
            Server::Postgres,
            false,
            &Params::None,
        );
        assert_eq!(r.sql, "SELECT '{}'::jsonb ? 'a'");
        assert!(r.slots.is_empty());
    }

    #[test]
    fn mysql_gets_one_question_mark_per_use() {
        let r = rewrite(
            "SELECT $2, $1, $2, '$3', `$4`",
            Server::MySql,
            true,
            &Params::None,
        );
        assert_eq!(r.sql, "SELECT ?, ?, ?, '$3', `$4`");
        assert_eq!(r.occurrences, vec![2, 1, 2]);
        let r = rewrite(
            "SELECT @a, @@version, @b",
            Server::MySql,
            true,
            &named(&["a"]),
        );
        assert_eq!(r.sql, "SELECT ?, @@version, @b");
        let r = rewrite(
            "SELECT \"it's ?\", ? -- ?\n",
            Server::MySql,
            true,
            &Params::None,
        );
        assert_eq!(r.sql, "SELECT \"it's ?\", ? -- ?\n");
        assert_eq!(r.occurrences, vec![1]);
    }

    #[test]
    fn postgres_slices_are_not_named_placeholders() {
        let p = Params::Positional(vec![Value::Int(1)]);
        let r = rewrite(
            "SELECT a[1:n] FROM t WHERE id = $1",
            Server::Postgres,
            false,
            &p,
        );
        assert_eq!(r.occurrences, vec![1]);
        let r = rewrite("SELECT :n", Server::Postgres, true, &p);
        assert_eq!(r.sql, "SELECT $1");
    }

    #[test]
    fn identifiers_with_dollars_and_e_strings() {
        let r = rewrite(
            "SELECT a$1, E'\\'$1', $1",
            Server::Postgres,
            false,
            &Params::None,
        );
        assert_eq!(r.occurrences, vec![1]);
        assert_eq!(r.sql, "SELECT a$1, E'\\'$1', $1");
    }
}
