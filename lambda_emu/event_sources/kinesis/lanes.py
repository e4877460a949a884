"""A shard's records on their way to the function: the reader that follows a shard, the lanes it feeds
(one per shard, or ParallelizationFactor lanes keyed by partition key), the batches cut from a lane,
and a lane's tumbling window."""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import compress
from operator import not_
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import Timer
from lambda_emu.emulator.services.kinesis.streams import StreamRecord, parse_sequence_number

if TYPE_CHECKING:
    from lambda_emu.emulator.services.kinesis.streams import Stream


READ_CHUNK = 10_000


@dataclass
class Batch:
    """Records invoked together; ``fragments`` are their event JSON, built once when the batch is cut."""

    records: list[StreamRecord]
    fragments: list[str]
    invocations: int = 0  # invocations that reached the function (approximateInvokeCount)
    throttles: int = 0  # consecutive tries that never reached the function (backoff exponent)
    request_id: str | None = None  # of the last invocation
    function_error: str | None = None  # of the last invocation's response, for responseContext
    final: bool = False  # a tumbling window's final invoke (no records)
    terminated_early: bool = False
    depth: int = 0  # how many bisections made this batch (the journal's bisectDepth)

    def tail(self, start: int, keep_count: bool) -> Batch:
        """records[start:] as a batch: a retry (``keep_count``) or a new, bisected batch."""
        if not keep_count:
            return Batch(self.records[start:], self.fragments[start:])
        return Batch(
            self.records[start:], self.fragments[start:], self.invocations, 0, self.request_id, self.function_error,
            depth=self.depth,
        )


@dataclass
class TumblingWindow:
    start: float
    end: float
    state: Any = field(default_factory=dict)
    timer: Timer | None = None
    final_due: bool = False  # the window's end was reached (or its state grew too large)
    terminated_early: bool = False


class Lane:
    """An in-order sequence of a shard's records (all of them, or one partition-key group)."""

    def __init__(self, shard: ShardReader, index: int, checkpoint: tuple[int, str]) -> None:
        self.shard = shard
        self.index = index
        self.buffer: deque[StreamRecord] = deque()
        self.work: deque[Batch] = deque()  # batches already cut (a retry, bisected halves) go first
        self.checkpoint_counter, self.checkpoint = checkpoint
        self.skip_until = self.checkpoint_counter  # records at or before this were done before a restart
        self.running = False
        self.closed = False
        self.retry_timer: Timer | None = None
        self.batching_timer: Timer | None = None
        self.batching_since: float | None = None
        self.window: TumblingWindow | None = None
        # FilterCriteria: records no filter matched, not yet passed by the checkpoint, and how many
        # were dropped since the last batch (the journal's sourceDetail filteredOut).
        self.filtered: deque[StreamRecord] = deque()
        self.filtered_count = 0

    def cancel_timers(self) -> None:
        for timer in (self.retry_timer, self.batching_timer, self.window.timer if self.window else None):
            if timer is not None:
                timer.cancel()
        self.retry_timer = self.batching_timer = None
        if self.window is not None:
            self.window.timer = None


class ShardReader:
    """Reads one shard after its cursor and hands each record to its lane."""

    def __init__(self, stream: Stream, shard_id: str, cursor: str) -> None:
        self.stream = stream
        self.shard_id = shard_id
        self.cursor = cursor
        self.dirty = True  # records may be waiting after the cursor
        self.lanes: list[Lane] = []
        #: The readers of this shard's parents; its lanes wait until each is ``done``.
        self.parents: list[ShardReader] = []
        #: The shard is closed and every record of it is done.
        self.done = False

    def lane_for(self, record: StreamRecord) -> Lane:
        lanes = self.lanes
        if len(lanes) == 1:
            return lanes[0]
        # A stable hash: one partition key always lands in the same lane, so its records stay in order.
        return lanes[zlib.crc32(record.partition_key.encode()) % len(lanes)]

    def fill(self, keep: Callable[[list[StreamRecord]], Iterable[bool]] | None = None) -> list[Lane]:
        """Move newly arrived records into the lanes; the lanes that got some. Records ``keep`` refuses
        (FilterCriteria; it answers for a whole read at once, in order) go to the lane's ``filtered``
        instead: they take no batch slot."""
        if not self.dirty or self.stream.deleted:
            return []
        self.dirty = False
        fed: set[int] = set()
        while True:
            records = self.stream.read(self.shard_id, self.cursor, limit=READ_CHUNK)
            if not records:
                break
            if keep is not None and len(self.lanes) == 1:
                lane = self.lanes[0]
                skip = lane.skip_until
                if records[-1].counter > skip:
                    fresh = records if records[0].counter > skip else [r for r in records if r.counter > skip]
                    kept = list(keep(fresh))
                    # Whole-read list operations: this runs for every record a filtered mapping reads.
                    lane.buffer.extend(compress(fresh, kept))
                    before = len(lane.filtered)
                    lane.filtered.extend(compress(fresh, map(not_, kept)))
                    lane.filtered_count += len(lane.filtered) - before
                    fed.add(0)
            elif keep is not None:
                placed = [(record, lane) for record in records
                          if record.counter > (lane := self.lane_for(record)).skip_until]
                for (record, lane), matched in zip(placed, keep([record for record, _ in placed]), strict=True):
                    if matched:
                        lane.buffer.append(record)
                    else:
                        lane.filtered.append(record)
                        lane.filtered_count += 1
                    fed.add(lane.index)
            elif len(self.lanes) == 1:
                lane = self.lanes[0]
                if records[-1].counter > lane.skip_until:
                    lane.buffer.extend(r for r in records if r.counter > lane.skip_until)
                    fed.add(0)
            else:
                for record in records:
                    lane = self.lane_for(record)
                    if record.counter > lane.skip_until:
                        lane.buffer.append(record)
                        fed.add(lane.index)
            self.cursor = records[-1].sequence_number
            if len(records) < READ_CHUNK:
                break
        return [self.lanes[i] for i in sorted(fed)]


def sequence_counter(sequence_number: str) -> int:
    parsed = parse_sequence_number(sequence_number)
    return parsed[2] if parsed is not None else 0
