# Shared environment for the CI scripts: sourced, not run.
# The cargo target directory lives outside the clone so a fresh clone reuses the build
# (a cold build of the dependency set takes minutes on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/icegate/target}"
export ICEGATE_CACHE="${ICEGATE_CACHE:-$HOME/.cache/icegate}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
# The Python the end-to-end tests run readers with (installed by ci/setup.sh).
export ICEGATE_PYTHON="${ICEGATE_PYTHON:-$ICEGATE_CACHE/venv/bin/python}"
# Apache Spark with Iceberg for read-back tests (installed by ci/spark-setup.sh).
export ICEGATE_SPARK_PYTHON="${ICEGATE_SPARK_PYTHON:-$ICEGATE_CACHE/spark/venv/bin/python}"
