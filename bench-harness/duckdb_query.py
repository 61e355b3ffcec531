"""Runs one SQL query in DuckDB 1.5.5 over an Iceberg table and prints its count and timing.

usage: duckdb_query.py METADATA_JSON SQL   (SQL reads the table as `logs`)
Prints {"count": N, "wall_ms": ..., "cpu_ms": ...} — CPU is the process's, all threads.
"""

import json
import os
import sys
import time

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg

metadata, sql = sys.argv[1], sys.argv[2]


def extension(module, name):
    base = os.path.dirname(module.__file__)
    for root, _, files in os.walk(base):
        if f"{name}.duckdb_extension" in files:
            return os.path.join(root, f"{name}.duckdb_extension")
    raise SystemExit(f"no {name} extension under {base}")


con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
con.execute(f"LOAD '{extension(duckdb_extension_avro, 'avro')}'")
con.execute(f"LOAD '{extension(duckdb_extension_iceberg, 'iceberg')}'")
con.execute(f"CREATE VIEW logs AS SELECT * FROM iceberg_scan('{metadata}')")
wall, cpu = time.perf_counter(), time.process_time()
count = con.execute(sql).fetchone()[0]
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"count": count, "wall_ms": wall * 1000, "cpu_ms": cpu * 1000}))
