"""The stream event source mapping's retry rules, as pure functions (no I/O, no clock).

What a batch's invocation result means (:func:`classify`), how old records are dropped before an
invoke (:func:`expired_prefix`) and what happens next (:func:`decide`), so each rule can be tested
without a server. The poller (:mod:`.poller`) only runs invocations and timers.

Backoff (documented, AWS does not publish its cadence)
    A retry of the same records waits 1, 2, 4, 8 s, then 12 s for every later retry
    (:func:`retry_delay`). With an always-failing function, MaximumRetryAttempts -1 and
    MaximumRecordAgeInSeconds 60, that gives invocations at 0, 1, 3, 7, 15, 27, 39 and 51 s of record
    age and a RecordAgeExceeded record at 63 s with approximateInvokeCount 8, which is what AWS was
    recorded doing (docs/aws-behaviour.md §Kinesis event source mapping: Retries). Throttled invocations
    back off on the same schedule (counted by consecutive throttles) and never count against
    MaximumRetryAttempts.

Bisect (BisectBatchOnFunctionError)
    A batch of n > 1 records that fails as a whole is split into records[: n // 2] and
    records[n // 2 :] (100 → 50 + 50, 25 → 12 + 13); the halves are new batches, invoked at once and in
    order, each with its own invoke count starting at 0 — splitting consumes no retry quota. A batch of
    one record that fails is retried with the backoff above until MaximumRetryAttempts, then discarded.
    With ReportBatchItemFailures, a partial failure at sequence number S splits the batch at S instead:
    the records before S are done, the records from S on are a new batch (again no retry consumed).
    A partial failure at the batch's first record is a whole-batch failure and halves the batch.

Invoke count
    approximateInvokeCount is the number of invocations of the discarded records' batch (retries + 1);
    when records expire before they were ever invoked it is 1, as AWS recorded (docs/aws-behaviour.md §Kinesis event
    source mapping: On-failure records).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lambda_emu.emulator.platform.documents import json_or_text

RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
RETRY_DELAY_CAP = 12.0
#: Tumbling window state above this ends the window early (docs/aws-behaviour.md §Kinesis event source mapping:
#: Tumbling windows: "max 1 MB per shard").
MAX_WINDOW_STATE_BYTES = 1024 * 1024

Condition = Literal["RetryAttemptsExhausted", "RecordAgeExceeded"]


def retry_delay(retries_done: int) -> float:
    """Seconds before retry number ``retries_done + 1`` (or before the next try after as many throttles)."""
    if retries_done < len(RETRY_DELAYS):
        return RETRY_DELAYS[max(0, retries_done)]
    return RETRY_DELAY_CAP


@dataclass(frozen=True)
class StreamRetryConfig:
    maximum_retry_attempts: int = -1  # -1: until the records expire
    maximum_record_age: int = -1  # -1: until retention drops them
    bisect: bool = False
    report_batch_item_failures: bool = False
    tumbling: bool = False


# ---- what the function answered ---------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """A batch invocation's result as the mapping reads it.

    ``failed_from``: None when every record succeeded; otherwise the index of the first record to
    retry (0 = the whole batch). ``function_error`` is what the on-failure record's responseContext
    carries: "Unhandled" for an error the function raised, None for a bad partial-batch response.
    """

    failed_from: int | None
    function_error: str | None = None
    state: Any = None

    @property
    def succeeded(self) -> bool:
        return self.failed_from is None


SUCCESS = Response(None)


def classify(errored: bool, payload: bytes, sequence_numbers: Sequence[str], config: StreamRetryConfig) -> Response:
    """Read one invocation's result (docs/aws-behaviour.md §Kinesis event source mapping: ReportBatchItemFailures, and
    its Tumbling windows).

    ``errored``: the function raised (any failure mode: exception, timeout, exit...).
    """
    if errored:
        return Response(0, "Unhandled")
    if not config.report_batch_item_failures and not config.tumbling:
        # Without ReportBatchItemFailures the payload is ignored: a returned invoke is a success.
        return SUCCESS
    # A blank response reads as null, not as the text "".
    document = json_or_text(payload) if payload.strip() else None
    state = None
    if config.tumbling:
        # "If the response does not contain a state property, Lambda considers this a failed invocation."
        if not isinstance(document, dict) or "state" not in document:
            return Response(0)
        state = document["state"]
    if not config.report_batch_item_failures:
        return Response(None, state=state)
    failed_from = batch_item_failures(document, sequence_numbers)
    return Response(failed_from, state=state)


def batch_item_failures(document: Any, sequence_numbers: Sequence[str]) -> int | None:
    """Index of the lowest reported failure, 0 for a complete failure, None for a complete success.

    Complete success: null, "", [], {}, a missing/null/empty ``batchItemFailures`` (documented, and
    observed for "" and []). Complete failure: an ``itemIdentifier`` that is empty, null, not a
    sequence number of this batch, or an item without that key (documented and observed).
    """
    if not isinstance(document, dict):
        return None  # null, "", [], a number or text: AWS reads no failures out of it
    failures = document.get("batchItemFailures")
    if failures is None or failures == []:
        return None
    if not isinstance(failures, list):
        return 0
    positions = {sequence: index for index, sequence in enumerate(sequence_numbers)}
    lowest: int | None = None
    for item in failures:
        if not isinstance(item, dict):
            return 0
        identifier = item.get("itemIdentifier")
        index = positions.get(identifier) if isinstance(identifier, str) else None
        if index is None:
            return 0
        lowest = index if lowest is None else min(lowest, index)
    return lowest


def window_state_too_large(state: Any) -> bool:
    return len(json.dumps(state, separators=(",", ":")).encode()) > MAX_WINDOW_STATE_BYTES


# ---- what happens next ------------------------------------------------------------------------


def expired_prefix(arrivals: Sequence[float], maximum_record_age: int, now: float) -> int:
    """How many leading records are older than MaximumRecordAgeInSeconds (checked before each invoke).

    Records of a shard arrive in order, so the expired ones are always a prefix of a batch.
    """
    if maximum_record_age < 0:
        return 0
    horizon = now - maximum_record_age
    count = 0
    for arrival in arrivals:
        if arrival >= horizon:
            break
        count += 1
    return count


@dataclass(frozen=True)
class Decision:
    """After an invocation of a batch of ``size`` records.

    - ``done``: leading records that are finished (checkpoint after them).
    - ``split``: the rest becomes new batches starting at these indexes (bisect), invoked at once.
    - ``retry_at``: the rest (records[done:]) is retried at this time, one more retry consumed.
    - ``condition``: the rest is discarded and goes to the on-failure destination.
    """

    done: int
    split: tuple[int, ...] = ()
    retry_at: float | None = None
    condition: Condition | None = None


def decide(size: int, invocations: int, response: Response, config: StreamRetryConfig, now: float) -> Decision:
    """The next step for a batch after its ``invocations``-th invocation returned ``response``."""
    if response.failed_from is None:
        return Decision(done=size)
    done = response.failed_from
    remaining = size - done
    if config.bisect:
        if done > 0:
            return Decision(done=done, split=(done,))
        if remaining > 1:
            return Decision(done=0, split=(0, size // 2))
    retries_done = invocations - 1
    if 0 <= config.maximum_retry_attempts <= retries_done:
        return Decision(done=done, condition="RetryAttemptsExhausted")
    return Decision(done=done, retry_at=now + retry_delay(retries_done))


def throttle_retry_at(consecutive_throttles: int, now: float) -> float:
    """A throttled batch never reached the function: try again later, no retry consumed."""
    return now + retry_delay(consecutive_throttles - 1)
