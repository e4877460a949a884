"""`lambda-emu up --state-dir DIR` keeps DynamoDB tables (with their TTL setting and tags), items, streams and
their records across kill -9: a restored stream has the same ARN, shard ID and sequence numbers, so a stream
mapping resumes at its checkpoint and delivers every record it had not delivered (at least once)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, make_zip
from tests.test_state_dir import Emu, env, lines, up, wait_for  # noqa: F401 - the fixtures, shared

__all__ = ["env", "up"]

#: One line per record it is given, "ddb <pk> <n> <SequenceNumber> <eventName> <eventSourceARN>", written
#: after the gate: while $OUT.gate exists a batch holding a record with n >= 20 waits (up to 15 s, under
#: the 20 s timeout), so the kill lands with that batch in flight and the rest of the stream undelivered.
DDB_RECORDER = r'''
import json, os, time

OUT = os.environ["OUT"]


def handler(event, context):
    lines = []
    late = False
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        n = int(image["n"]["N"])
        late = late or n >= 20
        lines.append("ddb %s %s %s %s %s" % (image["pk"]["S"], n, record["dynamodb"]["SequenceNumber"],
                                             record["eventName"], record["eventSourceARN"]))
    if late and os.path.exists(OUT + ".gate"):
        deadline = time.monotonic() + 15
        while os.path.exists(OUT + ".gate") and time.monotonic() < deadline:
            time.sleep(0.05)
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode())
    finally:
        os.close(fd)
    return {"ok": True}
'''

KEYS = [{"AttributeName": "pk", "KeyType": "HASH"}]
ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}]


def read_all(streams: Any, stream_arn: str) -> list[dict[str, Any]]:
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator)
        records += page["Records"]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return records


def test_tables_and_items_survive_kill_9(up: Callable[..., Emu], tmp_path: Path) -> None:  # noqa: F811
    state = tmp_path / "state"
    first = up(state).ready()
    ddb = first.client("dynamodb")
    ddb.create_table(TableName="orders", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    ddb.update_time_to_live(TableName="orders", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    for i in range(5):
        ddb.put_item(TableName="orders", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "b": {"B": bytes([i])}})
    ddb.delete_item(TableName="orders", Key={"pk": {"S": "p"}, "sk": {"N": "0"}})
    ddb.update_item(TableName="orders", Key={"pk": {"S": "p"}, "sk": {"N": "1"}}, UpdateExpression="SET n = :n",
                    ExpressionAttributeValues={":n": {"N": "12345678901234567890123456789012345678"}})
    described = ddb.describe_table(TableName="orders")["Table"]
    records = read_all(first.client("dynamodbstreams"), described["LatestStreamArn"])
    first.kill9()

    second = up(state).ready()
    ddb = second.client("dynamodb")
    assert ddb.list_tables()["TableNames"] == ["orders"]
    table = ddb.describe_table(TableName="orders")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert (table["LatestStreamArn"], table["CreationDateTime"], table["TableId"]) == \
        (described["LatestStreamArn"], described["CreationDateTime"], described["TableId"])
    assert ddb.describe_time_to_live(TableName="orders")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    items = ddb.query(TableName="orders", KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    assert [i["sk"]["N"] for i in items] == ["1", "2", "3", "4"]
    assert items[0]["n"] == {"N": "12345678901234567890123456789012345678"}
    assert [i["b"]["B"] for i in items] == [bytes([1]), bytes([2]), bytes([3]), bytes([4])]
    # The stream's records are the first run's, exactly (restored items are no new writes: nothing more).
    assert len(records) == 7
    assert read_all(second.client("dynamodbstreams"), table["LatestStreamArn"]) == records
    ddb.delete_table(TableName="orders")
    second.kill9()
    third = up(state).ready()
    assert third.client("dynamodb").list_tables()["TableNames"] == []
    # The deleted table's stream stays readable (for 24 hours), DISABLED.
    description = third.client("dynamodbstreams").describe_stream(StreamArn=table["LatestStreamArn"])
    assert description["StreamDescription"]["StreamStatus"] == "DISABLED"
    assert read_all(third.client("dynamodbstreams"), table["LatestStreamArn"]) == records


def test_update_table_changes_come_back(up: Callable[..., Emu], tmp_path: Path) -> None:  # noqa: F811
    """Billing mode, throughput and indexes set by UpdateTable after CreateTable survive a kill -9, as does
    when the table went on-demand (BillingModeSummary.LastUpdateToPayPerRequestDateTime)."""
    state = tmp_path / "state"
    first = up(state).ready()
    ddb = first.client("dynamodb")
    ddb.create_table(TableName="grown", KeySchema=KEYS, AttributeDefinitions=ATTRIBUTES,
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    ddb.update_table(TableName="grown", BillingMode="PAY_PER_REQUEST")
    ddb.update_table(TableName="grown",
                     AttributeDefinitions=[*ATTRIBUTES, {"AttributeName": "g", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[{"Create": {
                         "IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "ALL"}}}])
    ddb.put_item(TableName="grown", Item={"pk": {"S": "a"}, "g": {"S": "x"}})
    before = ddb.describe_table(TableName="grown")["Table"]
    assert before["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    first.kill9()

    ddb = up(state).ready().client("dynamodb")
    after = ddb.describe_table(TableName="grown")["Table"]
    assert after["BillingModeSummary"] == before["BillingModeSummary"]
    assert [index["IndexName"] for index in after["GlobalSecondaryIndexes"]] == ["by-g"]
    assert after["AttributeDefinitions"] == before["AttributeDefinitions"]
    items = ddb.query(TableName="grown", IndexName="by-g", KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": "x"}})["Items"]
    assert [item["pk"]["S"] for item in items] == ["a"]


def test_kill_9_with_a_mapping_mid_stream_loses_no_stream_record(up: Callable[..., Emu], tmp_path: Path) -> None:
    state = tmp_path / "state"
    out = tmp_path / "out.txt"
    gate = Path(f"{out}.gate")
    gate.touch()
    first = up(state).ready()
    ddb, streams, lam = first.client("dynamodb"), first.client("dynamodbstreams"), first.client("lambda")
    table_arn = ddb.create_table(
        TableName="orders", KeySchema=KEYS, AttributeDefinitions=ATTRIBUTES, BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}],
    )["TableDescription"]["TableArn"]
    ddb.tag_resource(ResourceArn=table_arn, Tags=[{"Key": "team", "Value": "b"}, {"Key": "cost", "Value": "7"}])
    ddb.untag_resource(ResourceArn=table_arn, TagKeys=["env"])
    tags = ddb.list_tags_of_resource(ResourceArn=table_arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("cost", "7"), ("team", "b")]
    stream_arn = ddb.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    lam.create_function(FunctionName="recorder", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": DDB_RECORDER})}, Timeout=20,
                        Environment={"Variables": {"OUT": str(out)}})
    lam.create_event_source_mapping(FunctionName="recorder", EventSourceArn=stream_arn, BatchSize=10,
                                    StartingPosition="TRIM_HORIZON")
    keys = [f"k{i}" for i in range(5)]
    for n in range(40):  # 200 records, 40 per item, written key after key
        for key in keys:
            ddb.put_item(TableName="orders", Item={"pk": {"S": key}, "n": {"N": str(n)}})
    # The first 100 records (n < 20) are delivered before the kill; the next batch is held at the gate.
    wait_for(lambda: len(lines(out, "ddb")) >= 100, 120, "the stream's first 100 records before the kill")
    described = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    records = read_all(streams, stream_arn)
    assert len(records) == 200
    first.kill9()
    # Mid-stream: each batch past n = 20 waits up to 15 s at the gate, so most of the second half (at least
    # the held batch) was never delivered (a batch that was held the whole 15 s may have got through).
    before = len(lines(out, "ddb"))
    assert 100 <= before <= 150
    gate.unlink()

    second = up(state).ready()
    ddb, streams = second.client("dynamodb"), second.client("dynamodbstreams")
    # The same stream, with the same records and sequence numbers, as the Streams API reads it.
    assert ddb.describe_table(TableName="orders")["Table"]["LatestStreamArn"] == stream_arn
    assert streams.list_streams(TableName="orders")["Streams"] == [
        {"StreamArn": stream_arn, "TableName": "orders", "StreamLabel": described["StreamLabel"]}]
    assert streams.describe_stream(StreamArn=stream_arn)["StreamDescription"] == described
    assert read_all(streams, stream_arn) == records
    assert sorted((t["Key"], t["Value"]) for t in ddb.list_tags_of_resource(ResourceArn=table_arn)["Tags"]) == \
        [("cost", "7"), ("team", "b")]
    # The mapping resumed at its checkpoint: every record arrives, from the restored stream.
    wait_for(lambda: len({(line[0], line[1]) for line in lines(out, "ddb")}) == 200, 180,
             "every record to be delivered after the restart")
    delivered = lines(out, "ddb")
    assert {line[4] for line in delivered} == {stream_arn}
    assert {line[2] for line in delivered} == {r["dynamodb"]["SequenceNumber"] for r in records}
    # At least once, not from scratch: only the batch in flight at the kill may come again.
    assert len(delivered) <= 200 + 10
    for key in keys:
        seen = [int(line[1]) for line in delivered if line[0] == key]
        assert list(dict.fromkeys(seen)) == list(range(40))  # in write order per item
        assert [line[3] for line in delivered if line[0] == key][0] == "INSERT"
    # New writes go on the same stream, after the first run's records.
    ddb.put_item(TableName="orders", Item={"pk": {"S": "k0"}, "n": {"N": "40"}})
    wait_for(lambda: any(line[:2] == ["k0", "40"] for line in lines(out, "ddb")), 60, "the new write's record")
    [new] = [line for line in lines(out, "ddb") if line[:2] == ["k0", "40"]]
    assert int(new[2]) > max(int(r["dynamodb"]["SequenceNumber"]) for r in records)


def _stream_rows(state: Path) -> tuple[int, int]:
    with sqlite3.connect(state / "state.db") as db:
        counts = dict(db.execute("SELECT kind, COUNT(*) FROM records WHERE kind LIKE 'ddb-stream%' GROUP BY kind"))
    db.close()
    return counts.get("ddb-stream", 0), counts.get("ddb-stream-record", 0)


def test_retention_and_disabled_streams_on_the_clock(up: Callable[..., Emu], tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = up(state, "--clock", "manual").ready()
    ddb, streams = first.client("dynamodb"), first.client("dynamodbstreams")
    ddb.create_table(TableName="tab", KeySchema=KEYS, AttributeDefinitions=ATTRIBUTES, BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    old = ddb.describe_table(TableName="tab")["Table"]["LatestStreamArn"]
    ddb.put_item(TableName="tab", Item={"pk": {"S": "x1"}})
    first.emu_post("/_emu/clock/advance", {"seconds": 12 * 3600})
    ddb.put_item(TableName="tab", Item={"pk": {"S": "x2"}})
    ddb.update_table(TableName="tab", StreamSpecification={"StreamEnabled": False})
    first.emu_post("/_emu/clock/advance", {"seconds": 1})
    ddb.update_table(TableName="tab", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    new = ddb.describe_table(TableName="tab")["Table"]["LatestStreamArn"]
    ddb.put_item(TableName="tab", Item={"pk": {"S": "x3"}})
    listed = streams.list_streams(TableName="tab")["Streams"]
    old_description = streams.describe_stream(StreamArn=old)["StreamDescription"]
    old_records, new_records = read_all(streams, old), read_all(streams, new)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in old_records + new_records] == ["x1", "x2", "x3"]
    first.kill9()

    second = up(state, "--clock", "manual").ready()
    ddb, streams = second.client("dynamodb"), second.client("dynamodbstreams")
    assert [s["StreamArn"] for s in listed] == [old, new]
    assert streams.list_streams(TableName="tab")["Streams"] == listed
    assert streams.describe_stream(StreamArn=old)["StreamDescription"] == old_description
    assert old_description["StreamStatus"] == "DISABLED"
    assert (read_all(streams, old), read_all(streams, new)) == (old_records, new_records)
    assert ddb.describe_table(TableName="tab")["Table"]["LatestStreamArn"] == new
    # 25 hours after x1 was written, retention has trimmed it, also from the state directory.
    second.emu_post("/_emu/clock/advance", {"seconds": 13 * 3600})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, old)] == ["x2"]
    second.kill9()

    third = up(state, "--clock", "manual").ready()
    streams = third.client("dynamodbstreams")
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, old)] == ["x2"]
    assert _stream_rows(state) == (2, 2)
    # 24 hours after it was disabled, the old stream is gone; the new one has no records left either.
    third.emu_post("/_emu/clock/advance", {"seconds": 12 * 3600})
    assert [s["StreamArn"] for s in streams.list_streams(TableName="tab")["Streams"]] == [new]
    with pytest.raises(ClientError) as gone:
        streams.describe_stream(StreamArn=old)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert read_all(streams, new) == []
    third.kill9()

    fourth = up(state, "--clock", "manual").ready()
    streams = fourth.client("dynamodbstreams")
    assert [s["StreamArn"] for s in streams.list_streams()["Streams"]] == [new]
    assert _stream_rows(state) == (1, 0)
    # A reset clears the streams and their records, from the state directory too.
    fourth.emu_post("/_emu/reset", {})
    fourth.kill9()
    fifth = up(state, "--clock", "manual").ready()
    assert fifth.client("dynamodbstreams").list_streams()["Streams"] == []
    assert _stream_rows(state) == (0, 0)
