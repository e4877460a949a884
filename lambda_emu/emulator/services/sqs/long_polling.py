"""ReceiveMessage's long polling (``WaitTimeSeconds``): wait on the platform clock until a message can be
received or the wait is over.

A long poll is one more observer of its queue: it listens like the event source mapping poller does,
so it is woken by a send, a delay or visibility timeout running out, a message moved in, a purge, or
the queue's deletion; its deadline is a clock timer. Nothing is scheduled while nobody waits, so a
manual clock can settle.
"""

from __future__ import annotations

import asyncio
import functools

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.services.sqs.messages import ReceivedMessage
from lambda_emu.emulator.services.sqs.queue import Queue


async def receive_wait(clock: Clock, queue: Queue, max_messages: int, visibility_timeout: int | None,
                       wait_seconds: float) -> list[ReceivedMessage]:
    """ReceiveMessage with long polling: the messages of the first receive that finds some, or none
    once ``wait_seconds`` have passed on the clock (or the queue was deleted)."""
    deadline = clock.now() + wait_seconds
    loop = asyncio.get_running_loop()
    while True:
        messages = queue.receive(max_messages, visibility_timeout)
        if messages or queue.deleted or clock.now() >= deadline:
            return messages
        waiter: asyncio.Future[None] = loop.create_future()
        wake = functools.partial(_wake, waiter)
        timer = clock.call_at(deadline, wake)
        queue.add_listener(wake)
        try:
            await waiter
        finally:
            timer.cancel()
            queue.remove_listener(wake)


def _wake(waiter: asyncio.Future[None]) -> None:
    """A message may be receivable, or the deadline came: wake the receive, unless already woken."""
    if not waiter.done():
        waiter.set_result(None)
