//! Parsers for configuration values: sizes (`10MiB`), durations (`30s`), addresses, counts,
//! paths and log filters.
//!
//! Owns the accepted spellings and the wording of "what is wrong" (the caller adds the setting
//! and the origin). Must not know where a value came from.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Upper bound for `sqlite_readers`: each reader is a thread with its own connection.
pub const MAX_SQLITE_READERS: usize = 256;

/// Parses a byte size: a whole number of bytes (`1048576`), or a number and a unit, decimal
/// (`B`, `KB`, `MB`, `GB`, `TB`) or binary (`KiB`, `MiB`, `GiB`, `TiB`); case-insensitive,
/// a space may separate them, fractions are allowed if the result is whole (`1.5KiB` = 1536).
/// Bare `K`/`M`/`G` are refused: half the world reads them as 1000, the other half as 1024.
pub(crate) fn size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        u @ ("k" | "m" | "g" | "t") => {
            let u = u.to_ascii_uppercase();
            return Err(format!(
                "unit \"{u}\" is ambiguous: write {u}B (powers of 1000) or {u}iB (powers of 1024)"
            ));
        }
        other => {
            return Err(format!(
                "unknown size unit \"{other}\" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    let not_a_size = || format!("\"{text}\" is not a size (e.g. 10MiB, 512KiB or 1048576)");
    let bytes = scaled(number, factor).ok_or_else(not_a_size)?;
    usize::try_from(bytes)
        .ok()
        .filter(|b| *b > 0)
        .ok_or_else(|| format!("\"{text}\" is not a positive size this machine can address"))
}

/// `number × factor` computed exactly, `number` being decimal digits with at most one `.`;
/// `None` unless the result is a whole number that fits in `u128`.
fn scaled(number: &str, factor: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') || fraction.len() > 18 {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let mantissa: u128 = digits.parse().ok()?;
    let scale = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let product = mantissa.checked_mul(factor)?;
    (product % scale == 0).then_some(product / scale)
}

/// Parses a duration in humantime syntax (`30s`, `500ms`, `1m 30s`); `0` (with or without a
/// unit) means "no limit".
pub(crate) fn duration(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(None);
    }
    let d = humantime::parse_duration(t).map_err(|e| {
        format!("\"{text}\" is not a duration (e.g. 30s, 500ms or 1m 30s; 0 disables): {e}")
    })?;
    Ok((!d.is_zero()).then_some(d))
}

/// Parses a pause: a bare number is milliseconds (as StarbaseDB's `DUMP_BREATHING_INTERVAL`
/// and `MAX_EXECUTION_TIME`), otherwise a duration (`5s`); `0` is none.
pub(crate) fn millis(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(Duration::from_millis(n));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("\"{text}\" is not milliseconds or a duration (e.g. 5000 or 5s): {e}"))
}

/// Parses `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
pub(crate) fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("\"{text}\" is not true or false")),
    }
}

/// Parses a socket address such as `127.0.0.1:8787`, `0.0.0.0:8787` or `[::1]:5433`. Host
/// names are refused: resolving them would make the meaning depend on DNS at start-up.
pub(crate) fn addr(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("\"{text}\" is not an IP address and port (e.g. 127.0.0.1:8787 or [::1]:8787)")
    })
}

/// Parses a positive whole number.
pub(crate) fn count(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("\"{text}\" is not a positive whole number"))
}

/// Parses a nice value for the dump threads: 0 (the server's own priority) to 19 (lowest).
pub(crate) fn nice(text: &str) -> Result<i32, String> {
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (0..=19).contains(n))
        .ok_or_else(|| format!("\"{text}\" is not a nice value from 0 to 19"))
}

/// Parses the number of SQLite readers: 1 to [`MAX_SQLITE_READERS`].
pub(crate) fn readers(text: &str) -> Result<usize, String> {
    count(text)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= MAX_SQLITE_READERS)
        .ok_or_else(|| format!("\"{text}\" is not a whole number from 1 to {MAX_SQLITE_READERS}"))
}

/// Parses a directory path; it must not be empty.
pub(crate) fn path(text: &str) -> Result<PathBuf, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the path is empty".to_owned());
    }
    Ok(PathBuf::from(t))
}

/// Parses a log filter in `tracing_subscriber::EnvFilter` syntax (`info`,
/// `starbase=debug,info`), so a typo fails here rather than silently logging at `info`.
pub(crate) fn log_filter(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the filter is empty (e.g. info or starbase=debug,info)".to_owned());
    }
    tracing_subscriber::EnvFilter::try_new(t).map_err(|e| {
        format!("\"{text}\" is not a log filter (e.g. info or starbase=debug): {e}")
    })?;
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size("10MiB"), Ok(10_485_760));
        assert_eq!(size("512KiB"), Ok(524_288));
        assert_eq!(size("1KB"), Ok(1000));
        assert_eq!(size("1KiB"), Ok(1024));
        assert_eq!(size("1 kib"), Ok(1024));
        assert_eq!(size("1048576"), Ok(1_048_576));
        assert_eq!(size(" 7 B "), Ok(7));
        assert_eq!(size("1.5KiB"), Ok(1536));
        assert_eq!(size("0.5MB"), Ok(500_000));
        assert_eq!(size("2GB"), Ok(2_000_000_000));
    }

    #[test]
    fn bad_sizes() {
        for bad in [
            "",
            "MiB",
            "ten",
            "10 parsecs",
            "0",
            "0KiB",
            "-1",
            "1.5B",
            "1..5KiB",
            ".",
            "1e6",
            "99999999999999999999999999999999999999999TiB",
        ] {
            assert!(size(bad).is_err(), "{bad:?} accepted");
        }
        assert!(size("10M").unwrap_err().contains("ambiguous"));
        assert!(size("10 parsecs").unwrap_err().contains("parsecs"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(duration("250ms"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(duration("1m 30s"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(duration("0"), Ok(None));
        assert_eq!(duration("0s"), Ok(None));
        assert!(duration("soon").is_err());
        assert!(duration("30").is_err(), "a unit is required");
        assert!(duration("").is_err());
    }

    #[test]
    fn addresses_counts_paths_filters() {
        assert_eq!(addr("127.0.0.1:8787").unwrap().port(), 8787);
        assert_eq!(addr("[::1]:5433").unwrap().port(), 5433);
        assert!(addr("localhost:8787").is_err());
        assert!(addr("127.0.0.1").is_err());
        assert_eq!(count("4"), Ok(4));
        assert!(count("0").is_err() && count("four").is_err() && count("-1").is_err());
        assert_eq!(readers("256"), Ok(256));
        assert!(readers("0").is_err() && readers("257").is_err());
        assert_eq!(path(" ./data "), Ok(PathBuf::from("./data")));
        assert!(path(" ").is_err());
        assert_eq!(
            log_filter("starbase=debug,info"),
            Ok("starbase=debug,info".to_owned())
        );
        assert!(log_filter("").is_err());
        assert!(log_filter("starbase=loud").is_err());
    }
}
