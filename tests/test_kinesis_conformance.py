"""Kinesis inputs as AWS reads and refuses them (kinesalite's AWS-checked suite and the spec §8.2):
shard id forms, the two shard-not-found messages, tags, SequenceNumberForOrdering, on-demand by default,
quoted shard iterators. boto3 against a real lambda-emu server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, unique

ACCOUNT = "000000000000"
INVALID_TAG_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
)


@pytest.fixture(scope="module")
def unchecked(server: RunningServer) -> Any:
    """A client that sends what it is given, so the server's own checks answer."""
    return server.client("kinesis", parameter_validation=False)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def new_stream(client: Any, shards: int = 1) -> str:
    name = unique("stream")
    client.create_stream(StreamName=name, ShardCount=shards)
    return name


@pytest.mark.parametrize("given", ["shardId-1", "shard-1", "1", "anything-1", "-00000001", "shardId-000000000001"])
def test_every_shard_id_form_aws_reads(kinesis: Any, given: str) -> None:
    name = new_stream(kinesis, 2)
    put = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x", ExplicitHashKey=str(2**128 - 1))
    assert put["ShardId"] == "shardId-000000000001"
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=given, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["SequenceNumber"] for r in records] == [put["SequenceNumber"]]


def test_a_readable_id_of_no_shard_and_an_unreadable_id_have_different_messages(kinesis: Any) -> None:
    name = new_stream(kinesis)
    for given in ("shardId-5", "shard-5", "5", "x-00000005"):
        with pytest.raises(ClientError) as excinfo:
            kinesis.get_shard_iterator(StreamName=name, ShardId=given, ShardIteratorType="LATEST")
        assert error_of(excinfo) == (
            "ResourceNotFoundException",
            f"Shard shardId-000000000005 in stream {name} under account {ACCOUNT} does not exist",
        )
    for given in ("2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4", "shardId-"):
        with pytest.raises(ClientError) as excinfo:
            kinesis.get_shard_iterator(StreamName=name, ShardId=given, ShardIteratorType="LATEST")
        assert error_of(excinfo) == (
            "ResourceNotFoundException",
            f"Could not find shard {given} in stream {name} under account {ACCOUNT}.",
        )


def test_an_unknown_stream_reads_as_an_unknown_shard_in_get_shard_iterator(kinesis: Any) -> None:
    name = unique("nostream")
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_shard_iterator(StreamName=name, ShardId="junk-2147483647", ShardIteratorType="LATEST")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        f"Shard shardId-002147483647 in stream {name} under account {ACCOUNT} does not exist",
    )
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_shard_iterator(StreamName=name, ShardId="2147483648", ShardIteratorType="LATEST")
    assert error_of(excinfo) == (
        "ResourceNotFoundException", f"Could not find shard 2147483648 in stream {name} under account {ACCOUNT}.",
    )


def test_a_sequence_number_of_another_shard(kinesis: Any) -> None:
    name = new_stream(kinesis, 2)
    other = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"", ExplicitHashKey=str(2**128 - 1))
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_shard_iterator(StreamName=name, ShardId="shard-0", ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   StartingSequenceNumber=other["SequenceNumber"])
    assert error_of(excinfo) == (
        "InvalidArgumentException",
        "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard "
        "with shardId-000000000000",
    )


@pytest.mark.parametrize("bad", ["abc;def", "abc\tdef", "abc\ndef", "abc,def"])
def test_tag_characters_outside_aws_alphabet(kinesis: Any, bad: str) -> None:
    name = new_stream(kinesis)
    for tags in ({bad: "1"}, {"a": bad}):
        with pytest.raises(ClientError) as excinfo:
            kinesis.add_tags_to_stream(StreamName=name, Tags=tags)
        assert error_of(excinfo) == ("InvalidArgumentException", INVALID_TAG_CHARACTERS)
    with pytest.raises(ClientError) as excinfo:
        kinesis.create_stream(StreamName=unique("stream"), ShardCount=1, Tags={bad: "1"})
    assert error_of(excinfo) == ("InvalidArgumentException", INVALID_TAG_CHARACTERS)
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == []


def test_percent_in_a_tag_has_its_own_message(kinesis: Any) -> None:
    name = new_stream(kinesis)
    for tags in ({"abc%def": "1"}, {"a": "abc%def"}):
        with pytest.raises(ClientError) as excinfo:
            kinesis.add_tags_to_stream(StreamName=name, Tags=tags)
        assert error_of(excinfo) == (
            "InvalidArgumentException",
            f"Failed to add tags to stream {name} under account {ACCOUNT} because some tags contained illegal "
            "characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.",
        )


def test_every_allowed_tag_character_is_kept(kinesis: Any) -> None:
    name = new_stream(kinesis)
    tags = {"a": "a", "ü0 _.": "a", "/=+-@": "a", "b": "ü0 _./=+-@", "c": ""}
    kinesis.add_tags_to_stream(StreamName=name, Tags=tags)
    listed = kinesis.list_tags_for_stream(StreamName=name)["Tags"]
    assert {t["Key"]: t["Value"] for t in listed} == tags


def test_a_tag_key_over_128_characters(unchecked: Any) -> None:
    key = "k" * 129
    with pytest.raises(ClientError) as excinfo:
        unchecked.add_tags_to_stream(StreamName=unique("nostream"), Tags={"a": "1", key: "3"})
    assert error_of(excinfo) == (
        "ValidationException",
        f"1 validation error detected: Value '{{a=1, {key}=3}}' at 'tags' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1]",
    )


def test_sequence_number_for_ordering(kinesis: Any, unchecked: Any) -> None:
    name = new_stream(kinesis)
    first = kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"1")
    second = kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"2",
                                SequenceNumberForOrdering=first["SequenceNumber"])
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    elsewhere = new_stream(kinesis)
    foreign = kinesis.put_record(StreamName=elsewhere, PartitionKey="a", Data=b"")["SequenceNumber"]
    for bad in ("26227199374822427428162556223570313216", "0", foreign):
        with pytest.raises(ClientError) as excinfo:
            unchecked.put_record(StreamName=name, PartitionKey="a", Data=b"", SequenceNumberForOrdering=bad)
        assert error_of(excinfo) == (
            "InvalidArgumentException",
            f"ExclusiveMinimumSequenceNumber {bad} used in PutRecord on stream {name} under account {ACCOUNT} "
            "is invalid.",
        )


def test_create_stream_without_shard_count_is_on_demand_with_four_shards(kinesis: Any) -> None:
    name = unique("stream")
    kinesis.create_stream(StreamName=name)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 4
    assert len(kinesis.list_shards(StreamName=name)["Shards"]) == 4
    with pytest.raises(ClientError) as excinfo:
        kinesis.create_stream(StreamName=unique("stream"), StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert error_of(excinfo)[0] == "ValidationException"


def test_a_quoted_shard_iterator_is_read_as_the_iterator(kinesis: Any) -> None:
    name = new_stream(kinesis)
    put = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x")
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = kinesis.get_records(ShardIterator=f'"{iterator}"')
    assert [r["SequenceNumber"] for r in page["Records"]] == [put["SequenceNumber"]]
    with pytest.raises(ClientError) as excinfo:
        kinesis.get_records(ShardIterator=f'"{iterator}')
    assert error_of(excinfo) == ("InvalidArgumentException", "Invalid ShardIterator.")


def test_remove_tags_checks_the_keys_alphabet(kinesis: Any) -> None:
    name = new_stream(kinesis)
    with pytest.raises(ClientError) as excinfo:
        kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["abc;def"])
    assert error_of(excinfo) == ("InvalidArgumentException", INVALID_TAG_CHARACTERS)
    with pytest.raises(ClientError) as excinfo:
        kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["abc%def"])
    assert error_of(excinfo) == (
        "InvalidArgumentException",
        f"Failed to remove tags from stream {name} under account {ACCOUNT} because some tags contained illegal "
        "characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.",
    )


def test_list_shards_without_a_stream_or_a_token(unchecked: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        unchecked.list_shards()
    assert error_of(excinfo) == ("InvalidArgumentException", "Either NextToken or StreamName should be provided.")
