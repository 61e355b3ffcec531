"""Reads an Iceberg table with DuckDB 1.5.5 (its iceberg extension) and prints the rows.

usage: duckdb_read.py METADATA_JSON SQL   (SQL reads the table as `t`)
Prints one JSON line: a list of rows, each a list of column values.
"""

import json
import os
import sys

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg


def extension(module, name):
    base = os.path.dirname(module.__file__)
    for root, _, files in os.walk(base):
        if f"{name}.duckdb_extension" in files:
            return os.path.join(root, f"{name}.duckdb_extension")
    raise SystemExit(f"no {name} extension under {base}")


metadata, sql = sys.argv[1], sys.argv[2]
if metadata.startswith("file://"):
    metadata = metadata[len("file://"):]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
con.execute(f"LOAD '{extension(duckdb_extension_avro, 'avro')}'")
con.execute(f"LOAD '{extension(duckdb_extension_iceberg, 'iceberg')}'")
con.execute(f"CREATE VIEW t AS SELECT * FROM iceberg_scan('{metadata}')")
print(json.dumps([list(row) for row in con.execute(sql).fetchall()], default=str))
