"""What PyIceberg sees of an IceGate table, for the compaction tests.

usage: table_report.py CATALOG_DB WAREHOUSE TABLE [SNAPSHOT_ID]
Prints one JSON object:
  rows, distinct_bodies        rows of the snapshot (current, or SNAPSHOT_ID) and distinct bodies
  files                        live data files: path, partition (text), records, sorted (by timestamp)
  snapshots, snapshot_id       how many snapshots the table keeps; the current one
  referenced, missing          files every kept snapshot references (data files and manifests),
                               and how many of them do not exist
  metadata_location, metadata_bytes, manifests
"""

import json
import os
import sys
from urllib.parse import urlparse

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog


def local(path):
    return urlparse(path).path if path.startswith("file:") else path


catalog_db, warehouse, name = sys.argv[1], sys.argv[2], sys.argv[3]
snapshot_id = int(sys.argv[4]) if len(sys.argv) > 4 else None
catalog = SqlCatalog("icegate", uri=f"sqlite:///{catalog_db}", warehouse=f"file://{warehouse}")
table = catalog.load_table(f"default.{name}")
scan = table.scan(snapshot_id=snapshot_id) if snapshot_id else table.scan()
data = scan.to_arrow()

files = []
for task in scan.plan_files():
    path = local(task.file.file_path)
    stamps = pq.read_table(path, columns=["timestamp"]).column("timestamp")
    ordered = len(stamps) < 2 or bool(
        pc.all(pc.greater_equal(stamps[1:], stamps[:-1])).as_py()
    )
    files.append(
        {
            "path": path,
            "partition": str(task.file.partition),
            "records": task.file.record_count,
            "sorted": ordered,
        }
    )

referenced = set()
for snapshot in table.metadata.snapshots:
    referenced.add(local(snapshot.manifest_list))
    for manifest in snapshot.manifests(table.io):
        referenced.add(local(manifest.manifest_path))
    for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
        referenced.add(local(task.file.file_path))

current = table.current_snapshot()
print(
    json.dumps(
        {
            "rows": data.num_rows,
            "distinct_bodies": len(set(data.column("body").to_pylist())),
            "files": files,
            "snapshots": len(table.metadata.snapshots),
            "snapshot_id": current.snapshot_id if current else None,
            "referenced": len(referenced),
            "missing": sum(1 for path in referenced if not os.path.exists(path)),
            "metadata_location": table.metadata_location,
            "metadata_bytes": os.path.getsize(local(table.metadata_location)),
            "manifests": len(current.manifests(table.io)) if current else 0,
        }
    )
)
