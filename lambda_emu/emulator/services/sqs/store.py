"""SQS queues and messages as plain Python on the platform clock, testable without HTTP.

Time is read from :class:`~lambda_emu.emulator.platform.clock.Clock` and evaluated lazily: visibility and
delay expiry, retention and deduplication windows are computed from timestamps whenever a queue is
read. The only timers are those that cause observable work: waking queue listeners (the event source
mapping poller; a long poll, long_polling.py) when a hidden message becomes receivable, a long poll's
deadline, a message move task's next second (move_tasks.py). A queue nobody waits on schedules
nothing, so a manual clock can always settle.

Internal API (used by the SQS service, Lambda destinations and the event source mapping poller)::

    store.queue_by_arn(arn) -> Queue | None
    store.deliver(queue_arn, body, message_attributes=None) -> message_id
    store.receive(queue, max_messages, visibility_timeout=None) -> list[ReceivedMessage]
    await long_polling.receive_wait(clock, queue, max_messages, visibility_timeout, wait_seconds)
    store.delete(queue, receipt_handle)
    queue.add_listener(callback) / queue.remove_listener(callback)

``callback()`` is called (synchronously; keep it cheap) whenever messages may have become
receivable: a send, a delay or visibility timeout running out, a message moved in, a purge done.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.services.sqs import attributes as attrs
from lambda_emu.emulator.services.sqs.errors import (
    invalid_parameter,
    queue_does_not_exist,
    receipt_handle_invalid,
    sqs_error,
)
from lambda_emu.emulator.services.sqs.fifo_queue import FifoQueue
from lambda_emu.emulator.services.sqs.messages import ReceivedMessage, SqsMessage
from lambda_emu.emulator.services.sqs.move_tasks import MoveTasks
from lambda_emu.emulator.services.sqs.queue import Queue
from lambda_emu.emulator.services.sqs.standard_queue import StandardQueue

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

log = get_logger("sqs")

#: After DeleteQueue, a queue of the same name can't be created for this long (seconds).
RECREATE_DELAY = 60.0
MAX_TAGS = 50
#: Receipt handles look like AWS's (base64 text starting "AQEB").
_HANDLE_PREFIX = "AQEB"
#: The region an AWS queue URL's host names: sqs.<region>.amazonaws.com or <region>.queue.amazonaws.com.
_AWS_HOST = re.compile(r"(?:^|\.)([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:queue\.)?amazonaws\.com(?:\.cn)?$")



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
        state: StateStore | None = None,
    ) -> None:
        self.clock = clock
        #: --state-dir: queues and messages are written through to it; None without it.
        self.state = state
        self.region = region
        self.account_id = account_id
        self.endpoint: Callable[[], str] = (lambda: endpoint) if isinstance(endpoint, str) else endpoint
        self.rng = rng or random.Random(0)
        # AWS reports the sending principal's ID; without IAM the account is the principal.
        self.sender_id = sender_id or account_id
        #: Every queue by (region, name): queues are per region.
        self.queues: dict[tuple[str, str], Queue] = {}
        self._deleted_at: dict[tuple[str, str], float] = {}
        #: StartMessageMoveTask's redrives (move_tasks.py).
        self.move_tasks = MoveTasks(self)

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
        queue = self.queues.get((parts[3], parts[5]))
        return queue if queue is not None and queue.arn == arn else None

    def queue_by_url(self, url: str, region: str | None = None) -> Queue:
        """The queue a QueueUrl names, as loosely as AWS reads it: any host (a foreign or malformed
        URL is NonExistentQueue, never InvalidAddress); the path's last two segments are account and
        name; the region is the one the URL names (``/queue/<region>/...`` as lambda-emu hands out
        for queues outside its own region, or an AWS host ``sqs.<region>.amazonaws.com``), else the
        emulator's own. A bare queue name is a queue of the caller's ``region``."""
        if "/" not in url:
            return self.get_queue(url, region)
        host, path = ("", url) if "://" not in url else url.split("://", 1)[1].partition("/")[::2]
        segments = [s for s in path.split("?", 1)[0].split("/") if s]
        if len(segments) < 2:
            raise queue_does_not_exist()
        account, name = segments[-2], segments[-1]
        if len(segments) >= 4 and segments[-4] == "queue":
            queue_region = segments[-3]
        else:
            named = _AWS_HOST.search(host.split(":", 1)[0].lower())
            queue_region = named.group(1) if named else self.region
        queue = self.queues.get((queue_region, name))
        if account != self.account_id or queue is None:
            raise queue_does_not_exist()
        return queue

    def get_queue(self, name: str, region: str | None = None) -> Queue:
        queue = self.queues.get((region or self.region, name))
        if queue is None:
            raise queue_does_not_exist()
        return queue

    def create_queue(self, name: str, attributes: Mapping[str, str] | None = None,
                     tags: Mapping[str, str] | None = None, region: str | None = None) -> Queue:
        """A queue of ``region`` (the emulator's own by default): queues are per region, so one name
        in two regions is two queues with their own URLs and ARNs."""
        region = region or self.region
        attributes = dict(attributes or {})
        fifo_value = attributes.get("FifoQueue")
        fifo = fifo_value is not None and fifo_value.lower() == "true"
        attrs.check_queue_name(name, fifo)
        normalized = {k: attrs.check_queue_attribute(k, v, fifo=fifo, creating=True) for k, v in attributes.items()}
        self._check_policies(name, region, normalized, fifo)
        existing = self.queues.get((region, name))
        if existing is not None:
            for key, value in normalized.items():
                if existing.attributes.get(key, "") != value:
                    raise sqs_error("QueueNameExists", "A queue already exists with the same name and a different "
                                    f"value for attribute {key}")
            return existing
        deleted_at = self._deleted_at.get((region, name))
        if deleted_at is not None and self.clock.now() - deleted_at < RECREATE_DELAY:
            raise sqs_error("QueueDeletedRecently", "You must wait 60 seconds after deleting a queue before you can "
                            "create another with the same name.")
        self._check_tags(name, dict(tags or {}))
        queue = queue_kind(fifo)(self, name, normalized, dict(tags or {}), region)
        self.queues[(region, name)] = queue
        queue.saved()
        return queue

    def restore(self) -> None:
        """The queues and messages of the state directory (as they were: receive counts, visibility, handles)."""
        state = self.state
        if state is None:
            return
        known = {f.name for f in fields(SqsMessage)}
        by_queue: dict[str, list[SqsMessage]] = {}
        for _key, record in state.load("sqs-message"):
            by_queue.setdefault(record["queue"], []).append(
                SqsMessage(**{k: v for k, v in record.items() if k in known}))
        # Nothing read back is written again: the state already says it.
        self.state = None
        try:
            for key, record in state.load("sqs-queue"):
                # Records written before queues were per region name no region: the emulator's own.
                queue = queue_kind(record["fifo"])(
                    self, record["name"], {}, record["tags"], record.get("region", self.region))
                self.queues[(queue.region, queue.name)] = queue
                queue.restore(record, by_queue.pop(key, []))
        finally:
            self.state = state

    def set_attributes(self, queue: Queue, attributes: Mapping[str, str]) -> None:
        normalized = {k: attrs.check_queue_attribute(k, v, fifo=queue.fifo, creating=False)
                      for k, v in attributes.items()}
        self._check_policies(queue.name, queue.region, normalized, queue.fifo)
        if normalized.get("KmsMasterKeyId") == "":
            # SSE-KMS switched off: AWS no longer lists the key's reuse period, even one given in the same call.
            normalized.pop("KmsDataKeyReusePeriodSeconds", None)
        for key, value in normalized.items():
            if value == "" and key in ("RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId"):
                queue.attributes.pop(key, None)
                if key == "KmsMasterKeyId":
                    # SSE-KMS switched off: AWS no longer lists the key's reuse period either.
                    queue.attributes.pop("KmsDataKeyReusePeriodSeconds", None)
            else:
                queue.attributes[key] = value
        queue.last_modified = self.clock.now()
        queue.saved()
        queue.attributes_changed()

    def _check_policies(self, name: str, region: str, attributes: dict[str, str], fifo: bool) -> None:
        attrs.check_single_sse(attributes)
        raw = attributes.get("RedrivePolicy")
        if raw:
            policy = attrs.parse_redrive_policy(raw)
            dlq = self.queue_by_arn(policy["deadLetterTargetArn"])
            if dlq is None:
                raise attrs.redrive_policy_error(raw, "Dead letter target does not exist.")
            if dlq.fifo != fifo:
                raise attrs.redrive_policy_error(raw, "Dead-letter queue must be same type of queue as the source.")
            source_arn = f"arn:aws:sqs:{region}:{self.account_id}:{name}"
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
        if self.state is not None:
            self.state.delete("sqs-queue", queue.state_key)
            self.state.delete_owned("sqs-message", queue.state_key)
        queue.deleted = True
        self.queues.pop((queue.region, queue.name), None)
        self._deleted_at[(queue.region, queue.name)] = self.clock.now()
        self.move_tasks.source_deleted(queue.arn)
        queue.closed()  # no more timers; long polls on it return

    def reset(self) -> None:
        """Delete every queue and forget them, deleted names included (``POST /_emu/reset``): a test
        after a reset may create a queue of the same name at once."""
        for queue in list(self.queues.values()):
            self.delete_queue(queue)
        self.queues = {}
        self._deleted_at = {}
        self.move_tasks.clear()

    def list_queues(self, prefix: str | None = None, region: str | None = None) -> list[Queue]:
        """The queues of ``region`` (the emulator's own by default), by name."""
        region = region or self.region
        return [q for (r, name), q in sorted(self.queues.items()) if r == region and name.startswith(prefix or "")]

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
        queue.saved()

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
        source.take(msg)
        moved = SqsMessage(
            message_id=msg.message_id,
            body=msg.body,
            md5_of_body=msg.md5_of_body,
            message_attributes=msg.message_attributes,
            md5_of_message_attributes=msg.md5_of_message_attributes,
            system_attributes=msg.system_attributes,
            md5_of_system_attributes=msg.md5_of_system_attributes,
            sent_at=msg.sent_at,
            enqueued_at=target.enqueued_at_of_moved(msg, now),
            sender_id=msg.sender_id,
            visible_at=now,
            group_id=msg.group_id,
            dedup_id=target.dedup_id_of_moved(msg),
            sequence_number=target.next_sequence_number(now),
            dead_letter_source_arn=source.arn if dead_letter else None,
            receive_count=msg.receive_count if dead_letter else 0,
            first_receive_at=msg.first_receive_at if dead_letter else None,
        )
        target.put(moved)


def queue_kind(fifo: bool) -> type[Queue]:
    """The class of a new or restored queue: the one place the store chooses between the two kinds."""
    return FifoQueue if fifo else StandardQueue


def _redrive_allowed(policy: dict[str, Any] | None, source_arn: str) -> bool:
    if policy is None:
        return True
    permission = policy.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in (policy.get("sourceQueueArns") or [])
    return True
