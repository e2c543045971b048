//! PostgreSQL's `COPY` text format, as far as a dump reads it back: the last complete line
//! of a stream of data chunks, and a line's key fields decoded and written as SQL literals.
//!
//! Owns the format's rules (one row per `\n`-terminated line, fields split at raw tabs, `\N`
//! is NULL, backslash escapes `\b \f \n \r \t \v`, `\\`, `\ooo` octal, `\xhh` hex, any other
//! escaped character is itself), and quoting a decoded value as `'…'::type` under
//! `standard_conforming_strings = on`. Must not know any connection, table or sink.

use starbase_protocol::DbError;

/// Follows a stream of `COPY` text chunks cut anywhere, keeping the last complete line.
#[derive(Debug, Default)]
pub(super) struct LastLine {
    /// The bytes after the last newline seen (a line still arriving).
    partial: Vec<u8>,
    /// The last complete line, without its newline.
    last: Vec<u8>,
}

impl LastLine {
    /// Takes the next chunk; returns the lines it completes.
    #[cfg(test)]
    fn feed(&mut self, chunk: &[u8]) -> u64 {
        self.feed_at_most(chunk, u64::MAX).1
    }

    /// Takes the next chunk up to the end of its `max`-th line (all of it when it completes
    /// fewer), in one pass; returns the bytes taken and the lines they complete.
    pub(super) fn feed_at_most(&mut self, chunk: &[u8], max: u64) -> (usize, u64) {
        let mut lines = 0;
        // The newlines ending the last two lines taken.
        let (mut before, mut end) = (None, None);
        let mut taken = chunk.len();
        for (i, &b) in chunk.iter().enumerate() {
            if b == b'\n' {
                (before, end) = (end, Some(i));
                lines += 1;
                if lines == max {
                    taken = i + 1;
                    break;
                }
            }
        }
        let Some(end) = end else {
            self.partial.extend_from_slice(chunk);
            return (taken, 0);
        };
        self.last.clear();
        match before {
            Some(start) => self.last.extend_from_slice(&chunk[start + 1..end]),
            None => {
                self.last.extend_from_slice(&self.partial);
                self.last.extend_from_slice(&chunk[..end]);
            }
        }
        self.partial.clear();
        self.partial.extend_from_slice(&chunk[end + 1..taken]);
        (taken, lines)
    }

    /// The last complete line (empty before any).
    pub(super) fn last(&self) -> &[u8] {
        &self.last
    }
}

/// One field's value with its escapes undone; `None` for `\N`.
pub(super) fn decode_field(field: &[u8]) -> Option<Vec<u8>> {
    if field == b"\\N" {
        return None;
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        i += 1;
        if b != b'\\' || i == field.len() {
            out.push(b);
            continue;
        }
        let c = field[i];
        i += 1;
        let byte = match c {
            b'0'..=b'7' => {
                // Up to three digits; the server keeps the low eight bits (`\777` is 0xff),
                // which wrapping byte arithmetic gives directly.
                let mut value = c - b'0';
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value.wrapping_mul(8).wrapping_add(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                value
            }
            b'x' if field.get(i).copied().and_then(hex).is_some() => {
                let mut value = 0u8;
                for _ in 0..2 {
                    match field.get(i).copied().and_then(hex) {
                        Some(d) => {
                            value = value * 16 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                value
            }
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            other => other,
        };
        out.push(byte);
    }
    Some(out)
}

fn hex(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

/// The key of a data line: its fields at `fields`, each as `'value'::type` (`types` in the
/// same order), joined by `, ` for a row comparison.
///
/// # Errors
/// `XX000` when the line lacks a field, a key field is `\N`, or a value is not UTF-8 (the
/// server's output breaks the format: never with a primary key and `client_encoding` UTF8).
pub(super) fn key_literals(
    line: &[u8],
    fields: &[usize],
    types: &[String],
) -> Result<String, DbError> {
    let split: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    let mut out = String::new();
    for (n, (&at, ty)) in fields.iter().zip(types).enumerate() {
        let value = split
            .get(at)
            .and_then(|f| decode_field(f))
            .ok_or_else(|| DbError::internal("a COPY line of a dump has no key field"))?;
        let value = String::from_utf8(value)
            .map_err(|_| DbError::internal("a COPY key field of a dump is not UTF-8"))?;
        if n > 0 {
            out.push_str(", ");
        }
        out.push('\'');
        out.push_str(&value.replace('\'', "''"));
        out.push_str("'::");
        out.push_str(ty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_as_the_server_reads_them() {
        let cases: [(&[u8], &[u8]); 9] = [
            (b"plain", b"plain"),
            (b"a\\\\b", b"a\\b"),
            (b"\\t\\n\\r\\b\\f\\v", b"\t\n\r\x08\x0c\x0b"),
            (b"\\101\\7x\\0101", b"A\x07x\x081"),
            (b"\\x41\\x4g\\xz", b"A\x04gxz"),
            (b"\\.\\q", b".q"),
            (b"\\377\\777", b"\xff\xff"),
            (b"end\\", b"end\\"),
            (b"", b""),
        ];
        for (field, want) in cases {
            assert_eq!(
                decode_field(field).as_deref(),
                Some(want),
                "{}",
                String::from_utf8_lossy(field)
            );
        }
        assert_eq!(decode_field(b"\\N"), None);
        assert_eq!(decode_field(b"\\\\N").as_deref(), Some(&b"\\N"[..]));
    }

    #[test]
    fn key_literals_quote_and_cast() {
        let line = b"7\tignored\tit's \\\\ a\\ttab\\n\t\\N";
        let types = ["integer".to_owned(), "text".to_owned()];
        assert_eq!(
            key_literals(line, &[0, 2], &types).unwrap(),
            "'7'::integer, 'it''s \\ a\ttab\n'::text"
        );
        assert!(key_literals(line, &[3], &types[..1]).is_err(), "a NULL key");
        assert!(
            key_literals(line, &[9], &types[..1]).is_err(),
            "no such field"
        );
        assert!(
            key_literals(b"\\xff", &[0], &types[..1]).is_err(),
            "not UTF-8"
        );
    }

    #[test]
    fn a_chunk_is_taken_up_to_its_last_wanted_line() {
        let mut last = LastLine::default();
        assert_eq!(last.feed_at_most(b"a\tb", 1), (3, 0));
        assert_eq!(last.feed_at_most(b"c\nd\ne\n", 2), (4, 2));
        assert_eq!(last.last(), b"d");
        assert_eq!(last.feed_at_most(b"e\n", 5), (2, 1));
        assert_eq!(last.last(), b"e");
        assert_eq!(last.feed_at_most(b"f\ng", 1), (2, 1));
        assert_eq!(last.last(), b"f");
    }

    #[test]
    fn the_last_line_survives_any_chunking() {
        let text = b"1\ta\n22\tbb\n333\tc\\\\c\n";
        for size in 1..=text.len() {
            let mut last = LastLine::default();
            let lines: u64 = text.chunks(size).map(|c| last.feed(c)).sum();
            assert_eq!(lines, 3, "chunks of {size}");
            assert_eq!(last.last(), b"333\tc\\\\c", "chunks of {size}");
        }
        let mut last = LastLine::default();
        assert_eq!(last.feed(b"x"), 0);
        assert_eq!(last.last(), b"");
        assert_eq!(last.feed(b"\n"), 1);
        assert_eq!(last.last(), b"x");
    }
}
