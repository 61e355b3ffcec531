//! Lake configuration: catalog, storage, names, commit retries.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where the tables live and how to commit to them. In TOML (defaults shown):
///
/// ```toml
/// catalog-name = "icegate"
/// namespace = "default"
/// [tables]
/// logs = "logs"
/// traces = "traces"
/// metrics = "metrics"
/// [catalog]
/// type = "sqlite"            # sqlite | postgres | rest
/// # path = "DATA_DIR/catalog.db"   (sqlite)
/// # url = "postgres://user@host:5432/db"  (postgres)
/// # uri = "http://host:8181", warehouse = "s3://warehouse", credential = "id:secret" (rest)
/// [storage]
/// type = "local"             # local | s3
/// # path = "DATA_DIR/warehouse"    (local)
/// # bucket, prefix, endpoint, region, path-style-access, access-key-id, secret-access-key (s3)
/// [commit]
/// max-attempts = 10
/// initial-backoff-ms = 50
/// max-backoff-ms = 5000
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LakeConfig {
    /// Catalog name; readers of an SQL catalog must use the same one. Default: `icegate`.
    pub catalog_name: String,
    /// Namespace of the tables (the tenant). Default: `default`.
    pub namespace: String,
    /// Table names. Default: `logs`, `traces`, `metrics`.
    pub tables: TableNames,
    /// The catalog. Default: SQLite at `DATA_DIR/catalog.db`.
    pub catalog: CatalogConfig,
    /// Where data and metadata files go. Default: `DATA_DIR/warehouse`.
    pub storage: StorageConfig,
    /// Commit retries.
    pub commit: CommitConfig,
}

impl LakeConfig {
    /// This configuration with every secret (S3 secret key, database password, REST
    /// credential) replaced by `***`: what may be printed or logged.
    pub fn without_secrets(&self) -> Self {
        let hidden = || Some("***".to_string());
        let mut config = self.clone();
        match &mut config.catalog {
            CatalogConfig::Postgres { url } => *url = crate::catalog::redact_url(url),
            CatalogConfig::Rest { credential, .. } if credential.is_some() => {
                *credential = hidden()
            }
            _ => {}
        }
        if let StorageConfig::S3 {
            secret_access_key, ..
        } = &mut config.storage
            && secret_access_key.is_some()
        {
            *secret_access_key = hidden();
        }
        config
    }
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self {
            catalog_name: "icegate".into(),
            namespace: "default".into(),
            tables: TableNames::default(),
            catalog: CatalogConfig::Sqlite { path: None },
            storage: StorageConfig::Local { path: None },
            commit: CommitConfig::default(),
        }
    }
}

/// Names of the three tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TableNames {
    pub logs: String,
    pub traces: String,
    pub metrics: String,
}

impl Default for TableNames {
    fn default() -> Self {
        Self {
            logs: "logs".into(),
            traces: "traces".into(),
            metrics: "metrics".into(),
        }
    }
}

/// The Iceberg catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CatalogConfig {
    /// SQL catalog in a SQLite file. `path` defaults to `DATA_DIR/catalog.db`.
    Sqlite { path: Option<PathBuf> },
    /// SQL catalog in PostgreSQL, e.g. `postgres://icegate@127.0.0.1:5432/icegate`.
    Postgres { url: String },
    /// An Iceberg REST catalog.
    Rest {
        uri: String,
        /// Warehouse name or location the catalog knows.
        warehouse: String,
        /// OAuth2 client credentials `client-id:client-secret`, if the catalog wants them.
        #[serde(default)]
        credential: Option<String>,
    },
}

/// The storage behind data and metadata files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StorageConfig {
    /// A local directory; `path` defaults to `DATA_DIR/warehouse`.
    Local { path: Option<PathBuf> },
    /// Any S3-compatible object store.
    #[serde(rename_all = "kebab-case")]
    S3 {
        bucket: String,
        /// Key prefix inside the bucket. Default: none.
        #[serde(default)]
        prefix: String,
        /// Endpoint URL for non-AWS servers, e.g. `http://127.0.0.1:8333`.
        #[serde(default)]
        endpoint: Option<String>,
        /// Default: `us-east-1`.
        #[serde(default = "default_region")]
        region: String,
        /// Path-style URLs (`endpoint/bucket/key`), needed by most non-AWS servers.
        /// Default: false.
        #[serde(default)]
        path_style_access: bool,
        /// Default: the `AWS_ACCESS_KEY_ID` environment variable.
        #[serde(default)]
        access_key_id: Option<String>,
        /// Default: the `AWS_SECRET_ACCESS_KEY` environment variable.
        #[serde(default)]
        secret_access_key: Option<String>,
    },
}

fn default_region() -> String {
    "us-east-1".into()
}

/// How conflicting commits are retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CommitConfig {
    /// Attempts per commit before giving up (the batch stays in the WAL). Default: 10.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, with jitter. Default: 50 ms.
    pub initial_backoff_ms: u64,
    /// Longest backoff. Default: 5000 ms.
    pub max_backoff_ms: u64,
}

impl Default for CommitConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff_ms: 50,
            max_backoff_ms: 5000,
        }
    }
}
