#!/usr/bin/env bash
# Fuzzes the decoders and the WAL.
#   ci/fuzz.sh [seconds]        every target for `seconds` each (default 60), the WAL record
#                               codec's included (it builds the pipeline): before releases and
#                               after touching a decoder or a format.
#   ci/fuzz.sh --ci [seconds]   what ci/test.sh runs: `cargo check` of every target, then the
#                               decoders and WAL recovery for `seconds` each (default 15).
# Every run is under an RSS limit (-rss_limit_mb) well above the 64 MiB decode budget the
# targets decode within: an input that amplifies past its budget fails the run.
# cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP enables them on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh
mode=all
if [ "${1:-}" = "--ci" ]; then
    mode=ci
    shift
fi
seconds="${1:-$([ "$mode" = ci ] && echo 15 || echo 60)}"
cargo fuzz --version 2>/dev/null | grep -q " 0.13.2" \
    || cargo install cargo-fuzz --version 0.13.2 --locked --quiet
export RUSTC_BOOTSTRAP=1

features=()
if [ "$mode" = ci ]; then
    # Type-checks every target (the pipeline's included) against the main build's artifacts.
    cargo check --manifest-path fuzz/Cargo.toml --locked --features pipeline --bins --quiet
else
    features=(--features pipeline)
fi

# The sanitizer build has its own target directory (other flags, other artifacts).
export CARGO_TARGET_DIR="$ICEGATE_CACHE/fuzz-target"
for target in $(cargo fuzz list); do
    if [ "$mode" = ci ] && [ "$target" = wal_minibatch_record ]; then
        continue
    fi
    echo "==> fuzzing $target for ${seconds}s"
    cargo fuzz run "${features[@]}" "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024
done
