"""A standard queue: at-least-once delivery in best-effort order, no deduplication."""

from __future__ import annotations

import heapq
import itertools

from lambda_emu.emulator.services.sqs.errors import invalid_parameter_value
from lambda_emu.emulator.services.sqs.messages import SqsMessage
from lambda_emu.emulator.services.sqs.queue import Queue, QueueHost


class StandardQueue(Queue):
    """At-least-once, best-effort order: receivable messages wait oldest first, by when they joined the
    queue, so a message whose visibility timeout ran out is handed out before messages sent after it
    (AWS's recorded answer in LocalStack's test_inflight_message_requeue), not after them."""

    def __init__(self, store: QueueHost, name: str, attributes: dict[str, str], tags: dict[str, str],
                 region: str | None = None) -> None:
        super().__init__(store, name, attributes, tags, region)
        # A heap of (arrival, push, message). An entry whose message is no longer receivable is skipped
        # when it comes up (cheaper than finding it); `push` keeps two entries of one message apart.
        self._ready: list[tuple[int, int, SqsMessage]] = []
        self._arrival: dict[str, int] = {}  # message id -> its place in the queue, kept while it lives
        self._arrivals = itertools.count()
        self._pushes = itertools.count()

    def _added(self, msg: SqsMessage) -> None:
        self._arrival[msg.message_id] = next(self._arrivals)

    def _shown(self, msg: SqsMessage) -> None:
        if not msg.in_ready:
            msg.in_ready = True
            heapq.heappush(self._ready, (self._arrival[msg.message_id], next(self._pushes), msg))

    def _removed(self, msg: SqsMessage) -> None:
        msg.in_ready = False
        if msg.deleted:
            self._arrival.pop(msg.message_id, None)
            if len(self._ready) > 2 * len(self._arrival) + 64:
                # Mostly skipped entries (a purge, many deletes): keep the heap the size of the queue.
                self._ready = [entry for entry in self._ready if entry[2].in_ready]
                heapq.heapify(self._ready)

    def _hidden_again(self, msg: SqsMessage) -> None:
        self._removed(msg)

    def _check_ids(self, dedup_id: str | None, group_id: str | None) -> None:
        if dedup_id is not None:
            raise invalid_parameter_value("MessageDeduplicationId", dedup_id,
                                          "The request include parameter that is not valid for this queue type.")

    def _pick(self, max_messages: int, now: float) -> list[SqsMessage]:
        picked: list[SqsMessage] = []
        while self._ready and len(picked) < max_messages:
            msg = heapq.heappop(self._ready)[2]
            if not msg.in_ready:
                continue  # an entry of a message received, hidden or deleted since
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


