//! The committer's one error type: every variant names the table or catalog it concerns.

/// What can go wrong between IceGate and the lake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog (or the storage behind it) failed an operation.
    #[error("catalog {catalog:?}: {operation} {target}: {source}")]
    Catalog {
        catalog: String,
        operation: &'static str,
        target: String,
        #[source]
        source: Box<iceberg::Error>,
    },
    /// Commits kept conflicting with other writers until the attempts ran out.
    #[error("table {table}: commit still conflicting after {attempts} attempts: {source}")]
    ConflictsExhausted {
        table: String,
        attempts: u32,
        #[source]
        source: Box<iceberg::Error>,
    },
    /// A table's schema or layout cannot be expressed in Iceberg.
    #[error("table {table}: {problem}")]
    Schema { table: String, problem: String },
    /// The configuration contradicts itself.
    #[error("invalid lake configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether trying again later may succeed without changes (network, storage or catalog
    /// outages, commit conflicts), as opposed to errors in data or configuration.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Catalog { source, .. } | Error::ConflictsExhausted { source, .. } => !matches!(
                source.kind(),
                iceberg::ErrorKind::DataInvalid | iceberg::ErrorKind::FeatureUnsupported
            ),
            Error::Schema { .. } | Error::Config(_) => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
