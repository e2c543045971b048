//! A streaming statement splitter for MySQL/MariaDB scripts (what the `mariadb` client
//! reads).
//!
//! Owns cutting text that arrives in chunks into statements at the current delimiter
//! (`;` until a `DELIMITER xx` line changes it, as trigger and routine bodies need),
//! respecting `'…'` and `"…"` strings (backslash escapes and doubled quotes), `` `…` ``
//! identifiers, `#` and `-- ` comments and `/* */` comments (an executable `/*! … */`
//! comment stays in the statement's text for the server). Scanning resumes where it stopped;
//! memory holds the current statement. Must not know how statements run.

use starbase_protocol::{DbError, SqlState};

use crate::dump::ScriptItem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Top,
    Quote(u8),
    Line,
    Block,
}

/// A MySQL script splitter: [`MySqlSplitter::push`] text, take
/// [`MySqlSplitter::next_item`]s, then [`MySqlSplitter::finish`].
#[derive(Debug)]
pub struct MySqlSplitter {
    buf: String,
    pos: usize,
    state: State,
    significant: bool,
    delimiter: String,
    eof: bool,
}

impl Default for MySqlSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl MySqlSplitter {
    /// An empty splitter with the delimiter `;`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            buf: String::new(),
            pos: 0,
            state: State::Top,
            significant: false,
            delimiter: ";".to_owned(),
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

    /// Marks the end of the script.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// After [`MySqlSplitter::finish`] and the last item: whether the script ended outside
    /// any string or comment.
    ///
    /// # Errors
    /// `42601` when it ends inside a string, quoted identifier or comment.
    pub fn check_complete(&self) -> Result<(), DbError> {
        let what = match self.state {
            State::Quote(b'`') => "a quoted identifier",
            State::Quote(_) => "a string literal",
            State::Block => "a comment",
            State::Top | State::Line => return Ok(()),
        };
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

    /// A `DELIMITER` line where a statement starts: `Some(true)` when one was consumed,
    /// `None` when more text is needed to tell.
    fn delimiter_line(&mut self, i: usize) -> Option<bool> {
        const WORD: &str = "DELIMITER";
        let rest = &self.buf[i..];
        if rest.len() < WORD.len() + 1 {
            let prefix = rest.len().min(WORD.len());
            let could = rest.as_bytes()[..prefix].eq_ignore_ascii_case(&WORD.as_bytes()[..prefix]);
            return if could && !self.eof {
                None
            } else {
                Some(false)
            };
        }
        let is_word = rest.as_bytes()[..WORD.len()].eq_ignore_ascii_case(WORD.as_bytes())
            && rest.as_bytes()[WORD.len()].is_ascii_whitespace();
        if !is_word {
            return Some(false);
        }
        let line_end = match rest.find('\n') {
            Some(nl) => nl,
            None if self.eof => rest.len(),
            None => return None,
        };
        let new = rest[WORD.len()..line_end]
            .split_whitespace()
            .next()
            .unwrap_or("");
        if !new.is_empty() {
            self.delimiter = new.to_owned();
        }
        self.buf.drain(..(i + line_end + 1).min(self.buf.len()));
        self.pos = 0;
        self.significant = false;
        Some(true)
    }

    /// The next complete statement, if the text so far has one.
    pub fn next_item(&mut self) -> Option<ScriptItem> {
        loop {
            while self.pos < self.buf.len() {
                let i = self.pos;
                let b = self.buf.as_bytes()[i];
                let next = self.buf.as_bytes().get(i + 1).copied();
                match self.state {
                    State::Top => {
                        if b >= 0x80 {
                            self.significant = true;
                            self.pos += 1;
                            continue;
                        }
                        if !self.significant && (b == b'D' || b == b'd') {
                            match self.delimiter_line(i) {
                                None => return None,
                                Some(true) => continue,
                                Some(false) => {}
                            }
                        }
                        if self.buf[i..].starts_with(self.delimiter.as_str()) {
                            let significant = self.significant;
                            let skip = self.delimiter.len();
                            let sql = self.take(i, skip);
                            if significant {
                                return Some(ScriptItem::Statement(sql));
                            }
                            continue;
                        }
                        if self.delimiter.len() > 1
                            && self.delimiter.starts_with(&self.buf[i..])
                            && !self.eof
                        {
                            return None;
                        }
                        if next.is_none() && !self.eof && matches!(b, b'-' | b'/') {
                            return None;
                        }
                        match b {
                            b'\'' | b'"' | b'`' => {
                                self.state = State::Quote(b);
                                self.significant = true;
                            }
                            b'#' => self.state = State::Line,
                            b'-' if next == Some(b'-') => {
                                let after = self.buf.as_bytes().get(i + 2).copied();
                                if after.is_none() && !self.eof {
                                    return None;
                                }
                                if after
                                    .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control())
                                {
                                    self.state = State::Line;
                                } else {
                                    self.significant = true;
                                }
                            }
                            b'/' if next == Some(b'*') => {
                                // `/*!` carries SQL for the server: it makes the statement real.
                                if self.buf.len() <= i + 2 && !self.eof {
                                    return None;
                                }
                                if self.buf.as_bytes().get(i + 2) == Some(&b'!') {
                                    self.significant = true;
                                }
                                self.state = State::Block;
                                self.pos += 1;
                            }
                            b if b.is_ascii_whitespace() => {}
                            _ => self.significant = true,
                        }
                    }
                    State::Quote(q) => {
                        if b == b'\\' && q != b'`' {
                            if next.is_none() && !self.eof {
                                return None;
                            }
                            self.pos += 2;
                            continue;
                        }
                        if b == q {
                            match next {
                                None if !self.eof => return None,
                                Some(n) if n == q => self.pos += 1,
                                _ => self.state = State::Top,
                            }
                        }
                    }
                    State::Line => {
                        if b == b'\n' {
                            self.state = State::Top;
                        }
                    }
                    State::Block => {
                        if next.is_none() && !self.eof && b == b'*' {
                            return None;
                        }
                        if b == b'*' && next == Some(b'/') {
                            self.state = State::Top;
                            self.pos += 1;
                        }
                    }
                }
                self.pos += 1;
            }
            if !self.eof || matches!(self.state, State::Quote(_) | State::Block) {
                return None;
            }
            if self.buf.is_empty() {
                return None;
            }
            let significant = self.significant;
            let end = self.buf.len();
            let sql = self.take(end, 0);
            self.state = State::Top;
            if significant {
                return Some(ScriptItem::Statement(sql));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_strings_and_comments() {
        let script = "SET NAMES utf8mb4;\n/*!40101 SET x=1 */;\n-- c; c\n# c; c\n\
            INSERT INTO `a;b` VALUES ('x\\';y', \"q\"\"r;\", 'it''s');\n\
            DELIMITER ;;\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET @x = 1; SET @y = 2; END ;;\n\
            DELIMITER ;\nSELECT 1--1;\nSELECT 2";
        let want = vec![
            "SET NAMES utf8mb4",
            "/*!40101 SET x=1 */",
            "-- c; c\n# c; c\nINSERT INTO `a;b` VALUES ('x\\';y', \"q\"\"r;\", 'it''s')",
            "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET @x = 1; SET @y = 2; END",
            "SELECT 1--1",
            "SELECT 2",
        ];
        for chunk in [1, 2, 5, 1000] {
            let mut s = MySqlSplitter::new();
            let mut items = Vec::new();
            let chars: Vec<char> = script.chars().collect();
            for piece in chars.chunks(chunk) {
                s.push(&piece.iter().collect::<String>());
                while let Some(ScriptItem::Statement(sql)) = s.next_item() {
                    items.push(sql);
                }
            }
            s.finish();
            while let Some(ScriptItem::Statement(sql)) = s.next_item() {
                items.push(sql);
            }
            s.check_complete().unwrap();
            assert_eq!(items, want, "chunk {chunk}");
        }
    }

    #[test]
    fn unterminated_strings_are_errors() {
        for text in ["SELECT 'abc", "SELECT `a", "/* x"] {
            let mut s = MySqlSplitter::new();
            s.push(text);
            s.finish();
            while s.next_item().is_some() {}
            assert_eq!(
                s.check_complete().unwrap_err().code,
                SqlState::SYNTAX_ERROR,
                "{text}"
            );
        }
    }
}
