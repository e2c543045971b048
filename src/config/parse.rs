//! Parsers for configuration values: sizes (`10MiB`), durations (`30s`), addresses, counts.
//!
//! Owns the accepted spellings. Must not know where a value came from.

use std::net::SocketAddr;
use std::time::Duration;

/// Parses a byte size: a plain integer, or a number with a unit (`B`, `KB`, `MB`, `GB`
/// decimal; `KiB`, `MiB`, `GiB` binary), case-insensitive, spaces allowed.
pub(crate) fn size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit \"{other}\" (use B, KB, MB, GB, KiB, MiB or GiB)"
            ));
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a size (e.g. 10MiB or 1048576)"))?;
    n.checked_mul(factor)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("\"{text}\" is not a positive size that fits in memory"))
}

/// Parses a duration (`30s`, `500ms`, `2m`); `0` means "none".
pub(crate) fn duration(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(None);
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("\"{text}\" is not a duration (e.g. 30s, 500ms): {e}"))?;
    Ok((!d.is_zero()).then_some(d))
}

/// Parses a socket address such as `127.0.0.1:8787` or `[::1]:5433`.
pub(crate) fn addr(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not a socket address (e.g. 127.0.0.1:8787)"))
}

/// Parses a positive count.
pub(crate) fn count(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("\"{text}\" is not a positive whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(size("1KB"), Ok(1000));
        assert_eq!(size("1KiB"), Ok(1024));
        assert_eq!(size("1 kib"), Ok(1024));
        assert_eq!(size("1048576"), Ok(1_048_576));
        assert!(size("10 parsecs").is_err());
        assert!(size("MiB").is_err());
        assert!(size("0").is_err());
        assert!(size("-1").is_err());
    }

    #[test]
    fn durations_addresses_counts() {
        assert_eq!(duration("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(duration("250ms"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(duration("0"), Ok(None));
        assert!(duration("soon").is_err());
        assert_eq!(addr("127.0.0.1:8787").unwrap().port(), 8787);
        assert!(addr("localhost").is_err());
        assert_eq!(count("4"), Ok(4));
        assert!(count("0").is_err());
        assert!(count("four").is_err());
    }
}
