"""Reading a shard: GetShardIterator's iterators and GetRecords' pages (and where SubscribeToShard starts).

An iterator is a signed token (``tokens.py``) that carries the stream, the shard, the position to read
after and when it was handed out; it expires 5 minutes after that on the platform clock. A closed
shard read to its end answers without a next iterator and names its child shards.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.streams import (
    GET_RECORDS_MAX_BYTES,
    GET_RECORDS_MAX_LIMIT,
    Shard,
    Stream,
    StreamRecord,
    invalid_argument,
    parse_sequence_number,
)

if TYPE_CHECKING:
    from lambda_emu.emulator.services.kinesis.store import KinesisStore
    from lambda_emu.emulator.services.kinesis.tokens import TokenSeal

ITERATOR_TTL_S = 300.0  # "A shard iterator expires 5 minutes after it is returned to the requester."

IteratorType = Literal["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]


def java_date(epoch: float) -> str:
    """``Sun Oct 10 05:17:11 UTC 2021``: how AWS's (Java) messages print a time."""
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[dt.weekday()]} {months[dt.month - 1]} {dt.day:02d} {dt:%H:%M:%S} UTC {dt.year}"


@dataclass(frozen=True, slots=True)
class RecordsPage:
    """One GetRecords answer."""

    records: list[StreamRecord]
    #: None once a closed shard is read to its end; then ``child_shards`` name where to go on.
    next_shard_iterator: str | None
    millis_behind_latest: int
    child_shards: list[Shard] | None = None


@dataclass(frozen=True, slots=True)
class _Iterator:
    created_ms: int
    stream_key: int
    shard_index: int
    counter: int  # read records strictly after this counter
    stream_name: str


class ShardIterators:
    """The shard iterators of one Kinesis store."""

    _ITERATOR_HEAD = struct.Struct(">BQQI")

    def __init__(self, store: KinesisStore, seal: TokenSeal) -> None:
        self.store = store
        self.clock = store.clock
        self.account_id = store.account_id
        self._tokens = seal

    def shard_for_iterator(self, stream: Stream | None, shard_id: str, stream_name: str) -> Shard:
        """GetShardIterator's lookup: an unknown stream reads as an unknown shard there; a CREATING stream
        has no shards yet."""
        shard = None if stream is None or stream.status == "CREATING" else stream.shard(shard_id)
        if shard is None:
            raise AwsError("ResourceNotFoundException",
                           f"Shard {shard_id} in stream {stream_name} under account {self.account_id} does not exist")
        return shard


    def shard_iterator(
        self,
        stream: Stream,
        shard: Shard | str,
        iterator_type: IteratorType,
        starting_sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        if isinstance(shard, str):
            shard = stream._shard_or_raise(shard)
        stream.trim()
        self._check_iterator_arguments(iterator_type, starting_sequence_number, timestamp)
        if iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            assert starting_sequence_number is not None
            counter = self._sequence_counter(stream, shard, starting_sequence_number)
            position = counter - 1 if iterator_type == "AT_SEQUENCE_NUMBER" else counter
        elif iterator_type == "TRIM_HORIZON":
            position = shard.start_counter
        elif iterator_type == "LATEST":
            position = shard.last_counter
        else:
            assert timestamp is not None
            now_ms = self.clock.now_ms()
            if int(timestamp * 1000) > now_ms:
                raise invalid_argument(
                    "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                    f"timestampInMillis: {int(timestamp * 1000)}, currentTimestampInMillis: {now_ms}"
                )
            record = shard.first_arrived_at_or_after(timestamp)
            position = record.counter - 1 if record else shard.last_counter
        return self._encode_iterator(stream, shard, position)

    @staticmethod
    def _check_iterator_arguments(
        iterator_type: str, starting_sequence_number: str | None, timestamp: float | None
    ) -> None:
        by_sequence = iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
        if by_sequence and starting_sequence_number is None:
            raise invalid_argument(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                f"Request specified {iterator_type} and no StartingSequenceNumber."
            )
        if not by_sequence and starting_sequence_number is not None:
            raise invalid_argument(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                f"Request specified {iterator_type} and also a StartingSequenceNumber."
            )
        if iterator_type == "AT_TIMESTAMP" and timestamp is None:
            raise invalid_argument(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                "Current request has no timestamp parameter."
            )
        if iterator_type != "AT_TIMESTAMP" and timestamp is not None:
            raise invalid_argument(
                f"Must specify timestampInMillis parameter only for iterator of type AT_TIMESTAMP. "
                f"Current request has type {iterator_type}."
            )

    def _sequence_counter(self, stream: Stream, shard: Shard, sequence_number: str) -> int:
        parsed = parse_sequence_number(sequence_number)
        prefix = (
            f"StartingSequenceNumber {sequence_number} used in GetShardIterator on shard {shard.shard_id} "
            f"in stream {stream.name} under account {self.account_id} is invalid"
        )
        if parsed is None:
            raise invalid_argument(prefix + ".")
        key, index, counter = parsed
        if key != stream.key:
            raise invalid_argument(prefix + " because it did not come from this stream.")
        if index != shard.index:
            raise invalid_argument(
                f"Invalid StartingSequenceNumber. It encodes shardId-{index:012d}, "
                f"while it was used in a call to a shard with {shard.shard_id}"
            )
        return counter

    def get_records(self, shard_iterator: str, limit: int | None = None, stream_arn: str | None = None) -> RecordsPage:
        it = self._decode_iterator(shard_iterator)
        now = self.clock.now()
        if now * 1000 - it.created_ms > ITERATOR_TTL_S * 1000:
            raise AwsError(
                "ExpiredIteratorException",
                f"Iterator expired. The iterator was created at time {java_date(it.created_ms / 1000)} "
                f"while right now it is {java_date(now)} which is further in the future than the tolerated "
                f"delay of {int(ITERATOR_TTL_S * 1000)} milliseconds.",
            )
        stream = self.store.find_stream(it.stream_name)
        shard_id = f"shardId-{it.shard_index:012d}"
        if stream is None or stream.key != it.stream_key or stream.shard(shard_id) is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Shard {shard_id} in stream {it.stream_name} under account {self.account_id} does not exist",
            )
        if stream_arn is not None and stream_arn != stream.arn:
            raise invalid_argument(f"ShardIterator does not belong to stream {stream_arn}.")
        if limit is not None and not 1 <= limit <= GET_RECORDS_MAX_LIMIT:
            raise invalid_argument(f"Limit {limit} is out of range [1, {GET_RECORDS_MAX_LIMIT}].")
        shard = stream.shard(shard_id)
        assert shard is not None
        stream.trim()
        records = shard.records_after(it.counter, limit or GET_RECORDS_MAX_LIMIT, GET_RECORDS_MAX_BYTES)
        position = records[-1].counter if records else it.counter
        behind = self.millis_behind(shard, position, self.clock.now_ms())
        if not shard.is_open and shard.next_after(position) is None:
            children = [child for child in (stream.shard(i) for i in shard.children) if child is not None]
            return RecordsPage(records, None, behind, children)
        return RecordsPage(records, self._encode_iterator(stream, shard, position), behind)

    @staticmethod
    def millis_behind(shard: Shard, position: int, now_ms: int) -> int:
        """0 when caught up with the tip; otherwise how old the next unread record is."""
        pending = shard.next_after(position)
        if pending is None:
            return 0
        return max(0, now_ms - round(pending.approximate_arrival * 1000))

    def _encode_iterator(self, stream: Stream, shard: Shard, counter: int) -> str:
        head = self._ITERATOR_HEAD.pack(1, self.clock.now_ms(), stream.key, shard.index)
        return self._tokens.seal(b"it", head + counter.to_bytes(16, "big") + stream.name.encode("utf-8"))

    def _decode_iterator(self, token: str) -> _Iterator:
        # AWS reads an iterator pasted with its JSON quotes around it (`aws kinesis get-records
        # --shard-iterator "\"AAAA...\""`) as the iterator itself.
        if len(token) > 1 and token.startswith('"') and token.endswith('"'):
            token = token[1:-1]
        payload = self._tokens.unseal(b"it", token)
        size = self._ITERATOR_HEAD.size
        if payload is None or len(payload) < size + 16:
            raise invalid_argument("Invalid ShardIterator.")
        _, created_ms, key, index = self._ITERATOR_HEAD.unpack(payload[:size])
        counter = int.from_bytes(payload[size : size + 16], "big")
        return _Iterator(created_ms, key, index, counter, payload[size + 16 :].decode("utf-8"))

    def starting_counter(self, stream: Stream, shard: Shard, kind: IteratorType, sequence_number: str | None,
                         timestamp: float | None) -> int:
        """Where a SubscribeToShard StartingPosition puts the reader (records after the counter)."""
        token = self.shard_iterator(stream, shard, kind, sequence_number, timestamp)
        return self._decode_iterator(token).counter
