"""The journal tells the whole story (issue 12): every attempt's event, response or error, log tail,
sourceDetail and the platform's decision — for an async chain ending in a destination and in a DLQ, an
SQS redrive, a Kinesis bisect and a partial batch failure; the bound, pagination and JSON lines; and
IDs unique across runs with one seed. Real server, real handlers, boto3."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support import ACCOUNT, REGION, RunningServer, create_python_function, raw_request, unique

DECLINE = """
def handler(event, context):
    print("charging", event.get("order"))
    if event.get("fail"):
        raise ValueError("card declined")
    return {"charged": event.get("order")}
"""

SQS_FAIL = """
def handler(event, context):
    raise Exception("queue handler failed")
"""

SQS_PARTIAL = """
def handler(event, context):
    failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
    return {"batchItemFailures": failed}
"""

KINESIS_BAD = """
import base64

def handler(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    if "bad" in datas:
        raise RuntimeError("bad record in " + ",".join(datas))
    return None
"""


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# ---- async: a chain ending in a destination, and one in a dead-letter queue ------------------------


def test_async_chain_records_event_error_log_source_and_each_decision(manual_server: RunningServer,
                                                                        manual_lam: Any, manual_sqs: Any) -> None:
    _, failed_arn = queue(manual_sqs)
    name = create_python_function(manual_lam, DECLINE)
    manual_lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": failed_arn}})
    reply = manual_lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"order": 7, "fail": true}')
    request_id = reply["ResponseMetadata"]["RequestId"]
    manual_server.settle(3600)

    attempts = manual_server.invocations(name, request_id)
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    for attempt in attempts:
        assert attempt["source"] == "async"
        assert attempt["sourceDetail"] == {"invocationType": "Event"}
        assert attempt["event"] == {"order": 7, "fail": True}
        assert attempt["eventTruncated"] is False
        assert attempt["outcome"] == "error"
        assert attempt["error"] == {"errorType": "ValueError", "errorMessage": "card declined"}
        assert "response" not in attempt
        assert attempt["logTail"].startswith(f"START RequestId: {request_id}")
        assert "charging 7" in attempt["logTail"] and f"REPORT RequestId: {request_id}" in attempt["logTail"]
    first, second, third = attempts
    assert first["decision"] == {"action": "retry", "at": second["startTime"], "reason": "FunctionError"}
    assert iso(second["startTime"]) - iso(first["endTime"]) == timedelta(seconds=60)
    assert second["decision"] == {"action": "retry", "at": third["startTime"], "reason": "FunctionError"}
    assert iso(third["startTime"]) - iso(second["endTime"]) == timedelta(seconds=120)
    assert third["decision"] == {"action": "destination", "target": failed_arn, "condition": "RetriesExhausted"}


def test_async_failure_to_dead_letter_queue_and_success_to_destination(manual_server: RunningServer,
                                                                        manual_lam: Any, manual_sqs: Any) -> None:
    _, dlq_arn = queue(manual_sqs)
    _, ok_arn = queue(manual_sqs)
    name = create_python_function(manual_lam, DECLINE, DeadLetterConfig={"TargetArn": dlq_arn})
    manual_lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": ok_arn}})
    failing = manual_lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    passing = manual_lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"order": 1}')
    manual_server.settle(3600)

    [failed] = manual_server.invocations(name, failing["ResponseMetadata"]["RequestId"])
    assert failed["decision"] == {"action": "deadLetter", "target": dlq_arn}
    [succeeded] = manual_server.invocations(name, passing["ResponseMetadata"]["RequestId"])
    assert succeeded["outcome"] == "success"
    assert succeeded["response"] == {"charged": 1}
    assert "error" not in succeeded
    assert succeeded["decision"] == {"action": "destination", "target": ok_arn, "condition": "Success"}


def test_sync_attempt_has_empty_source_detail_and_null_decision(manual_server: RunningServer,
                                                                 manual_lam: Any) -> None:
    name = create_python_function(manual_lam, DECLINE)
    reply = manual_lam.invoke(FunctionName=name, Payload=b'{"order": 3}')
    [attempt] = manual_server.invocations(name, reply["ResponseMetadata"]["RequestId"])
    assert attempt["source"] == "sync"
    assert attempt["sourceDetail"] == {}
    assert attempt["decision"] is None
    assert attempt["event"] == {"order": 3}
    assert attempt["response"] == {"charged": 3}
    assert "charging 3" in attempt["logTail"]


# ---- SQS: a redrive, and a partial batch failure --------------------------------------------------


def test_sqs_redrive_is_journaled_with_message_ids_and_receive_counts(
        manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, manual_mappings: list[str]) -> None:
    _, dlq_arn = queue(manual_sqs)
    url, arn = queue(manual_sqs, VisibilityTimeout="30",
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    name = create_python_function(manual_lam, SQS_FAIL, Timeout=5)
    mapping = manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10)
    manual_mappings.append(mapping["UUID"])
    manual_server.advance(0)
    message_id = manual_sqs.send_message(QueueUrl=url, MessageBody="order-1")["MessageId"]
    manual_server.advance(0)
    manual_server.advance(31)
    manual_server.advance(31)

    attempts = manual_server.invocations(name)
    assert len(attempts) == 2
    for number, attempt in enumerate(attempts, 1):
        assert attempt["source"] == "sqs"
        assert attempt["sourceDetail"] == {"eventSourceArn": arn, "mappingUuid": mapping["UUID"],
                                           "messageIds": [message_id], "receiveCounts": [number]}
        assert attempt["event"]["Records"][0]["body"] == "order-1"
        assert attempt["error"]["errorMessage"] == "queue handler failed"
    first, second = attempts
    assert first["decision"]["action"] == "retry" and first["decision"]["reason"] == "FunctionError"
    assert iso(first["decision"]["at"]) - iso(first["startTime"]) == timedelta(seconds=30)
    assert second["decision"] == {"action": "redrive", "target": dlq_arn}


def test_sqs_partial_batch_failure_is_not_a_success(manual_server: RunningServer, manual_lam: Any,
                                                     manual_sqs: Any, manual_mappings: list[str]) -> None:
    url, arn = queue(manual_sqs, VisibilityTimeout="30")
    name = create_python_function(manual_lam, SQS_PARTIAL)
    mapping = manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10,
                                                     FunctionResponseTypes=["ReportBatchItemFailures"])
    manual_mappings.append(mapping["UUID"])
    manual_server.advance(0)
    sent = manual_sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "good"}, {"Id": "b", "MessageBody": "bad"}])["Successful"]
    bad_id = next(e["MessageId"] for e in sent if e["Id"] == "b")
    manual_server.advance(0)

    [attempt] = manual_server.invocations(name)
    assert attempt["outcome"] == "partialFailure"
    assert attempt["failedItemIds"] == [bad_id]
    assert attempt["response"] == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert attempt["decision"]["action"] == "retry"
    assert attempt["decision"]["reason"] == "PartialBatchFailure"
    manual_server.advance(31)
    retried = manual_server.invocations(name)[1]
    assert retried["sourceDetail"]["messageIds"] == [bad_id]


# ---- Kinesis: a bisect ---------------------------------------------------------------------------


def test_kinesis_bisect_is_journaled_with_depth_and_each_decision(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, manual_sqs: Any,
        manual_mappings: list[str]) -> None:
    stream = unique("stream")
    manual_kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"
    _, failure_arn = queue(manual_sqs)
    name = create_python_function(manual_lam, KINESIS_BAD)
    mapping = manual_lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=4,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}})
    manual_mappings.append(mapping["UUID"])
    manual_server.advance(0)
    put = manual_kinesis.put_records(StreamName=stream, Records=[
        {"Data": value.encode(), "PartitionKey": "k"} for value in ("a", "b", "c", "bad")])
    sequences = [r["SequenceNumber"] for r in put["Records"]]
    manual_server.settle(600)

    attempts = manual_server.invocations(name)
    summary = [(a["sourceDetail"]["records"], a["sourceDetail"]["bisectDepth"], a["decision"]) for a in attempts]
    assert summary == [
        (4, 0, {"action": "bisect", "into": [2, 2]}),
        (2, 1, {"action": "checkpoint", "sequenceNumber": sequences[1]}),
        (2, 1, {"action": "bisect", "into": [1, 1]}),
        (1, 2, {"action": "checkpoint", "sequenceNumber": sequences[2]}),
        (1, 2, {"action": "destination", "target": failure_arn, "condition": "RetryAttemptsExhausted"}),
    ]
    first = attempts[0]
    assert first["sourceDetail"] == {"eventSourceArn": stream_arn, "mappingUuid": mapping["UUID"],
                                     "shardId": "shardId-000000000000", "firstSequenceNumber": sequences[0],
                                     "lastSequenceNumber": sequences[3], "records": 4, "bisectDepth": 0}
    assert [base64.b64decode(r["kinesis"]["data"]) for r in first["event"]["Records"]] == [b"a", b"b", b"c", b"bad"]
    assert first["error"] == {"errorType": "RuntimeError", "errorMessage": "bad record in a,b,c,bad"}


# ---- the bound, pagination, JSON lines, truncation ----------------------------------------------


@pytest.fixture(scope="module")
def small_journal() -> Iterator[RunningServer]:
    running = RunningServer(clock="manual", journal_size=5, journal_payload_limit=64).start()
    yield running
    running.stop()


def test_journal_is_bounded_paginated_and_answers_json_lines(small_journal: RunningServer) -> None:
    lam = small_journal.client("lambda")
    name = create_python_function(lam, DECLINE)
    request_ids = [lam.invoke(FunctionName=name, Payload=json.dumps({"order": n}).encode())
                   ["ResponseMetadata"]["RequestId"] for n in range(8)]
    everything = small_journal.invocations(name)
    assert [a["requestId"] for a in everything] == request_ids[3:]  # the oldest three dropped

    first = small_journal.emu_get(f"/_emu/invocations?functionName={name}&limit=2")
    assert [a["requestId"] for a in first["invocations"]] == request_ids[3:5]
    second = small_journal.emu_get(f"/_emu/invocations?functionName={name}&limit=2&nextToken={first['nextToken']}")
    assert [a["requestId"] for a in second["invocations"]] == request_ids[5:7]
    third = small_journal.emu_get(f"/_emu/invocations?functionName={name}&limit=2&nextToken={second['nextToken']}")
    assert [a["requestId"] for a in third["invocations"]] == request_ids[7:]
    assert "nextToken" not in third

    status, headers, body = raw_request(small_journal.endpoint, "GET",
                                        f"/_emu/invocations?functionName={name}&format=jsonl")
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert lines == everything

    status, _, body = raw_request(small_journal.endpoint, "GET", "/_emu/invocations?limit=0")
    assert status == 400 and b"limit must be an integer" in body


def test_payloads_over_the_limit_are_cut(small_journal: RunningServer) -> None:
    lam = small_journal.client("lambda")
    name = create_python_function(lam, DECLINE)
    big = json.dumps({"order": "x" * 100})
    reply = lam.invoke(FunctionName=name, Payload=big.encode())
    [attempt] = small_journal.invocations(name, reply["ResponseMetadata"]["RequestId"])
    assert attempt["eventTruncated"] is True
    assert attempt["event"] == big[:64]
    assert attempt["responseTruncated"] is True


# ---- IDs unique across runs with one seed ---------------------------------------------------------


def _ids_of_one_run() -> dict[str, Any]:
    running = RunningServer(clock="manual", seed=7).start()
    try:
        lam, sqs, kinesis = running.client("lambda"), running.client("sqs"), running.client("kinesis")
        name = create_python_function(lam, DECLINE, name="same-fn")
        url = sqs.create_queue(QueueName="same-queue")["QueueUrl"]
        kinesis.create_stream(StreamName="same-stream", ShardCount=1)
        return {
            "request": lam.invoke(FunctionName=name, Payload=b"{}")["ResponseMetadata"]["RequestId"],
            "async": lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
            ["ResponseMetadata"]["RequestId"],
            "message": sqs.send_message(QueueUrl=url, MessageBody="m")["MessageId"],
            "sequence": kinesis.put_record(StreamName="same-stream", Data=b"d", PartitionKey="k")["SequenceNumber"],
        }
    finally:
        running.stop()


def test_ids_are_unique_across_two_runs_with_the_same_seed() -> None:
    one, two = _ids_of_one_run(), _ids_of_one_run()
    for kind in one:
        assert one[kind] != two[kind], kind
