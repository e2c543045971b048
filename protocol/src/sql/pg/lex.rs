//! A small lexer for PostgreSQL (and SQLite) text: statement splitting, `$n` scanning, and
//! the tokens the keyword-level translations (SET, SHOW, transaction control) read.
//!
//! Knows quoting (`'…'`, `E'…'`, `$tag$…$tag$`, `"…"`, `` `…` ``; `[` is PostgreSQL's subscript, not a quote), comments and
//! `CREATE TRIGGER … BEGIN … END` bodies; never panics. Must not know the AST or any backend.

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
                c if c.is_ascii_digit()
                    || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) =>
                {
                    Tok::Number(self.number())
                }
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

/// True when some operator chain (at one parenthesis level, between commas) is longer than
/// [`MAX_CHAIN`], or the statement has more set operations than that.
pub(super) fn too_deep(tokens: &[Token]) -> bool {
    const CHAIN_WORDS: &[&str] = &[
        "AND", "OR", "NOT", "LIKE", "ILIKE", "SIMILAR", "IS", "IN", "BETWEEN", "COLLATE", "AT",
    ];
    let mut levels: Vec<usize> = vec![0];
    let mut set_ops = 0usize;
    for token in tokens {
        let counts = match &token.kind {
            Tok::Punct('(') => {
                levels.push(0);
                false
            }
            Tok::Punct(')') => {
                if levels.len() > 1 {
                    levels.pop();
                }
                false
            }
            Tok::Punct(',') => {
                if let Some(level) = levels.last_mut() {
                    *level = 0;
                }
                false
            }
            Tok::Punct('.' | '[' | ']') => false,
            Tok::Punct(_) => true,
            Tok::Word(w) => {
                let upper = w.to_ascii_uppercase();
                set_ops += usize::from(matches!(upper.as_str(), "UNION" | "INTERSECT" | "EXCEPT"));
                CHAIN_WORDS.contains(&upper.as_str())
            }
            _ => false,
        };
        if let Some(level) = levels.last_mut().filter(|_| counts) {
            *level += 1;
            if *level > MAX_CHAIN {
                return true;
            }
        }
    }
    set_ops > MAX_CHAIN
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
