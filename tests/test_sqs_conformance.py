"""SQS differences from AWS that AWS-recorded suites found (issue 14), each against the real server."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, RunningServer, raw_request, unique


def _json_call(server: RunningServer, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, _, raw = raw_request(server.endpoint, "POST", "/", json.dumps(body).encode(), {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{operation}"})
    return status, json.loads(raw)


def test_batch_answers_omit_failed_when_nothing_failed(sqs: Any, server: RunningServer) -> None:
    url = sqs.create_queue(QueueName=unique("batch"))["QueueUrl"]
    status, sent = _json_call(server, "SendMessageBatch", {"QueueUrl": url, "Entries": [
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"}]})
    assert status == 200 and list(sent) == ["Successful"] and [e["Id"] for e in sent["Successful"]] == ["a", "b"]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    handles = [{"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
    status, changed = _json_call(server, "ChangeMessageVisibilityBatch", {"QueueUrl": url, "Entries": [
        {**h, "VisibilityTimeout": 60} for h in handles]})
    assert (status, changed) == (200, {"Successful": [{"Id": "m0"}, {"Id": "m1"}]})
    status, deleted = _json_call(server, "DeleteMessageBatch", {"QueueUrl": url, "Entries": handles})
    assert (status, deleted) == (200, {"Successful": [{"Id": "m0"}, {"Id": "m1"}]})
    # A failure still shows Failed (and boto3 sees the same shape).
    mixed = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "x", "ReceiptHandle": "garbage"}])
    assert mixed["Successful"] == [] and mixed["Failed"][0]["Id"] == "x"
    assert "Failed" not in sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "c", "MessageBody": "3"}])

    # The query protocol's XML has no <Failed> element either.
    data = urllib.parse.urlencode({"Version": "2012-11-05", "Action": "SendMessageBatch", "QueueUrl": url,
                                   "SendMessageBatchRequestEntry.1.Id": "q",
                                   "SendMessageBatchRequestEntry.1.MessageBody": "four"}).encode()
    status, _, raw = raw_request(server.endpoint, "POST", f"/{ACCOUNT}/x", data,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    text = raw.decode()
    assert status == 200 and "<SendMessageBatchResultEntry>" in text and "Failed" not in text


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_fifo_only_attributes_on_standard_queues(sqs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique("std"), Attributes={"FifoQueue": "false"})
    assert _error(exc) == ("InvalidAttributeName", "Unknown Attribute FifoQueue.", 400)
    for name, value in (("DeduplicationScope", "messageGroup"), ("FifoThroughputLimit", "perMessageGroupId")):
        with pytest.raises(ClientError) as exc:
            sqs.create_queue(QueueName=unique("std"), Attributes={name: value})
        assert _error(exc) == ("InvalidAttributeName",
                               f"You can specify the {name} only when FifoQueue is set to true.", 400)
    url = sqs.create_queue(QueueName=unique("std"))["QueueUrl"]
    for value in ("true", "false"):
        with pytest.raises(ClientError) as exc:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": value})
        assert _error(exc) == ("InvalidAttributeName", "Unknown Attribute FifoQueue.", 400)
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoThroughputLimit": "perQueue"})
    assert _error(exc) == ("InvalidAttributeName",
                           "You can specify the FifoThroughputLimit only when FifoQueue is set to true.", 400)

    fifo = sqs.create_queue(QueueName=unique("f") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "true"})
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "false"})
    assert _error(exc) == ("InvalidAttributeValue",
                           "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                           400)
    assert sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["FifoQueue"])["Attributes"] == {
        "FifoQueue": "true"}


def test_change_visibility_after_expiry_and_on_a_deleted_message(manual_sqs: Any,
                                                                  manual_server: RunningServer) -> None:
    url = manual_sqs.create_queue(QueueName=unique("vis"))["QueueUrl"]
    manual_sqs.send_message(QueueUrl=url, MessageBody="m")
    [msg] = manual_sqs.receive_message(QueueUrl=url, VisibilityTimeout=5)["Messages"]
    manual_server.advance(6)  # the visibility ran out: the message is receivable again
    answer = manual_sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"],
                                                  VisibilityTimeout=30)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Messages" not in manual_sqs.receive_message(QueueUrl=url)  # hidden again for the new timeout
    manual_server.advance(31)
    [again] = manual_sqs.receive_message(QueueUrl=url)["Messages"]
    manual_sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    with pytest.raises(ClientError) as exc:
        manual_sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=5)
    assert _error(exc) == ("InvalidParameterValue",
                           f"Value {again['ReceiptHandle']} for parameter ReceiptHandle is invalid. Reason: Message "
                           "does not exist or is not available for visibility timeout change.", 400)


def test_message_attribute_names_all_star_and_prefix(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("names"))["QueueUrl"]
    attributes = {name: {"DataType": "String", "StringValue": name.lower()} for name in ("Hello", "Help", "Other")}
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)

    def received(names: list[str]) -> list[str]:
        [msg] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0)["Messages"]
        return sorted(msg.get("MessageAttributes", {}))

    assert received(["All"]) == received(["*"]) == received([".*"]) == ["Hello", "Help", "Other"]
    assert received(["Hel.*"]) == ["Hello", "Help"]
    assert received(["Help"]) == ["Help"]
    assert received(["Nothing.*"]) == []


def test_x_amzn_trace_id_header_becomes_aws_trace_header(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("trace"))["QueueUrl"]
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = trace

    sqs.meta.events.register("before-sign.sqs.SendMessage", add_header)
    try:
        sent = sqs.send_message(QueueUrl=url, MessageBody="traced")
    finally:
        sqs.meta.events.unregister("before-sign.sqs.SendMessage", add_header)
    assert "MD5OfMessageSystemAttributes" not in sent  # the client sent no system attributes
    [msg] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
    assert msg["Attributes"] == {"AWSTraceHeader": trace}


def test_sse_kms_and_sqs_managed_sse_together_and_key_reset(sqs: Any) -> None:
    message = ("You can use one type of server-side encryption (SSE) at one time. "
               "You can either enable KMS SSE or SQS SSE.")
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique("sse"), Attributes={
            "SqsManagedSseEnabled": "true", "KmsMasterKeyId": "alias/aws/sqs"})
    assert _error(exc) == ("InvalidAttributeName", message, 400)
    url = sqs.create_queue(QueueName=unique("sse"))["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={
            "SqsManagedSseEnabled": "true", "KmsMasterKeyId": "alias/aws/sqs"})
    assert _error(exc) == ("InvalidAttributeName", message, 400)

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "alias/aws/sqs",
                                                       "KmsDataKeyReusePeriodSeconds": "600"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (got["KmsMasterKeyId"], got["KmsDataKeyReusePeriodSeconds"]) == ("alias/aws/sqs", "600")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": ""})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "KmsMasterKeyId" not in got and "KmsDataKeyReusePeriodSeconds" not in got


def test_fifo_batch_without_group_or_dedup_id_fails_the_whole_call(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("fb") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
            {"Id": "nogroup", "MessageBody": "b", "MessageDeduplicationId": "d2"}])
    assert _error(exc) == ("MissingParameter", "The request must contain the parameter MessageGroupId.", 400)
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
            {"Id": "nodedup", "MessageBody": "b", "MessageGroupId": "g"}])
    assert _error(exc) == ("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled "
                           "or MessageDeduplicationId provided explicitly", 400)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # nothing of either call was sent


def test_purge_clears_the_fifo_deduplication_cache(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("fp") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="same")
    sqs.purge_queue(QueueUrl=url)
    second = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="same")
    assert second["MessageId"] != first["MessageId"]
    [msg] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert msg["MessageId"] == second["MessageId"]


def test_fifo_queue_delay_applies_to_a_message_saying_delay_zero(manual_sqs: Any,
                                                                  manual_server: RunningServer) -> None:
    url = manual_sqs.create_queue(QueueName=unique("fd") + ".fifo", Attributes={
        "FifoQueue": "true", "DelaySeconds": "10", "ContentBasedDeduplication": "true"})["QueueUrl"]
    manual_sqs.send_message(QueueUrl=url, MessageBody="late", MessageGroupId="g", DelaySeconds=0)
    assert "Messages" not in manual_sqs.receive_message(QueueUrl=url)
    manual_server.advance(10)
    assert [m["Body"] for m in manual_sqs.receive_message(QueueUrl=url)["Messages"]] == ["late"]
