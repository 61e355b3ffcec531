//! Opening the configured catalog over the one storage stack.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iceberg::{Catalog, CatalogBuilder, NamespaceIdent};
use iceberg_catalog_rest::RestCatalogBuilder;
use iceberg_catalog_sql::{SQL_CATALOG_PROP_URI, SQL_CATALOG_PROP_WAREHOUSE, SqlCatalogBuilder};
use iceberg_storage_opendal::OpenDalResolvingStorageFactory;

use crate::config::{CatalogConfig, LakeConfig, StorageConfig};
use crate::error::{Error, Result};

/// An open catalog and the namespace IceGate writes to.
#[derive(Clone)]
pub struct Lake {
    pub(crate) catalog: Arc<dyn Catalog>,
    pub(crate) config: LakeConfig,
    pub(crate) namespace: NamespaceIdent,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("catalog", &self.config.catalog_name)
            .field("namespace", &self.config.namespace)
            .finish()
    }
}

impl Lake {
    /// The catalog, for readers and tools.
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    pub fn config(&self) -> &LakeConfig {
        &self.config
    }

    pub fn namespace(&self) -> &NamespaceIdent {
        &self.namespace
    }

    pub(crate) fn catalog_error(
        &self,
        operation: &'static str,
        target: impl Into<String>,
    ) -> impl FnOnce(iceberg::Error) -> Error {
        let catalog = self.config.catalog_name.clone();
        let target = target.into();
        move |source| Error::Catalog {
            catalog,
            operation,
            target,
            source: Box::new(source),
        }
    }
}

/// The warehouse location and the storage properties (`s3.*`) for `storage`; relative local
/// paths resolve against `data_dir`.
pub fn storage_location(
    storage: &StorageConfig,
    data_dir: &Path,
) -> Result<(String, HashMap<String, String>)> {
    match storage {
        StorageConfig::Local { path } => {
            let path = path.clone().unwrap_or_else(|| data_dir.join("warehouse"));
            std::fs::create_dir_all(&path).map_err(|err| {
                Error::Config(format!(
                    "cannot create warehouse directory {}: {err}",
                    path.display()
                ))
            })?;
            let path = absolute(&path)?;
            Ok((format!("file://{}", path.display()), HashMap::new()))
        }
        StorageConfig::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            path_style_access,
            access_key_id,
            secret_access_key,
        } => {
            let mut props = HashMap::from([
                ("s3.region".to_string(), region.clone()),
                (
                    "s3.path-style-access".to_string(),
                    path_style_access.to_string(),
                ),
            ]);
            if let Some(endpoint) = endpoint {
                props.insert("s3.endpoint".into(), endpoint.clone());
            }
            let key = access_key_id
                .clone()
                .or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok());
            let secret = secret_access_key
                .clone()
                .or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok());
            if let Some(key) = key {
                props.insert("s3.access-key-id".into(), key);
            }
            if let Some(secret) = secret {
                props.insert("s3.secret-access-key".into(), secret);
            }
            let prefix = prefix.trim_matches('/');
            let location = if prefix.is_empty() {
                format!("s3://{bucket}")
            } else {
                format!("s3://{bucket}/{prefix}")
            };
            Ok((location, props))
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|err| Error::Config(format!("cannot resolve {}: {err}", path.display())))
}

/// The database URL of an SQL catalog (SQLite or PostgreSQL), `None` for a REST catalog:
/// tools that commit to the catalog's own tables (the compactor's metadata swap) use the
/// same database as the catalog.
pub fn sql_catalog_uri(config: &LakeConfig, data_dir: &Path) -> Result<Option<String>> {
    Ok(match &config.catalog {
        CatalogConfig::Sqlite { path } => {
            let path = path.clone().unwrap_or_else(|| data_dir.join("catalog.db"));
            Some(format!("sqlite:{}?mode=rwc", absolute(&path)?.display()))
        }
        CatalogConfig::Postgres { url } => Some(url.clone()),
        CatalogConfig::Rest { .. } => None,
    })
}

/// Opens the catalog `config` names (creating the SQLite file and the namespace if needed).
/// `data_dir` anchors the embedded defaults. Must run inside a tokio runtime.
///
/// Opening is idempotent but not atomic: nodes starting together race on the SQL catalog's
/// `CREATE TABLE IF NOT EXISTS` (PostgreSQL reports the loser as a duplicate key), so a
/// failed open is retried a few times before it is reported.
pub async fn open_lake(config: &LakeConfig, data_dir: &Path) -> Result<Lake> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match open_lake_once(config, data_dir).await {
            Err(err) if attempt < 4 && err.is_retryable() => {
                tracing::warn!(error = %err, attempt, "opening the catalog failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            }
            outcome => return outcome,
        }
    }
}

async fn open_lake_once(config: &LakeConfig, data_dir: &Path) -> Result<Lake> {
    let (warehouse, mut props) = storage_location(&config.storage, data_dir)?;
    let factory = Arc::new(OpenDalResolvingStorageFactory::new());
    let name = config.catalog_name.clone();
    let open_error = |target: String| {
        let catalog = name.clone();
        move |source: iceberg::Error| Error::Catalog {
            catalog,
            operation: "open",
            target,
            source: Box::new(source),
        }
    };
    let catalog: Arc<dyn Catalog> = match &config.catalog {
        CatalogConfig::Sqlite { path } => {
            let path = path.clone().unwrap_or_else(|| data_dir.join("catalog.db"));
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|err| {
                    Error::Config(format!("cannot create {}: {err}", parent.display()))
                })?;
            }
            let uri = sql_catalog_uri(config, data_dir)?.expect("an SQL catalog");
            props.insert(SQL_CATALOG_PROP_URI.into(), uri);
            props.insert(SQL_CATALOG_PROP_WAREHOUSE.into(), warehouse);
            Arc::new(
                SqlCatalogBuilder::default()
                    .with_storage_factory(factory)
                    .load(&name, props)
                    .await
                    .map_err(open_error(absolute(&path)?.display().to_string()))?,
            )
        }
        CatalogConfig::Postgres { url } => {
            props.insert(SQL_CATALOG_PROP_URI.into(), url.clone());
            props.insert(SQL_CATALOG_PROP_WAREHOUSE.into(), warehouse);
            Arc::new(
                SqlCatalogBuilder::default()
                    .with_storage_factory(factory)
                    .load(&name, props)
                    .await
                    .map_err(open_error(redact_url(url)))?,
            )
        }
        CatalogConfig::Rest {
            uri,
            warehouse: rest_warehouse,
            credential,
        } => {
            props.insert("uri".into(), uri.clone());
            props.insert("warehouse".into(), rest_warehouse.clone());
            if let Some(credential) = credential {
                props.insert("credential".into(), credential.clone());
            }
            Arc::new(
                RestCatalogBuilder::default()
                    .with_storage_factory(factory)
                    .load(&name, props)
                    .await
                    .map_err(open_error(uri.clone()))?,
            )
        }
    };
    let namespace = NamespaceIdent::new(config.namespace.clone());
    let lake = Lake {
        catalog,
        config: config.clone(),
        namespace,
    };
    lake.ensure_namespace(&lake.namespace.clone()).await?;
    Ok(lake)
}

impl Lake {
    /// Creates `namespace` unless it exists (another writer creating it first is fine).
    pub async fn ensure_namespace(&self, namespace: &NamespaceIdent) -> Result<()> {
        let name = namespace.to_url_string();
        let exists = self
            .catalog
            .namespace_exists(namespace)
            .await
            .map_err(self.catalog_error("check namespace", name.clone()))?;
        if exists {
            return Ok(());
        }
        match self
            .catalog
            .create_namespace(namespace, HashMap::new())
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == iceberg::ErrorKind::NamespaceAlreadyExists => Ok(()),
            Err(err) => Err(self.catalog_error("create namespace", name)(err)),
        }
    }
}

/// A database URL without its password, for error messages and printed configuration.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact_url("postgres://ann:s3cret@db:5432/x"),
            "postgres://ann:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://ann@db/x"), "postgres://ann@db/x");
    }
}
