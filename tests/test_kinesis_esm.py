"""The Kinesis stream event source mapping (issue 5) end to end on the manual clock: boto3's kinesis, lambda
and sqs clients against a real lambda-emu server, real handlers run by awslambdaric (one of them built on
aws-lambda-powertools' batch processor).

Handlers append every event they receive to a file (``OUT``), so a test reads exactly what was delivered.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import (
    ACCOUNT,
    REGION,
    ROLE,
    RunningServer,
    create_python_function,
    delivered,
    function_arn,
    new_function,
    powertools_layer,
    unique,
)

# Every handler logs its event first; ``datas`` decodes the records' data.
PRELUDE = """
import base64, json, os, time

def log(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "event": event, "start": time.time(),
                              "pid": os.getpid()}) + "\\n")

def datas(event):
    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
"""

OK_HANDLER = PRELUDE + """
def handler(event, context):
    log(event, context)
"""

POISON = PRELUDE + """
def handler(event, context):
    log(event, context)
    if "poison" in datas(event):
        raise Exception("poison record")
"""

ALWAYS_FAILS = PRELUDE + """
def handler(event, context):
    log(event, context)
    raise Exception("Test exception (this is intentional)")
"""

# ReportBatchItemFailures: records whose data starts with "fail" are reported failed.
PARTIAL = PRELUDE + """
def handler(event, context):
    log(event, context)
    failed = [r["kinesis"]["sequenceNumber"] for r, d in zip(event["Records"], datas(event)) if d.startswith("fail")]
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
"""

# Returns the response named by the record's data (JSON), for the partial-response shape rules.
ANSWERS = PRELUDE + """
def handler(event, context):
    log(event, context)
    answer = json.loads(datas(event)[0])
    if answer == "raise":
        raise Exception("Test exception (this is intentional)")
    return answer
"""

POWERTOOLS = PRELUDE + """
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

def record_handler(record):
    if record.kinesis.data_as_text() == "bad":
        raise ValueError("bad record")

def handler(event, context):
    log(event, context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
"""

SLOW = PRELUDE + """
def handler(event, context):
    log(event, context)
    time.sleep(0.3)
"""

WINDOWED = PRELUDE + """
def handler(event, context):
    log(event, context)
    state = dict(event["state"])
    state["count"] = state.get("count", 0) + len(event["Records"])
    state["seen"] = state.get("seen", []) + datas(event)
    return {"state": state, "batchItemFailures": []}
"""

NO_STATE = PRELUDE + """
def handler(event, context):
    log(event, context)
    return {"batchItemFailures": []}
"""


# ---- fixtures and helpers -----------------------------------------------------------------------


def decoded(event: dict[str, Any]) -> list[str]:
    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]


def new_stream(manual_kinesis: Any, shards: int = 1) -> tuple[str, str]:
    name = unique("stream")
    manual_kinesis.create_stream(StreamName=name, ShardCount=shards)
    return name, f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def put(manual_kinesis: Any, stream: str, values: list[str], key: str = "key",
        hash_key: str | None = None) -> list[str]:
    """PutRecords; the sequence numbers, in order."""
    entries = [{"Data": value.encode(), "PartitionKey": key, **({"ExplicitHashKey": hash_key} if hash_key else {})}
               for value in values]
    response = manual_kinesis.put_records(StreamName=stream, Records=entries)
    assert response["FailedRecordCount"] == 0
    return [entry["SequenceNumber"] for entry in response["Records"]]


def new_queue(manual_sqs: Any) -> tuple[str, str]:
    url = manual_sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = manual_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def received(manual_sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso_ms(epoch: float) -> str:
    from lambda_emu.emulator.platform.clock import iso8601

    return iso8601(epoch)


def arrivals(manual_kinesis: Any, stream: str, shard: str = "shardId-000000000000") -> dict[str, float]:
    """Sequence number → ApproximateArrivalTimestamp (epoch seconds), read back through GetRecords."""
    iterator = manual_kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = manual_kinesis.get_records(ShardIterator=iterator)["Records"]
    return {r["SequenceNumber"]: r["ApproximateArrivalTimestamp"].timestamp() for r in records}


def failure_record(request_id: str, function: str, condition: str, count: int, shard: str, first: str, last: str,
                   first_arrival: float, last_arrival: float, size: int, stream_arn: str, timestamp: str,
                   function_error: str | None = "Unhandled") -> dict[str, Any]:
    record: dict[str, Any] = {
        "requestContext": {"requestId": request_id, "functionArn": function_arn(function), "condition": condition,
                           "approximateInvokeCount": count},
    }
    if condition != "RecordAgeExceeded":
        record["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": function_error}
    record["version"] = "1.0"
    record["timestamp"] = timestamp
    record["KinesisBatchInfo"] = {
        "shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last,
        "approximateArrivalOfFirstRecord": iso_ms(first_arrival),
        "approximateArrivalOfLastRecord": iso_ms(last_arrival), "batchSize": size, "streamArn": stream_arn,
    }
    return record


def now(server: RunningServer) -> str:
    return server.emu_get("/_emu/clock")["now"]


SHARD0 = "shardId-000000000000"
SHARD1 = "shardId-000000000001"
SECOND_HALF = str(2**127)  # an ExplicitHashKey in the second of two shards


# ---- the event ----------------------------------------------------------------------------------


def test_event_has_aws_exact_record_shape_and_key_order(manual_server: RunningServer, manual_lam: Any,
                                                        manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    mapping(name, stream_arn, BatchSize=10)
    sequences = put(manual_kinesis, stream, ["hello", "world"], key="test_0")
    manual_server.advance(0)
    [call] = delivered(out)
    arrived = arrivals(manual_kinesis, stream)
    assert list(call["event"]) == ["Records"]
    assert call["event"]["Records"] == [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "test_0",
                "sequenceNumber": sequence,
                "data": base64.b64encode(value.encode()).decode(),
                "approximateArrivalTimestamp": pytest.approx(arrived[sequence], abs=0.0005),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{SHARD0}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": ROLE,
            "awsRegion": REGION,
            "eventSourceARN": stream_arn,
        }
        for sequence, value in zip(sequences, ["hello", "world"], strict=True)
    ]
    record = call["event"]["Records"][0]
    assert list(record) == ["kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
                            "awsRegion", "eventSourceARN"]
    assert list(record["kinesis"]) == ["kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data",
                                       "approximateArrivalTimestamp"]
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    [attempt] = manual_server.invocations(name)
    assert attempt["requestId"] == call["requestId"]
    assert (attempt["source"], attempt["outcome"], attempt["duplicate"]) == ("kinesis", "success", False)


def test_records_arrive_in_order_in_batches_with_a_fresh_request_id_each(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    values = [f"r{i}" for i in range(25)]
    put(manual_kinesis, stream, values)
    mapping(name, stream_arn, BatchSize=10)
    calls = delivered(out)
    assert [decoded(c["event"]) for c in calls] == [values[:10], values[10:20], values[20:]]
    assert len({c["requestId"] for c in calls}) == 3
    assert [a["requestId"] for a in manual_server.invocations(name)] == [c["requestId"] for c in calls]


def test_starting_position_latest_skips_earlier_records(manual_server: RunningServer, manual_lam: Any,
                                                        manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    put(manual_kinesis, stream, ["before"])
    mapping(name, stream_arn, StartingPosition="LATEST")
    put(manual_kinesis, stream, ["after"])
    manual_server.advance(0)
    assert [decoded(c["event"]) for c in delivered(out)] == [["after"]]


def test_starting_position_at_timestamp(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                       tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    put(manual_kinesis, stream, ["older"])
    manual_server.advance(10)
    since = iso(now(manual_server))
    put(manual_kinesis, stream, ["newer"])
    manual_server.advance(10)
    put(manual_kinesis, stream, ["newest"])
    mapping(name, stream_arn, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=since)
    assert [decoded(c["event"]) for c in delivered(out)] == [["newer", "newest"]]


def test_batching_window_waits_on_the_clock_until_full_or_over(manual_server: RunningServer, manual_lam: Any,
                                                                manual_kinesis: Any, tmp_path: Path,
                                                                mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    mapping(name, stream_arn, BatchSize=5, MaximumBatchingWindowInSeconds=10)
    put(manual_kinesis, stream, ["a", "b"])
    manual_server.advance(9.9)
    assert delivered(out) == []
    put(manual_kinesis, stream, ["c"])
    manual_server.advance(0.1)
    assert [decoded(c["event"]) for c in delivered(out)] == [["a", "b", "c"]]
    put(manual_kinesis, stream, ["d", "e", "f", "g", "h", "i"])  # a full batch goes at once
    manual_server.advance(0)
    assert [decoded(c["event"]) for c in delivered(out)][1:] == [["d", "e", "f", "g", "h"]]
    manual_server.advance(10)
    assert [decoded(c["event"]) for c in delivered(out)][2:] == [["i"]]


def test_a_batch_stays_within_six_megabytes(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                            tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    big = "x" * 900_000  # 1.2 MB base64: five records fit in a 6 MB event, six don't
    for start in range(0, 10, 4):
        put(manual_kinesis, stream, [f"{i}{big}" for i in range(start, min(start + 4, 10))])
    mapping(name, stream_arn, BatchSize=100, MaximumBatchingWindowInSeconds=1)
    manual_server.settle()
    calls = delivered(out)
    assert [[v[0] for v in decoded(c["event"])] for c in calls] == [list("01234"), list("56789")]


# ---- bisect -------------------------------------------------------------------------------------


def test_poison_record_with_bisect_isolates_the_record(manual_server: RunningServer, manual_lam: Any,
                                                       manual_kinesis: Any,
                                                       manual_sqs: Any, tmp_path: Path, mapping: Any) -> None:
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, POISON)
    stream, stream_arn = new_stream(manual_kinesis)
    values = [f"r{i}" for i in range(100)]
    values[37] = "poison"
    sequences = put(manual_kinesis, stream, values)
    mapping(name, stream_arn, BatchSize=100, MaximumBatchingWindowInSeconds=1, BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()
    calls = delivered(out)
    # 100 → 50+50; 50 → 25 (ok) + 25; 25 → 12 (ok) + 13; 13 → 6 + 7; 6 → 3 + 3; 3 → 1 + 2;
    # the single poison record: 1 invocation + 2 retries; then the halves still waiting: 2, 3, 7, 50.
    assert [len(c["event"]["Records"]) for c in calls] == [100, 50, 25, 25, 12, 13, 6, 3, 1, 1, 1, 2, 3, 7, 50]
    assert [decoded(c["event"])[0] for c in calls] == [
        "r0", "r0", "r0", "r25", "r25", "poison", "poison", "poison", "poison", "poison", "poison", "r38", "r40",
        "r43", "r50"]  # fmt: skip
    # Every good record was delivered successfully exactly once.
    succeeded = [v for c in calls if "poison" not in decoded(c["event"]) for v in decoded(c["event"])]
    assert sorted(succeeded) == sorted(v for v in values if v != "poison")
    # The poison record's retries back off 1 s then 2 s; bisected halves go at once.
    attempts = manual_server.invocations(name)
    starts = [iso(a["startTime"]) for a in attempts]
    assert [round((b - a).total_seconds(), 3) for a, b in zip(starts, starts[1:], strict=False)] == [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]  # fmt: skip
    [record] = received(manual_sqs, url)
    arrived = arrivals(manual_kinesis, stream)[sequences[37]]
    assert record == failure_record(calls[10]["requestId"], name, "RetryAttemptsExhausted", 3, SHARD0,
                                    sequences[37], sequences[37], arrived, arrived, 1, stream_arn,
                                    record["timestamp"])
    assert list(record) == ["requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"]
    assert record["timestamp"] == attempts[10]["endTime"]


def test_poison_record_without_bisect_blocks_its_shard_only(manual_server: RunningServer, manual_lam: Any,
                                                            manual_kinesis: Any, manual_sqs: Any, tmp_path: Path,
                                                            mapping: Any) -> None:
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, POISON)
    stream, stream_arn = new_stream(manual_kinesis, shards=2)
    mapping(name, stream_arn, BatchSize=10, MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    blocked = put(manual_kinesis, stream, ["a0", "poison", "a2"], hash_key="0")
    put(manual_kinesis, stream, ["b0", "b1"], hash_key=SECOND_HALF)
    manual_server.advance(0)
    put(manual_kinesis, stream, ["a3", "a4"], hash_key="0")  # behind the failing batch
    put(manual_kinesis, stream, ["b2"], hash_key=SECOND_HALF)
    manual_server.advance(0)

    def by_shard() -> tuple[list[list[str]], list[list[str]]]:
        calls = [c["event"]["Records"] for c in delivered(out)]
        first = [decoded({"Records": r}) for r in calls if r[0]["eventID"].startswith(SHARD0)]
        second = [decoded({"Records": r}) for r in calls if r[0]["eventID"].startswith(SHARD1)]
        return first, second

    assert by_shard() == ([["a0", "poison", "a2"]], [["b0", "b1"], ["b2"]])
    manual_server.advance(1)
    put(manual_kinesis, stream, ["b3"], hash_key=SECOND_HALF)
    manual_server.advance(0)
    assert by_shard() == ([["a0", "poison", "a2"]] * 2, [["b0", "b1"], ["b2"], ["b3"]])
    assert received(manual_sqs, url) == []
    manual_server.advance(2)
    assert by_shard() == ([["a0", "poison", "a2"]] * 3 + [["a3", "a4"]], [["b0", "b1"], ["b2"], ["b3"]])
    [record] = received(manual_sqs, url)
    failing = [c for c in delivered(out) if "poison" in decoded(c["event"])]
    arrived = arrivals(manual_kinesis, stream)
    assert record == failure_record(failing[-1]["requestId"], name, "RetryAttemptsExhausted", 3, SHARD0,
                                    blocked[0], blocked[-1], arrived[blocked[0]], arrived[blocked[-1]], 3,
                                    stream_arn, record["timestamp"])


def test_last_processing_result_reports_failure_then_ok(manual_server: RunningServer, manual_lam: Any,
                                                        manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, _ = new_function(manual_lam, tmp_path, POISON)
    stream, stream_arn = new_stream(manual_kinesis)
    uuid = mapping(name, stream_arn, MaximumRetryAttempts=0)["UUID"]
    assert manual_lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "No records processed"
    put(manual_kinesis, stream, ["poison"])
    manual_server.advance(0)
    assert manual_lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "PROBLEM: Function call failed"
    put(manual_kinesis, stream, ["fine"])
    manual_server.advance(0)
    assert manual_lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"


def test_throttles_back_off_without_consuming_retries(manual_server: RunningServer, manual_lam: Any,
                                                      manual_kinesis: Any,
                                                      tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    manual_lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    stream, stream_arn = new_stream(manual_kinesis)
    uuid = mapping(name, stream_arn, MaximumRetryAttempts=0)["UUID"]
    put(manual_kinesis, stream, ["patient"])
    manual_server.advance(0)
    manual_server.advance(1)
    manual_server.advance(2)
    assert [a["outcome"] for a in manual_server.invocations(name)] == ["throttled"] * 3
    assert manual_lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "PROBLEM: Function call failed"
    manual_lam.delete_function_concurrency(FunctionName=name)
    manual_server.advance(4)  # the next try, after 1, 2 and then 4 s
    attempts = manual_server.invocations(name)
    assert [(a["outcome"], a["source"]) for a in attempts] == [("throttled", "kinesis")] * 3 + [("success", "kinesis")]
    starts = [iso(a["startTime"]) for a in attempts]
    assert [round((b - a).total_seconds(), 3) for a, b in zip(starts, starts[1:], strict=False)] == [1, 2, 4]
    assert [decoded(c["event"]) for c in delivered(out)] == [["patient"]]


def test_s3_on_failure_destination_also_gets_the_records(manual_server: RunningServer, manual_lam: Any,
                                                         manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    """Recorded §3.4: an S3 destination's object is the record plus ``payload``, the invocation event."""
    import urllib.parse

    bucket = f"arn:aws:s3:::{unique('bucket')}"
    name, out = new_function(manual_lam, tmp_path, ALWAYS_FAILS)
    stream, stream_arn = new_stream(manual_kinesis)
    mapping(name, stream_arn, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": bucket}})
    [sequence] = put(manual_kinesis, stream, ["lost"])
    manual_server.advance(0)
    [delivery] = manual_server.emu_get("/_emu/deliveries?target=" + urllib.parse.quote(bucket))["deliveries"]
    body = delivery["body"]
    assert body["payload"] == delivered(out)[0]["event"]
    assert body["KinesisBatchInfo"]["startSequenceNumber"] == sequence
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"


# ---- record age ---------------------------------------------------------------------------------


def test_record_age_exceeded_while_retrying(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                            manual_sqs: Any,
                                            tmp_path: Path, mapping: Any) -> None:
    """Recorded §3.5: retries -1, MaximumRecordAgeInSeconds 60 → 8 invocations, then RecordAgeExceeded."""
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, ALWAYS_FAILS)
    stream, stream_arn = new_stream(manual_kinesis)
    mapping(name, stream_arn, BatchSize=1, MaximumRecordAgeInSeconds=60,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [sequence] = put(manual_kinesis, stream, ["old"])
    manual_server.settle()
    attempts = manual_server.invocations(name)
    assert len(attempts) == 8
    starts = [iso(a["startTime"]) for a in attempts]
    assert [round((s - starts[0]).total_seconds(), 3) for s in starts] == [0, 1, 3, 7, 15, 27, 39, 51]
    [record] = received(manual_sqs, url)
    arrived = arrivals(manual_kinesis, stream)[sequence]
    assert record == failure_record(delivered(out)[-1]["requestId"], name, "RecordAgeExceeded", 8, SHARD0, sequence,
                                    sequence, arrived, arrived, 1, stream_arn, record["timestamp"])
    assert "responseContext" not in record
    assert (iso(record["timestamp"]) - starts[0]).total_seconds() == pytest.approx(63, abs=0.002)


def test_record_age_exceeded_before_the_first_invoke(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                                     manual_sqs: Any, tmp_path: Path, mapping: Any) -> None:
    """Recorded §3.6: a record already older than MaximumRecordAgeInSeconds → never invoked, count 1."""
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    [old] = put(manual_kinesis, stream, ["old"])
    manual_server.advance(61)
    [fresh] = put(manual_kinesis, stream, ["fresh"])
    mapping(name, stream_arn, MaximumRetryAttempts=0, MaximumRecordAgeInSeconds=60,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    assert [decoded(c["event"]) for c in delivered(out)] == [["fresh"]]
    [record] = received(manual_sqs, url)
    arrived = arrivals(manual_kinesis, stream)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["KinesisBatchInfo"] == {
        "shardId": SHARD0, "startSequenceNumber": old, "endSequenceNumber": old,
        "approximateArrivalOfFirstRecord": iso_ms(arrived[old]), "approximateArrivalOfLastRecord": iso_ms(arrived[old]),
        "batchSize": 1, "streamArn": stream_arn}  # fmt: skip
    assert list(record) == ["requestContext", "version", "timestamp", "KinesisBatchInfo"]
    assert fresh != old


# ---- ReportBatchItemFailures --------------------------------------------------------------------


def test_partial_response_checkpoints_at_the_lowest_failed_record(manual_server: RunningServer, manual_lam: Any,
                                                                  manual_kinesis: Any, manual_sqs: Any, tmp_path: Path,
                                                                  mapping: Any) -> None:
    """Recorded §3.7: BatchSize 3, retries 3, 6 records, #6 always failed → only #6 reaches the destination,
    functionError null, approximateInvokeCount 4."""
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, PARTIAL)
    stream, stream_arn = new_stream(manual_kinesis)
    sequences = put(manual_kinesis, stream, ["r1", "r2", "r3", "r4", "r5", "fail6"])
    mapping(name, stream_arn, BatchSize=3, MaximumRetryAttempts=3, FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()
    calls = delivered(out)
    assert [decoded(c["event"]) for c in calls] == [["r1", "r2", "r3"], ["r4", "r5", "fail6"], ["fail6"],
                                                    ["fail6"], ["fail6"]]
    [record] = received(manual_sqs, url)
    arrived = arrivals(manual_kinesis, stream)[sequences[5]]
    assert record == failure_record(calls[-1]["requestId"], name, "RetryAttemptsExhausted", 4, SHARD0, sequences[5],
                                    sequences[5], arrived, arrived, 1, stream_arn, record["timestamp"],
                                    function_error=None)


def test_partial_response_retries_every_record_from_the_lowest_failure(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, PARTIAL)
    stream, stream_arn = new_stream(manual_kinesis)
    put(manual_kinesis, stream, ["r1", "fail2", "r3", "fail4", "r5"])
    mapping(name, stream_arn, BatchSize=10, MaximumRetryAttempts=1, FunctionResponseTypes=["ReportBatchItemFailures"])
    manual_server.settle()
    assert [decoded(c["event"]) for c in delivered(out)] == [["r1", "fail2", "r3", "fail4", "r5"],
                                                            ["fail2", "r3", "fail4", "r5"]]


@pytest.mark.parametrize("answer", [None, "", [], {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_partial_response_success_shapes(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                         tmp_path: Path, mapping: Any, answer: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, ANSWERS)
    stream, stream_arn = new_stream(manual_kinesis)
    put(manual_kinesis, stream, [json.dumps(answer)])
    mapping(name, stream_arn, MaximumRetryAttempts=2, FunctionResponseTypes=["ReportBatchItemFailures"])
    manual_server.settle()
    assert len(delivered(out)) == 1


@pytest.mark.parametrize("item", [{"itemIdentifier": 123}, {"itemIdentifier": ""}, {"itemIdentifier": None},
                                  {"foo": 123}, {"foo": None}])  # fmt: skip
def test_invalid_item_identifier_fails_the_whole_batch(manual_server: RunningServer, manual_lam: Any,
                                                       manual_kinesis: Any,
                                                       manual_sqs: Any, tmp_path: Path, mapping: Any,
                                                       item: Any) -> None:
    """Recorded §3.8: retries 2 → 3 invocations of the whole batch, functionError null."""
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, ANSWERS)
    stream, stream_arn = new_stream(manual_kinesis)
    [sequence] = put(manual_kinesis, stream, [json.dumps({"batchItemFailures": [item]})])
    mapping(name, stream_arn, MaximumRetryAttempts=2, FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()
    calls = delivered(out)
    assert len(calls) == 3
    [record] = received(manual_sqs, url)
    arrived = arrivals(manual_kinesis, stream)[sequence]
    assert record == failure_record(calls[-1]["requestId"], name, "RetryAttemptsExhausted", 3, SHARD0, sequence,
                                    sequence, arrived, arrived, 1, stream_arn, record["timestamp"],
                                    function_error=None)


def test_exception_with_report_batch_item_failures_is_unhandled(manual_server: RunningServer, manual_lam: Any,
                                                                manual_kinesis: Any, manual_sqs: Any, tmp_path: Path,
                                                                mapping: Any) -> None:
    """Recorded §3.9."""
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, ANSWERS)
    stream, stream_arn = new_stream(manual_kinesis)
    [sequence] = put(manual_kinesis, stream, [json.dumps("raise")])
    mapping(name, stream_arn, MaximumRetryAttempts=2, FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()
    assert len(delivered(out)) == 3
    assert [a["outcome"] for a in manual_server.invocations(name)] == ["error"] * 3
    [record] = received(manual_sqs, url)
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == sequence


def test_powertools_batch_processor_partial_failures(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                                     manual_sqs: Any, tmp_path: Path, mapping: Any) -> None:
    url, queue_arn = new_queue(manual_sqs)
    # Powertools ships as users ship it to Lambda: a layer (the sandbox has only what Lambda gives).
    name, out = new_function(manual_lam, tmp_path, POWERTOOLS, Timeout=30, Layers=[powertools_layer(manual_lam)])
    stream, stream_arn = new_stream(manual_kinesis)
    sequences = put(manual_kinesis, stream, ["ok0", "ok1", "bad", "ok3", "ok4"])
    mapping(name, stream_arn, BatchSize=10, MaximumRetryAttempts=1, FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()
    # Checkpointed after ok1; from "bad" on everything is retried, then given up.
    assert [decoded(c["event"]) for c in delivered(out)] == [["ok0", "ok1", "bad", "ok3", "ok4"],
                                                            ["bad", "ok3", "ok4"]]
    attempts = manual_server.invocations(name)
    assert [a["outcome"] for a in attempts] == ["partialFailure", "partialFailure"]
    assert attempts[0]["failedItemIds"] == sequences[2:]
    [record] = received(manual_sqs, url)
    assert record["responseContext"]["functionError"] is None
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (sequences[2],
                                                                                          sequences[4], 3)
    put(manual_kinesis, stream, ["ok5"])
    manual_server.settle()
    assert decoded(delivered(out)[-1]["event"]) == ["ok5"]


def test_bisect_with_partial_response_splits_at_the_returned_sequence_number(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, manual_sqs: Any, tmp_path: Path,
        mapping: Any) -> None:
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, PARTIAL)
    stream, stream_arn = new_stream(manual_kinesis)
    sequences = put(manual_kinesis, stream, ["r0", "r1", "r2", "fail3", "r4", "r5", "r6", "r7"])
    mapping(name, stream_arn, BatchSize=10, MaximumRetryAttempts=0, BisectBatchOnFunctionError=True,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()
    # Split at fail3 (no retry used), then halves of [fail3..r7]: [fail3, r4] → [fail3] → given up, [r4]; [r5..r7].
    assert [decoded(c["event"]) for c in delivered(out)] == [
        ["r0", "r1", "r2", "fail3", "r4", "r5", "r6", "r7"], ["fail3", "r4", "r5", "r6", "r7"], ["fail3", "r4"],
        ["fail3"], ["r4"], ["r5", "r6", "r7"]]  # fmt: skip
    [record] = received(manual_sqs, url)
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (sequences[3],
                                                                                          sequences[3], 1)
    assert record["requestContext"]["approximateInvokeCount"] == 1


# ---- ParallelizationFactor ---------------------------------------------------------------------


def test_parallelization_factor_runs_batches_concurrently_in_key_order(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, SLOW, Timeout=10)
    stream, stream_arn = new_stream(manual_kinesis)
    keys = [f"key-{i}" for i in range(8)]
    entries = [{"Data": f"{key}:{n}".encode(), "PartitionKey": key} for n in range(4) for key in keys]
    manual_kinesis.put_records(StreamName=stream, Records=entries)
    mapping(name, stream_arn, BatchSize=3, ParallelizationFactor=4)
    manual_server.settle()
    calls = delivered(out)
    seen = [value for call in calls for value in decoded(call["event"])]
    assert sorted(seen) == sorted(f"{key}:{n}" for n in range(4) for key in keys)  # each exactly once
    for key in keys:
        assert [v for v in seen if v.startswith(key + ":")] == [f"{key}:{n}" for n in range(4)]
    # Several environments ran at once: batches of one shard overlapped.
    assert len({call["pid"] for call in calls}) > 1
    starts = sorted(call["start"] for call in calls)
    assert any(b - a < 0.25 for a, b in zip(starts, starts[1:], strict=False))


def test_parallelization_factor_one_is_sequential(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                                  tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, SLOW, Timeout=10)
    stream, stream_arn = new_stream(manual_kinesis)
    put(manual_kinesis, stream, [f"v{i}" for i in range(6)], key="a")
    put(manual_kinesis, stream, [f"w{i}" for i in range(6)], key="b")
    mapping(name, stream_arn, BatchSize=4)
    manual_server.settle()
    calls = delivered(out)
    assert [decoded(c["event"]) for c in calls] == [["v0", "v1", "v2", "v3"], ["v4", "v5", "w0", "w1"],
                                                    ["w2", "w3", "w4", "w5"]]
    assert len({call["pid"] for call in calls}) == 1


# ---- tumbling windows ---------------------------------------------------------------------------


def test_tumbling_window_carries_state_and_ends_with_a_final_invoke(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, WINDOWED)
    stream, stream_arn = new_stream(manual_kinesis)
    mapping(name, stream_arn, BatchSize=10, TumblingWindowInSeconds=60)
    # Start just after a window boundary so the whole test stays in one window.
    clock = iso(now(manual_server)).timestamp()
    manual_server.advance(60 - clock % 60 + 1)
    first, _ = put(manual_kinesis, stream, ["a", "b"])
    manual_server.advance(0)
    manual_server.advance(10)
    put(manual_kinesis, stream, ["c"])
    manual_server.advance(0)
    calls = [c["event"] for c in delivered(out)]
    start = arrivals(manual_kinesis, stream)[first] // 60 * 60
    window = {"start": datetime.fromtimestamp(start, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "end": datetime.fromtimestamp(start + 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert len(calls) == 2
    assert list(calls[0]) == ["Records", "window", "state", "shardId", "eventSourceARN", "isFinalInvokeForWindow",
                              "isWindowTerminatedEarly"]
    assert {k: v for k, v in calls[0].items() if k != "Records"} == {
        "window": window, "state": {}, "shardId": SHARD0, "eventSourceARN": stream_arn,
        "isFinalInvokeForWindow": False, "isWindowTerminatedEarly": False}  # fmt: skip
    assert decoded(calls[0]) == ["a", "b"]
    assert calls[1]["state"] == {"count": 2, "seen": ["a", "b"]}
    assert decoded(calls[1]) == ["c"]
    manual_server.advance(60)  # past the window's end: the final invoke, then nothing until new records
    calls = [c["event"] for c in delivered(out)]
    assert len(calls) == 3
    assert calls[2]["Records"] == []
    assert calls[2]["isFinalInvokeForWindow"] is True
    assert calls[2]["state"] == {"count": 3, "seen": ["a", "b", "c"]}
    assert calls[2]["window"] == window
    put(manual_kinesis, stream, ["d"])
    manual_server.advance(0)
    calls = [c["event"] for c in delivered(out)]
    assert calls[3]["state"] == {} and decoded(calls[3]) == ["d"] and calls[3]["window"] != window


def test_tumbling_window_response_without_state_fails(manual_server: RunningServer, manual_lam: Any,
                                                      manual_kinesis: Any,
                                                      manual_sqs: Any, tmp_path: Path, mapping: Any) -> None:
    url, queue_arn = new_queue(manual_sqs)
    name, out = new_function(manual_lam, tmp_path, NO_STATE)
    stream, stream_arn = new_stream(manual_kinesis)
    mapping(name, stream_arn, TumblingWindowInSeconds=30, MaximumRetryAttempts=1,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    put(manual_kinesis, stream, ["x"])
    manual_server.advance(0)
    manual_server.advance(1)
    assert len(delivered(out)) == 2
    [record] = received(manual_sqs, url)
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] is None


# ---- duplicates, disable, delete ----------------------------------------------------------------


def test_duplicate_injection_redelivers_a_batch(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                                tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    manual_server.emu_post("/_emu/faults", {"functionName": name, "duplicateRate": 1.0})
    stream, stream_arn = new_stream(manual_kinesis)
    mapping(name, stream_arn)
    put(manual_kinesis, stream, ["once", "twice"])
    manual_server.advance(0)
    calls = delivered(out)
    assert [decoded(c["event"]) for c in calls] == [["once", "twice"], ["once", "twice"]]
    assert calls[0]["event"] == calls[1]["event"]
    attempts = manual_server.invocations(name)
    assert [(a["source"], a["duplicate"], a["outcome"]) for a in attempts] == [("kinesis", False, "success"),
                                                                              ("kinesis", True, "success")]
    assert attempts[0]["requestId"] != attempts[1]["requestId"]


def test_disabled_mapping_does_not_poll_and_resumes_from_its_checkpoint(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    uuid = mapping(name, stream_arn)["UUID"]
    put(manual_kinesis, stream, ["one"])
    manual_server.advance(0)
    manual_lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    manual_server.advance(0)
    assert manual_lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    put(manual_kinesis, stream, ["two"])
    manual_server.settle()
    assert [decoded(c["event"]) for c in delivered(out)] == [["one"]]
    manual_lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    manual_server.advance(0)
    assert manual_lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert [decoded(c["event"]) for c in delivered(out)] == [["one"], ["two"]]


def test_deleting_a_mapping_cancels_its_retries(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                                tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, ALWAYS_FAILS)
    stream, stream_arn = new_stream(manual_kinesis)
    uuid = mapping(name, stream_arn)["UUID"]  # retries -1, age -1: would retry for the stream's retention
    put(manual_kinesis, stream, ["x"])
    manual_server.advance(0)
    manual_server.advance(1)
    assert len(delivered(out)) == 2
    manual_lam.delete_event_source_mapping(UUID=uuid)
    manual_server.settle(3600)
    assert len(delivered(out)) == 2
    put(manual_kinesis, stream, ["y"])
    manual_server.settle(3600)
    assert len(delivered(out)) == 2


def test_update_takes_effect_for_the_next_batch(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                                tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    uuid = mapping(name, stream_arn, BatchSize=2)["UUID"]
    manual_lam.update_event_source_mapping(UUID=uuid, BatchSize=3, ParallelizationFactor=2)
    manual_server.advance(0)
    put(manual_kinesis, stream, ["a", "b", "c", "d"])
    manual_server.settle()
    assert [decoded(c["event"]) for c in delivered(out)] == [["a", "b", "c"], ["d"]]


# ---- the ESM API for streams ----------------------------------------------------------------------


def test_create_response_for_a_kinesis_mapping(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any,
                                               manual_sqs: Any, tmp_path: Path, mapping: Any) -> None:
    """Recorded §3.1."""
    _, queue_arn = new_queue(manual_sqs)
    name, _ = new_function(manual_lam, tmp_path, OK_HANDLER)
    _, stream_arn = new_stream(manual_kinesis)
    response = mapping(name, stream_arn, BatchSize=1, MaximumBatchingWindowInSeconds=1, MaximumRetryAttempts=1,
                       DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    uuid = body["UUID"]
    assert isinstance(body.pop("LastModified"), datetime)
    assert body == {
        "BatchSize": 1, "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
        "EventSourceArn": stream_arn,
        "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}",
        "FunctionArn": function_arn(name), "FunctionResponseTypes": [], "LastProcessingResult": "No records processed",
        "MaximumBatchingWindowInSeconds": 1, "MaximumRecordAgeInSeconds": -1, "MaximumRetryAttempts": 1,
        "ParallelizationFactor": 1, "StartingPosition": "TRIM_HORIZON", "State": "Creating",
        "StateTransitionReason": "User action", "TumblingWindowInSeconds": 0, "UUID": uuid,
    }  # fmt: skip
    got = manual_lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled"
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}


def test_create_defaults_for_a_kinesis_mapping(manual_lam: Any, manual_kinesis: Any, tmp_path: Path,
                                               mapping: Any) -> None:
    name, _ = new_function(manual_lam, tmp_path, OK_HANDLER)
    _, stream_arn = new_stream(manual_kinesis)
    response = mapping(name, stream_arn, StartingPosition="LATEST")
    assert {k: response[k] for k in ("BatchSize", "MaximumBatchingWindowInSeconds", "DestinationConfig",
                                     "MaximumRecordAgeInSeconds", "MaximumRetryAttempts", "ParallelizationFactor",
                                     "BisectBatchOnFunctionError", "TumblingWindowInSeconds",
                                     "FunctionResponseTypes", "StartingPosition")} == {
        "BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "DestinationConfig": {"OnFailure": {}},
        "MaximumRecordAgeInSeconds": -1, "MaximumRetryAttempts": -1, "ParallelizationFactor": 1,
        "BisectBatchOnFunctionError": False, "TumblingWindowInSeconds": 0, "FunctionResponseTypes": [],
        "StartingPosition": "LATEST"}  # fmt: skip


def test_bad_input_for_a_kinesis_mapping(manual_lam: Any, manual_kinesis: Any, manual_sqs: Any, tmp_path: Path) -> None:
    name, _ = new_function(manual_lam, tmp_path, OK_HANDLER)
    _, stream_arn = new_stream(manual_kinesis)
    _, queue_arn = new_queue(manual_sqs)

    def refused(**params: Any) -> tuple[int, str, str]:
        with pytest.raises(ClientError) as excinfo:
            manual_lam.create_event_source_mapping(FunctionName=name, **params)
        error = excinfo.value.response
        return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]

    assert refused(EventSourceArn=stream_arn) == (
        400, "InvalidParameterValueException",
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
        "Member must not be null.")  # fmt: skip
    assert refused(EventSourceArn=stream_arn, StartingPosition="LATEST",
                   DestinationConfig={"OnSuccess": {"Destination": queue_arn}}) == (
        400, "InvalidParameterValueException",
        "Unsupported DestinationConfig parameter for given event source mapping type.")  # fmt: skip
    status, code, message = refused(EventSourceArn=stream_arn, StartingPosition="LATEST", MaximumRecordAgeInSeconds=30)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "MaximumRecordAgeInSeconds" in message
    missing = stream_arn + "-missing"
    assert refused(EventSourceArn=missing, StartingPosition="LATEST") == (
        400, "InvalidParameterValueException", f"Stream not found: {missing}")
    assert manual_lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []


def refused(lam: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(**params)
    error = excinfo.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_stream_mapping_conflict_and_validation_order(manual_lam: Any, manual_kinesis: Any) -> None:
    stream = unique("s")
    manual_kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = manual_kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    name = create_python_function(manual_lam, "def handler(event, context):\n    return None\n")
    missing_position = (400, "InvalidParameterValueException",
                        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                        "Member must not be null.")
    assert refused(manual_lam, FunctionName=name, EventSourceArn=stream_arn) == missing_position
    existing = manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn,
                                                      StartingPosition="LATEST")["UUID"]
    try:
        # The request is validated before it is compared with existing mappings.
        assert refused(manual_lam, FunctionName=name, EventSourceArn=stream_arn) == missing_position
        assert refused(manual_lam, FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST") == (
            409, "ResourceConflictException",
            f'The event source arn (" {stream_arn} ") and function (" {name} ") provided mapping already exists. '
            f"Please update or delete the existing mapping with UUID {existing}")
    finally:
        manual_lam.delete_event_source_mapping(UUID=existing)
