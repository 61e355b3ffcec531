//! The crate's one error type.

/// What can go wrong promoting a batch. Every variant is permanent: the same batch and the
/// same columns fail the same way again.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A source map column is missing or is not `map<string,string>`.
    #[error("table {table}: source column {column:?} is not a map<string,string>")]
    NotAStringMap { table: String, column: String },
    /// Arrow refused the rewritten batch.
    #[error("table {table}: assembling the promoted batch: {source}")]
    Arrow {
        table: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A promotion policy that cannot work.
    #[error("schema promotion for {table}: {problem}")]
    Config { table: String, problem: String },
}

impl Error {
    /// Always `false`: retrying the same input cannot succeed.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
