"""Template resources of the async, SQS and Kinesis issues, loaded into a real server and checked through
boto3: queues with redrive, streams, EventInvokeConfig, DeadLetterQueue, SAM Events, EventSourceMapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_emu.emulator.template.loader import TemplateError
from tests.support import RunningServer
from tests.test_template import load, logical, write_template

FAILING = "def handler(event, context):\\n    raise Exception('nope')\\n"
OK = "def handler(event, context):\\n    return {'ok': True}\\n"


def test_queues_functions_async_settings_and_mappings(manual_server: RunningServer, tmp_path: Path) -> None:
    dlq, source, failures, dead, fn, target, stream, consumer, mapping = (
        logical("Dlq"), logical("Source"), logical("Failures"), logical("Dead"), logical("Fn"), logical("Target"),
        logical("Stream"), logical("Consumer"), logical("Mapping"))
    path = write_template(tmp_path, f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          {source}:
            Type: AWS::SQS::Queue
            Properties:
              VisibilityTimeout: 45
              RedrivePolicy:
                deadLetterTargetArn: !GetAtt {dlq}.Arn
                maxReceiveCount: 3
          {dlq}:
            Type: AWS::SQS::Queue
            Properties:
              MessageRetentionPeriod: 1209600
          {failures}:
            Type: AWS::SQS::Queue
          {dead}:
            Type: AWS::SQS::Queue
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{FAILING}"
              DeadLetterQueue:
                Type: SQS
                TargetArn: !GetAtt {dead}.Arn
              EventInvokeConfig:
                MaximumRetryAttempts: 1
                MaximumEventAgeInSeconds: 600
                DestinationConfig:
                  OnFailure:
                    Type: SQS
                    Destination: !GetAtt {failures}.Arn
                  OnSuccess:
                    Type: Lambda
                    Destination: !GetAtt {target}.Arn
              Events:
                FromQueue:
                  Type: SQS
                  Properties:
                    Queue: !GetAtt {source}.Arn
                    BatchSize: 5
                    FunctionResponseTypes: [ReportBatchItemFailures]
                Nightly:
                  Type: Schedule
                  Properties:
                    Schedule: rate(1 day)
          {target}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{OK}"
          {stream}:
            Type: AWS::Kinesis::Stream
            Properties:
              ShardCount: 2
              RetentionPeriodHours: 48
          {consumer}:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              Role: arn:aws:iam::000000000000:role/r
              Code:
                ZipFile: "{OK}"
          {mapping}:
            Type: AWS::Lambda::EventSourceMapping
            Properties:
              FunctionName: !Ref {consumer}
              EventSourceArn: !GetAtt {stream}.Arn
              StartingPosition: TRIM_HORIZON
              BatchSize: "50"
              BisectBatchOnFunctionError: "true"
              MaximumRetryAttempts: 2
        """)
    load(manual_server, path)
    sqs, lam, kinesis = (manual_server.client(n) for n in ("sqs", "lambda", "kinesis"))

    source_url = sqs.get_queue_url(QueueName=source)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:000000000000:{dlq}", "maxReceiveCount": 3}
    dlq_url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["MessageRetentionPeriod"])[
        "Attributes"]["MessageRetentionPeriod"] == "1209600"

    config = lam.get_function_configuration(FunctionName=fn)
    assert config["DeadLetterConfig"] == {"TargetArn": f"arn:aws:sqs:us-east-1:000000000000:{dead}"}
    invoke_config = lam.get_function_event_invoke_config(FunctionName=fn)
    assert invoke_config["MaximumRetryAttempts"] == 1 and invoke_config["MaximumEventAgeInSeconds"] == 600
    assert invoke_config["DestinationConfig"] == {
        "OnSuccess": {"Destination": f"arn:aws:lambda:us-east-1:000000000000:function:{target}"},
        "OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:000000000000:{failures}"},
    }
    [sqs_mapping] = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert sqs_mapping["EventSourceArn"] == f"arn:aws:sqs:us-east-1:000000000000:{source}"
    assert sqs_mapping["BatchSize"] == 5 and sqs_mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2 and summary["RetentionPeriodHours"] == 48
    [stream_mapping] = lam.list_event_source_mappings(FunctionName=consumer)["EventSourceMappings"]
    assert stream_mapping["EventSourceArn"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"
    assert (stream_mapping["BatchSize"], stream_mapping["BisectBatchOnFunctionError"],
            stream_mapping["MaximumRetryAttempts"], stream_mapping["StartingPosition"]) == (50, True, 2, "TRIM_HORIZON")

    # The async settings work end to end: 2 attempts 60 s apart, then the failure queue and the DLQ.
    lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"from": "template"}')
    manual_server.advance(0)
    manual_server.advance(60)
    assert [a["attempt"] for a in manual_server.invocations(fn) if a["source"] == "async"] == [1, 2]
    failures_url = sqs.get_queue_url(QueueName=failures)["QueueUrl"]
    [record] = sqs.receive_message(QueueUrl=failures_url).get("Messages", [])
    assert json.loads(record["Body"])["requestContext"]["approximateInvokeCount"] == 2
    dead_url = sqs.get_queue_url(QueueName=dead)["QueueUrl"]
    [letter] = sqs.receive_message(QueueUrl=dead_url, MessageAttributeNames=["All"]).get("Messages", [])
    assert json.loads(letter["Body"]) == {"from": "template"}
    assert letter["MessageAttributes"]["ErrorMessage"]["StringValue"] == "nope"


def test_standalone_event_invoke_config_and_fifo_queue(manual_server: RunningServer, tmp_path: Path) -> None:
    fn, config, queue = logical("Fn"), logical("Config"), logical("Fifo")
    path = write_template(tmp_path, f"""
        Resources:
          {queue}:
            Type: AWS::SQS::Queue
            Properties:
              FifoQueue: true
              ContentBasedDeduplication: true
          {config}:
            Type: AWS::Lambda::EventInvokeConfig
            Properties:
              FunctionName: !Ref {fn}
              Qualifier: $LATEST
              MaximumRetryAttempts: 0
              DestinationConfig:
                OnFailure:
                  Destination: !GetAtt {queue}.Arn
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{OK}"
        """)
    load(manual_server, path)
    sqs, lam = manual_server.client("sqs"), manual_server.client("lambda")
    url = sqs.get_queue_url(QueueName=queue + ".fifo")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ContentBasedDeduplication"])[
        "Attributes"]["ContentBasedDeduplication"] == "true"
    got = lam.get_function_event_invoke_config(FunctionName=fn)
    assert got["MaximumRetryAttempts"] == 0
    assert got["DestinationConfig"]["OnFailure"] == {"Destination": f"arn:aws:sqs:us-east-1:000000000000:{queue}.fifo"}


@pytest.mark.parametrize(("body", "message"), [
    ("""
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "x"
              EventInvokeConfig:
                MaximumRetryAttempts: 5
    """, "maximumRetryAttempts"),
    ("""
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "x"
              Timeout: 60
              Events:
                Q:
                  Type: SQS
                  Properties:
                    Queue: !GetAtt {other}.Arn
          {other}:
            Type: AWS::SQS::Queue
    """, "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"),
    ("""
          {fn}:
            Type: AWS::Lambda::EventSourceMapping
            Properties:
              FunctionName: nowhere
    """, "EventSourceArn is required"),
])
def test_bad_resources_name_the_resource(manual_server: RunningServer, tmp_path: Path, body: str,
                                         message: str) -> None:
    fn, other = logical("Fn"), logical("Other")
    path = write_template(tmp_path, "Resources:\n" + body.format(fn=fn, other=other))
    with pytest.raises(TemplateError) as excinfo:
        load(manual_server, path)
    assert f"resource {fn}" in str(excinfo.value)
    assert message in str(excinfo.value)


def test_sam_kinesis_event_becomes_a_mapping(manual_server: RunningServer, tmp_path: Path) -> None:
    fn, stream, failures = logical("Fn"), logical("Stream"), logical("Failures")
    path = write_template(tmp_path, f"""
        Resources:
          {failures}:
            Type: AWS::SQS::Queue
          {stream}:
            Type: AWS::Kinesis::Stream
            Properties:
              Name: !Sub "${{AWS::StackName}}-{stream}"
              ShardCount: 1
          {fn}:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              InlineCode: "{OK}"
              Events:
                Records:
                  Type: Kinesis
                  Properties:
                    Stream: !GetAtt {stream}.Arn
                    StartingPosition: LATEST
                    BatchSize: 25
                    MaximumRecordAgeInSeconds: 120
                    DestinationConfig:
                      OnFailure:
                        Destination: !GetAtt {failures}.Arn
        """)
    load(manual_server, path)
    lam = manual_server.client("lambda")
    [mapping] = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert mapping["EventSourceArn"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/lambda-emu-{stream}"
    assert (mapping["StartingPosition"], mapping["BatchSize"], mapping["MaximumRecordAgeInSeconds"]) == (
        "LATEST", 25, 120)
    assert mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:000000000000:{failures}"}}
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
