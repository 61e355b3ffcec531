//! Time expressions of `--since`, `--until` and `--as-of`, as Unix microseconds (the
//! resolution of Iceberg's `timestamptz`).

use crate::error::{QueryError, Result};

/// `90s`, `15m`, `1h`, `2d`, `1w` (that long before `now`), `now`, an RFC 3339 time or a
/// date (`2025-11-26`, midnight UTC).
pub fn parse_time(text: &str, now_micros: i64) -> Result<i64> {
    let bad = || QueryError::BadTime {
        text: text.to_string(),
    };
    let trimmed = text.trim();
    if trimmed == "now" {
        return Ok(now_micros);
    }
    if let Some(unit) = trimmed.chars().last().filter(|c| c.is_ascii_alphabetic())
        && let Ok(amount) = trimmed[..trimmed.len() - 1].parse::<i64>()
    {
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        return Ok(now_micros - amount.checked_mul(seconds * 1_000_000).ok_or_else(bad)?);
    }
    if trimmed.len() == 10 {
        return icegate_parser::parse_rfc3339(&format!("{trimmed}T00:00:00Z"))
            .map(|nanos| nanos.div_euclid(1000))
            .ok_or_else(bad);
    }
    icegate_parser::parse_rfc3339(trimmed)
        .map(|nanos| nanos.div_euclid(1000))
        .ok_or_else(bad)
}

/// Now, in Unix microseconds.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `2025-11-26T10:00:00.123456Z` for Unix microseconds.
pub fn format_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        micros.rem_euclid(1_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_times_and_dates() {
        let now = 1_764_151_445_000_000;
        assert_eq!(parse_time("1h", now).unwrap(), now - 3_600_000_000);
        assert_eq!(parse_time("90s", now).unwrap(), now - 90_000_000);
        assert_eq!(parse_time("2d", now).unwrap(), now - 172_800_000_000);
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(
            parse_time("2025-11-26T10:04:05Z", now).unwrap(),
            1_764_151_445_000_000
        );
        assert_eq!(
            parse_time("2025-11-26", now).unwrap(),
            1_764_115_200_000_000
        );
        for bad in ["yesterday", "1y", "", "2025-13-01", "h"] {
            let err = parse_time(bad, now).unwrap_err();
            assert!(err.to_string().contains("invalid time"), "{bad}: {err}");
        }
        assert_eq!(
            format_micros(1_764_151_445_000_123),
            "2025-11-26T10:04:05.000123Z"
        );
    }
}
