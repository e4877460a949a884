"""DynamoDB end to end: boto3's dynamodb client against a real lambda-emu server (tables, items, the
expression language, transactions and AWS's errors)."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, unique

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def ddb(server: RunningServer) -> Any:
    return server.client("dynamodb")


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def new_table(client: Any, *, range_key: bool = False, **extra: Any) -> str:
    """A table; its CreateTable answer is checked as AWS writes it (no WarmThroughput yet, a TableId)."""
    name = unique("table")
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
    created = client.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=attributes,
                                  BillingMode="PAY_PER_REQUEST", **extra)["TableDescription"]
    assert "WarmThroughput" not in created and "TableId" in created
    return name


# ---- tables ------------------------------------------------------------------------------------


def test_create_describe_list_delete(ddb: Any) -> None:
    name = new_table(ddb, range_key=True)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["TableArn"] == f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert "LatestStreamArn" not in table
    # As AWS describes a table: a TableId (stable per table), no empty secondary-index lists.
    assert "GlobalSecondaryIndexes" not in table and "LocalSecondaryIndexes" not in table
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", table["TableId"])
    assert ddb.describe_table(TableName=name)["Table"]["TableId"] == table["TableId"]
    names = []
    for page in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 1}):
        names += page["TableNames"]
    assert name in names

    with pytest.raises(ClientError) as excinfo:
        new_table_again = ddb.create_table(
            TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        assert new_table_again is None
    assert error_of(excinfo) == ("ResourceInUseException", f"Table already exists: {name}")

    ddb.delete_table(TableName=name)
    with pytest.raises(ClientError) as excinfo:
        ddb.describe_table(TableName=name)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert error_of(excinfo)[1].startswith("Requested resource not found")


def test_billing_mode_summary_as_aws_writes_it(ddb: Any, manual_server: RunningServer) -> None:
    """CreateTable answers the billing mode alone; UpdateTable, DescribeTable (and DeleteTable) say since when an
    on-demand table is on demand: its creation, or the UpdateTable that switched it (LocalStack's AWS-recorded
    test_event_source_mapping_lifecycle and DynamoDB snapshots)."""
    schema = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
              "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}
    name = unique("table")
    created = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **schema)["TableDescription"]
    assert created["BillingModeSummary"] == {"BillingMode": "PAY_PER_REQUEST"}
    since = {"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": created["CreationDateTime"]}
    updated = ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                                    "StreamViewType": "NEW_IMAGE"})
    assert updated["TableDescription"]["BillingModeSummary"] == since
    assert ddb.describe_table(TableName=name)["Table"]["BillingModeSummary"] == since
    assert ddb.delete_table(TableName=name)["TableDescription"]["BillingModeSummary"] == since

    manual = manual_server.client("dynamodb")
    name = unique("table")
    provisioned = manual.create_table(TableName=name, BillingMode="PROVISIONED", **schema,
                                      ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    created_at = provisioned["TableDescription"]["CreationDateTime"]
    described = manual.describe_table(TableName=name)["Table"]
    assert "LastUpdateToPayPerRequestDateTime" not in described.get("BillingModeSummary", {})
    manual_server.advance(90)
    switched = manual.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")["TableDescription"]
    assert switched["BillingModeSummary"] == {"BillingMode": "PAY_PER_REQUEST",
                                              "LastUpdateToPayPerRequestDateTime": created_at + timedelta(seconds=90)}
    manual_server.advance(30)
    assert manual.describe_table(TableName=name)["Table"]["BillingModeSummary"] == switched["BillingModeSummary"]


def test_tags_and_ttl_settings(ddb: Any) -> None:
    name = new_table(ddb)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}


# ---- items and the expression language ---------------------------------------------------------


def test_put_get_round_trips_every_type_exactly(ddb: Any) -> None:
    name = new_table(ddb)
    item = {
        "pk": {"S": "a"},
        "big": {"N": "12345678901234567890123456789012345678"},
        "small": {"N": "-0.000000000000000000000000000000000001"},
        "bin": {"B": b"\x00\xffbinary"},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2.5"]},
        "list": {"L": [{"S": "s"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]},
        "map": {"M": {"nested": {"M": {"deep": {"S": "yes"}}}}},
    }
    ddb.put_item(TableName=name, Item=item)
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert got["big"] == {"N": "12345678901234567890123456789012345678"}
    assert got["small"] == item["small"]
    assert got["bin"] == {"B": b"\x00\xffbinary"}
    assert sorted(got["bs"]["BS"]) == [b"\x01", b"\x02"]
    assert sorted(got["ss"]["SS"]) == ["x", "y"] and sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert got["list"] == item["list"] and got["map"] == item["map"]
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "missing"}}).get("Item") is None


def test_numbers_keep_38_digits_in_arithmetic(ddb: Any) -> None:
    name = new_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "n"}, "v": {"N": "10000000000000000000000000000000000000"}})
    result = ddb.update_item(TableName=name, Key={"pk": {"S": "n"}}, UpdateExpression="SET v = v + :one, w = v - :one",
                             ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")
    assert result["Attributes"]["v"] == {"N": "10000000000000000000000000000000000001"}
    assert result["Attributes"]["w"] == {"N": "9999999999999999999999999999999999999"}


def test_conditional_put_attribute_not_exists(ddb: Any) -> None:
    name = new_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "u1"}, "v": {"N": "1"}},
                 ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "u1"}, "v": {"N": "2"}},
                     ConditionExpression="attribute_not_exists(pk)",
                     ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert error_of(excinfo) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert excinfo.value.response["Item"] == {"pk": {"S": "u1"}, "v": {"N": "1"}}
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "u1"}})["Item"]["v"] == {"N": "1"}


def test_update_expressions_set_remove_add_delete(ddb: Any) -> None:
    name = new_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "count": {"N": "5"}, "tags": {"SS": ["a", "b"]},
                                       "gone": {"S": "x"}, "items": {"L": [{"S": "first"}]}})
    result = ddb.update_item(
        TableName=name, Key={"pk": {"S": "k"}},
        UpdateExpression=("SET #c = #c - :two, created = if_not_exists(created, :now), #i = list_append(#i, :more) "
                          "REMOVE gone ADD visits :one DELETE tags :a"),
        ExpressionAttributeNames={"#c": "count", "#i": "items"},
        ExpressionAttributeValues={":two": {"N": "2"}, ":now": {"N": "100"}, ":more": {"L": [{"S": "second"}]},
                                   ":one": {"N": "1"}, ":a": {"SS": ["a"]}},
        ReturnValues="UPDATED_NEW")
    attributes = result["Attributes"]
    assert attributes["count"] == {"N": "3"}
    assert attributes["created"] == {"N": "100"}
    assert attributes["visits"] == {"N": "1"}
    item = ddb.get_item(TableName=name, Key={"pk": {"S": "k"}})["Item"]
    assert "gone" not in item
    assert item["tags"] == {"SS": ["b"]}
    assert item["items"] == {"L": [{"S": "first"}, {"S": "second"}]}


@pytest.mark.parametrize(("condition", "values", "passes"), [
    ("v BETWEEN :lo AND :hi", {":lo": {"N": "1"}, ":hi": {"N": "5"}}, True),
    ("v IN (:lo, :hi)", {":lo": {"N": "1"}, ":hi": {"N": "5"}}, False),
    ("begins_with(s, :p) AND contains(s, :c)", {":p": {"S": "hel"}, ":c": {"S": "llo"}}, True),
    ("attribute_type(s, :t)", {":t": {"S": "N"}}, False),
    ("size(s) > :n OR NOT attribute_exists(v)", {":n": {"N": "4"}}, True),
    ("v <> :v", {":v": {"N": "3"}}, False),
])
def test_condition_expression_language(ddb: Any, condition: str, values: dict[str, Any], passes: bool) -> None:
    name = new_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "c"}, "v": {"N": "3"}, "s": {"S": "hello"}})
    call = {"TableName": name, "Key": {"pk": {"S": "c"}}, "UpdateExpression": "SET touched = :yes",
            "ConditionExpression": condition, "ExpressionAttributeValues": {**values, ":yes": {"BOOL": True}}}
    if passes:
        ddb.update_item(**call)
        assert ddb.get_item(TableName=name, Key={"pk": {"S": "c"}})["Item"]["touched"] == {"BOOL": True}
    else:
        with pytest.raises(ClientError) as excinfo:
            ddb.update_item(**call)
        assert error_of(excinfo) == ("ConditionalCheckFailedException", "The conditional request failed")


@pytest.mark.parametrize(("call", "message"), [
    ({"UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}, ":unused": {"S": "y"}}},
     "1 validation error detected: Value provided in ExpressionAttributeValues unused in expressions: keys: "
     "{:unused}"),
    ({"UpdateExpression": "SET #a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}}},
     "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; "
     "attribute name: #a"),
    ({"UpdateExpression": "SET a = :a"},
     "Invalid UpdateExpression: An expression attribute value used in expression is not defined; "
     "attribute value: :a"),
])
def test_expression_validation_messages(ddb: Any, call: dict[str, Any], message: str) -> None:
    name = new_table(ddb)
    with pytest.raises(ClientError) as excinfo:
        ddb.update_item(TableName=name, Key={"pk": {"S": "x"}}, **call)
    assert error_of(excinfo) == ("ValidationException", message)


def test_key_schema_mismatch_and_missing_table(ddb: Any) -> None:
    name = new_table(ddb)
    with pytest.raises(ClientError) as excinfo:
        ddb.get_item(TableName=name, Key={"other": {"S": "x"}})
    assert error_of(excinfo) == ("ValidationException", "The provided key element does not match the schema")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=unique("missing"), Item={"pk": {"S": "x"}})
    assert error_of(excinfo) == ("ResourceNotFoundException", "Requested resource not found")


def test_item_over_400_kb_is_refused(ddb: Any) -> None:
    name = new_table(ddb)
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "big"}, "blob": {"S": "x" * (400 * 1024)}})
    assert error_of(excinfo) == ("ValidationException", "Item size has exceeded the maximum allowed size")


def test_query_scan_pagination_and_index(ddb: Any) -> None:
    name = unique("table")
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"},
                              {"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-colour",
                                 "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    for i in range(7):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                           "colour": {"S": "red" if i % 2 else "blue"}})
    seen: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        page = ddb.query(TableName=name, KeyConditionExpression="pk = :p AND sk >= :one", Limit=2,
                         ScanIndexForward=False, ExpressionAttributeValues={":p": {"S": "p"}, ":one": {"N": "1"}},
                         **({"ExclusiveStartKey": start} if start else {}))
        seen += [item["sk"]["N"] for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert seen == ["6", "5", "4", "3", "2", "1"]
    filtered = ddb.query(TableName=name, KeyConditionExpression="pk = :p", FilterExpression="colour = :c",
                         ExpressionAttributeValues={":p": {"S": "p"}, ":c": {"S": "red"}})
    assert [i["sk"]["N"] for i in filtered["Items"]] == ["1", "3", "5"]
    assert filtered["ScannedCount"] == 7 and filtered["Count"] == 3
    by_index = ddb.query(TableName=name, IndexName="by-colour", KeyConditionExpression="colour = :c",
                         ExpressionAttributeValues={":c": {"S": "blue"}})
    assert sorted(i["sk"]["N"] for i in by_index["Items"]) == ["0", "2", "4", "6"]
    scanned = [item for page in ddb.get_paginator("scan").paginate(TableName=name, PaginationConfig={"PageSize": 3})
               for item in page["Items"]]
    assert len(scanned) == 7
    projected = ddb.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "1"}}, ProjectionExpression="#c",
                             ExpressionAttributeNames={"#c": "colour"})["Item"]
    assert projected == {"colour": {"S": "red"}}


def test_batch_write_and_get(ddb: Any) -> None:
    name = new_table(ddb)
    ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": f"b{i}"}}}} for i in range(5)]})
    ddb.batch_write_item(RequestItems={name: [{"DeleteRequest": {"Key": {"pk": {"S": "b0"}}}}]})
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [{"pk": {"S": f"b{i}"}} for i in range(5)]}})
    assert sorted(i["pk"]["S"] for i in got["Responses"][name]) == ["b1", "b2", "b3", "b4"]
    assert got["UnprocessedKeys"] == {}


def test_transactions_are_all_or_nothing(ddb: Any) -> None:
    name = new_table(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "existing"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as excinfo:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}}}},
            {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "existing"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    code, message = error_of(excinfo)
    assert code == "TransactionCanceledException"
    assert message == ("Transaction cancelled, please refer cancellation reasons for specific reasons "
                       "[None, ConditionalCheckFailed]")
    assert excinfo.value.response["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}]
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "new"}})

    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}}}},
        {"Update": {"TableName": name, "Key": {"pk": {"S": "existing"}}, "UpdateExpression": "SET v = v + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ])
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": {"pk": {"S": k}}}}
                                                for k in ("new", "existing")])
    assert [r["Item"]["pk"]["S"] for r in got["Responses"]] == ["new", "existing"]
    assert got["Responses"][1]["Item"]["v"] == {"N": "2"}


def test_resource_api_with_decimals(server: RunningServer) -> None:
    """The high-level resource API (TypeSerializer's Decimals and Binary) a handler would use."""
    import boto3
    from boto3.dynamodb.conditions import Attr, Key

    resource = boto3.resource("dynamodb", endpoint_url=server.endpoint, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x")
    name = new_table(server.client("dynamodb"), range_key=True)
    table = resource.Table(name)
    table.put_item(Item={"pk": "r", "sk": 1, "price": Decimal("19.99"), "raw": base64.b64decode("AAE=")})
    table.put_item(Item={"pk": "r", "sk": 2, "price": Decimal("5")})
    items = table.query(KeyConditionExpression=Key("pk").eq("r"), FilterExpression=Attr("price").gt(10))["Items"]
    assert items == [{"pk": "r", "sk": Decimal("1"), "price": Decimal("19.99"), "raw": items[0]["raw"]}]
    assert bytes(items[0]["raw"]) == b"\x00\x01"
