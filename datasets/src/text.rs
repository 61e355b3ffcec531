//! Small text helpers shared by the generators: calendar formatting without a clock or a
//! time-zone database, addresses, skewed choices.

use std::fmt::Write;

use rand::Rng;
use rand::rngs::StdRng;

pub(crate) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// A UTC calendar time broken down from Unix nanoseconds.
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
    pub weekday: &'static str,
}

/// Howard Hinnant's days-to-civil: exact for the proleptic Gregorian calendar.
pub(crate) fn civil(unix_nano: u64) -> Civil {
    let secs = (unix_nano / 1_000_000_000) as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (of_day / 3600) as u32,
        minute: (of_day / 60 % 60) as u32,
        second: (of_day % 60) as u32,
        micros: ((unix_nano % 1_000_000_000) / 1000) as u32,
        weekday: WEEKDAYS[days.rem_euclid(7) as usize],
    }
}

/// `2025-11-26T10:00:00.123456Z`
pub(crate) fn rfc3339(unix_nano: u64) -> String {
    let c = civil(unix_nano);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    )
}

/// `26/Nov/2025:10:00:00 +0000` (nginx/Apache access logs).
pub(crate) fn clf_time(unix_nano: u64) -> String {
    let c = civil(unix_nano);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        c.day,
        MONTHS[c.month as usize - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// `Nov 26 10:00:00` (syslog).
pub(crate) fn syslog_time(unix_nano: u64) -> String {
    let c = civil(unix_nano);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[c.month as usize - 1],
        c.day,
        c.hour,
        c.minute,
        c.second
    )
}

/// `Wed Nov 26 10:00:00.123456 2025` (Apache error log).
pub(crate) fn apache_error_time(unix_nano: u64) -> String {
    let c = civil(unix_nano);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02}.{:06} {}",
        c.weekday,
        MONTHS[c.month as usize - 1],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.micros,
        c.year
    )
}

/// A client address: most traffic from a few thousand addresses, some from anywhere.
pub(crate) fn client_ip(rng: &mut StdRng) -> String {
    if rng.random_bool(0.8) {
        let n = skewed(rng, 4096) as u32;
        format!("10.{}.{}.{}", 20 + (n >> 12), (n >> 6) & 63, 1 + (n & 63))
    } else {
        format!(
            "{}.{}.{}.{}",
            rng.random_range(1..=223u8),
            rng.random::<u8>(),
            rng.random::<u8>(),
            rng.random_range(1..=254u8)
        )
    }
}

/// An index in `0..n` where small indexes are much more likely (roughly Zipf with s≈1), as
/// services, paths and users are in real traffic.
pub(crate) fn skewed(rng: &mut StdRng, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    // Inverse CDF of a continuous 1/x density on [1, n+1).
    let u: f64 = rng.random();
    let x = ((n as f64 + 1.0).ln() * u).exp() - 1.0;
    (x as usize).min(n - 1)
}

pub(crate) fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Appends ` key=value` words until `body` is at least `target` bytes long.
pub(crate) fn pad_to(body: &mut String, target: usize, rng: &mut StdRng) {
    const KEYS: [&str; 8] = [
        "req", "session", "shard", "attempt", "bytes", "region", "pool", "cache",
    ];
    while body.len() < target {
        let key = pick(rng, &KEYS);
        let _ = write!(body, " {key}={:x}", rng.random::<u32>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_matches_known_dates() {
        // 2025-11-26T00:00:00Z was a Wednesday.
        let c = civil(1_764_115_200_000_000_000);
        assert_eq!((c.year, c.month, c.day, c.weekday), (2025, 11, 26, "Wed"));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(951_782_400_123_456_789),
            "2000-02-29T00:00:00.123456Z"
        );
        assert_eq!(
            clf_time(1_764_151_445_000_000_000),
            "26/Nov/2025:10:04:05 +0000"
        );
        assert_eq!(syslog_time(1_762_000_000_000_000_000), "Nov  1 12:26:40");
    }

    #[test]
    fn skewed_prefers_small_indexes_and_stays_in_range() {
        use rand::SeedableRng;
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0usize; 16];
        for _ in 0..100_000 {
            counts[skewed(&mut rng, 16)] += 1;
        }
        assert!(counts[0] > counts[15] * 4, "{counts:?}");
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    }
}
