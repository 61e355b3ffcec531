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
    /// `drop-keys` entries without `*`.
    drop_keys: Vec<DropKey>,
    /// Which last bytes (either case) a key must have to match one of `drop_keys`.
    drop_key_last_bytes: [bool; 256],
    /// `drop-keys` entries with `*`, lowercase.
    drop_patterns: Vec<Vec<u8>>,
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
        let drop_keys: Vec<DropKey> = config
            .drop_keys
            .iter()
            .filter(|key| !key.is_empty() && !key.contains('*'))
            .map(|key| DropKey {
                key: key.to_ascii_lowercase().into_bytes(),
                has_separator: key.bytes().any(is_separator),
            })
            .collect();
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
            drop_keys: drop_keys.clone(),
            drop_key_last_bytes: {
                let mut last_bytes = [false; 256];
                for dropped in &drop_keys {
                    let last = *dropped.key.last().expect("non-empty");
                    last_bytes[usize::from(last)] = true;
                    last_bytes[usize::from(last.to_ascii_uppercase())] = true;
                }
                last_bytes
            },
            drop_patterns: config
                .drop_keys
                .iter()
                .filter(|key| key.contains('*'))
                .map(|key| key.to_ascii_lowercase().into_bytes())
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
        if !self.enabled {
            return false;
        }
        let key = key.as_bytes();
        // Called for every attribute: most keys end in a byte no entry ends in.
        let literal = key
            .last()
            .is_some_and(|&last| self.drop_key_last_bytes[usize::from(last)])
            && {
                let segment = key
                    .iter()
                    .rposition(|&b| is_separator(b))
                    .map_or(key, |at| &key[at + 1..]);
                self.drop_keys.iter().any(|dropped| {
                    if dropped.has_separator {
                        key_matches(&dropped.key, key)
                    } else {
                        dropped.key.eq_ignore_ascii_case(segment)
                    }
                })
            };
        literal
            || (!self.drop_patterns.is_empty() && {
                let lower = key.to_ascii_lowercase();
                self.drop_patterns
                    .iter()
                    .any(|pattern| wildcard_matches(pattern, &lower))
            })
    }
}

/// A literal `drop-keys` entry, lowercase and non-empty.
#[derive(Debug, Clone)]
struct DropKey {
    key: Vec<u8>,
    /// Contains `.`, `_`, `-` or `/`: matched as a suffix of the key, not its last segment.
    has_separator: bool,
}

fn is_separator(byte: u8) -> bool {
    matches!(byte, b'.' | b'_' | b'-' | b'/')
}

/// Whether `dropped` (lowercase, non-empty) is `key` or a suffix of it after a separator,
/// ignoring case (for entries that contain a separator themselves, like `set-cookie`).
fn key_matches(dropped: &[u8], key: &[u8]) -> bool {
    let Some(start) = key.len().checked_sub(dropped.len()) else {
        return false;
    };
    (start == 0 || is_separator(key[start - 1])) && key[start..].eq_ignore_ascii_case(dropped)
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
    use crate::{RedactConfig, Redactor};

    fn key_matches(dropped: &str, key: &str) -> bool {
        let config = RedactConfig {
            drop_keys: vec![dropped.to_string()],
            ..RedactConfig::default()
        };
        Redactor::new(&config).unwrap().drops_key(key)
    }

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
        assert!(key_matches("set-cookie", "http.response.header.set-cookie"));
        assert!(!key_matches("set-cookie", "reset-cookie"));
    }
}
