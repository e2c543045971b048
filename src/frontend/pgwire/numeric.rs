//! PostgreSQL's binary `numeric` format (base-10000 digits with weight, sign and display
//! scale) to and from decimal text.
//!
//! Owns only that conversion, exact in both directions. Must not know values or the wire.

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// Encodes decimal text (`-12.340`, `NaN`, `Infinity`) in binary; `None` when it is not a
/// decimal number.
#[must_use]
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let special = match text.to_ascii_lowercase().as_str() {
        "nan" => Some(NUMERIC_NAN),
        "infinity" | "+infinity" | "inf" => Some(NUMERIC_PINF),
        "-infinity" | "-inf" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        return Some(header(0, 0, sign, 0));
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !digits_ok(int_part)
        || !digits_ok(frac_part)
    {
        return None;
    }
    let dscale = u16::try_from(frac_part.len()).ok()?;
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let padded = format!(
        "{}{int_part}{frac_part}{}",
        "0".repeat(int_pad),
        "0".repeat(frac_pad)
    );
    let mut groups: Vec<i16> = padded
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = i16::try_from((int_part.len() + int_pad) / 4).ok()? - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if negative && !groups.is_empty() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    };
    let mut out = header(groups.len(), weight, sign, dscale);
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

fn header(ndigits: usize, weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + ndigits * 2);
    out.extend_from_slice(&i16::try_from(ndigits).unwrap_or(i16::MAX).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    out
}

/// Decodes binary numeric to decimal text; `None` for a malformed value.
#[must_use]
pub fn decode(bytes: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(i16::from_be_bytes(word(2)?.to_be_bytes()));
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    match sign {
        NUMERIC_NAN => return Some("NaN".to_owned()),
        NUMERIC_PINF => return Some("Infinity".to_owned()),
        NUMERIC_NINF => return Some("-Infinity".to_owned()),
        NUMERIC_POS | NUMERIC_NEG => {}
        _ => return None,
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    if bytes.len() != 8 + 2 * ndigits || digits.iter().any(|&d| d > 9999) {
        return None;
    }
    let mut int_part = String::new();
    let mut frac_part = String::new();
    for (i, d) in digits.iter().enumerate() {
        let position = weight - i64::try_from(i).ok()?;
        if position >= 0 {
            int_part.push_str(&format!("{d:04}"));
        } else {
            if frac_part.is_empty() && position < -1 {
                frac_part.push_str(&"0000".repeat(usize::try_from(-position - 1).ok()?));
            }
            frac_part.push_str(&format!("{d:04}"));
        }
    }
    // Integer groups the digits stop short of (weight beyond the last digit) are zeros.
    let last_position = weight - i64::try_from(ndigits).ok()? + 1;
    if last_position > 0 && ndigits > 0 {
        int_part.push_str(&"0000".repeat(usize::try_from(last_position).ok()?));
    }
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    frac_part.truncate(dscale);
    while frac_part.len() < dscale {
        frac_part.push('0');
    }
    let negative = sign == NUMERIC_NEG;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(int_part);
    if dscale > 0 {
        out.push('.');
        out.push_str(&frac_part);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_round_trips() {
        for text in [
            "0",
            "1",
            "-1",
            "12.340",
            "0.0001",
            "0.00001",
            "123456789012345678901234567890.123456789",
            "-0.5",
            "10000",
            "100000000",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            let bytes = encode(text).unwrap();
            assert_eq!(decode(&bytes).as_deref(), Some(text), "{text}");
        }
        // PostgreSQL's own encoding of 12.340: 2 digits, weight 0, +, dscale 3, [12, 3400].
        assert_eq!(
            encode("12.340").unwrap(),
            vec![0, 2, 0, 0, 0, 0, 0, 3, 0, 12, 0x0d, 0x48]
        );
        assert_eq!(encode("abc"), None);
        assert_eq!(encode("1.2.3"), None);
        assert_eq!(encode(""), None);
        assert_eq!(decode(&[0, 1]), None);
    }
}
