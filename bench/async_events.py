"""Issue 3: async invocations on the manual clock.

1. A full 3-attempt retry chain (error, +60 s, +120 s) ending in an on-failure destination (an SQS
   queue), through boto3: wall time from the Invoke call to the record being received, the clock
   driven by POST /_emu/clock/settle (and, as a second row, by three /_emu/clock/advance calls).
2. 1,000 async events to a warm no-op function: events/s from the first Invoke to the last attempt
   done (settle waits until no platform work is running), journal checked afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp

from bench.common import EmuServer, Result, create_function, median, queue, spread, verdict

NAME = "async_events"
TITLE = "Async invocations on the manual clock (issue 3)"

FLAKY = """
def handler(event, context):
    if event.get("fail"):
        raise Exception("benchmark failure")
    return {"ok": True}
"""


def _chain(server: EmuServer, lam: Any, sqs: Any, name: str, url: str, drive: str) -> float:
    t0 = time.perf_counter()
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": 1}')
    if response["StatusCode"] != 202:
        raise RuntimeError(f"Invoke: {response['StatusCode']}")
    if drive == "settle":
        server.settle(3600)
    else:
        for seconds in (0, 60, 120):
            server.advance(seconds)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    elapsed = time.perf_counter() - t0
    if len(messages) != 1:
        raise RuntimeError(f"expected the failure record, got {messages}")
    record = json.loads(messages[0]["Body"])
    if record["requestContext"]["approximateInvokeCount"] != 3:
        raise RuntimeError(f"not a 3-attempt chain: {record['requestContext']}")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return elapsed


async def _send_events(endpoint: str, name: str, count: int, concurrency: int, max_seconds: float) -> int:
    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
    headers = {"X-Amz-Invocation-Type": "Event"}
    remaining = iter(range(count))
    sent = 0
    deadline = time.perf_counter() + max_seconds

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        for i in remaining:
            if time.perf_counter() > deadline:
                return
            async with session.post(url, data=json.dumps({"i": i}).encode(), headers=headers) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"Invoke Event: HTTP {response.status}")
                sent += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return sent


def _successes(server: EmuServer, name: str) -> tuple[int, int]:
    attempts = server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
    return sum(1 for a in attempts if a["outcome"] == "success"), sum(1 for a in attempts if a.get("coldStart"))


def run(quick: bool = False) -> list[Result]:
    chains = 3 if quick else 15
    events = 200 if quick else 1000
    concurrency = 4
    results: list[Result] = []
    with EmuServer(clock="manual") as server:
        lam = server.client("lambda")
        sqs = server.client("sqs")
        # ---- the retry chain ----
        name = create_function(lam, f"bench-chain-{uuid.uuid4().hex[:8]}", FLAKY)
        url, arn = queue(sqs, f"bench-failures-{uuid.uuid4().hex[:8]}")
        lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}})
        lam.invoke(FunctionName=name, Payload=b"{}")  # warm: the chain measures the platform, not a cold start
        _chain(server, lam, sqs, name, url, "settle")  # and one chain to warm every code path
        settle = [_chain(server, lam, sqs, name, url, "settle") for _ in range(chains)]
        advance = [_chain(server, lam, sqs, name, url, "advance") for _ in range(chains)]
        m = median(settle)
        results.append(Result(NAME, "3-attempt retry chain → on-failure SQS record received (settle, median)",
                              m * 1000, "ms", target="≤ 100 ms", baseline="real AWS: ~3 min",
                              verdict=verdict(m <= 0.100), note=spread(settle, "ms", 1000)))
        results.append(Result(NAME, "… driven by advance(0), advance(60), advance(120) instead (median)",
                              median(advance) * 1000, "ms", verdict="info", note=spread(advance, "ms", 1000)))

        # ---- 1,000 async events ----
        noop = create_function(lam, f"bench-async-{uuid.uuid4().hex[:8]}")
        # Warm-up: enough events that every async poller (5 by default) has a warm environment.
        asyncio.run(_send_events(server.endpoint, noop, 50, concurrency, 30))
        server.settle(0)
        warm_successes, environments = _successes(server, noop)
        t0 = time.perf_counter()
        sent = asyncio.run(_send_events(server.endpoint, noop, events, concurrency, 60))
        t1 = time.perf_counter()
        server.settle(0)
        t2 = time.perf_counter()
        successes, cold = _successes(server, noop)
        done = successes - warm_successes
        if sent != events or done != events:
            raise RuntimeError(f"sent {sent}, completed {done} of {events}")
        results.append(Result(NAME, f"{events:,} async events → warm no-op function, completed (events/s)",
                              events / (t2 - t0), "events/s", verdict="info",
                              note=f"{t2 - t0:.2f} s in all; the {events:,} Invoke calls ({concurrency} in flight, "
                                   f"aiohttp) took {t1 - t0:.2f} s ({events / (t1 - t0):,.0f}/s), the rest was "
                                   f"settle waiting for the queue to drain ({(t2 - t1) * 1000:.0f} ms); "
                                   f"{environments} warm environments (cold starts after warm-up: "
                                   f"{cold - environments})"))
    return results
