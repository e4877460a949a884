"""The async invocation queue (InvocationType=Event), with Lambda's retry rules on the platform clock.

- Function errors (every failure mode: exceptions, timeouts, exits, out-of-memory, init errors) are
  retried after 60 s, then 120 s, up to MaximumRetryAttempts (0-2, default 2).
- Throttles and system errors (lambda-emu could not run the attempt: AWS's 5xx) back off exponentially
  from 1 s to 5 min and don't count against MaximumRetryAttempts.
- Every retry must start before MaximumEventAgeInSeconds (default 6 h): a retry that would land at or
  past the maximum age is not made; the event fails at once with EventAgeExceeded (AWS's recorded
  behaviour, docs/aws-behaviour.md §Async invocation: Event age).
- Reserved concurrency 0: no attempt at all; the failure goes out with ZeroReservedConcurrency.
- Every attempt of an event carries the request ID the Invoke call returned.

The rules are pure functions of (event, config, outcome, now) → decision (:func:`decide`); the queue
only runs attempts and timers. Events wait in a per-function queue served by a bounded number of
pollers (AWS scales its pollers; locally each poller may need a runtime process, so the number is
capped, ``--async-concurrency``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lambda_emu.emulator.invocation.narration import DUPLICATE, dropped_text, event_subject
from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.documents import json_or_text
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.destinations import Destinations
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.invoker import InvokeKind, Invoker, InvokeResult
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.platform.faults import Faults
    from lambda_emu.emulator.platform.state import StateStore

log = get_logger("async_queue")

RETRY_DELAYS = (60.0, 120.0)  # after the 1st and the 2nd failed attempt
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE = 21600
THROTTLE_FIRST_DELAY = 1.0
THROTTLE_MAX_DELAY = 300.0

Condition = Literal["Success", "RetriesExhausted", "EventAgeExceeded", "ZeroReservedConcurrency"]


@dataclass
class AsyncEvent:
    request_id: str
    function_name: str
    payload: bytes
    invoked_arn: str
    enqueued_at: float
    invocations: int = 0  # attempts that reached the function (approximateInvokeCount)
    throttles: int = 0  # consecutive attempts that never reached the function (backoff exponent)
    duplicate: bool = False
    # Drawn at intake, in the order Invoke calls arrive, so a seed gives the same run whatever
    # order attempts happen to finish in (the copy itself still follows the first attempt).
    wants_duplicate: bool = False
    last: InvokeResult | None = None  # the last attempt that reached the function
    #: Why the last attempt did not reach the function (None when it did).
    not_reached: Literal["throttled", "system_error"] | None = None
    system_error: str | None = None  # the last system error, for the dead-letter message
    #: Its record in the state directory (--state-dir), given when first written.
    key: str = ""


@dataclass(frozen=True)
class RetryConfig:
    max_retries: int = DEFAULT_MAX_RETRIES
    max_event_age: int = DEFAULT_MAX_EVENT_AGE

    @classmethod
    def of(cls, config: dict[str, Any] | None) -> RetryConfig:
        config = config or {}
        return cls(
            max_retries=config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES),
            max_event_age=config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE),
        )


@dataclass(frozen=True)
class Decision:
    """Retry at ``retry_at``, or finish with ``condition``."""

    retry_at: float | None = None
    condition: Condition | None = None


def decide(event: AsyncEvent, config: RetryConfig, outcome: InvokeKind, now: float) -> Decision:
    """Lambda's async retry policy, as a pure function."""
    if outcome == "success":
        return Decision(condition="Success")
    deadline = event.enqueued_at + config.max_event_age
    if outcome in ("throttled", "system_error"):
        # Lambda returns throttled (429) and system-error (5xx) events to the queue with the same
        # backoff, uncounted; they stay until they expire: the last try is at the event's maximum age.
        delay = min(THROTTLE_MAX_DELAY, THROTTLE_FIRST_DELAY * 2 ** max(0, event.throttles - 1))
        return Decision(retry_at=min(now + delay, deadline))
    retries_done = event.invocations - 1
    if retries_done >= config.max_retries:
        return Decision(condition="RetriesExhausted")
    delay = RETRY_DELAYS[min(retries_done, len(RETRY_DELAYS) - 1)]
    if now + delay >= deadline:
        # AWS doesn't make a retry that would start at or past the maximum age (recorded; docs/aws-behaviour.md §Async
        # invocation: Event age).
        return Decision(condition="EventAgeExceeded")
    return Decision(retry_at=now + delay)


def invocation_record(now: float, event: AsyncEvent, function: Function, condition: Condition) -> dict[str, Any]:
    """AWS's async invocation record (docs/aws-behaviour.md §Async invocation: Invocation record), field for field."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": iso8601(now),
        "requestContext": {
            "requestId": event.request_id,
            # As invoked: an alias's or a version's ARN, else qualified with $LATEST.
            "functionArn": event.invoked_arn if event.invoked_arn != function.arn else function.arn + ":$LATEST",
            "condition": condition,
            "approximateInvokeCount": event.invocations,
        },
        "requestPayload": json_or_text(event.payload),
    }
    last = event.last
    if last is not None and last.outcome is not None:
        ran = last.attempt.executed_version if last.attempt is not None else function.version
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": ran}
        if last.function_error:
            response_context["functionError"] = last.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = last.payload_json()
    return record


def dead_letter_error(event: AsyncEvent) -> tuple[int, str]:
    """The DLQ message's ErrorCode and ErrorMessage: the HTTP status of the event's last attempt and
    its error (docs/aws-behaviour.md §Async invocation: Dead-letter queue)."""
    if event.not_reached == "system_error":
        # The last attempt failed inside lambda-emu: Lambda's own 5xx, not a throttle.
        return 500, f"lambda-emu could not run the invocation: {event.system_error}"
    last = event.last
    if last is not None and last.outcome is not None:
        return 200, last.outcome.error_message or last.outcome.error_type or ""
    # No attempt ran the function: throttled to the end, or reserved concurrency 0.
    return 429, "Rate Exceeded."


def finish_decision(condition: Condition, target: str | None, dead_letter: str | None) -> dict[str, Any]:
    """The journal's decision for a finished event: its destination, else its dead-letter queue; a
    success with nowhere to go is deleted from the queue, a failure with nowhere to go is discarded.
    With both a destination and a dead-letter queue the destination decision names the DLQ too."""
    if target:
        decision: dict[str, Any] = {"action": "destination", "target": target, "condition": condition}
        if dead_letter:
            decision["deadLetter"] = dead_letter
        return decision
    if dead_letter:
        return {"action": "deadLetter", "target": dead_letter}
    if condition == "Success":
        return {"action": "delete"}
    return {"action": "discard", "reason": condition}


@dataclass
class FunctionQueue:
    ready: deque[AsyncEvent] = field(default_factory=deque)
    pollers: int = 0


class AsyncQueue:
    def __init__(self, functions: FunctionRegistry, invoker: Invoker, destinations: Destinations, clock: Clock,
                 faults: Faults, *, poller_limit: int, state: StateStore | None = None) -> None:
        self.functions = functions
        self._state = state
        self.invoker = invoker
        self.destinations = destinations
        self.clock = clock
        self.faults = faults
        #: Pollers per function (``--async-concurrency``): each may need a runtime process.
        self.poller_limit = poller_limit
        self.queues: dict[str, FunctionQueue] = {}
        self._timers: set[Any] = set()

    # ---- intake ----

    async def enqueue(self, function: Function, payload: bytes, *, request_id: str, invoked_arn: str) -> None:
        event = AsyncEvent(request_id, function.name, payload, invoked_arn, self.clock.now())
        self._saved(event)
        # Reserved concurrency is the function's, whichever version was invoked.
        if (self.functions.find(function.name) or function).reserved_concurrency == 0:
            # No attempt: straight to the failure destination / DLQ (docs/aws-behaviour.md §Async invocation: Throttle
            # backoff).
            self.clock.spawn(self._drop(event, function, "ZeroReservedConcurrency"), name="async-zero")
            return
        event.wants_duplicate = self.faults.roll_duplicate(function.name)
        if event.wants_duplicate:
            self._saved(event)
        self._make_ready(event)

    # ---- the pollers ----

    def _make_ready(self, event: AsyncEvent) -> None:
        queue = self.queues.setdefault(event.function_name, FunctionQueue())
        queue.ready.append(event)
        self._pump(event.function_name)

    def _pump(self, function_name: str) -> None:
        queue = self.queues.get(function_name)
        while queue is not None and queue.ready and queue.pollers < self.poller_limit:
            queue.pollers += 1
            self.clock.spawn(self._poll(function_name, queue), name=f"async-poller:{function_name}")

    async def _poll(self, function_name: str, queue: FunctionQueue) -> None:
        try:
            while queue.ready:
                await self._attempt(queue.ready.popleft())
        finally:
            queue.pollers -= 1

    async def _attempt(self, event: AsyncEvent) -> None:
        # An alias is resolved at each attempt (a weighted one draws its version); a version is itself.
        function = self.functions.routed(event.invoked_arn)
        if function is None:
            return  # the function (or the version or alias invoked) was deleted: its events go with it
        config = RetryConfig.of(self.functions.event_invoke_config_for(event.invoked_arn))
        now = self.clock.now()
        generation = self.clock.generation
        if now >= event.enqueued_at + config.max_event_age:
            finished = await self._finish(event, function, "EventAgeExceeded")
            subject = event_subject("async", event.request_id)
            text = dropped_text("EventAgeExceeded", finished, self.clock.now())
            self.invoker.note(event.function_name, subject, text)
            return
        result = await self.invoker.invoke(function, event.payload, request_id=event.request_id,
                                          source="async", invoked_arn=event.invoked_arn,
                                          duplicate=event.duplicate,
                                          source_detail={"invocationType": "Event"},
                                          context={"maxAttempts": config.max_retries + 1})
        if self.clock.generation != generation:
            return  # a reset happened meanwhile: this event is gone with everything else
        if result.kind == "throttled" or result.kind == "system_error":
            event.throttles += 1
            event.not_reached = result.kind
            event.system_error = result.system_error
        else:
            event.throttles = 0
            event.invocations += 1
            event.last = result
            event.not_reached = None
        if event.invocations == 1 and result.reached_function and event.wants_duplicate:
            event.wants_duplicate = False
            self.invoker.note(event.function_name, event_subject("async", event.request_id), DUPLICATE)
            self._deliver_duplicate(event)
        decision = decide(event, config, result.kind, self.clock.now())
        if decision.retry_at is not None:
            reason = {"throttled": "Throttled", "system_error": "ServiceException"}.get(result.kind, "FunctionError")
            self.invoker.decide(result.attempt, {"action": "retry", "at": iso8601(decision.retry_at),
                                                 "reason": reason})
            self._retry_at(event, decision.retry_at)
        else:
            assert decision.condition is not None
            self.invoker.decide(result.attempt, await self._finish(event, function, decision.condition))

    def _deliver_duplicate(self, event: AsyncEvent) -> None:
        """At-least-once: the same event (same request ID and payload) delivered once more."""
        copy = AsyncEvent(event.request_id, event.function_name, event.payload, event.invoked_arn,
                          event.enqueued_at, duplicate=True)
        self._saved(copy)
        self._make_ready(copy)

    def _retry_at(self, event: AsyncEvent, when: float) -> None:
        self._saved(event, when)
        timer = self.clock.call_at(when, lambda: self._due(event, timer))
        self._timers.add(timer)

    def _due(self, event: AsyncEvent, timer: Any) -> None:
        self._timers.discard(timer)
        self._make_ready(event)

    # ---- the end of an event ----

    async def _finish(self, event: AsyncEvent, function: Function, condition: Condition) -> dict[str, Any]:
        """Send the finished event on; the journal's decision for its last attempt."""
        config = self.functions.event_invoke_config_for(event.invoked_arn) or {}
        destinations = config.get("DestinationConfig") or {}
        target = (destinations.get("OnSuccess" if condition == "Success" else "OnFailure") or {}).get("Destination")
        record = invocation_record(self.clock.now(), event, function, condition)
        if target:
            await self.destinations.send_record(target, record, condition == "Success")
        # The function's dead-letter queue, whichever version ran (AWS: "Function versions use the same
        # DLQ settings as the unpublished version").
        dead_letter = (self.functions.find(function.name) or function).dead_letter_target \
            if condition != "Success" else None
        if dead_letter:
            error_code, message = dead_letter_error(event)
            await self.destinations.send_dead_letter(function, event.payload, event.request_id, error_code,
                                                     message)
        # Only now, with the record delivered: a kill before this line runs the event's end again.
        if self._state is not None and event.key:
            self._state.delete("async-event", event.key)
        return finish_decision(condition, target, dead_letter)

    async def _drop(self, event: AsyncEvent, function: Function, condition: Condition) -> None:
        decision = await self._finish(event, function, condition)
        self.invoker.note(event.function_name, event_subject("async", event.request_id),
                          dropped_text(condition, decision, self.clock.now()))

    # ---- hooks ----

    def function_deleted(self, function: Function) -> None:
        self.queues.pop(function.name, None)
        if self._state is not None:
            self._state.delete_owned("async-event", function.name)

    # ---- the state directory (--state-dir) ----

    def _saved(self, event: AsyncEvent, due_at: float | None = None) -> None:
        """Write the event through: accepted events, their attempt counts and next due time survive a kill."""
        state = self._state
        if state is None:
            return
        if not event.key:
            event.key = uuid.uuid4().hex
        record = {"request_id": event.request_id, "function_name": event.function_name, "payload": event.payload,
                  "invoked_arn": event.invoked_arn, "enqueued_at": event.enqueued_at,
                  "invocations": event.invocations, "throttles": event.throttles, "duplicate": event.duplicate,
                  "wants_duplicate": event.wants_duplicate, "not_reached": event.not_reached,
                  "system_error": event.system_error, "due_at": due_at}
        state.put("async-event", event.key, lambda: record, owner=event.function_name)

    def restore(self) -> None:
        """Events of the state directory: each is due at its saved time, or now — an attempt that was
        running when lambda-emu was killed is made again (at-least-once, as AWS)."""
        state = self._state
        if state is None:
            return
        events = sorted(state.load("async-event"), key=lambda item: item[1]["enqueued_at"])
        now = self.clock.now()
        for key, record in events:
            due_at = record.pop("due_at")
            event = AsyncEvent(**record, key=key)
            function = self.functions.find(event.function_name)
            if function is None:
                state.delete("async-event", key)
            elif function.reserved_concurrency == 0 and not event.invocations:
                self.clock.spawn(self._drop(event, function, "ZeroReservedConcurrency"), name="async-zero")
            elif due_at is not None and due_at > now:
                self._retry_at(event, due_at)
            else:
                self._make_ready(event)

    def wake(self, function: Function) -> None:
        self._pump(function.name)

    def reset(self) -> None:
        """Drop every queued event and pending retry (``POST /_emu/reset``; the clock has already
        cancelled the timers and the pollers' tasks)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.queues = {}

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.queues.clear()
        await asyncio.sleep(0)
