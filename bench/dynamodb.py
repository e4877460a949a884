"""Issue 15: DynamoDB.

1. The API alone: PutItem + GetItem round trips per second, one boto3 client at a time, against
   lambda-emu and against moto's server in the same run (rounds interleaved; the median round of each).
2. A DynamoDB stream mapping's records/s from a backlog: items written while the mapping is disabled
   (one table, NEW_AND_OLD_IMAGES), then the mapping enabled (BatchSize 100) → a warm counting function.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import (
    CountDir,
    EmuServer,
    MotoServer,
    Result,
    boto_client,
    create_function,
    median,
    rate,
    rounds_text,
    verdict,
    wait_until,
)

NAME = "dynamodb"
TITLE = "DynamoDB: PutItem + GetItem vs moto, stream mapping from a backlog (issue 15)"

COUNTING = CountDir.HANDLER + """
def handler(event, context):
    _count(len(event["Records"]))
    return {}
"""


def _table(client: Any, stream: bool = False) -> tuple[str, str | None]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    table = client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                BillingMode="PAY_PER_REQUEST", **extra)["TableDescription"]
    return name, table.get("LatestStreamArn")


def api(quick: bool) -> list[Result]:
    rounds, seconds = (1, 1.5) if quick else (3, 5.0)
    emu_rates: list[float] = []
    moto_rates: list[float] = []
    counter = iter(range(10**9))

    def round_trip(client: Any, table: str) -> None:
        key = {"pk": {"S": f"k{next(counter) % 1000}"}}
        client.put_item(TableName=table, Item={**key, "v": {"N": "1"}, "s": {"S": "benchmark item"}})
        if "Item" not in client.get_item(TableName=table, Key=key):
            raise RuntimeError("item not found")

    with EmuServer() as emu, MotoServer() as moto:
        clients = {}
        for label, endpoint in (("emu", emu.endpoint), ("moto", moto.endpoint)):
            client = boto_client("dynamodb", endpoint)
            clients[label] = (client, _table(client)[0])
        for _ in range(rounds):
            for label, rates in (("emu", emu_rates), ("moto", moto_rates)):
                client, table = clients[label]
                rates.append(rate(lambda c=client, t=table: round_trip(c, t), seconds, 100_000, warmup=20)[0])
    e, m = median(emu_rates), median(moto_rates)
    return [
        Result(NAME, "PutItem + GetItem round trips (boto3, sequential)", e, "round trips/s", target="≥ 2× moto",
               baseline=f"moto_server {m:,.0f} round trips/s", verdict=verdict(e >= 2 * m),
               note=f"{e / m:.2f}× moto; {1000 / e:.2f} ms vs {1000 / m:.2f} ms per round trip (2 calls); rounds "
                    f"lambda-emu {rounds_text(emu_rates)}, moto {rounds_text(moto_rates)}"),
    ]


def _state(lam: Any, mapping: str, want: str) -> None:
    if not wait_until(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == want, 10, 0.02):
        raise RuntimeError(f"mapping never became {want}")


def backlog(quick: bool) -> list[Result]:
    n, rounds = (1000, 1) if quick else (5000, 3)
    counts = CountDir()
    rates: list[float] = []
    writes: list[float] = []
    try:
        with EmuServer() as server:
            lam = server.client("lambda")
            ddb = server.client("dynamodb")
            name = create_function(lam, f"bench-ddb-{uuid.uuid4().hex[:8]}", COUNTING,
                                   Environment={"Variables": {"BENCH_COUNT_DIR": counts.path}})
            table, stream_arn = _table(ddb, stream=True)
            mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn, BatchSize=100,
                                                      StartingPosition="TRIM_HORIZON")["UUID"]
            _state(lam, mapping, "Enabled")
            ddb.put_item(TableName=table, Item={"pk": {"S": "warm-up"}})
            if not wait_until(lambda: counts.total() >= 1, 30):
                raise RuntimeError("warm-up record never handled")
            for round_number in range(rounds):
                lam.update_event_source_mapping(UUID=mapping, Enabled=False)
                _state(lam, mapping, "Disabled")
                counts.reset()
                t0 = time.perf_counter()
                for start in range(0, n, 25):
                    ddb.batch_write_item(RequestItems={table: [
                        {"PutRequest": {"Item": {"pk": {"S": f"r{round_number}-{i}"}, "v": {"N": str(i)}}}}
                        for i in range(start, min(n, start + 25))]})
                writes.append(n / (time.perf_counter() - t0))
                t0 = time.perf_counter()
                lam.update_event_source_mapping(UUID=mapping, Enabled=True)
                done = wait_until(lambda: counts.total() >= n, 60, 0.005)
                rates.append(n / (time.perf_counter() - t0))
                if not done:
                    raise RuntimeError(f"backlog: {counts.total()} of {n} records handled in 60 s")
                _state(lam, mapping, "Enabled")
    finally:
        counts.cleanup()
    value = median(rates)
    return [
        Result(NAME, f"stream backlog of {n:,} (one table, NEW_AND_OLD_IMAGES) → mapping enabled → all handled, "
               "batch size 100 (median)", value, "records/s",
               note=f"rounds {rounds_text(rates)}; the writes alone (BatchWriteItem, 25 a call) "
                    f"{rounds_text(writes)} items/s"),
    ]


def run(quick: bool = False) -> list[Result]:
    return api(quick) + backlog(quick)
