#!/usr/bin/env bash
# Builds the release binaries and runs the end-to-end cases:
#   bench-harness/run.sh [case ...] [-- harness flags]
# Results go to results/<date>-rust-2c/e2e/ (see bench-harness --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh
bench-harness/setup.sh
cargo build --release --locked -p icegate-ingest -p icegate-loadgen -p icegate-bench-harness -p ice-grep \
    -p icegate-compactor
# `bench-harness/run.sh query` runs the ice-grep vs DuckDB benchmark instead of the cases.
if [ "${1:-}" = "query" ]; then
    shift
    exec "$CARGO_TARGET_DIR/release/bench-harness" query "$@"
fi
# `bench-harness/run.sh compaction` compacts a day of flushes with icegate-compactor and Spark.
if [ "${1:-}" = "compaction" ]; then
    shift
    ci/spark-setup.sh
    exec "$CARGO_TARGET_DIR/release/bench-harness" compaction "$@"
fi
exec "$CARGO_TARGET_DIR/release/bench-harness" run "$@"
