"""Enhanced fan-out consumers of a stream, and their SubscribeToShard subscriptions.

A consumer belongs to one stream (its ARN is the stream's ARN + ``/consumer/<name>:<creation epoch>``,
so a consumer registered again under the same name has a new ARN). A subscription pushes a shard's
records to the consumer for 5 minutes on the platform clock: an event as soon as records arrive, and one
every 5 seconds while none do (AWS's heartbeat), each with the ContinuationSequenceNumber to go on from.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.services.kinesis.streams import Consumer

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.kinesis.streams import Shard, Stream, StreamRecord

__all__ = ["Consumer", "consumer_arn", "parse_consumer_arn", "subscription_events"]

MAX_CONSUMERS_PER_STREAM = 20
SUBSCRIPTION_SECONDS = 300.0  # "The subscription lasts for up to 5 minutes"
HEARTBEAT_SECONDS = 5.0
RESUBSCRIBE_SECONDS = 5.0  # a second SubscribeToShard within 5 s of the last one is ResourceInUseException
# --creation-delays: how long RegisterStreamConsumer's CREATING and DeregisterStreamConsumer's DELETING last.
CONSUMER_PHASE_SECONDS = 5.0


def consumer_arn(stream_arn: str, name: str, created_at: float) -> str:
    return f"{stream_arn}/consumer/{name}:{int(created_at)}"


def parse_consumer_arn(arn: str) -> tuple[str, str] | None:
    """(stream ARN, consumer name) of a consumer ARN, or None."""
    stream_part, marker, rest = arn.partition("/consumer/")
    name, colon, stamp = rest.rpartition(":")
    if not marker or not colon or not name or not stamp.isdigit() or ":stream/" not in stream_part:
        return None
    return stream_part, name


async def subscription_events(
    clock: Clock,
    stream: Stream,
    shard: Shard,
    consumer: Consumer,
    counter: int,
    *,
    event_of: Callable[[list[StreamRecord], int, bool], dict[str, Any]],
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """One subscription's SubscribeToShardEvents, from records after ``counter``. ``event_of(records,
    position, finished)`` builds an event; the subscription ends after 5 minutes, when the shard is
    closed and read to its end, when the stream or consumer goes, or when a newer subscription starts."""
    generation = consumer.generations[shard.shard_id]
    ends = clock.now() + SUBSCRIPTION_SECONDS
    wake = asyncio.Event()

    def on_shard(shard_id: str) -> None:
        if shard_id == shard.shard_id or stream.deleted:
            wake.set()

    stream.add_listener(on_shard)
    try:
        while True:
            stream.trim()
            records = shard.records_after(counter, 10_000, 10 * 1024 * 1024)
            if records:
                counter = records[-1].counter
            finished = not shard.is_open and shard.next_after(counter) is None
            yield "SubscribeToShardEvent", event_of(records, counter, finished)
            if finished or stream.deleted or consumer.status != "ACTIVE":
                return
            if consumer.generations.get(shard.shard_id) != generation:
                return
            now = clock.now()
            if now >= ends:
                return
            if shard.next_after(counter) is not None:
                continue  # more than one event's worth was waiting
            wake.clear()
            timer = clock.call_later(min(HEARTBEAT_SECONDS, ends - now), wake.set)
            try:
                await wake.wait()
            finally:
                timer.cancel()
    finally:
        stream.remove_listener(on_shard)
