//! A cheap necessary condition per rule, for ASCII text: which rules *may* match, found with
//! memchr-style scans for rare bytes (`@`, `k`, `b`), one case-sensitive Aho-Corasick search
//! for key prefixes (`AKIA`, `ghp_`, …) and byte scans for digit shapes. It replaces
//! an overlapping `RegexSet` search (the redactor's largest cost per record) on the common
//! path; candidates are then confirmed with each rule's own regex, so results are exactly
//! those of the `RegexSet` path (a property test holds the two equal).
//!
//! Why ASCII only: the built-in patterns use Unicode-aware `\d` and `(?i)`, under which
//! non-ASCII characters can match (Arabic-Indic digits, the Kelvin sign for `k`). Text with
//! any non-ASCII byte takes the `RegexSet` path.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::config::Detector;

/// Case-sensitive literals one of which every match of the API-key shapes contains; the
/// case-insensitive `api_key=` / `access_token=` / `secret-key=` form is found by its `k`.
const API_KEY_LITERALS: [&str; 16] = [
    "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xoxa-", "xoxb-", "xoxp-", "xoxo-",
    "xoxs-", "xoxr-", "k_live_", "k_test_", "AIza",
];

/// Which rules may match a text.
pub(crate) struct Prefilter {
    /// Case-sensitive: Aho-Corasick keeps its SIMD prefilter.
    api_key_literals: AhoCorasick,
    checks: Vec<(usize, Detector)>,
    /// Custom patterns: no literal is known, so they are always candidates.
    always: u64,
}

impl Prefilter {
    /// `rules[i]` is `Some(detector)` for a built-in rule, `None` for a custom pattern.
    /// At most 64 rules (a bit each).
    pub(crate) fn new(rules: &[Option<Detector>]) -> Option<Self> {
        if rules.len() > 64 {
            return None;
        }
        let mut checks = Vec::new();
        let mut always = 0u64;
        for (index, rule) in rules.iter().enumerate() {
            match rule {
                None => always |= 1 << index,
                Some(detector) => checks.push((index, *detector)),
            }
        }
        let api_key_literals = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(API_KEY_LITERALS)
            .expect("literal triggers build");
        Some(Self {
            api_key_literals,
            checks,
            always,
        })
    }

    /// A bit per rule that may match `text`, which must be ASCII.
    pub(crate) fn candidates(&self, text: &str) -> u64 {
        debug_assert!(text.is_ascii());
        let mut mask = self.always;
        for &(index, detector) in &self.checks {
            let mut found = false;
            self.hits(detector, text.as_bytes(), &mut |_, _| found = true);
            if found {
                mask |= 1 << index;
            }
        }
        mask
    }

    /// Calls `hit(start, end)` for every byte range of `bytes` (ASCII) where some rule may
    /// match, so a whole column's value buffer is scanned at once. `false` if a rule may match
    /// anywhere (a custom pattern): then every value is a candidate.
    pub(crate) fn scan(&self, bytes: &[u8], hit: &mut dyn FnMut(usize, usize)) -> bool {
        debug_assert!(bytes.is_ascii());
        if self.always != 0 {
            return false;
        }
        for &(_, detector) in &self.checks {
            self.hits(detector, bytes, hit);
        }
        true
    }

    /// The ranges where `detector` may match: every one of its matches overlaps one.
    fn hits(&self, detector: Detector, bytes: &[u8], hit: &mut dyn FnMut(usize, usize)) {
        match detector {
            Detector::Email => memchr::memchr_iter(b'@', bytes).for_each(|at| hit(at, at + 1)),
            Detector::PaymentCard => card_shapes(bytes, hit),
            Detector::Ipv4 => memchr::memchr_iter(b'.', bytes)
                .filter(|&dot| {
                    dot > 0
                        && bytes[dot - 1].is_ascii_digit()
                        && bytes.get(dot + 1).is_some_and(u8::is_ascii_digit)
                })
                .for_each(|dot| hit(dot - 1, dot + 2)),
            // Two colons with at most 5 bytes between them (`(?::[0-9a-f]{0,4}){2,}`).
            Detector::Ipv6 => {
                let mut previous: Option<usize> = None;
                for colon in memchr::memchr_iter(b':', bytes) {
                    if let Some(before) = previous.filter(|&p| colon - p <= 5) {
                        hit(before, colon + 1);
                    }
                    previous = Some(colon);
                }
            }
            Detector::BearerToken => {
                memchr::memmem::find_iter(bytes, b"eyJ").for_each(|at| hit(at, at + 3));
                for at in memchr::memchr2_iter(b'b', b'B', bytes) {
                    if word_at(bytes, at, b"bearer") {
                        hit(at, at + 6);
                    }
                }
            }
            Detector::BasicAuth => {
                for at in memchr::memchr2_iter(b'b', b'B', bytes) {
                    if word_at(bytes, at, b"basic") {
                        hit(at, at + 5);
                    }
                }
                memchr::memmem::find_iter(bytes, b"://").for_each(|at| hit(at, at + 3));
            }
            Detector::ApiKey => {
                for found in self.api_key_literals.find_iter(bytes) {
                    hit(found.start(), found.end());
                }
                for at in memchr::memchr2_iter(b'k', b'K', bytes) {
                    if word_at(bytes, at, b"key") {
                        hit(at, at + 3);
                    } else if at >= 2 && word_at(bytes, at - 2, b"token") {
                        hit(at - 2, at + 3);
                    }
                }
            }
        }
    }
}

/// Whether `word` (lowercase) starts at `at`, ignoring ASCII case.
fn word_at(bytes: &[u8], at: usize, word: &[u8]) -> bool {
    bytes
        .get(at..at + word.len())
        .is_some_and(|found| found.eq_ignore_ascii_case(word))
}

/// Runs of 13 or more digits, each pair separated by at most one space or dash: the shape
/// `\d(?:[ \-]?\d){12,18}` needs. Calls `hit` with each run's range.
fn card_shapes(bytes: &[u8], hit: &mut dyn FnMut(usize, usize)) {
    // Most text has fewer than 13 digits in all: a count the compiler vectorizes settles it.
    if ascii_digits(bytes) < 13 {
        return;
    }
    let mut digits = 0;
    let mut start = 0;
    let mut after_separator = false;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                if digits == 0 {
                    start = at;
                }
                digits += 1;
                after_separator = false;
                continue;
            }
            b' ' | b'-' if digits > 0 && !after_separator => {
                after_separator = true;
                continue;
            }
            _ => {}
        }
        if digits >= 13 {
            hit(start, at);
        }
        digits = 0;
        after_separator = false;
    }
    if digits >= 13 {
        hit(start, bytes.len());
    }
}

/// How many ASCII digits `bytes` holds, counted in 64-byte blocks of byte-wide sums (which
/// compile to SIMD compares and adds).
fn ascii_digits(bytes: &[u8]) -> usize {
    let mut blocks = bytes.chunks_exact(64);
    let mut total = 0;
    for block in &mut blocks {
        let mut count = 0u8;
        for &byte in block {
            count += u8::from(byte.wrapping_sub(b'0') < 10);
        }
        total += usize::from(count);
    }
    total
        + blocks
            .remainder()
            .iter()
            .filter(|b| b.is_ascii_digit())
            .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_runs(text: &str) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        card_shapes(text.as_bytes(), &mut |start, end| runs.push((start, end)));
        runs
    }

    #[test]
    fn card_shapes_are_found_with_their_ranges() {
        assert_eq!(card_runs("card 4111 1111 1111 1111 ok"), [(5, 25)]);
        assert_eq!(card_runs("4111-1111-1111-1111"), [(0, 19)]);
        assert_eq!(card_runs("x4111111111111y"), [(1, 14)]);
        assert!(card_runs("4111  1111 1111 1111").is_empty());
        assert!(card_runs("12:34:56 2025-11-26 10.20.30.40").is_empty());
        assert!(card_runs("-4111111111 11").is_empty());
        assert_eq!(ascii_digits("a1".repeat(100).as_bytes()), 100);
    }

    #[test]
    fn candidates_widen_but_never_miss() {
        let rules = [
            Some(Detector::Email),
            Some(Detector::PaymentCard),
            Some(Detector::BearerToken),
            Some(Detector::ApiKey),
            Some(Detector::Ipv4),
            Some(Detector::Ipv6),
            Some(Detector::BasicAuth),
            None,
        ];
        let prefilter = Prefilter::new(&rules).unwrap();
        let custom = 1 << 7;
        assert_eq!(prefilter.candidates("GET /index.html 200"), custom);
        assert_eq!(prefilter.candidates("to a@b.io") & 1, 1);
        assert_ne!(
            prefilter.candidates("Authorization: BEARER abcdefghij") & 4,
            0
        );
        assert_ne!(prefilter.candidates("API-KEY=abcdefghijklmnop") & 8, 0);
        assert_ne!(prefilter.candidates("from 10.0.0.1") & 16, 0);
        assert_ne!(prefilter.candidates("addr fe80::1") & 32, 0);
        assert_ne!(
            prefilter.candidates("Authorization: Basic dXNlcjpwYXNz") & 64,
            0
        );
        assert_ne!(prefilter.candidates("https://u:p@db.example") & 64, 0);
    }
}
