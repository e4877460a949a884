"""Review of issue 4 against AWS's recorded wire behaviour: the JSON protocol's error ``__type`` and
``x-amzn-query-error`` pairs for SQS's generic errors (as botocore then parses them), the query
protocol's NonExistentQueue wording, RedrivePolicy errors, ListDeadLetterSourceQueues without
sources, the receive count a dead-lettered message carries, and the SQS mapping's
StateTransitionReason."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, REGION, RunningServer, create_python_function, raw_request, unique


def json_call(server: RunningServer, operation: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    status, headers, raw = raw_request(server.endpoint, "POST", "/", body, {
        "X-Amz-Target": f"AmazonSQS.{operation}", "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-query-mode": "true"})
    return status, headers, json.loads(raw)


def test_generic_errors_carry_coral_types(server: RunningServer, sqs: Any) -> None:
    """AWS answers SQS's unmodeled errors with Coral's __type and the legacy code in the header, so
    botocore reports Code (from the header) and QueryErrorCode (from __type) differently."""
    url = sqs.create_queue(QueueName=unique("errs"))["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert type(exc.value) is ClientError
    error = exc.value.response["Error"]
    assert (error["Code"], error["QueryErrorCode"], error["Type"]) == (
        "InvalidParameterValue", "InvalidParameterValueException", "Sender")

    status, headers, body = json_call(server, "ReceiveMessage",
                                      json.dumps({"QueueUrl": url, "MaxNumberOfMessages": 11}).encode())
    assert (status, headers["x-amzn-query-error"], body["__type"]) == (
        400, "InvalidParameterValue;Sender", "com.amazon.coral.service#InvalidParameterValueException")

    status, headers, body = json_call(server, "SendMessage", json.dumps({"QueueUrl": url, "MessageBody": ""}).encode())
    assert (status, headers["x-amzn-query-error"], body["__type"]) == (
        400, "MissingParameter;Sender", "com.amazon.coral.service#MissingRequiredParameterException")
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="")
    assert (exc.value.response["Error"]["Code"], exc.value.response["Error"]["QueryErrorCode"]) == (
        "MissingParameter", "MissingRequiredParameterException")

    # Modeled errors keep their own shape name in __type (so botocore raises the modeled class).
    status, headers, body = json_call(server, "GetQueueUrl", json.dumps({"QueueName": unique("none")}).encode())
    assert (status, headers["x-amzn-query-error"], body) == (
        400, "AWS.SimpleQueueService.NonExistentQueue;Sender",
        {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."})


def test_malformed_json_and_unknown_operation(server: RunningServer) -> None:
    status, headers, body = json_call(server, "SendMessage", b"{not json")
    assert (status, headers["x-amzn-query-error"], body["__type"]) == (
        400, "MalformedInput;Sender", "com.amazon.coral.service#SerializationException")
    status, headers, body = json_call(server, "NoSuchOperation", b"{}")
    assert (status, headers["x-amzn-query-error"], body["__type"]) == (
        400, "InvalidAction;Sender", "com.amazon.coral.service#UnknownOperationException")


def test_query_protocol_nonexistent_queue_wording(server: RunningServer) -> None:
    """The query protocol words NonExistentQueue as SQS always did ("... for this wsdl version.")."""
    data = urllib.parse.urlencode({"Action": "GetQueueUrl", "QueueName": unique("none"),
                                   "Version": "2012-11-05"}).encode()
    request = urllib.request.Request(server.endpoint + "/", data=data,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=30)
    text = exc.value.read().decode()
    assert exc.value.code == 400
    assert ("<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist for "
            "this wsdl version.</Message>") in text


def test_redrive_policy_errors_are_invalid_parameter_value(sqs: Any) -> None:
    dlq_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=unique("src"))["QueueUrl"]
    missing = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('gone')}"
    cases = [
        (json.dumps({"deadLetterTargetArn": missing, "maxReceiveCount": 3}), "Dead letter target does not exist."),
        (json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 0}),
         "Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive."),
    ]
    for policy, reason in cases:
        with pytest.raises(ClientError) as exc:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
        error = exc.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "InvalidParameterValue", f"Value {policy} for parameter RedrivePolicy is invalid. Reason: {reason}")


def test_list_dead_letter_source_queues_without_sources(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("lonely"))["QueueUrl"]
    response = sqs.list_dead_letter_source_queues(QueueUrl=url)
    del response["ResponseMetadata"]
    assert response == {}


def test_dead_lettered_message_keeps_its_receive_count(manual_server: RunningServer, manual_sqs: Any) -> None:
    dlq_url = manual_sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = manual_sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = manual_sqs.create_queue(QueueName=unique("src"), Attributes={
        "VisibilityTimeout": "5",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    sent = manual_sqs.send_message(QueueUrl=url, MessageBody="poison")
    first = None
    for _ in range(2):
        got = manual_sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"][0]
        first = first or got["Attributes"]["ApproximateFirstReceiveTimestamp"]
        manual_server.advance(6)
    assert "Messages" not in manual_sqs.receive_message(QueueUrl=url)
    moved = manual_sqs.receive_message(QueueUrl=dlq_url, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Attributes"]["ApproximateReceiveCount"] == "3"
    assert moved["Attributes"]["ApproximateFirstReceiveTimestamp"] == first
    assert moved["Attributes"]["DeadLetterQueueSourceArn"].endswith(":" + url.rsplit("/", 1)[1])


def test_sqs_mapping_state_transition_reason(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any) -> None:
    """SQS mappings report USER_INITIATED (AWS's CLI and API reference examples); streams "User action"."""
    url = manual_sqs.create_queue(QueueName=unique("esm"))["QueueUrl"]
    arn = manual_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = create_python_function(manual_lam, "def handler(event, context):\n    return None\n")
    created = manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)
    try:
        assert (created["State"], created["StateTransitionReason"]) == ("Creating", "USER_INITIATED")
        manual_server.advance(0)
        got = manual_lam.get_event_source_mapping(UUID=created["UUID"])
        assert (got["State"], got["StateTransitionReason"]) == ("Enabled", "USER_INITIATED")
    finally:
        manual_lam.delete_event_source_mapping(UUID=created["UUID"])


def test_queue_type_cannot_change(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("f") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(sqs.exceptions.InvalidAttributeValue) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "false"})
    assert exc.value.response["Error"]["Message"] == (
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")
