//! PII redaction on Arrow string columns, applied to decoded batches before they reach the
//! WAL, so nothing sensitive ever touches disk.
//!
//! A prefilter decides which detectors can match a value: for ASCII text (nearly every log
//! line) one Aho-Corasick pass over trigger literals (`@`, `bearer`, `akia`, …) plus byte
//! scans for digit shapes; for other text a [`RegexSet`](regex::RegexSet) of every enabled
//! detector. A value no detector can match is returned as-is, without a copy. A value that
//! may match goes through those detectors' own regexes; detectors with a validator (payment cards: Luhn; IPv6:
//! the address parser) keep look-alikes that fail it. Each match becomes
//!
//! - `mask` mode: `[REDACTED:email]`;
//! - `hash` mode: `[email:9f86d081884c7d65]`, a keyed BLAKE3 hash of the value, so equal
//!   values still match each other in queries while the key stays secret.
//!
//! Attribute keys listed in `drop-keys` (case-insensitive, e.g. `password`) are removed from
//! attribute maps outright.
//!
//! ```
//! use icegate_redact::{RedactConfig, Redactor};
//! let redactor = Redactor::new(&RedactConfig::default()).unwrap();
//! assert_eq!(redactor.redact_text("mail ann@example.com now"), "mail [REDACTED:email] now");
//! assert_eq!(redactor.redact_text("nothing here"), "nothing here");
//! ```

mod batch;
mod config;
mod detectors;
mod error;
mod prefilter;
mod redactor;

pub use config::{CustomPattern, Detector, RedactConfig, RedactMode};
pub use error::{Error, Result};
pub use redactor::Redactor;
