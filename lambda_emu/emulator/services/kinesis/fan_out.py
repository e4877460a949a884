"""Enhanced fan-out: RegisterStreamConsumer, DescribeStreamConsumer, DeregisterStreamConsumer and the
SubscribeToShard subscriptions of a consumer (their bookkeeping and their event stream).

A subscription pushes a shard's records to the consumer for 5 minutes on the platform clock: an event
as soon as records arrive, and one every 5 seconds while none do (AWS's heartbeat), each with the
ContinuationSequenceNumber to go on from. A consumer itself (its record and ARN) is in ``consumers.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.consumers import (
    CONSUMER_PHASE_SECONDS,
    HEARTBEAT_SECONDS,
    MAX_CONSUMERS_PER_STREAM,
    RESUBSCRIBE_SECONDS,
    SUBSCRIPTION_SECONDS,
    Consumer,
    consumer_arn,
    parse_consumer_arn,
)
from lambda_emu.emulator.services.kinesis.streams import invalid_argument

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.kinesis.store import KinesisStore
    from lambda_emu.emulator.services.kinesis.streams import Shard, Stream, StreamRecord


class FanOut:
    """The enhanced fan-out consumers of the streams of one Kinesis store."""

    def __init__(self, store: KinesisStore) -> None:
        self.store = store
        self.clock = store.clock
        self.account_id = store.account_id

    def register_consumer(self, stream: Stream, name: str, tags: dict[str, str] | None) -> Consumer:
        if name in stream.consumers:
            raise AwsError("ResourceInUseException",
                           f"Consumer {name} under stream {stream.name} under account {self.account_id} "
                           "already exists.")
        if len(stream.consumers) >= MAX_CONSUMERS_PER_STREAM:
            raise AwsError("LimitExceededException",
                           f"Consumer limit of {MAX_CONSUMERS_PER_STREAM} reached for stream {stream.name} "
                           f"under account {self.account_id}.")
        if tags:
            self.store.tagging.check_tag_keys(tags)
            self.store.tagging.check_tags(stream.name, tags)
        created = self.clock.now_ms() / 1000
        consumer = Consumer(name, consumer_arn(stream.arn, name, created), stream.arn, created, tags=dict(tags or {}))
        stream.consumers[name] = consumer
        if self.store.creation_delays:
            consumer.status = "CREATING"

            def active() -> None:
                if consumer.status == "CREATING":
                    consumer.status = "ACTIVE"
                    stream.saved()

            self.clock.call_later(CONSUMER_PHASE_SECONDS, active)
        stream.saved()
        return consumer

    def consumer_not_found(self, what: str) -> AwsError:
        return AwsError("ResourceNotFoundException", f"Consumer {what} under account {self.account_id} not found.")

    def find_consumer(self, arn: str) -> tuple[Stream, Consumer] | None:
        parsed = parse_consumer_arn(arn)
        if parsed is None:
            return None
        stream = self.store.find_stream_by_arn(parsed[0])
        consumer = stream.consumers.get(parsed[1]) if stream is not None else None
        if stream is None or consumer is None or consumer.arn != arn:
            return None
        return stream, consumer

    def consumer(self, stream_arn: str | None, name: str | None, arn: str | None) -> tuple[Stream, Consumer]:
        """The consumer DescribeStreamConsumer / DeregisterStreamConsumer name: by ARN, or by stream and name."""
        if arn:
            if parse_consumer_arn(arn) is None:
                raise invalid_argument(f"Invalid ConsumerARN {arn}.")
            found = self.find_consumer(arn)
            if found is None:
                raise self.consumer_not_found(arn)
            return found
        if not stream_arn or not name:
            raise invalid_argument("Either ConsumerARN or both ConsumerName and StreamARN must be provided.")
        stream = self.store.stream_by_arn(stream_arn)
        consumer = stream.consumers.get(name)
        if consumer is None:
            raise self.consumer_not_found(f"{name} under stream {stream.name}")
        return stream, consumer

    def deregister_consumer(self, stream: Stream, consumer: Consumer) -> None:
        def gone() -> None:
            if stream.consumers.get(consumer.name) is consumer:
                del stream.consumers[consumer.name]
                stream.saved()

        consumer.status = "DELETING"
        # Its subscriptions end now.
        stream.notify(list(consumer.generations))
        if self.store.creation_delays:
            stream.saved()
            self.clock.call_later(CONSUMER_PHASE_SECONDS, gone)
        else:
            gone()

    def subscribe(self, consumer: Consumer, shard: Shard) -> None:
        """Start a subscription of ``consumer`` to ``shard`` (a newer one ends the older)."""
        if consumer.status != "ACTIVE":
            raise AwsError("ResourceInUseException",
                           f"Consumer {consumer.arn} is not in ACTIVE state (it is {consumer.status}).")
        now = self.clock.now()
        last = consumer.subscribed_at.get(shard.shard_id)
        if last is not None and now - last < RESUBSCRIBE_SECONDS:
            raise AwsError("ResourceInUseException",
                           f"Another active subscription exists for this consumer: {consumer.arn} "
                           f"and shard {shard.shard_id}.")
        consumer.subscribed_at[shard.shard_id] = now
        consumer.generations[shard.shard_id] = consumer.generations.get(shard.shard_id, 0) + 1


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
