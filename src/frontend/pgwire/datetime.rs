//! Dates and times between SQLite's text forms and PostgreSQL's binary forms.
//!
//! Owns parsing `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.ffffff][Z|±hh[:mm]]` (also with `T`) and
//! `HH:MM:SS[.ffffff]`, and printing them back, as microseconds or days relative to
//! PostgreSQL's epoch (2000-01-01). Pure arithmetic (Howard Hinnant's civil-date
//! algorithms); must not know the wire or SQLite.

/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn number(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD` → days since 2000-01-01.
#[must_use]
pub fn parse_date(text: &str) -> Option<i32> {
    let mut parts = text.trim().splitn(3, '-');
    let (y, m, d) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    i32::try_from(days_from_civil(y, m, d) - PG_EPOCH_DAYS).ok()
}

/// `HH:MM[:SS[.ffffff]]` → microseconds since midnight.
#[must_use]
pub fn parse_time(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, ':');
    let h = number(parts.next()?)?;
    let m = number(parts.next()?)?;
    let (s, frac) = match parts.next() {
        Some(sec) => match sec.split_once('.') {
            Some((s, f)) => (number(s)?, fraction_micros(f)?),
            None => (number(sec)?, 0),
        },
        None => (0, 0),
    };
    if h > 24 || m > 59 || s > 60 {
        return None;
    }
    Some((h * 3600 + m * 60 + s) * MICROS_PER_SECOND + frac)
}

fn fraction_micros(digits: &str) -> Option<i64> {
    let digits: String = digits.chars().take(6).collect();
    let value = number(&digits)?;
    let scale = 10_i64.pow(u32::try_from(6 - digits.len()).ok()?);
    Some(value * scale)
}

/// A timestamp → microseconds since 2000-01-01 00:00 (UTC when the text has an offset).
#[must_use]
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = match text.find([' ', 'T']) {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let days = i64::from(parse_date(date)?);
    let (clock, offset) = split_offset(rest)?;
    let micros = if clock.is_empty() {
        0
    } else {
        parse_time(clock)?
    };
    Some(days * MICROS_PER_DAY + micros - offset * MICROS_PER_SECOND)
}

/// Splits `HH:MM:SS[.f]` from a trailing `Z`, `+hh`, `+hhmm` or `+hh:mm` (seconds east).
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(clock) = text.strip_suffix('Z').or_else(|| text.strip_suffix("UTC")) {
        return Some((clock.trim(), 0));
    }
    let Some(i) = text.rfind(['+', '-']) else {
        return Some((text, 0));
    };
    let sign = if text[i..].starts_with('-') { -1 } else { 1 };
    let zone = text[i + 1..].replace(':', "");
    let (h, m) = match zone.len() {
        2 => (number(&zone)?, 0),
        4 => (number(&zone[..2])?, number(&zone[2..])?),
        _ => return None,
    };
    Some((text[..i].trim(), sign * (h * 3600 + m * 60)))
}

/// Unix seconds → microseconds since 2000-01-01.
#[must_use]
pub fn from_unix_seconds(seconds: i64) -> Option<i64> {
    seconds
        .checked_sub(PG_EPOCH_DAYS * 86_400)?
        .checked_mul(MICROS_PER_SECOND)
}

/// Days since 2000-01-01 → `YYYY-MM-DD`.
#[must_use]
pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(days) + PG_EPOCH_DAYS);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Microseconds since midnight → `HH:MM:SS[.ffffff]`.
#[must_use]
pub fn format_time(micros: i64) -> String {
    let seconds = micros.div_euclid(MICROS_PER_SECOND);
    let frac = micros.rem_euclid(MICROS_PER_SECOND);
    let base = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    );
    if frac == 0 {
        base
    } else {
        format!("{base}.{}", format!("{frac:06}").trim_end_matches('0'))
    }
}

/// Microseconds since 2000-01-01 → `YYYY-MM-DD HH:MM:SS[.ffffff]`.
#[must_use]
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let clock = micros.rem_euclid(MICROS_PER_DAY);
    let date = i32::try_from(days).map_or_else(|_| "?".to_owned(), format_date);
    format!("{date} {}", format_time(clock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_round_trip() {
        assert_eq!(parse_date("2000-01-01"), Some(0));
        assert_eq!(parse_date("1999-12-31"), Some(-1));
        assert_eq!(parse_date("2024-02-29"), Some(8825));
        assert_eq!(format_date(8825), "2024-02-29");
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("soon"), None);
        assert_eq!(parse_time("12:34:56.5"), Some(45_296_500_000));
        assert_eq!(format_time(45_296_500_000), "12:34:56.5");
        let ts = parse_timestamp("2024-02-29 12:34:56.123456").unwrap();
        assert_eq!(format_timestamp(ts), "2024-02-29 12:34:56.123456");
        assert_eq!(
            parse_timestamp("2024-02-29T13:34:56.123456+01:00"),
            Some(ts)
        );
        assert_eq!(parse_timestamp("2024-02-29 12:34:56.123456Z"), Some(ts));
        assert_eq!(parse_timestamp("2024-02-29 11:34:56.123456-0100"), Some(ts));
        assert_eq!(parse_timestamp("2000-01-01"), Some(0));
        assert_eq!(from_unix_seconds(946_684_800), Some(0));
        assert_eq!(parse_timestamp("2024-02-29 25:00:00"), None);
    }
}
