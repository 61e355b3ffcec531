//! Committing table updates iceberg-rust's transactions cannot express (a `replace` or a
//! `delete` snapshot, removing snapshots on our terms): each catalog's own protocol.
//!
//! - **SQL catalog** (SQLite, PostgreSQL; the JDBC-catalog protocol iceberg-catalog-sql
//!   implements): write the new metadata file, then swap `metadata_location` in
//!   `iceberg_tables` with a compare-and-swap on the location the updates were built on.
//!   Zero rows changed = another writer won. Unlike iceberg-catalog-sql 0.10 this checks
//!   the result of the transaction's COMMIT: an error there is an unknown outcome.
//! - **REST catalog**: POST the updates with their requirements to the table endpoint; 409
//!   is a lost race, 5xx and timeouts are an unknown outcome.
//!
//! An unknown outcome is resolved by the caller: reload the table and look for the change.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iceberg::table::Table;
use iceberg::{MetadataLocation, TableRequirement, TableUpdate};
use icegate_committer::{CatalogConfig, Lake, sql_catalog_uri};
use sqlx::AnyPool;
use tokio::sync::OnceCell;

use crate::error::{Error, Result};

/// How a swap ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The table now holds the updates.
    Committed,
    /// Another commit moved the table first; nothing changed.
    Conflict,
    /// The answer never came: the updates may or may not be in the table.
    Unknown(String),
}

/// The seam: apply `updates` to the table `base` was loaded as, if `requirements` still hold.
#[async_trait]
pub trait MetadataSwap: Send + Sync {
    async fn swap(
        &self,
        base: &Table,
        updates: Vec<TableUpdate>,
        requirements: Vec<TableRequirement>,
    ) -> Result<SwapOutcome>;
}

/// The swap for `lake`'s catalog.
pub fn swap_for(lake: &Lake, data_dir: &std::path::Path) -> Result<Arc<dyn MetadataSwap>> {
    let config = lake.config();
    Ok(match &config.catalog {
        CatalogConfig::Rest {
            uri,
            warehouse,
            credential,
        } => Arc::new(RestSwap {
            uri: uri.trim_end_matches('/').to_string(),
            warehouse: warehouse.clone(),
            credential: credential.clone(),
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|err| Error::Config(format!("REST client: {err}")))?,
            session: tokio::sync::Mutex::new(None),
        }),
        CatalogConfig::Sqlite { .. } | CatalogConfig::Postgres { .. } => Arc::new(SqlSwap {
            uri: sql_catalog_uri(config, data_dir)?.expect("an SQL catalog"),
            catalog_name: config.catalog_name.clone(),
            pool: OnceCell::new(),
        }),
    })
}

/// The new metadata `updates` make of `base`, and where it goes (the next version).
fn staged(
    base: &Table,
    updates: Vec<TableUpdate>,
) -> iceberg::Result<(iceberg::spec::TableMetadata, MetadataLocation)> {
    let current = base.metadata_location_result()?;
    let mut builder = base
        .metadata()
        .clone()
        .into_builder(Some(current.to_string()));
    for update in updates {
        builder = update.apply(builder)?;
    }
    let metadata = builder.build()?.metadata;
    let location = MetadataLocation::from_str(current)?
        .with_next_version()
        .with_new_metadata(&metadata);
    Ok((metadata, location))
}

struct SqlSwap {
    uri: String,
    catalog_name: String,
    pool: OnceCell<AnyPool>,
}

impl SqlSwap {
    async fn pool(&self) -> Result<&AnyPool> {
        self.pool
            .get_or_try_init(|| async {
                sqlx::any::install_default_drivers();
                sqlx::any::AnyPoolOptions::new()
                    .max_connections(2)
                    .idle_timeout(Duration::from_secs(30))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(&self.uri)
                    .await
            })
            .await
            .map_err(|err| Error::Commit {
                table: String::new(),
                message: format!("connecting to the catalog database: {err}"),
                retryable: true,
            })
    }
}

#[async_trait]
impl MetadataSwap for SqlSwap {
    async fn swap(
        &self,
        base: &Table,
        updates: Vec<TableUpdate>,
        requirements: Vec<TableRequirement>,
    ) -> Result<SwapOutcome> {
        let name = base.identifier().to_string();
        for requirement in &requirements {
            // `base` is what the updates were built on; a requirement failing here is a bug
            // in the caller, not a race (the race is the compare-and-swap below).
            requirement
                .check(Some(base.metadata()))
                .map_err(Error::iceberg(&name, "check commit requirements"))?;
        }
        let current = base
            .metadata_location_result()
            .map_err(Error::iceberg(&name, "read the metadata location"))?
            .to_string();
        let (staged, location) =
            staged(base, updates).map_err(Error::iceberg(&name, "apply updates"))?;
        staged
            .write_to(base.file_io(), &location)
            .await
            .map_err(Error::iceberg(&name, "write metadata"))?;
        let new_location = location.to_string();
        tracing::debug!(table = %name, location = %new_location, "metadata written; swapping");
        let pool = self.pool().await?;
        let sql_error = |stage: &str, err: sqlx::Error| format!("{stage}: {err}");
        let mut transaction = match pool.begin().await {
            Ok(transaction) => transaction,
            Err(err) => {
                let _ = base.file_io().delete(&new_location).await;
                return Err(Error::Commit {
                    table: name,
                    message: sql_error("begin", err),
                    retryable: true,
                });
            }
        };
        let ident = base.identifier();
        let updated = sqlx::query(
            "UPDATE iceberg_tables SET metadata_location = $1, previous_metadata_location = $2 \
             WHERE catalog_name = $3 AND table_namespace = $4 AND table_name = $5 \
             AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL) AND metadata_location = $6",
        )
        .bind(new_location.as_str())
        .bind(current.as_str())
        .bind(self.catalog_name.as_str())
        .bind(ident.namespace().join("."))
        .bind(ident.name())
        .bind(current.as_str())
        .execute(&mut *transaction)
        .await;
        let rows = match updated {
            Ok(result) => result.rows_affected(),
            Err(err) => {
                let _ = base.file_io().delete(&new_location).await;
                return Err(Error::Commit {
                    table: name,
                    message: sql_error("update", err),
                    retryable: true,
                });
            }
        };
        if rows == 0 {
            drop(transaction);
            let _ = base.file_io().delete(&new_location).await;
            return Ok(SwapOutcome::Conflict);
        }
        match transaction.commit().await {
            Ok(()) => Ok(SwapOutcome::Committed),
            // The metadata file stays: it is the table's if the COMMIT landed.
            Err(err) => Ok(SwapOutcome::Unknown(sql_error("commit", err))),
        }
    }
}

struct RestSwap {
    uri: String,
    warehouse: String,
    credential: Option<String>,
    client: reqwest::Client,
    /// Fetched on first use and again after the catalog refuses the token (401/419).
    session: tokio::sync::Mutex<Option<Arc<RestSession>>>,
}

/// What the catalog's `/v1/config` and token endpoint said once.
struct RestSession {
    prefix: Option<String>,
    token: Option<String>,
}

impl RestSwap {
    async fn session(&self) -> Result<Arc<RestSession>> {
        let mut session = self.session.lock().await;
        if let Some(session) = session.as_ref() {
            return Ok(session.clone());
        }
        let fresh = Arc::new(self.new_session().await?);
        *session = Some(fresh.clone());
        Ok(fresh)
    }

    async fn new_session(&self) -> Result<RestSession> {
        async {
            let token = match &self.credential {
                Some(credential) => Some(self.token(credential).await?),
                None => None,
            };
            let mut request = self
                .client
                .get(format!("{}/v1/config", self.uri))
                .query(&[("warehouse", self.warehouse.as_str())]);
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(rest_error("config"))?;
            let status = response.status();
            let body = response.bytes().await.map_err(rest_error("config"))?;
            if !status.is_success() {
                return Err(Error::Commit {
                    table: String::new(),
                    message: format!("REST config: HTTP {status}"),
                    retryable: status.is_server_error(),
                });
            }
            #[derive(serde::Deserialize)]
            struct Config {
                #[serde(default)]
                overrides: HashMap<String, String>,
                #[serde(default)]
                defaults: HashMap<String, String>,
            }
            let config: Config = serde_json::from_slice(&body).map_err(|err| Error::Commit {
                table: String::new(),
                message: format!("REST config: {err}"),
                retryable: false,
            })?;
            let prefix = config
                .overrides
                .get("prefix")
                .or_else(|| config.defaults.get("prefix"))
                .cloned();
            Ok(RestSession { prefix, token })
        }
        .await
    }

    /// OAuth2 client credentials (`id:secret`, or a secret alone), as iceberg-rust sends them.
    async fn token(&self, credential: &str) -> Result<String> {
        let (id, secret) = match credential.split_once(':') {
            Some((id, secret)) => (Some(id), secret),
            None => (None, credential),
        };
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_secret", secret),
            ("scope", "catalog"),
        ];
        if let Some(id) = id {
            form.push(("client_id", id));
        }
        let body = form
            .iter()
            .map(|(key, value)| format!("{key}={}", form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .client
            .post(format!("{}/v1/oauth/tokens", self.uri))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(rest_error("token"))?;
        let status = response.status();
        let body = response.bytes().await.map_err(rest_error("token"))?;
        #[derive(serde::Deserialize)]
        struct Token {
            access_token: String,
        }
        match serde_json::from_slice::<Token>(&body) {
            Ok(token) if status.is_success() => Ok(token.access_token),
            _ => Err(Error::Commit {
                table: String::new(),
                message: format!("REST token exchange: HTTP {status}"),
                retryable: status.is_server_error(),
            }),
        }
    }
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn rest_error(stage: &'static str) -> impl Fn(reqwest::Error) -> Error {
    move |err| Error::Commit {
        table: String::new(),
        message: format!("REST {stage}: {err}"),
        retryable: true,
    }
}

#[async_trait]
impl MetadataSwap for RestSwap {
    async fn swap(
        &self,
        base: &Table,
        updates: Vec<TableUpdate>,
        requirements: Vec<TableRequirement>,
    ) -> Result<SwapOutcome> {
        let ident = base.identifier();
        let body = serde_json::to_vec(&iceberg_catalog_rest_request(ident, requirements, updates))
            .map_err(|err| Error::Commit {
                table: ident.to_string(),
                message: format!("encode the commit: {err}"),
                retryable: false,
            })?;
        let mut refreshed = false;
        loop {
            let session = self.session().await?;
            let namespace = form_encode(&ident.namespace().join("\u{1f}"));
            let mut url = format!("{}/v1", self.uri);
            if let Some(prefix) = &session.prefix {
                url.push('/');
                url.push_str(prefix);
            }
            url.push_str(&format!(
                "/namespaces/{namespace}/tables/{}",
                form_encode(ident.name())
            ));
            let mut request = self
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(token) = &session.token {
                request = request.bearer_auth(token);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(err) if err.is_connect() => {
                    return Err(Error::Commit {
                        table: ident.to_string(),
                        message: format!("REST commit: {err}"),
                        retryable: true,
                    });
                }
                Err(err) => return Ok(SwapOutcome::Unknown(format!("REST commit: {err}"))),
            };
            let status = response.status();
            if status.is_success() {
                return Ok(SwapOutcome::Committed);
            }
            // An expired token: nothing was applied; fetch a new one once.
            if matches!(status.as_u16(), 401 | 419) && self.credential.is_some() && !refreshed {
                refreshed = true;
                *self.session.lock().await = None;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            return match status.as_u16() {
                409 => Ok(SwapOutcome::Conflict),
                500..=599 => Ok(SwapOutcome::Unknown(format!("REST commit: HTTP {status}"))),
                _ => Err(Error::Commit {
                    table: ident.to_string(),
                    message: format!("REST commit: HTTP {status}: {}", truncate(&text, 400)),
                    retryable: status.as_u16() == 429,
                }),
            };
        }
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The body the REST spec's `updateTable` takes (`CommitTableRequest`).
fn iceberg_catalog_rest_request(
    ident: &iceberg::TableIdent,
    requirements: Vec<TableRequirement>,
    updates: Vec<TableUpdate>,
) -> serde_json::Value {
    serde_json::json!({
        "identifier": ident,
        "requirements": requirements,
        "updates": updates,
    })
}
