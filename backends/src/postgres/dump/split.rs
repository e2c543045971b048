//! A streaming statement splitter for PostgreSQL scripts (what `psql -f` reads).
//!
//! Owns cutting text that arrives in chunks into statements at top-level `;`, respecting
//! `'…'` strings (`''` escapes), `E'…'` strings (backslash escapes), `"…"` identifiers,
//! `--` and nested `/* */` comments and `$tag$…$tag$` dollar quotes; `COPY … FROM stdin`
//! switches to data lines up to a `\.` line; a line starting with `\` where a statement
//! would start is a `psql` meta-command. Scanning resumes where it stopped, so a long
//! statement arriving in many chunks is read once. Memory holds the current statement (or
//! one data line). Must not know how statements run.

use starbase_protocol::{DbError, SqlState};

use crate::dump::ScriptItem;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Top,
    Str,
    EStr,
    Ident,
    Line,
    Block(u32),
    Dollar(String),
}

/// A PostgreSQL script splitter: [`PgSplitter::push`] text, take [`PgSplitter::next_item`]s,
/// then [`PgSplitter::finish`].
#[derive(Debug)]
pub struct PgSplitter {
    buf: String,
    /// Where scanning resumes in `buf`.
    pos: usize,
    state: State,
    /// The current statement has more than whitespace and comments.
    significant: bool,
    /// Inside `COPY … FROM stdin` data; `skip_line` while the rest of the COPY line remains.
    copy: bool,
    skip_line: bool,
    eof: bool,
}

impl Default for PgSplitter {
    fn default() -> Self {
        Self::new()
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Whether a statement is `COPY … FROM stdin`.
fn is_copy_from_stdin(sql: &str) -> bool {
    if crate::dump::first_keyword(sql) != "COPY" {
        return false;
    }
    let upper = sql.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    words
        .windows(2)
        .any(|w| w[0] == "FROM" && w[1].trim_end_matches(';') == "STDIN")
}

impl PgSplitter {
    /// An empty splitter.
    #[must_use]
    pub fn new() -> Self {
        Self {
            buf: String::new(),
            pos: 0,
            state: State::Top,
            significant: false,
            copy: false,
            skip_line: false,
            eof: false,
        }
    }

    /// Adds text.
    pub fn push(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    /// Bytes held (the statement being read).
    #[must_use]
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Marks the end of the script; what remains is taken with [`PgSplitter::next_item`],
    /// then [`PgSplitter::check_complete`] tells whether the script ended cleanly.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// After [`PgSplitter::finish`] and the last item: whether the script ended outside any
    /// string or comment.
    ///
    /// # Errors
    /// `42601` when the script ends inside a string, identifier, comment or dollar quote.
    pub fn check_complete(&self) -> Result<(), DbError> {
        let what = match &self.state {
            State::Str | State::EStr => "a string literal",
            State::Ident => "a quoted identifier",
            State::Block(_) => "a comment",
            State::Dollar(_) => "a dollar-quoted string",
            State::Top | State::Line => return Ok(()),
        };
        if self.copy {
            return Ok(());
        }
        Err(DbError::new(
            SqlState::SYNTAX_ERROR,
            format!("the SQL file ends inside {what}"),
        ))
    }

    fn take(&mut self, end: usize, skip: usize) -> String {
        let text = self.buf[..end].trim().to_owned();
        self.buf.drain(..(end + skip).min(self.buf.len()));
        self.pos = 0;
        self.significant = false;
        text
    }

    /// The next complete item, if the text so far has one.
    pub fn next_item(&mut self) -> Option<ScriptItem> {
        if self.copy {
            return self.next_copy();
        }
        loop {
            if let Some(item) = self.scan()? {
                return Some(item);
            }
        }
    }

    /// Data lines of a running COPY.
    fn next_copy(&mut self) -> Option<ScriptItem> {
        if self.skip_line {
            match self.buf.find('\n') {
                Some(nl) => {
                    self.buf.drain(..=nl);
                    self.skip_line = false;
                }
                None if self.eof => {
                    self.buf.clear();
                    self.skip_line = false;
                }
                None => return None,
            }
        }
        let mut end = 0;
        while let Some(nl) = self.buf[end..].find('\n') {
            let line = &self.buf[end..end + nl];
            if line.trim_end_matches('\r') == "\\." {
                if end > 0 {
                    let data: String = self.buf.drain(..end).collect();
                    return Some(ScriptItem::CopyData(data));
                }
                self.buf.drain(..=nl);
                self.copy = false;
                return Some(ScriptItem::CopyEnd);
            }
            end += nl + 1;
        }
        if end > 0 {
            let data: String = self.buf.drain(..end).collect();
            return Some(ScriptItem::CopyData(data));
        }
        if self.eof {
            let rest = std::mem::take(&mut self.buf);
            if rest.trim_end_matches('\r') == "\\." || rest.is_empty() {
                self.copy = false;
                return Some(ScriptItem::CopyEnd);
            }
            let mut rest = rest;
            rest.push('\n');
            return Some(ScriptItem::CopyData(rest));
        }
        None
    }

    /// Scans on; `None` when more text is needed, `Some(None)` to continue, `Some(item)`.
    #[allow(clippy::option_option)]
    fn scan(&mut self) -> Option<Option<ScriptItem>> {
        let bytes = self.buf.as_bytes();
        let len = bytes.len();
        let at = |i: usize| bytes.get(i).copied();
        while self.pos < len {
            let i = self.pos;
            let b = bytes[i];
            match &self.state {
                State::Top => {
                    let next = at(i + 1);
                    if next.is_none() && !self.eof && matches!(b, b'-' | b'/' | b'$') {
                        return None;
                    }
                    match b {
                        b'\\' if !self.significant => {
                            let Some(nl) = self.buf[i..].find('\n') else {
                                if !self.eof {
                                    return None;
                                }
                                let line = self.buf[i..].trim_end().to_owned();
                                self.buf.clear();
                                self.pos = 0;
                                return Some(Some(ScriptItem::Meta(line)));
                            };
                            let line = self.buf[i..i + nl].trim_end().to_owned();
                            self.buf.drain(..=i + nl);
                            self.pos = 0;
                            return Some(Some(ScriptItem::Meta(line)));
                        }
                        b'\'' => {
                            let e = i > 0
                                && matches!(bytes[i - 1], b'E' | b'e')
                                && (i < 2 || !is_ident(bytes[i - 2]));
                            self.state = if e { State::EStr } else { State::Str };
                            self.significant = true;
                        }
                        b'"' => {
                            self.state = State::Ident;
                            self.significant = true;
                        }
                        b'-' if next == Some(b'-') => {
                            self.state = State::Line;
                            self.pos += 1;
                        }
                        b'/' if next == Some(b'*') => {
                            self.state = State::Block(1);
                            self.pos += 1;
                        }
                        b'$' if i == 0 || !is_ident(bytes[i - 1]) => {
                            self.significant = true;
                            // `$tag$` or `$$`; `$1` is a parameter.
                            let mut j = i + 1;
                            while j < len && is_ident(bytes[j]) {
                                j += 1;
                            }
                            if j >= len && !self.eof {
                                return None;
                            }
                            let tag = &self.buf[i + 1..j];
                            if at(j) == Some(b'$') && !tag.starts_with(|c: char| c.is_ascii_digit())
                            {
                                self.state = State::Dollar(format!("${tag}$"));
                                self.pos = j + 1;
                                continue;
                            }
                        }
                        b';' => {
                            let significant = self.significant;
                            let sql = self.take(i, 1);
                            if !significant {
                                return Some(None);
                            }
                            if is_copy_from_stdin(&sql) {
                                self.copy = true;
                                self.skip_line = true;
                                return Some(Some(ScriptItem::CopyStart(sql)));
                            }
                            return Some(Some(ScriptItem::Statement(sql)));
                        }
                        b if b.is_ascii_whitespace() => {}
                        _ => self.significant = true,
                    }
                }
                State::Str | State::EStr => {
                    if b == b'\\' && self.state == State::EStr {
                        if i + 1 >= len && !self.eof {
                            return None;
                        }
                        self.pos += 2;
                        continue;
                    }
                    if b == b'\'' {
                        match at(i + 1) {
                            None if !self.eof => return None,
                            Some(b'\'') => self.pos += 1,
                            _ => self.state = State::Top,
                        }
                    }
                }
                State::Ident => {
                    if b == b'"' {
                        match at(i + 1) {
                            None if !self.eof => return None,
                            Some(b'"') => self.pos += 1,
                            _ => self.state = State::Top,
                        }
                    }
                }
                State::Line => {
                    if b == b'\n' {
                        self.state = State::Top;
                    }
                }
                State::Block(depth) => {
                    let depth = *depth;
                    let next = at(i + 1);
                    if next.is_none() && !self.eof && matches!(b, b'*' | b'/') {
                        return None;
                    }
                    if b == b'/' && next == Some(b'*') {
                        self.state = State::Block(depth + 1);
                        self.pos += 1;
                    } else if b == b'*' && next == Some(b'/') {
                        self.state = if depth == 1 {
                            State::Top
                        } else {
                            State::Block(depth - 1)
                        };
                        self.pos += 1;
                    }
                }
                State::Dollar(tag) => {
                    if b == b'$' {
                        let rest = &self.buf[i..];
                        if rest.starts_with(tag.as_str()) {
                            self.pos += tag.len();
                            self.state = State::Top;
                            continue;
                        }
                        if tag.starts_with(rest) && !self.eof {
                            return None;
                        }
                    }
                }
            }
            self.pos += 1;
        }
        if self.eof && self.state != State::Top && self.state != State::Line {
            return None;
        }
        if self.eof && !self.buf.is_empty() {
            let significant = self.significant;
            let end = self.buf.len();
            let sql = self.take(end, 0);
            self.state = State::Top;
            if significant {
                if is_copy_from_stdin(&sql) {
                    self.copy = true;
                    return Some(Some(ScriptItem::CopyStart(sql)));
                }
                return Some(Some(ScriptItem::Statement(sql)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_in_chunks(text: &str, chunk: usize) -> Vec<ScriptItem> {
        let mut s = PgSplitter::new();
        let mut items = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(chunk) {
            s.push(&piece.iter().collect::<String>());
            while let Some(item) = s.next_item() {
                items.push(item);
            }
        }
        s.finish();
        while let Some(item) = s.next_item() {
            items.push(item);
        }
        s.check_complete().unwrap();
        items
    }

    #[test]
    fn strings_comments_dollar_quotes_and_copy() {
        let script = "SET x = 1; -- a; comment\nSELECT 'a;''b', E'c\\';d', \"e;\"\"f\";\n\
            /* nested /* ; */ ; */ CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $x$ $body$ LANGUAGE sql;\n\
            SELECT $1, a$b;\n\
            COPY t (a, b) FROM stdin;\n1\t'x;'\n2\t\\N\n\\.\n\
            \\restrict abc\n\
            SELECT 2";
        let want = [
            ScriptItem::Statement("SET x = 1".into()),
            ScriptItem::Statement("-- a; comment\nSELECT 'a;''b', E'c\\';d', \"e;\"\"f\"".into()),
            ScriptItem::Statement(
                "/* nested /* ; */ ; */ CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $x$ $body$ LANGUAGE sql"
                    .into(),
            ),
            ScriptItem::Statement("SELECT $1, a$b".into()),
            ScriptItem::CopyStart("COPY t (a, b) FROM stdin".into()),
        ];
        for chunk in [1, 2, 3, 7, 1000] {
            let items = split_in_chunks(script, chunk);
            assert_eq!(items[..5], want[..], "chunk {chunk}");
            let data: String = items
                .iter()
                .filter_map(|i| match i {
                    ScriptItem::CopyData(d) => Some(d.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(data, "1\t'x;'\n2\t\\N\n", "chunk {chunk}");
            let tail: Vec<_> = items
                .iter()
                .filter(|i| !matches!(i, ScriptItem::CopyData(_)))
                .skip(5)
                .cloned()
                .collect();
            assert_eq!(
                tail,
                vec![
                    ScriptItem::CopyEnd,
                    ScriptItem::Meta("\\restrict abc".into()),
                    ScriptItem::Statement("SELECT 2".into())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn copy_data_streams_out_as_it_arrives() {
        let mut s = PgSplitter::new();
        s.push("COPY \"s\".\"t\" (\"a\", \"b\") FROM stdin;\n");
        assert_eq!(
            s.next_item(),
            Some(ScriptItem::CopyStart(
                "COPY \"s\".\"t\" (\"a\", \"b\") FROM stdin".into()
            ))
        );
        let mut data = String::new();
        let mut want = String::new();
        for i in 0..5000 {
            // Each line arrives in two chunks; only the unfinished half is ever held.
            let line = format!("{i}\tx\\.\\N;\\ty\n");
            want.push_str(&line);
            let (a, b) = line.split_at(line.len() / 2);
            for half in [a, b] {
                s.push(half);
                while let Some(item) = s.next_item() {
                    match item {
                        ScriptItem::CopyData(d) => data.push_str(&d),
                        other => panic!("{other:?}"),
                    }
                }
                assert!(s.pending_bytes() < line.len(), "{}", s.pending_bytes());
            }
        }
        assert_eq!(data, want);
        s.push("\\.\nSELECT 1;");
        assert_eq!(s.next_item(), Some(ScriptItem::CopyEnd));
        assert_eq!(
            s.next_item(),
            Some(ScriptItem::Statement("SELECT 1".into()))
        );
    }

    #[test]
    fn unterminated_strings_are_errors() {
        for text in ["SELECT 'abc", "SELECT $$ x", "/* x", "SELECT \"a"] {
            let mut s = PgSplitter::new();
            s.push(text);
            s.finish();
            while s.next_item().is_some() {}
            let err = s.check_complete().unwrap_err();
            assert_eq!(err.code, SqlState::SYNTAX_ERROR, "{text}");
        }
    }
}
