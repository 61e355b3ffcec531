#!/usr/bin/env bash
# Runs every fuzz target for a while (default 60 s each): `ci/fuzz.sh [seconds]`.
# Not part of ci/test.sh (it needs an extra toolchain build); run it before releases and
# after touching a decoder. cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP enables them
# on the stable toolchain this machine has.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$ICEGATE_CACHE/fuzz-target"
for target in $(cargo fuzz list); do
    echo "==> fuzzing $target for ${seconds}s"
    cargo fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096
done
