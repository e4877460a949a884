"""The event sources don't know the runner: async retries, an SQS mapping and a Kinesis mapping, once each,
through containers (--runner docker, manual clock)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support import RunningServer, create_python_function, unique

FAILS_FIRST = """
def handler(event, context):
    records = event.get("Records") or [{}]
    record = records[0]
    if record.get("attributes", {}).get("ApproximateReceiveCount") == "1":
        raise Exception("first receive fails")
    if event.get("raise_error"):
        raise Exception("Test exception (this is intentional)")
    return {"records": len(records)}
"""


def spacing(attempts: list[dict[str, Any]]) -> list[float]:
    from datetime import datetime

    times = [datetime.fromisoformat(a["startTime"].replace("Z", "+00:00")).timestamp() for a in attempts]
    return [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)]


def test_async_retries_through_containers(docker_manual_server: RunningServer) -> None:
    server = docker_manual_server
    lam = server.client("lambda")
    name = create_python_function(lam, FAILS_FIRST, runtime="python3.11")
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"raise_error": 1}).encode())
    server.advance(0)
    server.advance(60)
    server.advance(120)
    attempts = server.invocations(name)
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert spacing(attempts) == [60.0, 120.0]
    assert all(a["source"] == "async" and a["errorType"] == "Exception" for a in attempts)


def test_an_sqs_mapping_through_containers(docker_manual_server: RunningServer) -> None:
    server = docker_manual_server
    lam, sqs = server.client("lambda"), server.client("sqs")
    url = sqs.create_queue(QueueName=unique("q"), Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = create_python_function(lam, FAILS_FIRST, runtime="python3.11")
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    server.advance(0)
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    server.advance(0)
    server.advance(30)  # visible again after the failed first receive
    attempts = server.invocations(name)
    assert [(a["source"], a["outcome"], a["errorType"]) for a in attempts] == [
        ("sqs", "error", "Exception"), ("sqs", "success", None)]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == (
        "0", "0")


def test_a_kinesis_mapping_through_containers(docker_manual_server: RunningServer) -> None:
    server = docker_manual_server
    lam, kinesis = server.client("lambda"), server.client("kinesis")
    stream = unique("s")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]
    source = ("import base64\ndef handler(event, context):\n"
              "    return [base64.b64decode(r['kinesis']['data']).decode() for r in event['Records']]\n")
    name = create_python_function(lam, source, runtime="python3.11")
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=10)
    server.advance(0)
    for data in (b"one", b"two"):
        kinesis.put_record(StreamName=stream, Data=data, PartitionKey="k")
    deadline = time.monotonic() + 60
    while not [a for a in server.invocations(name) if a["endTime"] is not None]:
        assert time.monotonic() < deadline, "the mapping never invoked the function"
        server.advance(1)
    attempts = server.invocations(name)
    assert {(a["source"], a["outcome"]) for a in attempts if a["endTime"]} == {("kinesis", "success")}
