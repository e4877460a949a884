"""SQS's query protocol: raw form-encoded requests and botocore's own query serializer/parser."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_emu.emulator.protocol.query import query_service_model
from lambda_emu.emulator.services.sqs.query_traits import QUERY_TRAITS
from tests.support import RunningServer, unique

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}
ACCOUNT = "000000000000"


def post(server: RunningServer, path: str, params: dict[str, str]) -> tuple[int, ET.Element, str]:
    data = urllib.parse.urlencode({"Version": "2012-11-05", **params}).encode()
    request = urllib.request.Request(server.endpoint + path, data=data,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    return status, ET.fromstring(text), text


def find(root: ET.Element, path: str) -> str | None:
    node = root.find(path, NS)
    return None if node is None else node.text


@pytest.fixture(scope="module")
def query_client(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A botocore client speaking the query protocol (as botocore < 1.34.90 did) to lambda-emu."""
    data = tmp_path_factory.mktemp("models")
    target = data / "sqs" / "2012-11-05"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(query_service_model("sqs", QUERY_TRAITS)._service_description))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(data))
    return session.create_client("sqs", endpoint_url=server.endpoint, region_name="us-east-1",
                                 aws_access_key_id="x", aws_secret_access_key="x",
                                 config=Config(retries={"max_attempts": 1}))


def test_create_send_receive_raw(server: RunningServer) -> None:
    name = unique("q")
    status, root, _ = post(server, "/", {"Action": "CreateQueue", "QueueName": name,
                                         "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "7",
                                         "Tag.1.Key": "team", "Tag.1.Value": "a"})
    assert status == 200
    assert root.tag == "{http://queue.amazonaws.com/doc/2012-11-05/}CreateQueueResponse"
    url = find(root, "q:CreateQueueResult/q:QueueUrl")
    assert url == f"{server.endpoint}/{ACCOUNT}/{name}"
    assert find(root, "q:ResponseMetadata/q:RequestId")

    # Posting to the queue's path stands in for QueueUrl.
    status, root, _ = post(server, f"/{ACCOUNT}/{name}", {
        "Action": "SendMessage", "MessageBody": "a<b&c\r\n",
        "MessageAttribute.1.Name": "WeeksOn", "MessageAttribute.1.Value.DataType": "Number",
        "MessageAttribute.1.Value.StringValue": "6",
        "MessageAttribute.2.Name": "Author", "MessageAttribute.2.Value.DataType": "String",
        "MessageAttribute.2.Value.StringValue": "John Grisham",
        "MessageAttribute.3.Name": "Title", "MessageAttribute.3.Value.DataType": "String",
        "MessageAttribute.3.Value.StringValue": "The Whistler",
    })
    assert status == 200
    assert find(root, "q:SendMessageResult/q:MD5OfMessageAttributes") == "d25a6aea97eb8f585bfa92d314504a92"
    message_id = find(root, "q:SendMessageResult/q:MessageId")

    status, root, text = post(server, "/", {"Action": "ReceiveMessage", "QueueUrl": url or "",
                                            "AttributeName.1": "All", "MessageAttributeName.1": "Author",
                                            "MaxNumberOfMessages": "10"})
    assert status == 200
    message = root.find("q:ReceiveMessageResult/q:Message", NS)
    assert message is not None
    assert find(message, "q:MessageId") == message_id
    assert find(message, "q:Body") == "a<b&c\r\n"  # \r survives: it is sent as &#xD;
    assert "&#xD;" in text
    attributes = {find(a, "q:Name"): find(a, "q:Value") for a in message.findall("q:Attribute", NS)}
    assert attributes["ApproximateReceiveCount"] == "1"
    assert set(attributes) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                               "ApproximateFirstReceiveTimestamp"}
    [attribute] = message.findall("q:MessageAttribute", NS)
    assert find(attribute, "q:Name") == "Author"
    assert find(attribute, "q:Value/q:DataType") == "String"
    assert find(attribute, "q:Value/q:StringValue") == "John Grisham"

    status, root, _ = post(server, "/", {"Action": "ListQueueTags", "QueueUrl": url or ""})
    assert [(find(t, "q:Key"), find(t, "q:Value")) for t in root.findall("q:ListQueueTagsResult/q:Tag", NS)] == [
        ("team", "a")]


def test_errors_are_query_xml(server: RunningServer) -> None:
    status, root, _ = post(server, "/", {"Action": "GetQueueUrl", "QueueName": unique("missing")})
    assert status == 400
    assert root.tag == "{http://queue.amazonaws.com/doc/2012-11-05/}ErrorResponse"
    assert find(root, "q:Error/q:Type") == "Sender"
    assert find(root, "q:Error/q:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert find(root, "q:Error/q:Message") == "The specified queue does not exist for this wsdl version."
    assert root.find("q:Error/q:Detail", NS) is not None
    assert find(root, "q:RequestId")

    status, root, _ = post(server, "/", {"Action": "CreateQueue"})
    assert (status, find(root, "q:Error/q:Code")) == (400, "MissingParameter")
    assert find(root, "q:Error/q:Message") == "The request must contain the parameter QueueName."

    status, root, _ = post(server, "/", {"Action": "NoSuchThing"})
    assert (status, find(root, "q:Error/q:Code")) == (400, "InvalidAction")

    name = unique("q")
    post(server, "/", {"Action": "CreateQueue", "QueueName": name})
    entries = {f"SendMessageBatchRequestEntry.{i}.{k}": v for i in range(1, 12)
               for k, v in (("Id", f"m{i}"), ("MessageBody", "x"))}
    status, root, _ = post(server, f"/{ACCOUNT}/{name}", {"Action": "SendMessageBatch", **entries})
    assert (status, find(root, "q:Error/q:Code")) == (400, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest")

    status, root, _ = post(server, f"/{ACCOUNT}/{name}", {"Action": "DeleteMessage", "ReceiptHandle": "nope"})
    assert (status, find(root, "q:Error/q:Code")) == (404, "ReceiptHandleIsInvalid")

    status, root, _ = post(server, f"/{ACCOUNT}/{name}", {"Action": "ReceiveMessage", "MaxNumberOfMessages": "x"})
    assert (status, find(root, "q:Error/q:Code")) == (400, "InvalidParameterValue")


def test_botocore_query_client_round_trip(query_client: Any) -> None:
    name = unique("q")
    url = query_client.create_queue(QueueName=name, Attributes={"DelaySeconds": "0"},
                                    tags={"k": "v"})["QueueUrl"]
    result = query_client.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "one", "MessageAttributes": {
            "bin": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}},
        {"Id": "bad", "MessageBody": "two", "DelaySeconds": 901},
    ])
    assert [e["Id"] for e in result["Successful"]] == ["ok"]
    assert result["Successful"][0]["MD5OfMessageAttributes"]
    assert result["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidParameterValue",
                                 "Message": "Value 901 for parameter DelaySeconds is invalid. Reason: "
                                            "DelaySeconds must be >= 0 and <= 900."}]
    received = query_client.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                                            AttributeNames=["SentTimestamp"])
    [message] = received["Messages"]
    assert message["MessageAttributes"] == {"bin": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
    assert message["MD5OfMessageAttributes"] == result["Successful"][0]["MD5OfMessageAttributes"]
    assert list(message["Attributes"]) == ["SentTimestamp"]
    deleted = query_client.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": message["ReceiptHandle"]}, {"Id": "b", "ReceiptHandle": "garbage"}])
    assert deleted["Successful"] == [{"Id": "a"}]
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"

    attributes = query_client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    assert query_client.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
    query_client.untag_queue(QueueUrl=url, TagKeys=["k"])
    assert "Tags" not in query_client.list_queue_tags(QueueUrl=url)
    assert url in query_client.list_queues(QueueNamePrefix=name)["QueueUrls"]

    with pytest.raises(query_client.exceptions.QueueDoesNotExist) as exc:
        query_client.get_queue_url(QueueName=unique("missing"))
    assert exc.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(query_client.exceptions.BatchEntryIdsNotDistinct):
        query_client.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": "x"}] * 2)
    with pytest.raises(ClientError) as exc:
        query_client.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "-1"})
    assert exc.value.response["Error"]["Code"] == "InvalidAttributeValue"
    query_client.delete_queue(QueueUrl=url)
    with pytest.raises(query_client.exceptions.QueueDeletedRecently):
        query_client.create_queue(QueueName=name)


# The last botocore that spoke query to SQS (1.34.22) ships with the Google Cloud SDK on some machines:
# when it is there, its model confirms the wire names restored here.
OLD_QUERY_MODEL = Path("/usr/lib/google-cloud-sdk/lib/third_party/botocore/data/sqs/2012-11-05/service-2.json")


@pytest.mark.skipif(not OLD_QUERY_MODEL.exists(), reason="no query-protocol SQS model on this machine")
def test_wire_names_match_the_last_query_model() -> None:
    old = json.loads(OLD_QUERY_MODEL.read_text())["shapes"]
    ours = query_service_model("sqs", QUERY_TRAITS)
    checked = 0
    for name, shape in old.items():
        if shape["type"] != "structure" or name not in ours.shape_names:
            continue
        mine = ours.shape_for(name)
        for member, spec in shape.get("members", {}).items():
            target = old[spec["shape"]]
            expected = spec.get("locationName") or target.get("member", {}).get("locationName")
            if expected is None or member not in mine.members:
                continue
            assert mine.members[member].serialization.get("name") == expected, (name, member)
            checked += 1
    assert checked > 20
