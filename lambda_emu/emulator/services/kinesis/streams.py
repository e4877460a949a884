"""Kinesis streams as state: a stream, its shards and their records, and the sequence numbers and hash
keys that place a record (``store.py`` holds the streams; ``iterators.py`` and the stream mapping read them)."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.services.kinesis.consumers import Consumer

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

log = get_logger("kinesis")


HASH_KEY_SPACE = 2**128


MAX_HASH_KEY = HASH_KEY_SPACE - 1


DEFAULT_RETENTION_HOURS = 24


GET_RECORDS_MAX_LIMIT = 10_000


GET_RECORDS_MAX_BYTES = 10 * 1024 * 1024


StreamMode = Literal["PROVISIONED", "ON_DEMAND"]


StartingPosition = Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]


ShardListener = Callable[[str], None]


_SEQ_PREFIX = "49"


_COUNTER_PER_MS = 10**18


def invalid_argument(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message)


MAX_SHARD_INDEX = 2**31 - 1


def canonical_shard_id(given: str) -> str | None:
    """The shard id AWS reads ``given`` as, or None if it reads none.

    AWS takes what follows the first ``-`` (the whole string without one) as a decimal index up to
    2^31-1: ``shardId-0``, ``shard-0``, ``0`` and ``anything-0`` all name ``shardId-000000000000``.
    """
    _, dash, tail = given.partition("-")
    digits = tail if dash else given
    if not digits or not digits.isascii() or not digits.isdigit() or int(digits) > MAX_SHARD_INDEX:
        return None
    return f"shardId-{int(digits):012d}"


def format_sequence_number(stream_key: int, shard_index: int, counter: int) -> str:
    return f"{_SEQ_PREFIX}{stream_key:015d}{shard_index:06d}{counter:033d}"


def parse_sequence_number(text: str) -> tuple[int, int, int] | None:
    """(stream key, shard index, counter) of one of our sequence numbers, or None if it is not one."""
    if len(text) != 56 or not text.isascii() or not text.isdigit() or not text.startswith(_SEQ_PREFIX):
        return None
    return int(text[2:17]), int(text[17:23]), int(text[23:])


def partition_key_hash(partition_key: str) -> int:
    """AWS maps a partition key to a 128-bit integer with MD5."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def even_hash_ranges(shard_count: int) -> list[tuple[int, int]]:
    """Split 0..2^128-1 as CreateStream does: equal widths of floor(2^128/n), the last shard takes the rest."""
    width = HASH_KEY_SPACE // shard_count
    starts = [i * width for i in range(shard_count)]
    ends = [start - 1 for start in starts[1:]] + [MAX_HASH_KEY]
    return list(zip(starts, ends, strict=True))


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One data record as stored; what GetRecords and the event source mapping hand out."""

    sequence_number: str
    partition_key: str
    data: bytes
    approximate_arrival: float  # epoch seconds, millisecond precision
    shard_id: str
    counter: int  # position within the shard; orders records like sequence_number does

    @property
    def size(self) -> int:
        """What counts against AWS's record and request size limits: data plus partition key."""
        return len(self.data) + len(self.partition_key.encode("utf-8"))


class Shard:
    """A shard: a hash-key range and an append-only, retention-trimmed log of records. A resharding
    closes it (``ending_counter`` set); its children name it as their parent."""

    def __init__(self, stream_key: int, index: int, hash_range: tuple[int, int], created_at: float,
                 parents: tuple[str, ...] = ()) -> None:
        self.index = index
        self.shard_id = f"shardId-{index:012d}"
        self.starting_hash_key, self.ending_hash_key = hash_range
        self._stream_key = stream_key
        self.created_at = created_at
        #: Every shard whose hash range this one took over (a split: one; a merge: two; UpdateShardCount
        #: may give more, see docs/aws-behaviour.md). A reader finishes them all before this one.
        self.parents = parents
        self.closed_at: float | None = None
        self.ending_counter: int | None = None
        self.children: list[str] = []
        self.start_counter = round(created_at * 1000) * _COUNTER_PER_MS
        self.starting_sequence_number = self.sequence_number(self.start_counter)
        self._records: list[StreamRecord] = []
        self._counters: list[int] = []
        self._head = 0  # records before this index are trimmed; compacted lazily
        self.last_counter = self.start_counter

    def sequence_number(self, counter: int) -> str:
        return format_sequence_number(self._stream_key, self.index, counter)

    @property
    def is_open(self) -> bool:
        return self.ending_counter is None

    def close(self, at: float) -> None:
        """No record is added from now on; the last one's sequence number ends the shard's range."""
        self.closed_at = at
        self.ending_counter = self.last_counter

    def hash_range(self) -> dict[str, str]:
        return {"StartingHashKey": str(self.starting_hash_key), "EndingHashKey": str(self.ending_hash_key)}

    def describe(self) -> dict[str, object]:
        shard: dict[str, object] = {"ShardId": self.shard_id}
        if self.parents:
            shard["ParentShardId"] = self.parents[0]
        if len(self.parents) > 1:
            shard["AdjacentParentShardId"] = self.parents[1]
        shard["HashKeyRange"] = self.hash_range()
        numbers = {"StartingSequenceNumber": self.starting_sequence_number}
        if self.ending_counter is not None:
            numbers["EndingSequenceNumber"] = self.sequence_number(self.ending_counter)
        shard["SequenceNumberRange"] = numbers
        return shard

    def lineage(self) -> dict[str, Any]:
        """What --state-dir keeps of the shard besides its records."""
        return {"index": self.index, "start": str(self.starting_hash_key), "end": str(self.ending_hash_key),
                "created_at": self.created_at, "parents": list(self.parents), "closed_at": self.closed_at,
                "ending_counter": None if self.ending_counter is None else str(self.ending_counter),
                "children": self.children}

    @classmethod
    def from_lineage(cls, stream_key: int, saved: dict[str, Any]) -> Shard:
        shard = cls(stream_key, saved["index"], (int(saved["start"]), int(saved["end"])), saved["created_at"],
                    tuple(saved["parents"]))
        shard.closed_at = saved["closed_at"]
        shard.ending_counter = None if saved["ending_counter"] is None else int(saved["ending_counter"])
        shard.children = list(saved["children"])
        return shard

    def append(self, partition_key: str, data: bytes, arrival: float) -> StreamRecord:
        # Strictly increasing even if two records arrive in the same millisecond.
        counter = max(self.last_counter + 1, round(arrival * 1000) * _COUNTER_PER_MS)
        record = StreamRecord(self.sequence_number(counter), partition_key, data, arrival, self.shard_id, counter)
        self._records.append(record)
        self._counters.append(counter)
        self.last_counter = counter
        return record

    def restore_record(self, partition_key: str, data: bytes, arrival: float, counter: int) -> None:
        """A record of the state directory, back in its place (records come back in counter order)."""
        self._records.append(StreamRecord(self.sequence_number(counter), partition_key, data, arrival, self.shard_id,
                                          counter))
        self._counters.append(counter)
        self.last_counter = max(self.last_counter, counter)

    def trim(self, horizon: float) -> None:
        """Drop records that arrived before ``horizon`` (retention), amortised O(1) per record."""
        head, records = self._head, self._records
        while head < len(records) and records[head].approximate_arrival < horizon:
            head += 1
        self._head = head
        if head > 1024 and head * 2 > len(records):
            del self._records[:head]
            del self._counters[:head]
            self._head = 0

    def _index_after(self, counter: int) -> int:
        return max(self._head, bisect.bisect_right(self._counters, counter))

    def records_after(self, counter: int, limit: int, max_bytes: int) -> list[StreamRecord]:
        """Up to ``limit`` records after ``counter``, at most ``max_bytes`` (always at least one)."""
        start = self._index_after(counter)
        out: list[StreamRecord] = []
        total = 0
        for record in self._records[start : start + limit]:
            if out and total + record.size > max_bytes:
                break
            out.append(record)
            total += record.size
        return out

    def next_after(self, counter: int) -> StreamRecord | None:
        index = self._index_after(counter)
        return self._records[index] if index < len(self._records) else None

    def first_arrived_at_or_after(self, when: float) -> StreamRecord | None:
        for record in self._records[self._head :]:
            if record.approximate_arrival >= when:
                return record
        return None

    def live_records(self) -> list[StreamRecord]:
        return self._records[self._head :]


class Stream:
    """A data stream. The methods under "internal API" are for the stream event source mapping."""

    def __init__(
        self,
        clock: Clock,
        *,
        name: str,
        arn: str,
        key: int,
        shard_count: int,
        mode: StreamMode,
        max_record_size_kib: int,
        tags: dict[str, str],
    ) -> None:
        self._clock = clock
        self.name = name
        self.arn = arn
        self.key = key
        self.created_at = clock.now_ms() / 1000
        self.mode: StreamMode = mode
        # ACTIVE at once (boto3's stream_exists waiter passes on its first poll) unless --creation-delays.
        self.status = "ACTIVE"
        self.retention_hours = DEFAULT_RETENTION_HOURS
        self.max_record_size_kib = max_record_size_kib
        self.tags = dict(tags)
        #: PutResourcePolicy's document (kept and answered, not enforced).
        self.policy: str | None = None
        #: Enhanced fan-out consumers by name.
        self.consumers: dict[str, Consumer] = {}
        self.deleted = False
        self.shards = [
            Shard(key, index, hash_range, self.created_at)
            for index, hash_range in enumerate(even_hash_ranges(shard_count))
        ]
        self._reindex()
        self._listeners: list[ShardListener] = []
        #: --state-dir: records are written through to it; None without it.
        self.state: StateStore | None = None

    def _reindex(self) -> None:
        self._by_id = {shard.shard_id: shard for shard in self.shards}
        self._open = sorted((shard for shard in self.shards if shard.is_open), key=lambda s: s.starting_hash_key)
        self._starting_keys = [shard.starting_hash_key for shard in self._open]

    # ---- lookups ------------------------------------------------------------------------------

    def shard(self, shard_id: str) -> Shard | None:
        return self._by_id.get(shard_id)

    @property
    def open_shards(self) -> list[Shard]:
        """The shards records go to, in hash-key order."""
        return list(self._open)

    def shard_for_hash_key(self, hash_key: int) -> Shard:
        return self._open[bisect.bisect_right(self._starting_keys, hash_key) - 1]

    @property
    def max_record_bytes(self) -> int:
        return self.max_record_size_kib * 1024

    def retention_horizon(self) -> float:
        return self._clock.now() - self.retention_hours * 3600

    def trim(self) -> None:
        """Apply retention now (lazily: called whenever the stream is read)."""
        horizon = self.retention_horizon()
        for shard in self.shards:
            shard.trim(horizon)

    def append(self, shard: Shard, partition_key: str, data: bytes) -> StreamRecord:
        record = shard.append(partition_key, data, self._clock.now_ms() / 1000)
        if self.state is not None:
            self.state.put("kinesis-record", f"{self.name}/{shard.index:06d}/{record.counter:040d}",
                           lambda: {"pk": partition_key, "data": data, "at": record.approximate_arrival},
                           owner=self.name)
        return record

    # ---- resharding -----------------------------------------------------------------------------
    # Each closes shards and opens their children at once; the store checks the request first (and,
    # with --creation-delays, applies it when the UPDATING phase ends).

    def _child(self, hash_range: tuple[int, int], parents: tuple[Shard, ...], at: float) -> Shard:
        child = Shard(self.key, len(self.shards), hash_range, at, tuple(parent.shard_id for parent in parents))
        for parent in parents:
            parent.children.append(child.shard_id)
        self.shards.append(child)
        return child

    def _resharded(self, closed: list[Shard], opened: list[Shard]) -> None:
        self._reindex()
        self.saved()
        # Readers of the parents learn they are closed; the children are new shards to follow.
        self.notify([shard.shard_id for shard in closed] + [shard.shard_id for shard in opened])

    def split(self, parent: Shard, new_starting_hash_key: int) -> list[Shard]:
        at = self._clock.now_ms() / 1000
        parent.close(at)
        children = [
            self._child((parent.starting_hash_key, new_starting_hash_key - 1), (parent,), at),
            self._child((new_starting_hash_key, parent.ending_hash_key), (parent,), at),
        ]
        self._resharded([parent], children)
        return children

    def merge(self, shard: Shard, adjacent: Shard) -> Shard:
        at = self._clock.now_ms() / 1000
        shard.close(at)
        adjacent.close(at)
        low, high = sorted((shard, adjacent), key=lambda s: s.starting_hash_key)
        child = self._child((low.starting_hash_key, high.ending_hash_key), (shard, adjacent), at)
        self._resharded([shard, adjacent], [child])
        return child

    def rescale(self, target: int) -> list[Shard]:
        """UpdateShardCount's UNIFORM_SCALING: ``target`` even shards; each new shard's parents are the
        old shards its hash range overlaps."""
        at = self._clock.now_ms() / 1000
        old = self.open_shards
        for shard in old:
            shard.close(at)
        children = []
        for start, end in even_hash_ranges(target):
            parents = tuple(s for s in old if s.starting_hash_key <= end and s.ending_hash_key >= start)
            children.append(self._child((start, end), parents, at))
        self._resharded(old, children)
        return children

    # ---- the state directory (--state-dir) ------------------------------------------------------

    def saved(self) -> None:
        if self.state is not None and not self.deleted:
            self.state.put("kinesis-stream", self.name, self.record)

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "created_at": self.created_at, "mode": self.mode,
                "status": self.status, "retention_hours": self.retention_hours,
                "max_record_size_kib": self.max_record_size_kib, "tags": self.tags, "shard_count": len(self.shards),
                "shards": [shard.lineage() for shard in self.shards], "policy": self.policy,
                "consumers": [consumer.record() for consumer in self.consumers.values()]}

    def restore(self, record: dict[str, Any]) -> None:
        self.created_at = record["created_at"]
        self.status = record["status"]
        self.retention_hours = record["retention_hours"]
        self.policy = record.get("policy")
        if "shards" in record:
            self.shards = [Shard.from_lineage(self.key, saved) for saved in record["shards"]]
        else:  # written before resharding existed: even, open shards
            self.shards = [
                Shard(self.key, index, hash_range, self.created_at)
                for index, hash_range in enumerate(even_hash_ranges(record["shard_count"]))
            ]
        self._reindex()

    def notify(self, shard_ids: Iterable[str]) -> None:
        for shard_id in shard_ids:
            for listener in list(self._listeners):
                try:
                    listener(shard_id)
                except Exception:  # noqa: BLE001 - a poller's bug must not fail a producer's PutRecord
                    log.exception("kinesis listener failed", stream=self.name, shard=shard_id)

    # ---- internal API (the stream event source mapping) ---------------------------------------

    def list_shards(self) -> list[Shard]:
        """Every shard, open and closed, in shard-id order (parents before their children)."""
        return list(self.shards)

    def starting_sequence_number(
        self, shard_id: str, position: StartingPosition, timestamp: float | None = None
    ) -> str:
        """A cursor for ``read``: records strictly after it are the ones ``position`` starts at.

        TRIM_HORIZON → the oldest record kept; LATEST → only records appended from now on;
        AT_TIMESTAMP → the first record whose arrival is at or after ``timestamp`` (epoch seconds).
        """
        shard = self._shard_or_raise(shard_id)
        self.trim()
        if position == "TRIM_HORIZON":
            return shard.starting_sequence_number
        if position == "LATEST":
            return shard.sequence_number(shard.last_counter)
        if position == "AT_TIMESTAMP":
            if timestamp is None:
                raise ValueError("AT_TIMESTAMP needs a timestamp")
            record = shard.first_arrived_at_or_after(timestamp)
            return shard.sequence_number(record.counter - 1 if record else shard.last_counter)
        raise ValueError(f"unknown starting position {position!r}")

    def read(
        self,
        shard_id: str,
        after_sequence_number: str,
        *,
        limit: int = GET_RECORDS_MAX_LIMIT,
        max_bytes: int = GET_RECORDS_MAX_BYTES,
    ) -> list[StreamRecord]:
        """Records of ``shard_id`` strictly after ``after_sequence_number``, oldest first.

        At most ``limit`` records and ``max_bytes`` (data + partition keys; the first record is
        always returned whatever its size). Records past retention are never returned.
        ``after_sequence_number`` is a record's sequence number or a cursor from
        :meth:`starting_sequence_number`.
        """
        shard = self._shard_or_raise(shard_id)
        counter = self._counter_of(shard, after_sequence_number)
        self.trim()
        return shard.records_after(counter, limit, max_bytes)

    def finished(self, shard_id: str, after_sequence_number: str) -> bool:
        """Is the shard closed with nothing left after ``after_sequence_number``? (Its children may start.)"""
        shard = self._by_id.get(shard_id)
        if shard is None:
            return True
        if shard.is_open:
            return False
        self.trim()
        return shard.next_after(self._counter_of(shard, after_sequence_number)) is None

    def latest_sequence_number(self, shard_id: str) -> str | None:
        """The sequence number of the newest record kept in the shard, or None if it holds none."""
        shard = self._shard_or_raise(shard_id)
        self.trim()
        live = shard.live_records()
        return live[-1].sequence_number if live else None

    def add_listener(self, callback: ShardListener) -> None:
        """``callback(shard_id)`` runs synchronously after records are appended to that shard (once
        per shard per PutRecord/PutRecords call), once per shard when the stream is deleted (then
        ``stream.deleted`` is True), and for each closed and each new shard of a resharding. Keep it
        cheap: wake a poller, don't read here."""
        self._listeners.append(callback)

    def remove_listener(self, callback: ShardListener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _shard_or_raise(self, shard_id: str) -> Shard:
        shard = self._by_id.get(shard_id)
        if shard is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Shard {shard_id} in stream {self.name} under account {self.arn.split(':')[4]} does not exist",
            )
        return shard

    def _counter_of(self, shard: Shard, sequence_number: str) -> int:
        parsed = parse_sequence_number(sequence_number)
        if parsed is None or parsed[0] != self.key or parsed[1] != shard.index:
            raise invalid_argument(f"Sequence number {sequence_number} does not belong to {shard.shard_id}")
        return parsed[2]
