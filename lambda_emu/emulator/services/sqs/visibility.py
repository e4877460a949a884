"""A queue's hidden messages: those a delay (DelaySeconds) or a visibility timeout keeps from being
received, in the order they become receivable again, and the one clock timer that wakes the queue
when the next of them shows.

Visibility is evaluated lazily: a queue asks :meth:`HiddenMessages.show_due` whenever it is read, and
the timer exists only while the queue is observed (a listener: the mapping poller or a long poll), so
a queue nobody waits on schedules nothing and a manual clock can always settle.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from lambda_emu.emulator.platform.clock import Clock, Timer
from lambda_emu.emulator.services.sqs.errors import invalid_parameter_value
from lambda_emu.emulator.services.sqs.messages import SqsMessage

#: A message may not stay invisible longer than 12 hours from its receive.
MAX_VISIBILITY = 43_200


def check_visibility_timeout(timeout: int, since_receive: float) -> None:
    """ChangeMessageVisibility's timeout: at most 12 hours, counted from the message's receive."""
    if not 0 <= timeout <= MAX_VISIBILITY:
        raise invalid_parameter_value("VisibilityTimeout", timeout, f"Must be between 0 and {MAX_VISIBILITY}, "
                                      "if provided.")
    if since_receive + timeout > MAX_VISIBILITY:
        raise invalid_parameter_value("VisibilityTimeout", timeout, "Total VisibilityTimeout for the message "
                                      f"is beyond the limit [{MAX_VISIBILITY} seconds]")


class HiddenMessages:
    """Messages by when they show again (``visible_at``). An entry whose message was deleted or hidden
    again since it was pushed is stale and skipped: re-hiding pushes a new entry instead of searching."""

    def __init__(self, clock: Clock, shown: Callable[[SqsMessage], None], wake: Callable[[], None]) -> None:
        self._clock = clock
        #: The queue's hook for a message that became receivable.
        self._shown = shown
        #: What the timer calls when the next hidden message shows.
        self._wake = wake
        self._heap: list[tuple[float, int, SqsMessage]] = []
        self._seq = itertools.count()
        self._timer: Timer | None = None

    def hide(self, msg: SqsMessage, when: float) -> bool:
        """Hide ``msg`` until ``when``; whether it shows before the armed timer fires (an observed
        queue then re-arms it)."""
        msg.visible_at = when
        heapq.heappush(self._heap, (when, next(self._seq), msg))
        return self._timer is None or when < self._timer.when

    def show_due(self, now: float) -> None:
        """Hand every message whose delay or visibility ran out by ``now`` to the queue's ``shown``."""
        while self._heap and self._heap[0][0] <= now:
            when, _, msg = heapq.heappop(self._heap)
            if msg.deleted or msg.visible_at != when:
                continue
            self._shown(msg)

    def next_due(self) -> float | None:
        """When the next hidden message shows; None when none is hidden."""
        while self._heap:
            when, _, msg = self._heap[0]
            if msg.deleted or msg.visible_at != when:
                heapq.heappop(self._heap)  # stale: deleted or re-hidden since
                continue
            return when
        return None

    def arm(self, now: float) -> None:
        """Keep one clock timer at the moment the next hidden message shows (none if none is hidden)."""
        self.show_due(now)
        when = self.next_due()
        if when is None:
            self.cancel()
            return
        if self._timer is not None and not self._timer.cancelled and self._timer.when <= when:
            return
        self.cancel()
        self._timer = self._clock.call_at(when, self._fired)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def clear(self) -> None:
        """Forget every hidden message (PurgeQueue)."""
        self._heap.clear()

    def _fired(self) -> None:
        self._timer = None
        self._wake()
