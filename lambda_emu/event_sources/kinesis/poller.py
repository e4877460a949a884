"""The Kinesis stream event source mapping: per-shard, in-order batches to a function, Lambda's way.

One :class:`KinesisPoller` per enabled mapping. Each shard is read from the mapping's
StartingPosition (or its checkpoint) into *lanes*: one lane per shard, or ParallelizationFactor
lanes with records assigned by partition key (a stable hash), so each key stays in order while up to
N batches of a shard run at once. A lane works through its records in order:

- a batch is cut (:mod:`.batching`: BatchSize, the batching window, 6 MB, tumbling windows' bounds);
- before each invoke, records older than MaximumRecordAgeInSeconds (or past the stream's retention)
  are dropped to the on-failure destination with RecordAgeExceeded (the record: :mod:`.on_failure`);
- the batch is invoked synchronously through the invoker (fresh request ID, source "kinesis"); the
  result is read and the next step decided by the pure rules of :mod:`.retry_policy` (backoff, bisect,
  partial batch responses, retry exhaustion — documented there);
- while a batch waits for a retry the lane is blocked; other lanes and shards keep flowing.

Tumbling windows (TumblingWindowInSeconds > 0, :mod:`.windows`) use one lane per shard; the state
returned by each invoke is handed to the next one of the window, and the window's end brings a final
invoke with no records.

Event-driven on the clock: a lane runs when records arrive (the stream's listener), when a retry or
batching-window timer fires, or when a tumbling window ends; otherwise nothing runs and nothing is
scheduled, so a manual clock settles. Checkpoints (per lane, per shard) live on the mapping, so a
disabled and re-enabled mapping resumes where it stopped.

The shard readers, lanes and batches are in :mod:`.lanes`, the event's JSON in :mod:`.records`. What
is left here is the driver: the lanes' life (start, resharding, kicks) and each step of the same
per-lane cycle (invoke, decide, checkpoint or discard); what the journal records of a batch is in
:mod:`.journal_entries`.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.narration import DUPLICATE, dropped_text, event_subject
from lambda_emu.emulator.platform.arns import arn_service
from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.services.kinesis.streams import StreamRecord
from lambda_emu.event_sources.kinesis.batching import BatchCutter, record_suffix
from lambda_emu.event_sources.kinesis.journal_entries import batch_decision, batch_detail
from lambda_emu.event_sources.kinesis.lanes import (
    Batch,
    Lane,
    ShardReader,
    sequence_counter,
)
from lambda_emu.event_sources.kinesis.on_failure import failure_record
from lambda_emu.event_sources.kinesis.records import KINESIS, RecordFormat
from lambda_emu.event_sources.kinesis.retry_policy import (
    Condition,
    StreamRetryConfig,
    classify,
    decide,
    expired_prefix,
    throttle_retry_at,
)
from lambda_emu.event_sources.kinesis.windows import close_window, keep_window_state, window_fields

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from lambda_emu.emulator.invocation.destinations import Destinations
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.invoker import Invoker
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.platform.faults import Faults
    from lambda_emu.emulator.services.kinesis.streams import Stream
    from lambda_emu.emulator.services.lambda_.mappings import EventSourceMapping
    from lambda_emu.event_sources.kinesis.records import StreamSource

log = get_logger("kinesis-esm")

PROBLEM = "PROBLEM: Function call failed"
OK = "OK"


class KinesisPoller:
    """The event source driver for one Kinesis stream mapping (see the module docstring)."""

    def __init__(self, mapping: EventSourceMapping, streams: StreamSource, functions: FunctionRegistry,
                 invoker: Invoker, destinations: Destinations, clock: Clock, faults: Faults, *, region: str,
                 on_checkpoint: Callable[[EventSourceMapping], None] | None = None,
                 record_format: RecordFormat = KINESIS) -> None:
        self.mapping = mapping
        #: Kinesis, or DynamoDB Streams: one driver, the source's own record JSON and names.
        self.format = record_format
        #: Told whenever the mapping's checkpoints move (--state-dir writes them through).
        self._on_checkpoint = on_checkpoint
        self.streams = streams
        self.functions = functions
        self.invoker = invoker
        self.destinations = destinations
        self.clock = clock
        self.faults = faults
        self.region = region
        self.stream: Stream | None = None
        self.shards: list[ShardReader] = []
        self._layout: tuple[int, int] | None = None  # (lanes per shard, tumbling window) of the lanes
        self._stopped = False
        self.batches = BatchCutter(mapping, clock, record_format, region=region, wake=self._kick,
                                   skip_filtered=self._skip_filtered)

    # ---- EventSourceDriver -------------------------------------------------------------------

    def start(self) -> None:
        self.stream = self.streams.find_stream_by_arn(self.mapping.event_source_arn)
        if self.stream is None:
            log.warning("stream not found", mapping=self.mapping.uuid, stream=self.mapping.event_source_arn)
            return
        self.stream.add_listener(self._on_records)
        self._build_lanes()
        self._kick_all()

    async def stop(self) -> None:
        self._stopped = True
        if self.stream is not None:
            self.stream.remove_listener(self._on_records)
        self._close_lanes()

    def reconfigure(self) -> None:
        """Settings are read afresh for every batch; only a new lane layout needs the lanes rebuilt."""
        if self._stopped or self.stream is None:
            return
        if self._lane_layout() != self._layout:
            # In-flight batches of the old lanes finish but checkpoint nothing further; the new lanes
            # start from the checkpoints (at-least-once: a batch may be delivered again).
            self._close_lanes()
            self._build_lanes()
        self._kick_all()

    @property
    def _stream_arn(self) -> str:
        """The stream's ARN in events and failure records, also for a mapping on a consumer's ARN."""
        return self.stream.arn if self.stream is not None else self.mapping.event_source_arn

    # ---- lanes ---------------------------------------------------------------------------------

    def _lane_layout(self) -> tuple[int, int]:
        window = self.mapping.tumbling_window
        # Tumbling windows keep one state per shard, so a windowed shard is one lane.
        return (1 if window > 0 else max(1, self.mapping.parallelization_factor), window)

    def _build_lanes(self) -> None:
        assert self.stream is not None
        self._layout = self._lane_layout()
        self.shards = []
        for shard in self.stream.list_shards():
            self._add_reader(shard.shard_id, self.mapping.starting_position or "LATEST")
        # A LATEST start is a position now: a restart goes on from it, not from a later LATEST.
        if self._on_checkpoint is not None:
            self._on_checkpoint(self.mapping)
        for reader in list(self.shards):
            self._check_finished(reader)

    def _add_reader(self, shard_id: str, position: str) -> ShardReader:
        """Follow a shard from its checkpoint, or from ``position`` the first time. A child shard waits
        until every parent is read to its end (AWS: "processes the parent shard before its children"),
        so each partition key stays in order across a resharding."""
        assert self.stream is not None and self._layout is not None
        lanes_per_shard = self._layout[0]
        checkpoints: dict[str, Any] = self.mapping.checkpoints
        saved = checkpoints.get(shard_id)
        if saved is None:
            start = self.stream.starting_sequence_number(
                shard_id, position, self.mapping.starting_position_timestamp,  # type: ignore[arg-type]
            )
            marks = [start] * lanes_per_shard
        elif len(saved) == lanes_per_shard:
            marks = list(saved)
        else:
            # A new ParallelizationFactor regroups keys: resume every lane from the lowest mark.
            marks = [min(saved, key=sequence_counter)] * lanes_per_shard
        reader = ShardReader(self.stream, shard_id, min(marks, key=sequence_counter))
        reader.lanes = [Lane(reader, i, (sequence_counter(mark), mark)) for i, mark in enumerate(marks)]
        shard = self.stream.shard(shard_id)
        by_id = {r.shard_id: r for r in self.shards}
        reader.parents = [by_id[p] for p in (shard.parents if shard else ()) if p in by_id]
        checkpoints[shard_id] = marks
        self.shards.append(reader)
        return reader

    def _check_finished(self, reader: ShardReader) -> None:
        """A closed shard whose every record is done: its children may start."""
        if reader.done or self.stream is None or reader.dirty:
            return
        for lane in reader.lanes:
            if (lane.running or lane.buffer or lane.work or lane.filtered or lane.retry_timer is not None
                    or lane.batching_timer is not None or lane.window is not None):
                return
        if not self.stream.finished(reader.shard_id, reader.cursor):
            return
        reader.done = True
        for other in self.shards:
            if reader in other.parents:
                for lane in other.lanes:
                    self._kick(lane)

    def _close_lanes(self) -> None:
        for reader in self.shards:
            for lane in reader.lanes:
                lane.closed = True
                lane.cancel_timers()
        self.shards = []

    def _on_records(self, shard_id: str) -> None:
        """The stream's listener: runs inside PutRecord(s) and resharding, so only mark and wake."""
        if self._stopped or self.stream is None:
            return
        if self.stream.deleted:
            self._close_lanes()
            return
        reader = next((r for r in self.shards if r.shard_id == shard_id), None)
        if reader is None:
            if self._layout is None:
                return
            # A child of a resharding: read from its first record once its parents are done.
            reader = self._add_reader(shard_id, "TRIM_HORIZON")
            if self._on_checkpoint is not None:
                self._on_checkpoint(self.mapping)
        reader.dirty = True
        for lane in reader.lanes:
            self._kick(lane)

    def _kick_all(self) -> None:
        for reader in self.shards:
            for lane in reader.lanes:
                self._kick(lane)

    def _kick(self, lane: Lane) -> None:
        if self._stopped or lane.closed or lane.running or lane.retry_timer is not None:
            return
        if any(not parent.done for parent in lane.shard.parents):
            return  # a parent shard is still being read
        if not self.mapping.enabled:
            return
        lane.running = True
        self.clock.spawn(self._run(lane), name=f"kinesis-esm:{self.mapping.uuid}:{lane.shard.shard_id}")

    async def _run(self, lane: Lane) -> None:
        try:
            while not (self._stopped or lane.closed):
                for other in lane.shard.fill(self._keeper()):
                    if other is not lane:
                        self._kick(other)
                function = self.functions.routed(self.mapping.function_arn)  # an alias picks its version
                if function is None:
                    return  # the function is gone; the next record wakes the lane again
                batch = self._next_batch(lane, function)
                if batch is None:
                    if lane.filtered_count and not lane.work:
                        # Nothing to deliver carries the count: the terminal says it now.
                        self.invoker.note(function.name, f"{self.format.source} {self._shard_name(lane)}:",
                                          f"{lane.filtered_count} filtered out (FilterCriteria) → skipped")
                        lane.filtered_count = 0
                    return
                await self._process(lane, function, batch)
                if lane.retry_timer is not None:
                    return
        finally:
            lane.running = False
            if not lane.closed:
                self._check_finished(lane.shard)

    # ---- cutting batches -----------------------------------------------------------------------

    def _keeper(self) -> Callable[[list[StreamRecord]], Iterable[bool]] | None:
        """Does a filter match each record of a read (None: the mapping has no filters)? ``data`` is
        matched decoded; the other fields as Lambda's event shows them, built only when a pattern names
        one (docs/aws-behaviour.md §Event filtering). Looked up once per read, and applied to the read's
        records at once (one matcher call a record, no per-record closure)."""
        filters = self.mapping.filters
        if filters is None:
            return None
        matches_data = filters.matches_data
        if matches_data is not None:
            datas = self.format.filter_datas
            return lambda records: map(matches_data, datas(records))
        matches = filters.matches
        filter_input, region, arn = self.format.filter_input, self.region, self._stream_arn
        return lambda records: [matches(*filter_input(record, region, arn)) for record in records]

    def _skip_filtered(self, lane: Lane) -> None:
        """Move the checkpoint past filtered-out records that nothing undelivered precedes (the lane has
        no batch pending, so every record before its next buffered one is done)."""
        limit = lane.buffer[0].counter if lane.buffer else None
        last = None
        while lane.filtered and (limit is None or lane.filtered[0].counter < limit):
            last = lane.filtered.popleft()
        if last is not None:
            self._checkpoint(lane, last)

    def _next_batch(self, lane: Lane, function: Function) -> Batch | None:
        assert self.stream is not None
        return self.batches.next_batch(lane, function.role, self.stream, self._stream_arn)

    # ---- one invocation ------------------------------------------------------------------------

    def _retry_config(self) -> StreamRetryConfig:
        mapping = self.mapping
        return StreamRetryConfig(
            maximum_retry_attempts=mapping.maximum_retry_attempts,
            maximum_record_age=mapping.maximum_record_age,
            bisect=mapping.bisect_batch_on_function_error,
            report_batch_item_failures=mapping.reports_batch_item_failures,
            tumbling=mapping.tumbling_window > 0,
        )

    async def _process(self, lane: Lane, function: Function, batch: Batch) -> None:
        config = self._retry_config()
        now = self.clock.now()
        if not batch.final:
            batch = self._expire(lane, batch, config, now)
            if not batch.records:
                return
        payload = self._event(lane, batch)
        request_id = str(uuid.uuid4())
        detail = batch_detail(self.mapping, self.format, self._shard_name(lane), batch)
        if self.mapping.filters is not None:
            # Records FilterCriteria skipped since the lane's previous batch.
            detail["filteredOut"], lane.filtered_count = lane.filtered_count, 0
        result = await self.invoker.invoke(function, payload, request_id=request_id, source=self.format.source,
                                           source_detail=detail, invoked_arn=self.mapping.function_arn)
        if lane.closed:
            return  # the lanes were rebuilt or stopped meanwhile: the new lanes redo this batch
        now = self.clock.now()
        if not result.reached_function:
            # Throttled, or a system error (lambda-emu could not run it: AWS's service error). Either
            # way the batch never reached the function: back off, no retry consumed, until the records
            # expire (docs/aws-behaviour.md §Kinesis event source mapping: Retries: "doesn't apply to service errors or
            # throttles").
            if result.kind == "system_error":
                log.warning("kinesis batch not run: system error", mapping=self.mapping.uuid, error=result.system_error)
            batch.throttles += 1
            self.mapping.last_processing_result = PROBLEM
            retry_at = throttle_retry_at(batch.throttles, now)
            reason = "ServiceException" if result.kind == "system_error" else "Throttled"
            self.invoker.decide(result.attempt, {"action": "retry", "at": iso8601(retry_at), "reason": reason})
            self._block(lane, retry_at)
            return
        batch.throttles = 0
        batch.invocations += 1
        batch.request_id = request_id
        attempts = [result.attempt]
        if batch.invocations == 1 and self.faults.roll_duplicate(function.name):
            # At-least-once delivery: the same batch once more, straight after (its result is ignored).
            self.invoker.note(function.name, event_subject(self.format.source, request_id), DUPLICATE)
            copy = await self.invoker.invoke(
                function, payload, request_id=str(uuid.uuid4()), source=self.format.source, duplicate=True,
                source_detail=detail, invoked_arn=self.mapping.function_arn,
            )
            attempts.append(copy.attempt)
            if lane.closed:
                return
        number = self.format.sequence_number
        sequences = [number(r) for r in batch.records] if config.report_batch_item_failures else []
        response = classify(not result.succeeded, result.payload, sequences, config)
        batch.function_error = response.function_error
        self.mapping.last_processing_result = OK if response.succeeded else PROBLEM
        if self.mapping.tumbling_window > 0:
            keep_window_state(lane, batch, response)
        decision = decide(len(batch.records), batch.invocations, response, config, now)
        if result.succeeded and response.failed_from is not None and result.attempt is not None:
            self.invoker.partial_failure(
                result.attempt, [number(r) for r in batch.records[response.failed_from:]])
        journal_decision = batch_decision(self.mapping, self.format, lane.checkpoint, batch, decision, response,
                                          result.succeeded)
        for attempt in attempts:
            self.invoker.decide(attempt, journal_decision)
        lane.work.popleft()
        if decision.done:
            self._checkpoint(lane, batch.records[decision.done - 1])
        if batch.final:
            if decision.retry_at is not None:
                lane.work.appendleft(batch)
                self._block(lane, decision.retry_at)
            else:
                close_window(lane, batch)
            return
        if decision.split:
            ends = (*decision.split[1:], len(batch.records))
            halves = [
                Batch(batch.records[a:b], batch.fragments[a:b], depth=batch.depth + 1)
                for a, b in zip(decision.split, ends, strict=True)
            ]
            lane.work.extendleft(reversed(halves))
        elif decision.retry_at is not None:
            lane.work.appendleft(batch.tail(decision.done, keep_count=True))
            self._block(lane, decision.retry_at)
        elif decision.condition is not None:
            failed = batch.tail(decision.done, keep_count=True)
            self._discard(lane, failed, failed.records, decision.condition)

    def _expire(self, lane: Lane, batch: Batch, config: StreamRetryConfig, now: float) -> Batch:
        """Drop (to the on-failure destination) the records past MaximumRecordAge or retention."""
        assert self.stream is not None
        retention = self.stream.retention_hours * 3600
        age_limit = retention if config.maximum_record_age < 0 else min(config.maximum_record_age, retention)
        expired = expired_prefix([r.approximate_arrival for r in batch.records], age_limit, now)
        if not expired:
            return batch
        lane.work.popleft()
        self._discard(lane, batch, batch.records[:expired], "RecordAgeExceeded")
        where = {"action": "destination", "target": self.mapping.on_failure, "condition": "RecordAgeExceeded"} \
            if self.mapping.on_failure else None
        subject = f"{self.format.source} {self._shard_name(lane)}: {expired} records"
        self.invoker.note(self.mapping.function_name, subject,
                          dropped_text("RecordAgeExceeded", where, self.clock.now()))
        rest = batch.tail(expired, keep_count=True)
        if rest.records:
            lane.work.appendleft(rest)
        return rest

    def _shard_name(self, lane: Lane) -> str:
        return self.format.shard_id(lane.shard.shard_id)

    def _block(self, lane: Lane, when: float) -> None:
        lane.retry_timer = self.clock.call_at(when, lambda: self._retry_due(lane))

    def _retry_due(self, lane: Lane) -> None:
        lane.retry_timer = None
        self._kick(lane)

    def _checkpoint(self, lane: Lane, record: StreamRecord) -> None:
        if record.counter > lane.checkpoint_counter:
            lane.checkpoint_counter, lane.checkpoint = record.counter, record.sequence_number
            marks = self.mapping.checkpoints.get(lane.shard.shard_id)
            if marks is not None and lane.index < len(marks):
                marks[lane.index] = record.sequence_number
                if self._on_checkpoint is not None:
                    self._on_checkpoint(self.mapping)

    def _event(self, lane: Lane, batch: Batch) -> bytes:
        """The invocation event, assembled from the records' JSON built when the batch was cut."""
        extra = ""
        if self.mapping.tumbling_window > 0:
            assert lane.window is not None
            extra = window_fields(lane.window, batch, self._shard_name(lane), self._stream_arn)
        return ('{"Records":[' + ",".join(batch.fragments) + "]" + extra + "}").encode()

    # ---- the on-failure destination ----------------------------------------------------------

    def _discard(self, lane: Lane, batch: Batch, records: list[StreamRecord], condition: Condition) -> None:
        """Skip ``records`` (checkpoint past them) and tell the on-failure destination."""
        if not records:
            return
        self._checkpoint(lane, records[-1])
        target = self.mapping.on_failure
        log.info(
            "kinesis records discarded",
            mapping=self.mapping.uuid,
            shard=lane.shard.shard_id,
            condition=condition,
            records=len(records),
        )
        if not target:
            return
        record = failure_record(self.format, batch, records, condition, function_arn=self.mapping.function_arn,
                                shard_id=self._shard_name(lane), stream_arn=self._stream_arn, now=self.clock.now())
        if arn_service(target) == "s3":
            # An S3 destination also gets the invocation event of those records (docs/aws-behaviour.md §Kinesis event
            # source mapping: On-failure records).
            function = self.functions.find(self.mapping.function_name)
            suffix = record_suffix(function.role if function is not None else "", self.region, self._stream_arn)
            failed = Batch(records, [self.format.event_record(r, lane.shard.shard_id, suffix) for r in records])
            record["payload"] = json.loads(self._event(lane, failed))
        self.destinations.send_stream_failure(target, record)
