"""The on-failure record of a stream mapping: what the on-failure destination is told about skipped records.

AWS's document, in its key order (docs/aws-behaviour.md §Kinesis event source mapping: On-failure
records): the request context (the last invocation's request id, the condition, the invoke count),
the response context unless the records expired before any invoke, and the batch info that names the
shard, the first and last sequence numbers and arrival times, the batch size and the stream. The
record format names the batch info (KinesisBatchInfo or DDBStreamBatchInfo) and renders its values.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import iso8601

if TYPE_CHECKING:
    from lambda_emu.emulator.services.kinesis.streams import StreamRecord
    from lambda_emu.event_sources.kinesis.lanes import Batch
    from lambda_emu.event_sources.kinesis.records import RecordFormat
    from lambda_emu.event_sources.kinesis.retry_policy import Condition


def failure_record(
    record_format: RecordFormat, batch: Batch, records: list[StreamRecord], condition: Condition, *,
    function_arn: str, shard_id: str, stream_arn: str, now: float,
) -> dict[str, Any]:
    """AWS's on-failure record for ``records`` of ``batch`` (``shard_id`` as the source shows it)."""
    document: dict[str, Any] = {
        "requestContext": {
            "requestId": batch.request_id or str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": max(1, batch.invocations),
        },
    }
    if condition != "RecordAgeExceeded":
        document["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": batch.function_error,
        }
    document["version"] = "1.0"
    document["timestamp"] = iso8601(now)
    document[record_format.batch_info_key] = {
        "shardId": shard_id,
        "startSequenceNumber": record_format.sequence_number(records[0]),
        "endSequenceNumber": record_format.sequence_number(records[-1]),
        "approximateArrivalOfFirstRecord": record_format.arrival(records[0].approximate_arrival),
        "approximateArrivalOfLastRecord": record_format.arrival(records[-1].approximate_arrival),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    return document
