"""A standard queue: at-least-once delivery in best-effort order, no deduplication."""

from __future__ import annotations

from collections import OrderedDict

from lambda_emu.emulator.services.sqs.errors import invalid_parameter_value
from lambda_emu.emulator.services.sqs.messages import SqsMessage
from lambda_emu.emulator.services.sqs.queue import Queue, QueueHost


class StandardQueue(Queue):
    """At-least-once, best-effort order: receivable messages wait in one ready list, oldest first."""

    def __init__(self, store: QueueHost, name: str, attributes: dict[str, str], tags: dict[str, str],
                 region: str | None = None) -> None:
        super().__init__(store, name, attributes, tags, region)
        self._ready: OrderedDict[str, SqsMessage] = OrderedDict()  # receivable now, in order

    def _shown(self, msg: SqsMessage) -> None:
        if not msg.in_ready:
            msg.in_ready = True
            self._ready[msg.message_id] = msg

    def _removed(self, msg: SqsMessage) -> None:
        if msg.in_ready:
            self._ready.pop(msg.message_id, None)
            msg.in_ready = False

    def _hidden_again(self, msg: SqsMessage) -> None:
        self._removed(msg)

    def _check_ids(self, dedup_id: str | None, group_id: str | None) -> None:
        if dedup_id is not None:
            raise invalid_parameter_value("MessageDeduplicationId", dedup_id,
                                          "The request include parameter that is not valid for this queue type.")

    def _pick(self, max_messages: int, now: float) -> list[SqsMessage]:
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


