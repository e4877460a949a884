"""No 5xx for a client's mistake: each input that once answered 500 gets what AWS answers — a 400 in
that protocol's error shape (a JSON 400 under /_emu), or success where AWS reads a null member as
absent or accepts the payload."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support import ROLE, RunningServer, create_python_function, make_zip, payload_of, raw_request, unique

LAMBDA_JSON = {"Content-Type": "application/json"}
DEEP = 100_000


def sqs_json(target: str) -> dict[str, str]:
    return {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{target}"}


def kinesis_json(target: str) -> dict[str, str]:
    return {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Kinesis_20131202.{target}"}


def call(server: RunningServer, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    status, response_headers, data = raw_request(server.endpoint, method, path, body, headers)
    return status, response_headers, data


def as_json(data: bytes) -> Any:
    return json.loads(data)


# ---- 1. deeply nested JSON ----


def test_deeply_nested_json_is_a_400_in_each_protocol(server: RunningServer) -> None:
    deep = b"[" * DEEP + b"]" * DEEP
    status, headers, data = call(server, "POST", "/2015-03-31/functions", deep, LAMBDA_JSON)
    assert status == 400 and headers["x-amzn-ErrorType"].startswith("SerializationException")
    assert "nested too deeply" in as_json(data)["message"]

    status, headers, data = call(server, "POST", "/", b'{"QueueName": ' + deep + b"}", sqs_json("CreateQueue"))
    assert status == 400
    assert as_json(data)["__type"] == "com.amazon.coral.service#SerializationException"

    status, _, data = call(server, "POST", "/", deep, kinesis_json("ListStreams"))
    assert status == 400 and as_json(data)["__type"] == "SerializationException"


def test_deeply_nested_json_under_emu_is_a_json_400(server: RunningServer) -> None:
    deep = b'{"seconds": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    status, headers, data = call(server, "POST", "/_emu/clock/advance", deep, LAMBDA_JSON)
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert as_json(data) == {"error": {"code": "InvalidJson", "message": "Body is not valid JSON: nested too deeply"}}


def test_a_deeply_nested_invoke_payload_is_passed_on(lam: Any) -> None:
    """AWS accepts the payload and hands it to the function; what the runtime makes of it is the
    function's answer (awslambdaric can't parse it either: Runtime.UnmarshalError), never a 5xx."""
    name = create_python_function(lam, "def handler(event, context):\n    return 'ok'\n")
    response = lam.invoke(FunctionName=name, Payload=b"[" * DEEP + b"]" * DEEP)
    assert response["StatusCode"] == 200
    assert payload_of(response)["errorType"] == "Runtime.UnmarshalError"


# ---- 2. null inside a list or a map ----


def test_null_in_a_list_or_a_map_is_a_validation_error(server: RunningServer) -> None:
    body = {"FunctionName": unique("nul"), "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(make_zip({"app.py": "x = 1\n"})).decode()}}
    status, headers, data = call(server, "POST", "/2015-03-31/functions",
                                 json.dumps({**body, "Layers": [None]}).encode(), LAMBDA_JSON)
    assert status == 400 and headers["x-amzn-ErrorType"].startswith("ValidationException")
    # As recorded on AWS for a bad element of Layers (aws-wave2.md), with null for the value.
    message = as_json(data)["message"]
    assert message.startswith(
        "1 validation error detected: Value '[null]' at 'layers' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 2048, Member must have length greater than or "
        "equal to 1, Member must satisfy regular expression pattern: ")
    assert message.endswith(", Member must not be null]")

    status, _, data = call(server, "POST", "/2015-03-31/functions",
                           json.dumps({**body, "Environment": {"Variables": {"AB": None}}}).encode(), LAMBDA_JSON)
    assert status == 400
    # The variables are sensitive in Lambda's model: Coral names the member but never echoes its value.
    assert as_json(data)["message"] == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must not be null]")

    status, _, data = call(server, "POST", "/", json.dumps({"QueueName": unique("q"), "tags": {"a": None}}).encode(),
                           sqs_json("CreateQueue"))
    assert status == 400 and "Member must not be null" in as_json(data)["message"]


def test_null_alias_routing_weight_is_a_validation_error(server: RunningServer) -> None:
    body = {"Name": "live", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": None}}}
    status, headers, data = call(server, "POST", "/2015-03-31/functions/any-function/aliases",
                                 json.dumps(body).encode(), LAMBDA_JSON)
    assert status == 400 and headers["x-amzn-ErrorType"].startswith("ValidationException")
    # The wording recorded on AWS for a weight out of range (aws-wave2.md), with null for the value.
    assert as_json(data)["message"] == (
        "1 validation error detected: Value '{2=null}' at 'routingConfig.additionalVersionWeights' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
        "Member must have value greater than or equal to 0.0, Member must not be null]"
    )


# ---- 3. an SQS query list member with a sub-key ----


def test_query_list_member_with_a_sub_key_is_a_400(server: RunningServer, sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    form = f"Action=AddPermission&QueueUrl={url}&Label=l&AWSAccountIds.1.Name=&ActionName.1=SendMessage"
    status, headers, data = call(server, "POST", "/", form.encode(),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and headers["Content-Type"].startswith("text/xml")
    assert b"<ErrorResponse" in data and b"<Type>Sender</Type>" in data


# ---- 4. Entries: [null] in SQS batch calls ----


@pytest.mark.parametrize("target", ["SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"])
def test_null_batch_entry_is_a_400(server: RunningServer, sqs: Any, target: str) -> None:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    status, headers, data = call(server, "POST", "/", json.dumps({"QueueUrl": url, "Entries": [None]}).encode(),
                                 sqs_json(target))
    assert status == 400
    assert "at 'entries' failed to satisfy constraint: Member must satisfy constraint: [Member must not be null]" \
        in as_json(data)["message"]
    assert headers["x-amzn-query-error"].endswith(";Sender")


# ---- 5. out-of-range and NaN timestamps ----


@pytest.mark.parametrize("value", [b"1e300", b"NaN", b"-Infinity", b'"99999999999999"', b"-99999999999999"])
def test_out_of_range_timestamps_are_a_400(server: RunningServer, value: bytes) -> None:
    body = b'{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP", ' \
           b'"Timestamp": ' + value + b"}"
    status, _, data = call(server, "POST", "/", body, kinesis_json("GetShardIterator"))
    assert status == 400 and as_json(data)["__type"] == "SerializationException"

    body = b'{"FunctionName": "f", "EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s", ' \
           b'"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": ' + value + b"}"
    status, headers, _ = call(server, "POST", "/2015-03-31/event-source-mappings/", body, LAMBDA_JSON)
    assert status == 400 and headers["x-amzn-ErrorType"].startswith("SerializationException")


# ---- 6. EphemeralStorage: null ----


def test_null_ephemeral_storage_is_read_as_absent(server: RunningServer, lam: Any) -> None:
    name = create_python_function(lam, "def handler(event, context):\n    return 'ok'\n",
                                  EphemeralStorage={"Size": 1024})
    status, _, data = call(server, "PUT", f"/2015-03-31/functions/{name}/configuration",
                           json.dumps({"EphemeralStorage": None, "Description": "d"}).encode(), LAMBDA_JSON)
    assert status == 200, data
    assert as_json(data)["EphemeralStorage"] == {"Size": 1024} and as_json(data)["Description"] == "d"

    body = {"FunctionName": unique("nul"), "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "EphemeralStorage": None, "Code": {"ZipFile": base64.b64encode(make_zip({"app.py": "x = 1\n"})).decode()}}
    status, _, data = call(server, "POST", "/2015-03-31/functions", json.dumps(body).encode(), LAMBDA_JSON)
    assert status == 201 and as_json(data)["EphemeralStorage"] == {"Size": 512}


# ---- 7. a zip with a 2,000-level path ----


def test_a_zip_with_a_2000_level_path_is_refused(lam: Any) -> None:
    deep = "/".join(["d"] * 2000) + "/app.py"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.create_function(FunctionName=unique("deep"), Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": make_zip({deep: "x = 1\n", "app.py": "x = 1\n"})})
    assert caught.value.response["Error"]["Message"] == (
        "Could not unzip uploaded file. Please check your file, then try to upload again.")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400



def test_deeply_nested_json_inside_string_members_is_a_400(sqs: Any) -> None:
    """SQS reads JSON out of attribute values (Policy, RedrivePolicy): nested too deep, it is invalid."""
    deep = "[" * DEEP + "]" * DEEP
    for attribute in ("Policy", "RedrivePolicy", "RedriveAllowPolicy"):
        with pytest.raises(sqs.exceptions.ClientError) as caught:
            sqs.create_queue(QueueName=unique("q"), Attributes={attribute: deep})
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
