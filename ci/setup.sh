#!/usr/bin/env bash
# Installs what the tests need, idempotently: fast when everything is already present.
# A fresh machine has Rust, Python 3.11 + pip, Node and apt; everything else comes from here.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh

# Rust components and the test runner.
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

# Python readers (PyIceberg) in a venv keyed by the requirements file's hash.
venv="$ICEGATE_CACHE/venv"
stamp="$venv/.requirements-$(sha256sum ci/requirements-test.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r ci/requirements-test.txt
    touch "$stamp"
fi

# Apache Spark 3.5 + Iceberg (Java) for read-back tests.
ci/spark-setup.sh

# Real sample logs (Debian's fail2ban test files) for the datasets crate and benchmarks.
datasets/fetch-fail2ban.sh

# Benchmark peers (rotel, the Go collector), valgrind and gungraun-runner for the gate.
bench-harness/setup.sh
