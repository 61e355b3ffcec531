//! The WAL's one error type.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the WAL, with the file and offset where it applies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process (or another `Wal` in this one) has the directory open.
    #[error("WAL directory {path} is locked by another writer")]
    Locked { path: PathBuf },

    /// A file system call failed.
    #[error("WAL I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Damaged data that is not a torn tail: never skipped silently.
    #[error("WAL corrupt: {path} at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    /// The disk budget is used up until truncation frees space. Retryable: the server turns
    /// this into backpressure (429 / RESOURCE_EXHAUSTED).
    #[error("WAL full: {used} of {budget} bytes in use, the record needs {needed} more")]
    Full { used: u64, budget: u64, needed: u64 },

    /// A record larger than `max-record-size`.
    #[error("WAL record of {len} bytes exceeds max-record-size of {max} bytes")]
    RecordTooLarge { len: u64, max: u64 },

    /// A read asked for records that `truncate_before` already deleted.
    #[error("WAL sequence {requested} was truncated; the oldest record kept is {first_available}")]
    Truncated {
        requested: u64,
        first_available: u64,
    },

    /// A write or fsync failed earlier; the log accepts nothing until it is reopened.
    #[error("WAL stopped after an I/O failure and must be reopened: {reason}")]
    Failed { reason: Arc<str> },

    /// The log was closed.
    #[error("WAL is closed")]
    Closed,

    /// The configuration contradicts itself.
    #[error("invalid WAL configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether the same call may succeed later without anyone intervening.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Full { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
