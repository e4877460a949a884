"""DynamoDB stream records as Lambda delivers them, for the stream driver of
:mod:`lambda_emu.event_sources.kinesis.poller` (one driver for both stream sources: per-shard order,
retries, bisection, partial batch responses, on-failure records).

The event record is the stream record (docs/aws-behaviour.md §DynamoDB Streams) plus ``eventSourceARN``;
FilterCriteria match its top-level fields as metadata and ``dynamodb`` as the data; the on-failure
record carries ``DDBStreamBatchInfo`` with arrivals to the second, as AWS writes them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lambda_emu.emulator.services.dynamodb.streams import StreamRegistry, stream_record
from lambda_emu.emulator.services.kinesis.streams import StreamRecord
from lambda_emu.event_sources.kinesis.records import RecordFormat

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lambda_emu.emulator.platform.journal import Source


class DynamoDBRecordFormat(RecordFormat):
    source: Source = "dynamodb"
    batch_info_key = "DDBStreamBatchInfo"

    def __init__(self, streams: StreamRegistry, stream_arn: str, region: str) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.region = region

    def _document(self, record: StreamRecord) -> dict[str, object]:
        document: dict[str, object] = stream_record(self.stream_arn, self.region, record)
        dynamodb = document["dynamodb"]
        if isinstance(dynamodb, dict) and "ApproximateCreationDateTime" in dynamodb:
            # Lambda's event writes it as a JSON float (1796188953.0): LocalStack's AWS-validated
            # test_dynamodb_event_filter asserts a float after json.loads.
            dynamodb["ApproximateCreationDateTime"] = float(dynamodb["ApproximateCreationDateTime"])
        document["eventSourceARN"] = self.stream_arn
        return document

    def event_record(self, record: StreamRecord, shard_id: str, suffix: str) -> str:
        return json.dumps(self._document(record), separators=(",", ":"))

    def filter_datas(self, records: list[StreamRecord]) -> list[bytes] | list[dict[str, object]]:
        # ``dynamodb`` goes to the matcher parsed (it is JSON's own output), not dumped for it to parse again.
        datas: list[dict[str, object]] = []
        for record in records:
            dynamodb = self._document(record)["dynamodb"]
            assert isinstance(dynamodb, dict)
            datas.append(dynamodb)
        return datas

    def filter_input(self, record: StreamRecord, region: str, source_arn: str,
                     ) -> tuple[Mapping[str, object], bytes | dict[str, object]]:
        document = self._document(record)
        dynamodb = document.pop("dynamodb")
        assert isinstance(dynamodb, dict)
        return document, dynamodb

    def sequence_number(self, record: StreamRecord) -> str:
        return str(record.counter)

    def shard_id(self, shard_id: str) -> str:
        stream = self.streams.get(self.stream_arn)
        return stream.shard_id if stream is not None else shard_id

    def arrival(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
