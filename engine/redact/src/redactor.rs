//! Redacting text: the prefilter, the detectors, and the replacement.

use std::borrow::Cow;

use regex::{Regex, RegexSet};

use crate::config::{Detector, RedactConfig, RedactMode};
use crate::detectors;
use crate::error::{Error, Result};
use crate::prefilter::Prefilter;

struct Rule {
    label: String,
    regex: Regex,
    /// Built-in detectors may validate candidates; custom patterns take every match.
    detector: Option<Detector>,
}

/// Applies a [`RedactConfig`]. Build once, share freely (`&self` everywhere).
pub struct Redactor {
    enabled: bool,
    /// Which rules match, for text the fast prefilter cannot take (non-ASCII).
    prefilter: RegexSet,
    /// Which rules may match ASCII text, cheaply; `None` beyond 64 rules.
    fast: Option<Prefilter>,
    rules: Vec<Rule>,
    mode: RedactMode,
    hash_key: [u8; 32],
    pub(crate) columns: Vec<String>,
    pub(crate) attribute_columns: Vec<String>,
    drop_keys: Vec<String>,
}

impl Redactor {
    pub fn new(config: &RedactConfig) -> Result<Self> {
        let mut rules = Vec::new();
        for &detector in &config.detectors {
            rules.push(Rule {
                label: detector.label().to_string(),
                regex: Regex::new(detectors::pattern(detector)).expect("built-in patterns compile"),
                detector: Some(detector),
            });
        }
        for custom in &config.custom {
            let regex = Regex::new(&custom.pattern).map_err(|source| Error::Pattern {
                name: custom.name.clone(),
                source,
            })?;
            rules.push(Rule {
                label: custom.name.clone(),
                regex,
                detector: None,
            });
        }
        let prefilter =
            RegexSet::new(rules.iter().map(|rule| rule.regex.as_str())).map_err(|source| {
                Error::Pattern {
                    name: "(all patterns together)".into(),
                    source,
                }
            })?;
        if config.mode == RedactMode::Hash && config.hash_key.len() < 16 {
            return Err(Error::Config(
                "mode = \"hash\" needs a hash-key of at least 16 bytes (keep it secret: it is what makes hashes unguessable)"
                    .into(),
            ));
        }
        let fast = Prefilter::new(&rules.iter().map(|rule| rule.detector).collect::<Vec<_>>());
        Ok(Self {
            enabled: config.enabled && !(rules.is_empty() && config.drop_keys.is_empty()),
            prefilter,
            fast,
            rules,
            mode: config.mode,
            hash_key: blake3::derive_key(
                "icegate redaction hash key v1",
                config.hash_key.as_bytes(),
            ),
            columns: config.columns.clone(),
            attribute_columns: config.attribute_columns.clone(),
            drop_keys: config
                .drop_keys
                .iter()
                .map(|key| key.to_ascii_lowercase())
                .collect(),
        })
    }

    /// Whether redaction does anything at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// `text` with every detected value replaced; borrowed (no copy) when nothing matched.
    pub fn redact_text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.enabled || self.rules.is_empty() {
            return Cow::Borrowed(text);
        }
        match &self.fast {
            Some(fast) if text.is_ascii() => {
                let candidates = fast.candidates(text);
                if candidates == 0 {
                    return Cow::Borrowed(text);
                }
                // Confirmed on the original text, as the RegexSet path decides.
                let matched = (0..self.rules.len())
                    .filter(|&index| candidates & (1 << index) != 0)
                    .filter(|&index| self.rules[index].regex.is_match(text));
                self.apply(text, matched)
            }
            _ => self.redact_text_with_set(text),
        }
    }

    /// Rows of a string column (its contiguous `values` buffer and `offsets`) that may
    /// need redaction, found by scanning the whole buffer at once; `None` when the fast
    /// prefilter cannot decide (non-ASCII text, custom patterns): then every row is one.
    pub(crate) fn candidate_rows(&self, values: &[u8], offsets: &[i32]) -> Option<Vec<usize>> {
        let fast = self.fast.as_ref()?;
        let base = *offsets.first()? as usize;
        let end = *offsets.last()? as usize;
        let bytes = &values[base..end];
        if !bytes.is_ascii() {
            return None;
        }
        let mut rows = Vec::new();
        let complete = fast.scan(bytes, &mut |start, stop| {
            // Every row the range overlaps (a range may straddle rows: a superset is fine).
            let first = offsets.partition_point(|&o| (o as usize) <= base + start) - 1;
            let last = offsets.partition_point(|&o| (o as usize) < base + stop.max(start + 1)) - 1;
            rows.extend(first..=last.min(offsets.len() - 2));
        });
        if !complete {
            return None;
        }
        rows.sort_unstable();
        rows.dedup();
        Some(rows)
    }

    /// The reference path: one overlapping `RegexSet` search decides which rules run.
    #[doc(hidden)]
    pub fn redact_text_with_set<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.enabled || self.rules.is_empty() {
            return Cow::Borrowed(text);
        }
        let matched = self.prefilter.matches(text);
        if !matched.matched_any() {
            return Cow::Borrowed(text);
        }
        self.apply(text, matched.iter())
    }

    /// Runs the `matched` rules, in rule order, each over the previous one's output.
    fn apply<'t>(&self, text: &'t str, matched: impl Iterator<Item = usize>) -> Cow<'t, str> {
        let mut current = Cow::Borrowed(text);
        for index in matched {
            let rule = &self.rules[index];
            let mut changed = false;
            let replaced = rule
                .regex
                .replace_all(&current, |captures: &regex::Captures<'_>| {
                    let candidate = &captures[0];
                    if rule
                        .detector
                        .is_some_and(|detector| !detectors::is_valid(detector, candidate))
                    {
                        return candidate.to_string();
                    }
                    changed = true;
                    self.replacement(&rule.label, candidate)
                });
            if changed {
                current = Cow::Owned(replaced.into_owned());
            }
        }
        current
    }

    fn replacement(&self, label: &str, value: &str) -> String {
        match self.mode {
            RedactMode::Mask => format!("[REDACTED:{label}]"),
            RedactMode::Hash => {
                let hash = blake3::keyed_hash(&self.hash_key, value.as_bytes());
                format!("[{label}:{}]", &hash.to_hex()[..16])
            }
        }
    }

    /// Whether an attribute with this key is removed outright: a `drop-keys` entry matches
    /// the whole key or its last segment after `.`, `_`, `-` or `/` (so `authorization`
    /// drops `http.request.header.authorization` and `password` drops `user.password`),
    /// ignoring case; an entry with `*` is a wildcard pattern over the whole key.
    pub fn drops_key(&self, key: &str) -> bool {
        self.enabled
            && self
                .drop_keys
                .iter()
                .any(|dropped| key_matches(dropped, key))
    }
}

/// `dropped` (lowercase) against `key` (see [`Redactor::drops_key`]).
fn key_matches(dropped: &str, key: &str) -> bool {
    if dropped.contains('*') {
        return wildcard_matches(dropped.as_bytes(), key.to_ascii_lowercase().as_bytes());
    }
    let (key_bytes, dropped_bytes) = (key.as_bytes(), dropped.as_bytes());
    if key_bytes.len() < dropped_bytes.len() {
        return false;
    }
    let start = key_bytes.len() - dropped_bytes.len();
    key_bytes[start..].eq_ignore_ascii_case(dropped_bytes)
        && (start == 0 || matches!(key_bytes[start - 1], b'.' | b'_' | b'-' | b'/'))
}

/// `*` matches any run of bytes; everything else itself.
fn wildcard_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| wildcard_matches(rest, &text[skip..])),
        Some((byte, rest)) => text.first() == Some(byte) && wildcard_matches(rest, &text[1..]),
    }
}

#[cfg(test)]
mod drop_key_tests {
    use super::key_matches;

    #[test]
    fn entries_match_whole_keys_last_segments_and_wildcards() {
        assert!(key_matches("authorization", "Authorization"));
        assert!(key_matches(
            "authorization",
            "http.request.header.authorization"
        ));
        assert!(key_matches("password", "user.password"));
        assert!(key_matches("password", "db_password"));
        assert!(key_matches("secret", "x-client-secret"));
        assert!(!key_matches("secret", "secretary"));
        assert!(!key_matches("password", "password.policy"));
        assert!(!key_matches("cookie", "fortunecookie"));
        assert!(key_matches("*token*", "x-auth-token-id"));
        assert!(key_matches("aws.*", "AWS.secret_access_key"));
        assert!(!key_matches("aws.*", "gcp.key"));
    }
}
