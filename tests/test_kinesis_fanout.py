"""Enhanced fan-out (issue 16): consumers, SubscribeToShard as AWS's event stream read by boto3, 5-minute
subscriptions on the platform clock, event source mappings on a consumer ARN, and resource policies on
streams and consumers. boto3 against real lambda-emu servers."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, REGION, RunningServer, create_python_function, unique

POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                   "Action": ["kinesis:DescribeStreamSummary", "kinesis:SubscribeToShard"], "Resource": "*"}],
})


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def new_stream(client: Any, shards: int = 1) -> tuple[str, str]:
    name = unique("stream")
    client.create_stream(StreamName=name, ShardCount=shards)
    return name, f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


# ---- consumers ----------------------------------------------------------------------------------


def test_register_describe_list_deregister(kinesis: Any) -> None:
    name, stream_arn = new_stream(kinesis)
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="reader",
                                                Tags={"team": "a"})["Consumer"]
    assert set(consumer) == {"ConsumerName", "ConsumerARN", "ConsumerStatus", "ConsumerCreationTimestamp"}
    assert consumer["ConsumerName"] == "reader"
    assert consumer["ConsumerStatus"] == "ACTIVE"  # at once without --creation-delays
    assert re.fullmatch(re.escape(stream_arn) + r"/consumer/reader:\d+", consumer["ConsumerARN"])
    assert isinstance(consumer["ConsumerCreationTimestamp"], datetime)
    described = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]
    assert described == {**consumer, "StreamARN": stream_arn}
    assert kinesis.describe_stream_consumer(StreamARN=stream_arn, ConsumerName="reader")["ConsumerDescription"] == (
        described
    )
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    assert kinesis.list_stream_consumers(StreamARN=stream_arn)["Consumers"] == [consumer]
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["ConsumerCount"] == 1
    assert kinesis.list_tags_for_resource(ResourceARN=consumer["ConsumerARN"])["Tags"] == [
        {"Key": "team", "Value": "a"}
    ]
    with pytest.raises(ClientError) as excinfo:
        kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="reader")
    assert error_of(excinfo) == (
        "ResourceInUseException",
        f"Consumer reader under stream {name} under account {ACCOUNT} already exists.",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.delete_stream(StreamName=name)
    assert error_of(excinfo)[0] == "ResourceInUseException"
    kinesis.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    assert kinesis.list_stream_consumers(StreamARN=stream_arn)["Consumers"] == []
    with pytest.raises(ClientError) as excinfo:
        kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    assert error_of(excinfo) == (
        "ResourceNotFoundException", f"Consumer {consumer['ConsumerARN']} under account {ACCOUNT} not found.",
    )
    # Registered again under the same name, it is another consumer: a new ARN.
    kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="other")
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_consumer_limit_and_pages(kinesis: Any) -> None:
    _, stream_arn = new_stream(kinesis)
    for i in range(20):
        kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName=f"c{i:02d}")
    with pytest.raises(ClientError) as excinfo:
        kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="one-too-many")
    assert error_of(excinfo)[0] == "LimitExceededException"
    first = kinesis.list_stream_consumers(StreamARN=stream_arn, MaxResults=15)
    second = kinesis.list_stream_consumers(StreamARN=stream_arn, NextToken=first["NextToken"], MaxResults=15)
    assert "NextToken" not in second
    names = [c["ConsumerName"] for c in first["Consumers"] + second["Consumers"]]
    assert sorted(names) == [f"c{i:02d}" for i in range(20)]
    paginated = kinesis.get_paginator("list_stream_consumers").paginate(StreamARN=stream_arn,
                                                                        PaginationConfig={"PageSize": 7})
    assert sum(len(page["Consumers"]) for page in paginated) == 20


# ---- SubscribeToShard -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def subscriptions() -> Iterator[RunningServer]:
    """A manual clock of its own: a subscription's heartbeat timers stay off the shared manual clock."""
    running = RunningServer(clock="manual").start()
    yield running
    running.stop()


def test_subscribe_to_shard_streams_records_as_boto3_reads_them(subscriptions: RunningServer) -> None:
    manual_server, manual_kinesis = subscriptions, subscriptions.client("kinesis")
    name, stream_arn = new_stream(manual_kinesis)
    first = manual_kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"one")
    consumer = manual_kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="efo")["Consumer"]
    response = manual_kinesis.subscribe_to_shard(ConsumerARN=consumer["ConsumerARN"], ShardId="shardId-0",
                                                 StartingPosition={"Type": "TRIM_HORIZON"})
    events = iter(response["EventStream"])
    event = next(events)["SubscribeToShardEvent"]
    assert [(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in event["Records"]] == [
        (first["SequenceNumber"], b"one", "k")
    ]
    assert set(event["Records"][0]) == {"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey",
                                        "EncryptionType"}
    assert event["ContinuationSequenceNumber"] == first["SequenceNumber"]
    assert event["MillisBehindLatest"] == 0
    # A record put now is pushed at once.
    second = manual_kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"two")
    event = next(events)["SubscribeToShardEvent"]
    assert [r["Data"] for r in event["Records"]] == [b"two"]
    assert event["ContinuationSequenceNumber"] == second["SequenceNumber"]
    # Nothing arriving: a heartbeat every 5 s of platform time; the subscription ends after 5 minutes.
    manual_server.advance(5)
    heartbeat = next(events)["SubscribeToShardEvent"]
    assert heartbeat["Records"] == [] and heartbeat["ContinuationSequenceNumber"] == second["SequenceNumber"]
    manual_server.advance(300)
    rest = [e["SubscribeToShardEvent"]["Records"] for e in events]  # ends: the iteration stops
    assert rest == [[]] * len(rest) and 50 <= len(rest) <= 60  # the heartbeats of the remaining minutes

    # Going on from the continuation point.
    manual_server.advance(5)
    third = manual_kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"three")
    response = manual_kinesis.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"], ShardId="shardId-000000000000",
        StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": second["SequenceNumber"]})
    event = next(iter(response["EventStream"]))["SubscribeToShardEvent"]
    assert [r["SequenceNumber"] for r in event["Records"]] == [third["SequenceNumber"]]
    with pytest.raises(ClientError) as excinfo:
        manual_kinesis.subscribe_to_shard(ConsumerARN=consumer["ConsumerARN"], ShardId="shardId-000000000000",
                                          StartingPosition={"Type": "LATEST"})
    assert error_of(excinfo)[0] == "ResourceInUseException"
    response["EventStream"].close()


def test_subscribe_refusals(kinesis: Any) -> None:
    name, stream_arn = new_stream(kinesis)
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="efo")["Consumer"]["ConsumerARN"]
    with pytest.raises(ClientError) as excinfo:
        kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId="shardId-5", StartingPosition={"Type": "LATEST"})
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        f"Shard shardId-000000000005 in stream {name} under account {ACCOUNT} does not exist",
    )
    gone = f"{stream_arn}/consumer/nobody:1700000000"
    with pytest.raises(ClientError) as excinfo:
        kinesis.subscribe_to_shard(ConsumerARN=gone, ShardId="shardId-0", StartingPosition={"Type": "LATEST"})
    assert error_of(excinfo) == ("ResourceNotFoundException", f"Consumer {gone} under account {ACCOUNT} not found.")


def test_subscription_of_a_closed_shard_ends_with_its_children(kinesis: Any) -> None:
    name, stream_arn = new_stream(kinesis)
    put = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x")
    kinesis.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(2**127))
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="efo")["Consumer"]["ConsumerARN"]
    response = kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId="shardId-0",
                                          StartingPosition={"Type": "TRIM_HORIZON"})
    events = [e["SubscribeToShardEvent"] for e in response["EventStream"]]
    assert len(events) == 1
    assert [r["SequenceNumber"] for r in events[0]["Records"]] == [put["SequenceNumber"]]
    assert [c["ShardId"] for c in events[0]["ChildShards"]] == ["shardId-000000000001", "shardId-000000000002"]


# ---- --creation-delays ----------------------------------------------------------------------------

def test_consumer_is_creating_then_active_with_creation_delays(delayed: RunningServer) -> None:
    kinesis = delayed.client("kinesis")
    name = unique("stream")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    delayed.advance(10)
    stream_arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="efo")["Consumer"]
    assert consumer["ConsumerStatus"] == "CREATING"
    with pytest.raises(ClientError) as excinfo:
        kinesis.subscribe_to_shard(ConsumerARN=consumer["ConsumerARN"], ShardId="0",
                                   StartingPosition={"Type": "LATEST"})
    assert error_of(excinfo)[0] == "ResourceInUseException"
    delayed.advance(5)
    described = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]
    assert described["ConsumerStatus"] == "ACTIVE"
    kinesis.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    described = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])["ConsumerDescription"]
    assert described["ConsumerStatus"] == "DELETING"
    delayed.advance(5)
    assert kinesis.list_stream_consumers(StreamARN=stream_arn)["Consumers"] == []


# ---- resource policies --------------------------------------------------------------------------


def test_resource_policies_on_streams_and_consumers(kinesis: Any) -> None:
    _, stream_arn = new_stream(kinesis)
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="efo")["Consumer"]["ConsumerARN"]
    for arn in (stream_arn, consumer):
        assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
        response = kinesis.put_resource_policy(ResourceARN=arn, Policy=POLICY)
        assert set(response) == {"ResponseMetadata"}
        assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == POLICY
        kinesis.delete_resource_policy(ResourceARN=arn)
        assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
        with pytest.raises(ClientError) as excinfo:
            kinesis.delete_resource_policy(ResourceARN=arn)
        assert error_of(excinfo)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        kinesis.put_resource_policy(ResourceARN=stream_arn, Policy="not json")
    assert error_of(excinfo)[0] == "InvalidArgumentException"
    missing = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{unique('nostream')}"
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_resource_policy(ResourceARN=missing)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_state_dir_keeps_consumers_and_policies(tmp_path: Path) -> None:
    first = RunningServer(state_dir=tmp_path).start()
    try:
        kinesis = first.client("kinesis")
        _, stream_arn = new_stream(kinesis)
        consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="efo")["Consumer"]
        kinesis.put_resource_policy(ResourceARN=stream_arn, Policy=POLICY)
        kinesis.put_resource_policy(ResourceARN=consumer["ConsumerARN"], Policy=POLICY)
    finally:
        first.stop()
    second = RunningServer(state_dir=tmp_path).start()
    try:
        kinesis = second.client("kinesis")
        assert kinesis.list_stream_consumers(StreamARN=stream_arn)["Consumers"] == [consumer]
        assert kinesis.get_resource_policy(ResourceARN=stream_arn)["Policy"] == POLICY
        assert kinesis.get_resource_policy(ResourceARN=consumer["ConsumerARN"])["Policy"] == POLICY
    finally:
        second.stop()


# ---- event source mappings on a consumer ----------------------------------------------------------

RECORDER = """
import base64, json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(event) + "\\n")
"""


def test_event_source_mapping_on_a_consumer_arn(manual_server: RunningServer, manual_kinesis: Any,
                                                manual_lam: Any, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    out.touch()
    function = create_python_function(manual_lam, RECORDER, Environment={"Variables": {"OUT": str(out)}})
    name, stream_arn = new_stream(manual_kinesis)
    consumer = manual_kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="lambda")["Consumer"]
    mapping = manual_lam.create_event_source_mapping(FunctionName=function, EventSourceArn=consumer["ConsumerARN"],
                                                     StartingPosition="TRIM_HORIZON", BatchSize=10)
    try:
        assert mapping["EventSourceArn"] == consumer["ConsumerARN"]
        manual_server.advance(0)
        manual_kinesis.put_records(StreamName=name, Records=[{"Data": f"r{i}".encode(), "PartitionKey": "k"}
                                                             for i in range(3)])
        manual_server.advance(0)
        events = [json.loads(line) for line in out.read_text().splitlines() if line]
        assert len(events) == 1
        records = events[0]["Records"]
        assert [base64.b64decode(r["kinesis"]["data"]).decode() for r in records] == ["r0", "r1", "r2"]
        assert {r["eventSourceARN"] for r in records} == {stream_arn}
        assert {r["eventID"].split(":")[0] for r in records} == {"shardId-000000000000"}
    finally:
        manual_lam.delete_event_source_mapping(UUID=mapping["UUID"])
        manual_server.advance(0)
    with pytest.raises(ClientError) as excinfo:
        manual_lam.create_event_source_mapping(FunctionName=function, StartingPosition="LATEST",
                                               EventSourceArn=f"{stream_arn}/consumer/nobody:1700000000")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
