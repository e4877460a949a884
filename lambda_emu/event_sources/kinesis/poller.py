"""The Kinesis stream event source mapping: per-shard, in-order batches to a function, Lambda's way.

One :class:`KinesisPoller` per enabled mapping. Each shard is read from the mapping's
StartingPosition (or its checkpoint) into *lanes*: one lane per shard, or ParallelizationFactor
lanes with records assigned by partition key (a stable hash), so each key stays in order while up to
N batches of a shard run at once. A lane works through its records in order:

- a batch is cut when BatchSize records are there, the batching window (MaximumBatchingWindowInSeconds,
  opened when the lane has records and nothing running) ends, or the event would pass 6 MB;
- before each invoke, records older than MaximumRecordAgeInSeconds (or past the stream's retention)
  are dropped to the on-failure destination with RecordAgeExceeded;
- the batch is invoked synchronously through the invoker (fresh request ID, source "kinesis"); the
  result is read and the next step decided by the pure rules of :mod:`.retry_policy` (backoff, bisect,
  partial batch responses, retry exhaustion — documented there);
- while a batch waits for a retry the lane is blocked; other lanes and shards keep flowing.

Tumbling windows (TumblingWindowInSeconds > 0) use one lane per shard: windows are aligned to
multiples of the window length on the records' arrival times; batches never span two windows; the
state returned by each invoke is handed to the next one of the window; at the window's end (a clock
timer) a final invoke with no records carries ``isFinalInvokeForWindow: true``. A state above 1 MB
ends the window early: a final invoke with ``isWindowTerminatedEarly: true``, then the same window
continues with a fresh state.

Event-driven on the clock: a lane runs when records arrive (the stream's listener), when a retry or
batching-window timer fires, or when a tumbling window ends; otherwise nothing runs and nothing is
scheduled, so a manual clock settles. Checkpoints (per lane, per shard) live on the mapping, so a
disabled and re-enabled mapping resumes where it stopped.

The shard readers, lanes and batches are in :mod:`.lanes`, the event's JSON in :mod:`.records`, the
retry rules in :mod:`.retry_policy`. What is left here (some 600 lines) is one driver: each method is
a step of the same per-lane cycle (cut, invoke, decide, checkpoint or discard), which reads best whole.
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
from lambda_emu.event_sources.kinesis.lanes import (
    Batch,
    Lane,
    ShardReader,
    TumblingWindow,
    sequence_counter,
)
from lambda_emu.event_sources.kinesis.records import (
    ENVELOPE_BYTES,
    KINESIS,
    MAX_BATCH_BYTES,
    NO_FIELDS,
    RecordFormat,
    fills_payload,
    json_bool,
    window_time,
)
from lambda_emu.event_sources.kinesis.retry_policy import (
    Condition,
    Decision,
    Response,
    StreamRetryConfig,
    classify,
    decide,
    expired_prefix,
    throttle_retry_at,
    window_state_too_large,
)

if TYPE_CHECKING:
    from collections.abc import Callable

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


# ---- batches ----------------------------------------------------------------------------------


# ---- the poller -------------------------------------------------------------------------------


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

    def _keeper(self) -> Callable[[StreamRecord], bool] | None:
        """Does a filter match a record (None: the mapping has no filters)? ``data`` is matched decoded;
        the other fields as Lambda's event shows them, built only when a pattern names one
        (docs/aws-behaviour.md §Event filtering). Looked up once per read, not per record."""
        filters = self.mapping.filters
        if filters is None:
            return None
        matches = filters.matches
        if not filters.needs_metadata:
            data = self.format.filter_data
            return lambda record: matches(NO_FIELDS, data(record))
        filter_input, region, arn = self.format.filter_input, self.region, self._stream_arn
        return lambda record: matches(*filter_input(record, region, arn))

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
        if lane.work:
            return lane.work[0]
        if lane.filtered:
            self._skip_filtered(lane)
        now = self.clock.now()
        self._drop_past_retention(lane, now)
        window = lane.window
        if self.mapping.tumbling_window > 0:
            in_window = bool(lane.buffer) and window is not None and lane.buffer[0].approximate_arrival < window.end
            if window is not None and window.final_due and not in_window:
                batch = Batch([], [], final=True, terminated_early=window.terminated_early)
                lane.work.append(batch)
                return batch
            if not lane.buffer:
                return None
            if window is not None and not in_window:
                # Records past the window's end are there: the window is over.
                window.final_due = True
                return self._next_batch(lane, function)
            if window is None:
                window = self._open_window(lane, lane.buffer[0].approximate_arrival, now)
        elif not lane.buffer:
            return None
        limit = window.end if window is not None else None
        size_limit = self.mapping.batch_size
        available = self._count_available(lane, size_limit, limit)
        window_over = window is not None and (window.final_due or now >= window.end)
        if (
            available < size_limit
            and self.mapping.maximum_batching_window > 0
            and not window_over
            and not fills_payload(lane.buffer, available)
        ):
            # The batching window opens when the lane has records and nothing running (AWS: "the next
            # batching window begins as soon as the previous function invocation completes").
            if lane.batching_since is None:
                lane.batching_since = now
            closes = lane.batching_since + self.mapping.maximum_batching_window
            if now < closes:
                if lane.batching_timer is None:
                    lane.batching_timer = self.clock.call_at(closes, lambda: self._batching_window_closed(lane))
                return None
        lane.batching_since = None
        if lane.batching_timer is not None:
            lane.batching_timer.cancel()
            lane.batching_timer = None
        batch = self._cut(lane, function, available)
        lane.work.append(batch)
        return batch

    @staticmethod
    def _count_available(lane: Lane, size_limit: int, window_end: float | None) -> int:
        if window_end is None:
            return min(len(lane.buffer), size_limit)
        count = 0
        for record in lane.buffer:
            if count >= size_limit or record.approximate_arrival >= window_end:
                break
            count += 1
        return count

    def _cut(self, lane: Lane, function: Function, count: int) -> Batch:
        """The next batch: the first ``count`` buffered records, cut short at 6 MB."""
        suffix = self._record_suffix(function.role)
        shard_id = lane.shard.shard_id
        buffer = lane.buffer
        # Whole-batch list operations: this runs for every record the mapping delivers.
        records = [buffer.popleft() for _ in range(count)]
        to_json = self.format.event_record
        fragments = [to_json(record, shard_id, suffix) for record in records]
        total = ENVELOPE_BYTES + sum(map(len, fragments)) + len(fragments)
        if total > MAX_BATCH_BYTES:
            # Keep the longest prefix within 6 MB (at least one record); the rest goes back, in order.
            total, keep = ENVELOPE_BYTES, 0
            for keep, fragment in enumerate(fragments):  # noqa: B007 - ``keep`` is used after the loop
                total += len(fragment) + 1
                if keep and total > MAX_BATCH_BYTES:
                    break
            else:
                keep = len(fragments)
            buffer.extendleft(reversed(records[keep:]))
            del records[keep:], fragments[keep:]
        return Batch(records, fragments)

    def _record_suffix(self, role: str) -> str:
        """The fields every record of the mapping shares, JSON-encoded once per batch."""
        return (
            f'"invokeIdentityArn":{json.dumps(role)},"awsRegion":{json.dumps(self.region)},'
            f'"eventSourceARN":{json.dumps(self._stream_arn)}'
        )

    def _drop_past_retention(self, lane: Lane, now: float) -> None:
        """Records the stream no longer keeps are gone, as they would be for a GetRecords poller."""
        assert self.stream is not None
        horizon = now - self.stream.retention_hours * 3600
        buffer = lane.buffer
        while buffer and buffer[0].approximate_arrival < horizon:
            buffer.popleft()

    def _batching_window_closed(self, lane: Lane) -> None:
        lane.batching_timer = None
        self._kick(lane)

    # ---- tumbling windows ----------------------------------------------------------------------

    def _open_window(self, lane: Lane, arrival: float, now: float) -> TumblingWindow:
        length = self.mapping.tumbling_window
        start = float(int(arrival // length) * length)
        window = TumblingWindow(start, start + length)
        lane.window = window
        if window.end <= now:
            window.final_due = True
        else:
            window.timer = self.clock.call_at(window.end, lambda: self._window_ended(lane, window))
        return window

    def _window_ended(self, lane: Lane, window: TumblingWindow) -> None:
        window.timer = None
        if lane.window is window:
            window.final_due = True
            self._kick(lane)

    def _window_fields(self, lane: Lane, batch: Batch) -> str:
        window = lane.window
        assert window is not None
        return (
            f',"window":{{"start":"{window_time(window.start)}","end":"{window_time(window.end)}"}},'
            f'"state":{json.dumps(window.state, separators=(",", ":"))},'
            f'"shardId":"{self._shard_name(lane)}","eventSourceARN":{json.dumps(self._stream_arn)},'
            f'"isFinalInvokeForWindow":{json_bool(batch.final)},"isWindowTerminatedEarly":{json_bool(batch.terminated_early)}'
        )

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
        detail = self._journal_detail(lane, batch)
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
        self._keep_window_state(lane, batch, response)
        decision = decide(len(batch.records), batch.invocations, response, config, now)
        if result.succeeded and response.failed_from is not None and result.attempt is not None:
            self.invoker.partial_failure(
                result.attempt, [number(r) for r in batch.records[response.failed_from:]])
        journal_decision = self._journal_decision(lane, batch, decision, response, result.succeeded)
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
                self._close_window(lane, batch)
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

    def _journal_detail(self, lane: Lane, batch: Batch) -> dict[str, Any]:
        records = batch.records
        return {
            "eventSourceArn": self.mapping.event_source_arn,
            "mappingUuid": self.mapping.uuid,
            "shardId": self._shard_name(lane),
            "firstSequenceNumber": self.format.sequence_number(records[0]) if records else None,
            "lastSequenceNumber": self.format.sequence_number(records[-1]) if records else None,
            "records": len(records),
            "bisectDepth": batch.depth,
        }

    def _journal_decision(self, lane: Lane, batch: Batch, decision: Decision, response: Response,
                          invoked_ok: bool) -> dict[str, Any]:
        """The journal's decision: what happens to the records that failed (else the checkpoint)."""
        records = batch.records
        if decision.split and decision.done == 0:
            ends = (*decision.split[1:], len(records))
            return {"action": "bisect", "into": [b - a for a, b in zip(decision.split, ends, strict=True)]}
        if decision.retry_at is not None:
            reason = "FunctionError" if not invoked_ok else (
                "PartialBatchFailure" if response.failed_from is not None else "FunctionError")
            return {"action": "retry", "at": iso8601(decision.retry_at), "reason": reason}
        if decision.condition is not None:
            target = self.mapping.on_failure
            if target:
                return {"action": "destination", "target": target, "condition": decision.condition}
            return {"action": "discard", "reason": decision.condition}
        if decision.done and records:
            last = records[decision.done - 1]
            return {"action": "checkpoint", "sequenceNumber": self.format.sequence_number(last)}
        return {"action": "checkpoint", "sequenceNumber": lane.checkpoint}

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
        extra = self._window_fields(lane, batch) if self.mapping.tumbling_window > 0 else ""
        return ('{"Records":[' + ",".join(batch.fragments) + "]" + extra + "}").encode()

    def _keep_window_state(self, lane: Lane, batch: Batch, response: Response) -> None:
        window = lane.window
        if window is None or self.mapping.tumbling_window <= 0 or response.failed_from == 0 or batch.final:
            return
        window.state = response.state
        if window_state_too_large(response.state):
            # AWS ends a window whose state passes 1 MB; the same window then goes on with a fresh state.
            window.final_due = True
            window.terminated_early = True

    def _close_window(self, lane: Lane, batch: Batch) -> None:
        window = lane.window
        if window is None:
            return
        if batch.terminated_early and window.timer is not None:
            window.state = {}
            window.final_due = False
            window.terminated_early = False
            return
        if window.timer is not None:
            window.timer.cancel()
        lane.window = None

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
        record = self._failure_record(lane, batch, records, condition)
        if arn_service(target) == "s3":
            # An S3 destination also gets the invocation event of those records (docs/aws-behaviour.md §Kinesis event
            # source mapping: On-failure records).
            function = self.functions.find(self.mapping.function_name)
            suffix = self._record_suffix(function.role if function is not None else "")
            failed = Batch(records, [self.format.event_record(r, lane.shard.shard_id, suffix) for r in records])
            record["payload"] = json.loads(self._event(lane, failed))
        self.destinations.send_stream_failure(target, record)

    def _failure_record(
        self, lane: Lane, batch: Batch, records: list[StreamRecord], condition: Condition
    ) -> dict[str, Any]:
        """AWS's on-failure record for a stream (docs/aws-behaviour.md §Kinesis event source mapping: On-failure
        records), in its key order."""
        document: dict[str, Any] = {
            "requestContext": {
                "requestId": batch.request_id or str(uuid.uuid4()),
                "functionArn": self.mapping.function_arn,
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
        document["timestamp"] = iso8601(self.clock.now())
        document[self.format.batch_info_key] = {
            "shardId": self._shard_name(lane),
            "startSequenceNumber": self.format.sequence_number(records[0]),
            "endSequenceNumber": self.format.sequence_number(records[-1]),
            "approximateArrivalOfFirstRecord": self.format.arrival(records[0].approximate_arrival),
            "approximateArrivalOfLastRecord": self.format.arrival(records[-1].approximate_arrival),
            "batchSize": len(records),
            "streamArn": self._stream_arn,
        }
        return document


# ---- the event's JSON -------------------------------------------------------------------------


