//! Timestamps as log lines write them: RFC 3339 text or epoch numbers of unknown unit.

/// Nanoseconds since the epoch of an RFC 3339 / ISO 8601 timestamp:
/// `2024-05-01T12:34:56Z`, `2024-05-01 12:34:56.123456789+02:00`, `2024-05-01T12:34:56.5-0700`.
/// A timestamp without zone is read as UTC.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.trim().as_bytes();
    if bytes.len() < 19 {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut value = 0i64;
        for &b in bytes.get(range)? {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        Some(value)
    };
    if bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut nanos = 0i64;
    if bytes.get(pos) == Some(&b'.') || bytes.get(pos) == Some(&b',') {
        pos += 1;
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            if pos - start < 9 {
                nanos = nanos * 10 + i64::from(bytes[pos] - b'0');
            }
            pos += 1;
        }
        let fraction_digits = pos - start;
        if fraction_digits == 0 {
            return None;
        }
        for _ in fraction_digits..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match &bytes[pos..] {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    let two = |a: u8, b: u8| -> Option<i64> {
                        (a.is_ascii_digit() && b.is_ascii_digit())
                            .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
                    };
                    (two(*h1, *h2)?, two(*m1, *m2)?)
                }
                [h1, h2] if h1.is_ascii_digit() && h2.is_ascii_digit() => {
                    (i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0'), 0)
                }
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let seconds = h * 3600 + m * 60;
            if *sign == b'+' { seconds } else { -seconds }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Nanoseconds from an epoch number whose unit is guessed from its size: seconds below 1e11
/// (until the year 5138), then milliseconds, microseconds, nanoseconds.
pub fn epoch_to_nanos(value: f64) -> Option<i64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let nanos = if value < 1e11 {
        value * 1e9
    } else if value < 1e14 {
        value * 1e6
    } else if value < 1e17 {
        value * 1e3
    } else {
        value
    };
    (nanos < i64::MAX as f64).then_some(nanos.round() as i64)
}

/// Like [`epoch_to_nanos`] for integers, exact (no float rounding).
pub fn epoch_int_to_nanos(value: i64) -> Option<i64> {
    match value {
        v if v < 0 => None,
        v if v < 100_000_000_000 => v.checked_mul(1_000_000_000),
        v if v < 100_000_000_000_000 => v.checked_mul(1_000_000),
        v if v < 100_000_000_000_000_000 => v.checked_mul(1_000),
        v => Some(v),
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_variants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2018-12-13T14:51:00.3Z"),
            Some(1_544_712_660_300_000_000)
        );
        assert_eq!(
            parse_rfc3339("2018-12-13 16:51:00.300+02:00"),
            Some(1_544_712_660_300_000_000)
        );
        assert_eq!(
            parse_rfc3339("2018-12-13T07:51:00.3-0700"),
            Some(1_544_712_660_300_000_000)
        );
        assert_eq!(
            parse_rfc3339("2018-12-13T14:51:00.123456789123Z"),
            Some(1_544_712_660_123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00"),
            Some(1_709_164_800_000_000_000)
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01",
            "yesterday",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+5",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_units_are_guessed_by_size() {
        let nanos = 1_700_000_000_000_000_000i64;
        assert_eq!(epoch_int_to_nanos(1_700_000_000), Some(nanos));
        assert_eq!(epoch_int_to_nanos(1_700_000_000_000), Some(nanos));
        assert_eq!(epoch_int_to_nanos(1_700_000_000_000_000), Some(nanos));
        assert_eq!(epoch_int_to_nanos(nanos), Some(nanos));
        assert_eq!(epoch_to_nanos(1_700_000_000.5), Some(nanos + 500_000_000));
        assert_eq!(epoch_to_nanos(-1.0), None);
        assert_eq!(epoch_int_to_nanos(-1), None);
    }
}
