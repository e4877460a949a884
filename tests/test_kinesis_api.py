"""The Kinesis API end to end: boto3's kinesis client against a real lambda-emu server."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_emu.emulator.protocol import cbor
from tests.support import RunningServer, unique

ACCOUNT = "000000000000"
SEQUENCE = re.compile(r"^[1-9]\d{55}$")
FOUR_SHARD_RANGES = [
    ("0", "85070591730234615865843651857942052863"),
    ("85070591730234615865843651857942052864", "170141183460469231731687303715884105727"),
    ("170141183460469231731687303715884105728", "255211775190703847597530955573826158591"),
    ("255211775190703847597530955573826158592", "340282366920938463463374607431768211455"),
]


@pytest.fixture(scope="module")
def unchecked(server: RunningServer) -> Any:
    """A client that sends what it is given, so the server's own checks answer."""
    return server.client("kinesis", parameter_validation=False)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def new_stream(client: Any, shards: int = 1, **extra: Any) -> str:
    name = unique("stream")
    client.create_stream(StreamName=name, ShardCount=shards, **extra)
    return name


def arn(name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


# ---- streams ----------------------------------------------------------------------------------


def test_create_is_active_at_once_and_waiter_passes_on_first_poll(kinesis: Any) -> None:
    name = new_stream(kinesis, 4)
    started = time.monotonic()
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    assert time.monotonic() - started < 2  # the waiter's 10 s delay never happens

    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert set(description) == {
        "StreamName", "StreamARN", "StreamStatus", "StreamModeDetails", "Shards", "HasMoreShards",
        "RetentionPeriodHours", "StreamCreationTimestamp", "EnhancedMonitoring", "EncryptionType",
    }  # fmt: skip
    assert description["StreamName"] == name
    assert description["StreamARN"] == arn(name)
    assert description["StreamStatus"] == "ACTIVE"
    assert description["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert description["HasMoreShards"] is False
    assert description["RetentionPeriodHours"] == 24
    assert description["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert description["EncryptionType"] == "NONE"
    assert isinstance(description["StreamCreationTimestamp"], datetime)
    shards = description["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(4)]
    assert [(s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"]) for s in shards] == (
        FOUR_SHARD_RANGES
    )
    for shard in shards:
        assert set(shard) == {"ShardId", "HashKeyRange", "SequenceNumberRange"}
        assert set(shard["SequenceNumberRange"]) == {"StartingSequenceNumber"}  # open: no EndingSequenceNumber
        assert SEQUENCE.match(shard["SequenceNumberRange"]["StartingSequenceNumber"])


def test_describe_stream_pages_shards(kinesis: Any) -> None:
    name = new_stream(kinesis, 5)
    first = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    assert first["HasMoreShards"] is True
    rest = kinesis.describe_stream(StreamName=name, ExclusiveStartShardId="shardId-000000000001")
    assert [s["ShardId"][-1] for s in rest["StreamDescription"]["Shards"]] == ["2", "3", "4"]
    assert rest["StreamDescription"]["HasMoreShards"] is False


def test_describe_stream_summary(kinesis: Any) -> None:
    name = new_stream(kinesis, 3)
    summary = kinesis.describe_stream_summary(StreamARN=arn(name))["StreamDescriptionSummary"]
    assert summary["StreamName"] == name
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 3
    assert summary["ConsumerCount"] == 0
    assert summary["RetentionPeriodHours"] == 24
    assert summary["EncryptionType"] == "NONE"
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert summary["MaxRecordSizeInKiB"] == 1024


def test_on_demand_stream(kinesis: Any) -> None:
    name = unique("stream")
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 4


def test_duplicate_create_and_unknown_stream(kinesis: Any) -> None:
    name = new_stream(kinesis)
    with pytest.raises(ClientError) as excinfo:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    assert error_of(excinfo) == ("ResourceInUseException", f"Stream {name} under account {ACCOUNT} already exists.")
    for call in (
        lambda: kinesis.describe_stream(StreamName="nope"),
        lambda: kinesis.describe_stream_summary(StreamARN=arn("nope")),
        lambda: kinesis.put_record(StreamName="nope", PartitionKey="k", Data=b"x"),
        lambda: kinesis.list_shards(StreamName="nope"),
        lambda: kinesis.delete_stream(StreamName="nope"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("ResourceNotFoundException", f"Stream nope under account {ACCOUNT} not found.")
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_neither_name_nor_arn(kinesis: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        kinesis.describe_stream_summary()
    assert error_of(excinfo)[0] == "InvalidArgumentException"


def test_delete_stream_and_not_exists_waiter(kinesis: Any) -> None:
    name = new_stream(kinesis)
    kinesis.delete_stream(StreamARN=arn(name))
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name)
    assert name not in kinesis.list_streams(Limit=100)["StreamNames"]


def test_list_streams_pages_with_token_and_exclusive_start(kinesis: Any) -> None:
    names = sorted(new_stream(kinesis) for _ in range(3))
    seen: list[str] = []
    summaries: list[dict[str, Any]] = []
    response = kinesis.list_streams(Limit=1)
    while True:
        seen += response["StreamNames"]
        summaries += response["StreamSummaries"]
        assert response["HasMoreStreams"] is ("NextToken" in response)
        if not response["HasMoreStreams"]:
            break
        response = kinesis.list_streams(Limit=1, NextToken=response["NextToken"])
    assert seen == sorted(seen) and set(names) <= set(seen)
    mine = [s for s in summaries if s["StreamName"] == names[0]][0]
    assert mine["StreamARN"] == arn(names[0])
    assert mine["StreamStatus"] == "ACTIVE"
    assert mine["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert isinstance(mine["StreamCreationTimestamp"], datetime)
    after = kinesis.list_streams(ExclusiveStartStreamName=names[0], Limit=2)["StreamNames"]
    assert after[0] > names[0]


def test_list_shards_pages_and_filters(kinesis: Any) -> None:
    name = new_stream(kinesis, 5)
    page = kinesis.list_shards(StreamName=name, MaxResults=2)
    ids = [s["ShardId"] for s in page["Shards"]]
    while "NextToken" in page:
        page = kinesis.list_shards(NextToken=page["NextToken"], MaxResults=2)
        ids += [s["ShardId"] for s in page["Shards"]]
    assert ids == [f"shardId-00000000000{i}" for i in range(5)]
    everything = kinesis.list_shards(StreamARN=arn(name))
    assert "NextToken" not in everything and len(everything["Shards"]) == 5
    after = kinesis.list_shards(
        StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000003"}
    )
    assert [s["ShardId"] for s in after["Shards"]] == ["shardId-000000000004"]
    assert len(kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]) == 5
    with pytest.raises(ClientError) as excinfo:
        kinesis.list_shards(StreamName=name, NextToken=page.get("NextToken") or "x")
    assert error_of(excinfo)[0] == "InvalidArgumentException"


# ---- producing and consuming ------------------------------------------------------------------


def test_put_record_shape_and_routing(kinesis: Any) -> None:
    name = new_stream(kinesis, 4)
    response = kinesis.put_record(StreamName=name, PartitionKey="hello", Data=b"payload")
    assert set(response) - {"ResponseMetadata"} == {"ShardId", "SequenceNumber", "EncryptionType"}
    assert response["EncryptionType"] == "NONE"
    assert SEQUENCE.match(response["SequenceNumber"])
    # md5("hello") = 5d41402abc4b2a76b9719d911017c592 → 123957004363873451094272536567338222994, in shard 1
    assert response["ShardId"] == "shardId-000000000001"
    explicit = kinesis.put_record(StreamARN=arn(name), PartitionKey="hello", Data=b"x", ExplicitHashKey="0")
    assert explicit["ShardId"] == "shardId-000000000000"


def test_put_records_results_and_order(kinesis: Any) -> None:
    name = new_stream(kinesis, 2)
    entries = [{"PartitionKey": "same", "Data": b"%d" % i} for i in range(10)]
    response = kinesis.put_records(StreamName=name, Records=entries)
    assert response["FailedRecordCount"] == 0
    assert response["EncryptionType"] == "NONE"
    assert len(response["Records"]) == 10
    assert all(set(r) == {"SequenceNumber", "ShardId"} for r in response["Records"])
    sequence_numbers = [int(r["SequenceNumber"]) for r in response["Records"]]
    assert sequence_numbers == sorted(sequence_numbers) and len(set(sequence_numbers)) == 10
    assert len({r["ShardId"] for r in response["Records"]}) == 1


def test_get_records_shape_and_iterators(kinesis: Any) -> None:
    name = new_stream(kinesis)
    shard_id = "shardId-000000000000"
    put = [kinesis.put_record(StreamName=name, PartitionKey=f"k{i}", Data=b"d%d" % i) for i in range(4)]
    trim = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    assert set(trim) - {"ResponseMetadata"} == {"ShardIterator"}
    page = kinesis.get_records(ShardIterator=trim["ShardIterator"], Limit=3)
    assert set(page) - {"ResponseMetadata"} == {"Records", "NextShardIterator", "MillisBehindLatest"}
    assert [r["Data"] for r in page["Records"]] == [b"d0", b"d1", b"d2"]
    record = page["Records"][0]
    assert set(record) == {"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey", "EncryptionType"}
    assert record["SequenceNumber"] == put[0]["SequenceNumber"]
    assert record["PartitionKey"] == "k0"
    assert record["EncryptionType"] == "NONE"
    assert isinstance(record["ApproximateArrivalTimestamp"], datetime)
    assert isinstance(page["MillisBehindLatest"], int)
    rest = kinesis.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["Data"] for r in rest["Records"]] == [b"d3"]
    assert rest["MillisBehindLatest"] == 0

    def read(iterator_type: str, **extra: Any) -> list[bytes]:
        iterator = kinesis.get_shard_iterator(
            StreamARN=arn(name), ShardId=shard_id, ShardIteratorType=iterator_type, **extra
        )["ShardIterator"]
        return [r["Data"] for r in kinesis.get_records(ShardIterator=iterator, StreamARN=arn(name))["Records"]]

    assert read("AT_SEQUENCE_NUMBER", StartingSequenceNumber=put[2]["SequenceNumber"]) == [b"d2", b"d3"]
    assert read("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=put[2]["SequenceNumber"]) == [b"d3"]
    assert read("AT_TIMESTAMP", Timestamp=datetime(2000, 1, 1, tzinfo=UTC)) == [b"d0", b"d1", b"d2", b"d3"]
    assert read("LATEST") == []


def test_bad_iterators_and_arguments(kinesis: Any) -> None:
    name = new_stream(kinesis, 2)
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_records(ShardIterator="bm90IGFuIGl0ZXJhdG9y")
    assert error_of(excinfo)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000007", ShardIteratorType="LATEST")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        f"Shard shardId-000000000007 in stream {name} under account {ACCOUNT} does not exist",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_shard_iterator(
            StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER"
        )
    assert error_of(excinfo)[0] == "InvalidArgumentException"
    other = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"", ExplicitHashKey=str(2**128 - 1))
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_shard_iterator(
            StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=other["SequenceNumber"],
        )  # fmt: skip
    assert error_of(excinfo) == (
        "InvalidArgumentException",
        "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard "
        "with shardId-000000000000",
    )


def test_limits(kinesis: Any, unchecked: Any) -> None:
    name = new_stream(kinesis)
    with pytest.raises(ClientError) as excinfo:
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x" * (1024 * 1024))  # + 1-byte key > 1 MiB
    assert error_of(excinfo)[0] == "InvalidArgumentException"
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x" * (1024 * 1024 - 1))
    with pytest.raises(ClientError) as excinfo:
        unchecked.put_records(StreamName=name, Records=[{"PartitionKey": "k", "Data": b"x"}] * 501)
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        unchecked.put_record(StreamName=name, PartitionKey="", Data=b"x")
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        unchecked.get_records(ShardIterator="x" * 10, Limit=10001)
    assert error_of(excinfo)[0] in ("ValidationException", "InvalidArgumentException")
    with pytest.raises(ClientError) as excinfo:
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x", ExplicitHashKey=str(2**128))
    assert error_of(excinfo)[0] == "InvalidArgumentException"
    big = new_stream(kinesis, MaxRecordSizeInKiB=2048)
    kinesis.put_record(StreamName=big, PartitionKey="k", Data=b"x" * (2 * 1024 * 1024 - 1))


# ---- retention and tags -----------------------------------------------------------------------


def test_retention_period_changes_and_errors(kinesis: Any) -> None:
    name = new_stream(kinesis)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    with pytest.raises(ClientError) as excinfo:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=30)
    assert error_of(excinfo) == (
        "InvalidArgumentException",
        f"Requested retention period (30 hours) for stream {name} can not be shorter than existing retention "
        "period (48 hours). Use DecreaseRetentionPeriod API.",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.decrease_stream_retention_period(StreamARN=arn(name), RetentionPeriodHours=1)
    assert error_of(excinfo) == (
        "InvalidArgumentException",
        "Minimum allowed retention period is 24 hours. Requested retention period (1 hours) is too short.",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8761)
    assert error_of(excinfo)[0] == "InvalidArgumentException"
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)


def test_tags(kinesis: Any) -> None:
    name = new_stream(kinesis, Tags={"team": "a"})
    kinesis.add_tags_to_stream(StreamName=name, Tags={"env": "test", "team": "b"})
    kinesis.remove_tags_from_stream(StreamARN=arn(name), TagKeys=["missing"])
    tags = kinesis.list_tags_for_stream(StreamName=name)
    assert tags["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "b"}]
    assert tags["HasMoreTags"] is False
    page = kinesis.list_tags_for_stream(StreamName=name, Limit=1)
    assert page["Tags"] == [{"Key": "env", "Value": "test"}] and page["HasMoreTags"] is True
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    assert kinesis.list_tags_for_stream(StreamARN=arn(name))["Tags"] == [{"Key": "team", "Value": "b"}]


def test_resource_tagging_and_max_record_size(kinesis: Any) -> None:
    name = new_stream(kinesis)
    kinesis.tag_resource(ResourceARN=arn(name), Tags={"b": "2", "a": "1"})
    kinesis.untag_resource(ResourceARN=arn(name), TagKeys=["b"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn(name))["Tags"] == [{"Key": "a", "Value": "1"}]
    kinesis.update_max_record_size(StreamARN=arn(name), MaxRecordSizeInKiB=2048)
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["MaxRecordSizeInKiB"] == 2048
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x" * (2 * 1024 * 1024 - 1))


# ---- the clock: iterator expiry and retention ---------------------------------------------------


def test_iterator_expires_after_five_minutes_on_the_clock(manual_server: RunningServer, manual_kinesis: Any) -> None:
    name = new_stream(manual_kinesis)
    iterator = manual_kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    manual_server.advance(299)
    next_iterator = manual_kinesis.get_records(ShardIterator=iterator)["NextShardIterator"]
    manual_server.advance(2)
    with pytest.raises(ClientError) as excinfo:
        manual_kinesis.get_records(ShardIterator=iterator)
    code, message = error_of(excinfo)
    assert code == "ExpiredIteratorException"
    assert message.startswith("Iterator expired. The iterator was created at time ")
    assert message.endswith("which is further in the future than the tolerated delay of 300000 milliseconds.")
    manual_kinesis.get_records(ShardIterator=next_iterator)  # the fresh one is 2 s old


def test_records_leave_after_retention_on_the_clock(manual_server: RunningServer, manual_kinesis: Any) -> None:
    name = new_stream(manual_kinesis)
    manual_kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"old")
    manual_server.advance(24 * 3600 - 10)
    manual_kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"new")
    manual_server.advance(11)
    iterator = manual_kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = manual_kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in records] == [b"new"]


def test_arrival_timestamp_and_millis_behind_follow_the_clock(
    manual_server: RunningServer, manual_kinesis: Any
) -> None:
    name = new_stream(manual_kinesis)
    first = manual_kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"1")
    manual_server.advance(5)
    manual_kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"2")
    manual_server.advance(5)
    iterator = manual_kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=first["SequenceNumber"],
    )["ShardIterator"]  # fmt: skip
    page = manual_kinesis.get_records(ShardIterator=iterator, Limit=1)
    assert page["MillisBehindLatest"] == 5000  # the next unread record arrived 5 s ago
    later = manual_kinesis.get_records(ShardIterator=page["NextShardIterator"])
    gap = later["Records"][0]["ApproximateArrivalTimestamp"] - page["Records"][0]["ApproximateArrivalTimestamp"]
    assert gap.total_seconds() == pytest.approx(5, abs=0.002)


# ---- CBOR (served: tests/test_kinesis_cbor.py) ------------------------------------------------------


def test_cbor_codec_round_trip() -> None:
    value = {"a": [1, -2, 2**40, 1.5, True, False, None], "b": b"\x00\xff", "c": "ü" * 30}
    assert cbor.loads(cbor.dumps(value)) == value
    tagged = bytes([0xC1, 0x1B]) + (1_700_000_000_123).to_bytes(8, "big")  # tag 1 + epoch millis, as Java SDKs send
    assert cbor.loads(tagged) == cbor.Tagged(1, 1_700_000_000_123)

