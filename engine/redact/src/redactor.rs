//! Redacting text: the prefilter, the detectors, and the replacement.

use std::borrow::Cow;

use regex::{Regex, RegexSet};

use crate::config::{Detector, RedactConfig, RedactMode};
use crate::detectors;
use crate::error::{Error, Result};

struct Rule {
    label: String,
    regex: Regex,
    /// Built-in detectors may validate candidates; custom patterns take every match.
    detector: Option<Detector>,
}

/// Applies a [`RedactConfig`]. Build once, share freely (`&self` everywhere).
pub struct Redactor {
    enabled: bool,
    prefilter: RegexSet,
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
        Ok(Self {
            enabled: config.enabled && !(rules.is_empty() && config.drop_keys.is_empty()),
            prefilter,
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
        let matched = self.prefilter.matches(text);
        if !matched.matched_any() {
            return Cow::Borrowed(text);
        }
        let mut current = Cow::Borrowed(text);
        for index in matched.iter() {
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

    /// Whether an attribute with this key is removed outright.
    pub fn drops_key(&self, key: &str) -> bool {
        self.enabled
            && self
                .drop_keys
                .iter()
                .any(|dropped| dropped.eq_ignore_ascii_case(key))
    }
}
