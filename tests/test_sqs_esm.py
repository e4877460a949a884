"""The SQS event source mapping (issue 4) on the manual clock: AWS's event shapes, deletion on success,
redelivery after the visibility timeout, redrive to the DLQ and back, partial batch responses (with
aws-lambda-powertools), FIFO group blocking, concurrency, batching windows, enable/disable,
duplicates, the journal, and the ESM API's shapes and errors — through boto3 and real handlers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_emu.event_sources.sqs.poller import BatchFailure, partial_failures
from tests.support import (
    ACCOUNT,
    REGION,
    RunningServer,
    create_python_function,
    error_of,
    function_arn,
    powertools_layer,
    unique,
)

# Writes every event it gets (with wall times) to $OUT. A record fails while its receive count is
# at most the body's "fail_attempts"; a body's "respond" is returned ("SELF" → the record's
# messageId); an existing $FAIL_FLAG file fails every batch.
RECORDER = """
import json, os, time

def handler(event, context):
    started = time.time()
    time.sleep(float(os.environ.get("SLEEP", "0")))
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "start": started, "end": time.time(),
                              "event": event}) + "\\n")
    if os.path.exists(os.environ.get("FAIL_FLAG", "/nonexistent")):
        raise Exception("flagged failure")
    for record in event["Records"]:
        try:
            doc = json.loads(record["body"])
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            continue
        if int(record["attributes"]["ApproximateReceiveCount"]) <= doc.get("fail_attempts", 0):
            raise Exception("intentional failure")
        if "respond" in doc:
            return json.loads(json.dumps(doc["respond"]).replace('"SELF"', json.dumps(record["messageId"])))
    return None
"""

# Partial batch responses the way most Python users write them: Powertools' batch processor.
POWERTOOLS = """
import json, os
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

processor = BatchProcessor(event_type=EventType.SQS)

def record_handler(record):
    if record.body.startswith("fail"):
        raise ValueError("cannot process " + record.body)
    return record.body

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\\n")
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"response": response}) + "\\n")
    return response
"""

FAILING = """
def handler(event, context):
    raise Exception("Test exception (this is intentional)")
"""

RECORD_KEYS = ["messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfMessageAttributes",
               "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"]


# ---- fixtures and helpers -------------------------------------------------------------------------



@pytest.fixture
def mappings(manual_lam: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create mappings that are deleted after the test (so later tests' clock moves don't drive them)."""
    created: list[str] = []

    def make(**params: Any) -> dict[str, Any]:
        response = manual_lam.create_event_source_mapping(**params)
        created.append(response["UUID"])
        return response

    yield make
    for uuid in created:
        try:
            manual_lam.delete_event_source_mapping(UUID=uuid)
        except ClientError:
            pass


def make_queue(manual_sqs: Any, *, fifo: bool = False, **attributes: str) -> tuple[str, str]:
    name = unique("q") + (".fifo" if fifo else "")
    if fifo:
        attributes = {"FifoQueue": "true", **attributes}
    url = manual_sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = manual_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def counts(manual_sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight)."""
    attributes = manual_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def read_out(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def events(path: Path) -> list[dict[str, Any]]:
    return [entry["event"] for entry in read_out(path) if "event" in entry]


def bodies(path: Path) -> list[list[str]]:
    return [[r["body"] for r in event["Records"]] for event in events(path)]


@dataclass
class Rig:
    url: str
    arn: str
    function: str
    uuid: str
    out: Path


def rig(manual_server: RunningServer, lam: Any, manual_sqs: Any, mappings: Callable[..., dict[str, Any]],
        tmp_path: Path,
        *, source: str = RECORDER, fifo: bool = False, queue_attributes: dict[str, str] | None = None,
        env: dict[str, str] | None = None, layers: list[str] | None = None, **mapping: Any) -> Rig:
    url, arn = make_queue(manual_sqs, fifo=fifo, **(queue_attributes or {}))
    out = tmp_path / f"{unique('out')}.jsonl"
    name = create_python_function(lam, source, Environment={"Variables": {"OUT": str(out), **(env or {})}},
                                  Layers=layers or [])
    uuid = mappings(FunctionName=name, EventSourceArn=arn, **mapping)["UUID"]
    manual_server.advance(0)  # Creating → Enabled
    return Rig(url, arn, name, uuid, out)


# ---- the event ------------------------------------------------------------------------------------


def test_standard_event_shape_with_message_attributes(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                                      mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path)
    body = json.dumps({"destination": r.url, "fail_attempts": 0})
    before_ms = int(manual_server.emu.clock.now() * 1000)
    sent = manual_sqs.send_message(QueueUrl=r.url, MessageBody=body, MessageAttributes={
        "WeeksOn": {"DataType": "Number", "StringValue": "6"},
        "Author": {"DataType": "String", "StringValue": "John Grisham"},
        "Title": {"DataType": "String", "StringValue": "The Whistler"},
        "Cover": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    })
    manual_server.advance(0)
    [event] = events(r.out)
    assert list(event) == ["Records"]
    [record] = event["Records"]
    assert list(record) == RECORD_KEYS
    assert record["messageId"] == sent["MessageId"]
    assert record["receiptHandle"].startswith("AQEB")
    assert record["body"] == body
    assert list(record["attributes"]) == ["ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                          "ApproximateFirstReceiveTimestamp"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["SenderId"] == ACCOUNT
    assert int(record["attributes"]["SentTimestamp"]) == before_ms
    assert int(record["attributes"]["ApproximateFirstReceiveTimestamp"]) == before_ms
    assert record["messageAttributes"] == {
        "WeeksOn": {"stringValue": "6", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "Author": {"stringValue": "John Grisham", "stringListValues": [], "binaryListValues": [],
                   "dataType": "String"},
        "Title": {"stringValue": "The Whistler", "stringListValues": [], "binaryListValues": [],
                  "dataType": "String"},
        "Cover": {"binaryValue": "AAH/", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert list(record["messageAttributes"]["Author"]) == ["stringValue", "stringListValues", "binaryListValues",
                                                           "dataType"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{r.arn.split(':')[-1]}"
    assert record["awsRegion"] == REGION
    # Success deleted it.
    assert counts(manual_sqs, r.url) == (0, 0)
    [attempt] = manual_server.invocations(r.function)
    assert attempt["source"] == "sqs" and attempt["outcome"] == "success" and attempt["attempt"] == 1
    assert attempt["duplicate"] is False
    assert attempt["requestId"] == read_out(r.out)[0]["requestId"]


def test_standard_event_without_message_attributes(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                                   mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path)
    sent = manual_sqs.send_message(QueueUrl=r.url, MessageBody='{"foo": "bar"}')
    manual_server.advance(0)
    [[record]] = [e["Records"] for e in events(r.out)]
    assert list(record) == RECORD_KEYS
    assert record["messageAttributes"] == {}
    assert record["md5OfMessageAttributes"] is None  # AWS sends null (recorded shapes §4.2)
    assert record["md5OfBody"] == sent["MD5OfMessageBody"] == "94232c5b8fc9272f6f73a1e36eb68fcf"
    assert counts(manual_sqs, r.url) == (0, 0)


def test_fifo_event_shape(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                          tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, fifo=True)
    sent = manual_sqs.send_message(QueueUrl=r.url, MessageBody='{"message": 1, "fail_attempts": 0}', MessageGroupId="1",
                            MessageDeduplicationId="dedup-1")
    manual_server.advance(0)
    [[record]] = [e["Records"] for e in events(r.out)]
    assert list(record) == RECORD_KEYS
    attributes = record["attributes"]
    assert list(attributes) == ["ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId",
                                "SenderId", "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp"]
    assert attributes["SequenceNumber"] == sent["SequenceNumber"]
    assert attributes["MessageGroupId"] == "1"
    assert attributes["MessageDeduplicationId"] == "dedup-1"
    assert attributes["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {} and record["md5OfMessageAttributes"] is None
    assert record["eventSourceARN"] == r.arn
    assert counts(manual_sqs, r.url) == (0, 0)


def test_batch_of_ten_is_one_event_in_send_order(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                                  mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path)
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    manual_server.advance(0)
    assert bodies(r.out) == [[f"m{i}" for i in range(10)]]
    assert len({rec["receiptHandle"] for rec in events(r.out)[0]["Records"]}) == 10
    assert counts(manual_sqs, r.url) == (0, 0)


# ---- failure, redelivery, redrive -----------------------------------------------------------------


def test_failure_redelivers_after_the_visibility_timeout(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                                         mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path)
    sent = manual_sqs.send_message(QueueUrl=r.url, MessageBody=json.dumps({"fail_attempts": 1}))
    manual_server.advance(0)
    assert counts(manual_sqs, r.url) == (0, 1)
    manual_server.advance(29.9)
    assert len(events(r.out)) == 1
    manual_server.advance(0.1)
    first, second = [e["Records"][0] for e in events(r.out)]
    assert second["messageId"] == first["messageId"] == sent["MessageId"]
    assert second["receiptHandle"] != first["receiptHandle"]
    assert (first["attributes"]["ApproximateReceiveCount"], second["attributes"]["ApproximateReceiveCount"]) == (
        "1", "2")
    assert second["attributes"]["ApproximateFirstReceiveTimestamp"] == first["attributes"][
        "ApproximateFirstReceiveTimestamp"]
    assert counts(manual_sqs, r.url) == (0, 0)
    attempts = manual_server.invocations(r.function)
    assert [(a["source"], a["outcome"], a["errorType"]) for a in attempts] == [
        ("sqs", "error", "Exception"), ("sqs", "success", None)]
    # A fresh request ID per batch: a redelivery is a new invocation.
    assert attempts[0]["requestId"] != attempts[1]["requestId"]
    assert [a["attempt"] for a in attempts] == [1, 1]


def test_redrive_to_dlq_after_max_receive_count_then_move_back(manual_server: RunningServer, manual_lam: Any,
                                                               manual_sqs: Any, mappings: Any, tmp_path: Path) -> None:
    dlq_url, dlq_arn = make_queue(manual_sqs)
    flag = tmp_path / "fail"
    flag.write_text("x")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, queue_attributes={"RedrivePolicy": policy},
            env={"FAIL_FLAG": str(flag)})
    body = json.dumps({"destination": r.url})
    sent = manual_sqs.send_message(QueueUrl=r.url, MessageBody=body)
    manual_server.advance(0)
    manual_server.advance(30)
    assert len(events(r.out)) == 2
    manual_server.advance(30)  # the third receive moves it to the DLQ instead
    assert len(events(r.out)) == 2
    assert counts(manual_sqs, r.url) == (0, 0)
    [dead] = manual_sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(dead) == ["Body", "MD5OfBody", "MessageId", "ReceiptHandle"]  # recorded shapes §4.5
    assert dead["MessageId"] == sent["MessageId"] and dead["Body"] == body
    manual_sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=dead["ReceiptHandle"], VisibilityTimeout=0)
    # Fixed: move it back with a message move task; the mapping processes it.
    flag.unlink()
    manual_sqs.start_message_move_task(SourceArn=dlq_arn)
    manual_server.advance(0)
    assert counts(manual_sqs, dlq_url) == (0, 0)
    assert counts(manual_sqs, r.url) == (0, 0)
    last = events(r.out)[-1]["Records"]
    assert [(rec["messageId"], rec["body"], rec["attributes"]["ApproximateReceiveCount"]) for rec in last] == [
        (sent["MessageId"], body, "1")]
    assert [a["outcome"] for a in manual_server.invocations(r.function)] == ["error", "error", "success"]
    [task] = manual_sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "COMPLETED" and task["ApproximateNumberOfMessagesMoved"] == 1


# ---- ReportBatchItemFailures -----------------------------------------------------------------------


def test_powertools_partial_batch_response(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                           mappings: Any,
                                           tmp_path: Path) -> None:
    # Powertools ships as users ship it to Lambda: a layer (the sandbox has only what Lambda gives).
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, source=POWERTOOLS,
            layers=[powertools_layer(manual_lam)], FunctionResponseTypes=["ReportBatchItemFailures"])
    sent = manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[
        {"Id": "a", "MessageBody": "ok-1"}, {"Id": "b", "MessageBody": "fail-2"}, {"Id": "c", "MessageBody": "ok-3"}])
    failed_id = next(s["MessageId"] for s in sent["Successful"] if s["Id"] == "b")
    manual_server.advance(0)
    responses = [e["response"] for e in read_out(r.out) if "response" in e]
    assert responses == [{"batchItemFailures": [{"itemIdentifier": failed_id}]}]
    assert counts(manual_sqs, r.url) == (0, 1)  # only the failed message stays
    manual_server.advance(30)
    assert bodies(r.out) == [["ok-1", "fail-2", "ok-3"], ["fail-2"]]
    retried = events(r.out)[-1]["Records"][0]
    assert retried["messageId"] == failed_id and retried["attributes"]["ApproximateReceiveCount"] == "2"
    # Powertools raises when every record of a batch failed: a plain function error.
    attempts = manual_server.invocations(r.function)
    assert [(a["outcome"], a["errorType"]) for a in attempts] == [("partialFailure", None),
                                                                  ("error", "BatchProcessingError")]
    assert attempts[0]["failedItemIds"] == [failed_id]
    assert counts(manual_sqs, r.url) == (0, 1)


@pytest.fixture(scope="module")
def responder(manual_lam: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One RECORDER function shared by the partial-response cases (one mapping per queue)."""
    out = tmp_path_factory.mktemp("responder") / "out.jsonl"
    name = create_python_function(manual_lam, RECORDER, Environment={"Variables": {"OUT": str(out)}})
    return name, out


@pytest.mark.parametrize(("respond", "stays"), [
    ({"batchItemFailures": []}, False),
    ({"batchItemFailures": None}, False),
    ({}, False),
    (None, False),
    ({"BatchItemFailures": [{"ItemIdentifier": "SELF"}]}, False),  # wrong key case: no list, so success
    ({"batchItemFailures": [{"itemIdentifier": "SELF"}]}, True),
    ({"batchItemFailures": [{"foo": "notvalid"}]}, True),  # recorded shapes §4.6
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, True),
    ({"batchItemFailures": [{"itemIdentifier": None}]}, True),
    ({"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}, True),
    ("not an object", True),
])
def test_partial_batch_response_cases(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                                      responder: tuple[str, Path], respond: Any, stays: bool) -> None:
    name, _ = responder
    url, arn = make_queue(manual_sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": make_queue(manual_sqs)[1],
                                                         "maxReceiveCount": 5}))
    mappings(FunctionName=name, EventSourceArn=arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    manual_server.advance(0)
    manual_sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": json.dumps({"respond": respond})}, {"Id": "b", "MessageBody": "plain"}])
    manual_server.advance(0)
    [attempt] = manual_server.invocations(name)[-1:]
    # The function returned either way; listed (or, for a response Lambda can't read, all) items failed.
    assert attempt["outcome"] == ("partialFailure" if stays else "success")
    if not stays:
        assert counts(manual_sqs, url) == (0, 0)
    elif respond == {"batchItemFailures": [{"itemIdentifier": "SELF"}]}:
        assert counts(manual_sqs, url) == (0, 1)  # only the listed message
    else:
        assert counts(manual_sqs, url) == (0, 2)  # invalid response: the whole batch stays


def test_invalid_partial_response_sends_whole_batch_to_dlq(manual_server: RunningServer, manual_lam: Any,
                                                           manual_sqs: Any,
                                                           mappings: Any, tmp_path: Path) -> None:
    dlq_url, dlq_arn = make_queue(manual_sqs)
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            queue_attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
    invalid = json.dumps({"respond": {"batchItemFailures": [{"foo": "notvalid"}]}})
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": "a", "MessageBody": "{not a json body"},
                                                     {"Id": "b", "MessageBody": invalid}])
    manual_server.advance(0)
    manual_server.advance(30)
    counts_seen = [[rec["attributes"]["ApproximateReceiveCount"] for rec in e["Records"]] for e in events(r.out)]
    assert counts_seen == [["1", "1"], ["2", "2"]]
    manual_server.advance(30)
    dead = manual_sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(["{not a json body", invalid])


@pytest.mark.parametrize(("payload", "expected"), [
    (b"", set()),
    (b"null", set()),
    (b"{}", set()),
    (b'{"batchItemFailures": []}', set()),
    (b'{"batchItemFailures": null}', set()),
    (b'{"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m1"}]}', {"m1"}),
    (b'{"batchItemFailures": [{"itemIdentifier": "m2", "extra": 1}]}', {"m2"}),
])
def test_partial_failures_accepts(payload: bytes, expected: set[str]) -> None:
    assert partial_failures(payload, {"m1", "m2"}) == expected


@pytest.mark.parametrize("payload", [
    b"{not json", b'"text"', b"[]", b"3", b'{"batchItemFailures": {}}', b'{"batchItemFailures": [{"foo": "m1"}]}',
    b'{"batchItemFailures": [{"itemIdentifier": ""}]}', b'{"batchItemFailures": [{"itemIdentifier": null}]}',
    b'{"batchItemFailures": [{"itemIdentifier": "m3"}]}', b'{"batchItemFailures": ["m1"]}',
])
def test_partial_failures_rejects(payload: bytes) -> None:
    with pytest.raises(BatchFailure):
        partial_failures(payload, {"m1", "m2"})


# ---- FIFO ------------------------------------------------------------------------------------------


def test_fifo_failed_group_blocks_while_other_groups_flow(manual_server: RunningServer, manual_lam: Any,
                                                          manual_sqs: Any,
                                                          mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, fifo=True,
            queue_attributes={"ContentBasedDeduplication": "true"}, BatchSize=1)
    for group, label, fail in (("A", "A1", 1), ("A", "A2", 0), ("B", "B1", 0), ("B", "B2", 0), ("B", "B3", 0)):
        manual_sqs.send_message(QueueUrl=r.url, MessageBody=json.dumps({"label": label, "fail_attempts": fail}),
                         MessageGroupId=group)
    manual_server.advance(0)
    delivered = [json.loads(b[0])["label"] for b in bodies(r.out)]
    assert [x for x in delivered if x.startswith("B")] == ["B1", "B2", "B3"]
    assert [x for x in delivered if x.startswith("A")] == ["A1"]  # A2 waits behind the failed A1
    assert counts(manual_sqs, r.url) == (1, 1)
    manual_server.advance(30)
    delivered = [json.loads(b[0])["label"] for b in bodies(r.out)]
    assert delivered[-2:] == ["A1", "A2"]
    assert counts(manual_sqs, r.url) == (0, 0)


def test_fifo_batch_keeps_group_order(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                                      tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, fifo=True,
            queue_attributes={"ContentBasedDeduplication": "true"})
    entries = [{"Id": str(i), "MessageBody": f"{g}{i}", "MessageGroupId": g} for i, g in enumerate("ABABA")]
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=entries)
    manual_server.advance(0)
    [batch] = bodies(r.out)
    assert [b for b in batch if b[0] == "A"] == ["A0", "A2", "A4"]
    assert [b for b in batch if b[0] == "B"] == ["B1", "B3"]


# ---- concurrency, batching window, enable/disable, duplicates ---------------------------------------


def max_overlap(path: Path) -> int:
    """The most handlers running at one wall-clock moment."""
    points = sorted([(e["start"], 1) for e in read_out(path)] + [(e["end"], -1) for e in read_out(path)],
                    key=lambda p: (p[0], p[1]))
    running = peak = 0
    for _, step in points:
        running += step
        peak = max(peak, running)
    return peak


def test_maximum_concurrency_is_honoured(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                                         tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, env={"SLEEP": "0.2"}, BatchSize=1,
            ScalingConfig={"MaximumConcurrency": 2})
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(6)])
    manual_server.advance(0)
    assert sorted(b[0] for b in bodies(r.out)) == [f"m{i}" for i in range(6)]
    assert max_overlap(r.out) == 2


def test_default_concurrency_cap(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                                 tmp_path: Path) -> None:
    from lambda_emu.event_sources.sqs.poller import DEFAULT_CONCURRENCY

    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, env={"SLEEP": "0.3"}, BatchSize=1)
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    manual_server.advance(0)
    assert len(events(r.out)) == 10
    assert max_overlap(r.out) == DEFAULT_CONCURRENCY == 5


def test_batching_window(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                         tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, BatchSize=20, MaximumBatchingWindowInSeconds=5)
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": str(i), "MessageBody": f"a{i}"} for i in range(3)])
    manual_server.advance(0)
    assert events(r.out) == []
    assert counts(manual_sqs, r.url) == (0, 3)  # gathered: received, waiting for a fuller batch
    manual_server.advance(4.9)
    assert events(r.out) == []
    manual_server.advance(0.1)
    assert bodies(r.out) == [["a0", "a1", "a2"]]
    # A full batch (two receives of 10) goes at once; the rest waits for its window.
    for part in range(3):
        manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[
            {"Id": str(i), "MessageBody": f"b{part * 10 + i}"} for i in range(10 if part < 2 else 5)])
    manual_server.advance(0)
    assert bodies(r.out)[1:] == [[f"b{i}" for i in range(20)]]
    manual_server.advance(5)
    assert bodies(r.out)[2:] == [[f"b{i}" for i in range(20, 25)]]
    assert counts(manual_sqs, r.url) == (0, 0)


def test_batch_size_above_ten_without_window_pressure(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                                      mappings: Any, tmp_path: Path) -> None:
    """A big batch with a queue already full goes out at once, in several receives."""
    url, arn = make_queue(manual_sqs)
    for part in range(4):
        manual_sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{part * 10 + i}"}
                                                       for i in range(10)])
    out = tmp_path / "out.jsonl"
    name = create_python_function(manual_lam, RECORDER, Environment={"Variables": {"OUT": str(out)}})
    mappings(FunctionName=name, EventSourceArn=arn, BatchSize=25, MaximumBatchingWindowInSeconds=60)
    manual_server.advance(0)
    assert [len(b) for b in bodies(out)] == [25]
    manual_server.advance(60)
    assert [len(b) for b in bodies(out)] == [25, 15]
    assert sorted(x for b in bodies(out) for x in b) == sorted(f"m{i}" for i in range(40))


def test_mapping_created_disabled_answers_disabled(manual_lam: Any, manual_sqs: Any, mappings: Any) -> None:
    _, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, RECORDER, Environment={"Variables": {"OUT": "/dev/null"}})
    created = mappings(FunctionName=name, EventSourceArn=arn, Enabled=False)
    assert (created["State"], created["StateTransitionReason"]) == ("Disabled", "USER_INITIATED")


def test_disabled_mapping_does_not_poll_until_enabled(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                                      mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, Enabled=False)
    assert manual_lam.get_event_source_mapping(UUID=r.uuid)["State"] == "Disabled"
    manual_sqs.send_message(QueueUrl=r.url, MessageBody="waiting")
    manual_server.advance(120)
    assert events(r.out) == [] and counts(manual_sqs, r.url) == (1, 0)
    updated = manual_lam.update_event_source_mapping(UUID=r.uuid, Enabled=True)
    assert updated["State"] == "Enabling"
    manual_server.advance(0)
    assert manual_lam.get_event_source_mapping(UUID=r.uuid)["State"] == "Enabled"
    assert bodies(r.out) == [["waiting"]]
    assert manual_lam.update_event_source_mapping(UUID=r.uuid, Enabled=False)["State"] == "Disabling"
    manual_server.advance(0)
    assert manual_lam.get_event_source_mapping(UUID=r.uuid)["State"] == "Disabled"
    manual_sqs.send_message(QueueUrl=r.url, MessageBody="again")
    manual_server.advance(60)
    assert bodies(r.out) == [["waiting"]] and counts(manual_sqs, r.url) == (1, 0)
    manual_lam.update_event_source_mapping(UUID=r.uuid, Enabled=True)
    manual_server.advance(0)
    assert bodies(r.out) == [["waiting"], ["again"]]


def test_duplicate_injection(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                             tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path)
    manual_server.emu_post("/_emu/faults", {"functionName": r.function, "duplicateRate": 1.0})
    manual_sqs.send_message(QueueUrl=r.url, MessageBody="twice")
    manual_server.advance(0)
    first, second = events(r.out)
    assert first == second  # the same records, receipt handles included
    attempts = manual_server.invocations(r.function)
    assert [(a["source"], a["attempt"], a["duplicate"], a["outcome"]) for a in attempts] == [
        ("sqs", 1, False, "success"), ("sqs", 2, True, "success")]
    assert attempts[0]["requestId"] == attempts[1]["requestId"]
    assert counts(manual_sqs, r.url) == (0, 0)
    manual_server.emu_post("/_emu/faults", {"functionName": r.function, "duplicateRate": 0.0})


def test_function_timeout_is_a_failure(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                                       tmp_path: Path) -> None:
    url, arn = make_queue(manual_sqs, VisibilityTimeout="10")
    out = tmp_path / "out.jsonl"
    name = create_python_function(manual_lam, RECORDER, Timeout=1,
                                  Environment={"Variables": {"OUT": str(out), "SLEEP": "1.5"}})
    mappings(FunctionName=name, EventSourceArn=arn)
    manual_server.advance(0)
    manual_sqs.send_message(QueueUrl=url, MessageBody="slow")
    manual_server.advance(0)
    [attempt] = manual_server.invocations(name)
    assert (attempt["source"], attempt["outcome"], attempt["errorType"]) == ("sqs", "error", "Sandbox.Timedout")
    assert counts(manual_sqs, url) == (0, 1)


# ---- async destinations and DLQs land in real queues -------------------------------------------------


def test_async_failure_destination_and_dlq_are_lambda_emu_queues(manual_server: RunningServer, manual_lam: Any,
                                                                 manual_sqs: Any) -> None:
    destination_url, destination_arn = make_queue(manual_sqs)
    dlq_url, dlq_arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, FAILING, DeadLetterConfig={"TargetArn": dlq_arn})
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                                DestinationConfig={"OnFailure": {"Destination": destination_arn}})
    response = manual_lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"raise_error": 1}')
    request_id = response["ResponseMetadata"]["RequestId"]
    manual_server.advance(0)
    [record] = manual_sqs.receive_message(QueueUrl=destination_url)["Messages"]
    document = json.loads(record["Body"])
    assert document["requestContext"] == {"requestId": request_id, "functionArn": function_arn(name) + ":$LATEST",
                                          "condition": "RetriesExhausted", "approximateInvokeCount": 1}
    assert document["requestPayload"] == {"raise_error": 1}
    [dead] = manual_sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(dead["Body"]) == {"raise_error": 1}
    assert dead["MessageAttributes"] == {
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "Test exception (this is intentional)"},
        "RequestID": {"DataType": "String", "StringValue": request_id},
    }


# ---- the ESM API -------------------------------------------------------------------------------------


def test_mapping_api_shapes_and_states(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, FAILING)
    created = manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=5,
                                                     ScalingConfig={"MaximumConcurrency": 3})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = created.pop("UUID")
    del created["ResponseMetadata"]
    last_modified = created.pop("LastModified")
    assert abs(last_modified.timestamp() - manual_server.emu.clock.now()) < 1
    assert created == {
        "BatchSize": 5,
        "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": arn,
        "FunctionArn": function_arn(name),
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": [],
        "ScalingConfig": {"MaximumConcurrency": 3},
        "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}",
    }
    manual_server.advance(0)
    got = manual_lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled" and got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [m["UUID"] for m in manual_lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]] == [
        uuid]
    assert [m["UUID"] for m in manual_lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [
        uuid]
    updated = manual_lam.update_event_source_mapping(UUID=uuid, BatchSize=7,
                                                     FunctionResponseTypes=["ReportBatchItemFailures"])
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (updated["State"], updated["BatchSize"], updated["FunctionResponseTypes"]) == (
        "Updating", 7, ["ReportBatchItemFailures"])
    manual_server.advance(0)
    assert manual_lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    deleted = manual_lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    with pytest.raises(manual_lam.exceptions.ResourceNotFoundException):
        manual_lam.get_event_source_mapping(UUID=uuid)
    # Deleted: messages stay in the queue.
    manual_sqs.send_message(QueueUrl=url, MessageBody="after")
    manual_server.advance(0)
    assert manual_server.invocations(name) == [] and counts(manual_sqs, url) == (1, 0)


def test_mapping_api_errors(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any) -> None:
    _, arn = make_queue(manual_sqs, VisibilityTimeout="5")
    _, fifo_arn = make_queue(manual_sqs, fifo=True)
    slow = create_python_function(manual_lam, FAILING, Timeout=10)
    name = create_python_function(manual_lam, FAILING)

    def refused(**params: Any) -> tuple[int, str, str]:
        with pytest.raises(ClientError) as exc:
            manual_lam.create_event_source_mapping(**params)
        status, code, message, _ = error_of(exc.value)
        return status, code, message

    assert refused(FunctionName=slow, EventSourceArn=arn) == (
        400, "InvalidParameterValueException",
        "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds")
    assert refused(FunctionName=name, EventSourceArn=arn, BatchSize=11) == (
        400, "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    assert refused(FunctionName=name, EventSourceArn=fifo_arn, BatchSize=11, MaximumBatchingWindowInSeconds=1) == (
        400, "InvalidParameterValueException", "Batch size must be between 1 and 10 for FIFO queues.")
    assert refused(FunctionName=name, EventSourceArn=arn, StartingPosition="LATEST") == (
        400, "InvalidParameterValueException", "StartingPosition is not valid for SQS event sources.")
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('missing')}"
    status, code, message = refused(FunctionName=name, EventSourceArn=missing)
    assert (status, code, message) == (
        400, "InvalidParameterValueException",
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
        "SQS Error Message: The specified queue does not exist.")  # AWS, recorded 2025-11-25
    # AWS's order and words (recorded 2025-11-27, LocalStack's test_event_source_mapping_exceptions): the source,
    # the parameters a queue refuses, the function (400, not a 404), and only then whether the queue is there.
    nofn = unique("nofn")
    assert refused(FunctionName=nofn) == (400, "InvalidParameterValueException", "Unrecognized event source.")
    assert refused(FunctionName=nofn, EventSourceArn=missing,
                   DestinationConfig={"OnSuccess": {"Destination": arn}}) == (
        400, "InvalidParameterValueException",
        "Unsupported DestinationConfig parameter for given event source mapping type.")
    for source in (missing, arn):
        with pytest.raises(ClientError) as exc:
            manual_lam.create_event_source_mapping(FunctionName=nofn, EventSourceArn=source)
        status, code, message, body = error_of(exc.value)
        assert (status, code, message, body["Type"], body["message"]) == (
            400, "InvalidParameterValueException", "Function does not exist", "User", "Function does not exist")
    assert refused(FunctionName=f"{name}:7", EventSourceArn=arn) == (
        400, "InvalidParameterValueException", "Function does not exist")
    existing = mappings(FunctionName=name, EventSourceArn=arn)["UUID"]
    status, code, message = refused(FunctionName=name, EventSourceArn=arn)
    assert (status, code) == (409, "ResourceConflictException")
    assert message == (f'An event source mapping with SQS arn (" {arn} ") and function (" {name} ") already exists. '
                       f"Please update or delete the existing mapping with UUID {existing}")
    # A refused update changes nothing.
    with pytest.raises(ClientError) as exc:
        manual_lam.update_event_source_mapping(UUID=existing, FunctionName=slow)
    assert error_of(exc.value)[1] == "InvalidParameterValueException"
    assert manual_lam.get_event_source_mapping(UUID=existing)["FunctionArn"] == function_arn(name)
    unknown = "00000000-0000-4000-8000-000000000000"
    for call in (lambda: manual_lam.get_event_source_mapping(UUID=unknown),
                 lambda: manual_lam.update_event_source_mapping(UUID=unknown, BatchSize=1),
                 lambda: manual_lam.delete_event_source_mapping(UUID=unknown)):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc.value)[:3] == (404, "ResourceNotFoundException",
                                           "The resource you requested does not exist.")


def test_effective_visibility_with_window(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any,
                                          tmp_path: Path) -> None:
    """window + function timeout > visibility timeout: Lambda receives with window + timeout + 30 s."""
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, queue_attributes={"VisibilityTimeout": "5"},
            BatchSize=10, MaximumBatchingWindowInSeconds=10)
    manual_sqs.send_message(QueueUrl=r.url, MessageBody=json.dumps({"fail_attempts": 1}))
    manual_server.advance(10)  # window runs out: the batch of one fails
    assert len(events(r.out)) == 1
    manual_server.advance(32.9)  # received at t=0 with 10 + 3 + 30 = 43 s
    assert len(events(r.out)) == 1
    manual_server.advance(0.1 + 10)  # visible again at 43, then another window
    assert len(events(r.out)) == 2



def test_batch_is_cut_at_the_six_mb_payload(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                            mappings: Any,
                                            tmp_path: Path) -> None:
    """Ten messages of ~1 MB each: 6 fit in the 6 MB invoke payload, the other 4 go in the next batch."""
    url, arn = make_queue(manual_sqs)
    for i in range(10):
        manual_sqs.send_message(QueueUrl=url, MessageBody=str(i) * 1_000_000)
    out = tmp_path / "out.jsonl"
    name = create_python_function(manual_lam, RECORDER, Environment={"Variables": {"OUT": str(out)}})
    mappings(FunctionName=name, EventSourceArn=arn, BatchSize=10)
    manual_server.advance(0)
    batches = sorted(bodies(out))  # the two batches ran concurrently
    assert [len(b) for b in batches] == [6, 4]
    assert [b[0] for batch in batches for b in batch] == [str(i) for i in range(10)]
    assert all(len(json.dumps(event).encode()) <= 6 * 1024 * 1024 for event in events(out))
    assert counts(manual_sqs, url) == (0, 0)
