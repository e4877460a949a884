"""DynamoDB Streams end to end on the manual clock: the Streams API's records for every view type, the
stream event source mapping (the Kinesis driver with DynamoDB's records: bisection, the on-failure
record with DDBStreamBatchInfo, FilterCriteria on ``dynamodb``), and TTL deletions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, REGION, RunningServer, delivered, function_arn, new_function, unique

PRELUDE = """
import json, os

def log(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\\n")

def ids(event):
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
"""

OK_HANDLER = PRELUDE + """
def handler(event, context):
    log(event, context)
"""

POISON = PRELUDE + """
def handler(event, context):
    log(event, context)
    if "poison" in ids(event):
        raise Exception("poison record")
"""


@pytest.fixture(scope="module")
def ddb(manual_server: RunningServer) -> Any:
    return manual_server.client("dynamodb")


@pytest.fixture(scope="module")
def streams(manual_server: RunningServer) -> Any:
    return manual_server.client("dynamodbstreams")

def new_table(ddb: Any, view_type: str | None = "NEW_AND_OLD_IMAGES") -> tuple[str, str | None]:
    name = unique("table")
    extra: dict[str, Any] = {}
    if view_type is not None:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
    table = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST", **extra)["TableDescription"]
    return name, table.get("LatestStreamArn")


def read_all(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return list(streams.get_records(ShardIterator=iterator)["Records"])


def clock_now(server: RunningServer) -> float:
    return datetime.fromisoformat(server.emu_get("/_emu/clock")["now"].replace("Z", "+00:00")).timestamp()


# ---- the Streams API -----------------------------------------------------------------------------


def test_stream_arn_and_description(manual_server: RunningServer, ddb: Any, streams: Any) -> None:
    name, stream_arn = new_table(ddb, "NEW_IMAGE")
    assert stream_arn is not None
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    label = stream_arn.rsplit("/", 1)[1]
    assert stream_arn == f"{table_arn}/stream/{label}"
    created = datetime.fromtimestamp(clock_now(manual_server), tz=UTC)
    assert label == created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["LatestStreamLabel"] == label
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    listed = streams.list_streams(TableName=name)["Streams"]
    assert listed == [{"StreamArn": stream_arn, "TableName": name, "StreamLabel": label}]
    description = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    assert description["StreamViewType"] == "NEW_IMAGE"
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    [shard] = description["Shards"]
    assert shard["ShardId"].startswith("shardId-") and len(shard["ShardId"]) == 37
    assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]

    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    description = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in description["Shards"][0]["SequenceNumberRange"]
    with pytest.raises(ClientError) as excinfo:
        streams.describe_stream(StreamArn=stream_arn + "x")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_records_in_write_order_and_no_record_for_a_write_that_changes_nothing(
        manual_server: RunningServer, ddb: Any, streams: Any) -> None:
    name, stream_arn = new_table(ddb)
    assert stream_arn is not None
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}, "b": {"B": b"\x00\x01"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}, "b": {"B": b"\x00\x01"}})  # no change
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})  # no change
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}})  # nothing to delete
    # A cancelled transaction writes nothing, so it leaves no record either.
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "t"}}}},
            {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "missing"}},
                                "ConditionExpression": "attribute_exists(pk)"}}])
    # An UpdateItem that creates an item is one INSERT with the whole new item.
    ddb.update_item(TableName=name, Key={"pk": {"S": "u"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "7"}})
    records = read_all(streams, stream_arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE", "INSERT"]
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert sequences == sorted(sequences, key=int) and len(set(sequences)) == 4
    assert all(21 <= len(s) <= 40 for s in sequences)
    first = records[0]
    assert list(first) == ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb"]
    assert first["eventVersion"] == "1.1" and first["eventSource"] == "aws:dynamodb"
    assert first["awsRegion"] == REGION
    dynamodb = first["dynamodb"]
    assert list(dynamodb) == ["ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber", "SizeBytes",
                              "StreamViewType"]
    assert dynamodb["Keys"] == {"pk": {"S": "a"}}
    assert dynamodb["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}, "b": {"B": b"\x00\x01"}}
    # SizeBytes: the keys plus the image, sized as DynamoDB sizes items (names + values).
    assert dynamodb["SizeBytes"] == (2 + 1) + (2 + 1) + (1 + 2) + (1 + 2)
    assert dynamodb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert "NewImage" not in records[2]["dynamodb"] and records[2]["dynamodb"]["OldImage"]["v"] == {"N": "2"}
    assert records[3]["dynamodb"]["NewImage"] == {"pk": {"S": "u"}, "v": {"N": "7"}}

    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    after = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                       SequenceNumber=sequences[1])["ShardIterator"]
    assert [r["eventName"] for r in streams.get_records(ShardIterator=after)["Records"]] == ["REMOVE", "INSERT"]
    at = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    SequenceNumber=sequences[1])["ShardIterator"]
    assert len(streams.get_records(ShardIterator=at)["Records"]) == 3
    latest = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    page = streams.get_records(ShardIterator=latest)
    assert page["Records"] == [] and "NextShardIterator" in page


@pytest.mark.parametrize(("view_type", "images"), [
    ("KEYS_ONLY", [set(), set()]),
    ("NEW_IMAGE", [{"NewImage"}, {"NewImage"}]),
    ("OLD_IMAGE", [set(), {"OldImage"}]),
    ("NEW_AND_OLD_IMAGES", [{"NewImage"}, {"NewImage", "OldImage"}]),
])
def test_every_view_type(ddb: Any, streams: Any, view_type: str, images: list[set[str]]) -> None:
    name, stream_arn = new_table(ddb, view_type)
    assert stream_arn is not None
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "v": {"S": "one"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "v": {"S": "two"}})
    records = read_all(streams, stream_arn)
    assert [set(r["dynamodb"]) & {"NewImage", "OldImage"} for r in records] == images
    assert all(r["dynamodb"]["StreamViewType"] == view_type for r in records)
    assert all(r["dynamodb"]["Keys"] == {"pk": {"S": "k"}} for r in records)


# ---- TTL -----------------------------------------------------------------------------------------


def test_ttl_deletes_on_the_clock_with_remove_records_by_the_ttl_service(
        manual_server: RunningServer, ddb: Any, streams: Any) -> None:
    name, stream_arn = new_table(ddb, "OLD_IMAGE")
    assert stream_arn is not None
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    now = clock_now(manual_server)
    ddb.put_item(TableName=name, Item={"pk": {"S": "soon"}, "expires": {"N": str(int(now) + 60)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "later"}, "expires": {"N": str(int(now) + 3600)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "never"}, "expires": {"S": "not a number"}})
    manual_server.advance(59)
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "soon"}})
    manual_server.advance(2)
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "soon"}})
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "later"}})
    manual_server.advance(3600)
    assert sorted(i["pk"]["S"] for i in ddb.scan(TableName=name)["Items"]) == ["never"]
    removes = [r for r in read_all(streams, stream_arn) if r["eventName"] == "REMOVE"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in removes] == ["soon", "later"]
    assert all(r["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"} for r in removes)
    assert removes[0]["dynamodb"]["OldImage"]["pk"] == {"S": "soon"}
    # A delete by a client carries no userIdentity.
    ddb.put_item(TableName=name, Item={"pk": {"S": "never"}, "expires": {"S": "still not a number"}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "never"}})
    assert "userIdentity" not in read_all(streams, stream_arn)[-1]


# ---- the event source mapping --------------------------------------------------------------------


def new_queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_event_shape_as_lambda_delivers_it(manual_server: RunningServer, manual_lam: Any, ddb: Any, streams: Any,
                                           tmp_path: Path, mapping: Any) -> None:
    name, stream_arn = new_table(ddb, "NEW_IMAGE")
    assert stream_arn is not None
    function, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    response = mapping(function, stream_arn, BatchSize=10)
    assert response["EventSourceArn"] == stream_arn and response["StartingPosition"] == "TRIM_HORIZON"
    assert response["BisectBatchOnFunctionError"] is False and response["MaximumRetryAttempts"] == -1
    ddb.put_item(TableName=name, Item={"pk": {"S": "hello world"}, "binary_key": {"B": b"foobar"}})
    manual_server.settle()
    [call] = delivered(out)
    [record] = call["event"]["Records"]
    [from_api] = read_all(streams, stream_arn)
    assert list(record) == ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb",
                            "eventSourceARN"]
    assert record["eventID"] == from_api["eventID"] and len(record["eventID"]) == 32
    assert record["eventName"] == "INSERT" and record["eventVersion"] == "1.1"
    assert record["eventSource"] == "aws:dynamodb" and record["awsRegion"] == REGION
    assert record["eventSourceARN"] == stream_arn
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)  # a JSON float, as AWS writes it
    assert record["dynamodb"] == {
        "ApproximateCreationDateTime": int(from_api["dynamodb"]["ApproximateCreationDateTime"].timestamp()),
        "Keys": {"pk": {"S": "hello world"}},
        "NewImage": {"pk": {"S": "hello world"}, "binary_key": {"B": "Zm9vYmFy"}},
        "SequenceNumber": from_api["dynamodb"]["SequenceNumber"],
        "SizeBytes": 2 + 11 + (2 + 11) + (10 + 6),
        "StreamViewType": "NEW_IMAGE",
    }
    [attempt] = manual_server.invocations(function)
    assert attempt["source"] == "dynamodb"


def test_poison_record_bisected_with_the_dynamodb_on_failure_record(
        manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, ddb: Any, streams: Any, tmp_path: Path,
        mapping: Any) -> None:
    url, queue_arn = new_queue(manual_sqs)
    function, out = new_function(manual_lam, tmp_path, POISON)
    name, stream_arn = new_table(ddb, "KEYS_ONLY")
    assert stream_arn is not None
    keys = [f"r{i:02d}" for i in range(100)]
    keys[37] = "poison"
    for key in keys:
        ddb.put_item(TableName=name, Item={"pk": {"S": key}})
    mapping(function, stream_arn, BatchSize=100, MaximumBatchingWindowInSeconds=1, BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()
    calls = delivered(out)

    def ids(event: dict[str, Any]) -> list[str]:
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]

    # Exactly the Kinesis test's bisection: 100 → 50+50; 50 → 25 (ok) + 25; ... the poison record alone:
    # 1 invocation + 2 retries; then the halves still waiting: 2, 3, 7, 50.
    assert [len(c["event"]["Records"]) for c in calls] == [100, 50, 25, 25, 12, 13, 6, 3, 1, 1, 1, 2, 3, 7, 50]
    assert [ids(c["event"])[0] for c in calls] == [
        "r00", "r00", "r00", "r25", "r25", "poison", "poison", "poison", "poison", "poison", "poison", "r38", "r40",
        "r43", "r50"]  # fmt: skip
    succeeded = [k for c in calls if "poison" not in ids(c["event"]) for k in ids(c["event"])]
    assert sorted(succeeded) == sorted(k for k in keys if k != "poison")
    messages = manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    [record] = [json.loads(m["Body"]) for m in messages]
    poison = next(r for r in read_all(streams, stream_arn) if r["dynamodb"]["Keys"]["pk"]["S"] == "poison")
    sequence = poison["dynamodb"]["SequenceNumber"]
    arrival = poison["dynamodb"]["ApproximateCreationDateTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    attempts = manual_server.invocations(function)
    assert record == {
        "requestContext": {"requestId": calls[10]["requestId"], "functionArn": function_arn(function),
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": attempts[10]["endTime"],
        "DDBStreamBatchInfo": {"shardId": shard, "startSequenceNumber": sequence, "endSequenceNumber": sequence,
                               "approximateArrivalOfFirstRecord": arrival,
                               "approximateArrivalOfLastRecord": arrival, "batchSize": 1, "streamArn": stream_arn},
    }
    assert list(record) == ["requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"]
    assert {a["source"] for a in attempts} == {"dynamodb"}


def test_filter_criteria_on_dynamodb_fields(manual_server: RunningServer, manual_lam: Any, ddb: Any,
                                            tmp_path: Path, mapping: Any) -> None:
    function, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    name, stream_arn = new_table(ddb, "NEW_AND_OLD_IMAGES")
    assert stream_arn is not None
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"colour": {"S": ["red"]}}}}
    mapping(function, stream_arn, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "colour": {"S": "red"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "colour": {"S": "blue"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "colour": {"S": "red"}})  # a MODIFY: filtered out
    ddb.put_item(TableName=name, Item={"pk": {"S": "c"}, "colour": {"S": "red"}})
    manual_server.settle()
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for c in delivered(out) for r in c["event"]["Records"]]
    assert keys == ["a", "c"]


def test_mapping_refuses_at_timestamp_and_unknown_streams(manual_lam: Any, ddb: Any, tmp_path: Path) -> None:
    function, _ = new_function(manual_lam, tmp_path, OK_HANDLER)
    _, stream_arn = new_table(ddb)
    assert stream_arn is not None
    with pytest.raises(ClientError) as excinfo:
        manual_lam.create_event_source_mapping(FunctionName=function, EventSourceArn=stream_arn,
                                               StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=0)
    assert excinfo.value.response["Error"]["Message"] == f"Unsupported starting position for arn type: {stream_arn}"
    with pytest.raises(ClientError) as excinfo:
        manual_lam.create_event_source_mapping(FunctionName=function, EventSourceArn=stream_arn + "0",
                                               StartingPosition="LATEST")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


PARTIAL = PRELUDE + """
def handler(event, context):
    log(event, context)
    failed = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]
              if r["dynamodb"]["Keys"]["pk"]["S"].startswith("fail")]
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
"""


def test_report_batch_item_failures_by_sequence_number(manual_server: RunningServer, manual_lam: Any,
                                                       manual_sqs: Any, ddb: Any, streams: Any, tmp_path: Path,
                                                       mapping: Any) -> None:
    url, queue_arn = new_queue(manual_sqs)
    function, out = new_function(manual_lam, tmp_path, PARTIAL)
    name, stream_arn = new_table(ddb, "KEYS_ONLY")
    assert stream_arn is not None
    for key in ("ok-1", "ok-2", "fail-3", "ok-4"):
        ddb.put_item(TableName=name, Item={"pk": {"S": key}})
    mapping(function, stream_arn, BatchSize=10, MaximumRetryAttempts=1,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    manual_server.settle()

    def ids(event: dict[str, Any]) -> list[str]:
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]

    # The batch, then the retry from the reported record on; then the record goes to the destination.
    assert [ids(c["event"]) for c in delivered(out)] == [["ok-1", "ok-2", "fail-3", "ok-4"], ["fail-3", "ok-4"]]
    messages = manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    [record] = [json.loads(m["Body"]) for m in messages]
    failed = next(r for r in read_all(streams, stream_arn) if r["dynamodb"]["Keys"]["pk"]["S"] == "fail-3")
    info = record["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == failed["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 2
    assert record["responseContext"]["functionError"] is None
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
