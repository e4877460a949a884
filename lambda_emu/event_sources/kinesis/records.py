"""Kinesis event records as Lambda writes them: each record's JSON in AWS's key order, the batch
envelope and its 6 MB limit, and the tumbling-window fields."""

from __future__ import annotations

from binascii import b2a_base64
from collections import deque
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii

from lambda_emu.emulator.services.kinesis.streams import StreamRecord

#: Lambda's synchronous invocation payload limit, which caps a batch (docs/aws-behaviour.md §Kinesis event source
#: mapping: Batching and ordering).
MAX_BATCH_BYTES = 6 * 1024 * 1024


ENVELOPE_BYTES = len('{"Records":[]}')


def event_record(record: StreamRecord, shard_id: str, suffix: str) -> str:
    """One Kinesis event record, compact JSON in AWS's key order (docs/aws-behaviour.md §Kinesis event source
    mapping: Event record)."""
    data = b2a_base64(record.data, newline=False).decode("ascii")
    sequence = record.sequence_number
    return (
        f'{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":{encode_basestring_ascii(record.partition_key)},'
        f'"sequenceNumber":"{sequence}","data":"{data}","approximateArrivalTimestamp":{record.approximate_arrival!r}}},'
        f'"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"{shard_id}:{sequence}",'
        f'"eventName":"aws:kinesis:record",{suffix}}}'
    )


def fills_payload(buffer: deque[StreamRecord], count: int) -> bool:
    """Would ``count`` buffered records (base64 data plus ~400 bytes of fields each) reach 6 MB?"""
    total = 0
    for index, record in enumerate(buffer):
        if index >= count:
            break
        total += len(record.data) * 4 // 3 + 400
    return total >= MAX_BATCH_BYTES


def window_time(epoch: float) -> str:
    # AWS writes window bounds to the second: "2020-12-09T07:04:00Z".
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_bool(value: bool) -> str:
    return "true" if value else "false"
