//! The built-in detectors: a regex each, and a validator where a regex alone would flag
//! look-alikes (order numbers that are not card numbers, times that are not IPv6 addresses).

use crate::config::Detector;

/// The regex that finds candidates for `detector`.
pub(crate) fn pattern(detector: Detector) -> &'static str {
    match detector {
        Detector::Email => r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
        Detector::PaymentCard => r"\b\d(?:[ \-]?\d){12,18}\b",
        Detector::Ipv4 => {
            r"\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b"
        }
        Detector::Ipv6 => r"(?i)(?:[0-9a-f]{1,4}|:)?(?::[0-9a-f]{0,4}){2,7}(?:%[0-9a-z]+)?",
        Detector::BearerToken => {
            r"(?i:\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*)|\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"
        }
        Detector::ApiKey => concat!(
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b",
            r"|\bxox[abposr]-[A-Za-z0-9\-]{10,}",
            r"|\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b",
            r"|\bAIza[0-9A-Za-z_\-]{35}\b",
            r#"|(?i:\b(?:api[_\-]?key|apikey|access[_\-]?token|secret[_\-]?key)\b["']?\s*[:=]\s*["']?[A-Za-z0-9_\-./+]{12,})"#,
        ),
        Detector::BasicAuth => concat!(
            r"(?i:\bbasic\s+)[A-Za-z0-9+/]{4,}={0,2}",
            r"|\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:[^\s/@]+@",
        ),
    }
}

/// Whether a candidate really is what `detector` looks for.
pub(crate) fn is_valid(detector: Detector, candidate: &str) -> bool {
    match detector {
        Detector::PaymentCard => payment_card(candidate),
        // The regex also finds times like 12:34:56; the address parser does not accept them.
        Detector::Ipv6 => candidate
            .split('%')
            .next()
            .is_some_and(|address| address.parse::<std::net::Ipv6Addr>().is_ok()),
        // "Basic authentication failed" is not a credential: the token must be base64 of
        // `user:password`.
        Detector::BasicAuth if !candidate.contains("://") => candidate
            .split_whitespace()
            .nth(1)
            .and_then(base64_decode)
            .is_some_and(|decoded| decoded.contains(&b':')),
        _ => true,
    }
}

/// Standard base64 with padding (what HTTP Basic credentials use), or `None`.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |b: u8| match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes[..bytes.len() - padding].chunks(4) {
        let mut word = 0u32;
        for &b in chunk {
            word = word << 6 | u32::from(value(b)?);
        }
        word <<= 6 * (4 - chunk.len() as u32);
        let produced = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        out.extend_from_slice(&produced[..(chunk.len() - 1).clamp(1, 3)]);
    }
    Some(out)
}

/// A card number: a major industry identifier that issues payment cards (1 airlines,
/// 2 and 5 Mastercard, 3 Amex/JCB/Diners, 4 Visa, 6 Discover/UnionPay/Maestro) and a valid
/// Luhn checksum. Zero-padded ids and counters ("0000000000000000" passes Luhn) are not cards.
pub(crate) fn payment_card(text: &str) -> bool {
    let first = text.chars().find(char::is_ascii_digit);
    matches!(first, Some('1'..='6')) && luhn(text)
}

/// The Luhn checksum over the digits of `text` (13–19 of them).
pub(crate) fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::{base64_decode, luhn, payment_card};

    #[test]
    fn base64_decodes_credentials() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YTpi").unwrap(), b"a:b");
        assert_eq!(base64_decode("YTpiYw==").unwrap(), b"a:bc");
        assert_eq!(base64_decode("YTpiY2Q=").unwrap(), b"a:bcd");
        assert!(base64_decode("authentication").is_none());
        assert!(base64_decode("ab=c").is_none());
    }

    #[test]
    fn luhn_accepts_test_cards_and_rejects_neighbours() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(luhn(card), "{card}");
        }
        for not_card in [
            "4111111111111112",
            "1234567890123",
            "123",
            "41111111111111111111",
        ] {
            assert!(!luhn(not_card), "{not_card}");
        }
    }

    #[test]
    fn cards_start_with_an_issuing_industry() {
        assert!(payment_card("4111111111111111"));
        assert!(payment_card("6011111111111117"));
        for not_card in [
            "0000000000000000",
            "0000000000000018",
            "7992739871300008",
            "8123456789012340",
        ] {
            assert!(luhn(not_card), "{not_card} passes Luhn");
            assert!(!payment_card(not_card), "{not_card}");
        }
    }
}
