"""An SQS queue on the platform clock: what standard and FIFO queues share (:class:`Queue`).

The two kinds are subclasses in their own modules, :class:`~.standard_queue.StandardQueue` and
:class:`~.fifo_queue.FifoQueue`; each owns its order, deduplication, picking and receipt-handle rules
through the hooks of "what each kind of queue does its own way" below. Time is evaluated lazily (see
``store.py``); the only timer (``visibility.py``) wakes observers: a long poll, or a listener such as
the event source mapping poller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.services.sqs import attributes as attrs
from lambda_emu.emulator.services.sqs.checksums import md5_of_attributes, md5_of_body
from lambda_emu.emulator.services.sqs.errors import invalid_parameter_value, receipt_handle_invalid, sqs_error
from lambda_emu.emulator.services.sqs.messages import ReceivedMessage, SendResult, SqsMessage, message_record
from lambda_emu.emulator.services.sqs.visibility import HiddenMessages, check_visibility_timeout

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

log = get_logger("sqs")

#: Only one PurgeQueue per queue in this many seconds.
PURGE_INTERVAL = 60.0

Listener = Callable[[], None]


class QueueHost(Protocol):
    """What a queue uses of the store that holds it."""

    clock: Clock
    region: str
    account_id: str
    sender_id: str
    #: --state-dir: queues and messages are written through to it; None without it.
    state: StateStore | None

    def endpoint(self) -> str: ...

    def new_id(self) -> str: ...

    def new_receipt_handle(self, queue: Queue, msg: SqsMessage) -> str: ...

    def decode_receipt_handle(self, handle: str) -> tuple[str, str]: ...

    def queue_by_arn(self, arn: str) -> Queue | None: ...

    def move_message(self, source: Queue, msg: SqsMessage, target: Queue, *, dead_letter: bool) -> None: ...


class Queue:
    """What standard and FIFO queues share: attributes, visibility and delays on the clock, retention,
    redrive, listeners and long polls. How messages are ordered, deduplicated and picked is each
    kind's own (``standard_queue.py``, ``fifo_queue.py``)."""

    #: A FIFO queue: a fact of the type for callers that validate against the kind (attribute names,
    #: a mapping's batch size, redrive pairing) and for --state-dir; behaviour is the subclass's.
    fifo: bool = False
    #: Attribute defaults of this kind of queue beyond the common ones.
    kind_defaults: Mapping[str, str] = {}

    def __init__(self, store: QueueHost, name: str, attributes: dict[str, str], tags: dict[str, str],
                 region: str | None = None) -> None:
        self.store = store
        self.name = name
        #: Queues are per region: the region of the client that created it (the emulator's by default).
        self.region = region or store.region
        self.arn = f"arn:aws:sqs:{self.region}:{store.account_id}:{name}"
        self.attributes = dict(attrs.DEFAULTS)
        self.attributes.update(self.kind_defaults)
        self.attributes.update(attributes)
        now = store.clock.now()
        self.created = now
        self.last_modified = now
        self.tags = dict(tags)
        self.deleted = False
        self.last_purge_at: float | None = None
        self.messages: dict[str, SqsMessage] = {}
        self._hidden = HiddenMessages(store.clock, self._shown, self._on_wake)
        self._listeners: list[Listener] = []

    # ---- attributes ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``<endpoint>/<account>/<name>`` in the emulator's region; ``<endpoint>/queue/<region>/<account>/<name>``
        in any other (one endpoint serves every region, so the path names it as AWS's host does)."""
        if self.region == self.store.region:
            return f"{self.store.endpoint()}/{self.store.account_id}/{self.name}"
        return f"{self.store.endpoint()}/queue/{self.region}/{self.store.account_id}/{self.name}"

    @property
    def state_key(self) -> str:
        """The queue's key in --state-dir: its name in the emulator's region, ``<region>/<name>`` elsewhere."""
        return self.name if self.region == self.store.region else f"{self.region}/{self.name}"

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
        return {"ApproximateNumberOfMessages": visible, "ApproximateNumberOfMessagesNotVisible": hidden,
                "ApproximateNumberOfMessagesDelayed": delayed}

    def attribute_values(self) -> dict[str, str]:
        """Every attribute GetQueueAttributes(All) returns, in AWS's order."""
        values: dict[str, str] = {"QueueArn": self.arn, "CreatedTimestamp": str(int(self.created)),
                                  "LastModifiedTimestamp": str(int(self.last_modified))}
        values.update({k: str(v) for k, v in self.counts().items()})
        values.update(self.attributes)
        return {name: values[name] for name in attrs.ALL_ORDER if values.get(name) not in (None, "")}

    # ---- listeners (the mapping poller; a long poll, long_polling.py) ---------------------------

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback()`` whenever messages may have become receivable (see module doc)."""
        self._listeners.append(callback)
        self._arm_wake()

    def remove_listener(self, callback: Listener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)
        self._arm_wake()

    def _notify(self) -> None:
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:  # noqa: BLE001 - one listener's bug must not break the queue
                log.exception("sqs listener failed", queue=self.name)

    def _observed(self) -> bool:
        return bool(self._listeners)

    def _arm_wake(self) -> None:
        """Keep the wake timer at the next moment a hidden message shows, only while observed."""
        if self.deleted or not self._observed():
            self._hidden.cancel()
            return
        self._hidden.arm(self.store.clock.now())

    def _on_wake(self) -> None:
        if self.deleted:
            return
        self._hidden.show_due(self.store.clock.now())
        self._notify()
        self._arm_wake()

    # ---- the state directory (--state-dir) ----------------------------------------------------

    def saved(self) -> None:
        """Write the queue's own record (attributes, tags, its kind's counters) through."""
        state = self.store.state
        if state is not None and not self.deleted:
            state.put("sqs-queue", self.state_key, self.record)

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "region": self.region, "fifo": self.fifo, "attributes": self.attributes,
                "tags": self.tags, "created": self.created, "last_modified": self.last_modified,
                "last_purge_at": self.last_purge_at}

    def _saved_message(self, msg: SqsMessage) -> None:
        state = self.store.state
        if state is not None and not msg.deleted:
            state.put("sqs-message", msg.message_id, lambda: message_record(self.state_key, msg),
                      owner=self.state_key)

    def restore(self, record: dict[str, Any], messages: list[SqsMessage]) -> None:
        """Back as it was: its record, and its messages (visibility, receive counts, handles) in order."""
        self.attributes = dict(record["attributes"])
        self.created = record["created"]
        self.last_modified = record["last_modified"]
        self.last_purge_at = record["last_purge_at"]
        now = self.store.clock.now()
        # FIFO order is the sequence number's; a standard queue keeps its (best-effort) order by send time.
        for msg in sorted(messages, key=lambda m: (m.sequence_number or "", m.sent_at)):
            self._add(msg, now)

    # ---- message bookkeeping ---------------------------------------------------------------------

    def _hide_until(self, msg: SqsMessage, when: float) -> None:
        sooner = self._hidden.hide(msg, when)
        self._saved_message(msg)
        if self._observed() and sooner:
            self._arm_wake()

    def _expired(self, msg: SqsMessage, now: float) -> bool:
        return now >= msg.enqueued_at + self.retention

    def _sweep(self, now: float) -> None:
        """Drop messages past the retention period (lazily, when the queue is read)."""
        self._hidden.show_due(now)
        for msg in [m for m in self.messages.values() if self._expired(m, now)]:
            self._remove(msg)

    def _add(self, msg: SqsMessage, now: float) -> None:
        self.messages[msg.message_id] = msg
        self._saved_message(msg)
        self._added(msg)
        if msg.visible_at <= now:
            self._shown(msg)
        else:
            self._hide_until(msg, msg.visible_at)

    def _remove(self, msg: SqsMessage) -> None:
        if msg.deleted:
            return
        msg.deleted = True
        self.messages.pop(msg.message_id, None)
        if self.store.state is not None:
            self.store.state.delete("sqs-message", msg.message_id)
        self._removed(msg)

    # ---- what each kind of queue does its own way ------------------------------------------------

    def _added(self, msg: SqsMessage) -> None:
        """A message joined the queue (visible or not)."""

    def _shown(self, msg: SqsMessage) -> None:
        """A message became receivable (its delay or visibility timeout ran out)."""

    def _removed(self, msg: SqsMessage) -> None:
        """A message left the queue (deleted, expired, moved, purged)."""

    def _hidden_again(self, msg: SqsMessage) -> None:
        """A receivable message is in flight again (ChangeMessageVisibility after its timeout ran out)."""

    def _purged(self) -> None:
        """PurgeQueue emptied the queue."""

    def _unblocks(self, msg: SqsMessage) -> bool:
        """Whether deleting this in-flight message may make others receivable at once (FIFO's group)."""
        return False

    def check_batch_entries(self, entries: list[dict[str, Any]]) -> None:
        """What fails a whole SendMessageBatch before any entry is sent (nothing, for a standard queue:
        each entry fails on its own)."""

    def _pick(self, max_messages: int, now: float) -> list[SqsMessage]:
        """The messages one receive hands out, in this kind's order."""
        raise NotImplementedError

    def _check_delay(self, delay_seconds: int) -> None:
        """A per-message DelaySeconds as this kind takes it."""
        if not 0 <= delay_seconds <= 900:
            raise invalid_parameter_value("DelaySeconds", delay_seconds, "DelaySeconds must be >= 0 and <= 900.")

    def _delay(self, delay_seconds: int | None) -> int:
        """How long a message sent with this DelaySeconds stays hidden: its own, else the queue's."""
        return self.delay_seconds if delay_seconds is None else delay_seconds

    def _check_ids(self, dedup_id: str | None, group_id: str | None) -> None:
        """MessageDeduplicationId / MessageGroupId as this kind requires them."""

    def _deduplicate(self, body: str, dedup_id: str | None, group_id: str | None,
                     now: float) -> tuple[tuple[str, str] | None, str | None, SendResult | None]:
        """(deduplication key, deduplication ID, the earlier send this one repeats); none for a
        standard queue."""
        return None, None, None

    def _remember(self, key: tuple[str, str], msg: SqsMessage, now: float) -> None:
        """Remember a send for deduplication."""

    def next_sequence_number(self, now: float) -> str | None:
        """The SequenceNumber of a message entering now (FIFO only)."""
        return None

    def enqueued_at_of_moved(self, msg: SqsMessage, now: float) -> float:
        """What retention counts from for a message moved in (a DLQ, a move task): a standard queue
        keeps the original enqueue time."""
        return msg.enqueued_at

    def dedup_id_of_moved(self, msg: SqsMessage) -> str | None:
        """The MessageDeduplicationId a message moved in keeps: none on a standard queue."""
        return None

    def _stale_handle(self, msg: SqsMessage, latest: bool, now: float, *, deleting: bool) -> bool:
        """Whether this kind refuses a receipt handle that is not the message's latest."""
        return False

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
        attrs.check_message(body, attributes, system, self.maximum_message_size)
        if delay_seconds is not None:
            self._check_delay(delay_seconds)
        if group_id is not None:
            attrs.check_dedup_or_group_id("MessageGroupId", group_id)
        self._check_ids(dedup_id, group_id)
        now = self.store.clock.now()
        md5_attributes = md5_of_attributes(attributes)
        md5_system = md5_of_attributes(system)
        body_md5 = md5_of_body(body)
        key, dedup_id, seen = self._deduplicate(body, dedup_id, group_id, now)
        if seen is not None:
            return SendResult(seen.message_id, body_md5, md5_attributes, md5_system, seen.sequence_number)
        delay = self._delay(delay_seconds)
        msg = SqsMessage(
            message_id=self.store.new_id(), body=body, md5_of_body=body_md5,
            message_attributes=attributes, md5_of_message_attributes=md5_attributes,
            system_attributes=system, md5_of_system_attributes=md5_system,
            sent_at=now, enqueued_at=now, sender_id=self.store.sender_id, visible_at=now + delay,
            group_id=group_id, dedup_id=dedup_id, sequence_number=self.next_sequence_number(now),
        )
        if key is not None:
            self._remember(key, msg, now)
        self._add(msg, now)
        if delay <= 0:
            self._notify()
        return SendResult(msg.message_id, body_md5, md5_attributes, md5_system, msg.sequence_number)

    def receive(self, max_messages: int, visibility_timeout: int | None = None) -> list[ReceivedMessage]:
        """One ReceiveMessage attempt (no waiting): up to ``max_messages``, hidden for the timeout.

        A message that has already been received maxReceiveCount times is moved to the dead-letter
        queue on the attempt that would exceed it, instead of being returned.
        """
        now = self.store.clock.now()
        timeout = self.visibility_timeout if visibility_timeout is None else visibility_timeout
        self._hidden.show_due(now)
        return [self._hand_out(msg, timeout, now) for msg in self._pick(max_messages, now)]

    def _redrive_target(self, msg: SqsMessage) -> Queue | None:
        policy = self.redrive_policy
        if policy is None or msg.receive_count < policy["maxReceiveCount"]:
            return None
        return self.store.queue_by_arn(policy["deadLetterTargetArn"])

    def _hand_out(self, msg: SqsMessage, timeout: int, now: float) -> ReceivedMessage:
        msg.receive_count += 1
        if msg.first_receive_at is None:
            msg.first_receive_at = now
        msg.received_at = now
        msg.receipt_handle = self.store.new_receipt_handle(self, msg)
        self._hide_until(msg, now + timeout)
        if timeout <= 0:
            self._hidden.show_due(now)
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
        if self._stale_handle(msg, latest, self.store.clock.now(), deleting=True):
            raise invalid_parameter_value("ReceiptHandle", receipt_handle, "The receipt handle has expired.")
        self._remove(msg)
        if self._unblocks(msg):
            self._notify()

    def change_visibility(self, receipt_handle: str, timeout: int) -> None:
        msg, latest = self._message_for_handle(receipt_handle)
        now = self.store.clock.now()
        if msg is None:
            # AWS's answer for a deleted message (recorded): InvalidParameterValue, not MessageNotInflight.
            raise invalid_parameter_value("ReceiptHandle", receipt_handle, "Message does not exist or is not "
                                          "available for visibility timeout change.")
        self._hidden.show_due(now)
        if msg.receipt_handle is None:
            raise sqs_error("MessageNotInflight", "Message does not exist or is not available for visibility "
                            "timeout change.")
        # A received message whose visibility ran out still takes the change (AWS answers 200 and the
        # new timeout counts from now), so a slow consumer's extension is not an error.
        if self._stale_handle(msg, latest, now, deleting=False):
            raise invalid_parameter_value("ReceiptHandle", receipt_handle, "The receipt handle has expired.")
        check_visibility_timeout(timeout, now - (msg.received_at or now))
        if not msg.in_flight(now):
            self._hidden_again(msg)
        self._hide_until(msg, now + timeout)
        if timeout == 0:
            self._hidden.show_due(now)
            self._notify()

    def purge(self) -> None:
        now = self.store.clock.now()
        if self.last_purge_at is not None and now - self.last_purge_at < PURGE_INTERVAL:
            raise sqs_error("PurgeQueueInProgress", f"Only one PurgeQueue operation on {self.name} is allowed every "
                            f"{int(PURGE_INTERVAL)} seconds.")
        self.last_purge_at = now
        self._purged()
        self.saved()
        for msg in list(self.messages.values()):
            self._remove(msg)
        self._hidden.clear()
        self._notify()

    # ---- for the store ----------------------------------------------------------------------------

    def attributes_changed(self) -> None:
        """A shorter delay or a new redrive target can make messages receivable sooner."""
        self._arm_wake()

    def closed(self) -> None:
        """The queue was deleted: no more timers, and long polls on it return."""
        self._hidden.cancel()
        self._notify()

    def take(self, msg: SqsMessage) -> None:
        """Remove a message that moves to another queue."""
        self._remove(msg)

    def put(self, msg: SqsMessage) -> None:
        """Add a message moved in from another queue, and wake observers."""
        self._add(msg, self.store.clock.now())
        self._notify()

    def movable(self) -> SqsMessage | None:
        """The next message a move task can take: visible now, not expired."""
        now = self.store.clock.now()
        self._sweep(now)
        for msg in self.messages.values():
            if msg.visible_at <= now:
                return msg
        return None


