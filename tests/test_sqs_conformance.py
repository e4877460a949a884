"""SQS differences from AWS that AWS-recorded suites found (issue 14), each against the real server."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import ACCOUNT, RunningServer, create_python_function, raw_request, unique


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
    # Back to the defaults in one call, the reuse period's default included: AWS lists neither.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "k", "KmsDataKeyReusePeriodSeconds": "6000"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "", "KmsDataKeyReusePeriodSeconds": "300"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "KmsMasterKeyId" not in got and "KmsDataKeyReusePeriodSeconds" not in got


def test_fifo_batch_without_group_or_dedup_id_fails_the_whole_call(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("fb") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
            {"Id": "nogroup", "MessageBody": "b", "MessageDeduplicationId": "d2"}])
    # InvalidParameterValue in a batch (AWS-recorded in LocalStack's test_sqs.snapshot.json), not MissingParameter.
    assert _error(exc) == ("InvalidParameterValue", "The request must contain the parameter MessageGroupId.", 400)
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


def _region_client(server: RunningServer, region: str) -> Any:
    return boto3.client("sqs", endpoint_url=server.endpoint, region_name=region, aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))


def _query(server: RunningServer, method: str, path: str, params: dict[str, str], region: str = "us-east-1",
           accept: str | None = None) -> tuple[int, str]:
    """A query-protocol request whose SigV4 credential scope names ``region`` (nothing checks signatures)."""
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential=x/20260101/{region}/sqs/aws4_request, "
                                "SignedHeaders=host, Signature=0"}
    if accept:
        headers["Accept"] = accept
    form = urllib.parse.urlencode({"Version": "2012-11-05", **params})
    if method == "GET":
        status, _, raw = raw_request(server.endpoint, "GET", f"{path}?{form}" if params else path, None, headers)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, _, raw = raw_request(server.endpoint, "POST", path, form.encode(), headers)
    return status, raw.decode()


def test_queue_url_forms_as_aws_reads_them(sqs: Any, server: RunningServer) -> None:
    name = unique("urls")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    # A bare queue name stands for the queue (JSON and query protocol).
    sent = sqs.send_message(QueueUrl=name, MessageBody="by name")
    assert sent["ResponseMetadata"]["HTTPStatusCode"] == 200 and sent["MD5OfMessageBody"]
    status, text = _query(server, "POST", "/", {"Action": "SendMessage", "QueueUrl": name, "MessageBody": "q"})
    assert status == 200 and "<SendMessageResponse" in text
    # The query protocol's QueueUrl parameter wins over the path it was sent to.
    other = sqs.create_queue(QueueName=unique("other"))["QueueUrl"]
    status, text = _query(server, "GET", urllib.parse.urlparse(url).path, {
        "Action": "GetQueueAttributes", "QueueUrl": other, "AttributeName.1": "QueueArn"})
    assert status == 200 and other.rsplit("/", 1)[1] in text and f":{name}<" not in text
    # A JSON-protocol request posted to the queue's URL path is served there.
    on_url = boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    answer = on_url.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.0"
    assert sorted(m["Body"] for m in answer["Messages"]) == ["by name", "q"]
    # Unknown and foreign URLs are a missing queue in each protocol's words, never InvalidAddress.
    for unknown in ("http://whatever-incorrect-queue-address", f"{server.endpoint}/{ACCOUNT}/{unique('none')}",
                    f"{server.endpoint}/111111111111/{name}", unique("nosuchname"), "https://sqs.eu-west-1."
                    f"amazonaws.com/{ACCOUNT}/{name}"):
        with pytest.raises(ClientError) as exc:
            sqs.get_queue_attributes(QueueUrl=unknown, AttributeNames=["All"])
        assert exc.value.response["Error"] == {
            "Code": "AWS.SimpleQueueService.NonExistentQueue", "QueryErrorCode": "QueueDoesNotExist",
            "Message": "The specified queue does not exist.", "Type": "Sender"}, unknown
        status, text = _query(server, "POST", "/", {"Action": "GetQueueAttributes", "QueueUrl": unknown})
        assert status == 400 and "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in text
        assert "<Message>The specified queue does not exist for this wsdl version.</Message>" in text


def test_queues_are_per_region(server: RunningServer, lam: Any) -> None:
    name = unique("regional")
    west, north = _region_client(server, "us-west-1"), _region_client(server, "eu-north-1")
    west_url = west.create_queue(QueueName=name)["QueueUrl"]
    north_url = north.create_queue(QueueName=name)["QueueUrl"]
    assert west_url == f"{server.endpoint}/queue/us-west-1/{ACCOUNT}/{name}"
    assert north_url == f"{server.endpoint}/queue/eu-north-1/{ACCOUNT}/{name}"
    west_arn = west.get_queue_attributes(QueueUrl=west_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    north_arn = north.get_queue_attributes(QueueUrl=north_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert west_arn == f"arn:aws:sqs:us-west-1:{ACCOUNT}:{name}"
    assert north_arn == f"arn:aws:sqs:eu-north-1:{ACCOUNT}:{name}"
    assert west.get_queue_url(QueueName=name)["QueueUrl"] == west_url
    assert west.list_queues(QueueNamePrefix=name)["QueueUrls"] == [west_url]
    assert north.list_queues(QueueNamePrefix=name)["QueueUrls"] == [north_url]
    with pytest.raises(ClientError) as exc:
        _region_client(server, "us-east-1").get_queue_url(QueueName=name)
    assert exc.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"

    # Over the query protocol too: a message sent in one region is not received in the other.
    status, _ = _query(server, "POST", urllib.parse.urlparse(west_url).path,
                       {"Action": "SendMessage", "MessageBody": "foobar"}, region="us-west-1")
    assert status == 200
    status, text = _query(server, "POST", urllib.parse.urlparse(north_url).path,
                          {"Action": "ReceiveMessage", "VisibilityTimeout": "0"}, region="eu-north-1")
    assert status == 200 and "foobar" not in text
    status, text = _query(server, "POST", urllib.parse.urlparse(west_url).path,
                          {"Action": "ReceiveMessage", "VisibilityTimeout": "0"}, region="us-west-1")
    assert status == 200 and "<Body>foobar</Body>" in text

    # Redrive finds the dead-letter queue by its ARN in its region.
    source = west.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": west_arn, "maxReceiveCount": 1})})["QueueUrl"]
    assert west.list_dead_letter_source_queues(QueueUrl=west_url)["queueUrls"] == [source]
    with pytest.raises(ClientError) as exc:  # eu-north-1's queue of that name has another ARN
        north.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": f"arn:aws:sqs:eu-north-1:{ACCOUNT}:{unique('absent')}", "maxReceiveCount": 1})})
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"

    # An event source mapping finds the queue by its ARN and receives from it (not from us-west-1's).
    function = create_python_function(lam, "def handler(event, context):\n    return None\n")
    north.send_message(QueueUrl=north_url, MessageBody="to the function")
    mapping = lam.create_event_source_mapping(EventSourceArn=north_arn, FunctionName=function, BatchSize=1)
    try:
        assert mapping["EventSourceArn"] == north_arn
        deadline = time.monotonic() + 60
        while not server.invocations(function) and time.monotonic() < deadline:
            time.sleep(0.2)
        [attempt] = server.invocations(function)
        assert [r["body"] for r in attempt["event"]["Records"]] == ["to the function"]
        assert attempt["event"]["Records"][0]["eventSourceARN"] == north_arn
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_query_protocol_at_a_queue_url(sqs: Any, server: RunningServer) -> None:
    url = sqs.create_queue(QueueName=unique("qurl"))["QueueUrl"]
    path = urllib.parse.urlparse(url).path
    for action, extra in (("CreateQueue", {"QueueName": unique("q2")}), ("ListQueues", {})):
        status, text = _query(server, "GET", path, {"Action": action, **extra})
        assert status == 400 and "<Type>Sender</Type>" in text and "<Code>InvalidAction</Code>" in text
        assert f"<Message>The action {action} is not valid for this endpoint.</Message>" in text
    status, text = _query(server, "GET", path, {"Action": "FooBar"})
    assert status == 400 and "<Message>The action FooBar is not valid for this endpoint.</Message>" in text
    # A GET on a queue URL without an Action: AWS's XML 404, whatever the Accept header says.
    for accept in (None, "application/json"):
        status, text = _query(server, "GET", path, {}, accept=accept)
        assert (status, text) == (404, "<UnknownOperationException/>")
    # Nothing to receive: an empty result element.
    status, text = _query(server, "POST", path, {"Action": "ReceiveMessage"})
    assert status == 200 and "<ReceiveMessageResult/>" in text


def test_query_requests_negotiate_json(sqs: Any, server: RunningServer) -> None:
    name = unique("accept")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"a": 1}')
    status, text = _query(server, "GET", "/", {"Action": "ListQueues", "QueueNamePrefix": name},
                          accept="application/json")
    doc = json.loads(text)
    assert status == 200 and doc["ListQueuesResponse"]["ListQueuesResult"] == {"QueueUrls": [url]}
    assert doc["ListQueuesResponse"]["ResponseMetadata"]["RequestId"]
    status, text = _query(server, "GET", "/", {"Action": "ListQueues", "QueueNamePrefix": name})
    assert status == 200 and "<ListQueuesResponse" in text  # XML unless JSON is asked for
    status, text = _query(server, "POST", "/", {"Action": "ReceiveMessage", "QueueUrl": url, "VisibilityTimeout": "0",
                                                "AttributeName.1": "All"}, accept="application/json")
    [message] = json.loads(text)["ReceiveMessageResponse"]["ReceiveMessageResult"]["messages"]
    assert message["Body"] == '{"a": 1}'
    assert {"Name": "ApproximateReceiveCount", "Value": "1"} in message["Attributes"]
    status, text = _query(server, "GET", "/", {"Action": "GetQueueAttributes", "QueueUrl": url,
                                               "AttributeName.1": "QueueArn"}, accept="application/json")
    assert json.loads(text)["GetQueueAttributesResponse"]["GetQueueAttributesResult"] == {
        "Attributes": [{"Name": "QueueArn", "Value": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"}]}
    status, text = _query(server, "GET", urllib.parse.urlparse(url).path, {"Action": "ListQueues"},
                          accept="application/json")
    assert status == 400 and json.loads(text)["Error"] == {
        "Type": "Sender", "Code": "InvalidAction", "Message": "The action ListQueues is not valid for this endpoint.",
        "Detail": None}


def test_fifo_group_is_held_only_by_its_in_flight_messages(manual_sqs: Any, manual_server: RunningServer) -> None:
    url = manual_sqs.create_queue(QueueName=unique("held") + ".fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "30", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body, group in (("g1-m1", "g1"), ("g1-m2", "g1"), ("g2-m1", "g2")):
        manual_sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)

    def bodies(**extra: Any) -> list[str]:
        return [m["Body"] for m in manual_sqs.receive_message(QueueUrl=url, **extra).get("Messages", [])]

    first = manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert [m["Body"] for m in first] == ["g1-m1", "g1-m2"]
    # g1-m1's visibility set to 0: it is handed out again though g1-m2 is still in flight.
    manual_sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert bodies(MaxNumberOfMessages=3) == ["g2-m1", "g1-m1"]
    assert bodies(MaxNumberOfMessages=10) == []

    # A message whose (shortened) visibility ran out, likewise; the rest of its group after the first
    # message still in flight stays back.
    url = manual_sqs.create_queue(QueueName=unique("ext") + ".fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "1", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body in ("foo", "bar", "baz"):
        manual_sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="1")
    received = manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]
    assert [m["Body"] for m in received] == ["foo", "bar", "baz"]
    manual_sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=received[1]["ReceiptHandle"], VisibilityTimeout=4)
    manual_server.advance(2.5)
    assert bodies(MaxNumberOfMessages=5) == ["foo"]


def test_fifo_long_poll_wakes_when_its_group_unlocks(manual_sqs: Any, manual_server: RunningServer) -> None:
    url = manual_sqs.create_queue(QueueName=unique("wake") + ".fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "60", "ContentBasedDeduplication": "true"})["QueueUrl"]
    manual_sqs.send_message(QueueUrl=url, MessageBody="message-1", MessageGroupId="1")
    [first] = manual_sqs.receive_message(QueueUrl=url)["Messages"]
    manual_sqs.send_message(QueueUrl=url, MessageBody="message-2", MessageGroupId="1")
    got: list[Any] = []
    poll = threading.Thread(target=lambda: got.append(manual_server.client("sqs").receive_message(
        QueueUrl=url, WaitTimeSeconds=20)))
    poll.start()
    time.sleep(0.5)
    assert poll.is_alive()  # the group is held by message-1
    manual_sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    poll.join(10)
    if poll.is_alive():  # the clock is manual: end the poll before failing
        manual_server.advance(20)
        poll.join(10)
    assert [m["Body"] for m in got[0].get("Messages", [])] == ["message-2"]


def test_fifo_deduplication_scope_stays_as_created(sqs: Any) -> None:
    def queue(scope: str, limit: str) -> str:
        return str(sqs.create_queue(QueueName=unique("scope") + ".fifo", Attributes={
            "FifoQueue": "true", "DeduplicationScope": scope, "FifoThroughputLimit": limit})["QueueUrl"])

    def send(url: str, group: str) -> str:
        return str(sqs.send_message(QueueUrl=url, MessageBody=group, MessageGroupId=group,
                                    MessageDeduplicationId="same")["MessageId"])

    # Created with queue scope, switched to high throughput: the same ID in another group is still a duplicate.
    url = queue("queue", "perQueue")
    first = send(url, "g1")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "messageGroup",
                                                       "FifoThroughputLimit": "perMessageGroupId"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (got["DeduplicationScope"], got["FifoThroughputLimit"]) == ("messageGroup", "perMessageGroupId")
    assert send(url, "g2") == first
    # Created per message group, switched to queue scope: another group's send is still new.
    url = queue("messageGroup", "perMessageGroupId")
    first = send(url, "g1")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "queue",
                                                       "FifoThroughputLimit": "perQueue"})
    assert send(url, "g2") != first


def test_message_attribute_names_and_values_as_aws_checks_them(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("attrs"), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={
        "attr.1øßä": {"StringValue": "Valida", "DataType": "String"}})
    [msg] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert msg["MessageAttributes"] == {"attr.1øßä": {"StringValue": "Valida", "DataType": "String"}}
    for char in ("!", '"', "§", "(", "?"):
        with pytest.raises(ClientError) as exc:
            sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={
                f"Invalid-{char}-attr": {"StringValue": "Valid", "DataType": "String"}})
        assert _error(exc)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="test", MessageAttributes={
            "ErrorDetails": {"StringValue": "", "DataType": "String"}})
    assert exc.value.response["Error"] == {
        "Code": "InvalidParameterValue", "QueryErrorCode": "InvalidParameterValueException", "Type": "Sender",
        "Message": "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."}
    # A batch entry's own validation: "cannot be validated" (a single send says "are invalid").
    answer = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "ok", "MessageBody": "a" * 1024},
                                                            {"Id": "big", "MessageBody": "a" * 1025}])
    assert [e["Id"] for e in answer["Successful"]] == ["ok"]
    assert answer["Failed"] == [{"Id": "big", "SenderFault": True, "Code": "InvalidParameterValue", "Message":
                                 "One or more parameters cannot be validated. Reason: Message must be shorter "
                                 "than 1024 bytes."}]
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="a" * 1025)
    assert _error(exc)[1] == "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."


def test_add_and_remove_permission_keep_the_queue_policy(sqs: Any) -> None:
    name = unique("perm")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"

    def policy() -> Any:
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes")
        return json.loads(got["Policy"]) if got else None

    def statement(sid: str, principal: Any, action: Any) -> dict[str, Any]:
        return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": arn}

    sqs.add_permission(QueueUrl=url, AWSAccountIds=[ACCOUNT, "668614515564"], Actions=["ReceiveMessage"],
                       Label="crossaccountpermission")
    assert policy() == {"Version": "2008-10-17", "Id": f"{arn}/SQSDefaultPolicy", "Statement": [statement(
        "crossaccountpermission", [f"arn:aws:iam::{ACCOUNT}:root", "arn:aws:iam::668614515564:root"],
        "SQS:ReceiveMessage")]}
    sqs.remove_permission(QueueUrl=url, Label="crossaccountpermission")
    assert policy() is None

    sqs.add_permission(QueueUrl=url, AWSAccountIds=[ACCOUNT], Actions=["ReceiveMessage"], Label="first")
    with pytest.raises(ClientError) as exc:
        sqs.add_permission(QueueUrl=url, AWSAccountIds=["668614515564"], Actions=["ReceiveMessage"], Label="first")
    assert exc.value.response["Error"] == {
        "Code": "InvalidParameterValue", "QueryErrorCode": "InvalidParameterValueException", "Type": "Sender",
        "Message": "Value first for parameter Label is invalid. Reason: Already exists."}
    sqs.add_permission(QueueUrl=url, AWSAccountIds=[ACCOUNT], Actions=["SendMessage", "DeleteMessage"],
                       Label="second")
    assert policy()["Statement"] == [
        statement("first", f"arn:aws:iam::{ACCOUNT}:root", "SQS:ReceiveMessage"),
        statement("second", f"arn:aws:iam::{ACCOUNT}:root", ["SQS:SendMessage", "SQS:DeleteMessage"])]
    sqs.remove_permission(QueueUrl=url, Label="first")
    assert [s["Sid"] for s in policy()["Statement"]] == ["second"]
    sqs.remove_permission(QueueUrl=url, Label="second")
    assert policy() is None
    with pytest.raises(ClientError) as exc:
        sqs.remove_permission(QueueUrl=url, Label="second")
    assert _error(exc) == ("InvalidParameterValue",
                           "Value second for parameter Label is invalid. Reason: can't find label.", 400)


def test_a_message_back_from_flight_comes_before_newer_ones(manual_sqs: Any, manual_server: RunningServer) -> None:
    """LocalStack's AWS-recorded test_inflight_message_requeue: the first message, whose visibility timeout
    ran out, is received again before a message sent while it was in flight."""
    url = manual_sqs.create_queue(QueueName=unique("requeue"))["QueueUrl"]
    manual_sqs.send_message(QueueUrl=url, MessageBody="test1")
    [first] = manual_sqs.receive_message(QueueUrl=url, VisibilityTimeout=3)["Messages"]
    manual_server.advance(1.5)
    manual_sqs.send_message(QueueUrl=url, MessageBody="test2")
    manual_server.advance(3)
    bodies = [m["Body"] for m in manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                              VisibilityTimeout=3)["Messages"]]
    assert (first["Body"], bodies) == ("test1", ["test1", "test2"])
    assert [m["Body"] for m in manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
            .get("Messages", [])] == []
