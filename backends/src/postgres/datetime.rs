//! PostgreSQL's binary date/time formats to ISO 8601 text.
//!
//! Owns the calendar arithmetic (days since 2000-01-01 to a civil date) and the text forms
//! of date, time, timetz, timestamp(tz) and interval. Pure functions: must not know any
//! driver type.

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;

/// A civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

fn ymd(days_since_pg_epoch: i64) -> String {
    let (y, m, d) = civil(days_since_pg_epoch + PG_EPOCH_DAYS);
    if y <= 0 {
        // ISO 8601 has year 0; PostgreSQL prints 1 BC for it.
        format!("{:04}-{m:02}-{d:02} BC", 1 - y)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// `date`: days since 2000-01-01.
pub(super) fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => ymd(i64::from(days)),
    }
}

/// `time`: microseconds since midnight, as `HH:MM:SS[.ffffff]`.
pub(super) fn time(usecs: i64) -> String {
    let secs = usecs.div_euclid(USECS_PER_SEC);
    let frac = usecs.rem_euclid(USECS_PER_SEC);
    let base = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    with_fraction(base, frac)
}

fn with_fraction(mut base: String, frac: i64) -> String {
    if frac != 0 {
        let digits = format!("{frac:06}");
        base.push('.');
        base.push_str(digits.trim_end_matches('0'));
    }
    base
}

/// `timetz`: microseconds, then the zone in seconds *west* of UTC.
pub(super) fn timetz(raw: &[u8]) -> Option<String> {
    let usecs = i64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
    let west = i32::from_be_bytes(raw.get(8..12)?.try_into().ok()?);
    let east = -i64::from(west);
    let sign = if east < 0 { '-' } else { '+' };
    let abs = east.abs();
    Some(format!(
        "{}{sign}{:02}:{:02}",
        time(usecs),
        abs / 3600,
        (abs / 60) % 60
    ))
}

/// `timestamp`/`timestamptz`: microseconds since 2000-01-01 00:00 (UTC for timestamptz),
/// as `YYYY-MM-DDTHH:MM:SS[.ffffff]` plus `suffix`.
pub(super) fn timestamp(usecs: i64, suffix: &str) -> String {
    match usecs {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        _ => {
            let days = usecs.div_euclid(USECS_PER_DAY);
            let rest = usecs.rem_euclid(USECS_PER_DAY);
            let date = ymd(days);
            let (date, bc) = match date.strip_suffix(" BC") {
                Some(d) => (d.to_owned(), " BC"),
                None => (date, ""),
            };
            format!("{date}T{}{suffix}{bc}", time(rest))
        }
    }
}

/// `interval`: microseconds, days, months, as an ISO 8601 duration.
pub(super) fn interval(raw: &[u8]) -> Option<String> {
    let usecs = i64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
    let days = i32::from_be_bytes(raw.get(8..12)?.try_into().ok()?);
    let months = i32::from_be_bytes(raw.get(12..16)?.try_into().ok()?);
    let mut out = String::from("P");
    let (years, months) = (months / 12, months % 12);
    for (n, unit) in [(years, 'Y'), (months, 'M'), (days, 'D')] {
        if n != 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if usecs != 0 {
        out.push('T');
        let sign = if usecs < 0 { "-" } else { "" };
        let abs = usecs.unsigned_abs();
        let secs = abs / 1_000_000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h != 0 {
            out.push_str(&format!("{sign}{h}H"));
        }
        if m != 0 {
            out.push_str(&format!("{sign}{m}M"));
        }
        let frac = abs % 1_000_000;
        if s != 0 || frac != 0 {
            let secs = with_fraction(format!("{sign}{s}"), i64::try_from(frac).unwrap_or(0));
            out.push_str(&secs);
            out.push('S');
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_iso_8601() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(9190), "2025-02-28");
        assert_eq!(date(i32::MAX), "infinity");
        assert_eq!(time(3_723_500_000), "01:02:03.5");
        assert_eq!(timestamp(0, "Z"), "2000-01-01T00:00:00Z");
        assert_eq!(timestamp(-1, ""), "1999-12-31T23:59:59.999999");
        let mut tz = 3_600_000_000_i64.to_be_bytes().to_vec();
        tz.extend((-7200_i32).to_be_bytes());
        assert_eq!(timetz(&tz).unwrap(), "01:00:00+02:00");
    }

    #[test]
    fn intervals_are_iso_durations() {
        let raw = |us: i64, d: i32, m: i32| {
            let mut v = us.to_be_bytes().to_vec();
            v.extend(d.to_be_bytes());
            v.extend(m.to_be_bytes());
            v
        };
        assert_eq!(
            interval(&raw(14_706_500_000, 3, 14)).unwrap(),
            "P1Y2M3DT4H5M6.5S"
        );
        assert_eq!(interval(&raw(0, 0, 0)).unwrap(), "PT0S");
        assert_eq!(interval(&raw(-60_000_000, 0, 0)).unwrap(), "PT-1M");
    }
}
