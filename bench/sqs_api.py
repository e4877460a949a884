"""Issue 4: the SQS API alone: SendMessage + ReceiveMessage + DeleteMessage round trips per second,
one boto3 client at a time, against lambda-emu and against moto's server in the same run (rounds
interleaved; the median round of each is reported).
"""

from __future__ import annotations

import uuid
from typing import Any

from bench.common import EmuServer, MotoServer, Result, boto_client, median, rate, verdict

NAME = "sqs_api"
TITLE = "SQS API round trips, lambda-emu vs moto (issue 4)"


def _round_trip(sqs: Any, url: str) -> None:
    sqs.send_message(QueueUrl=url, MessageBody="benchmark message")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    if len(messages) != 1:
        raise RuntimeError(f"received {len(messages)} messages")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def run(quick: bool = False) -> list[Result]:
    rounds, seconds = (1, 1.5) if quick else (3, 5.0)
    emu_rates: list[float] = []
    moto_rates: list[float] = []
    with EmuServer() as emu, MotoServer() as moto:
        clients = {}
        for label, endpoint in (("emu", emu.endpoint), ("moto", moto.endpoint)):
            sqs = boto_client("sqs", endpoint)
            url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
            clients[label] = (sqs, url)
        for _ in range(rounds):
            for label, rates in (("emu", emu_rates), ("moto", moto_rates)):
                sqs, url = clients[label]
                rates.append(rate(lambda sqs=sqs, url=url: _round_trip(sqs, url), seconds, 100_000, warmup=20)[0])
    e, m = median(emu_rates), median(moto_rates)
    return [
        Result(NAME, "Send + Receive + Delete round trips (boto3, sequential)", e, "round trips/s",
               target="≥ 2× moto", baseline=f"moto_server {m:,.0f} round trips/s", verdict=verdict(e >= 2 * m),
               note=f"{e / m:.2f}× moto; {1000 / e:.2f} ms vs {1000 / m:.2f} ms per round trip (3 calls); rounds "
                    f"lambda-emu {', '.join(f'{x:,.0f}' for x in emu_rates)}, moto "
                    f"{', '.join(f'{x:,.0f}' for x in moto_rates)}"),
    ]
