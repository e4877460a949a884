"""Cutting a lane's next batch: BatchSize, the batching window, the 6 MB payload and tumbling windows' bounds.

A batch is cut when BatchSize records are there, the batching window (MaximumBatchingWindowInSeconds,
opened when the lane has records and nothing running) ends, or the event would pass 6 MB. Records the
stream no longer keeps (past its retention) are dropped first, as a GetRecords poller would never see
them. With tumbling windows a batch never spans two windows, and a window's end cuts its final,
record-less invoke (``windows.py``). Each record's event JSON is built once, when its batch is cut.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from lambda_emu.event_sources.kinesis.lanes import Batch, Lane
from lambda_emu.event_sources.kinesis.records import ENVELOPE_BYTES, MAX_BATCH_BYTES, RecordFormat, fills_payload
from lambda_emu.event_sources.kinesis.windows import open_window

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.kinesis.streams import Stream
    from lambda_emu.emulator.services.lambda_.mappings import EventSourceMapping


def record_suffix(role: str, region: str, stream_arn: str) -> str:
    """The fields every record of the mapping shares, JSON-encoded once per batch."""
    return (
        f'"invokeIdentityArn":{json.dumps(role)},"awsRegion":{json.dumps(region)},'
        f'"eventSourceARN":{json.dumps(stream_arn)}'
    )


class BatchCutter:
    """Cuts the batches of one stream mapping's lanes (see the module docstring)."""

    def __init__(self, mapping: EventSourceMapping, clock: Clock, record_format: RecordFormat, *, region: str,
                 wake: Callable[[Lane], None], skip_filtered: Callable[[Lane], None]) -> None:
        self.mapping = mapping
        self.clock = clock
        self.format = record_format
        self.region = region
        #: Runs the lane again (a batching window or a tumbling window ended).
        self._wake = wake
        #: Moves the checkpoint past filtered-out records nothing undelivered precedes.
        self._skip_filtered = skip_filtered

    def next_batch(self, lane: Lane, role: str, stream: Stream, stream_arn: str) -> Batch | None:
        """The lane's next batch (its pending one first), or None while there is none to invoke yet."""
        if lane.work:
            return lane.work[0]
        if lane.filtered:
            self._skip_filtered(lane)
        now = self.clock.now()
        self._drop_past_retention(lane, stream, now)
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
                return self.next_batch(lane, role, stream, stream_arn)
            if window is None:
                window = open_window(lane, self.mapping.tumbling_window, lane.buffer[0].approximate_arrival, now,
                                     self.clock, self._wake)
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
        batch = self._cut(lane, record_suffix(role, self.region, stream_arn), available)
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

    def _cut(self, lane: Lane, suffix: str, count: int) -> Batch:
        """The next batch: the first ``count`` buffered records, cut short at 6 MB."""
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

    @staticmethod
    def _drop_past_retention(lane: Lane, stream: Stream, now: float) -> None:
        """Records the stream no longer keeps are gone, as they would be for a GetRecords poller."""
        horizon = now - stream.retention_hours * 3600
        buffer = lane.buffer
        while buffer and buffer[0].approximate_arrival < horizon:
            buffer.popleft()

    def _batching_window_closed(self, lane: Lane) -> None:
        lane.batching_timer = None
        self._wake(lane)
