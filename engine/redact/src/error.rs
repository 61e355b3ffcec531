//! The redaction crate's one error type.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A custom pattern that does not compile.
    #[error("redaction pattern {name:?} is invalid: {source}")]
    Pattern {
        name: String,
        #[source]
        source: regex::Error,
    },
    /// The configuration contradicts itself.
    #[error("invalid redaction configuration: {0}")]
    Config(String),
    /// Arrow refused to assemble a redacted column.
    #[error("redacting column {column:?}: {source}")]
    Arrow {
        column: String,
        #[source]
        source: arrow::error::ArrowError,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
