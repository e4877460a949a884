"""Resharding as AWS does it: SplitShard, MergeShards, UpdateShardCount, ListShards' ShardFilter, closed
parents and their children, the stream mapping reading a parent to its end before its children, the
CREATING/UPDATING phases of ``--creation-delays`` and the lineage kept by ``--state-dir``.
boto3 against real lambda-emu servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, REGION, RunningServer, create_python_function, unique

TOP = 2**128 - 1
HALF = 2**127


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def new_stream(client: Any, shards: int = 1) -> str:
    name = unique("stream")
    client.create_stream(StreamName=name, ShardCount=shards)
    return name


def shard_ids(client: Any, name: str, **extra: Any) -> list[str]:
    return [s["ShardId"] for s in client.list_shards(StreamName=name, **extra)["Shards"]]


def read_all(client: Any, name: str, shard: str) -> dict[str, Any]:
    iterator = client.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return client.get_records(ShardIterator=iterator["ShardIterator"])


# ---- the API ----------------------------------------------------------------------------------


def test_split_closes_the_parent_and_opens_two_children(kinesis: Any) -> None:
    name = new_stream(kinesis)
    before = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"before", ExplicitHashKey="1")
    assert kinesis.split_shard(StreamName=name, ShardToSplit="shard-0", NewStartingHashKey=str(HALF)) is not None
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamStatus"] == "ACTIVE"
    parent, low, high = description["Shards"]
    assert parent["ShardId"] == "shardId-000000000000"
    assert set(parent) == {"ShardId", "HashKeyRange", "SequenceNumberRange"}
    assert set(parent["SequenceNumberRange"]) == {"StartingSequenceNumber", "EndingSequenceNumber"}
    assert int(parent["SequenceNumberRange"]["EndingSequenceNumber"]) >= int(before["SequenceNumber"])
    assert low == {
        "ShardId": "shardId-000000000001", "ParentShardId": "shardId-000000000000",
        "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(HALF - 1)},
        "SequenceNumberRange": {"StartingSequenceNumber": low["SequenceNumberRange"]["StartingSequenceNumber"]},
    }  # fmt: skip
    assert high["ShardId"] == "shardId-000000000002"
    assert high["ParentShardId"] == "shardId-000000000000"
    assert high["HashKeyRange"] == {"StartingHashKey": str(HALF), "EndingHashKey": str(TOP)}
    assert "EndingSequenceNumber" not in high["SequenceNumberRange"]

    after = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"after", ExplicitHashKey="1")
    assert after["ShardId"] == "shardId-000000000001"
    assert kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"", ExplicitHashKey=str(TOP))["ShardId"] == (
        "shardId-000000000002"
    )
    # The closed parent is read to its end: its records, then no NextShardIterator and its children.
    page = read_all(kinesis, name, "shardId-000000000000")
    assert [r["Data"] for r in page["Records"]] == [b"before"]
    assert "NextShardIterator" not in page
    assert page["ChildShards"] == [
        {"ShardId": "shardId-000000000001", "ParentShards": ["shardId-000000000000"],
         "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(HALF - 1)}},
        {"ShardId": "shardId-000000000002", "ParentShards": ["shardId-000000000000"],
         "HashKeyRange": {"StartingHashKey": str(HALF), "EndingHashKey": str(TOP)}},
    ]  # fmt: skip
    latest = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="LATEST")
    page = kinesis.get_records(ShardIterator=latest["ShardIterator"])
    assert page["Records"] == [] and "NextShardIterator" not in page
    open_page = read_all(kinesis, name, "shardId-000000000001")
    assert [r["Data"] for r in open_page["Records"]] == [b"after"]
    assert "NextShardIterator" in open_page and "ChildShards" not in open_page
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2


def test_split_refusals(kinesis: Any) -> None:
    name = new_stream(kinesis, 3)
    third = (2**128) // 3
    with pytest.raises(ClientError) as excinfo:
        kinesis.split_shard(StreamName=name, ShardToSplit="shard-0", NewStartingHashKey="1")
    assert error_of(excinfo) == (
        "InvalidArgumentException",
        f"NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream {name} under account "
        f"{ACCOUNT} is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's "
        f"EndingHashKey {third - 1}.",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.split_shard(StreamName=name, ShardToSplit="shardId-5", NewStartingHashKey="2")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        f"Could not find shard shardId-000000000005 in stream {name} under account {ACCOUNT}.",
    )
    missing = unique("nostream")
    with pytest.raises(ClientError) as excinfo:
        kinesis.split_shard(StreamName=missing, ShardToSplit="ABKLFD8", NewStartingHashKey="2")
    assert error_of(excinfo) == (
        "ResourceNotFoundException", f"Could not find shard ABKLFD8 in stream {missing} under account {ACCOUNT}.",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.split_shard(StreamName=missing, ShardToSplit="shard-0", NewStartingHashKey="2")
    assert error_of(excinfo) == ("ResourceNotFoundException", f"Stream {missing} under account {ACCOUNT} not found.")
    kinesis.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey="2")
    with pytest.raises(ClientError) as excinfo:
        kinesis.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey="5")
    assert error_of(excinfo) == (
        "ResourceInUseException",
        f"Shard shardId-000000000000 in stream {name} under account {ACCOUNT} has already been merged or split, "
        "and thus is not eligible for merging or splitting.",
    )


def test_merge_two_adjacent_shards(kinesis: Any) -> None:
    name = new_stream(kinesis, 3)
    for bad, adjacent in (("0", "2"), ("1", "0")):
        with pytest.raises(ClientError) as excinfo:
            kinesis.merge_shards(StreamName=name, ShardToMerge=f"x-{bad}", AdjacentShardToMerge=f"x-{adjacent}")
        assert error_of(excinfo) == (
            "InvalidArgumentException",
            f"Shards shardId-00000000000{bad} and shardId-00000000000{adjacent} in stream {name} under account "
            f"{ACCOUNT} are not an adjacent pair of shards eligible for merging",
        )
    kinesis.merge_shards(StreamName=name, ShardToMerge="shardId-000000000000",
                         AdjacentShardToMerge="shardId-000000000001")
    shards = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(4)]
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in shards[:2])
    child = shards[3]
    assert child["ParentShardId"] == "shardId-000000000000"
    assert child["AdjacentParentShardId"] == "shardId-000000000001"
    assert child["HashKeyRange"] == {"StartingHashKey": "0",
                                     "EndingHashKey": shards[1]["HashKeyRange"]["EndingHashKey"]}
    assert kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"", ExplicitHashKey="0")["ShardId"] == (
        "shardId-000000000003"
    )


def test_update_shard_count_scales_uniformly(kinesis: Any) -> None:
    name = new_stream(kinesis, 2)
    answer = kinesis.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    del answer["ResponseMetadata"]
    assert answer == {"StreamName": name, "CurrentShardCount": 2, "TargetShardCount": 4,
                      "StreamARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"}
    open_shards = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [s["ShardId"] for s in open_shards] == [f"shardId-00000000000{i}" for i in range(2, 6)]
    width = 2**128 // 4
    assert [int(s["HashKeyRange"]["StartingHashKey"]) for s in open_shards] == [i * width for i in range(4)]
    assert [s["ParentShardId"] for s in open_shards] == ["shardId-000000000000"] * 2 + ["shardId-000000000001"] * 2
    with pytest.raises(ClientError) as excinfo:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=9, ScalingType="UNIFORM_SCALING")
    assert error_of(excinfo)[0] == "LimitExceededException"
    answer = kinesis.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert answer["CurrentShardCount"] == 4
    merged = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [(s["ParentShardId"], s["AdjacentParentShardId"]) for s in merged] == [
        ("shardId-000000000002", "shardId-000000000003"), ("shardId-000000000004", "shardId-000000000005"),
    ]  # fmt: skip


def test_list_shards_filters(manual_server: RunningServer, manual_kinesis: Any) -> None:
    name = new_stream(manual_kinesis)
    manual_server.advance(60)
    before_split = datetime.fromisoformat(manual_server.emu_get("/_emu/clock")["now"].replace("Z", "+00:00"))
    manual_server.advance(60)
    manual_kinesis.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(HALF))
    manual_server.advance(60)
    after_split = datetime.fromisoformat(manual_server.emu_get("/_emu/clock")["now"].replace("Z", "+00:00"))
    everything = ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    children = everything[1:]
    assert shard_ids(manual_kinesis, name) == everything
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "AT_LATEST"}) == children
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "AT_TRIM_HORIZON"}) == everything[:1]
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "FROM_TRIM_HORIZON"}) == everything
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "AFTER_SHARD_ID",
                                                        "ShardId": "shard-1"}) == everything[2:]
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": before_split}) == (
        everything[:1]
    )
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": after_split}) == children
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": before_split}) == (
        everything
    )
    assert shard_ids(manual_kinesis, name, ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": after_split}) == (
        children
    )
    # A closed shard is listed until it is older than the retention period.
    manual_server.advance(24 * 3600 + 1)
    assert shard_ids(manual_kinesis, name) == children


# ---- the stream event source mapping ------------------------------------------------------------

FAILS_FIRST_TIME = """
import base64, json, os

def handler(event, context):
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    shards = sorted({r["eventID"].split(":")[0] for r in event["Records"]})
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"datas": datas, "shards": shards}) + "\\n")
    marker = os.environ["OUT"] + ".failed"
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise Exception("first batch fails (intentional)")
"""


@pytest.fixture
def mappings(manual_lam: Any, manual_server: RunningServer) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    for uuid in created:
        try:
            manual_lam.delete_event_source_mapping(UUID=uuid)
        except ClientError:
            pass
    manual_server.advance(0)


def test_mapping_reads_a_parent_to_its_end_before_its_children(
    manual_server: RunningServer, manual_kinesis: Any, manual_lam: Any, tmp_path: Path, mappings: list[str],
) -> None:
    out = tmp_path / "events.jsonl"
    out.touch()
    function = create_python_function(manual_lam, FAILS_FIRST_TIME, Environment={"Variables": {"OUT": str(out)}})
    name = new_stream(manual_kinesis)
    mapping = manual_lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}",
        StartingPosition="TRIM_HORIZON", BatchSize=10)
    mappings.append(mapping["UUID"])
    manual_server.advance(0)
    records = [{"Data": f"p{i}".encode(), "PartitionKey": "order-1"} for i in range(3)]
    manual_kinesis.put_records(StreamName=name, Records=records)
    manual_server.advance(0)
    # The parent's batch failed once and waits for its retry; the same key's next records go to a child.
    manual_kinesis.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(HALF))
    records = [{"Data": f"c{i}".encode(), "PartitionKey": "order-1"} for i in range(3)]
    child = manual_kinesis.put_records(StreamName=name, Records=records)["Records"][0]["ShardId"]
    manual_server.advance(0)

    def delivered() -> list[dict[str, Any]]:
        return [json.loads(line) for line in out.read_text().splitlines() if line]

    assert delivered() == [{"datas": ["p0", "p1", "p2"], "shards": ["shardId-000000000000"]}]
    manual_server.settle(600)
    assert delivered() == [
        {"datas": ["p0", "p1", "p2"], "shards": ["shardId-000000000000"]},
        {"datas": ["p0", "p1", "p2"], "shards": ["shardId-000000000000"]},
        {"datas": ["c0", "c1", "c2"], "shards": [child]},
    ]
    checkpoints = manual_server.emu.event_source_mappings.get(mapping["UUID"]).checkpoints  # type: ignore[union-attr]
    assert set(checkpoints) == {"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}


# ---- --creation-delays --------------------------------------------------------------------------

def test_creation_delays_pass_through_creating_and_updating(delayed: RunningServer) -> None:
    kinesis = delayed.client("kinesis")
    name = unique("stream")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert (description["StreamStatus"], description["Shards"]) == ("CREATING", [])
    with pytest.raises(ClientError) as excinfo:
        kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"")
    assert error_of(excinfo) == ("ResourceNotFoundException", f"Stream {name} under account {ACCOUNT} not found.")
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-0", ShardIteratorType="LATEST")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        f"Shard shardId-000000000000 in stream {name} under account {ACCOUNT} does not exist",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.split_shard(StreamName=name, ShardToSplit="shardId-0", NewStartingHashKey="2")
    assert error_of(excinfo) == (
        "ResourceInUseException", f"Stream {name} under account {ACCOUNT} not ACTIVE, instead in state CREATING",
    )
    delayed.advance(9)
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "CREATING"
    delayed.advance(1)
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE"

    kinesis.split_shard(StreamName=name, ShardToSplit="shard-0", NewStartingHashKey="2")
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamStatus"] == "UPDATING"
    assert [s["ShardId"] for s in description["Shards"]] == ["shardId-000000000000"]
    with pytest.raises(ClientError) as excinfo:
        kinesis.merge_shards(StreamName=name, ShardToMerge="0", AdjacentShardToMerge="1")
    assert error_of(excinfo) == (
        "ResourceInUseException", f"Stream {name} under account {ACCOUNT} not ACTIVE, instead in state UPDATING",
    )
    # While UPDATING the parent still takes records, as on AWS.
    assert kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"", ExplicitHashKey="1")["ShardId"] == (
        "shardId-000000000000"
    )
    delayed.advance(30)
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamStatus"] == "ACTIVE"
    assert len(description["Shards"]) == 3
    assert kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"", ExplicitHashKey="1")["ShardId"] == (
        "shardId-000000000001"
    )


def test_without_creation_delays_a_stream_is_active_at_once(kinesis: Any) -> None:
    name = new_stream(kinesis)
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE"
    kinesis.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"] == "ACTIVE"


# ---- --state-dir --------------------------------------------------------------------------------


def test_state_dir_keeps_closed_shards_and_lineage(tmp_path: Path) -> None:
    first = RunningServer(state_dir=tmp_path).start()
    try:
        kinesis = first.client("kinesis")
        name = new_stream(kinesis)
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"old", ExplicitHashKey="1")
        kinesis.split_shard(StreamName=name, ShardToSplit="0", NewStartingHashKey=str(HALF))
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"new", ExplicitHashKey="1")
        before = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
    finally:
        first.stop()
    second = RunningServer(state_dir=tmp_path).start()
    try:
        kinesis = second.client("kinesis")
        assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"] == before
        page = read_all(kinesis, name, "shardId-000000000000")
        assert [r["Data"] for r in page["Records"]] == [b"old"] and "NextShardIterator" not in page
        assert [r["Data"] for r in read_all(kinesis, name, "shardId-000000000001")["Records"]] == [b"new"]
        assert kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"", ExplicitHashKey="1")["ShardId"] == (
            "shardId-000000000001"
        )
    finally:
        second.stop()
