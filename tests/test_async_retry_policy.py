"""Lambda's async retry policy as a pure function (event_sources.async_queue.decide), without I/O."""

from __future__ import annotations

import pytest

from lambda_emu.emulator.invocation.invoker import InvokeResult
from lambda_emu.emulator.invocation.outcomes import Outcome
from lambda_emu.event_sources.async_queue import AsyncEvent, Decision, RetryConfig, dead_letter_error, decide


def event(invocations: int = 1, throttles: int = 0, enqueued_at: float = 0.0) -> AsyncEvent:
    return AsyncEvent("rid", "fn", b"{}", "arn", enqueued_at, invocations=invocations, throttles=throttles)


def test_success_finishes() -> None:
    assert decide(event(), RetryConfig(), "success", 0.0) == Decision(condition="Success")


@pytest.mark.parametrize(("invocations", "now", "retry_at"), [(1, 5.0, 65.0), (2, 65.0, 185.0)])
def test_function_errors_retry_after_60_then_120_seconds(invocations: int, now: float, retry_at: float) -> None:
    assert decide(event(invocations), RetryConfig(), "function_error", now) == Decision(retry_at=retry_at)


@pytest.mark.parametrize(("max_retries", "invocations"), [(0, 1), (1, 2), (2, 3)])
def test_retries_are_exhausted_after_maximum_retry_attempts(max_retries: int, invocations: int) -> None:
    config = RetryConfig(max_retries=max_retries)
    assert decide(event(invocations), config, "function_error", 0.0) == Decision(condition="RetriesExhausted")


def test_a_retry_that_would_start_at_or_past_the_maximum_age_is_not_made() -> None:
    # Recorded on AWS: age 60 → one attempt; age 90 → two (spec §1.4).
    expired = Decision(condition="EventAgeExceeded")
    assert decide(event(1), RetryConfig(max_event_age=60), "function_error", 0.0) == expired
    assert decide(event(1), RetryConfig(max_event_age=90), "function_error", 0.0) == Decision(retry_at=60.0)
    assert decide(event(2), RetryConfig(max_event_age=90), "function_error", 60.0) == expired


@pytest.mark.parametrize(("throttles", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (30, 300.0)])
def test_throttles_back_off_from_1_second_to_5_minutes(throttles: int, delay: float) -> None:
    assert decide(event(0, throttles), RetryConfig(), "throttled", 1000.0) == Decision(retry_at=1000.0 + delay)


def test_throttles_do_not_count_against_retries_but_stop_at_the_maximum_age() -> None:
    config = RetryConfig(max_retries=0, max_event_age=100)
    # Not RetriesExhausted: the function never ran. The last try is at the maximum age itself.
    assert decide(event(0, throttles=8), config, "throttled", 90.0) == Decision(retry_at=100.0)


@pytest.mark.parametrize(("throttles", "delay"), [(1, 1.0), (3, 4.0), (10, 300.0)])
def test_system_errors_back_off_like_throttles_and_do_not_count_against_retries(throttles: int, delay: float) -> None:
    # AWS returns events that hit a throttle (429) or a system error (5xx) to the queue alike (spec §1.3).
    config = RetryConfig(max_retries=0)
    assert decide(event(0, throttles), config, "system_error", 1000.0) == Decision(retry_at=1000.0 + delay)
    # ...and like throttles they stop at the maximum age, never with RetriesExhausted.
    aged = RetryConfig(max_retries=0, max_event_age=100)
    assert decide(event(0, throttles=8), aged, "system_error", 90.0) == Decision(retry_at=100.0)


def test_the_dead_letter_error_names_what_the_last_attempt_came_to() -> None:
    throttled = event(0, throttles=3)
    throttled.not_reached = "throttled"
    assert dead_letter_error(throttled) == (429, "Rate Exceeded.")

    failed = event(1)
    failed.last = InvokeResult("rid", "function_error", Outcome("error", b"{}", "Boom", "it broke"))
    assert dead_letter_error(failed) == (200, "it broke")

    broken = event(0, throttles=1)
    broken.not_reached = "system_error"
    broken.system_error = "RuntimeError: no runtime API port"
    assert dead_letter_error(broken) == (
        500, "lambda-emu could not run the invocation: RuntimeError: no runtime API port")
