//! Conformance on S3 (SeaweedFS) with each catalog: SQLite, PostgreSQL, and SeaweedFS's own
//! Iceberg REST catalog. Needs `eval "$(ci/services.sh start)"`.

mod common;

use common::{Services, services, unique};
use icegate_committer::{CatalogConfig, LakeConfig, StorageConfig};

fn s3_storage(services: &Services, prefix: &str) -> StorageConfig {
    StorageConfig::S3 {
        bucket: services.bucket.clone(),
        prefix: prefix.into(),
        endpoint: Some(services.s3_endpoint.clone()),
        region: "us-east-1".into(),
        path_style_access: true,
        access_key_id: Some(services.access_key.clone()),
        secret_access_key: Some(services.secret_key.clone()),
    }
}

fn pyiceberg_s3_props(services: &Services) -> String {
    format!(
        "**{{'s3.endpoint': '{}', 's3.access-key-id': '{}', 's3.secret-access-key': '{}', 's3.region': 'us-east-1', 's3.path-style-access': 'true'}}",
        services.s3_endpoint, services.access_key, services.secret_key
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_and_sqlite_conform() {
    let Some(services) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("sqlite");
    let config = LakeConfig {
        storage: s3_storage(&services, &prefix),
        ..LakeConfig::default()
    };
    let catalog = format!(
        "__import__('pyiceberg.catalog.sql', fromlist=['SqlCatalog']).SqlCatalog('icegate', uri='sqlite:///{}', warehouse='s3://{}/{prefix}', {})",
        dir.path().join("catalog.db").display(),
        services.bucket,
        pyiceberg_s3_props(&services)
    );
    common::conformance(config, dir.path(), &catalog, true).await;
}

fn postgres_config(services: &Services, namespace: &str) -> LakeConfig {
    LakeConfig {
        namespace: namespace.into(),
        storage: s3_storage(services, namespace),
        catalog: CatalogConfig::Postgres {
            url: services.postgres_url.clone(),
        },
        ..LakeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_and_postgres_conform() {
    let Some(services) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    let namespace = unique("pg");
    let catalog = format!(
        "__import__('pyiceberg.catalog.sql', fromlist=['SqlCatalog']).SqlCatalog('icegate', uri='{}', warehouse='s3://{}/{namespace}', {})",
        services
            .postgres_url
            .replace("postgres://", "postgresql+psycopg2://"),
        services.bucket,
        pyiceberg_s3_props(&services)
    );
    common::conformance(
        postgres_config(&services, &namespace),
        dir.path(),
        &catalog,
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_committers_on_postgres_lose_nothing() {
    let Some(services) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    common::concurrent_committers(postgres_config(&services, &unique("pgc")), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_and_seaweedfs_rest_catalog_conform() {
    let Some(services) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    let namespace = unique("rest");
    let config = LakeConfig {
        namespace: namespace.clone(),
        storage: s3_storage(&services, ""),
        catalog: CatalogConfig::Rest {
            uri: services.rest_uri.clone(),
            warehouse: "s3://warehouse".into(),
            credential: Some(format!("{}:{}", services.access_key, services.secret_key)),
        },
        ..LakeConfig::default()
    };
    let catalog = format!(
        "__import__('pyiceberg.catalog', fromlist=['load_catalog']).load_catalog('icegate', type='rest', uri='{}', warehouse='s3://warehouse', credential='{}:{}', {})",
        services.rest_uri,
        services.access_key,
        services.secret_key,
        pyiceberg_s3_props(&services)
    );
    common::conformance(config, dir.path(), &catalog, false).await;
}
