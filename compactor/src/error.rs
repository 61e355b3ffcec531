//! The compactor's one error type, classified so a round knows what to try again.

/// What can go wrong maintaining a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening the lake or reading its configuration.
    #[error("lake: {0}")]
    Lake(#[from] icegate_committer::Error),
    /// An Iceberg operation on a table (read metadata, read or write a file).
    #[error("table {table}: {operation}: {source}")]
    Iceberg {
        table: String,
        operation: &'static str,
        #[source]
        source: Box<iceberg::Error>,
    },
    /// Writing rewritten files.
    #[error("table {table}: {source}")]
    Write {
        table: String,
        #[source]
        source: Box<icegate_writer::Error>,
    },
    /// The catalog refused or failed the swap of the table's metadata.
    #[error("table {table}: commit: {message}")]
    Commit {
        table: String,
        message: String,
        retryable: bool,
    },
    /// Another commit replaced or removed an input file first: this job's work is obsolete.
    #[error("table {table}: input file {path} is no longer live; another job got there first")]
    InputGone { table: String, path: String },
    /// Commits kept losing the race until the attempts ran out.
    #[error("table {table}: still conflicting after {attempts} attempts")]
    ConflictsExhausted { table: String, attempts: u32 },
    /// Listing or deleting files in the object store.
    #[error("storage {location}: {operation}: {message}")]
    Storage {
        location: String,
        operation: &'static str,
        message: String,
    },
    /// The configuration contradicts itself.
    #[error("invalid compactor configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether the next round may succeed without a change (outages, lost races), as
    /// opposed to errors in the table or the configuration.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Lake(err) => err.is_retryable(),
            Error::Iceberg { source, .. } => !matches!(
                source.kind(),
                iceberg::ErrorKind::DataInvalid | iceberg::ErrorKind::FeatureUnsupported
            ),
            Error::Write { source, .. } => source.is_retryable(),
            Error::Commit { retryable, .. } => *retryable,
            Error::InputGone { .. } | Error::ConflictsExhausted { .. } => true,
            Error::Storage { .. } => true,
            Error::Config(_) => false,
        }
    }

    pub(crate) fn iceberg(
        table: impl ToString,
        operation: &'static str,
    ) -> impl FnOnce(iceberg::Error) -> Error {
        let table = table.to_string();
        move |source| Error::Iceberg {
            table,
            operation,
            source: Box::new(source),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
