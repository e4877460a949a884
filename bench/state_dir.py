"""Issue 9: what `--state-dir` costs. Two servers in the same run, one in memory and one writing every
accepted thing through to SQLite before it answers:

1. SQS SendMessage + ReceiveMessage + DeleteMessage round trips per second (one boto3 client,
   sequential; rounds interleaved between the two servers, the median round of each reported).
2. 1,000 async events to a warm no-op function (manual clock), events/s from the first Invoke to the
   last attempt done, as in ``async_events``.
3. DynamoDB PutItem per second on a table with a NEW_AND_OLD_IMAGES stream (one boto3 client,
   sequential): with --state-dir each one writes its item and its stream record before it answers.

Target: with --state-dir, each at least 50 % of in-memory.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid

from bench.async_events import _send_events, _successes
from bench.common import EmuServer, Result, boto_client, create_function, median, rate, verdict
from bench.dynamodb import _table
from bench.sqs_api import _round_trip

NAME = "state_dir"
TITLE = "--state-dir (SQLite write-through) next to in-memory (issue 9)"


def _async_rate(server: EmuServer, events: int) -> float:
    lam = server.client("lambda")
    name = create_function(lam, f"bench-state-{uuid.uuid4().hex[:8]}")
    asyncio.run(_send_events(server.endpoint, name, 50, 4, 30))  # warm every async poller's environment
    server.settle(0)
    warm, _ = _successes(server, name)
    t0 = time.perf_counter()
    sent = asyncio.run(_send_events(server.endpoint, name, events, 4, 120))
    server.settle(0)
    elapsed = time.perf_counter() - t0
    done = _successes(server, name)[0] - warm
    if sent != events or done != events:
        raise RuntimeError(f"sent {sent}, completed {done} of {events}")
    return events / elapsed


def run(quick: bool = False) -> list[Result]:
    rounds, seconds = (1, 1.5) if quick else (3, 5.0)
    events = 200 if quick else 1000
    sqs_rates: dict[str, list[float]] = {"memory": [], "state": []}
    async_rates: dict[str, list[float]] = {"memory": [], "state": []}
    put_rates: dict[str, list[float]] = {"memory": [], "state": []}
    with tempfile.TemporaryDirectory(prefix="lambda-emu-bench-state-") as state_dir, \
            EmuServer(clock="manual") as memory, EmuServer("--state-dir", state_dir, clock="manual") as durable:
        servers = {"memory": memory, "state": durable}
        clients = {}
        for label, server in servers.items():
            sqs = boto_client("sqs", server.endpoint)
            clients[label] = (sqs, sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"])
        for _ in range(rounds):
            for label in servers:
                sqs, url = clients[label]
                sqs_rates[label].append(rate(lambda sqs=sqs, url=url: _round_trip(sqs, url), seconds, 100_000,
                                             warmup=20)[0])
        for _ in range(1 if quick else 2):
            for label, server in servers.items():
                async_rates[label].append(_async_rate(server, events))
        tables = {}
        for label, server in servers.items():
            ddb = boto_client("dynamodb", server.endpoint)
            tables[label] = (ddb, _table(ddb, stream=True)[0])
        counter = iter(range(10**9))
        for _ in range(rounds):
            for label in servers:
                ddb, table = tables[label]
                put_rates[label].append(rate(lambda ddb=ddb, table=table: ddb.put_item(
                    TableName=table, Item={"pk": {"S": f"k{next(counter) % 1000}"}, "n": {"N": str(next(counter))}}),
                    seconds, 100_000, warmup=20)[0])
    results = []
    for title, rates, unit in (
        ("SQS Send + Receive + Delete round trips (boto3, sequential)", sqs_rates, "round trips/s"),
        (f"{events:,} async events → warm no-op function, completed", async_rates, "events/s"),
        ("DynamoDB PutItem on a table with a stream (boto3, sequential)", put_rates, "requests/s"),
    ):
        m, s = median(rates["memory"]), median(rates["state"])
        results.append(Result(
            NAME, f"{title}, with --state-dir", s, unit, target="≥ 50 % of in-memory",
            baseline=f"in-memory {m:,.0f} {unit}", verdict=verdict(s >= 0.5 * m),
            note=f"{s / m * 100:.0f} % of in-memory; rounds --state-dir "
                 f"{', '.join(f'{x:,.0f}' for x in rates['state'])}, in-memory "
                 f"{', '.join(f'{x:,.0f}' for x in rates['memory'])}"))
    return results
