"""Tumbling windows (TumblingWindowInSeconds > 0): a lane's window from its opening to its final invoke.

Windows are aligned to multiples of the window length on the records' arrival times; batches never
span two windows (``batching.py`` cuts at the window's end); the state returned by each invoke is
handed to the next one of the window; at the window's end (a clock timer) a final invoke with no
records carries ``isFinalInvokeForWindow: true``. A state above 1 MB ends the window early: a final
invoke with ``isWindowTerminatedEarly: true``, then the same window continues with a fresh state.
A windowed shard is one lane (the poller's lane layout), so there is one state per shard.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from lambda_emu.event_sources.kinesis.lanes import Batch, Lane, TumblingWindow
from lambda_emu.event_sources.kinesis.records import json_bool, window_time
from lambda_emu.event_sources.kinesis.retry_policy import Response, window_state_too_large

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock


def open_window(lane: Lane, length: int, arrival: float, now: float, clock: Clock,
                wake: Callable[[Lane], None]) -> TumblingWindow:
    """The window of ``length`` seconds a record arriving at ``arrival`` falls in, opened on ``lane``;
    at its end the lane is woken for the final invoke."""
    start = float(int(arrival // length) * length)
    window = TumblingWindow(start, start + length)
    lane.window = window
    if window.end <= now:
        window.final_due = True
    else:
        window.timer = clock.call_at(window.end, lambda: _window_ended(lane, window, wake))
    return window


def _window_ended(lane: Lane, window: TumblingWindow, wake: Callable[[Lane], None]) -> None:
    window.timer = None
    if lane.window is window:
        window.final_due = True
        wake(lane)


def window_fields(window: TumblingWindow, batch: Batch, shard_id: str, stream_arn: str) -> str:
    """The event's window members, after its Records (JSON text, appended to the event)."""
    return (
        f',"window":{{"start":"{window_time(window.start)}","end":"{window_time(window.end)}"}},'
        f'"state":{json.dumps(window.state, separators=(",", ":"))},'
        f'"shardId":"{shard_id}","eventSourceARN":{json.dumps(stream_arn)},'
        f'"isFinalInvokeForWindow":{json_bool(batch.final)},"isWindowTerminatedEarly":{json_bool(batch.terminated_early)}'
    )


def keep_window_state(lane: Lane, batch: Batch, response: Response) -> None:
    """The state an invoke returned goes to the next invoke of the window (not a failed batch's, not
    the final invoke's)."""
    window = lane.window
    if window is None or response.failed_from == 0 or batch.final:
        return
    window.state = response.state
    if window_state_too_large(response.state):
        # AWS ends a window whose state passes 1 MB; the same window then goes on with a fresh state.
        window.final_due = True
        window.terminated_early = True


def close_window(lane: Lane, batch: Batch) -> None:
    """After a final invoke: the window is over, or (terminated early) goes on with a fresh state."""
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
