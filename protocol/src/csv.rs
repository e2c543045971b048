//! An incremental RFC 4180 CSV reader: feed it bytes as they arrive, take complete records.
//!
//! Owns CSV syntax only: fields separated by `,`, records by CRLF or LF, fields optionally
//! quoted with `"` (a doubled `""` inside is a quote; quoted fields may hold commas and line
//! breaks). A field that was quoted is reported as such, so callers can tell `""` (empty
//! string) from an empty unquoted field (NULL, in Starbase's CSV encoding). Memory is bounded
//! by the longest record. Must not know what the fields mean.

use crate::error::DbError;
use crate::sqlstate::SqlState;

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field's text, quotes removed.
    pub text: String,
    /// Whether the field was written in quotes.
    pub quoted: bool,
}

/// A CSV reader fed in chunks.
#[derive(Debug)]
pub struct CsvReader {
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts (consumed bytes are dropped in bulk).
    start: usize,
    /// Records completed so far (1-based line of the next record, for error messages).
    line: u64,
}

impl CsvReader {
    /// A reader with nothing buffered.
    #[must_use]
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            line: 1,
        }
    }

    /// Bytes held that are not part of a record taken yet.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Adds bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete record, if the buffer holds one. With `at_end`, the buffer's rest
    /// is the last record even without a line break.
    ///
    /// # Errors
    /// `22P02` for a quote in the middle of an unquoted field, text after a closing quote,
    /// an unterminated quoted field at the end, or invalid UTF-8; the message names the line.
    pub fn next_record(&mut self, at_end: bool) -> Result<Option<Vec<Field>>, DbError> {
        let Some((fields, consumed, lines)) = self.parse(at_end)? else {
            return Ok(None);
        };
        self.start += consumed;
        self.line += lines;
        Ok(Some(fields))
    }

    /// Parses one record from the front of the buffer: the fields, the bytes it used and the
    /// line breaks it spanned. `None` when the record is not complete yet.
    fn parse(&self, at_end: bool) -> Result<Option<(Vec<Field>, usize, u64)>, DbError> {
        let buf = &self.buf[self.start..];
        if buf.is_empty() {
            return Ok(None);
        }
        let mut fields = Vec::new();
        let mut pos = 0;
        let mut lines = 0;
        loop {
            // One field starts at `pos`.
            let mut text = Vec::new();
            let quoted = buf.get(pos) == Some(&b'"');
            if quoted {
                pos += 1;
                loop {
                    match buf.get(pos) {
                        None if at_end => return Err(self.error("unterminated quoted field")),
                        None => return Ok(None),
                        Some(b'"') if buf.get(pos + 1) == Some(&b'"') => {
                            text.push(b'"');
                            pos += 2;
                        }
                        Some(b'"') if buf.get(pos + 1).is_none() && !at_end => return Ok(None),
                        Some(b'"') => {
                            pos += 1;
                            break;
                        }
                        Some(&b) => {
                            if b == b'\n' {
                                lines += 1;
                            }
                            text.push(b);
                            pos += 1;
                        }
                    }
                }
            } else {
                while let Some(&b) = buf.get(pos) {
                    match b {
                        b',' | b'\n' => break,
                        b'\r' if matches!(buf.get(pos + 1), Some(b'\n') | None) => break,
                        b'"' => return Err(self.error("quote inside an unquoted field")),
                        _ => {
                            text.push(b);
                            pos += 1;
                        }
                    }
                }
            }
            let text = String::from_utf8(text).map_err(|_| self.error("invalid UTF-8"))?;
            fields.push(Field { text, quoted });
            match buf.get(pos) {
                Some(b',') => pos += 1,
                Some(b'\n') => return Ok(Some((fields, pos + 1, lines + 1))),
                Some(b'\r') => match buf.get(pos + 1) {
                    Some(b'\n') => return Ok(Some((fields, pos + 2, lines + 1))),
                    None if at_end => return Ok(Some((fields, pos + 1, lines + 1))),
                    None => return Ok(None),
                    Some(_) => return Err(self.error("text after a closing quote")),
                },
                None if at_end => return Ok(Some((fields, pos, lines))),
                None => return Ok(None),
                Some(_) => return Err(self.error("text after a closing quote")),
            }
        }
    }

    fn error(&self, what: &str) -> DbError {
        DbError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("malformed CSV at line {}: {what}", self.line),
        )
    }
}

impl Default for CsvReader {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8], chunk: usize) -> Result<Vec<Vec<(String, bool)>>, DbError> {
        let mut reader = CsvReader::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            reader.feed(piece);
            while let Some(r) = reader.next_record(false)? {
                out.push(r.into_iter().map(|f| (f.text, f.quoted)).collect());
            }
        }
        while let Some(r) = reader.next_record(true)? {
            out.push(r.into_iter().map(|f| (f.text, f.quoted)).collect());
        }
        Ok(out)
    }

    fn texts(rs: &[Vec<(String, bool)>]) -> Vec<Vec<&str>> {
        rs.iter()
            .map(|r| r.iter().map(|(t, _)| t.as_str()).collect())
            .collect()
    }

    #[test]
    fn rfc4180_records_in_any_chunking() {
        let input = b"a,\"b,c\"\r\n1,\"say \"\"hi\"\"\nbye\"\r\n,\"\"\r\nlast,row";
        for chunk in [1, 2, 3, 7, 100] {
            let rs = records(input, chunk).unwrap();
            assert_eq!(
                texts(&rs),
                vec![
                    vec!["a", "b,c"],
                    vec!["1", "say \"hi\"\nbye"],
                    vec!["", ""],
                    vec!["last", "row"]
                ],
                "chunk {chunk}"
            );
            assert_eq!(
                rs[2],
                vec![(String::new(), false), (String::new(), true)],
                "NULL vs empty"
            );
        }
    }

    #[test]
    fn lf_line_ends_and_trailing_newline() {
        let rs = records(b"x,y\n1,2\n", 4).unwrap();
        assert_eq!(texts(&rs), vec![vec!["x", "y"], vec!["1", "2"]]);
    }

    #[test]
    fn malformed_input_names_the_line() {
        let err = records(b"a,b\n1,x\"y\n", 3).unwrap_err();
        assert_eq!(err.code, SqlState::INVALID_TEXT_REPRESENTATION);
        assert!(err.message.contains("line 2"), "{}", err.message);
        assert!(
            records(b"a,\"open\n", 2)
                .unwrap_err()
                .message
                .contains("unterminated")
        );
        assert!(
            records(b"\"a\"b\n", 2)
                .unwrap_err()
                .message
                .contains("after a closing quote")
        );
    }
}
