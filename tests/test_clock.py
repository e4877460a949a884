"""The clock on its own: timers in order, tracked work, settling, and fast-forward of a scaled clock."""

from __future__ import annotations

import asyncio

import pytest

from lambda_emu.emulator.platform.clock import Clock, iso8601


async def test_manual_advance_fires_timers_in_time_order_and_waits_for_their_work() -> None:
    clock = Clock("manual", start=1000.0)
    fired: list[tuple[str, float]] = []

    async def work(name: str) -> None:
        await asyncio.sleep(0.01)  # real work takes (wall) time; advance must wait for it
        fired.append((name, clock.now()))

    clock.call_at(1030.0, lambda: work("b"))
    clock.call_at(1010.0, lambda: work("a"))
    clock.call_at(1100.0, lambda: work("late"))
    await clock.advance(50)
    assert fired == [("a", 1010.0), ("b", 1030.0)]
    assert clock.now() == 1050.0
    assert clock.next_timer_at() == 1100.0


async def test_settle_runs_chains_of_timers_until_nothing_is_left() -> None:
    clock = Clock("manual", start=0.0)
    seen: list[float] = []

    def step() -> None:
        seen.append(clock.now())
        if len(seen) < 4:
            clock.call_later(60 * len(seen), step)

    clock.call_later(0, step)
    await clock.settle(3600)
    assert seen == [0.0, 60.0, 180.0, 360.0]
    assert clock.next_timer_at() is None and not clock.busy


async def test_settle_stops_at_its_horizon() -> None:
    clock = Clock("manual", start=0.0)
    clock.call_at(10.0, lambda: None)
    clock.call_at(500.0, lambda: None)
    await clock.settle(100)
    assert clock.now() == 10.0
    assert clock.next_timer_at() == 500.0


async def test_tracked_work_sleeping_on_the_clock_does_not_block_advance() -> None:
    clock = Clock("manual", start=0.0)
    done: list[float] = []

    async def waits() -> None:
        await clock.sleep(30)
        done.append(clock.now())

    clock.spawn(waits())
    await asyncio.sleep(0)
    await clock.advance(10)  # would hang if a sleeping task counted as busy
    assert done == []
    await clock.advance(20)
    assert done == [30.0]


async def test_scaled_clock_runs_faster_than_wall_time_and_fast_forwards() -> None:
    clock = Clock("scaled", scale=1000)
    fired = asyncio.Event()
    start = clock.now()
    clock.call_later(50, fired.set)  # 50 virtual seconds = 50 ms of wall time
    await asyncio.wait_for(fired.wait(), 5)
    assert clock.now() - start >= 50
    late = asyncio.Event()
    clock.call_later(10_000_000, late.set)  # ~3 wall hours at 1000x
    await clock.advance(10_000_000)  # fast-forward fires it now
    assert late.is_set()
    clock.close()


def test_iso8601_has_milliseconds_and_z() -> None:
    assert iso8601(0) == "1970-01-01T00:00:00.000Z"
    assert iso8601(1573755365.5681) == "2019-11-14T18:16:05.568Z"


def test_scaled_clock_needs_a_positive_scale() -> None:
    with pytest.raises(ValueError):
        Clock("scaled", scale=0)
