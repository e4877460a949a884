"""`lambda-emu replay` (issue 12): each of the five sources goes back through the same semantics, the
`--timing original` spacing on the manual clock, and `up --record` then replay reproducing the same
journal shape. The real CLI as a subprocess against a real server (manual clock)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import LAMBDA_EMU
from tests.support import ACCOUNT, REGION, RunningServer, create_python_function, unique

ORDERS = """
def handler(event, context):
    print("order", event.get("order"))
    if event.get("fail"):
        raise ValueError("card declined")
    return {"ok": event.get("order")}
"""

BATCH = """
def handler(event, context):
    return None
"""


def replay(endpoint: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LAMBDA_EMU_ENDPOINT"}
    return subprocess.run([str(LAMBDA_EMU), "replay", *args, "--endpoint", endpoint], input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def chain(attempts: list[dict[str, Any]]) -> list[tuple[int, str | None, str | None]]:
    return [(a["attempt"], a["outcome"], (a["decision"] or {}).get("action")) for a in attempts]


# ---- 3. a destination record: the failed async event again, same retries, same destination -------


def test_destination_record_replays_through_async_retries_to_the_same_destination(
        manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, tmp_path: Path) -> None:
    failed_url, failed_arn = queue(manual_sqs)
    name = create_python_function(manual_lam, ORDERS)
    manual_lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": failed_arn}})
    manual_lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"order": 1, "fail": true}')
    manual_server.settle(3600)
    [message] = drain(manual_sqs, failed_url)
    record = tmp_path / "record.json"
    record.write_text(message["Body"])

    done = replay(manual_server.endpoint, str(record))
    assert done.returncode == 0, done.stderr
    assert f"replayed invoke {name} (Event) with {record} (destination record)" in done.stdout
    assert done.stdout.splitlines()[-1] == "replayed 1 events (1 invocation)"
    request_id = done.stdout.split("→ requestId ")[1].split()[0]
    manual_server.settle(0)  # the first attempt ends and its retry is decided, without moving the clock

    [first] = manual_server.invocations(name, request_id)
    assert first["event"] == {"order": 1, "fail": True}
    assert first["decision"]["action"] == "retry"
    assert iso(first["decision"]["at"]) - iso(first["endTime"]) == timedelta(seconds=60)
    manual_server.advance(60)
    second = manual_server.invocations(name, request_id)[1]
    assert second["attempt"] == 2
    assert iso(second["decision"]["at"]) - iso(second["endTime"]) == timedelta(seconds=120)
    manual_server.advance(120)
    attempts = manual_server.invocations(name, request_id)
    assert chain(attempts) == [(1, "error", "retry"), (2, "error", "retry"), (3, "error", "destination")]
    assert attempts[2]["decision"] == {"action": "destination", "target": failed_arn, "condition": "RetriesExhausted"}
    [again] = drain(manual_sqs, failed_url)
    replayed = json.loads(again["Body"])
    assert replayed["requestContext"]["requestId"] == request_id
    assert replayed["requestPayload"] == {"order": 1, "fail": True}


# ---- 2. event files and folders -----------------------------------------------------------------


def test_event_file_and_folder_are_invoked_on_the_function(manual_server: RunningServer, manual_lam: Any,
                                                           tmp_path: Path) -> None:
    name = create_python_function(manual_lam, ORDERS)
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.json").write_text('{"order": 1}')
    (folder / "b.json").write_text('{"order": 2}')
    (folder / "notes.txt").write_text("not an event")
    done = replay(manual_server.endpoint, str(folder), "--function", name)
    assert done.returncode == 0, done.stderr
    attempts = manual_server.invocations(name)
    assert [(a["source"], a["event"], a["response"]) for a in attempts] == [
        ("sync", {"order": 1}, {"ok": 1}), ("sync", {"order": 2}, {"ok": 2})]
    assert done.stdout.splitlines()[-1] == "replayed 2 events (2 invocations)"

    # Without --function an event file is not something replay can place: it says so.
    done = replay(manual_server.endpoint, str(folder / "a.json"))
    assert done.returncode == 1
    assert done.stderr.startswith(f"lambda-emu: cannot tell what {folder / 'a.json'} is")


def test_dry_run_prints_and_replays_nothing(manual_server: RunningServer, manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ORDERS)
    done = replay(manual_server.endpoint, "-", "--function", name, "--invocation-type", "Event", "--dry-run",
                  stdin='{"order": 3}')
    assert done.returncode == 0
    assert done.stdout.splitlines() == [f"would invoke {name} (Event) with stdin",
                                        "dry run: 1 events would be replayed"]
    manual_server.advance(0)
    assert manual_server.invocations(name) == []


# ---- 4. a dead-letter queue: a body with --function, or the whole queue with --from-queue ------


def test_dead_letter_queue_is_drained_into_the_function(manual_server: RunningServer, manual_lam: Any,
                                                        manual_sqs: Any, tmp_path: Path) -> None:
    dlq_url, dlq_arn = queue(manual_sqs)
    name = create_python_function(manual_lam, ORDERS, DeadLetterConfig={"TargetArn": dlq_arn})
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    for order in (1, 2):
        manual_lam.invoke(FunctionName=name, InvocationType="Event",
                          Payload=json.dumps({"order": order, "fail": True}).encode())
    manual_server.settle(600)
    assert len(manual_server.invocations(name)) == 2

    done = replay(manual_server.endpoint, "--from-queue", dlq_arn, "--function", name)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"replayed 2 messages from {dlq_arn}"
    manual_server.settle(600)
    attempts = manual_server.invocations(name)[2:]
    assert sorted(a["event"]["order"] for a in attempts) == [1, 2]
    assert all(a["source"] == "async" and a["decision"] == {"action": "deadLetter", "target": dlq_arn}
               for a in attempts)
    # Drained messages were deleted; the replayed failures are dead-lettered again.
    bodies = sorted(json.loads(m["Body"])["order"] for m in drain(manual_sqs, dlq_url))
    assert bodies == [1, 2]
    assert drain(manual_sqs, dlq_url) == []

    body = tmp_path / "body.json"
    body.write_text('{"order": 5}')
    done = replay(manual_server.endpoint, str(body), "--function", name, "--invocation-type", "Event")
    assert done.returncode == 0, done.stderr
    manual_server.settle(600)
    [last] = manual_server.invocations(name)[4:]
    assert (last["source"], last["event"], last["outcome"]) == ("async", {"order": 5}, "success")


# ---- 5. SQS and Kinesis events ------------------------------------------------------------------


def test_sqs_event_is_sent_again_to_its_queue(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                             manual_mappings: list[str], tmp_path: Path) -> None:
    url, arn = queue(manual_sqs)
    name = create_python_function(manual_lam, BATCH)
    manual_mappings.append(manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)["UUID"])
    manual_server.advance(0)
    manual_sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"}})
    manual_server.advance(0)
    [original] = manual_server.invocations(name)
    event = tmp_path / "sqs-event.json"
    event.write_text(json.dumps(original["event"]))

    done = replay(manual_server.endpoint, str(event))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "replayed 1 events (1 SQS message)"
    manual_server.advance(0)
    replayed = manual_server.invocations(name)[1]
    assert replayed["source"] == "sqs" and replayed["sourceDetail"]["eventSourceArn"] == arn
    record = replayed["event"]["Records"][0]
    assert record["body"] == "hello"
    assert record["messageAttributes"]["kind"]["stringValue"] == "greeting"
    assert record["messageId"] != original["event"]["Records"][0]["messageId"]
    assert replayed["decision"] == {"action": "delete"}

    other_url, other_arn = queue(manual_sqs)
    done = replay(manual_server.endpoint, str(event), "--to-queue", other_url)
    assert done.returncode == 0, done.stderr
    [moved] = manual_sqs.receive_message(QueueUrl=other_url)["Messages"]
    assert moved["Body"] == "hello"


def test_kinesis_event_is_put_again_with_its_partition_keys(manual_server: RunningServer, manual_lam: Any,
                                                            manual_kinesis: Any, manual_mappings: list[str],
                                                            tmp_path: Path) -> None:
    stream = unique("stream")
    manual_kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"
    name = create_python_function(manual_lam, BATCH)
    manual_mappings.append(manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn,
                                                           StartingPosition="TRIM_HORIZON")["UUID"])
    manual_server.advance(0)
    manual_kinesis.put_records(StreamName=stream, Records=[{"Data": b"one", "PartitionKey": "k1"},
                                                           {"Data": b"two", "PartitionKey": "k2"}])
    manual_server.advance(0)
    [original] = manual_server.invocations(name)
    event = tmp_path / "kinesis-event.json"
    event.write_text(json.dumps(original["event"]))

    done = replay(manual_server.endpoint, str(event))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "replayed 2 events (2 Kinesis records)"
    manual_server.advance(0)
    replayed = manual_server.invocations(name)[1]
    kinesis = [r["kinesis"] for r in replayed["event"]["Records"]]
    assert [(k["partitionKey"], base64.b64decode(k["data"])) for k in kinesis] == [("k1", b"one"), ("k2", b"two")]
    assert replayed["sourceDetail"]["records"] == 2
    assert replayed["decision"]["action"] == "checkpoint"

    other = unique("stream")
    manual_kinesis.create_stream(StreamName=other, ShardCount=1)
    done = replay(manual_server.endpoint, str(event), "--to-stream", other)
    assert done.returncode == 0, done.stderr
    iterator = manual_kinesis.get_shard_iterator(StreamName=other, ShardId="shardId-000000000000",
                                                 ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = manual_kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [(r["PartitionKey"], r["Data"]) for r in records] == [("k1", b"one"), ("k2", b"two")]


# ---- 1. a capture: --record, then replay, gives the same journal shape --------------------------


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[tuple[RunningServer, Path]]:
    capture = tmp_path / "capture.jsonl"
    running = RunningServer(clock="manual", record=capture).start()
    yield running, capture
    running.stop()


def shape(server: RunningServer, names: list[str]) -> list[list[tuple[Any, ...]]]:
    """What each function saw, source by source: attempts, outcomes and decision actions."""
    return [[(a["source"], a["attempt"], a["outcome"], (a["decision"] or {}).get("action"),
              (a["decision"] or {}).get("condition")) for a in server.invocations(name)] for name in names]


def test_record_then_replay_reproduces_the_journal_shape(recording: tuple[RunningServer, Path]) -> None:
    server, capture = recording
    lam, sqs, kinesis = server.client("lambda"), server.client("sqs"), server.client("kinesis")
    failed_url, failed_arn = queue(sqs)
    orders = create_python_function(lam, ORDERS)
    lam.put_function_event_invoke_config(FunctionName=orders,
                                         DestinationConfig={"OnFailure": {"Destination": failed_arn}})
    url, queue_arn = queue(sqs)
    batch = create_python_function(lam, BATCH)
    lam.create_event_source_mapping(FunctionName=batch, EventSourceArn=queue_arn)
    stream = unique("stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"
    streamer = create_python_function(lam, BATCH)
    lam.create_event_source_mapping(FunctionName=streamer, EventSourceArn=stream_arn, StartingPosition="LATEST")
    server.advance(0)

    lam.invoke(FunctionName=orders, Payload=b'{"order": 1}')
    lam.invoke(FunctionName=orders, InvocationType="Event", Payload=b'{"order": 2, "fail": true}')
    sqs.send_message(QueueUrl=url, MessageBody="m1")
    kinesis.put_record(StreamName=stream, Data=b"r1", PartitionKey="p")
    server.settle(3600)
    names = [orders, batch, streamer]
    before = shape(server, names)
    assert before == [
        [("sync", 1, "success", None, None), ("async", 1, "error", "retry", None), ("async", 2, "error", "retry", None),
         ("async", 3, "error", "destination", "RetriesExhausted")],
        [("sqs", 1, "success", "delete", None)],
        [("kinesis", 1, "success", "checkpoint", None)],
    ]
    lines = [json.loads(line) for line in capture.read_text().splitlines()]
    assert sorted((line["source"], line["functionName"]) for line in lines) == sorted(
        [("sync", orders), ("async", orders), ("sqs", batch), ("kinesis", streamer)])
    assert all(set(line) == {"time", "source", "functionName", "requestId", "sourceDetail", "event"} for line in lines)
    drain(sqs, failed_url)

    done = replay(server.endpoint, str(capture))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "replayed 4 events (2 invocations, 1 SQS message, 1 Kinesis record)"
    server.settle(3600)
    after = shape(server, names)
    assert [seen[len(first):] for seen, first in zip(after, before, strict=True)] == before
    assert len(drain(sqs, failed_url)) == 1  # the same destination, reached again

    # The journal's own JSON lines are a capture too: each event once, not each attempt.
    jsonl = capture.parent / "journal.jsonl"
    with __import__("urllib.request").request.urlopen(server.endpoint + "/_emu/invocations?format=jsonl") as answer:
        jsonl.write_bytes(answer.read())
    done = replay(server.endpoint, str(jsonl), "--dry-run")
    assert done.stdout.splitlines()[-1] == "dry run: 8 events would be replayed"


def test_timing_original_keeps_the_spacing_on_the_manual_clock(manual_server: RunningServer, manual_lam: Any,
                                                               tmp_path: Path) -> None:
    name = create_python_function(manual_lam, ORDERS)
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join(json.dumps(line) for line in [
        {"time": "2026-01-01T00:00:00.000Z", "source": "async", "functionName": name, "requestId": "a",
         "sourceDetail": {"invocationType": "Event"}, "event": {"order": 1}},
        {"time": "2026-01-01T00:01:40.000Z", "source": "async", "functionName": name, "requestId": "b",
         "sourceDetail": {"invocationType": "Event"}, "event": {"order": 2}},
    ]) + "\n")
    done = replay(manual_server.endpoint, str(capture), "--timing", "original")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "replayed 2 events (2 invocations), 1 scheduled on the platform clock"
    assert "scheduled invoke" in done.stdout
    manual_server.advance(0)
    [first] = manual_server.invocations(name)
    manual_server.advance(99)
    assert len(manual_server.invocations(name)) == 1
    manual_server.advance(1)
    first, second = manual_server.invocations(name)
    assert (first["event"], second["event"]) == ({"order": 1}, {"order": 2})
    assert iso(second["startTime"]) - iso(first["startTime"]) == timedelta(seconds=100)
