"""The SQS event source mapping poller: receive batches, invoke the function synchronously, delete what
succeeded, and let everything else come back through the queue's own visibility timeout (docs/aws-behaviour.md §SQS
event source mapping).

- Batches: up to ``BatchSize`` messages (several receives of at most 10 when it is larger), cut short
  by the 6 MB invoke payload limit. With ``MaximumBatchingWindowInSeconds`` the poller holds a partial
  batch (its messages already received, so invisible) until the batch is full or the window, measured
  on the platform clock from the batch's first message, runs out.
- Failure: any failed invocation (function error, timeout, throttle, crash) deletes nothing; the
  messages reappear after their visibility timeout and the queue's redrive policy dead-letters them
  after maxReceiveCount receives. Lambda never resets visibility itself (its poller has no
  ChangeMessageVisibility permission; docs/aws-behaviour.md §SQS event source mapping: Failure and
  visibility), and neither does this one.
- ``ReportBatchItemFailures``: only the listed messageIds stay; a malformed response fails the whole
  batch (docs/aws-behaviour.md §SQS event source mapping: ReportBatchItemFailures). FIFO ordering comes
  from the store: a message group with a message in flight is not handed out again, so a failed group
  waits for its retry while other groups flow.
- Concurrency: up to ``ScalingConfig.MaximumConcurrency`` batches in flight, else
  :data:`DEFAULT_CONCURRENCY`.
- Never busy: the poller wakes on the queue's listener callback (a send, a delay or visibility
  timeout running out, a message moved in), on its own batching-window timer, and when one of its
  batches finishes. All work runs as tracked clock tasks, so ``/_emu/clock/advance`` waits for it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.narration import DUPLICATE, event_subject
from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.invoker import Invoker, InvokeResult
    from lambda_emu.emulator.platform.clock import Clock, Timer
    from lambda_emu.emulator.platform.faults import FaultName, Faults
    from lambda_emu.emulator.services.lambda_.event_filters import Criteria
    from lambda_emu.emulator.services.lambda_.mappings import EventSourceMapping
    from lambda_emu.emulator.services.sqs.messages import ReceivedMessage
    from lambda_emu.emulator.services.sqs.queue import Queue
    from lambda_emu.emulator.services.sqs.store import SqsStore

log = get_logger("sqs_poller")

#: Batches in flight per mapping without ScalingConfig.MaximumConcurrency. AWS starts every SQS
#: mapping with 5 concurrent batches and scales up with the backlog (to 1,000); locally each batch
#: in flight may hold an execution environment (a runtime process), so the starting number is the cap.
DEFAULT_CONCURRENCY = 5
#: ReceiveMessage hands out at most 10 messages per call.
RECEIVE_MAX = 10
#: The synchronous invoke payload limit; SQS metadata counts towards it, so a batch may be smaller
#: than BatchSize (docs/aws-behaviour.md §SQS event source mapping: Batching).
PAYLOAD_LIMIT = 6 * 1024 * 1024
#: When window + function timeout exceed the queue's visibility timeout, Lambda receives with
#: window + function timeout + 30 s instead (docs/aws-behaviour.md §SQS event source mapping: Batching).
VISIBILITY_MARGIN = 30

_ENVELOPE_START = b'{"Records":['
_ENVELOPE_END = b"]}"
_ENVELOPE_SIZE = len(_ENVELOPE_START) + len(_ENVELOPE_END)
#: Attribute keys in the order Lambda writes them (AWS's documented events; FIFO keys interleave).
_ATTRIBUTE_ORDER = ("ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId",
                    "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp", "AWSTraceHeader",
                    "DeadLetterQueueSourceArn")


class BatchFailure(Exception):
    """The function's partial batch response was not one Lambda accepts: the whole batch failed."""


class SqsPoller:
    """The driver for one SQS event source mapping (see module doc)."""

    def __init__(self, mapping: EventSourceMapping, queues: SqsStore, functions: FunctionRegistry, invoker: Invoker,
                 clock: Clock, faults: Faults, *, region: str) -> None:
        self.mapping = mapping
        self.queues = queues
        self.functions = functions
        self.invoker = invoker
        self.clock = clock
        self.faults = faults
        self.queue: Queue | None = None
        self.active = False
        self.in_flight = 0
        # The batch being gathered: received messages and their encoded records.
        self._open: list[tuple[ReceivedMessage, bytes]] = []
        self._open_bytes = 0
        # Received records that didn't fit the payload limit: they open the next batch.
        self._carried: deque[tuple[ReceivedMessage, bytes]] = deque()
        self._window_timer: Timer | None = None
        self._window_over = False
        self._pump_scheduled = False
        self._pumping = False
        self._region = region
        #: Messages the redeliverDuringProcessingRate fault made visible again: their second delivery
        #: doesn't roll the fault once more (at rate 1 it would redeliver for ever).
        self._redelivered: set[str] = set()
        # When each received message becomes visible again (by receipt handle): a failed batch's retry.
        self._visible_at: dict[str, float] = {}
        #: Messages FilterCriteria dropped (deleted) since the last batch went out: the next batch's
        #: journal entry counts them (sourceDetail filteredOut).
        self._filtered = 0

    # ---- EventSourceDriver ----------------------------------------------------------------------

    def start(self) -> None:
        self.queue = self.queues.queue_by_arn(self.mapping.event_source_arn)
        if self.queue is None:
            log.warning("event source queue not found", uuid=self.mapping.uuid, arn=self.mapping.event_source_arn)
            return
        self.active = True
        self.queue.add_listener(self._wake)
        self._wake()  # messages may be waiting already

    async def stop(self) -> None:
        self.active = False
        if self.queue is not None:
            self.queue.remove_listener(self._wake)
        self._cancel_window()
        # A gathered batch stays received: its messages come back after their visibility timeout,
        # as they would when Lambda's pollers stop.
        self._open.clear()
        self._open_bytes = 0
        self._carried.clear()

    def reconfigure(self) -> None:
        # Batch size, window, concurrency and function are read afresh on every pump.
        self._cancel_window()
        self._window_over = False
        self._wake()

    # ---- waking --------------------------------------------------------------------------------

    def _wake(self) -> None:
        """Queue listener: coalesce wakes into one tracked pump, run after the current request's sends
        (so a SendMessageBatch of 10 is picked up as one batch, not ten)."""
        if self._pump_scheduled or not self.active or self.in_flight >= self.concurrency:
            return  # a finishing batch pumps again
        self._pump_scheduled = True
        self.clock.spawn(self._scheduled_pump(), name=f"sqs-esm-pump:{self.mapping.uuid}")

    async def _scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self._pump()

    def _window_due(self) -> None:
        self._window_timer = None
        self._window_over = True
        self._pump()

    def _cancel_window(self) -> None:
        if self._window_timer is not None:
            self._window_timer.cancel()
            self._window_timer = None

    @property
    def concurrency(self) -> int:
        scaling = self.mapping.scaling_config or {}
        return int(scaling.get("MaximumConcurrency") or DEFAULT_CONCURRENCY)

    # ---- gathering batches ---------------------------------------------------------------------

    def _pump(self) -> None:
        """Fill and dispatch batches while there is room for one more in flight."""
        if self._pumping:
            return
        self._pumping = True
        try:
            self._fill_and_dispatch()
        finally:
            self._pumping = False

    def _fill_and_dispatch(self) -> None:
        queue = self.queue
        while self.active and queue is not None and not queue.deleted and self.in_flight < self.concurrency:
            function = self.functions.routed(self.mapping.function_arn)  # an alias picks its version
            if function is None:
                return
            batch_size = self.mapping.batch_size
            window = self.mapping.maximum_batching_window
            full = self._gather(queue, function, batch_size, window)
            if not self._open:
                if self._filtered:
                    # Nothing left to deliver: no batch will carry the count, so the terminal says it now.
                    self.invoker.note(function.name, f"sqs {queue.name}:",
                                      f"{self._filtered} filtered out (FilterCriteria) → deleted")
                    self._filtered = 0
                return
            if not (full or window <= 0 or self._window_over):
                if self._window_timer is None:
                    self._window_timer = self.clock.call_later(window, self._window_due)
                return
            batch = self._open
            self._open = []
            self._open_bytes = 0
            self._cancel_window()
            self._window_over = False
            self.in_flight += 1
            filtered, self._filtered = self._filtered, 0
            self.clock.spawn(self._run_batch(function, batch, filtered), name=f"sqs-esm-batch:{self.mapping.uuid}")

    def _gather(self, queue: Queue, function: Function, batch_size: int, window: int) -> bool:
        """Fill the open batch up to ``batch_size`` or the payload limit; True when it is full."""
        while self._carried and len(self._open) < batch_size:
            if not self._add(self._carried[0]):
                return True
            self._carried.popleft()
        if self._carried:
            return True
        visibility = queue.visibility_timeout
        if window + function.timeout > visibility:
            visibility = window + function.timeout + VISIBILITY_MARGIN
        while len(self._open) < batch_size:
            received = queue.receive(min(RECEIVE_MAX, batch_size - len(self._open)), visibility)
            if not received:
                return False
            visible_at = self.clock.now() + visibility
            for message in received:
                self._visible_at[message.receipt_handle] = visible_at
            filters = self.mapping.filters
            for index, message in enumerate(received):
                entry = self._entry(queue, message, filters)
                if entry is None:
                    continue  # deleted: it takes no batch slot
                if not self._add(entry):
                    # Over the payload limit: the rest of this receive (already invisible) opens the
                    # next batch.
                    rest = (self._entry(queue, m, filters) for m in received[index + 1:])
                    self._carried.extend(e for e in rest if e is not None)
                    self._carried.appendleft(entry)
                    return True
        return True

    def _entry(self, queue: Queue, message: ReceivedMessage, filters: Criteria | None,
               ) -> tuple[ReceivedMessage, bytes] | None:
        """The message and its encoded record, or None when FilterCriteria dropped it. The record's
        fields are built once, for the filters and the event alike."""
        fields = self._record_fields(message)
        if filters is not None and not self._wanted(queue, message, fields, filters):
            return None
        return message, json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()

    def _add(self, entry: tuple[ReceivedMessage, bytes]) -> bool:
        """Add a record to the open batch unless it would push the payload past the limit."""
        # Envelope, the records so far, the commas between them, and this one.
        size = _ENVELOPE_SIZE + self._open_bytes + len(self._open) + len(entry[1])
        if self._open and size > PAYLOAD_LIMIT:
            return False
        self._open.append(entry)
        self._open_bytes += len(entry[1])
        return True

    def _wanted(self, queue: Queue, message: ReceivedMessage, fields: dict[str, Any], filters: Criteria) -> bool:
        """Does a filter match the message (``fields``: its record)? One that matches none is deleted from
        the queue, as Lambda does (docs/aws-behaviour.md §Event filtering)."""
        if filters.matches(fields, message.body):
            return True
        self._filtered += 1
        self._visible_at.pop(message.receipt_handle, None)
        try:
            queue.delete(message.receipt_handle)
        except Exception as exc:  # noqa: BLE001 - e.g. a FIFO handle that expired meanwhile
            log.info("sqs delete refused", uuid=self.mapping.uuid, message_id=message.message_id, error=str(exc))
        return False

    # ---- the event ------------------------------------------------------------------------------

    def _record_fields(self, message: ReceivedMessage) -> dict[str, Any]:
        """One record of Lambda's SQS event (docs/aws-behaviour.md §SQS event source mapping: Event record;
        keys in AWS's order)."""
        attributes = message.attributes
        ordered = {key: attributes[key] for key in _ATTRIBUTE_ORDER if key in attributes}
        record: dict[str, Any] = {
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": ordered,
            "messageAttributes": _message_attributes(message.message_attributes),
            "md5OfMessageAttributes": message.md5_of_message_attributes,
            "md5OfBody": message.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": message.queue_arn,
            "awsRegion": self._region,
        }
        return record

    # ---- running a batch ------------------------------------------------------------------------

    async def _run_batch(self, function: Function, batch: list[tuple[ReceivedMessage, bytes]],
                         filtered: int = 0) -> None:
        try:
            payload = _ENVELOPE_START + b",".join(record for _, record in batch) + _ENVELOPE_END
            request_id = str(uuid.uuid4())
            detail, context = self._journal_detail(batch)
            if self.mapping.filters is not None:
                # Messages FilterCriteria deleted while this batch was gathered.
                detail["filteredOut"] = filtered
            generation = self.clock.generation
            fault: FaultName | None = None
            if (not any(message.message_id in self._redelivered for message, _ in batch)
                    and self.faults.roll(function.name, "redeliverDuringProcessingRate")):
                fault = "redeliverDuringProcessingRate"
                self.invoker.narrate_fault(fault, function.name, "sqs", request_id)
                # Runs once this attempt is under way (the invoke below starts before it yields).
                self.clock.spawn(self._redeliver(batch), name=f"sqs-esm-redeliver:{self.mapping.uuid}")
            result = await self.invoker.invoke(function, payload, request_id=request_id, source="sqs",
                                               source_detail=detail, context=context, fault=fault,
                                               invoked_arn=self.mapping.function_arn)
            if self.clock.generation != generation:
                return  # a reset happened meanwhile: nothing of this batch may act after it
            keep = self._kept(batch, result)
            attempts = [result.attempt]
            if result.reached_function and self.faults.roll_duplicate(function.name):
                # At-least-once: the same records delivered once more before they are deleted.
                self.invoker.note(function.name, event_subject("sqs", request_id), DUPLICATE)
                copy = await self.invoker.invoke(function, payload, request_id=request_id, source="sqs",
                                                 duplicate=True, source_detail=detail, context=context,
                                                 invoked_arn=self.mapping.function_arn)
                attempts.append(copy.attempt)
            decision = self._decision(batch, result, keep, context)
            for attempt in attempts:
                self.invoker.decide(attempt, decision)
            self._delete(batch, keep)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a bug here must not stop the mapping; the messages come back
            log.exception("sqs batch failed inside lambda-emu", uuid=self.mapping.uuid)
        finally:
            for message, _ in batch:
                self._visible_at.pop(message.receipt_handle, None)
            self.in_flight -= 1
            self._pump()

    def _journal_detail(self, batch: list[tuple[ReceivedMessage, bytes]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The journal's sourceDetail of a batch, and what the narration needs beside it."""
        detail = {
            "eventSourceArn": self.mapping.event_source_arn,
            "mappingUuid": self.mapping.uuid,
            "messageIds": [message.message_id for message, _ in batch],
            "receiveCounts": [int(message.attributes.get("ApproximateReceiveCount", "1")) for message, _ in batch],
        }
        policy = self.queue.redrive_policy if self.queue is not None else None
        context = {"maxReceiveCount": int(policy["maxReceiveCount"])} if policy else {}
        return detail, context

    def _decision(self, batch: list[tuple[ReceivedMessage, bytes]], result: InvokeResult, keep: set[str] | None,
                  context: dict[str, Any]) -> dict[str, Any]:
        """What happens to the batch: deleted, or (all or the failed items) back after their visibility
        timeout, or on to the queue's dead-letter queue when they have been received maxReceiveCount times."""
        if keep is not None and not keep:
            return {"action": "delete"}
        failed = [message for message, _ in batch if keep is None or message.message_id in keep]
        if result.succeeded and result.attempt is not None:
            # The function returned, but items (all of them, for a response Lambda can't read) failed.
            self.invoker.partial_failure(result.attempt, [message.message_id for message in failed])
        policy = self.queue.redrive_policy if self.queue is not None else None
        if policy is not None:
            most = int(policy["maxReceiveCount"])
            redriven = [m for m in failed if int(m.attributes.get("ApproximateReceiveCount", "1")) >= most]
            if redriven and len(redriven) == len(failed):
                context["redriven"] = len(redriven)
                if result.attempt is not None:
                    result.attempt.context["redriven"] = len(redriven)
                return {"action": "redrive", "target": policy["deadLetterTargetArn"]}
        at = min(self._visible_at.get(m.receipt_handle, self.clock.now()) for m in failed)
        if result.kind == "throttled":
            reason = "Throttled"
        elif result.kind == "system_error":
            reason = "ServiceException"
        elif keep is not None:
            reason = "PartialBatchFailure"
        elif result.succeeded:
            reason = "InvalidBatchResponse"
        else:
            reason = "FunctionError"
        return {"action": "retry", "at": iso8601(at), "reason": reason}

    async def _redeliver(self, batch: list[tuple[ReceivedMessage, bytes]]) -> None:
        """The redeliverDuringProcessingRate fault: the batch outlived its visibility timeout while the
        function runs, so its messages are visible again and a second batch receives them concurrently."""
        queue = self.queue
        if queue is None or queue.deleted:
            return
        for message, _ in batch:
            self._redelivered.add(message.message_id)
            try:
                queue.change_visibility(message.receipt_handle, 0)
            except Exception as exc:  # noqa: BLE001 - e.g. already deleted: nothing to redeliver
                log.info("redelivery skipped", uuid=self.mapping.uuid, message_id=message.message_id, error=str(exc))

    def _kept(self, batch: list[tuple[ReceivedMessage, bytes]], result: InvokeResult) -> set[str] | None:
        """The messageIds that stay in the queue; None when the whole batch stays."""
        if not result.succeeded:
            return None
        if not self.mapping.reports_batch_item_failures:
            return set()
        try:
            return partial_failures(result.payload, {message.message_id for message, _ in batch})
        except BatchFailure as exc:
            log.info("invalid partial batch response: whole batch failed", uuid=self.mapping.uuid, reason=str(exc))
            return None

    def _delete(self, batch: list[tuple[ReceivedMessage, bytes]], keep: set[str] | None) -> None:
        if keep is None:
            return
        queue = self.queue
        if queue is None or queue.deleted:
            return
        for message, _ in batch:
            if message.message_id in keep:
                continue
            try:
                queue.delete(message.receipt_handle)
            except Exception as exc:  # noqa: BLE001 - e.g. a FIFO handle that expired meanwhile
                log.info("sqs delete refused", uuid=self.mapping.uuid, message_id=message.message_id, error=str(exc))


def partial_failures(payload: bytes, batch_ids: set[str]) -> set[str]:
    """The messageIds a ReportBatchItemFailures response lists (docs/aws-behaviour.md §SQS event source mapping:
    ReportBatchItemFailures).

    Complete success: empty or null response, ``{}``, an empty or null ``batchItemFailures`` list.
    Whole-batch failure (:class:`BatchFailure`): invalid JSON, a response that isn't an object, a list
    that isn't a list, an entry without ``itemIdentifier`` (a bad key name), a null or empty
    identifier, or one that isn't a messageId of the batch.
    """
    if not payload.strip():
        return set()
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BatchFailure("response is not valid JSON") from exc
    if document is None:
        return set()
    if not isinstance(document, dict):
        raise BatchFailure("response is not an object")
    failures = document.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise BatchFailure("batchItemFailures is not a list")
    kept: set[str] = set()
    for entry in failures:
        if not isinstance(entry, dict) or "itemIdentifier" not in entry:
            raise BatchFailure("a batchItemFailures entry has no itemIdentifier")
        identifier = entry["itemIdentifier"]
        if not isinstance(identifier, str) or not identifier:
            raise BatchFailure("an itemIdentifier is null or empty")
        if identifier not in batch_ids:
            raise BatchFailure(f"itemIdentifier {identifier!r} is not a messageId of the batch")
        kept.add(identifier)
    return kept


def _message_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes as Lambda renders them: camelCase, list fields always present (docs/aws-behaviour.md §SQS
    event source mapping: Event record)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        rendered: dict[str, Any] = {}
        if value.get("StringValue") is not None:
            rendered["stringValue"] = value["StringValue"]
        if value.get("BinaryValue") is not None:
            rendered["binaryValue"] = _b64(value["BinaryValue"])
        rendered["stringListValues"] = list(value.get("StringListValues") or [])
        rendered["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues") or []]
        rendered["dataType"] = value["DataType"]
        out[name] = rendered
    return out


def _b64(value: bytes | str) -> str:
    raw = value if isinstance(value, bytes) else value.encode()
    return base64.b64encode(raw).decode()
