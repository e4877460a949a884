"""SQS queues and messages as plain Python on the platform clock, testable without HTTP.

Time is read from :class:`~lambda_emu.emulator.platform.clock.Clock` and evaluated lazily: visibility and
delay expiry, retention and deduplication windows are computed from timestamps whenever a queue is
read. The only timers are those that cause observable work: waking a long poll (its deadline, or
the moment a hidden message becomes receivable) and waking queue listeners (the event source mapping
poller). A queue nobody waits on schedules nothing, so a manual clock can always settle.

Internal API (used by the SQS service, Lambda destinations and the event source mapping poller)::

    store.queue_by_arn(arn) -> Queue | None
    store.deliver(queue_arn, body, message_attributes=None) -> message_id
    store.receive(queue, max_messages, visibility_timeout=None) -> list[ReceivedMessage]
    await store.receive_wait(queue, max_messages, visibility_timeout, wait_seconds)
    store.delete(queue, receipt_handle)
    queue.add_listener(callback) / queue.remove_listener(callback)

``callback()`` is called (synchronously; keep it cheap) whenever messages may have become
receivable: a send, a delay or visibility timeout running out, a message moved in, a purge done.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import heapq
import itertools
import json
import os
import random
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lambda_emu.emulator.platform.clock import Clock, Timer
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.services.sqs import attributes as attrs
from lambda_emu.emulator.services.sqs.checksums import md5_of_attributes, md5_of_body
from lambda_emu.emulator.services.sqs.errors import (
    invalid_parameter,
    invalid_parameter_value,
    missing_parameter,
    queue_does_not_exist,
    receipt_handle_invalid,
    sqs_error,
)

log = get_logger("sqs")

#: FIFO deduplication interval (seconds).
DEDUP_WINDOW = 300.0
#: After DeleteQueue, a queue of the same name can't be created for this long (seconds).
RECREATE_DELAY = 60.0
#: Only one PurgeQueue per queue in this many seconds.
PURGE_INTERVAL = 60.0
#: A message may not stay invisible longer than 12 hours from its receive.
MAX_VISIBILITY = 43_200
MAX_TAGS = 50
#: Receipt handles look like AWS's (base64 text starting "AQEB").
_HANDLE_PREFIX = "AQEB"

Listener = Callable[[], None]


@dataclass(eq=False)
class SqsMessage:
    """One message in one queue (mutable state: visibility, receives, current receipt handle)."""

    message_id: str
    body: str
    md5_of_body: str
    message_attributes: dict[str, dict[str, Any]]
    md5_of_message_attributes: str | None
    system_attributes: dict[str, dict[str, Any]]
    md5_of_system_attributes: str | None
    sent_at: float
    enqueued_at: float  # what retention counts from (moves keep or reset it as AWS does)
    sender_id: str
    visible_at: float
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None
    dead_letter_source_arn: str | None = None
    receive_count: int = 0
    first_receive_at: float | None = None
    received_at: float | None = None
    receipt_handle: str | None = None
    deleted: bool = False
    in_ready: bool = False

    def in_flight(self, now: float) -> bool:
        return self.receipt_handle is not None and self.visible_at > now

    def system_attribute_values(self) -> dict[str, str]:
        """Every system attribute ReceiveMessage can return, as AWS's strings."""
        out = {
            "ApproximateReceiveCount": str(self.receive_count),
            "SentTimestamp": str(int(self.sent_at * 1000)),
            "SenderId": self.sender_id,
            "ApproximateFirstReceiveTimestamp": str(int((self.first_receive_at or self.sent_at) * 1000)),
        }
        if self.sequence_number is not None:
            out["SequenceNumber"] = self.sequence_number
        if self.dedup_id is not None:
            out["MessageDeduplicationId"] = self.dedup_id
        if self.group_id is not None:
            out["MessageGroupId"] = self.group_id
        trace = self.system_attributes.get("AWSTraceHeader")
        if trace and trace.get("StringValue") is not None:
            out["AWSTraceHeader"] = trace["StringValue"]
        if self.dead_letter_source_arn:
            out["DeadLetterQueueSourceArn"] = self.dead_letter_source_arn
        return out


@dataclass(frozen=True)
class ReceivedMessage:
    """What one receive of one message hands out (a snapshot: later receives don't change it)."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    #: All system attributes as strings (filter with ``MessageSystemAttributeNames``).
    attributes: dict[str, str]
    #: All message attributes, in the SendMessage input shape (blobs as bytes).
    message_attributes: dict[str, dict[str, Any]]
    #: MD5 over all message attributes; None when the message has none.
    md5_of_message_attributes: str | None
    queue_arn: str


@dataclass(frozen=True)
class SendResult:
    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None
    md5_of_system_attributes: str | None
    sequence_number: str | None


@dataclass
class MoveTask:
    """A StartMessageMoveTask redrive from a dead-letter queue."""

    task_id: str
    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    started_at: float
    status: str = "RUNNING"
    moved: int = 0
    failure_reason: str | None = None
    timer: Timer | None = None


class Queue:
    def __init__(self, store: SqsStore, name: str, attributes: dict[str, str], tags: dict[str, str]) -> None:
        self.store = store
        self.name = name
        self.arn = f"arn:aws:sqs:{store.region}:{store.account_id}:{name}"
        self.fifo = attributes.get("FifoQueue") == "true"
        self.attributes = dict(attrs.DEFAULTS)
        if self.fifo:
            self.attributes.update(attrs.FIFO_DEFAULTS)
        self.attributes.update(attributes)
        now = store.clock.now()
        self.created = now
        self.last_modified = now
        self.tags = dict(tags)
        self.deleted = False
        self.last_purge_at: float | None = None
        self.messages: dict[str, SqsMessage] = {}
        self._ready: OrderedDict[str, SqsMessage] = OrderedDict()  # standard: receivable now, in order
        self._groups: dict[str, deque[SqsMessage]] = {}  # FIFO: every live message per group, in order
        self._group_inflight: dict[str, set[SqsMessage]] = {}
        self._pending: list[tuple[float, int, SqsMessage]] = []  # hidden messages by when they show
        self._push_seq = itertools.count()
        self._dedup: dict[tuple[str, str], tuple[float, str, str | None]] = {}
        self._last_sequence = 0
        self._listeners: list[Listener] = []
        self._waiters: set[asyncio.Future[None]] = set()
        self._wake_timer: Timer | None = None

    # ---- attributes ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.store.endpoint()}/{self.store.account_id}/{self.name}"

    def _int(self, name: str) -> int:
        return int(self.attributes[name])

    @property
    def visibility_timeout(self) -> int:
        return self._int("VisibilityTimeout")

    @property
    def delay_seconds(self) -> int:
        return self._int("DelaySeconds")

    @property
    def retention(self) -> int:
        return self._int("MessageRetentionPeriod")

    @property
    def maximum_message_size(self) -> int:
        return self._int("MaximumMessageSize")

    @property
    def receive_wait_time(self) -> int:
        return self._int("ReceiveMessageWaitTimeSeconds")

    @property
    def redrive_policy(self) -> dict[str, Any] | None:
        raw = self.attributes.get("RedrivePolicy")
        return json.loads(raw) if raw else None

    @property
    def redrive_allow_policy(self) -> dict[str, Any] | None:
        raw = self.attributes.get("RedriveAllowPolicy")
        return json.loads(raw) if raw else None

    def counts(self) -> dict[str, int]:
        now = self.store.clock.now()
        self._sweep(now)
        visible = hidden = delayed = 0
        for msg in self.messages.values():
            if msg.visible_at <= now:
                visible += 1
            elif msg.receipt_handle is not None:
                hidden += 1
            else:
                delayed += 1
        return {
            "ApproximateNumberOfMessages": visible,
            "ApproximateNumberOfMessagesNotVisible": hidden,
            "ApproximateNumberOfMessagesDelayed": delayed,
        }

    def attribute_values(self) -> dict[str, str]:
        """Every attribute GetQueueAttributes(All) returns, in AWS's order."""
        values: dict[str, str] = {"QueueArn": self.arn, "CreatedTimestamp": str(int(self.created)),
                                  "LastModifiedTimestamp": str(int(self.last_modified))}
        values.update({k: str(v) for k, v in self.counts().items()})
        values.update(self.attributes)
        return {name: values[name] for name in attrs.ALL_ORDER if values.get(name) not in (None, "")}

    # ---- listeners and long polls ------------------------------------------------------------

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback()`` whenever messages may have become receivable (see module doc)."""
        self._listeners.append(callback)
        self._arm_wake()

    def remove_listener(self, callback: Listener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)
        self._arm_wake()

    def _notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_result(None)
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:  # noqa: BLE001 - one listener's bug must not break the queue
                log.exception("sqs listener failed", queue=self.name)

    def _observed(self) -> bool:
        return bool(self._listeners or self._waiters)

    def _arm_wake(self) -> None:
        """Keep one clock timer at the next moment a hidden message shows, only while observed."""
        if self.deleted or not self._observed():
            self._cancel_wake()
            return
        now = self.store.clock.now()
        self._promote(now)
        when = self._next_pending()
        if when is None:
            self._cancel_wake()
            return
        if self._wake_timer is not None and not self._wake_timer.cancelled and self._wake_timer.when <= when:
            return
        self._cancel_wake()
        self._wake_timer = self.store.clock.call_at(when, self._on_wake)

    def _cancel_wake(self) -> None:
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None

    def _on_wake(self) -> None:
        self._wake_timer = None
        if self.deleted:
            return
        self._promote(self.store.clock.now())
        self._notify()
        self._arm_wake()

    def _next_pending(self) -> float | None:
        while self._pending:
            when, _, msg = self._pending[0]
            if msg.deleted or msg.visible_at != when:
                heapq.heappop(self._pending)  # stale: deleted or re-hidden since
                continue
            return when
        return None

    # ---- message bookkeeping ---------------------------------------------------------------------

    def _hide_until(self, msg: SqsMessage, when: float) -> None:
        msg.visible_at = when
        heapq.heappush(self._pending, (when, next(self._push_seq), msg))
        if self._observed() and (self._wake_timer is None or when < self._wake_timer.when):
            self._arm_wake()

    def _promote(self, now: float) -> None:
        """Move messages whose delay or visibility ran out into the standard queue's ready list."""
        while self._pending and self._pending[0][0] <= now:
            when, _, msg = heapq.heappop(self._pending)
            if msg.deleted or msg.visible_at != when:
                continue
            if not self.fifo and not msg.in_ready:
                msg.in_ready = True
                self._ready[msg.message_id] = msg

    def _expired(self, msg: SqsMessage, now: float) -> bool:
        return now >= msg.enqueued_at + self.retention

    def _sweep(self, now: float) -> None:
        """Drop messages past the retention period (lazily, when the queue is read)."""
        self._promote(now)
        for msg in [m for m in self.messages.values() if self._expired(m, now)]:
            self._remove(msg)

    def _add(self, msg: SqsMessage, now: float) -> None:
        self.messages[msg.message_id] = msg
        if self.fifo:
            self._groups.setdefault(msg.group_id or "", deque()).append(msg)
        if msg.visible_at <= now:
            if not self.fifo:
                msg.in_ready = True
                self._ready[msg.message_id] = msg
        else:
            self._hide_until(msg, msg.visible_at)

    def _remove(self, msg: SqsMessage) -> None:
        if msg.deleted:
            return
        msg.deleted = True
        self.messages.pop(msg.message_id, None)
        if msg.in_ready:
            self._ready.pop(msg.message_id, None)
            msg.in_ready = False
        if self.fifo:
            group = msg.group_id or ""
            members = self._groups.get(group)
            if members is not None:
                members.remove(msg)
                if not members:
                    del self._groups[group]
            inflight = self._group_inflight.get(group)
            if inflight is not None:
                inflight.discard(msg)
                if not inflight:
                    del self._group_inflight[group]

    def _next_sequence_number(self, now: float) -> str:
        # 20 digits that grow with time, like AWS's: milliseconds scaled, bumped past the last one.
        self._last_sequence = max(self._last_sequence + 1, int(now * 1000) * 10_000_000)
        return str(self._last_sequence)

    # ---- operations -----------------------------------------------------------------------------

    def send(
        self,
        body: str,
        *,
        delay_seconds: int | None = None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        system_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        dedup_id: str | None = None,
        group_id: str | None = None,
    ) -> SendResult:
        """SendMessage's rules: validate, deduplicate (FIFO), enqueue, wake observers."""
        attributes = {k: dict(v) for k, v in (message_attributes or {}).items()}
        system = {k: dict(v) for k, v in (system_attributes or {}).items()}
        self._check_send(body, delay_seconds, attributes, system, dedup_id, group_id)
        now = self.store.clock.now()
        md5_attributes = md5_of_attributes(attributes)
        md5_system = md5_of_attributes(system)
        body_md5 = md5_of_body(body)
        if self.fifo:
            if dedup_id is None:
                dedup_id = hashlib.sha256(body.encode("utf-8")).hexdigest()  # content-based deduplication
            scope = (group_id or "") if self.attributes.get("DeduplicationScope") == "messageGroup" else ""
            key = (scope, dedup_id)
            seen = self._dedup.get(key)
            if seen is not None and seen[0] > now:
                return SendResult(seen[1], body_md5, md5_attributes, md5_system, seen[2])
        delay = self.delay_seconds if delay_seconds is None else delay_seconds
        msg = SqsMessage(
            message_id=self.store.new_id(),
            body=body,
            md5_of_body=body_md5,
            message_attributes=attributes,
            md5_of_message_attributes=md5_attributes,
            system_attributes=system,
            md5_of_system_attributes=md5_system,
            sent_at=now,
            enqueued_at=now,
            sender_id=self.store.sender_id,
            visible_at=now + delay,
            group_id=group_id,
            dedup_id=dedup_id if self.fifo else None,
            sequence_number=self._next_sequence_number(now) if self.fifo else None,
        )
        if self.fifo and dedup_id is not None:
            self._dedup_prune(now)
            self._dedup.pop(key, None)  # re-insert at the end to keep the dict in expiry order
            self._dedup[key] = (now + DEDUP_WINDOW, msg.message_id, msg.sequence_number)
        self._add(msg, now)
        if delay <= 0:
            self._notify()
        return SendResult(msg.message_id, body_md5, md5_attributes, md5_system, msg.sequence_number)

    def _dedup_prune(self, now: float) -> None:
        # Entries are inserted in expiry order (now + a fixed window), so expired ones lead the dict.
        while self._dedup:
            key, entry = next(iter(self._dedup.items()))
            if entry[0] > now:
                return
            del self._dedup[key]

    def _check_send(
        self,
        body: str,
        delay_seconds: int | None,
        message_attributes: dict[str, dict[str, Any]],
        system_attributes: dict[str, dict[str, Any]],
        dedup_id: str | None,
        group_id: str | None,
    ) -> None:
        attrs.check_body(body)
        attrs.check_message_attributes(message_attributes)
        for name, value in system_attributes.items():
            if name != "AWSTraceHeader":
                raise invalid_parameter(f"Message system attribute name '{name}' is invalid.")
            if value.get("DataType") != "String" or not value.get("StringValue"):
                raise invalid_parameter(f"Message system attribute '{name}' must be of type String.")
        size = len(body.encode("utf-8")) + attrs.attributes_size(message_attributes)
        if size > self.maximum_message_size:
            raise invalid_parameter(f"One or more parameters are invalid. Reason: Message must be shorter than "
                                    f"{self.maximum_message_size} bytes.")
        if delay_seconds is not None:
            if self.fifo and delay_seconds != 0:
                raise invalid_parameter_value("DelaySeconds", delay_seconds,
                                              "The request include parameter that is not valid for this queue "
                                              "type.")
            if not 0 <= delay_seconds <= 900:
                raise invalid_parameter_value("DelaySeconds", delay_seconds,
                                              "DelaySeconds must be >= 0 and <= 900.")
        if group_id is not None:
            attrs.check_dedup_or_group_id("MessageGroupId", group_id)
        if self.fifo:
            if group_id is None:
                raise missing_parameter("MessageGroupId")
            if dedup_id is None and self.attributes.get("ContentBasedDeduplication") != "true":
                raise invalid_parameter("The queue should either have ContentBasedDeduplication enabled or "
                                        "MessageDeduplicationId provided explicitly")
            if dedup_id is not None:
                attrs.check_dedup_or_group_id("MessageDeduplicationId", dedup_id)
        elif dedup_id is not None:
            raise invalid_parameter_value("MessageDeduplicationId", dedup_id,
                                          "The request include parameter that is not valid for this queue type.")

    def receive(self, max_messages: int, visibility_timeout: int | None = None) -> list[ReceivedMessage]:
        """One ReceiveMessage attempt (no waiting): up to ``max_messages``, hidden for the timeout.

        A message that has already been received maxReceiveCount times is moved to the dead-letter
        queue on the attempt that would exceed it, instead of being returned.
        """
        now = self.store.clock.now()
        timeout = self.visibility_timeout if visibility_timeout is None else visibility_timeout
        self._promote(now)
        picked = self._pick_fifo(max_messages, now) if self.fifo else self._pick_standard(max_messages, now)
        out = [self._hand_out(msg, timeout, now) for msg in picked]
        return out

    def _redrive_target(self, msg: SqsMessage) -> Queue | None:
        policy = self.redrive_policy
        if policy is None or msg.receive_count < policy["maxReceiveCount"]:
            return None
        return self.store.queue_by_arn(policy["deadLetterTargetArn"])

    def _pick_standard(self, max_messages: int, now: float) -> list[SqsMessage]:
        picked: list[SqsMessage] = []
        while self._ready and len(picked) < max_messages:
            _, msg = self._ready.popitem(last=False)
            msg.in_ready = False
            if self._expired(msg, now):
                self._remove(msg)
                continue
            dlq = self._redrive_target(msg)
            if dlq is not None:
                self.store.move_message(self, msg, dlq, dead_letter=True)
                continue
            picked.append(msg)
        return picked

    def _pick_fifo(self, max_messages: int, now: float) -> list[SqsMessage]:
        picked: list[SqsMessage] = []
        for group in list(self._groups):
            if len(picked) >= max_messages:
                break
            if self._group_locked(group, now):
                continue
            members = self._groups.get(group)
            served = False
            index = 0
            while members and index < len(members) and len(picked) < max_messages:
                msg = members[index]
                if self._expired(msg, now):
                    self._remove(msg)
                    continue
                if msg.visible_at > now:
                    break  # delayed: the rest of the group waits behind it
                dlq = self._redrive_target(msg)
                if dlq is not None:
                    self.store.move_message(self, msg, dlq, dead_letter=True)
                    continue
                picked.append(msg)
                self._group_inflight.setdefault(group, set()).add(msg)
                served = True
                index += 1
            if served and group in self._groups:
                self._groups[group] = self._groups.pop(group)  # serve other groups first next time
        return picked

    def _group_locked(self, group: str, now: float) -> bool:
        inflight = self._group_inflight.get(group)
        if not inflight:
            return False
        for msg in [m for m in inflight if m.deleted or not m.in_flight(now)]:
            inflight.discard(msg)
        if not inflight:
            del self._group_inflight[group]
            return False
        return True

    def _hand_out(self, msg: SqsMessage, timeout: int, now: float) -> ReceivedMessage:
        msg.receive_count += 1
        if msg.first_receive_at is None:
            msg.first_receive_at = now
        msg.received_at = now
        msg.receipt_handle = self.store.new_receipt_handle(self, msg)
        self._hide_until(msg, now + timeout)
        if timeout <= 0:
            self._promote(now)
        return ReceivedMessage(
            message_id=msg.message_id,
            receipt_handle=msg.receipt_handle,
            body=msg.body,
            md5_of_body=msg.md5_of_body,
            attributes=msg.system_attribute_values(),
            message_attributes=msg.message_attributes,
            md5_of_message_attributes=msg.md5_of_message_attributes,
            queue_arn=self.arn,
        )

    def _message_for_handle(self, receipt_handle: str) -> tuple[SqsMessage | None, bool]:
        """(message or None if gone, whether the handle is its latest); raises for foreign or bad handles."""
        arn, message_id = self.store.decode_receipt_handle(receipt_handle)
        if arn != self.arn:
            raise receipt_handle_invalid(receipt_handle)
        msg = self.messages.get(message_id)
        return msg, msg is not None and msg.receipt_handle == receipt_handle

    def delete(self, receipt_handle: str) -> None:
        msg, latest = self._message_for_handle(receipt_handle)
        if msg is None:
            return  # already deleted: AWS answers success
        if self.fifo and not (latest and msg.in_flight(self.store.clock.now())):
            raise invalid_parameter_value("ReceiptHandle", receipt_handle, "The receipt handle has expired.")
        self._remove(msg)

    def change_visibility(self, receipt_handle: str, timeout: int) -> None:
        msg, latest = self._message_for_handle(receipt_handle)
        now = self.store.clock.now()
        if msg is None or not msg.in_flight(now):
            raise sqs_error("MessageNotInflight", "Message does not exist or is not available for visibility "
                            "timeout change.")
        if self.fifo and not latest:
            raise invalid_parameter_value("ReceiptHandle", receipt_handle, "The receipt handle has expired.")
        if not 0 <= timeout <= MAX_VISIBILITY:
            raise invalid_parameter_value("VisibilityTimeout", timeout, f"Must be between 0 and {MAX_VISIBILITY}, "
                                          "if provided.")
        if now - (msg.received_at or now) + timeout > MAX_VISIBILITY:
            raise invalid_parameter_value("VisibilityTimeout", timeout, "Total VisibilityTimeout for the message "
                                          f"is beyond the limit [{MAX_VISIBILITY} seconds]")
        self._hide_until(msg, now + timeout)
        if timeout == 0:
            self._promote(now)
            self._notify()

    def purge(self) -> None:
        now = self.store.clock.now()
        if self.last_purge_at is not None and now - self.last_purge_at < PURGE_INTERVAL:
            raise sqs_error("PurgeQueueInProgress", f"Only one PurgeQueue operation on {self.name} is allowed every "
                            f"{int(PURGE_INTERVAL)} seconds.")
        self.last_purge_at = now
        for msg in list(self.messages.values()):
            self._remove(msg)
        self._pending.clear()
        self._notify()


class SqsStore:
    """Every queue of one emulator, by name and by ARN."""

    def __init__(
        self,
        clock: Clock,
        *,
        region: str,
        account_id: str,
        endpoint: Callable[[], str] | str,
        rng: random.Random | None = None,
        sender_id: str | None = None,
    ) -> None:
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.endpoint: Callable[[], str] = (lambda: endpoint) if isinstance(endpoint, str) else endpoint
        self.rng = rng or random.Random(0)
        # AWS reports the sending principal's ID; without IAM the account is the principal.
        self.sender_id = sender_id or account_id
        self.queues: dict[str, Queue] = {}
        self._deleted_at: dict[str, float] = {}
        self._tasks: dict[str, list[MoveTask]] = {}  # by source ARN, newest last

    # ---- ids ----------------------------------------------------------------------------------

    # IDs are unique across runs, never drawn from the seeded RNG (a seed reproduces faults and jitter,
    # not IDs: two runs with one seed must not hand out the same message IDs).
    def new_id(self) -> str:
        return str(uuid.uuid4())

    def new_receipt_handle(self, queue: Queue, msg: SqsMessage) -> str:
        nonce = os.urandom(12)
        raw = f"{queue.arn} {msg.message_id} ".encode() + base64.b16encode(nonce)
        return _HANDLE_PREFIX + base64.b64encode(raw).decode()

    def decode_receipt_handle(self, handle: str) -> tuple[str, str]:
        """(queue ARN, message ID) from a receipt handle; ReceiptHandleIsInvalid if it isn't one of ours."""
        if not handle.startswith(_HANDLE_PREFIX):
            raise receipt_handle_invalid(handle)
        try:
            arn, message_id, _ = base64.b64decode(handle[len(_HANDLE_PREFIX):], validate=True).decode().split(" ")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise receipt_handle_invalid(handle) from None
        return arn, message_id

    # ---- queues --------------------------------------------------------------------------------

    def queue_by_arn(self, arn: str) -> Queue | None:
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs" or parts[4] != self.account_id:
            return None
        queue = self.queues.get(parts[5])
        return queue if queue is not None and queue.arn == arn else None

    def queue_by_url(self, url: str) -> Queue:
        """Any host: the queue is named by the URL's last two path segments (account/name)."""
        path = url.split("://", 1)[-1]
        segments = [s for s in path.split("?", 1)[0].split("/")[1:] if s]
        if "://" not in url and len(segments) < 2:
            segments = [s for s in url.split("/") if s]
        if len(segments) < 2:
            raise sqs_error("InvalidAddress", f"The address {url} is not valid for this endpoint.")
        account, name = segments[-2], segments[-1]
        queue = self.queues.get(name)
        if account != self.account_id or queue is None:
            raise queue_does_not_exist()
        return queue

    def get_queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            raise queue_does_not_exist()
        return queue

    def create_queue(self, name: str, attributes: Mapping[str, str] | None = None,
                     tags: Mapping[str, str] | None = None) -> Queue:
        attributes = dict(attributes or {})
        fifo_value = attributes.get("FifoQueue")
        fifo = fifo_value is not None and fifo_value.lower() == "true"
        if fifo_value is not None and not fifo:
            attributes.pop("FifoQueue")  # FifoQueue=false is a standard queue
        attrs.check_queue_name(name, fifo)
        normalized = {k: attrs.check_queue_attribute(k, v, fifo=fifo, creating=True) for k, v in attributes.items()}
        self._check_policies(name, normalized, fifo)
        existing = self.queues.get(name)
        if existing is not None:
            for key, value in normalized.items():
                if existing.attributes.get(key, "") != value:
                    raise sqs_error("QueueNameExists", "A queue already exists with the same name and a different "
                                    f"value for attribute {key}")
            return existing
        deleted_at = self._deleted_at.get(name)
        if deleted_at is not None and self.clock.now() - deleted_at < RECREATE_DELAY:
            raise sqs_error("QueueDeletedRecently", "You must wait 60 seconds after deleting a queue before you can "
                            "create another with the same name.")
        self._check_tags(name, dict(tags or {}))
        queue = Queue(self, name, normalized, dict(tags or {}))
        self.queues[name] = queue
        return queue

    def set_attributes(self, queue: Queue, attributes: Mapping[str, str]) -> None:
        normalized = {k: attrs.check_queue_attribute(k, v, fifo=queue.fifo, creating=False)
                      for k, v in attributes.items()}
        self._check_policies(queue.name, normalized, queue.fifo)
        for key, value in normalized.items():
            if value == "" and key in ("RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId"):
                queue.attributes.pop(key, None)
            else:
                queue.attributes[key] = value
        queue.last_modified = self.clock.now()
        # A shorter delay or a new redrive target can make messages receivable sooner.
        queue._arm_wake()

    def _check_policies(self, name: str, attributes: dict[str, str], fifo: bool) -> None:
        raw = attributes.get("RedrivePolicy")
        if raw:
            policy = attrs.parse_redrive_policy(raw)
            dlq = self.queue_by_arn(policy["deadLetterTargetArn"])
            if dlq is None:
                raise attrs.redrive_policy_error(raw, "Dead letter target does not exist.")
            if dlq.fifo != fifo:
                raise attrs.redrive_policy_error(raw, "Dead-letter queue must be same type of queue as the source.")
            source_arn = f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"
            if not _redrive_allowed(dlq.redrive_allow_policy, source_arn):
                raise attrs.redrive_policy_error(raw, f"Queue {dlq.arn} does not allow this queue to use it as a "
                                                 "dead-letter queue.")
            # AWS hands the policy back in its canonical form (maxReceiveCount as a number).
            attributes["RedrivePolicy"] = json.dumps(policy, separators=(",", ":"))
        raw = attributes.get("RedriveAllowPolicy")
        if raw:
            policy = attrs.parse_redrive_allow_policy(raw)
            attributes["RedriveAllowPolicy"] = json.dumps(policy, separators=(",", ":"))

    def delete_queue(self, queue: Queue) -> None:
        queue.deleted = True
        queue._cancel_wake()
        self.queues.pop(queue.name, None)
        self._deleted_at[queue.name] = self.clock.now()
        for task in self._tasks.get(queue.arn, []):
            self._finish_task(task, "CANCELLED")
        queue._notify()  # long polls on a deleted queue return

    def reset(self) -> None:
        """Delete every queue and forget them, deleted names included (``POST /_emu/reset``): a test
        after a reset may create a queue of the same name at once."""
        for queue in list(self.queues.values()):
            self.delete_queue(queue)
        self.queues = {}
        self._deleted_at = {}
        self._tasks = {}

    def list_queues(self, prefix: str | None = None) -> list[Queue]:
        return [q for name, q in sorted(self.queues.items()) if not prefix or name.startswith(prefix)]

    def dead_letter_sources(self, dlq: Queue) -> list[Queue]:
        out = []
        for _, queue in sorted(self.queues.items()):
            policy = queue.redrive_policy
            if policy and policy["deadLetterTargetArn"] == dlq.arn:
                out.append(queue)
        return out

    def tag(self, queue: Queue, tags: Mapping[str, str]) -> None:
        merged = {**queue.tags, **tags}
        self._check_tags(queue.name, merged)
        queue.tags = merged

    def _check_tags(self, name: str, tags: dict[str, str]) -> None:
        if len(tags) > MAX_TAGS:
            raise invalid_parameter(f"Too many tags added for queue {name}.")
        for key, value in tags.items():
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise invalid_parameter(f"Tag key or value is invalid for queue {name}.")

    # ---- messages --------------------------------------------------------------------------------

    def deliver(self, queue_arn: str, body: str,
                message_attributes: Mapping[str, Mapping[str, Any]] | None = None) -> str:
        """Send a message as a Lambda destination or dead-letter queue does; returns its MessageId.

        ``message_attributes`` use the SendMessage input shape
        (``{"Name": {"DataType": "String", "StringValue": "..."}}``). Raises AwsError
        QueueDoesNotExist when no queue has that ARN.
        """
        queue = self.queue_by_arn(queue_arn)
        if queue is None:
            raise queue_does_not_exist()
        return queue.send(body, message_attributes=message_attributes).message_id

    def receive(self, queue: Queue, max_messages: int, visibility_timeout: int | None = None) -> list[ReceivedMessage]:
        """One immediate receive with ReceiveMessage's receive-count and redrive semantics."""
        return queue.receive(max_messages, visibility_timeout)

    async def receive_wait(self, queue: Queue, max_messages: int, visibility_timeout: int | None,
                           wait_seconds: float) -> list[ReceivedMessage]:
        """ReceiveMessage with long polling: wait on the clock until a message shows or time is up."""
        deadline = self.clock.now() + wait_seconds
        loop = asyncio.get_running_loop()
        while True:
            messages = queue.receive(max_messages, visibility_timeout)
            if messages or queue.deleted or self.clock.now() >= deadline:
                return messages
            waiter: asyncio.Future[None] = loop.create_future()
            timer = self.clock.call_at(deadline, functools.partial(_wake, waiter))
            queue._waiters.add(waiter)
            queue._arm_wake()
            try:
                await waiter
            finally:
                timer.cancel()
                queue._waiters.discard(waiter)
                queue._arm_wake()

    def delete(self, queue: Queue, receipt_handle: str) -> None:
        """DeleteMessage."""
        queue.delete(receipt_handle)

    def move_message(self, source: Queue, msg: SqsMessage, target: Queue, *, dead_letter: bool) -> None:
        """Move a message between queues keeping its MessageId, body and attributes.

        Dead-lettered, it keeps its receive history (AWS's DLQ shows ApproximateReceiveCount going on
        from the source's, with the same first-receive time); moved by a message move task, its
        history starts over (so a message redriven back to its source isn't dead-lettered again on
        the next receive).
        """
        now = self.clock.now()
        source._remove(msg)
        moved = SqsMessage(
            message_id=msg.message_id,
            body=msg.body,
            md5_of_body=msg.md5_of_body,
            message_attributes=msg.message_attributes,
            md5_of_message_attributes=msg.md5_of_message_attributes,
            system_attributes=msg.system_attributes,
            md5_of_system_attributes=msg.md5_of_system_attributes,
            sent_at=msg.sent_at,
            # Standard queues keep the original enqueue time for retention; FIFO queues reset it.
            enqueued_at=now if target.fifo else msg.enqueued_at,
            sender_id=msg.sender_id,
            visible_at=now,
            group_id=msg.group_id,
            dedup_id=msg.dedup_id if target.fifo else None,
            sequence_number=target._next_sequence_number(now) if target.fifo else None,
            dead_letter_source_arn=source.arn if dead_letter else None,
            receive_count=msg.receive_count if dead_letter else 0,
            first_receive_at=msg.first_receive_at if dead_letter else None,
        )
        target._add(moved, now)
        target._notify()

    # ---- message move tasks --------------------------------------------------------------------

    def start_move_task(self, source_arn: str, destination_arn: str | None, rate: int | None) -> MoveTask:
        source = self.queue_by_arn(source_arn)
        if source is None:
            raise sqs_error("ResourceNotFoundException", "The resource that you specified for the SourceArn "
                            "parameter doesn't exist.")
        if not self.dead_letter_sources(source):
            raise invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None and self.queue_by_arn(destination_arn) is None:
            raise sqs_error("ResourceNotFoundException", "The resource that you specified for the DestinationArn "
                            "parameter doesn't exist.")
        if rate is not None and not 1 <= rate <= 500:
            raise invalid_parameter_value("MaxNumberOfMessagesPerSecond", rate, "Must be between 1 and 500.")
        if any(t.status == "RUNNING" for t in self._tasks.get(source_arn, [])):
            raise invalid_parameter("There is already a task running. Only one active task is allowed for a "
                                    "source queue arn at a given time.")
        task_id = self.new_id()
        handle = base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn},
                                             separators=(",", ":")).encode()).decode()
        task = MoveTask(task_id=task_id, handle=handle, source_arn=source_arn, destination_arn=destination_arn,
                        rate=rate, to_move=len(source.messages), started_at=self.clock.now())
        self._tasks.setdefault(source_arn, []).append(task)
        self._move_step(task)
        return task

    def _move_step(self, task: MoveTask) -> None:
        task.timer = None
        if task.status != "RUNNING":
            return
        source = self.queue_by_arn(task.source_arn)
        if source is None:
            self._finish_task(task, "FAILED", "AWS.SimpleQueueService.NonExistentQueue")
            return
        budget = task.rate if task.rate is not None else task.to_move
        while budget > 0 and task.moved < task.to_move:
            msg = self._next_movable(source)
            if msg is None:
                break
            target_arn = task.destination_arn or msg.dead_letter_source_arn
            target = self.queue_by_arn(target_arn) if target_arn else None
            if target is None:
                self._finish_task(task, "FAILED", "AWS.SimpleQueueService.NonExistentQueue")
                return
            self.move_message(source, msg, target, dead_letter=False)
            task.moved += 1
            budget -= 1
        if task.moved >= task.to_move or self._next_movable(source) is None:
            self._finish_task(task, "COMPLETED")
            return
        task.timer = self.clock.call_later(1.0, lambda: self._move_step(task))

    def _next_movable(self, source: Queue) -> SqsMessage | None:
        now = self.clock.now()
        source._sweep(now)
        for msg in source.messages.values():
            if msg.visible_at <= now:
                return msg
        return None

    def _finish_task(self, task: MoveTask, status: str, reason: str | None = None) -> None:
        task.status = status
        task.failure_reason = reason
        if task.timer is not None:
            task.timer.cancel()
            task.timer = None

    def cancel_move_task(self, handle: str) -> MoveTask:
        try:
            decoded = json.loads(base64.b64decode(handle, validate=True))
            tasks = self._tasks.get(decoded["sourceArn"], [])
            task = next(t for t in tasks if t.task_id == decoded["taskId"])
        except (binascii.Error, ValueError, KeyError, TypeError, StopIteration, RecursionError):
            raise sqs_error("ResourceNotFoundException", "Task does not exist.") from None
        if task.status != "RUNNING":
            raise sqs_error("UnsupportedOperation", "Only active tasks can be cancelled.")
        self._finish_task(task, "CANCELLED")
        return task

    def list_move_tasks(self, source_arn: str, max_results: int) -> list[MoveTask]:
        if self.queue_by_arn(source_arn) is None:
            raise sqs_error("ResourceNotFoundException", "The resource that you specified for the SourceArn "
                            "parameter doesn't exist.")
        return list(reversed(self._tasks.get(source_arn, [])))[:max_results]


def _redrive_allowed(policy: dict[str, Any] | None, source_arn: str) -> bool:
    if policy is None:
        return True
    permission = policy.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in (policy.get("sourceQueueArns") or [])
    return True


def _wake(waiter: asyncio.Future[None]) -> None:
    """A long poll's deadline: wake its receive, unless a message already did."""
    if not waiter.done():
        waiter.set_result(None)
