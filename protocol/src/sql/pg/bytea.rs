//! PostgreSQL's `bytea` input formats, for a string literal cast to `bytea`.
//!
//! Owns decoding the hex (`\x0001ff`) and escape (`a\000\\b`) formats into bytes, and the
//! SQLite blob literal (`X'…'`) that stands for them, so `'\x00'::bytea` stores bytes and
//! not the text. Must not know casts or any other part of the translator.
//!
//! See <https://www.postgresql.org/docs/current/datatype-binary.html>.

use sqlparser::ast::{Expr, Value};

use crate::error::DbError;
use crate::sqlstate::SqlState;

/// The SQLite blob literal for the bytea input text `s`.
///
/// # Errors
/// `22P02` for malformed input (an odd number of hex digits, a non-hex digit, or a backslash
/// not followed by `\` or three octal digits).
pub(super) fn blob_literal(s: &str) -> Result<Expr, DbError> {
    let bytes = decode(s)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    Ok(Expr::Value(Value::HexStringLiteral(hex).into()))
}

/// The bytes a bytea input text stands for.
///
/// # Errors
/// `22P02`, as [`blob_literal`].
pub(super) fn decode(s: &str) -> Result<Vec<u8>, DbError> {
    match s.strip_prefix("\\x").or_else(|| s.strip_prefix("\\X")) {
        Some(hex) => decode_hex(hex),
        None => decode_escape(s.as_bytes()),
    }
}

fn invalid() -> DbError {
    DbError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type bytea",
    )
}

/// Hex format: pairs of hex digits, with whitespace allowed between pairs.
fn decode_hex(hex: &str) -> Result<Vec<u8>, DbError> {
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut digits = hex.bytes().filter(|b| !b.is_ascii_whitespace());
    while let Some(high) = digits.next() {
        let low = digits.next().ok_or_else(invalid)?;
        out.push(hex_value(high)? << 4 | hex_value(low)?);
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Result<u8, DbError> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
        .ok_or_else(invalid)
}

/// Escape format: `\\` is a backslash, `\nnn` an octal byte, anything else itself.
fn decode_escape(text: &[u8]) -> Result<Vec<u8>, DbError> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
        } else if text.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            out.push(octal_byte(text.get(i + 1..i + 4).ok_or_else(invalid)?)?);
            i += 4;
        }
    }
    Ok(out)
}

/// Three octal digits, the first 0–3.
fn octal_byte(digits: &[u8]) -> Result<u8, DbError> {
    let ok = matches!(digits, [b'0'..=b'3', b'0'..=b'7', b'0'..=b'7']);
    if !ok {
        return Err(invalid());
    }
    Ok(digits.iter().fold(0u8, |acc, d| acc << 3 | (d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_format_decodes() {
        assert_eq!(decode("\\x0001ff").unwrap(), [0, 1, 255]);
        assert_eq!(decode("\\X89504E47").unwrap(), b"\x89PNG");
        assert_eq!(decode("\\x 00 01\nFF").unwrap(), [0, 1, 255]);
        assert_eq!(decode("\\x").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn escape_format_decodes() {
        assert_eq!(decode("abc").unwrap(), b"abc");
        assert_eq!(decode("a\\000\\\\b\\377").unwrap(), b"a\0\\b\xff");
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn malformed_input_is_22p02() {
        for bad in [
            "\\x0", "\\x0g", "\\x123", "\\", "\\1", "\\400", "a\\999", "\\08",
        ] {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.code, SqlState::INVALID_TEXT_REPRESENTATION, "{bad}");
            assert_eq!(e.message, "invalid input syntax for type bytea", "{bad}");
        }
    }

    #[test]
    fn blob_literal_is_sqlite_hex() {
        assert_eq!(blob_literal("\\x0001ff").unwrap().to_string(), "X'0001FF'");
        assert_eq!(blob_literal("").unwrap().to_string(), "X''");
    }
}
