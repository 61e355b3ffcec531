"""What PyIceberg sees of a table with promoted columns, for the schema tests.

usage: promoted_report.py CATALOG_EXPRESSION TABLE [KEY ...]
  CATALOG_EXPRESSION  Python that evaluates to a PyIceberg catalog
Prints one JSON object:
  columns     the schema's top-level fields: [name, type, doc]
  rows, distinct_bodies
  values      per body: {key: text} for each KEY, wherever the row holds it — its promoted
              column (whatever the column is named: the field doc says the key), the
              `attributes` map, or `_rescued` — as the text the map would hold
  rescued     rows with a non-null _rescued
  placed      per KEY: [rows holding it in its column, in the map, in _rescued]
"""

import json
import sys

catalog = eval(sys.argv[1])  # noqa: S307 - the test's own expression
table = catalog.load_table(sys.argv[2])
keys = sys.argv[3:]

schema = table.schema()
columns = [[f.name, str(f.field_type), f.doc] for f in schema.fields]
promoted = {}  # key -> column name
for f in schema.fields:
    try:
        doc = json.loads(f.doc) if f.doc else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("icegate-promoted") == 1 and doc["source"] == "attributes":
        promoted[doc["key"]] = f.name

data = table.scan().to_arrow().to_pylist()


def text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


values = {}
placed = {key: [0, 0, 0] for key in keys}
rescued_rows = 0
for row in data:
    attributes = dict(row.get("attributes") or [])
    rescued = json.loads(row["_rescued"]) if row.get("_rescued") else {}
    rescued_rows += bool(rescued)
    found = {}
    for key in keys:
        column = promoted.get(key)
        if column is not None and row.get(column) is not None:
            found[key] = text(row[column])
            placed[key][0] += 1
        elif column is not None and column in rescued:
            found[key] = rescued[column]
            placed[key][2] += 1
        elif key in attributes:
            found[key] = attributes[key]
            placed[key][1] += 1
    values[row["body"]] = found

print(json.dumps({
    "columns": columns,
    "rows": len(data),
    "distinct_bodies": len(values),
    "values": values,
    "rescued": rescued_rows,
    "placed": placed,
}))
