"""Kinesis event records as Lambda writes them: each record's JSON in AWS's key order, the batch
envelope and its 6 MB limit, and the tumbling-window fields."""

from __future__ import annotations

from binascii import b2a_base64
from collections import deque
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Protocol

from lambda_emu.emulator.services.kinesis.streams import StreamRecord

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lambda_emu.emulator.platform.journal import Source
    from lambda_emu.emulator.services.kinesis.streams import Stream

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


class StreamSource(Protocol):
    """Where a stream mapping finds its stream's records: the Kinesis store, or DynamoDB's streams."""

    def find_stream_by_arn(self, arn: str) -> Stream | None: ...


class RecordFormat:
    """What differs between the streams this driver reads: Kinesis (this class) and DynamoDB Streams
    (:class:`lambda_emu.event_sources.dynamodb.records.DynamoDBRecordFormat`): the source's name in the
    journal and the terminal, a record's event JSON and filter fields, the IDs Lambda shows, and the
    on-failure record's batch info."""

    #: The journal's and the narration's source name.
    source: Source = "kinesis"
    #: The on-failure record's batch info member.
    batch_info_key = "KinesisBatchInfo"

    def event_record(self, record: StreamRecord, shard_id: str, suffix: str) -> str:
        return event_record(record, shard_id, suffix)

    def filter_datas(self, records: list[StreamRecord]) -> list[bytes] | list[dict[str, object]]:
        """The data a pattern's data key matches, of each record of a read (when no pattern names
        another field)."""
        return [record.data for record in records]

    def filter_input(self, record: StreamRecord, region: str, source_arn: str,
                     ) -> tuple[Mapping[str, object], bytes | dict[str, object]]:
        """(the record's metadata as Lambda's event shows it, the data a pattern's data key matches)."""
        fields: dict[str, object] = {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "approximateArrivalTimestamp": record.approximate_arrival,
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{record.shard_id}:{record.sequence_number}",
            "eventName": "aws:kinesis:record",
            "awsRegion": region,
            "eventSourceARN": source_arn,
        }
        return fields, record.data

    def sequence_number(self, record: StreamRecord) -> str:
        """The record's sequence number as the function sees it (ReportBatchItemFailures' itemIdentifier)."""
        return record.sequence_number

    def shard_id(self, shard_id: str) -> str:
        """The shard's ID as Lambda shows it."""
        return shard_id

    def arrival(self, epoch: float) -> str:
        """An on-failure record's approximateArrival* (Kinesis: milliseconds)."""
        from lambda_emu.emulator.platform.clock import iso8601

        return iso8601(epoch)


KINESIS = RecordFormat()
