//! The batcher's one error type.

/// What can go wrong while batching, sorting or (de)coding mini-batches.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Arrow refused to concatenate, sort or (de)serialise a batch.
    #[error("{context}: {source}")]
    Arrow {
        context: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A WAL record that is not a mini-batch this version understands.
    #[error("invalid mini-batch record: {0}")]
    InvalidRecord(String),
    /// A sort key names a column the batch does not have.
    #[error("sort column {column:?} is not in the {table} table")]
    UnknownSortColumn { table: String, column: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn arrow(context: impl Into<String>) -> impl FnOnce(arrow::error::ArrowError) -> Error {
    let context = context.into();
    move |source| Error::Arrow { context, source }
}
