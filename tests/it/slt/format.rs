//! Result values as SQLite's sqllogictest runner (`slt_sqlite.c`) prints them: by the
//! query's type letter, not the value's type. `I` is `sqlite3_column_int` printed `%d`, `R`
//! is `sqlite3_column_double` printed `%.3f`, `T` is `sqlite3_column_text` with `(empty)`
//! for the empty string and `@` for every byte outside `' '..='~'`; NULL is `NULL` whatever
//! the letter. Also the sort modes and the md5 of the joined results.
//!
//! Owns formatting only. Must not know where a value came from (pgwire or SQLite).

use super::parser::SortMode;

/// One result value as a runner sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A real, with the text SQLite renders it as (what `sqlite3_column_text` returns).
    Real(f64, String),
    /// Text or blob bytes (pgwire text results are always this).
    Text(Vec<u8>),
}

/// The value printed for type letter `ty`.
pub fn format_cell(cell: &Cell, ty: char) -> String {
    match (cell, ty) {
        (Cell::Null, _) => "NULL".to_owned(),
        (cell, 'I') => as_int(cell).to_string(),
        (cell, 'R') => real_text(as_real(cell)),
        (Cell::Int(i), _) => i.to_string(),
        (Cell::Real(_, text), _) => printable(text.as_bytes()),
        (Cell::Text(bytes), _) => printable(bytes),
    }
}

/// `sqlite3_column_int`: 64-bit conversion, then C's truncation to `int`.
#[allow(clippy::cast_possible_truncation)] // the C runner truncates the same way
fn as_int(cell: &Cell) -> i32 {
    let wide = match cell {
        Cell::Null => 0,
        Cell::Int(i) => *i,
        Cell::Real(f, _) => real_to_i64(*f),
        Cell::Text(bytes) => atoi64(bytes),
    };
    wide as i32
}

/// `sqlite3_column_double`.
#[allow(clippy::cast_precision_loss)] // so does SQLite's conversion
fn as_real(cell: &Cell) -> f64 {
    match cell {
        Cell::Null => 0.0,
        Cell::Int(i) => *i as f64,
        Cell::Real(f, _) => *f,
        Cell::Text(bytes) => atof(bytes),
    }
}

/// SQLite's `doubleToInt64`: saturating, NaN → 0.
#[allow(clippy::cast_possible_truncation)] // saturating by definition
fn real_to_i64(f: f64) -> i64 {
    f as i64
}

/// SQLite's `sqlite3Atoi64` on a text: leading spaces, a sign, the longest digit prefix;
/// saturates on overflow.
fn atoi64(bytes: &[u8]) -> i64 {
    let s = trim_start(bytes);
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut value: i128 = 0;
    for b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        value = (value * 10 + i128::from(b - b'0')).min(i128::from(u64::MAX));
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).unwrap_or(if negative { i64::MIN } else { i64::MAX })
}

/// SQLite's `sqlite3AtoF` on a text: the value of the longest numeric prefix, else 0.
fn atof(bytes: &[u8]) -> f64 {
    let s = trim_start(bytes);
    let mut end = usize::from(matches!(s.first(), Some(b'+' | b'-')));
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_digits = digits(end);
    end += int_digits;
    let mut frac_digits = 0;
    if s.get(end) == Some(&b'.') {
        frac_digits = digits(end + 1);
        if int_digits + frac_digits > 0 {
            end += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return 0.0;
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(s.get(end + 1), Some(b'+' | b'-')));
        let exp_digits = digits(end + 1 + sign);
        if exp_digits > 0 {
            end += 1 + sign + exp_digits;
        }
    }
    std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// Significant digits `sqlite3_snprintf` renders before it pads with zeros.
const SQLITE_PRINTF_DIGITS: usize = 16;

/// `%.3f` as `sqlite3_snprintf` prints it: at most 16 significant digits, then zeros
/// (`-9223372036854775808.0` prints as `-9223372036854776000.000`).
fn real_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Inf" } else { "-Inf" }.to_owned();
    }
    let fixed = format!("{f:.3}");
    let significant = fixed
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|b| *b == b'0')
        .count();
    if significant <= SQLITE_PRINTF_DIGITS {
        return fixed;
    }
    // Round to 16 significant digits, then lay them out with 3 decimals.
    let scientific = format!("{:.*e}", SQLITE_PRINTF_DIGITS - 1, f.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return fixed;
    };
    let Ok(exponent) = exponent.parse::<usize>() else {
        return fixed;
    };
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    digits.resize(exponent + 4, b'0');
    let (int, frac) = digits.split_at(exponent + 1);
    let sign = if f < 0.0 { "-" } else { "" };
    format!(
        "{sign}{}.{}",
        String::from_utf8_lossy(int),
        String::from_utf8_lossy(&frac[..3])
    )
}

/// A `T` value: the C string (up to a NUL), `(empty)` if empty, `@` for unprintable bytes.
fn printable(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    if end == 0 {
        return "(empty)".to_owned();
    }
    bytes[..end]
        .iter()
        .map(|b| {
            if (b' '..=b'~').contains(b) {
                char::from(*b)
            } else {
                '@'
            }
        })
        .collect()
}

/// Orders a query's values (`columns` per row) as the sort mode says.
pub fn sort_values(values: &mut Vec<String>, columns: usize, sort: SortMode) {
    match sort {
        SortMode::Unsorted => {}
        SortMode::Values => values.sort(),
        SortMode::Rows if columns > 0 => {
            let mut rows: Vec<Vec<String>> =
                values.chunks(columns).map(<[String]>::to_vec).collect();
            rows.sort();
            *values = rows.into_iter().flatten().collect();
        }
        SortMode::Rows => {}
    }
}

/// The md5 of every value followed by `\n`, lowercase hex.
pub fn md5_of(values: &[String]) -> String {
    let mut context = md5::Context::new();
    for value in values {
        context.consume(value.as_bytes());
        context.consume(b"\n");
    }
    format!("{:x}", context.finalize())
}

/// How the runner prints a result set of `values`: one value per line up to the hash
/// threshold, then `N values hashing to <md5>` (a threshold of 0 never hashes).
pub fn printed(values: &[String], threshold: usize) -> Vec<String> {
    if threshold > 0 && values.len() > threshold {
        vec![format!(
            "{} values hashing to {}",
            values.len(),
            md5_of(values)
        )]
    } else {
        values.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn letters_decide_the_format() {
        assert_eq!(format_cell(&Cell::Null, 'I'), "NULL");
        assert_eq!(format_cell(&Cell::Int(-7), 'I'), "-7");
        assert_eq!(format_cell(&Cell::Int(1 << 32 | 5), 'I'), "5");
        assert_eq!(format_cell(&Cell::Real(2.75, "2.75".into()), 'I'), "2");
        assert_eq!(format_cell(&Cell::Int(3), 'R'), "3.000");
        assert_eq!(
            format_cell(&Cell::Real(1.0 / 3.0, String::new()), 'R'),
            "0.333"
        );
        assert_eq!(format_cell(&Cell::Real(1.0, "1.0".into()), 'T'), "1.0");
        assert_eq!(format_cell(&text(""), 'T'), "(empty)");
        assert_eq!(format_cell(&text("a\tb\u{e9}"), 'T'), "a@b@@");
        assert_eq!(format_cell(&Cell::Int(12), 'T'), "12");
    }

    #[test]
    fn text_converts_like_sqlite() {
        assert_eq!(format_cell(&text(" 12abc"), 'I'), "12");
        assert_eq!(format_cell(&text("abc"), 'I'), "0");
        assert_eq!(format_cell(&text("1.9e3"), 'I'), "1");
        assert_eq!(format_cell(&text("99999999999999999999"), 'I'), "-1");
        assert_eq!(format_cell(&text("-2.5e1x"), 'R'), "-25.000");
        assert_eq!(format_cell(&text(".5"), 'R'), "0.500");
        assert_eq!(
            format_cell(&text("1e+20"), 'R'),
            "100000000000000000000.000"
        );
        assert_eq!(format_cell(&text("x"), 'R'), "0.000");
        // sqlite3_snprintf's 16 significant digits (slt_lang_aggfunc.test expects these).
        assert_eq!(
            format_cell(&Cell::Int(i64::MIN), 'R'),
            "-9223372036854776000.000"
        );
        assert_eq!(
            format_cell(&text("-18446744073709551616"), 'R'),
            "-18446744073709550000.000"
        );
        assert_eq!(
            format_cell(&text("1234567890123.4567"), 'R'),
            "1234567890123.457"
        );
        assert_eq!(
            format_cell(&text("12345678901234.567"), 'R'),
            "12345678901234.570"
        );
    }

    #[test]
    fn sorting_and_hashing() {
        let mut v: Vec<String> = ["b", "1", "a", "2", "a", "1"].map(String::from).to_vec();
        sort_values(&mut v, 2, SortMode::Rows);
        assert_eq!(v, ["a", "1", "a", "2", "b", "1"]);
        sort_values(&mut v, 2, SortMode::Values);
        assert_eq!(v, ["1", "1", "2", "a", "a", "b"]);
        assert_eq!(md5_of(&[]), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(printed(&v, 0), v);
        assert_eq!(printed(&v, 6), v);
        assert_eq!(printed(&v, 5).len(), 1);
    }
}
