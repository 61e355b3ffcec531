"""Sends OTel Python SDK log records whose attributes change by phase, for the schema tests.

usage: otel_attributes_send.py grpc|http ENDPOINT FROM TO PHASE
  ENDPOINT  host:port for gRPC, the /v1/logs URL for HTTP (protobuf)
Record i (body "otlp line i") carries, through the standard logging handler:
  status   int 200..204 (phase 1: the text "s<i>", which a long column must rescue)
  user     text "u<i % 50>"
  latency  float i + 0.5 (not in phase 1)
  ok       bool
  region   text "eu" (from phase 1 on)
  req_<i>  1 (a new key every record: never promoted)
The resource carries deployment.environment = "prod".
Prints one JSON object: acknowledged (records in exports the server accepted) and expected
(per acknowledged body: {key: the text the attribute map holds}).
"""

import json
import logging
import sys

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.resources import Resource

transport, endpoint, start, end, phase = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])

if transport == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(endpoint=endpoint)

acknowledged = []


class Counting(LogRecordExporter):
    """Counts the records of every export the server acknowledged."""

    def export(self, batch):
        result = exporter.export(batch)
        if result == LogRecordExportResult.SUCCESS:
            acknowledged.extend(str(data.log_record.body) for data in batch)
        return result

    def shutdown(self):
        exporter.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


provider = LoggerProvider(
    resource=Resource.create({"service.name": "schema-otlp", "deployment.environment": "prod"})
)
provider.add_log_record_processor(
    # A queue for every record: the default (2,048) drops records when the export thread
    # falls behind the loop, and a dropped record was never sent.
    BatchLogRecordProcessor(
        Counting(),
        schedule_delay_millis=100,
        max_export_batch_size=200,
        max_queue_size=end - start + 1,
    )
)
logger = logging.getLogger("schema")
logger.propagate = False
logger.addHandler(LoggingHandler(logger_provider=provider))
logger.setLevel(logging.INFO)

sent = {}
for i in range(start, end):
    attributes = {
        "status": f"s{i}" if phase == 1 else 200 + i % 5,
        "user": f"u{i % 50}",
        "ok": i % 2 == 0,
        f"req_{i}": 1,
    }
    if phase != 1:
        attributes["latency"] = i + 0.5
    if phase >= 1:
        attributes["region"] = "eu"
    body = f"otlp line {i}"
    logger.info(body, extra=attributes)
    sent[body] = {k: text(v) for k, v in attributes.items() if not k.startswith("req_")}

provider.shutdown()
print(json.dumps({
    "acknowledged": len(acknowledged),
    "expected": {body: sent[body] for body in acknowledged},
}))
