"""Reads an IceGate table back with Apache Spark 3.5 (an independent Iceberg reader).

Usage: spark_read.py CATALOG_DB WAREHOUSE TABLE COLUMNS
  CATALOG_DB  the SQLite file of IceGate's SQL catalog (DATA_DIR/catalog.db)
  WAREHOUSE   the local warehouse directory (DATA_DIR/warehouse)
  TABLE       e.g. default.logs
  COLUMNS     comma-separated, e.g. timestamp,service_name,body

Prints one JSON line: a list of rows, each a list of the column values in COLUMNS order.
Strings stay strings; timestamps are ISO-8601 in UTC with microseconds
("2026-01-01T12:00:00.123456+00:00"); binary is hex; maps are objects. Row order is Spark's.

Run it with $ICEGATE_CACHE/spark/venv/bin/python; ci/spark-setup.sh installs that and the
jars in $ICEGATE_CACHE/spark/jars (ICEGATE_CACHE defaults to ~/.cache/icegate). The Spark
catalog must have the name IceGate stored in the catalog's rows (lake catalog-name), else it
sees no tables: ICEGATE_CATALOG_NAME, default "icegate".
"""

import datetime
import decimal
import json
import os
import pathlib
import sys
import tempfile
import time


def fail(message):
    print(f"spark_read.py: {message}", file=sys.stderr)
    sys.exit(1)


def quote(name):
    return "`" + name.replace("`", "``") + "`"


def jsonable(value):
    if isinstance(value, datetime.datetime):  # naive, in the process's zone (UTC, below)
        value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "asDict"):  # a struct
        return jsonable(value.asDict())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def error_text(err):
    """The first line of what went wrong: a Py4JJavaError's Java exception text, else err's."""
    java = getattr(err, "java_exception", None)
    text = (str(java.toString()) if java is not None else str(err)).strip() or repr(err)
    return text.splitlines()[0]


def catalog_name():
    return os.environ.get("ICEGATE_CATALOG_NAME", "icegate")


def spark_session(catalog_db, warehouse, app, master="local[1]", memory="1g", extra=None):
    """A local Spark session with IceGate's SQL catalog as an Iceberg JDBC catalog named
    catalog_name(); returns (session, scratch directory to clean up after stopping it)."""
    extra = extra or {}
    catalog = catalog_name()
    cache = pathlib.Path(os.environ.get("ICEGATE_CACHE") or pathlib.Path.home() / ".cache/icegate")
    jars = sorted(str(j) for j in (cache / "spark/jars").glob("*.jar"))
    if not jars:
        fail(f"no jars in {cache / 'spark/jars'}: run ci/spark-setup.sh")

    # PySpark turns timestamps into naive datetimes in the process's local zone: make it UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # Spark binds and names itself on loopback only
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        fail(f"no pyspark in {sys.executable}: run ci/spark-setup.sh, then this script with "
             "$ICEGATE_CACHE/spark/venv/bin/python")

    scratch = tempfile.TemporaryDirectory(prefix="icegate-spark-")
    log_config = pathlib.Path(scratch.name, "log4j2.properties")
    log_config.write_text(  # errors only, to stderr: stdout carries just the JSON line
        "rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
        # (PySpark's gateway at the same level, or it announces a "default log level")
        "logger.py.name = org.apache.spark.api.python.PythonGatewayServer\nlogger.py.level = error\n"
        "appender.console.type = Console\nappender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\nappender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n"
    )
    prefix = f"spark.sql.catalog.{catalog}"
    builder = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.driver.memory", memory)
        # On the JVM's own class path: DriverManager must see the SQLite driver.
        .config("spark.driver.extraClassPath", ":".join(jars))
        .config("spark.driver.extraJavaOptions",
                f"-Dlog4j2.configurationFile={log_config} -Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.local.dir", scratch.name)
        .config("spark.sql.warehouse.dir", str(pathlib.Path(scratch.name, "spark-warehouse")))
        .config(prefix, "org.apache.iceberg.spark.SparkCatalog")
        .config(f"{prefix}.type", "jdbc")
        .config(f"{prefix}.uri", f"jdbc:sqlite:{catalog_db}")
        # The catalog file has the V1 layout (iceberg_type column) that iceberg-rust creates.
        .config(f"{prefix}.jdbc.schema-version", "V1")
        .config(f"{prefix}.warehouse", f"file://{warehouse}")
    )
    for key, value in extra.items():
        builder = builder.config(key, value)
    return builder.getOrCreate(), scratch


def main():
    if len(sys.argv) != 5:
        fail("usage: spark_read.py CATALOG_DB WAREHOUSE TABLE COLUMNS")
    catalog_db, warehouse = (pathlib.Path(p).absolute() for p in sys.argv[1:3])
    table, columns = sys.argv[3], [c.strip() for c in sys.argv[4].split(",") if c.strip()]
    if not catalog_db.is_file():
        fail(f"no catalog file at {catalog_db}")
    if not columns:
        fail("no columns given")
    catalog = catalog_name()
    spark, scratch = spark_session(catalog_db, warehouse, "icegate-spark-read")
    try:
        name = ".".join(quote(p) for p in [catalog, *table.split(".")])
        query = f"SELECT {', '.join(quote(c) for c in columns)} FROM {name}"
        rows = [[jsonable(v) for v in row] for row in spark.sql(query).collect()]
    except Exception as err:
        fail(f"reading {table} failed: {error_text(err)}")
    finally:
        spark.stop()
        scratch.cleanup()
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
