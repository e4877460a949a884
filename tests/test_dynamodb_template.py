"""DynamoDB in templates: AWS::DynamoDB::Table (StreamSpecification, TimeToLiveSpecification, !Ref,
!GetAtt Arn / StreamArn), AWS::Serverless::SimpleTable, SAM Events of Type DynamoDB and
AWS::Lambda::EventSourceMapping on a table's stream; and POST /_emu/reset forgets the tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, raw_request
from tests.test_template import load, logical, write_template

OK = "def handler(event, context):\\n    return {'ok': True}\\n"


def test_tables_streams_ttl_and_mappings_from_a_template(manual_server: RunningServer, tmp_path: Path) -> None:
    table, simple, fn, other, mapping = (logical("Table"), logical("Simple"), logical("Fn"), logical("Other"),
                                         logical("Mapping"))
    path = write_template(tmp_path, f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          {table}:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: !Sub "${{AWS::StackName}}-{table}"
              BillingMode: PAY_PER_REQUEST
              KeySchema:
                - {{AttributeName: pk, KeyType: HASH}}
                - {{AttributeName: sk, KeyType: RANGE}}
              AttributeDefinitions:
                - {{AttributeName: pk, AttributeType: S}}
                - {{AttributeName: sk, AttributeType: N}}
              StreamSpecification:
                StreamViewType: NEW_AND_OLD_IMAGES
              TimeToLiveSpecification:
                AttributeName: expires
                Enabled: true
          {simple}:
            Type: AWS::Serverless::SimpleTable
            Properties:
              PrimaryKey:
                Name: UserId
                Type: String
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{OK}"
              Environment:
                Variables:
                  TABLE: !Ref {table}
                  TABLE_ARN: !GetAtt {table}.Arn
                  SIMPLE: !Ref {simple}
              Events:
                Changes:
                  Type: DynamoDB
                  Properties:
                    Stream: !GetAtt {table}.StreamArn
                    StartingPosition: TRIM_HORIZON
                    BatchSize: 50
                    BisectBatchOnFunctionError: true
          {other}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{OK}"
          {mapping}:
            Type: AWS::Lambda::EventSourceMapping
            Properties:
              FunctionName: !Ref {other}
              EventSourceArn: !GetAtt {table}.StreamArn
              StartingPosition: LATEST
        """)
    load(manual_server, path)
    ddb, lam = manual_server.client("dynamodb"), manual_server.client("lambda")
    name = f"lambda-emu-{table}"
    described = ddb.describe_table(TableName=name)["Table"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    environment = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
    assert environment == {"TABLE": name, "TABLE_ARN": described["TableArn"], "SIMPLE": simple}
    simple_table = ddb.describe_table(TableName=simple)["Table"]
    assert simple_table["KeySchema"] == [{"AttributeName": "UserId", "KeyType": "HASH"}]
    assert simple_table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [from_events] = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert from_events["EventSourceArn"] == described["LatestStreamArn"]
    assert (from_events["StartingPosition"], from_events["BatchSize"], from_events["BisectBatchOnFunctionError"]) == (
        "TRIM_HORIZON", 50, True)
    [standalone] = lam.list_event_source_mappings(FunctionName=other)["EventSourceMappings"]
    assert standalone["EventSourceArn"] == described["LatestStreamArn"]
    assert standalone["StartingPosition"] == "LATEST"


def test_reset_forgets_tables_and_streams() -> None:
    server = RunningServer(clock="manual").start()
    try:
        ddb = server.client("dynamodb")
        ddb.create_table(TableName="kept-until-reset", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        ddb.put_item(TableName="kept-until-reset", Item={"pk": {"S": "a"}})
        status, _, _ = raw_request(server.endpoint, "POST", "/_emu/reset")
        assert status == 200
        assert ddb.list_tables()["TableNames"] == []
        assert server.client("dynamodbstreams").list_streams()["Streams"] == []
        # The same name can be created again, empty.
        ddb.create_table(TableName="kept-until-reset", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        assert ddb.scan(TableName="kept-until-reset")["Items"] == []
    finally:
        server.stop()


def test_creation_delays_table_is_creating_then_active() -> None:
    """--creation-delays: a new table is CREATING for a few seconds of platform time, refusing item
    operations as AWS does, then ACTIVE."""
    server = RunningServer(clock="manual", creation_delays=True).start()
    try:
        ddb = server.client("dynamodb")
        created = ddb.create_table(TableName="slow", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                   BillingMode="PAY_PER_REQUEST")["TableDescription"]
        assert created["TableStatus"] == "CREATING"
        assert ddb.describe_table(TableName="slow")["Table"]["TableStatus"] == "CREATING"
        with pytest.raises(ClientError) as excinfo:
            ddb.put_item(TableName="slow", Item={"pk": {"S": "early"}})
        assert excinfo.value.response["Error"] == {"Code": "ResourceNotFoundException",
                                                   "Message": "Requested resource not found"}
        server.advance(5)
        assert ddb.describe_table(TableName="slow")["Table"]["TableStatus"] == "ACTIVE"
        ddb.put_item(TableName="slow", Item={"pk": {"S": "now"}})
    finally:
        server.stop()
