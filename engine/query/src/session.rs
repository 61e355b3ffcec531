//! A DataFusion session over the lake: each existing table of the configured namespace is
//! registered by its name through iceberg-datafusion's static table provider, pinned to the
//! current snapshot or, for time travel, to the snapshot `--as-of` resolved to.

use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use iceberg::table::Table;
use iceberg_datafusion::IcebergStaticTableProvider;
use icegate_committer::Lake;

use crate::error::{QueryError, Result};
use crate::snapshots;

/// The lake, opened for queries.
pub struct LakeSession {
    lake: Lake,
}

impl LakeSession {
    pub fn new(lake: Lake) -> Self {
        Self { lake }
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Table `name` of the lake's namespace, or a clear error if it does not exist.
    pub async fn table(&self, name: &str) -> Result<Table> {
        let ident = self.lake.table_ident(name);
        let exists = self
            .lake
            .catalog()
            .table_exists(&ident)
            .await
            .map_err(QueryError::iceberg(format!("looking up table {ident}")))?;
        if !exists {
            return Err(QueryError::MissingTable {
                namespace: self.lake.config().namespace.clone(),
                table: name.to_string(),
            });
        }
        self.lake
            .catalog()
            .load_table(&ident)
            .await
            .map_err(QueryError::iceberg(format!("loading table {ident}")))
    }

    /// A session with every existing table among `names` registered under its name, at
    /// `as_of` (a snapshot id or a time; see [`snapshots::resolve`]) if given.
    pub async fn context(&self, names: &[&str], as_of: Option<&str>) -> Result<SessionContext> {
        let context = new_context();
        for name in names {
            let table = match self.table(name).await {
                Ok(table) => table,
                Err(QueryError::MissingTable { .. }) => continue,
                Err(err) => return Err(err),
            };
            let snapshot = as_of
                .map(|text| snapshots::resolve(&table, text))
                .transpose()?;
            register(&context, name, table, snapshot).await?;
        }
        Ok(context)
    }

    /// A session with one already loaded table registered as `name`, at `snapshot` if given.
    pub async fn context_for(
        &self,
        name: &str,
        table: Table,
        snapshot: Option<i64>,
    ) -> Result<SessionContext> {
        let context = new_context();
        register(&context, name, table, snapshot).await?;
        Ok(context)
    }
}

fn new_context() -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .set_bool("datafusion.sql_parser.enable_ident_normalization", true);
    SessionContext::new_with_config(config)
}

async fn register(
    context: &SessionContext,
    name: &str,
    table: Table,
    snapshot: Option<i64>,
) -> Result<()> {
    let provider = match snapshot {
        Some(snapshot) => {
            IcebergStaticTableProvider::try_new_from_table_snapshot(table, snapshot).await
        }
        None => IcebergStaticTableProvider::try_new_from_table(table).await,
    }
    .map_err(QueryError::iceberg(format!("opening {name}")))?;
    context.register_table(name, Arc::new(provider))?;
    Ok(())
}
