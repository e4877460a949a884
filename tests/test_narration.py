"""The terminal narrates (issue 12): `lambda-emu up` (not --quiet, stdout a pipe, so plain lines) prints
a start summary with a hint, one line per platform decision, and START lines tagged with source,
attempt and duplicate — captured from the real process's stdout."""

from __future__ import annotations

import json
import os
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.test_cli import EmuProcess, wait_until

APP = """
import base64

def order(event, context):
    if event.get("fail"):
        raise ValueError("card declined")
    return {"ok": True}

def batch(event, context):
    raise Exception("batch failed")

def stream(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    if "bad" in datas:
        raise RuntimeError("bad record")
"""

TEMPLATE = textwrap.dedent("""\
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        CodeUri: app/
        Runtime: python3.12
    Resources:
      OrdersFailed:
        Type: AWS::SQS::Queue
        Properties: {QueueName: orders-failed}
      OrdersDlq:
        Type: AWS::SQS::Queue
        Properties: {QueueName: orders-dlq}
      Orders:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: orders
          VisibilityTimeout: 30
          RedrivePolicy: {deadLetterTargetArn: !GetAtt OrdersDlq.Arn, maxReceiveCount: 2}
      Events:
        Type: AWS::Kinesis::Stream
        Properties: {Name: events, ShardCount: 1}
      OrderFn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.order
          EventInvokeConfig:
            MaximumRetryAttempts: 2
            DestinationConfig:
              OnFailure: {Type: SQS, Destination: !GetAtt OrdersFailed.Arn}
      AgeFn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.order
          EventInvokeConfig: {MaximumEventAgeInSeconds: 60}
      HelloFn:
        Type: AWS::Serverless::Function
        Properties: {Handler: app.order}
      QueueFn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.batch
          Events:
            Orders:
              Type: SQS
              Properties: {Queue: !GetAtt Orders.Arn, BatchSize: 10}
      StreamFn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.stream
          Events:
            Stream:
              Type: Kinesis
              Properties:
                Stream: !GetAtt Events.Arn
                StartingPosition: TRIM_HORIZON
                BatchSize: 4
                BisectBatchOnFunctionError: true
                MaximumRetryAttempts: 0
    """)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[EmuProcess]:
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "app.py").write_text(APP)
    (project / "template.yaml").write_text(TEMPLATE)
    env = {k: v for k, v in os.environ.items() if k != "LAMBDA_EMU_ENDPOINT"}
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    (tmp_path / "run").mkdir()
    process = EmuProcess(["--port", "0", "--clock", "manual", "--record", "capture.jsonl", "--journal-size", "500"],
                         project, env)
    try:
        yield process
    finally:
        process.find_runtimes()
        process.cleanup()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}, read_timeout=120))


def post(endpoint: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as answer:
        return json.loads(answer.read())


def test_up_narrates_every_decision(up: EmuProcess, tmp_path: Path) -> None:
    endpoint = up.wait_ready()
    # The start summary, then the hint.
    wait_until(lambda: any(line.startswith("try: lambda-emu invoke ") for line in up.stdout), 10, "the hint")
    ready = next(i for i, line in enumerate(up.stdout) if line.startswith("lambda-emu ") and "ready at" in line)
    summary = up.stdout[ready + 1:]
    assert summary[0] == f"endpoint {endpoint} · clock manual · runner process"
    assert "Functions:" in summary and "Queues:" in summary and "Streams:" in summary and "Mappings:" in summary
    assert "Async settings:" in summary
    function_rows = summary[summary.index("Functions:") + 2:summary.index("Queues:")]
    assert [row.split()[:3] for row in function_rows] == [
        ["AgeFn", "python3.12", "app.order"], ["HelloFn", "python3.12", "app.order"],
        ["OrderFn", "python3.12", "app.order"], ["QueueFn", "python3.12", "app.batch"],
        ["StreamFn", "python3.12", "app.stream"]]
    assert any(row.split()[:2] == ["orders", "30"] and "orders-dlq after 2" in row for row in summary)
    assert f"try: lambda-emu invoke AgeFn --payload '{{}}' --endpoint {endpoint}" in summary

    lam, sqs, kinesis = client("lambda", endpoint), client("sqs", endpoint), client("kinesis", endpoint)
    order = lam.invoke(FunctionName="OrderFn", InvocationType="Event", Payload=b'{"fail": true}')
    order_id = order["ResponseMetadata"]["RequestId"]
    aged = lam.invoke(FunctionName="AgeFn", InvocationType="Event", Payload=b'{"fail": true}')
    aged_id = aged["ResponseMetadata"]["RequestId"]
    post(endpoint, "/_emu/faults", {"functionName": "HelloFn", "duplicateRate": 1.0})
    hello = lam.invoke(FunctionName="HelloFn", InvocationType="Event", Payload=b"{}")
    hello_id = hello["ResponseMetadata"]["RequestId"]
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}])
    kinesis.put_records(StreamName="events", Records=[{"Data": d.encode(), "PartitionKey": "k"}
                                                      for d in ("a", "b", "c", "bad")])
    post(endpoint, "/_emu/clock/settle", {"maxSeconds": 3600})

    failed_arn = "arn:aws:sqs:us-east-1:000000000000:orders-failed"
    expected = [
        f"[OrderFn] async {order_id[:4]}… attempt 1/3 failed: ValueError: card declined → retry at +60s",
        f"[OrderFn] async {order_id[:4]}… attempt 2/3 failed: ValueError: card declined → retry at +120s",
        f"[OrderFn] async {order_id[:4]}… attempt 3/3 failed: ValueError: card declined → OnFailure {failed_arn} "
        "(RetriesExhausted)",
        f"[AgeFn] async {aged_id[:4]}… attempt 1/3 failed: ValueError: card declined → event dropped: "
        "EventAgeExceeded",
        f"[HelloFn] async {hello_id[:4]}… duplicate delivery injected",
        f"[HelloFn] async {hello_id[:4]}… attempt 1/3 succeeded → deleted",
        "[QueueFn] sqs orders: batch of 2 failed (receive 1 of maxReceiveCount 2) → retry at +30s",
        "[QueueFn] sqs orders: batch of 2 failed (receive 2 of maxReceiveCount 2) → 2 to orders-dlq",
        "[StreamFn] kinesis shardId-000000000000: batch of 4 failed → bisect 2 + 2",
        "[StreamFn] kinesis shardId-000000000000: batch of 2 failed → bisect 1 + 1",
        "[StreamFn] kinesis shardId-000000000000: batch of 1 failed → event dropped: RetryAttemptsExhausted",
    ]
    for line in expected:
        wait_until(lambda line=line: line in up.stdout, 10, f"the line {line!r}")
    # `--record`: every event that entered, once (an async event not once per retry), as JSON lines.
    capture = [json.loads(line) for line in (tmp_path / "project" / "capture.jsonl").read_text().splitlines()]
    async_lines = [(line["functionName"], line["requestId"], line["event"]) for line in capture
                   if line["source"] == "async"]
    assert (("OrderFn", order_id, {"fail": True}) in async_lines and ("AgeFn", aged_id, {"fail": True}) in async_lines
            and ("HelloFn", hello_id, {}) in async_lines and len(async_lines) == 3)
    assert {line["source"] for line in capture} == {"async", "sqs", "kinesis"}
    # START lines carry the source, the attempt and whether it is a duplicate.
    starts = [line for line in up.stdout if line.startswith(("[OrderFn] START", "[HelloFn] START"))]
    assert f"[OrderFn] START RequestId: {order_id} Version: $LATEST (async, attempt 2/3)" in starts
    assert f"[HelloFn] START RequestId: {hello_id} Version: $LATEST (async, attempt 2/3, duplicate)" in starts
    assert any(line.startswith("[QueueFn] START RequestId: ") and line.endswith("(sqs, attempt 1)")
               for line in up.stdout)


INTERPRETERS_TEMPLATE = textwrap.dedent("""\
    Globals:
      Function:
        CodeUri: app/
        Handler: app.order
    Resources:
      Exact:
        Type: AWS::Serverless::Function
        Properties: {Runtime: python3.12}
      Fallback:
        Type: AWS::Serverless::Function
        Properties: {Runtime: python3.14}
      Custom:
        Type: AWS::Serverless::Function
        Properties: {Runtime: provided.al2023, Handler: bootstrap}
      Node:
        Type: AWS::Serverless::Function
        Properties: {Runtime: nodejs20.x, Handler: index.handler}
    """)


def test_the_summary_names_the_interpreter_each_runtime_really_runs_on(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "app.py").write_text(APP)
    (project / "template.yaml").write_text(INTERPRETERS_TEMPLATE)
    env = {k: v for k, v in os.environ.items() if k != "LAMBDA_EMU_ENDPOINT"}
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    (tmp_path / "run").mkdir()
    process = EmuProcess(["--port", "0"], project, env)
    try:
        endpoint = process.wait_ready()
        wait_until(lambda: any(line.startswith("try: lambda-emu invoke ") for line in process.stdout), 10, "the hint")
        summary = process.stdout[process.stdout.index("Functions:") + 2:]
        rows = {row.split()[0]: row for row in summary[:4]}
        with urllib.request.urlopen(endpoint + "/_emu/functions", timeout=60) as answer:
            views = {view["functionName"]: view["interpreter"] for view in json.loads(answer.read())["functions"]}
    finally:
        process.cleanup()
    # What the process runner will start, resolved as it resolves it (/_emu/functions reads the same
    # resolution) — never lambda-emu's own interpreter with -m awslambdaric.
    exact, fallback = views["Exact"], views["Fallback"]
    assert exact["exact"] is True and exact["version"].startswith("3.12.")
    assert rows["Exact"].split(None, 3)[3] == f"{exact['path']} ({exact['version']})"
    assert fallback["exact"] is False
    assert rows["Fallback"].split(None, 3)[3] == f"{fallback['path']} ({fallback['version']}; no 3.14 found)"
    assert rows["Custom"].split(None, 3)[3] == "the code's bootstrap"
    assert rows["Node"].split(None, 3)[3] == "none: needs --runner docker"
    assert not any("awslambdaric" in row for row in rows.values())
