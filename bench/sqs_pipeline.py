"""Issue 4: SendMessageBatch → SQS event source mapping → warm no-op function, batch size 10.

The function counts the records it got (an O_APPEND write to a scratch file per runtime process),
so "done" is read without asking the server anything. Two measurements, both after a warm-up that
leaves the mapping's environments warm:

- backlog: N messages sent while the mapping is disabled; then enabled; messages/s from
  UpdateEventSourceMapping(Enabled=True) to the last record handled (the pipeline alone);
- streaming: N messages sent by 4 concurrent aiohttp SendMessageBatch callers into an enabled
  mapping; messages/s from the first send to the last record handled (end to end).

The queue is checked empty afterwards (every message deleted by the poller).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.common import (
    CountDir,
    EmuServer,
    Result,
    create_function,
    median,
    queue,
    rounds_text,
    verdict,
    wait_until,
)

NAME = "sqs_pipeline"
TITLE = "SQS → event source mapping → function (issue 4)"
TARGET = 5000

HANDLER = CountDir.HANDLER + """
def handler(event, context):
    _count(len(event["Records"]))
    return {}
"""


async def send_batches(endpoint: str, url: str, count: int, concurrency: int = 4, max_seconds: float = 60,
                       message_body: Callable[[int], str] = "m{}".format) -> int:
    """``count`` messages by SendMessageBatch (10 a call) on SQS's JSON protocol; returns how many went.
    ``message_body(i)`` is the i-th message's body."""
    headers = {"X-Amz-Target": "AmazonSQS.SendMessageBatch", "Content-Type": "application/x-amz-json-1.0"}
    calls = iter(range(0, count, 10))
    sent = 0
    deadline = time.perf_counter() + max_seconds

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        for start in calls:
            if time.perf_counter() > deadline:
                return
            n = min(10, count - start)
            body = {"QueueUrl": url,
                    "Entries": [{"Id": str(i), "MessageBody": message_body(start + i)} for i in range(n)]}
            async with session.post(endpoint + "/", data=json.dumps(body).encode(), headers=headers) as response:
                document = await response.read()
                if response.status != 200 or b'"Failed":[{' in document:
                    raise RuntimeError(f"SendMessageBatch: {response.status} {document[:300]!r}")
            sent += n

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return sent


def _set_enabled(lam: Any, mapping: str, enabled: bool) -> None:
    lam.update_event_source_mapping(UUID=mapping, Enabled=enabled)
    want = "Enabled" if enabled else "Disabled"
    if not wait_until(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == want, 10, 0.02):
        raise RuntimeError(f"mapping never became {want}")


def _queue_empty(sqs: Any, url: str) -> bool:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
            + int(attributes["ApproximateNumberOfMessagesDelayed"])) == 0


def run(quick: bool = False) -> list[Result]:
    n, rounds = (1000, 1) if quick else (5000, 3)
    counts = CountDir()
    try:
        with EmuServer() as server:
            lam = server.client("lambda")
            sqs = server.client("sqs")
            name = create_function(lam, f"bench-sqs-{uuid.uuid4().hex[:8]}", HANDLER,
                                   Environment={"Variables": {"BENCH_COUNT_DIR": counts.path}})
            url, arn = queue(sqs, f"bench-esm-{uuid.uuid4().hex[:8]}")
            # BENCH_FILTER=1: a filter every message matches (the bodies are "m<n>"), so the work is the
            # same and the difference is the filters' cost.
            filters = ({"FilterCriteria": {"Filters": [{"Pattern": '{"body": [{"prefix": "m"}]}'}]}}
                       if os.environ.get("BENCH_FILTER") else {})
            mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10,
                                                      **filters)["UUID"]
            if not wait_until(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled", 10, 0.02):
                raise RuntimeError("mapping never became Enabled")

            # Warm-up: enough batches that every concurrent batch slot has had a cold start.
            asyncio.run(send_batches(server.endpoint, url, 200))
            if not wait_until(lambda: counts.total() >= 200, 30):
                raise RuntimeError(f"warm-up: {counts.total()} of 200 records handled")
            environments = len([a for a in server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
                                if a.get("coldStart")])

            backlogs: list[float] = []
            streams: list[float] = []
            sends: list[float] = []
            for _ in range(rounds):
                # Backlog: the pipeline alone.
                _set_enabled(lam, mapping, False)
                counts.reset()
                asyncio.run(send_batches(server.endpoint, url, n))
                t0 = time.perf_counter()
                _set_enabled(lam, mapping, True)
                done = wait_until(lambda: counts.total() >= n, 60, 0.005)
                backlogs.append(n / (time.perf_counter() - t0))
                if not done:
                    raise RuntimeError(f"backlog: {counts.total()} of {n} records handled in 60 s")
                if not wait_until(lambda: _queue_empty(sqs, url), 10, 0.05):
                    raise RuntimeError("backlog: the queue was not emptied")

                # Streaming: senders and the mapping at once.
                counts.reset()
                t0 = time.perf_counter()
                asyncio.run(send_batches(server.endpoint, url, n))
                sends.append(n / (time.perf_counter() - t0))
                done = wait_until(lambda: counts.total() >= n, 60, 0.005)
                streams.append(n / (time.perf_counter() - t0))
                if not done:
                    raise RuntimeError(f"streaming: {counts.total()} of {n} records handled in 60 s")
                if not wait_until(lambda: _queue_empty(sqs, url), 10, 0.05):
                    raise RuntimeError("streaming: the queue was not emptied")
            invocations = server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
            cold_total = sum(1 for a in invocations if a.get("coldStart"))
    finally:
        counts.cleanup()

    backlog = median(backlogs)
    stream = median(streams)
    common = (f"{environments} warm environments (5 batches in flight by default); cold starts after warm-up: "
              f"{cold_total - environments}; {len(invocations):,} invocations in all")
    return [
        Result(NAME, f"backlog of {n:,} → mapping enabled → all handled, batch size 10 (median)", backlog, "msg/s",
               target=f"≥ {TARGET:,} msg/s", verdict=verdict(backlog >= TARGET),
               note=f"rounds {rounds_text(backlogs)}; {common}"),
        Result(NAME, f"{n:,} sent by SendMessageBatch (4 aiohttp callers) → all handled (median)", stream, "msg/s",
               target=f"≥ {TARGET:,} msg/s", verdict=verdict(stream >= TARGET),
               note=f"rounds {rounds_text(streams)}; the sends alone {rounds_text(sends)} msg/s"),
    ]
