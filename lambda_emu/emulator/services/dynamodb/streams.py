"""DynamoDB Streams as state: a table's stream (ARN = table ARN + ``/stream/`` + label), its records
in write order on the platform clock, 24 h retention.

A stream's records live in a one-shard log of the same kind as a Kinesis stream's
(:class:`lambda_emu.emulator.services.kinesis.streams.Stream`), so the stream event source mapping
reads both through one driver. A record's ``data`` is the JSON of the record as Lambda delivers it,
less what depends on its position (``SequenceNumber``, ``eventID``), which :func:`stream_record`
fills in from the record's counter; its ``partition_key`` is the item's key.

Sequence numbers on the DynamoDB side are the record's counter in decimal (31 digits; AWS's are 21
to 40 digits, opaque and increasing), the shard ID has AWS's shape
(``shardId-<20 digits>-<8 hex>``).

--state-dir: a stream (``ddb-stream``, by ARN) and each of its records (``ddb-stream-record``, by ARN and
counter, owned by the ARN) are written through as they change. Everything a stream is — ARN, shard ID,
the log's sequence-number base, the counters — follows from its creation time and its records, so a
restored stream hands out the same sequence numbers and a mapping's checkpoint on it still holds. A
disabled stream stays readable for 24 hours after it was disabled (AWS: "the data in the stream will
continue to be readable for 24 hours"), then it is gone, also from the state directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.services.kinesis.streams import DEFAULT_RETENTION_HOURS, Stream, StreamRecord

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
#: Who deletes an item whose TTL passed (AWS's userIdentity on those REMOVE records).
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
#: How long a disabled stream (turned off, or its table deleted) stays readable.
DISABLED_STREAM_SECONDS = 24 * 3600
#: --state-dir's kinds of record: a stream, and one of its records.
STREAM_KIND = "ddb-stream"
RECORD_KIND = "ddb-stream-record"


def stream_label(epoch: float) -> str:
    """AWS's stream label: the stream's creation time, ISO 8601 to the millisecond, no zone."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class TableStream:
    """One stream of one table (a table whose stream is turned off and on again gets a new one)."""

    def __init__(self, clock: Clock, *, table_name: str, table_arn: str, view_type: str, region: str,
                 key_schema: list[dict[str, str]], state: StateStore | None = None,
                 created_at: float | None = None) -> None:
        self.clock = clock
        self.key_schema = key_schema
        self.table_name = table_name
        self.table_arn = table_arn
        self.view_type = view_type
        self.region = region
        self.created_at = clock.now_ms() / 1000 if created_at is None else created_at
        self.label = stream_label(self.created_at)
        self.arn = f"{table_arn}/stream/{self.label}"
        self.enabled = True
        #: When the stream was disabled (platform clock); it is readable for 24 hours from then.
        self.disabled_at: float | None = None
        digest = hashlib.md5(self.arn.encode()).hexdigest()[:8]
        self.shard_id = f"shardId-{round(self.created_at * 1000):020d}-{digest}"
        self.log = Stream(clock, name=self.arn, arn=self.arn, key=int(digest[:6], 16), shard_count=1,
                          mode="PROVISIONED", max_record_size_kib=1024, tags={})
        # The log's shard starts at the stream's creation time, not at the log's own (a later clock
        # reading): so a restored stream, built from that time alone, starts at the same counter.
        self.log.restore({"created_at": self.created_at, "status": "ACTIVE",
                          "retention_hours": DEFAULT_RETENTION_HOURS, "shard_count": 1})
        self.inner_shard_id = self.log.shards[0].shard_id
        #: --state-dir: the stream and its records are written through to it; None without it.
        self.state = state
        self.saved()

    @property
    def status(self) -> str:
        return "ENABLED" if self.enabled else "DISABLED"

    def append(self, keys: dict[str, Any], old: dict[str, Any] | None, new: dict[str, Any] | None,
               *, ttl: bool = False) -> None:
        """A write that changed an item (the caller skips one that changed nothing)."""
        event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
        dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": int(self.clock.now()), "Keys": keys}
        size = item_size(keys)
        if new is not None and self.view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            dynamodb["NewImage"] = new
            size += item_size(new)
        if old is not None and self.view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            dynamodb["OldImage"] = old
            size += item_size(old)
        dynamodb["SizeBytes"] = size
        dynamodb["StreamViewType"] = self.view_type
        document: dict[str, Any] = {"eventName": event_name, "dynamodb": dynamodb}
        if ttl:
            document["userIdentity"] = TTL_IDENTITY
        key_text = json.dumps(keys, sort_keys=True, separators=(",", ":"))
        shard = self.log.shards[0]
        text = json.dumps(document, separators=(",", ":"))
        record = self.log.append(shard, key_text, text.encode())
        if self.state is not None:
            at = record.approximate_arrival
            self.state.put(RECORD_KIND, f"{self.arn}/{record.counter:040d}",
                           lambda: {"pk": key_text, "data": text, "at": at}, owner=self.arn)
        self.log.notify([shard.shard_id])

    def disable(self) -> None:
        """Turned off (UpdateTable) or its table deleted: no new records; readable for 24 hours."""
        if self.enabled:
            self.enabled = False
            self.disabled_at = self.clock.now()
            self.saved()

    def expired(self) -> bool:
        return self.disabled_at is not None and self.clock.now() - self.disabled_at >= DISABLED_STREAM_SECONDS

    # ---- the state directory (--state-dir) ------------------------------------------------------

    def saved(self) -> None:
        if self.state is not None:
            self.state.put(STREAM_KIND, self.arn, self.record)

    def record(self) -> dict[str, Any]:
        return {"table_name": self.table_name, "table_arn": self.table_arn, "view_type": self.view_type,
                "key_schema": self.key_schema, "created_at": self.created_at, "enabled": self.enabled,
                "disabled_at": self.disabled_at}

    @classmethod
    def restored(cls, clock: Clock, record: dict[str, Any], *, region: str, state: StateStore) -> TableStream:
        """A stream of the state directory with the same ARN, shard ID and sequence numbers (its records
        come back through :meth:`restore_record`)."""
        stream = cls(clock, table_name=record["table_name"], table_arn=record["table_arn"],
                     view_type=record["view_type"], region=region, key_schema=record["key_schema"],
                     created_at=record["created_at"])
        stream.enabled = record["enabled"]
        stream.disabled_at = record["disabled_at"]
        stream.state = state
        return stream

    def restore_record(self, counter: int, saved: dict[str, Any]) -> None:
        """One record of the state directory, back in its place (records come back in counter order)."""
        self.log.shards[0].restore_record(saved["pk"], saved["data"].encode(), saved["at"], counter)

    # ---- sequence numbers ---------------------------------------------------------------------

    @staticmethod
    def sequence_number(record: StreamRecord) -> str:
        return str(record.counter)

    def inner_sequence_number(self, sequence_number: str) -> str | None:
        """Our DynamoDB sequence number as the log's, or None if it is not one of this stream's."""
        if not sequence_number.isdigit():
            return None
        return self.log.shards[0].sequence_number(int(sequence_number))


def stream_record(stream_arn: str, region: str, record: StreamRecord) -> dict[str, Any]:
    """The record as Lambda delivers it (and GetRecords returns it, less ``eventSourceARN``), in AWS's key
    order: eventID, eventName, eventVersion, eventSource, awsRegion, dynamodb, userIdentity, eventSourceARN."""
    document = json.loads(record.data)
    dynamodb = document["dynamodb"]
    ordered: dict[str, Any] = {}
    for key in ("ApproximateCreationDateTime", "Keys", "NewImage", "OldImage"):
        if key in dynamodb:
            ordered[key] = dynamodb[key]
    ordered["SequenceNumber"] = str(record.counter)
    ordered["SizeBytes"] = dynamodb["SizeBytes"]
    ordered["StreamViewType"] = dynamodb["StreamViewType"]
    out: dict[str, Any] = {
        "eventID": hashlib.md5(f"{stream_arn}/{record.counter}".encode()).hexdigest(),
        "eventName": document["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": ordered,
    }
    if "userIdentity" in document:
        out["userIdentity"] = document["userIdentity"]
    return out


# ---- item size (DynamoDB's rules, which SizeBytes follows) -------------------------------------


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: dict[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "B":
        return _binary_len(inner)
    if kind == "N":
        return _number_size(str(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "BS":
        return sum(_binary_len(b) for b in inner)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    return 0


def _binary_len(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    text = str(value)
    return len(text) * 3 // 4 - text.count("=", len(text) - 2)


def _number_size(text: str) -> int:
    digits = Decimal(text).as_tuple().digits
    significant = len(digits) - next((i for i, d in enumerate(digits) if d), len(digits))
    return max(1, (significant + 1) // 2 + 1)


class StreamRegistry:
    """Every stream of the run by ARN (a disabled one stays readable for 24 hours after it was disabled)."""

    def __init__(self) -> None:
        self._streams: dict[str, TableStream] = {}

    def add(self, stream: TableStream) -> None:
        self._streams[stream.arn] = stream

    def get(self, arn: str) -> TableStream | None:
        stream = self._streams.get(arn)
        if stream is not None and stream.expired():
            self._drop(stream)
            return None
        return stream

    def __iter__(self) -> Iterator[TableStream]:
        for stream in list(self._streams.values()):
            if stream.expired():
                self._drop(stream)
        return iter(list(self._streams.values()))

    def find_stream_by_arn(self, arn: str) -> Stream | None:
        """For the stream event source mapping: the log behind a stream ARN."""
        stream = self.get(arn)
        return stream.log if stream is not None else None

    def _drop(self, stream: TableStream) -> None:
        """A disabled stream past its 24 hours: gone, with its records (readers are woken to notice)."""
        del self._streams[stream.arn]
        if stream.state is not None:
            stream.state.delete(STREAM_KIND, stream.arn)
            stream.state.delete_owned(RECORD_KIND, stream.arn)
        stream.log.deleted = True
        stream.log.notify([stream.inner_shard_id])

    def clear(self) -> None:
        for stream in self._streams.values():
            stream.log.deleted = True
            stream.log.notify([stream.inner_shard_id])
        self._streams.clear()
