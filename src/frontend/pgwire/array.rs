//! One-dimensional arrays on the wire: the binary format (`array_send`) of the PostgreSQL
//! array text SQLite holds (`{a,"b c",NULL}`), for the `bool[]`, `int8[]` and `text[]`
//! results of `array_agg`; the text of a `bool[]` with SQLite's 0/1 as `t`/`f`.
//!
//! Owns parsing array text and the binary array layout. Must not know statements, sessions
//! or any other type's encoding. See
//! <https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO>.

use bytes::{BufMut, BytesMut};
use starbase_protocol::PgType;

/// The elements of a one-dimensional array text (None = NULL); `None` when `text` is not
/// one.
#[must_use]
pub fn parse(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if_eq(&'"').is_some();
        let mut item = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' if quoted => item.extend(chars.next()),
                '"' if quoted => break,
                ',' if !quoted => break,
                '{' | '}' if !quoted => return None,
                _ => item.push(c),
            }
        }
        if quoted {
            while chars.next_if(|c| *c != ',').is_some() {}
            chars.next();
            items.push(Some(item));
        } else if item.trim().eq_ignore_ascii_case("null") {
            items.push(None);
        } else {
            items.push(Some(item.trim().to_owned()));
        }
        if chars.peek().is_none() {
            return Some(items);
        }
    }
}

/// `bool[]` text with `t`/`f` elements.
#[must_use]
pub fn bool_text(text: &str) -> String {
    let Some(items) = parse(text) else {
        return text.to_owned();
    };
    let parts: Vec<&str> = items
        .iter()
        .map(|item| match item.as_deref().map(as_bool) {
            None => "NULL",
            Some(Some(true)) => "t",
            Some(Some(false)) => "f",
            Some(None) => item.as_deref().unwrap_or("NULL"),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn as_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

/// Appends the binary form of the array text `text` of type `ty`.
///
/// # Errors
/// `Err(())` when `text` is not an array, or an element is not of the element type.
pub(super) fn encode_binary(buf: &mut BytesMut, text: &str, ty: PgType) -> Result<(), ()> {
    let (element, items) = (element_type(ty).ok_or(())?, parse(text).ok_or(())?);
    let has_null = items.iter().any(Option::is_none);
    buf.put_i32(i32::from(!items.is_empty()));
    buf.put_i32(i32::from(has_null));
    buf.put_u32(element.oid());
    if !items.is_empty() {
        buf.put_i32(i32::try_from(items.len()).map_err(|_| ())?);
        buf.put_i32(1);
    }
    for item in &items {
        let Some(item) = item else {
            buf.put_i32(-1);
            continue;
        };
        match element {
            PgType::Bool => {
                buf.put_i32(1);
                buf.put_u8(u8::from(as_bool(item).ok_or(())?));
            }
            PgType::Int8 => {
                buf.put_i32(8);
                buf.put_i64(item.parse().map_err(|_| ())?);
            }
            _ => {
                buf.put_i32(i32::try_from(item.len()).map_err(|_| ())?);
                buf.put_slice(item.as_bytes());
            }
        }
    }
    Ok(())
}

fn element_type(ty: PgType) -> Option<PgType> {
    match ty {
        PgType::BoolArray => Some(PgType::Bool),
        PgType::Int8Array => Some(PgType::Int8),
        PgType::TextArray => Some(PgType::Text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_array_text() {
        let items = |v: &[Option<&str>]| Some(v.iter().map(|s| s.map(str::to_owned)).collect());
        assert_eq!(
            parse(r#"{a, "b c",NULL,"x\"y"}"#),
            items(&[Some("a"), Some("b c"), None, Some("x\"y")])
        );
        assert_eq!(parse("{}"), items(&[]));
        assert_eq!(parse("{{1},{2}}"), None);
        assert_eq!(parse("abc"), None);
    }

    #[test]
    fn bool_arrays_print_t_and_f() {
        assert_eq!(bool_text("{1,0,NULL}"), "{t,f,NULL}");
        assert_eq!(bool_text("{}"), "{}");
    }

    #[test]
    fn binary_layout_is_array_send() {
        let mut buf = BytesMut::new();
        encode_binary(&mut buf, "{7,NULL}", PgType::Int8Array).unwrap();
        let mut want = Vec::new();
        for n in [1i32, 1, 20, 2, 1, 8] {
            want.extend_from_slice(&n.to_be_bytes());
        }
        want.extend_from_slice(&7i64.to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(&buf[..], &want[..]);
        let mut empty = BytesMut::new();
        encode_binary(&mut empty, "{}", PgType::TextArray).unwrap();
        assert_eq!(&empty[..], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]);
        assert!(encode_binary(&mut BytesMut::new(), "{x}", PgType::BoolArray).is_err());
    }
}
