//! An incremental scanner for the JSON import body `{"data": [ {…}, … ], "columnMapping": {…}}`:
//! it hands out each element of `data` and the `columnMapping` value as complete JSON texts,
//! however the bytes are chunked, without holding the whole document.
//!
//! Owns only the document's outer shape (one object; `data` an array; other keys refused).
//! Each element is parsed by serde_json by the caller. Must not know SQL.

use starbase_protocol::{DbError, SqlState};

/// What the scanner found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Item {
    /// One element of `data`, as JSON text.
    Row(Vec<u8>),
    /// The `columnMapping` value, as JSON text.
    Mapping(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// Expecting a key (or `}`).
    Key,
    /// Inside `data`'s array, expecting an element (or `]`).
    Element,
    /// After the closing `}`.
    Done,
}

/// The scanner; feed bytes, take items.
#[derive(Debug)]
pub(super) struct JsonScanner {
    buf: Vec<u8>,
    pos: usize,
    state: State,
    seen_data: bool,
}

impl JsonScanner {
    pub(super) fn new() -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            state: State::Start,
            seen_data: false,
        }
    }

    pub(super) fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that are not yet a complete item.
    pub(super) fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next item, `None` when more bytes are needed (or the document is done).
    ///
    /// # Errors
    /// `22023` when the document is not the documented shape, `22P02` for malformed JSON.
    pub(super) fn next_item(&mut self) -> Result<Option<Item>, DbError> {
        loop {
            self.skip_space();
            let Some(&b) = self.buf.get(self.pos) else {
                return Ok(None);
            };
            match self.state {
                State::Start => {
                    self.expect(b, b'{')?;
                    self.state = State::Key;
                }
                State::Key => {
                    if b == b',' {
                        self.pos += 1;
                        continue;
                    }
                    if b == b'}' {
                        self.pos += 1;
                        self.state = State::Done;
                        continue;
                    }
                    // key "…" : value-start
                    let Some(end) = value_end(&self.buf, self.pos)? else {
                        return Ok(None);
                    };
                    let key: String = serde_json::from_slice(&self.buf[self.pos..end])
                        .map_err(|_| shape("object keys must be strings"))?;
                    let mut colon = end;
                    while self.buf.get(colon).is_some_and(u8::is_ascii_whitespace) {
                        colon += 1;
                    }
                    let Some(&c) = self.buf.get(colon) else {
                        return Ok(None);
                    };
                    if c != b':' {
                        return Err(malformed("expected ':' after a key"));
                    }
                    let mut value = colon + 1;
                    while self.buf.get(value).is_some_and(u8::is_ascii_whitespace) {
                        value += 1;
                    }
                    match key.as_str() {
                        "data" => {
                            let Some(&v) = self.buf.get(value) else {
                                return Ok(None);
                            };
                            if v != b'[' {
                                return Err(shape("\"data\" must be an array of objects"));
                            }
                            self.pos = value + 1;
                            self.seen_data = true;
                            self.state = State::Element;
                        }
                        "columnMapping" => {
                            let Some(end) = value_end(&self.buf, value)? else {
                                return Ok(None);
                            };
                            let text = self.buf[value..end].to_vec();
                            self.pos = end;
                            return Ok(Some(Item::Mapping(text)));
                        }
                        other => {
                            return Err(shape(&format!(
                                "unexpected key \"{other}\": expected \"data\" and optionally \"columnMapping\""
                            )));
                        }
                    }
                }
                State::Element => match b {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        self.state = State::Key;
                    }
                    _ => {
                        let Some(end) = value_end(&self.buf, self.pos)? else {
                            return Ok(None);
                        };
                        let text = self.buf[self.pos..end].to_vec();
                        self.pos = end;
                        return Ok(Some(Item::Row(text)));
                    }
                },
                State::Done => return Err(malformed("text after the end of the document")),
            }
        }
    }

    /// Checks the document ended properly.
    ///
    /// # Errors
    /// `22023`/`22P02` when it did not.
    pub(super) fn finish(&mut self) -> Result<(), DbError> {
        self.skip_space();
        if self.state != State::Done || self.buf.len() > self.pos {
            return Err(malformed("the document ended early"));
        }
        if !self.seen_data {
            return Err(shape("missing \"data\" array"));
        }
        Ok(())
    }

    fn skip_space(&mut self) {
        while self.buf.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, got: u8, want: u8) -> Result<(), DbError> {
        if got == want {
            self.pos += 1;
            Ok(())
        } else {
            Err(shape("the body must be a JSON object"))
        }
    }
}

/// End (exclusive) of the JSON value starting at `start`, `None` if it is not complete yet.
fn value_end(buf: &[u8], start: usize) -> Result<Option<usize>, DbError> {
    let mut depth = 0usize;
    let mut pos = start;
    let mut in_string = false;
    while let Some(&b) = buf.get(pos) {
        pos += 1;
        if in_string {
            match b {
                b'\\' => pos += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return Ok(Some(pos));
                    }
                }
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            // A scalar at the top ends where its container does.
            b'}' | b']' if depth == 0 => return Ok(Some(pos - 1)),
            b'}' | b']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| malformed("unbalanced brackets"))?;
                if depth == 0 {
                    return Ok(Some(pos));
                }
            }
            b',' if depth == 0 => return Ok(Some(pos - 1)),
            _ if depth == 0 && b.is_ascii_whitespace() => return Ok(Some(pos - 1)),
            _ => {}
        }
    }
    Ok(None)
}

fn shape(message: &str) -> DbError {
    DbError::invalid_parameter(format!("invalid JSON import: {message}"))
}

fn malformed(message: &str) -> DbError {
    DbError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("malformed JSON: {message}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(doc: &str, chunk: usize) -> Result<Vec<Item>, DbError> {
        let mut s = JsonScanner::new();
        let mut out = Vec::new();
        for piece in doc.as_bytes().chunks(chunk) {
            s.feed(piece);
            while let Some(item) = s.next_item()? {
                out.push(item);
            }
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn rows_and_mapping_in_any_chunking() {
        let doc = r#" { "columnMapping": {"a": "b"}, "data": [ {"x": "s,]}\"q"}, {"y": [1, {"z": 2}]} ] } "#;
        for chunk in [1, 3, 8, 500] {
            let items = scan(doc, chunk).unwrap();
            assert_eq!(
                items,
                vec![
                    Item::Mapping(br#"{"a": "b"}"#.to_vec()),
                    Item::Row(br#"{"x": "s,]}\"q"}"#.to_vec()),
                    Item::Row(br#"{"y": [1, {"z": 2}]}"#.to_vec()),
                ],
                "chunk {chunk}"
            );
        }
        assert_eq!(scan(r#"{"data": []}"#, 2).unwrap(), vec![]);
    }

    #[test]
    fn wrong_shapes_are_errors() {
        assert!(scan("[1]", 4).is_err());
        assert!(scan(r#"{"data": {}}"#, 4).is_err());
        assert!(scan(r#"{"rows": []}"#, 4).is_err());
        assert!(scan(r#"{"data": [{"a": 1}"#, 4).is_err());
        assert!(scan(r#"{"columnMapping": {}}"#, 4).is_err());
    }
}
