"""Issue 13: `POST /_emu/reset` with nothing running — the pytest plugin's per-test cost."""

from __future__ import annotations

import time

from bench.common import EmuServer, Result, boto_client, create_function, http_json, median, queue, spread, verdict

NAME = "reset"
TITLE = "POST /_emu/reset between tests (issue 13)"


def _populate(endpoint: str, round_number: int) -> None:
    """What a test leaves behind: functions (never invoked), queues with messages, a mapping, a stream."""
    lam, sqs, kinesis = boto_client("lambda", endpoint), boto_client("sqs", endpoint), boto_client("kinesis", endpoint)
    names = [create_function(lam, f"fn-{round_number}-{i}") for i in range(5)]
    for i in range(3):
        url, arn = queue(sqs, f"q-{round_number}-{i}")
        sqs.send_message(QueueUrl=url, MessageBody="m")
    lam.create_event_source_mapping(FunctionName=names[0], EventSourceArn=arn, BatchSize=1, Enabled=False)
    kinesis.create_stream(StreamName=f"s-{round_number}", ShardCount=1)
    http_json("POST", endpoint + "/_emu/faults", {"lostResponseRate": 0.5})


def run(quick: bool = False) -> list[Result]:
    rounds = 5 if quick else 20
    empty: list[float] = []
    full: list[float] = []
    with EmuServer(clock="manual") as server:
        http_json("POST", server.endpoint + "/_emu/reset")  # first use: imports, not counted
        for n in range(rounds):
            started = time.perf_counter()
            http_json("POST", server.endpoint + "/_emu/reset")
            empty.append(time.perf_counter() - started)
            _populate(server.endpoint, n)
            started = time.perf_counter()
            http_json("POST", server.endpoint + "/_emu/reset")
            full.append(time.perf_counter() - started)
    after = median(full)
    return [
        Result(NAME, "POST /_emu/reset after 5 functions, 3 queues, a mapping, a stream, faults (median)", after,
               "s", target="≤ 0.1 s", verdict=verdict(after <= 0.1), note=spread(full, "ms", 1000)),
        Result(NAME, "POST /_emu/reset of an empty run (median)", median(empty), "s", verdict="info",
               note=spread(empty, "ms", 1000)),
    ]
