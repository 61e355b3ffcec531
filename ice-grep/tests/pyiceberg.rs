//! `ice-grep` over tables an independent writer made: PyIceberg writes a logs table of 2000
//! small files (one per service partition) and an empty metrics table.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SERVICES: usize = 2000;

fn python() -> Option<PathBuf> {
    match std::env::var_os("ICEGATE_PYTHON") {
        Some(python) => Some(PathBuf::from(python)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set ICEGATE_PYTHON (ci/env.sh) to the venv with PyIceberg"
            );
            None
        }
    }
}

/// The data directory PyIceberg wrote, once for all tests (`None`: PyIceberg not available).
fn lake() -> Option<&'static Path> {
    static DIR: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    DIR.get_or_init(|| {
        let python = python()?;
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyiceberg_tables.py");
        let output = Command::new(python)
            .arg(script)
            .arg(dir.path())
            .arg(SERVICES.to_string())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "PyIceberg failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(dir)
    })
    .as_ref()
    .map(|dir| dir.path())
}

fn ice_grep(dir: &Path, args: &[&str]) -> (i32, Vec<String>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ice-grep"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("ICEGATE_CONFIG")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_pyiceberg_table_of_thousands_of_files_is_searched_and_pruned() {
    let Some(dir) = lake() else {
        eprintln!("skipping: no ICEGATE_PYTHON with PyIceberg");
        return;
    };
    let (code, lines, err) = ice_grep(dir, &["--severity", "error", "disk full"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        lines.len(),
        SERVICES,
        "one line per record, even multi-line ones"
    );
    assert_eq!(
        lines[0],
        "2025-11-26T10:00:01.000000Z svc-0000 ERROR job 0 failed: disk full\\n\tat worker.run(worker.py:42)"
    );

    let (code, lines, err) = ice_grep(dir, &["--explain", "--service", "svc-0042", "failed"]);
    assert_eq!(code, 0, "{err}");
    let text = lines.join("\n");
    assert!(
        text.contains(&format!(
            "files: {SERVICES} in table, 1 scanned, {} pruned",
            SERVICES - 1
        )),
        "{text}"
    );
    let (_, lines, _) = ice_grep(dir, &["--service", "svc-0042", "-a", "^42$"]);
    assert_eq!(lines.len(), 2, "attribute job=42 on both records");
    let (code, lines, err) = ice_grep(
        dir,
        &[
            "sql",
            "SELECT count(*) AS n, count(DISTINCT service_name) AS s FROM logs",
            "--format",
            "csv",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        lines,
        ["n,s".to_string(), format!("{},{SERVICES}", SERVICES * 2)]
    );
}

#[test]
fn an_empty_table_matches_nothing() {
    let Some(dir) = lake() else {
        eprintln!("skipping: no ICEGATE_PYTHON with PyIceberg");
        return;
    };
    let (code, lines, err) = ice_grep(dir, &["--table-name", "metrics", "anything"]);
    assert_eq!((code, lines.len()), (1, 0), "{err}");
    let (code, lines, err) = ice_grep(dir, &["--table-name", "metrics", "--explain", "x"]);
    assert_eq!(code, 0, "{err}");
    assert!(lines.join("\n").contains("files: 0 in table"), "{lines:?}");
    let (code, lines, _) = ice_grep(dir, &["snapshots", "--table-name", "metrics"]);
    assert_eq!((code, lines.len()), (1, 0));
}
