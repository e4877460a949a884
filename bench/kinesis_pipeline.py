"""Issue 5: Kinesis stream → event source mapping → function.

1. Throughput: PutRecords into 4 shards → mapping (BatchSize 100) → warm no-op function that counts
   the records it got. Backlog (records put while the mapping is disabled, then enabled; the
   pipeline alone) and streaming (4 concurrent aiohttp PutRecords callers into the enabled mapping).
2. A poison record (one bad record among 100, then a sentinel record behind them) on one shard, on
   the manual clock: the virtual time and the wall time until the shard is past it (settle returns
   with the sentinel handled), with and without BisectBatchOnFunctionError, against the same run
   without poison.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime
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

NAME = "kinesis_pipeline"
TITLE = "Kinesis → event source mapping → function (issue 5)"
TARGET = 20_000

COUNTING = CountDir.HANDLER + """
def handler(event, context):
    _count(len(event["Records"]))
    return {}
"""

POISON = CountDir.HANDLER + """
import base64
def handler(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]
    if b"poison" in datas:
        raise Exception("poison record")
    _count(len(datas), " sentinel" if b"sentinel" in datas else "")
    return {}
"""


async def put_records(endpoint: str, stream: str, count: int, concurrency: int = 4, per_call: int = 500,
                      max_seconds: float = 60, data: Callable[[int], bytes] = lambda i: b'{"n":0}') -> int:
    """``count`` small records by PutRecords (Kinesis JSON protocol), random partition keys; ``data(i)``
    is the i-th record's data."""
    headers = {"X-Amz-Target": "Kinesis_20131202.PutRecords", "Content-Type": "application/x-amz-json-1.1"}
    calls = iter(range(0, count, per_call))
    sent = 0
    deadline = time.perf_counter() + max_seconds

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        for start in calls:
            if time.perf_counter() > deadline:
                return
            n = min(per_call, count - start)
            body = {"StreamName": stream,
                    "Records": [{"Data": base64.b64encode(data(start + i)).decode(), "PartitionKey": uuid.uuid4().hex}
                                for i in range(n)]}
            async with session.post(endpoint + "/", data=json.dumps(body).encode(), headers=headers) as response:
                document = await response.read()
                if response.status != 200 or json.loads(document).get("FailedRecordCount"):
                    raise RuntimeError(f"PutRecords: {response.status} {document[:300]!r}")
            sent += n

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return sent


def _stream(kinesis: Any, shards: int) -> tuple[str, str]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    if not wait_until(lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                      ["StreamStatus"] == "ACTIVE", 10, 0.02):
        raise RuntimeError("stream never became ACTIVE")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return name, summary["StreamARN"]


def _state(lam: Any, mapping: str, want: str) -> None:
    if not wait_until(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == want, 10, 0.02):
        raise RuntimeError(f"mapping never became {want}")


def throughput(quick: bool) -> list[Result]:
    n, rounds = (4000, 1) if quick else (20_000, 3)
    counts = CountDir()
    try:
        with EmuServer() as server:
            lam = server.client("lambda")
            kinesis = server.client("kinesis")
            name = create_function(lam, f"bench-kin-{uuid.uuid4().hex[:8]}", COUNTING,
                                   Environment={"Variables": {"BENCH_COUNT_DIR": counts.path}})
            stream, arn = _stream(kinesis, 4)
            # BENCH_FILTER=1: a filter every record matches (the data is {"n":0}), so the work is the same
            # and the difference is the filters' cost (base64-decoded data parsed as JSON per record).
            filters = ({"FilterCriteria": {"Filters": [{"Pattern": '{"data": {"n": [{"numeric": [">=", 0]}]}}'}]}}
                       if os.environ.get("BENCH_FILTER") else {})
            mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=100,
                                                      StartingPosition="TRIM_HORIZON", **filters)["UUID"]
            _state(lam, mapping, "Enabled")
            # Warm-up: every shard's lane gets an environment.
            asyncio.run(put_records(server.endpoint, stream, 2000))
            if not wait_until(lambda: counts.total() >= 2000, 30):
                raise RuntimeError(f"warm-up: {counts.total()} of 2000 records handled")
            environments = sum(1 for a in server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
                               if a.get("coldStart"))

            backlogs: list[float] = []
            streams: list[float] = []
            puts: list[float] = []
            batches: list[int] = []
            for _ in range(rounds):
                # Backlog: put while disabled, then enable.
                lam.update_event_source_mapping(UUID=mapping, Enabled=False)
                _state(lam, mapping, "Disabled")
                counts.reset()
                asyncio.run(put_records(server.endpoint, stream, n))
                t0 = time.perf_counter()
                lam.update_event_source_mapping(UUID=mapping, Enabled=True)
                done = wait_until(lambda: counts.total() >= n, 60, 0.005)
                backlogs.append(n / (time.perf_counter() - t0))
                if not done:
                    raise RuntimeError(f"backlog: {counts.total()} of {n} records handled in 60 s")
                _state(lam, mapping, "Enabled")
                invocations_before = len(server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"])

                # Streaming.
                counts.reset()
                t0 = time.perf_counter()
                asyncio.run(put_records(server.endpoint, stream, n))
                puts.append(n / (time.perf_counter() - t0))
                done = wait_until(lambda: counts.total() >= n, 60, 0.005)
                streams.append(n / (time.perf_counter() - t0))
                if not done:
                    raise RuntimeError(f"streaming: {counts.total()} of {n} records handled in 60 s")
                attempts = server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
                batches.append(len(attempts) - invocations_before)
            cold_total = sum(1 for a in attempts if a.get("coldStart"))
    finally:
        counts.cleanup()
    backlog, streaming = median(backlogs), median(streams)
    return [
        Result(NAME, f"backlog of {n:,} in 4 shards → mapping enabled → all handled, batch size 100 (median)",
               backlog, "records/s", target=f"≥ {TARGET:,} records/s", verdict=verdict(backlog >= TARGET),
               note=f"rounds {rounds_text(backlogs)}; {environments} warm environments; cold starts after warm-up: "
                    f"{cold_total - environments}"),
        Result(NAME, f"{n:,} put by PutRecords (4 aiohttp callers, 500 a call) → all handled (median)", streaming,
               "records/s", target=f"≥ {TARGET:,} records/s", verdict=verdict(streaming >= TARGET),
               note=f"rounds {rounds_text(streams)}; the puts alone {rounds_text(puts)} records/s; "
                    f"batches per round {batches} (mean {n / max(1, median(batches)):.0f} records)"),
    ]


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def poison(quick: bool) -> list[Result]:
    scenarios: list[tuple[str, bool, dict[str, Any]]] = [
        ("no poison (reference)", False, {"MaximumRetryAttempts": 2}),
        ("poison, no bisect, MaximumRetryAttempts 2", True, {"MaximumRetryAttempts": 2}),
        ("poison, bisect, MaximumRetryAttempts 2", True, {"MaximumRetryAttempts": 2,
                                                           "BisectBatchOnFunctionError": True}),
        ("poison, no bisect, retries until MaximumRecordAgeInSeconds 3600", True,
         {"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": 3600}),
        ("poison, bisect, retries until MaximumRecordAgeInSeconds 3600", True,
         {"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": 3600, "BisectBatchOnFunctionError": True}),
    ]
    rounds = 1 if quick else 3
    counts = CountDir()
    rows: list[Result] = []
    try:
        with EmuServer(clock="manual") as server:
            lam = server.client("lambda")
            kinesis = server.client("kinesis")
            sqs = server.client("sqs")
            name = create_function(lam, f"bench-poison-{uuid.uuid4().hex[:8]}", POISON,
                                   Environment={"Variables": {"BENCH_COUNT_DIR": counts.path}})
            lam.invoke(FunctionName=name, Payload=b'{"Records": []}')  # warm
            reference_wall: float | None = None
            for label, with_poison, config in scenarios:
                walls: list[float] = []
                virtuals: list[float] = []
                good = invocations = failures = 0
                for _ in range(rounds):
                    stream, arn = _stream(kinesis, 1)
                    url, queue_arn = queue(sqs, f"bench-poison-{uuid.uuid4().hex[:8]}")
                    values = [f"r{i}".encode() for i in range(100)]
                    if with_poison:
                        values[37] = b"poison"
                    kinesis.put_records(StreamName=stream, Records=[{"Data": v, "PartitionKey": "k"} for v in values])
                    kinesis.put_records(StreamName=stream, Records=[{"Data": b"sentinel", "PartitionKey": "k"}])
                    counts.reset()
                    calls_before = len(server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"])
                    v0 = _iso(server.emu_get("/_emu/clock")["now"])
                    t0 = time.perf_counter()
                    mapping = lam.create_event_source_mapping(
                        FunctionName=name, EventSourceArn=arn, BatchSize=100, StartingPosition="TRIM_HORIZON",
                        DestinationConfig={"OnFailure": {"Destination": queue_arn}}, **config)["UUID"]
                    v1 = _iso(server.settle(86400)["now"])
                    walls.append(time.perf_counter() - t0)
                    virtuals.append((v1 - v0).total_seconds())
                    sentinel = any(line.endswith("sentinel") for line in counts.lines())
                    if not sentinel and config.get("MaximumRetryAttempts") != -1:
                        raise RuntimeError(f"{label}: the sentinel record was not handled")
                    good = counts.total() - (1 if sentinel else 0)
                    invocations = len(server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]) \
                        - calls_before
                    failures = len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
                    lam.delete_event_source_mapping(UUID=mapping)
                    server.settle(0)
                wall = sorted(walls)[len(walls) // 2]
                virtual = sorted(virtuals)[len(virtuals) // 2]
                if reference_wall is None:
                    reference_wall = wall
                cost = (wall - reference_wall) * 1000
                extra = f"; {cost:+.0f} ms wall against the reference" if with_poison else ""
                rows.append(Result(
                    NAME, f"poison record, 1 shard, 100 + 1 records: {label}", virtual, "s virtual", verdict="info",
                    baseline=f"{wall * 1000:.0f} ms wall",
                    note=f"{virtual:g} s of platform time in {wall * 1000:.0f} ms wall (median of {rounds}){extra}; "
                         f"{invocations} invocations; {good} of {99 if with_poison else 100} good records handled; "
                         f"{failures} on-failure record(s); the sentinel behind them "
                         + ("handled" if sentinel else "expired too (RecordAgeExceeded), never handled")))
    finally:
        counts.cleanup()
    return rows


def run(quick: bool = False) -> list[Result]:
    return throughput(quick) + poison(quick)
