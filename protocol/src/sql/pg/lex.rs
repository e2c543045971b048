//! A small lexer for PostgreSQL (and SQLite) text: the tokens statement splitting, `$n`
//! scanning and the keyword-level translations (SET, SHOW, transaction control) read.
//!
//! Knows quoting (`'…'`, `E'…'` with its escapes, `$tag$…$tag$`, `"…"`, `` `…` ``; `[` is
//! PostgreSQL's subscript, not a quote) and nested comments; never panics. Must not know
//! statements, the AST or any backend.

use crate::error::DbError;
use crate::sqlstate::SqlState;

/// One token: its kind and its byte range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// A bare word (keyword or identifier), as written.
    Word(String),
    /// A quoted identifier, unquoted.
    Quoted(String),
    /// A string literal (any quoting), its value.
    Str(String),
    /// A number, as written.
    Number(String),
    /// `$n`.
    Param(usize),
    /// `;`.
    Semi,
    /// Any other punctuation character.
    Punct(char),
}

impl Token {
    /// The upper-cased word, if this is a bare word.
    pub(super) fn word(&self) -> Option<String> {
        match &self.kind {
            Tok::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }

    /// True when this is the bare word `kw` (case-insensitive).
    pub(super) fn is(&self, kw: &str) -> bool {
        matches!(&self.kind, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

/// Tokenizes `sql`.
///
/// # Errors
/// `42601` for an unterminated string, quoted identifier or block comment.
pub(super) fn tokenize(sql: &str) -> Result<Vec<Token>, DbError> {
    let mut lexer = Lexer {
        sql,
        pos: 0,
        start: 0,
    };
    let mut out = Vec::new();
    loop {
        match lexer.next_token() {
            Ok(Some(token)) => out.push(token),
            Ok(None) => return Ok(out),
            Err(mut e) => {
                // 1-based character position of the unterminated token, as PostgreSQL reports.
                let before = sql.get(..lexer.start).map_or(0, |s| s.chars().count());
                e.position = u32::try_from(before + 1).ok();
                return Err(e);
            }
        }
    }
}

struct Lexer<'a> {
    sql: &'a str,
    pos: usize,
    /// Where the token being read starts.
    start: usize,
}

fn unterminated(what: &str) -> DbError {
    DbError::new(SqlState::SYNTAX_ERROR, format!("unterminated {what}"))
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.sql.get(self.pos..)?.chars().nth(ahead)
    }

    fn rest(&self) -> &str {
        self.sql.get(self.pos..).unwrap_or("")
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.rest().chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn next_token(&mut self) -> Result<Option<Token>, DbError> {
        loop {
            let Some(c) = self.peek(0) else {
                return Ok(None);
            };
            let start = self.pos;
            self.start = start;
            let kind = match c {
                c if c.is_whitespace() => {
                    self.bump();
                    continue;
                }
                '-' if self.peek(1) == Some('-') => {
                    let len = self.rest().find('\n').unwrap_or(self.rest().len());
                    self.pos += len;
                    continue;
                }
                '/' if self.peek(1) == Some('*') => {
                    self.block_comment()?;
                    continue;
                }
                '\'' => Tok::Str(self.quoted('\'', false)?),
                'e' | 'E' if self.peek(1) == Some('\'') => {
                    self.bump();
                    Tok::Str(self.quoted('\'', true)?)
                }
                '"' => Tok::Quoted(self.quoted('"', false)?),
                '`' => Tok::Quoted(self.quoted('`', false)?),
                '$' => self.dollar()?,
                ';' => {
                    self.bump();
                    Tok::Semi
                }
                c if self.starts_number(c) => Tok::Number(self.number()),
                c if c.is_alphabetic() || c == '_' => Tok::Word(self.word()),
                c => {
                    self.bump();
                    Tok::Punct(c)
                }
            };
            return Ok(Some(Token {
                kind,
                start,
                end: self.pos,
            }));
        }
    }

    fn starts_number(&self, c: char) -> bool {
        c.is_ascii_digit() || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit()))
    }

    fn block_comment(&mut self) -> Result<(), DbError> {
        // PostgreSQL block comments nest.
        self.pos += 2;
        let mut depth = 1usize;
        while depth > 0 {
            let rest = self.rest();
            if rest.starts_with("*/") {
                depth -= 1;
                self.pos += 2;
            } else if rest.starts_with("/*") {
                depth += 1;
                self.pos += 2;
            } else if self.bump().is_none() {
                return Err(unterminated("/* comment"));
            }
        }
        Ok(())
    }

    /// A quoted run; a doubled quote is one quote; with `escapes`, backslash escapes apply.
    fn quoted(&mut self, quote: char, escapes: bool) -> Result<String, DbError> {
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None if quote == '\'' => return Err(unterminated("quoted string")),
                None => return Err(unterminated("quoted identifier")),
                Some(c) if c == quote => {
                    if self.peek(0) == Some(quote) {
                        self.bump();
                        value.push(quote);
                    } else {
                        return Ok(value);
                    }
                }
                Some('\\') if escapes => match self.bump() {
                    None => return Err(unterminated("quoted string")),
                    Some(e) => self.escape(e, &mut value),
                },
                Some(c) => value.push(c),
            }
        }
    }

    /// Applies one backslash escape of an `E'…'` string (the backslash is consumed).
    fn escape(&mut self, e: char, value: &mut String) {
        let radix_run = |lexer: &mut Self, radix: u32, max: usize| {
            let mut code = 0u32;
            let mut taken = 0;
            while taken < max {
                match lexer.peek(0).and_then(|c| c.to_digit(radix)) {
                    Some(d) => {
                        code = code * radix + d;
                        lexer.bump();
                        taken += 1;
                    }
                    None => break,
                }
            }
            (code, taken)
        };
        let code = match e {
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(u32::from('\n')),
            'r' => Some(u32::from('\r')),
            't' => Some(u32::from('\t')),
            'x' => match radix_run(self, 16, 2) {
                (_, 0) => Some(u32::from('x')),
                (code, _) => Some(code),
            },
            'u' => Some(radix_run(self, 16, 4).0),
            'U' => Some(radix_run(self, 16, 8).0),
            '0'..='7' => {
                let first = e.to_digit(8).unwrap_or(0);
                let (rest, taken) = radix_run(self, 8, 2);
                let shift = 3 * u32::try_from(taken).unwrap_or(0);
                Some((first << shift) | rest)
            }
            other => {
                value.push(other);
                None
            }
        };
        if let Some(code) = code {
            value.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }

    /// `$n`, `$tag$…$tag$`, or a lone `$`.
    fn dollar(&mut self) -> Result<Tok, DbError> {
        let rest = self.rest();
        let digits = rest
            .get(1..)
            .unwrap_or("")
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits > 0 {
            let n = rest
                .get(1..=digits)
                .unwrap_or("")
                .parse()
                .unwrap_or(usize::MAX);
            self.pos += 1 + digits;
            return Ok(Tok::Param(n));
        }
        let tag_len =
            rest.get(1..).unwrap_or("").char_indices().find(|&(i, c)| {
                !(c.is_alphanumeric() || c == '_') || (i == 0 && c.is_ascii_digit())
            });
        match tag_len {
            Some((len, '$')) => {
                let tag = rest.get(..len + 2).unwrap_or("$$").to_owned();
                let body = rest.get(tag.len()..).unwrap_or("");
                let Some(end) = body.find(&tag) else {
                    return Err(unterminated("dollar-quoted string"));
                };
                let value = body.get(..end).unwrap_or("").to_owned();
                self.pos += tag.len() * 2 + end;
                Ok(Tok::Str(value))
            }
            _ => {
                self.bump();
                Ok(Tok::Punct('$'))
            }
        }
    }

    fn number(&mut self) -> String {
        let start = self.pos;
        let mut seen_e = false;
        while let Some(c) = self.peek(0) {
            let sign_after_e = (c == '+' || c == '-')
                && seen_e
                && self
                    .sql
                    .get(..self.pos)
                    .is_some_and(|s| s.ends_with(['e', 'E']));
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || sign_after_e {
                seen_e |= c == 'e' || c == 'E';
                self.bump();
            } else {
                break;
            }
        }
        self.sql.get(start..self.pos).unwrap_or("").to_owned()
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            self.bump();
        }
        self.sql.get(start..self.pos).unwrap_or("").to_owned()
    }
}
