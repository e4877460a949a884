"""The stream event source mapping's retry rules, without I/O (lambda_emu/event_sources/kinesis/retry_policy.py)."""

from __future__ import annotations

import json

import pytest

from lambda_emu.event_sources.kinesis.retry_policy import (
    Decision,
    Response,
    StreamRetryConfig,
    batch_item_failures,
    classify,
    decide,
    expired_prefix,
    retry_delay,
    throttle_retry_at,
    window_state_too_large,
)

SEQUENCES = ["49000000000000000000000000000000000000000000000000000001",
             "49000000000000000000000000000000000000000000000000000002",
             "49000000000000000000000000000000000000000000000000000003"]  # fmt: skip
RBIF = StreamRetryConfig(report_batch_item_failures=True)


# ---- backoff -----------------------------------------------------------------------------------


def test_backoff_doubles_from_one_second_then_holds_at_twelve() -> None:
    assert [retry_delay(n) for n in range(8)] == [1.0, 2.0, 4.0, 8.0, 12.0, 12.0, 12.0, 12.0]


def test_backoff_gives_eight_invocations_within_sixty_seconds_of_record_age() -> None:
    """Spec §3.3 / recorded §3.5: retries -1, MaximumRecordAge 60, always failing → approximateInvokeCount 8."""
    config = StreamRetryConfig(maximum_record_age=60)
    arrival, now, invocations = 0.0, 0.0, 0
    while expired_prefix([arrival], config.maximum_record_age, now) == 0:
        invocations += 1
        decision = decide(1, invocations, Response(0, "Unhandled"), config, now)
        assert decision.retry_at is not None
        now = decision.retry_at
    assert invocations == 8
    assert now == 63.0


def test_throttles_back_off_on_the_same_schedule() -> None:
    assert [throttle_retry_at(n, 100.0) for n in (1, 2, 3, 4, 5, 9)] == [101.0, 102.0, 104.0, 108.0, 112.0, 112.0]


# ---- reading the response ---------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"null", b'""', b"[]", b"{}", b'{"batchItemFailures": []}',
                                     b'{"batchItemFailures": null}', b'{"other": 1}', b"42", b"not json"])  # fmt: skip
def test_partial_response_success_shapes(payload: bytes) -> None:
    assert classify(False, payload, SEQUENCES, RBIF) == Response(None)


@pytest.mark.parametrize("failures", [
    [{"itemIdentifier": ""}],
    [{"itemIdentifier": None}],
    [{"itemIdentifier": 123}],
    [{"foo": 123}],
    [{"foo": None}],
    [{"itemIdentifier": "49000000000000000000000000000000000000000000000000000009"}],
    [{"itemIdentifier": SEQUENCES[1]}, {"itemIdentifier": "unknown"}],
    ["just a string"],
    "not a list",
])  # fmt: skip
def test_partial_response_whole_batch_failure_shapes(failures: object) -> None:
    payload = json.dumps({"batchItemFailures": failures}).encode()
    response = classify(False, payload, SEQUENCES, RBIF)
    assert response == Response(0, None)  # functionError null: the function did not raise


def test_partial_response_checkpoints_at_the_lowest_sequence_number() -> None:
    failures = [{"itemIdentifier": SEQUENCES[2]}, {"itemIdentifier": SEQUENCES[1]}]
    assert batch_item_failures({"batchItemFailures": failures}, SEQUENCES) == 1
    assert batch_item_failures({"batchItemFailures": [{"itemIdentifier": SEQUENCES[0]}]}, SEQUENCES) == 0


def test_an_exception_is_a_whole_batch_failure_with_unhandled() -> None:
    assert classify(True, b'{"errorMessage": "x"}', SEQUENCES, RBIF) == Response(0, "Unhandled")
    assert classify(True, b"", SEQUENCES, StreamRetryConfig()) == Response(0, "Unhandled")


def test_without_report_batch_item_failures_the_payload_is_ignored() -> None:
    payload = json.dumps({"batchItemFailures": [{"itemIdentifier": SEQUENCES[1]}]}).encode()
    assert classify(False, payload, SEQUENCES, StreamRetryConfig()) == Response(None)


def test_tumbling_window_response_needs_state() -> None:
    windowed = StreamRetryConfig(tumbling=True)
    assert classify(False, b'{"state": {"n": 3}}', SEQUENCES, windowed) == Response(None, state={"n": 3})
    assert classify(False, b'{"n": 3}', SEQUENCES, windowed) == Response(0)
    assert classify(False, b"null", SEQUENCES, windowed) == Response(0)
    both = StreamRetryConfig(tumbling=True, report_batch_item_failures=True)
    payload = json.dumps({"state": {"n": 1}, "batchItemFailures": [{"itemIdentifier": SEQUENCES[2]}]}).encode()
    assert classify(False, payload, SEQUENCES, both) == Response(2, state={"n": 1})


def test_window_state_limit_is_one_megabyte() -> None:
    assert not window_state_too_large({"x": "a" * 1000})
    assert window_state_too_large({"x": "a" * (1024 * 1024)})


# ---- deciding ---------------------------------------------------------------------------------


def test_success_checkpoints_the_whole_batch() -> None:
    assert decide(100, 1, Response(None), StreamRetryConfig(), 0.0) == Decision(done=100)


def test_failure_retries_with_backoff_until_maximum_retry_attempts() -> None:
    config = StreamRetryConfig(maximum_retry_attempts=2)
    failed = Response(0, "Unhandled")
    assert decide(10, 1, failed, config, 50.0) == Decision(done=0, retry_at=51.0)
    assert decide(10, 2, failed, config, 51.0) == Decision(done=0, retry_at=53.0)
    assert decide(10, 3, failed, config, 53.0) == Decision(done=0, condition="RetryAttemptsExhausted")


def test_zero_retries_gives_up_after_one_invocation_and_minus_one_never_does() -> None:
    failed = Response(0, "Unhandled")
    assert decide(1, 1, failed, StreamRetryConfig(maximum_retry_attempts=0), 0.0).condition == "RetryAttemptsExhausted"
    assert decide(1, 10_000, failed, StreamRetryConfig(maximum_retry_attempts=-1), 0.0).retry_at == 12.0


def test_partial_failure_without_bisect_retries_the_rest_and_consumes_retries() -> None:
    """Recorded §3.7: BatchSize 3, retries 3, record #6 always failed → 1 + 3 invocations."""
    config = StreamRetryConfig(maximum_retry_attempts=3, report_batch_item_failures=True)
    assert decide(3, 1, Response(2), config, 0.0) == Decision(done=2, retry_at=1.0)
    assert decide(1, 2, Response(0), config, 1.0) == Decision(done=0, retry_at=3.0)
    assert decide(1, 3, Response(0), config, 3.0) == Decision(done=0, retry_at=7.0)
    assert decide(1, 4, Response(0), config, 7.0) == Decision(done=0, condition="RetryAttemptsExhausted")


def test_bisect_halves_a_failed_batch_without_consuming_retries() -> None:
    config = StreamRetryConfig(maximum_retry_attempts=0, bisect=True)
    failed = Response(0, "Unhandled")
    assert decide(100, 1, failed, config, 0.0) == Decision(done=0, split=(0, 50))
    assert decide(25, 1, failed, config, 0.0) == Decision(done=0, split=(0, 12))
    assert decide(2, 1, failed, config, 0.0) == Decision(done=0, split=(0, 1))
    assert decide(1, 1, failed, config, 0.0) == Decision(done=0, condition="RetryAttemptsExhausted")


def test_bisect_with_partial_response_splits_at_the_returned_sequence_number() -> None:
    config = StreamRetryConfig(maximum_retry_attempts=0, bisect=True, report_batch_item_failures=True)
    assert decide(10, 1, Response(7), config, 0.0) == Decision(done=7, split=(7,))
    # A failure at the batch's first record makes no progress that way: halve instead.
    assert decide(10, 1, Response(0), config, 0.0) == Decision(done=0, split=(0, 5))


def test_expired_prefix() -> None:
    arrivals = [0.0, 10.0, 20.0, 70.0]
    assert expired_prefix(arrivals, -1, 1_000.0) == 0
    assert expired_prefix(arrivals, 60, 60.0) == 0
    assert expired_prefix(arrivals, 60, 60.5) == 1
    assert expired_prefix(arrivals, 60, 81.0) == 3
    assert expired_prefix(arrivals, 60, 200.0) == 4
