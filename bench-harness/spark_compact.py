"""Compacts an IceGate table with Spark 3.5 + Iceberg 1.10's rewrite_data_files, for
`bench-harness compaction`'s side-by-side.

Usage: spark_compact.py CATALOG_DB WAREHOUSE TABLE TARGET_FILE_BYTES ZSTD_LEVEL

Give it a copy of the catalog file: the rewrite commits there, so IceGate's own catalog still
points at the uncompacted table (the files are shared; Spark deletes none). The table's zstd
level is set first (a properties commit), then the rewrite runs with the sort strategy (the
table's sort order) on both cores. Prints one JSON line: the call's wall seconds, the JVM's CPU
seconds during the call (from /proc), and Spark's counts of files and bytes rewritten.

Run it with $ICEGATE_CACHE/spark/venv/bin/python (ci/spark-setup.sh).
"""

import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "ingest/tests/support"))
from spark_read import catalog_name, error_text, fail, quote, spark_session  # noqa: E402


def cpu_secs(pid):
    """utime + stime of `pid`, seconds."""
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    if len(sys.argv) != 6:
        fail("usage: spark_compact.py CATALOG_DB WAREHOUSE TABLE TARGET_FILE_BYTES ZSTD_LEVEL")
    catalog_db, warehouse = (pathlib.Path(p).absolute() for p in sys.argv[1:3])
    table, target, level = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    if not catalog_db.is_file():
        fail(f"no catalog file at {catalog_db}")
    spark, scratch = spark_session(
        catalog_db, warehouse, "icegate-spark-compact", master="local[2]", memory="4g",
        extra={"spark.sql.extensions":
               "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"})
    try:
        catalog = catalog_name()
        name = ".".join(quote(p) for p in [catalog, *table.split(".")])
        spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ("
                  f"'write.parquet.compression-codec' = 'zstd', "
                  f"'write.parquet.compression-level' = '{level}')")
        jvm = spark._jvm.java.lang.ProcessHandle.current().pid()
        cpu, wall = cpu_secs(jvm), time.monotonic()
        row = spark.sql(
            f"CALL {quote(catalog)}.system.rewrite_data_files(table => '{table}', "
            f"strategy => 'sort', options => map('target-file-size-bytes', '{target}', "
            f"'min-input-files', '2'))").collect()[0]
        wall, cpu = time.monotonic() - wall, cpu_secs(jvm) - cpu
        result = {
            "wall_secs": wall,
            "cpu_secs": cpu,
            "rewritten_files": row["rewritten_data_files_count"],
            "added_files": row["added_data_files_count"],
            "rewritten_bytes": row["rewritten_bytes_count"],
            "failed_files": row["failed_data_files_count"],
        }
    except Exception as err:
        fail(f"compacting {table} failed: {error_text(err)}")
    finally:
        spark.stop()
        scratch.cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
