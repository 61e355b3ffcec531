//! Redaction configuration.

use serde::{Deserialize, Serialize};

/// A built-in detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    /// `name@domain.tld`.
    Email,
    /// 13–19 digits, optionally grouped by spaces or dashes, that pass the Luhn check.
    PaymentCard,
    /// Dotted-quad IPv4 addresses.
    Ipv4,
    /// IPv6 addresses (anything the standard parser accepts).
    Ipv6,
    /// `Bearer <token>` credentials and JSON Web Tokens.
    BearerToken,
    /// Well-known key shapes (AWS, GitHub, Slack, Stripe, Google) and `api_key=…` pairs.
    ApiKey,
    /// HTTP Basic credentials (`Basic <base64 of user:password>`) and passwords in URLs
    /// (`scheme://user:password@host`).
    BasicAuth,
}

impl Detector {
    /// The label used in replacements (`[REDACTED:email]`).
    pub fn label(self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::PaymentCard => "payment-card",
            Detector::Ipv4 => "ipv4",
            Detector::Ipv6 => "ipv6",
            Detector::BearerToken => "bearer-token",
            Detector::ApiKey => "api-key",
            Detector::BasicAuth => "basic-auth",
        }
    }
}

/// What a match is replaced with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedactMode {
    /// `[REDACTED:<label>]`.
    Mask,
    /// `[<label>:<16 hex digits of a keyed BLAKE3 hash>]`.
    Hash,
}

/// A user-defined pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CustomPattern {
    /// Label in replacements.
    pub name: String,
    /// A regex (Rust `regex` syntax).
    pub pattern: String,
}

/// Redaction settings. In TOML (defaults shown):
///
/// ```toml
/// enabled = true
/// detectors = ["email", "payment-card", "bearer-token", "api-key", "basic-auth"]  # also: "ipv4", "ipv6"
/// custom = []                    # e.g. [{ name = "employee-id", pattern = "EMP-[0-9]{6}" }]
/// mode = "mask"                  # mask | hash
/// hash-key = ""                  # required with mode = "hash" (at least 16 bytes)
/// columns = ["body", "status_message"]  # string columns to scan (also e.g. "events.name")
/// attribute-columns = ["attributes", "resource_attributes", "scope_attributes",
///                      "events.attributes", "links.attributes"]  # maps: values scanned, drop-keys applied
/// drop-keys = ["password", "passwd", "secret", "authorization", "cookie", "set-cookie"]
/// ```
///
/// IP addresses are off by default: they are operational data in most logs; enable them
/// where they count as personal data for you.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Whether redaction runs at all. Default: `true`.
    pub enabled: bool,
    /// Built-in detectors to run. Default: email, payment-card, bearer-token, api-key,
    /// basic-auth (HTTP Basic credentials and `user:password@` in URLs).
    pub detectors: Vec<Detector>,
    /// Extra patterns. Default: none.
    pub custom: Vec<CustomPattern>,
    /// Replacement style. Default: `mask`.
    pub mode: RedactMode,
    /// Secret for `hash` mode. Default: empty (then `hash` mode is refused).
    pub hash_key: String,
    /// String columns to scan; `list.field` names a string field inside a list of structs
    /// (`events.name`). Columns a table does not have are skipped. Default: `["body",
    /// "status_message"]` (log bodies, span status messages).
    pub columns: Vec<String>,
    /// Attribute-map columns whose values are scanned and whose keys `drop-keys` applies to;
    /// `list.field` names a map inside a list of structs (span events and links). Default:
    /// every map the tables have: `["attributes", "resource_attributes",
    /// "scope_attributes", "events.attributes", "links.attributes"]`.
    pub attribute_columns: Vec<String>,
    /// Attribute keys removed outright, ignoring case: an entry matches the whole key or its
    /// last segment after `.`, `_`, `-` or `/` (`authorization` drops
    /// `http.request.header.authorization`); an entry with `*` is a wildcard over the whole
    /// key (`"*token*"`). Default: password, passwd, secret, authorization, cookie, set-cookie.
    pub drop_keys: Vec<String>,
}

impl RedactConfig {
    /// This configuration with `hash-key` replaced by `***` when set: what may be printed.
    pub fn without_secrets(&self) -> Self {
        let mut config = self.clone();
        if !config.hash_key.is_empty() {
            config.hash_key = "***".into();
        }
        config
    }
}

impl Default for RedactConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            detectors: vec![
                Detector::Email,
                Detector::PaymentCard,
                Detector::BearerToken,
                Detector::ApiKey,
                Detector::BasicAuth,
            ],
            custom: Vec::new(),
            mode: RedactMode::Mask,
            hash_key: String::new(),
            columns: vec!["body".into(), "status_message".into()],
            attribute_columns: [
                "attributes",
                "resource_attributes",
                "scope_attributes",
                "events.attributes",
                "links.attributes",
            ]
            .map(String::from)
            .to_vec(),
            drop_keys: [
                "password",
                "passwd",
                "secret",
                "authorization",
                "cookie",
                "set-cookie",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}
