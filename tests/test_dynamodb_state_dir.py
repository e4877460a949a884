"""`lambda-emu up --state-dir DIR` keeps DynamoDB tables (with their TTL setting) and items across kill -9;
streams and their records are not kept (a restored table's stream starts with no records)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.test_state_dir import Emu, env, up  # noqa: F401 - the fixtures, shared

__all__ = ["env", "up"]


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
    first.kill9()

    second = up(state).ready()
    ddb = second.client("dynamodb")
    assert ddb.list_tables()["TableNames"] == ["orders"]
    table = ddb.describe_table(TableName="orders")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert ddb.describe_time_to_live(TableName="orders")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    items = ddb.query(TableName="orders", KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    assert [i["sk"]["N"] for i in items] == ["1", "2", "3", "4"]
    assert items[0]["n"] == {"N": "12345678901234567890123456789012345678"}
    assert [i["b"]["B"] for i in items] == [bytes([1]), bytes([2]), bytes([3]), bytes([4])]
    # Restored items are not new writes: the stream has no records.
    streams = second.client("dynamodbstreams")
    stream_arn = table["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert streams.get_records(ShardIterator=iterator)["Records"] == []
    ddb.delete_table(TableName="orders")
    second.kill9()
    third = up(state).ready()
    assert third.client("dynamodb").list_tables()["TableNames"] == []
