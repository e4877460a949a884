"""Lambda's async retry policy as a pure function (event_sources.async_queue.decide), without I/O."""

from __future__ import annotations

import pytest

from lambda_emu.event_sources.async_queue import AsyncEvent, Decision, RetryConfig, decide


def event(invocations: int = 1, throttles: int = 0, enqueued_at: float = 0.0) -> AsyncEvent:
    return AsyncEvent("rid", "fn", b"{}", "arn", enqueued_at, invocations=invocations, throttles=throttles)


def test_success_finishes() -> None:
    assert decide(event(), RetryConfig(), "success", 0.0) == Decision(condition="Success")


@pytest.mark.parametrize(("invocations", "now", "retry_at"), [(1, 5.0, 65.0), (2, 65.0, 185.0)])
def test_function_errors_retry_after_60_then_120_seconds(invocations: int, now: float, retry_at: float) -> None:
    assert decide(event(invocations), RetryConfig(), "error", now) == Decision(retry_at=retry_at)


@pytest.mark.parametrize(("max_retries", "invocations"), [(0, 1), (1, 2), (2, 3)])
def test_retries_are_exhausted_after_maximum_retry_attempts(max_retries: int, invocations: int) -> None:
    config = RetryConfig(max_retries=max_retries)
    assert decide(event(invocations), config, "error", 0.0) == Decision(condition="RetriesExhausted")


def test_a_retry_that_would_start_at_or_past_the_maximum_age_is_not_made() -> None:
    # Recorded on AWS: age 60 → one attempt; age 90 → two (spec §1.4).
    assert decide(event(1), RetryConfig(max_event_age=60), "error", 0.0) == Decision(condition="EventAgeExceeded")
    assert decide(event(1), RetryConfig(max_event_age=90), "error", 0.0) == Decision(retry_at=60.0)
    assert decide(event(2), RetryConfig(max_event_age=90), "error", 60.0) == Decision(condition="EventAgeExceeded")


@pytest.mark.parametrize(("throttles", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (30, 300.0)])
def test_throttles_back_off_from_1_second_to_5_minutes(throttles: int, delay: float) -> None:
    assert decide(event(0, throttles), RetryConfig(), "throttled", 1000.0) == Decision(retry_at=1000.0 + delay)


def test_throttles_do_not_count_against_retries_but_stop_at_the_maximum_age() -> None:
    config = RetryConfig(max_retries=0, max_event_age=100)
    # Not RetriesExhausted: the function never ran. The last try is at the maximum age itself.
    assert decide(event(0, throttles=8), config, "throttled", 90.0) == Decision(retry_at=100.0)
