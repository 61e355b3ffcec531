//! The pipeline's one error type, and how callers act on it.

use std::path::PathBuf;

/// How a failure against the lake is handled by a table's lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// An outage or a lost race: back off and try the same batch again.
    Retryable,
    /// This batch can never be written as it is (bad data, a table it does not fit): move it
    /// aside to the quarantine and go on with the next one.
    Permanent,
    /// Someone else commits as this writer (a cloned data directory): stop committing this
    /// table; the WAL keeps its records until an operator resolves it.
    WriterConflict,
}

/// What can go wrong in the pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Over the WAL or memory budget: retry later (429 / RESOURCE_EXHAUSTED).
    #[error("ingest is over its {what} budget; retry later")]
    Backpressure { what: String },
    /// One request decodes to more than the WAL takes in one record (413).
    #[error("request decodes to {bytes} bytes, over the WAL's {max}-byte record limit")]
    TooLarge { bytes: u64, max: u64 },
    /// The WAL failed or the pipeline is shutting down (503 / UNAVAILABLE).
    #[error("ingest unavailable: {0}")]
    Unavailable(String),
    /// A bug or an impossible state (500 / INTERNAL).
    #[error("internal error: {0}")]
    Internal(String),
    /// A WAL record that does not decode.
    #[error("invalid WAL record: {0}")]
    InvalidRecord(String),
    /// The lake refused or failed an operation on a table.
    #[error("table {table}: {operation}: {message}")]
    Lake {
        table: String,
        operation: &'static str,
        class: ErrorClass,
        message: String,
    },
    /// The WAL failed an operation.
    #[error(transparent)]
    Wal(#[from] icegate_wal::Error),
    /// Writing to the quarantine failed.
    #[error("quarantine {path}: {source}")]
    Quarantine {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration contradicts itself or cannot be read.
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// How a lane handles this error (errors outside the lake are retried).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Lake { class, .. } => *class,
            Error::InvalidRecord(_) => ErrorClass::Permanent,
            _ => ErrorClass::Retryable,
        }
    }

    /// A lake error on `table`, with its message taken from the whole `source` chain.
    pub fn lake(
        table: impl ToString,
        operation: &'static str,
        class: ErrorClass,
        source: &(dyn std::error::Error + 'static),
    ) -> Self {
        Error::Lake {
            table: table.to_string(),
            operation,
            class,
            message: error_chain(source),
        }
    }
}

/// `error: cause: cause`, one line (no backtraces).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
