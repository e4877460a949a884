"""The single source of platform time and timers.

Every platform delay (async retries, throttle backoff, event age, SQS visibility and delays,
batching windows, stream retries, retention) runs on this clock, so a test can move minutes of
AWS behaviour in milliseconds. Three modes:

- ``real``: virtual time is wall time.
- ``scaled``: virtual time runs ``scale`` times faster than wall time.
- ``manual``: virtual time moves only through :meth:`Clock.advance` / :meth:`Clock.settle`.

Platform work started by a timer (an invocation, a delivery) is run with :meth:`Clock.spawn` so
``advance`` can answer only when that work is done. A tracked task that waits on
:meth:`Clock.sleep` does not count as busy: it is waiting for the clock, not holding it up.

Function timeouts, memory watching and environment reaping are physical behaviour and stay on
wall time; they use :meth:`Clock.wall_call_later` so that even those go through this module.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

ClockMode = Literal["real", "scaled", "manual"]
TimerCallback = Callable[[], Any]


class Timer:
    """A handle on a scheduled callback; ``cancel()`` is idempotent."""

    __slots__ = ("when", "seq", "callback", "cancelled", "generation")

    def __init__(self, when: float, seq: int, callback: TimerCallback, generation: int = 0) -> None:
        self.when = when
        self.seq = seq
        self.callback = callback
        self.cancelled = False
        self.generation = generation

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class Clock:
    def __init__(self, mode: ClockMode = "real", scale: float = 1.0, start: float | None = None) -> None:
        if mode == "scaled" and scale <= 0:
            raise ValueError("time scale must be positive")
        self.mode: ClockMode = mode
        self.scale = scale if mode == "scaled" else 1.0
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()
        self._origin_virtual = self._origin_wall if start is None else start
        self._manual_now = self._origin_virtual
        self._offset = 0.0  # fast-forward applied to a real or scaled clock by advance()
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._armed: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None
        self._tracked: set[asyncio.Task[Any]] = set()
        self._sleeping: dict[asyncio.Task[Any], int] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._advancing = asyncio.Lock()
        self._closed = False
        #: The generation of platform work: moved on by :meth:`reset_work` (``POST /_emu/reset``).
        #: Work that outlives an await compares the generation it started in with this one, so
        #: nothing from before a reset acts after it.
        self.generation = 0

    # ---- reading time -------------------------------------------------------------------

    def now(self) -> float:
        """Virtual time, epoch seconds."""
        if self.mode == "manual":
            return self._manual_now
        if self.mode == "real":
            return time.time() + self._offset
        return self._origin_virtual + (time.monotonic() - self._origin_mono) * self.scale + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    @staticmethod
    def wall() -> float:
        """Wall-clock epoch seconds, for things AWS measures in real time (deadlines, durations)."""
        return time.time()

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    # ---- the state directory -----------------------------------------------------------------

    def saved_time(self) -> dict[str, Any]:
        """What a restart needs to go on from this moment: virtual now, and a real clock's fast-forward."""
        return {"mode": self.mode, "now": self.now(), "offset": self._offset}

    def restore_time(self, saved: dict[str, Any]) -> None:
        """Go on from a saved moment: manual and scaled time resume where they stopped (time does not
        run while lambda-emu is down); a real clock is wall time plus the fast-forward it had."""
        if self.mode == "real":
            self._offset = float(saved.get("offset", 0.0)) if saved.get("mode") == "real" else 0.0
            return
        now = float(saved["now"])
        self._manual_now = now
        self._origin_virtual = now
        self._origin_mono = time.monotonic()
        self._offset = 0.0

    def describe(self) -> dict[str, Any]:
        return {"now": iso8601(self.now()), "mode": self.mode, "scale": self.scale}

    # ---- timers -------------------------------------------------------------------------

    def call_at(self, when: float, callback: TimerCallback) -> Timer:
        """Run ``callback`` when virtual time reaches ``when``. A coroutine it returns is tracked work."""
        timer = Timer(when, next(self._seq), callback, self.generation)
        heapq.heappush(self._timers, timer)
        self._arm()
        return timer

    def call_later(self, delay: float, callback: TimerCallback) -> Timer:
        return self.call_at(self.now() + max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds of virtual time."""
        if delay <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        task = asyncio.current_task()
        if task is not None and task in self._tracked:
            self._sleeping[task] = self._sleeping.get(task, 0) + 1
            self._update_idle()
        try:
            await future
        finally:
            timer.cancel()
            if task is not None and task in self._sleeping:
                self._sleeping[task] -= 1
                if self._sleeping[task] <= 0:
                    del self._sleeping[task]
                self._update_idle()

    def wall_call_later(self, delay: float, callback: Callable[[], Any]) -> asyncio.TimerHandle:
        """A wall-clock timer, for physical behaviour only (timeouts, memory watch, reaping)."""
        return asyncio.get_running_loop().call_later(delay, callback)

    def next_timer_at(self) -> float | None:
        self._drop_cancelled()
        return self._timers[0].when if self._timers else None

    # ---- tracked work -------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Start platform work that ``advance``/``settle`` wait for."""
        task = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tracked.add(task)
        self._idle.clear()
        task.add_done_callback(self._untrack)
        return task

    def _untrack(self, task: asyncio.Task[Any]) -> None:
        self._tracked.discard(task)
        self._sleeping.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            # Platform work must never die silently: surface it in lambda-emu's own log.
            from lambda_emu.emulator.platform.logging import get_logger

            get_logger("clock").error("platform task failed", task=task.get_name(), exc_info=task.exception())
        self._update_idle()

    def _update_idle(self) -> None:
        busy = any(t not in self._sleeping for t in self._tracked)
        if busy:
            self._idle.clear()
        else:
            self._idle.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    async def wait_idle(self) -> None:
        """Until no tracked work is running (work sleeping on the clock counts as idle)."""
        while True:
            await self._idle.wait()
            # Let callbacks scheduled by the work that just finished run, then re-check.
            for _ in range(3):
                await asyncio.sleep(0)
            if self._idle.is_set():
                return

    # ---- moving time (manual mode; also usable in scaled mode for fast-forward) ------------

    async def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        async with self._advancing:
            await self.wait_idle()
            target = self.now() + seconds
            await self._run_until(target)
            if self.mode == "manual":
                self._manual_now = max(self._manual_now, target)
            else:
                self._shift(target - self.now())
            return self.now()

    async def settle(self, max_seconds: float = 86400.0) -> float:
        async with self._advancing:
            horizon = self.now() + max_seconds
            await self.wait_idle()
            await self._run_until(horizon)
            return self.now()

    async def _run_until(self, target: float) -> None:
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0].when > target:
                return
            timer = heapq.heappop(self._timers)
            if self.mode == "manual":
                self._manual_now = max(self._manual_now, timer.when)
            elif timer.when > self.now():
                self._shift(timer.when - self.now())
            self._fire(timer)
            await self.wait_idle()

    def _shift(self, seconds: float) -> None:
        """Jump a real/scaled clock forward (fast-forward): move its origin."""
        if seconds <= 0:
            return
        self._offset += seconds
        # The armed loop timer was computed for the old time: arm again for the new one.
        if self._armed is not None:
            self._armed.cancel()
            self._armed = None
            self._armed_for = None
        self._arm()

    def _fire(self, timer: Timer) -> None:
        if timer.cancelled or timer.generation != self.generation:
            return
        timer.cancelled = True
        result = timer.callback()
        if asyncio.iscoroutine(result):
            self.spawn(result, name="timer")

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)

    # ---- real/scaled mode: one loop timer for the earliest platform timer ------------------

    def _arm(self) -> None:
        if self.mode == "manual" or self._closed:
            return
        self._drop_cancelled()
        if not self._timers:
            return
        when = self._timers[0].when
        if self._armed is not None and self._armed_for is not None and self._armed_for <= when:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._armed is not None:
            self._armed.cancel()
        delay = max(0.0, (when - self.now()) / self.scale)
        self._armed_for = when
        self._armed = loop.call_later(delay, self._on_armed)

    def _on_armed(self) -> None:
        self._armed = None
        self._armed_for = None
        now = self.now()
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0].when > now:
                break
            self._fire(heapq.heappop(self._timers))
        self._arm()

    def reset_work(self) -> None:
        """Forget every platform timer and cancel all tracked work, leaving time where it is (a manual
        clock never goes back): what ``POST /_emu/reset`` needs so that nothing scheduled or running
        before it can act after it."""
        self.generation += 1
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._armed is not None:
            self._armed.cancel()
            self._armed = None
            self._armed_for = None
        for task in list(self._tracked):
            task.cancel()

    def close(self) -> None:
        self._closed = True
        if self._armed is not None:
            self._armed.cancel()
        for task in list(self._tracked):
            task.cancel()


def iso8601(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds and Z, as AWS writes record timestamps."""
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
