"""SQS end to end through boto3 (JSON protocol) against a real lambda-emu server."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, REGION, RunningServer, create_python_function, raw_request, unique


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_queue_lifecycle_urls_and_listing(sqs: Any, server: RunningServer) -> None:
    prefix = unique("life")
    urls = [sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(3)]
    assert urls[0] == f"{server.endpoint}/{ACCOUNT}/{prefix}-0"
    assert sqs.get_queue_url(QueueName=f"{prefix}-1")["QueueUrl"] == urls[1]
    assert sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"] == urls
    page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert page["QueueUrls"] == urls[:2]
    rest = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=page["NextToken"])
    assert rest["QueueUrls"] == urls[2:] and "NextToken" not in rest
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique("none"))
    # A queue URL naming another host still finds the queue by account and name.
    foreign = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{prefix}-0"
    sqs.send_message(QueueUrl=foreign, MessageBody="x")
    sqs.delete_queue(QueueUrl=urls[0])
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as exc:
        sqs.get_queue_attributes(QueueUrl=urls[0], AttributeNames=["All"])
    assert code_of(exc) == ("AWS.SimpleQueueService.NonExistentQueue", 400)
    with pytest.raises(sqs.exceptions.QueueDeletedRecently) as exc:
        sqs.create_queue(QueueName=f"{prefix}-0")
    assert code_of(exc) == ("AWS.SimpleQueueService.QueueDeletedRecently", 400)


def test_create_queue_errors(sqs: Any) -> None:
    name = unique("exists")
    sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})
    with pytest.raises(sqs.exceptions.QueueNameExists) as exc:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "6"})
    assert code_of(exc) == ("QueueAlreadyExists", 400)
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName="bad name")
    assert code_of(exc) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=unique("f"), Attributes={"FifoQueue": "true"})
    assert code_of(exc)[0] == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.InvalidAttributeName) as exc:
        sqs.create_queue(QueueName=unique("a"), Attributes={"ContentBasedDeduplication": "true"})
    assert code_of(exc) == ("InvalidAttributeName", 400)
    with pytest.raises(sqs.exceptions.InvalidAttributeValue):
        sqs.create_queue(QueueName=unique("a"), Attributes={"MessageRetentionPeriod": "59"})


def test_queue_attributes_shapes(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = unique("attrs")
    url = sqs.create_queue(QueueName=name, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "4"})})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    assert attributes["RedrivePolicy"] == json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4},
                                                     separators=(",", ":"))
    for key in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
                "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled"):
        assert isinstance(attributes[key], str) and attributes[key], key
    assert "FifoQueue" not in attributes
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "30"}
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45", "DelaySeconds": "3"})
    changed = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "DelaySeconds"])
    assert changed["Attributes"] == {"VisibilityTimeout": "45", "DelaySeconds": "3"}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]

    fifo = sqs.create_queue(QueueName=unique("f") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fifo_attributes = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert (fifo_attributes["FifoQueue"], fifo_attributes["ContentBasedDeduplication"]) == ("true", "false")


def test_send_receive_md5s_and_attribute_filters(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("msgs"))["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "WeeksOn": {"DataType": "Number", "StringValue": "6"},
        "Author": {"DataType": "String", "StringValue": "John Grisham"},
        "Title": {"DataType": "String", "StringValue": "The Whistler"},
    }, MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})
    assert sent["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert sent["MD5OfMessageAttributes"] == "d25a6aea97eb8f585bfa92d314504a92"
    assert "MD5OfMessageSystemAttributes" in sent and "SequenceNumber" not in sent

    [message] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"],
                                    MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == "d25a6aea97eb8f585bfa92d314504a92"
    assert message["MessageAttributes"]["WeeksOn"] == {"StringValue": "6", "DataType": "Number"}
    assert set(message["Attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                          "ApproximateFirstReceiveTimestamp", "AWSTraceHeader"}
    assert message["Attributes"]["AWSTraceHeader"] == "Root=1-abc"
    assert all(isinstance(v, str) for v in message["Attributes"].values())

    [bare] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    assert set(bare) == {"MessageId", "ReceiptHandle", "MD5OfBody", "Body"}

    [only] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["Title"],
                                 MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert list(only["MessageAttributes"]) == ["Title"]
    assert only["Attributes"] == {"ApproximateReceiveCount": "3"}
    assert only["MD5OfMessageAttributes"] != sent["MD5OfMessageAttributes"]  # covers the returned ones only
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # in flight now


def test_message_attribute_prefix_filter(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("prefix"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={
        "meta.a": {"DataType": "String", "StringValue": "1"},
        "meta.b": {"DataType": "Binary", "BinaryValue": b"\x01"},
        "other": {"DataType": "String", "StringValue": "2"},
    })
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["meta.*"])["Messages"]
    assert message["MessageAttributes"] == {"meta.a": {"StringValue": "1", "DataType": "String"},
                                            "meta.b": {"BinaryValue": b"\x01", "DataType": "Binary"}}


def test_legacy_attribute_names(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("legacy"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["SentTimestamp"])["Messages"]
    assert list(message["Attributes"]) == ["SentTimestamp"]


def test_limits_and_batch_errors(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("limits"), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert code_of(exc) == ("InvalidParameterValue", 400)
    assert "Message must be shorter than 1024 bytes" in exc.value.response["Error"]["Message"]
    with pytest.raises(sqs.exceptions.InvalidMessageContents):
        sqs.send_message(QueueUrl=url, MessageBody="\x01")
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={
            "AWS.x": {"DataType": "String", "StringValue": "v"}})
    assert code_of(exc)[0] == "InvalidParameterValue"

    entries = [{"Id": f"e{i}", "MessageBody": "m"} for i in range(11)]
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as exc:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert code_of(exc) == ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400)
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "m"}] * 2)
    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "bad id", "MessageBody": "m"}])
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    big = sqs.create_queue(QueueName=unique("big"))["QueueUrl"]
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(QueueUrl=big, Entries=[{"Id": f"e{i}", "MessageBody": "x" * 200_000}
                                                      for i in range(6)])
    result = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "ok", "MessageBody": "m"},
                                                           {"Id": "huge", "MessageBody": "x" * 2000}])
    assert [e["Id"] for e in result["Successful"]] == ["ok"]
    assert result["Failed"][0]["Id"] == "huge" and result["Failed"][0]["SenderFault"] is True
    with pytest.raises(ClientError) as exc:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert code_of(exc)[0] == "InvalidParameterValue"


def test_receipt_handles_and_visibility(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("vis"))["QueueUrl"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as exc:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert code_of(exc) == ("ReceiptHandleIsInvalid", 404)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "a"}, {"Id": "b", "MessageBody": "b"}])
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in messages) == ["a", "b"]
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": messages[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "junk", "VisibilityTimeout": 0}])
    assert changed["Successful"] == [{"Id": "a"}]
    assert changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    [again] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert again["MessageId"] == messages[0]["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    with pytest.raises(ClientError) as exc:  # a deleted message: AWS's InvalidParameterValue
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=5)
    assert code_of(exc) == ("InvalidParameterValue", 400)
    sqs.purge_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as exc:
        sqs.purge_queue(QueueUrl=url)
    assert code_of(exc) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)


def test_tags(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("tags"), tags={"a": "1"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"b": "2"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1", "b": "2"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["a", "b"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


def test_fifo_groups_dedup_and_sequence_numbers(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("fifo") + ".fifo",
                           Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    assert len(first["SequenceNumber"]) == 20
    assert sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")["MessageId"] == first["MessageId"]
    sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="a", MessageDeduplicationId="x")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert code_of(exc) == ("MissingParameter", 400)

    [head] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert head["Body"] == "a1"
    assert head["Attributes"]["MessageGroupId"] == "a"
    assert head["Attributes"]["SequenceNumber"] == first["SequenceNumber"]
    # Group a is locked while a1 is in flight.
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=head["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["a2"]


def test_deliver_internal_api(server: RunningServer, sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("dest"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert server.emu is not None
    store = server.emu.sqs.store
    async def deliver() -> str:
        return store.deliver(arn, '{"raise_error": 1}', {
            "RequestID": {"DataType": "String", "StringValue": "req-1"},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"}})

    # The store belongs to the server's event loop: call it there.
    message_id = asyncio.run_coroutine_threadsafe(deliver(), server.loop).result(10)
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message["MessageId"] == message_id
    assert message["Body"] == '{"raise_error": 1}'
    assert message["MessageAttributes"]["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}


# ---- on the manual clock -----------------------------------------------------------------------


def test_redrive_to_dlq_after_max_receive_count(manual_sqs: Any, manual_server: RunningServer) -> None:
    dlq = manual_sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = manual_sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = manual_sqs.create_queue(QueueName=unique("src"), Attributes={
        "VisibilityTimeout": "10",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    sent = manual_sqs.send_message(QueueUrl=source, MessageBody='{"fail": true}')
    for count in ("1", "2"):
        [message] = manual_sqs.receive_message(QueueUrl=source,
                                               MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
        assert message["Attributes"]["ApproximateReceiveCount"] == count
        assert "Messages" not in manual_sqs.receive_message(QueueUrl=source)
        manual_server.advance(10)
    assert "Messages" not in manual_sqs.receive_message(QueueUrl=source)  # moved on the third attempt
    [dead] = manual_sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert (dead["MessageId"], dead["Body"]) == (sent["MessageId"], '{"fail": true}')
    assert set(dead) == {"MessageId", "ReceiptHandle", "MD5OfBody", "Body"}

    # Redrive back to the source with a message move task.
    manual_sqs.change_message_visibility(QueueUrl=dlq, ReceiptHandle=dead["ReceiptHandle"], VisibilityTimeout=0)
    handle = manual_sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    [task] = manual_sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 1 and task["ApproximateNumberOfMessagesToMove"] == 1
    assert task["SourceArn"] == dlq_arn and "TaskHandle" not in task and isinstance(task["StartedTimestamp"], int)
    with pytest.raises(ClientError) as exc:
        manual_sqs.cancel_message_move_task(TaskHandle=handle)
    assert code_of(exc)[0] == "AWS.SimpleQueueService.UnsupportedOperation"
    [back] = manual_sqs.receive_message(QueueUrl=source, MessageSystemAttributeNames=["All"])["Messages"]
    assert back["MessageId"] == sent["MessageId"]
    assert back["Attributes"]["ApproximateReceiveCount"] == "1"


def test_long_poll_on_the_manual_clock(manual_sqs: Any, manual_server: RunningServer) -> None:
    url = manual_sqs.create_queue(QueueName=unique("poll"), Attributes={"DelaySeconds": "5"})["QueueUrl"]
    manual_sqs.send_message(QueueUrl=url, MessageBody="later")
    result: dict[str, Any] = {}

    def poll() -> None:
        result["response"] = manual_sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)

    thread = threading.Thread(target=poll)
    thread.start()
    thread.join(0.2)
    assert thread.is_alive()  # waiting on the clock, not on wall time
    manual_server.advance(5)
    thread.join(10)
    assert [m["Body"] for m in result["response"]["Messages"]] == ["later"]

    thread = threading.Thread(target=poll)
    thread.start()
    thread.join(0.2)
    assert thread.is_alive()
    manual_server.advance(20)
    thread.join(10)
    assert "Messages" not in result["response"]


def test_queue_recreate_after_60_seconds(manual_sqs: Any, manual_server: RunningServer) -> None:
    name = unique("again")
    manual_sqs.delete_queue(QueueUrl=manual_sqs.create_queue(QueueName=name)["QueueUrl"])
    with pytest.raises(manual_sqs.exceptions.QueueDeletedRecently):
        manual_sqs.create_queue(QueueName=name)
    manual_server.advance(60)
    assert manual_sqs.create_queue(QueueName=name)["QueueUrl"].endswith(f"/{name}")


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
