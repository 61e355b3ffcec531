#!/usr/bin/env bash
# The project's test command (README: "run all tests"): installs what the tests need, then
# format check, clippy, the test suite (nextest), doc tests, a warning-free docs build and the
# instruction-count regression gate on the hot paths (Callgrind; bench-harness/instructions.json)
# and short fuzz runs of the decoders and the WAL under an RSS limit.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "setup"
ci/setup.sh

step "start test services (SeaweedFS S3 + Iceberg REST, PostgreSQL)"
eval "$(ci/services.sh start)"
trap 'ci/services.sh stop' EXIT

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo nextest run"
cargo nextest run --workspace --locked --no-fail-fast

step "doc tests"
cargo test --workspace --doc --locked

step "docs build"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "instruction-count gate (hot paths under Callgrind, 2 % tolerance)"
cargo build --workspace --locked --bins --quiet
"$CARGO_TARGET_DIR/debug/bench-harness" gate

step "fuzz: cargo check of every target, 15 s of each decoder and WAL recovery"
ci/fuzz.sh --ci 15

step "all checks passed"
