//! What can go wrong answering a query; each names what it was about.

/// A query failure.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The table is not in the catalog (nothing was ever written to it).
    #[error("no table {table} in namespace {namespace} (has icegate received any {table} yet?)")]
    MissingTable { namespace: String, table: String },
    /// The pattern is not a valid regex.
    #[error("invalid regex {pattern:?}: {reason}")]
    BadRegex { pattern: String, reason: String },
    /// A `--since` / `--until` / `--as-of` expression that is not a time.
    #[error(
        "invalid time {text:?}: use a duration before now (90s, 15m, 1h, 2d, 1w), an RFC 3339 time (2025-11-26T10:00:00Z) or a date (2025-11-26)"
    )]
    BadTime { text: String },
    /// `--as-of` names no snapshot.
    #[error("no snapshot of {table} {what}")]
    NoSnapshot { table: String, what: String },
    /// A flag that does not apply to the chosen table.
    #[error("{0}")]
    Usage(String),
    /// The catalog or storage failed.
    #[error("{context}: {source}")]
    Iceberg {
        context: String,
        #[source]
        source: Box<iceberg::Error>,
    },
    /// Planning or running the query failed (a bad `--where` lands here).
    #[error("query failed: {0}")]
    DataFusion(Box<datafusion::error::DataFusionError>),
    /// Opening the lake failed.
    #[error(transparent)]
    Lake(Box<icegate_committer::Error>),
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;

impl QueryError {
    pub(crate) fn iceberg(context: impl Into<String>) -> impl FnOnce(iceberg::Error) -> Self {
        let context = context.into();
        move |source| QueryError::Iceberg {
            context,
            source: Box::new(source),
        }
    }
}

impl From<datafusion::error::DataFusionError> for QueryError {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        QueryError::DataFusion(Box::new(err))
    }
}

impl From<icegate_committer::Error> for QueryError {
    fn from(err: icegate_committer::Error) -> Self {
        QueryError::Lake(Box::new(err))
    }
}
