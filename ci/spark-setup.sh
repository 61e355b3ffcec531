#!/usr/bin/env bash
# Installs Apache Spark 3.5 with Iceberg into $ICEGATE_CACHE/spark, for the tests that read
# IceGate's tables back with Spark (ingest/tests/support/spark_read.py), from package
# registries only (PyPI, Debian apt). Idempotent: a stamp keyed by this file's hash makes a
# re-run a no-op; changing a pinned version below re-installs.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh

# Debian packages: jarjar relocates Jackson (below); the SQLite JDBC driver and its native
# library let Iceberg's JDBC catalog read IceGate's SQL catalog file. Checked on every run:
# the native library is loaded from the system, not from the cache.
apt_packages=(libjarjar-java libxerial-sqlite-jdbc-java)
if ! dpkg -s "${apt_packages[@]}" >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

spark="$ICEGATE_CACHE/spark"
stamp="$spark/.stamp-$(sha256sum ci/spark-setup.sh | cut -c1-16)"
[ -f "$stamp" ] && exit 0
rm -rf "$spark"
mkdir -p "$spark/jars"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pip_flags=(--quiet --disable-pip-version-check --no-cache-dir)

# Spark itself: the pyspark sdist carries Spark's jars (Java 17 is on the machine).
python3 -m venv "$spark/venv"
"$spark/venv/bin/pip" install "${pip_flags[@]}" pyspark==3.5.9 py4j==0.10.9.7

# Iceberg 1.10.2's Spark runtime is on PyPI only inside Snowflake's jar bundles, and that
# copy lacks the Jackson it was compiled against (org.apache.iceberg.shaded.com.fasterxml
# .jackson). Only the wheels are downloaded: just three of their jars are needed.
"$spark/venv/bin/pip" download "${pip_flags[@]}" --no-deps --dest "$tmp" \
    snowpark-connect-deps-iceberg==1.0.3 snowpark-connect-deps-2==3.56.7
# Take the runtime jar out as is, and the Jackson 2.18.8 jars without their multi-release
# classes and module-info.class (jarjar 1.4 fails on them with "Duplicate jar entries") and
# without their service files (which would name classes that no longer exist).
python3 - "$tmp" "$spark/jars" <<'EOF'
import io, pathlib, sys, zipfile
tmp, jars = map(pathlib.Path, sys.argv[1:])
wheel = lambda name: zipfile.ZipFile(next(tmp.glob(f"{name}-*.whl")))
runtime = "iceberg-spark-runtime-3.5_2.12-1.10.2.jar"
(jars / runtime).write_bytes(wheel("snowpark_connect_deps_iceberg").read(
    f"snowpark_connect_deps_iceberg/jars/{runtime}"))
deps = wheel("snowpark_connect_deps_2")
for part in ("annotations", "core", "databind"):
    src = zipfile.ZipFile(io.BytesIO(deps.read(f"snowpark_connect_deps_2/jars/jackson-{part}-2.18.8.jar")))
    with zipfile.ZipFile(tmp / f"jackson-{part}.jar", "w", zipfile.ZIP_DEFLATED) as out:
        for entry in src.infolist():
            name = entry.filename
            if not (name.startswith(("META-INF/versions/", "META-INF/services/"))
                    or name.endswith("module-info.class")):
                out.writestr(entry, src.read(entry))
EOF
# Relocate Jackson to the package the Iceberg runtime expects.
echo 'rule com.fasterxml.jackson.** org.apache.iceberg.shaded.com.fasterxml.jackson.@1' >"$tmp/rules"
for part in annotations core databind; do
    java -jar /usr/share/java/jarjar.jar process "$tmp/rules" "$tmp/jackson-$part.jar" \
        "$spark/jars/iceberg-shaded-jackson-$part-2.18.8.jar"
done
# The JDBC driver beside them, so spark_read.py needs only this directory.
cp /usr/share/java/xerial-sqlite-jdbc.jar "$spark/jars/"

touch "$stamp"
