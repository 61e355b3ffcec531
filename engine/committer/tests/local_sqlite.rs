//! Conformance on the embedded default: local file system + SQLite catalog.

mod common;

use icegate_committer::LakeConfig;

fn pyiceberg_catalog(dir: &std::path::Path) -> String {
    format!(
        "__import__('pyiceberg.catalog.sql', fromlist=['SqlCatalog']).SqlCatalog('icegate', uri='sqlite:///{}', warehouse='file://{}')",
        dir.join("catalog.db").display(),
        dir.join("warehouse").display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_fs_and_sqlite_conform() {
    let dir = tempfile::tempdir().unwrap();
    common::conformance(
        LakeConfig::default(),
        dir.path(),
        &pyiceberg_catalog(dir.path()),
        true,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_committers_on_sqlite_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    common::concurrent_committers(LakeConfig::default(), dir.path()).await;
}
