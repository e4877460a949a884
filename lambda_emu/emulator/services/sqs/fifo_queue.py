"""A FIFO queue: message groups held by their in-flight messages, the deduplication cache and its
scope, sequence numbers.

``FifoThroughputLimit`` is an attribute only (validated, stored, reported back): lambda-emu applies no
throughput quota to any queue, standard or FIFO, so neither of its values changes what a client sees.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any

from lambda_emu.emulator.services.sqs import attributes as attrs
from lambda_emu.emulator.services.sqs.errors import (
    invalid_parameter,
    invalid_parameter_value,
    missing_parameter,
    sqs_error,
)
from lambda_emu.emulator.services.sqs.messages import SendResult, SqsMessage
from lambda_emu.emulator.services.sqs.queue import Queue, QueueHost

#: FIFO deduplication interval (seconds).
DEDUP_WINDOW = 300.0


class FifoQueue(Queue):
    """Exactly-once processing in order per message group: a group hands out its messages in order up to
    its first one in flight (AWS's recorded behaviour: the group is held only by its in-flight messages,
    so an earlier message whose visibility ran out or was set to 0 is handed out again while a later one
    is still in flight); sends are deduplicated for five minutes; every message gets a SequenceNumber."""

    fifo = True
    kind_defaults = attrs.FIFO_DEFAULTS

    def __init__(self, store: QueueHost, name: str, attributes: dict[str, str], tags: dict[str, str],
                 region: str | None = None) -> None:
        super().__init__(store, name, attributes, tags, region)
        self._groups: dict[str, deque[SqsMessage]] = {}  # every live message per group, in order
        self._dedup: dict[tuple[str, str], tuple[float, SendResult]] = {}
        self._last_sequence = 0
        # The deduplication scope the queue was created with: AWS's recordings show a later
        # SetQueueAttributes of DeduplicationScope / FifoThroughputLimit reported back but not changing
        # which sends count as duplicates.
        self._dedup_scope = self.attributes.get("DeduplicationScope", "queue")

    def _added(self, msg: SqsMessage) -> None:
        self._groups.setdefault(msg.group_id or "", deque()).append(msg)

    def _removed(self, msg: SqsMessage) -> None:
        group = msg.group_id or ""
        members = self._groups.get(group)
        if members is not None:
            members.remove(msg)
            if not members:
                del self._groups[group]

    def _unblocks(self, msg: SqsMessage) -> bool:
        # A deleted in-flight message may free the rest of its group: long polls and listeners look again.
        return (msg.group_id or "") in self._groups

    def _purged(self) -> None:
        # AWS forgets the deduplication IDs of a purged FIFO queue: a repeat sent after the purge is new.
        self._dedup.clear()

    def next_sequence_number(self, now: float) -> str:
        # 20 digits that grow with time, like AWS's: milliseconds scaled, bumped past the last one.
        self._last_sequence = max(self._last_sequence + 1, int(now * 1000) * 10_000_000)
        self.saved()
        return str(self._last_sequence)

    def record(self) -> dict[str, Any]:
        return {**super().record(), "last_sequence": self._last_sequence, "dedup_scope": self._dedup_scope,
                "dedup": [[scope, dedup_id, expiry, seen.message_id, seen.sequence_number]
                          for (scope, dedup_id), (expiry, seen) in self._dedup.items()]}

    def restore(self, record: dict[str, Any], messages: list[SqsMessage]) -> None:
        self._last_sequence = record["last_sequence"]
        self._dedup_scope = record.get("dedup_scope") or record["attributes"].get("DeduplicationScope", "queue")
        self._dedup = {(scope, dedup_id): (expiry, SendResult(message_id, "", None, None, sequence))
                       for scope, dedup_id, expiry, message_id, sequence in record["dedup"]}
        super().restore(record, messages)

    def _check_delay(self, delay_seconds: int) -> None:
        if delay_seconds != 0:
            raise invalid_parameter_value("DelaySeconds", delay_seconds,
                                          "The request include parameter that is not valid for this queue type.")

    def _delay(self, delay_seconds: int | None) -> int:
        # A FIFO queue takes no per-message delay (only 0, checked on send): the queue's applies.
        return self.delay_seconds

    def check_batch_entries(self, entries: list[dict[str, Any]]) -> None:
        # An entry without MessageGroupId or a deduplication ID fails the whole call (AWS's SendMessage
        # messages), not just its entry; in a batch AWS codes the missing group InvalidParameterValue, not
        # SendMessage's MissingParameter (LocalStack's AWS-recorded snapshot). A malformed ID fails only
        # its entry, when it is sent.
        for entry in entries:
            dedup_id, group_id = entry.get("MessageDeduplicationId"), entry.get("MessageGroupId")
            if group_id is None:
                raise sqs_error("InvalidParameterValue", "The request must contain the parameter MessageGroupId.")
            if dedup_id is None:
                self._check_ids(dedup_id, group_id)

    def enqueued_at_of_moved(self, msg: SqsMessage, now: float) -> float:
        # A message moved into a FIFO queue starts its retention period over.
        return now

    def dedup_id_of_moved(self, msg: SqsMessage) -> str | None:
        return msg.dedup_id

    def _check_ids(self, dedup_id: str | None, group_id: str | None) -> None:
        if group_id is None:
            raise missing_parameter("MessageGroupId")
        if dedup_id is None and self.attributes.get("ContentBasedDeduplication") != "true":
            raise invalid_parameter("The queue should either have ContentBasedDeduplication enabled or "
                                    "MessageDeduplicationId provided explicitly")
        if dedup_id is not None:
            attrs.check_dedup_or_group_id("MessageDeduplicationId", dedup_id)

    def _deduplicate(self, body: str, dedup_id: str | None, group_id: str | None,
                     now: float) -> tuple[tuple[str, str] | None, str | None, SendResult | None]:
        if dedup_id is None:
            dedup_id = hashlib.sha256(body.encode("utf-8")).hexdigest()  # content-based deduplication
        scope = (group_id or "") if self._dedup_scope == "messageGroup" else ""
        key = (scope, dedup_id)
        seen = self._dedup.get(key)
        return key, dedup_id, (seen[1] if seen is not None and seen[0] > now else None)

    def _remember(self, key: tuple[str, str], msg: SqsMessage, now: float) -> None:
        self._dedup_prune(now)
        self._dedup.pop(key, None)  # re-insert at the end to keep the dict in expiry order
        self._dedup[key] = (now + DEDUP_WINDOW, SendResult(msg.message_id, "", None, None, msg.sequence_number))
        self.saved()

    def _dedup_prune(self, now: float) -> None:
        # Entries are inserted in expiry order (now + a fixed window), so expired ones lead the dict.
        while self._dedup:
            key, entry = next(iter(self._dedup.items()))
            if entry[0] > now:
                return
            del self._dedup[key]

    def _stale_handle(self, msg: SqsMessage, latest: bool, now: float, *, deleting: bool) -> bool:
        # FIFO honours only the latest receipt handle (and, to delete, only while the message is in flight).
        return not latest or (deleting and not msg.in_flight(now))

    def _pick(self, max_messages: int, now: float) -> list[SqsMessage]:
        picked: list[SqsMessage] = []
        for group in list(self._groups):
            if len(picked) >= max_messages:
                break
            members = self._groups.get(group)
            served = False
            index = 0
            while members and index < len(members) and len(picked) < max_messages:
                msg = members[index]
                if self._expired(msg, now):
                    self._remove(msg)
                    continue
                if msg.visible_at > now:
                    break  # in flight or delayed: the rest of the group waits behind it
                dlq = self._redrive_target(msg)
                if dlq is not None:
                    self.store.move_message(self, msg, dlq, dead_letter=True)
                    continue
                picked.append(msg)
                served = True
                index += 1
            if served and group in self._groups:
                self._groups[group] = self._groups.pop(group)  # serve other groups first next time
        return picked

