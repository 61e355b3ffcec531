"""Writes Iceberg tables with PyIceberg, an independent writer, for ice-grep's tests.

usage: pyiceberg_tables.py DATA_DIR SERVICES

Creates, in the SQL catalog `icegate` at DATA_DIR/catalog.db (warehouse DATA_DIR/warehouse):
- default.logs: partitioned like IceGate's (day(timestamp), identity(service_name)), one
  append of SERVICES services x 2 records, so one small data file per service;
- default.metrics: created and never written (an empty table).
"""

import sys
from datetime import datetime, timedelta, timezone

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import (
    IntegerType,
    MapType,
    NestedField,
    StringType,
    TimestamptzType,
)

data_dir, services = sys.argv[1], int(sys.argv[2])
catalog = SqlCatalog(
    "icegate",
    uri=f"sqlite:///{data_dir}/catalog.db",
    warehouse=f"file://{data_dir}/warehouse",
)
catalog.create_namespace_if_not_exists("default")

schema = Schema(
    NestedField(1, "timestamp", TimestamptzType(), required=True),
    NestedField(2, "service_name", StringType(), required=True),
    NestedField(3, "severity_number", IntegerType(), required=False),
    NestedField(4, "severity_text", StringType(), required=False),
    NestedField(5, "body", StringType(), required=False),
    NestedField(6, "trace_id", StringType(), required=False),
    NestedField(
        7,
        "attributes",
        MapType(8, StringType(), 9, StringType(), value_required=False),
        required=False,
    ),
)
spec = PartitionSpec(
    PartitionField(1, 1000, DayTransform(), "timestamp_day"),
    PartitionField(2, 1001, IdentityTransform(), "service_name"),
)
logs = catalog.create_table("default.logs", schema=schema, partition_spec=spec)

start = datetime(2025, 11, 26, 10, 0, tzinfo=timezone.utc)
rows = {name: [] for name in ["timestamp", "service_name", "severity_number", "severity_text", "body", "trace_id", "attributes"]}
for index in range(services):
    service = f"svc-{index:04d}"
    for second, (number, text, body) in enumerate(
        [(9, "INFO", f"job {index} started"), (17, "ERROR", f"job {index} failed: disk full\n\tat worker.run(worker.py:42)")]
    ):
        rows["timestamp"].append(start + timedelta(seconds=index * 2 + second))
        rows["service_name"].append(service)
        rows["severity_number"].append(number)
        rows["severity_text"].append(text)
        rows["body"].append(body)
        rows["trace_id"].append(None)
        rows["attributes"].append([("job", str(index))])

arrow_schema = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("service_name", pa.string(), nullable=False),
        pa.field("severity_number", pa.int32()),
        pa.field("severity_text", pa.string()),
        pa.field("body", pa.string()),
        pa.field("trace_id", pa.string()),
        pa.field("attributes", pa.map_(pa.string(), pa.string())),
    ]
)
logs.append(pa.Table.from_pydict(rows, schema=arrow_schema))

catalog.create_table(
    "default.metrics",
    schema=Schema(
        NestedField(1, "timestamp", TimestamptzType(), required=True),
        NestedField(2, "service_name", StringType(), required=True),
        NestedField(3, "metric_type", StringType(), required=False),
        NestedField(4, "metric_name", StringType(), required=False),
    ),
)
print(f"wrote {services * 2} rows in {len(logs.inspect.files())} files")
