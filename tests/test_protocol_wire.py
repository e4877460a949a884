"""The JSON protocols' wire errors as AWS answers them (kinesalite's suite, run against AWS: test/helpers.js
assertType / assertSerialization, test/connection.js): SerializationException for a member of the
wrong type with Coral's wording under ``Message``, UnknownOperationException without a message, Coral's
answers to a body in a content type it does not read, and empty bodies for operations without output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_emu.emulator.protocol import cbor
from tests.support import RunningServer, raw_request, unique

KINESIS = "application/x-amz-json-1.1"
NUMBER = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"


def kinesis_call(server: RunningServer, operation: str, body: bytes,
                 content_type: str | None = KINESIS) -> tuple[int, dict[str, str], bytes]:
    headers = {"X-Amz-Target": f"Kinesis_20131202.{operation}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return raw_request(server.endpoint, "POST", "/", body, headers)


@pytest.mark.parametrize(("operation", "document", "message"), [
    ("DescribeStream", {"StreamName": True}, "class java.lang.Boolean can not be converted to an String"),
    ("DescribeStream", {"StreamName": 23}, f"{NUMBER} can not be converted to an String"),
    ("DescribeStream", {"StreamName": 34.56}, f"{NUMBER} can not be converted to an String"),
    ("DescribeStream", {"StreamName": []}, "Start of list found where not expected"),
    ("DescribeStream", {"StreamName": {}}, "Start of structure or map found where not expected."),
    ("CreateStream", {"StreamName": "s", "ShardCount": "23"},
     "class java.lang.String can not be converted to an Integer"),
    ("CreateStream", {"StreamName": "s", "ShardCount": True},
     "class java.lang.Boolean can not be converted to an Integer"),
    ("PutRecords", {"Records": "23"}, "Expected list or null"),
    ("PutRecords", {"Records": {}}, "Start of structure or map found where not expected."),
    ("PutRecords", {"Records": [23]}, "Expected null"),
    ("PutRecords", {"Records": [[]]}, "Start of list found where not expected"),
    ("AddTagsToStream", {"Tags": "23"}, "Expected map or null"),
    ("AddTagsToStream", {"Tags": []}, "Start of list found where not expected"),
    ("AddTagsToStream", {"Tags": {"a": 23}}, f"{NUMBER} can not be converted to an String"),
    ("PutRecord", {"Data": True}, "class java.lang.Boolean can not be converted to a Blob"),
    ("PutRecord", {"Data": 23}, f"{NUMBER} can not be converted to a Blob"),
    ("PutRecord", {"Data": "23456"}, "'23456' can not be converted to a Blob: Base64 encoded length is expected a "
                                     "multiple of 4 bytes but found: 5"),
    ("PutRecord", {"Data": "=+/="}, "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"),
    ("PutRecord", {"Data": "+/+="}, "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character "
                                    "dectected"),
    ("GetShardIterator", {"Timestamp": "23"},
     "class java.lang.String can not be converted to milliseconds since epoch"),
    ("GetShardIterator", {"Timestamp": True},
     "class java.lang.Boolean can not be converted to milliseconds since epoch"),
    ("DeleteStream", {"EnforceConsumerDeletion": "23"}, "'23' can not be converted to an Boolean"),
    ("DeleteStream", {"EnforceConsumerDeletion": 23}, f"{NUMBER} can not be converted to an Boolean"),
])
def test_wrong_types_are_serialization_exceptions(server: RunningServer, operation: str, document: dict[str, Any],
                                                  message: str) -> None:
    status, headers, body = kinesis_call(server, operation, json.dumps(document).encode())
    assert (status, headers["Content-Type"]) == (400, KINESIS)
    assert json.loads(body) == {"__type": "SerializationException", "Message": message}


def test_strings_coral_reads_as_booleans(server: RunningServer, kinesis: Any) -> None:
    name = unique("bools")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    status, _, body = kinesis_call(server, "DeleteStream",
                                   json.dumps({"StreamName": name, "EnforceConsumerDeletion": "yes"}).encode())
    assert (status, body) == (200, b"")


@pytest.mark.parametrize("body", [b"", b"hello", b"null", b"23"])
def test_an_unreadable_body_is_a_serialization_exception_without_a_message(server: RunningServer, body: bytes) -> None:
    status, headers, answer = kinesis_call(server, "ListStreams", body)
    assert (status, headers["Content-Type"], json.loads(answer)) == (400, KINESIS, {"__type": "SerializationException"})


@pytest.mark.parametrize("target", ["Kinesis_20131202.Whatever", "Kinesis_20131202.ListStream", "Kinesis_20131202.",
                                    "Whatever.ListStreams", "Whatever"])
def test_an_unknown_target_is_a_bare_unknown_operation(server: RunningServer, target: str) -> None:
    status, headers, body = raw_request(server.endpoint, "POST", "/", b"{}",
                                        {"X-Amz-Target": target, "Content-Type": KINESIS})
    assert (status, headers["Content-Type"]) == (400, KINESIS)
    assert json.loads(body) == {"__type": "UnknownOperationException"}


def test_content_types_coral_does_not_read(server: RunningServer) -> None:
    # No body, no Content-Type (or one not Kinesis's own): Coral falls back to CBOR.
    for content_type in (None, "application/x-amz-json-1.0", "text/plain"):
        status, headers, body = kinesis_call(server, "ListStreams", b"", content_type)
        assert (status, headers["Content-Type"]) == (400, "application/x-amz-cbor-1.1")
        assert cbor.loads(body) == {"__type": "SerializationException"}
    status, headers, body = kinesis_call(server, "Whatever", b"", None)
    assert (status, cbor.loads(body)) == (400, {"__type": "UnknownOperationException"})
    # Coral's legacy JSON RPC envelope for application/json.
    status, headers, body = kinesis_call(server, "ListStreams", b"{}", "application/json")
    assert (status, headers["Content-Type"], json.loads(body)) == (
        404, "application/json", {"Output": {"__type": "com.amazon.coral.service#UnknownOperationException"},
                                  "Version": "1.0"})
    status, _, body = kinesis_call(server, "ListStreams", b"hello", "     application/json     ;")
    assert (status, json.loads(body)) == (
        400, {"Output": {"__type": "com.amazon.coral.service#SerializationException"}, "Version": "1.0"})
    # Any other body: a bare XML answer.
    status, headers, body = kinesis_call(server, "ListStreams", b"{}", "text/plain")
    assert (status, body) == (404, b"<UnknownOperationException/>\n")
    status, _, body = raw_request(server.endpoint, "POST", "/", b"{}", {"X-Amz-Target": "Whatever",
                                                                        "Content-Type": "text/plain"})
    assert (status, body) == (403, b"<AccessDeniedException>\n  <Message>Unable to determine service/operation name "
                                   b"to be authorized</Message>\n</AccessDeniedException>\n")


def test_operations_without_output_answer_an_empty_body(server: RunningServer, kinesis: Any) -> None:
    name = unique("empty")
    for operation, document in [
        ("CreateStream", {"StreamName": name, "ShardCount": 1}),
        ("AddTagsToStream", {"StreamName": name, "Tags": {"team": "core"}}),
        ("RemoveTagsFromStream", {"StreamName": name, "TagKeys": ["team"]}),
        ("IncreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 48}),
        ("DecreaseStreamRetentionPeriod", {"StreamName": name, "RetentionPeriodHours": 24}),
        ("DeleteStream", {"StreamName": name}),
    ]:
        status, headers, body = kinesis_call(server, operation, json.dumps(document).encode())
        assert (operation, status, body, headers["Content-Length"]) == (operation, 200, b"", "0")
    # And boto3 reads them as it reads AWS's.
    other = unique("empty")
    assert kinesis.create_stream(StreamName=other, ShardCount=1)["ResponseMetadata"]["HTTPStatusCode"] == 200
    kinesis.delete_stream(StreamName=other)


def test_sqs_type_errors_in_its_coral_type(server: RunningServer) -> None:
    status, headers, body = raw_request(server.endpoint, "POST", "/", json.dumps({"QueueName": 5}).encode(), {
        "X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert json.loads(body) == {"__type": "com.amazon.coral.service#SerializationException",
                                "Message": f"{NUMBER} can not be converted to an String"}
