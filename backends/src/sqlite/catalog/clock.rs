//! `pg_postmaster_start_time()`: when the catalog was first installed in this process, as
//! PostgreSQL prints a `timestamptz` in UTC.
//!
//! Owns turning a `SystemTime` into `YYYY-MM-DD HH:MM:SS.ffffff+00`. Must not know SQLite.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static START: OnceLock<String> = OnceLock::new();

/// Records the start time (only the first call counts).
pub(super) fn mark_start() {
    START.get_or_init(|| format_utc(SystemTime::now()));
}

/// The recorded start time.
pub(super) fn start_time() -> String {
    START.get_or_init(|| format_utc(SystemTime::now())).clone()
}

/// `time` as PostgreSQL prints a `timestamptz` with `TimeZone = UTC`.
fn format_utc(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}+00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_micros()
    )
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count since
/// 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_timestamps() {
        let t = UNIX_EPOCH + Duration::from_micros(1_709_251_199_000_001);
        assert_eq!(format_utc(t), "2024-02-29 23:59:59.000001+00");
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00.000000+00");
    }
}
