"""Model validation as AWS (Coral) words it, for every protocol: paths with 1-based member indices,
values rendered as Java renders them, the list/map element wrapper, patterns as AWS shows them, several
problems joined with "; " and at most 10 of them. Sources: kinesalite's AWS-checked suite (test/putRecords.js,
addTagsToStream.js) and LocalStack's AWS-recorded Lambda snapshots (test_lambda_api.snapshot.json)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, RunningServer, error_of, make_zip, raw_request, unique

#: As AWS words it (recorded 2025-11, test_layer_exceptions): without the outer group of botocore's model.
LAYER_PATTERN = ("(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:"
                 "[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)")


@pytest.fixture(scope="module")
def loose_kinesis(server: RunningServer) -> Any:
    """A Kinesis client that sends what botocore's own checks would stop (as other SDKs can)."""
    return server.client("kinesis", parameter_validation=False)


@pytest.fixture(scope="module")
def loose_lam(server: RunningServer) -> Any:
    return server.client("lambda", parameter_validation=False)


def refused(call: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    status, code, message, _ = error_of(caught.value)
    return status, code, message


def zip_code() -> dict[str, bytes]:
    return {"ZipFile": make_zip({"app.py": "def handler(event, context):\n    return event\n"})}


# ---- Kinesis (JSON 1.1) -------------------------------------------------------------------------


def test_list_members_are_numbered_from_one_and_problems_are_joined(loose_kinesis: Any) -> None:
    status, code, message = refused(loose_kinesis.put_records, StreamName="",
                                    Records=[{"PartitionKey": "", "Data": b"", "ExplicitHashKey": ""}])
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "4 validation errors detected: "
        "Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: 0|([1-9]\\d{0,38}); "
        "Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater "
        "than or equal to 1; "
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9_.-]+")


def test_at_most_ten_problems_and_a_list_of_structures_as_java_shows_it(loose_kinesis: Any) -> None:
    records = [{"PartitionKey": "", "Data": b""} for _ in range(501)]
    status, code, message = refused(loose_kinesis.put_records, StreamName="s", Records=records)
    assert (status, code) == (400, "ValidationException")
    problems = message.removeprefix("10 validation errors detected: ").split("; ")
    assert len(problems) == 10
    head = problems[0]
    assert head.startswith("Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@")
    assert head.count("PutRecordsRequestEntry@") == 501
    assert head.endswith("]' at 'records' failed to satisfy constraint: Member must have length less than or "
                         "equal to 500")
    assert problems[1:] == [f"Value '' at 'records.{i}.member.partitionKey' failed to satisfy constraint: Member must "
                            "have length greater than or equal to 1" for i in range(1, 10)]


def test_a_blob_is_shown_as_a_byte_buffer(loose_kinesis: Any) -> None:
    data = b"x" * (10 * 1024 * 1024 + 1)
    assert refused(loose_kinesis.put_record, StreamName="s", PartitionKey="k", Data=data) == (
        400, "ValidationException",
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'data' "
        "failed to satisfy constraint: Member must have length less than or equal to 10485760")


def test_map_keys_and_values_are_one_problem_each_at_the_map(loose_kinesis: Any) -> None:
    long_key = "k" * 129
    assert refused(loose_kinesis.add_tags_to_stream, StreamName="s", Tags={"a": "1", long_key: "3"}) == (
        400, "ValidationException",
        f"1 validation error detected: Value '{{a=1, {long_key}=3}}' at 'tags' failed to satisfy constraint: Map keys "
        "must satisfy constraint: [Member must have length less than or equal to 128, Member must have length "
        "greater than or equal to 1]")
    long_value = "v" * 257
    assert refused(loose_kinesis.add_tags_to_stream, StreamName="s", Tags={"c": long_value}) == (
        400, "ValidationException",
        f"1 validation error detected: Value '{{c={long_value}}}' at 'tags' failed to satisfy constraint: Map value "
        "must satisfy constraint: [Member must have length less than or equal to 256, Member must have length "
        "greater than or equal to 0]")
    assert refused(loose_kinesis.add_tags_to_stream, StreamName="s", Tags={}) == (
        400, "ValidationException",
        "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1")


def test_a_list_of_strings_names_the_element_constraints(loose_kinesis: Any) -> None:
    assert refused(loose_kinesis.remove_tags_from_stream, StreamName="s", TagKeys=["ok", ""]) == (
        400, "ValidationException",
        "1 validation error detected: Value '[ok, ]' at 'tagKeys' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 128, Member must have length greater than or "
        "equal to 1]")


# ---- Lambda (rest-json) -------------------------------------------------------------------------


def create(lam: Any, **overrides: Any) -> Any:
    params = {"FunctionName": unique("val"), "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
              "Code": zip_code(), **overrides}
    return lam.create_function(**params)


def test_lambda_list_of_enums_as_recorded(loose_lam: Any) -> None:
    # Both recorded on AWS (LocalStack test_create_lambda_exceptions, 2026-01).
    assert refused(create, lam=loose_lam, Architectures=["X86_64"]) == (
        400, "ValidationException",
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")
    assert refused(create, lam=loose_lam, Architectures=["x86_64", "arm64"]) == (
        400, "ValidationException",
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: "
        "Member must have length less than or equal to 1")


def test_lambda_list_elements_with_and_without_not_null(loose_lam: Any) -> None:
    layer = "arn:aws:lambda:us-east-1:000000000000:layer:nover"
    assert refused(create, lam=loose_lam, Layers=[layer]) == (
        400, "ValidationException",
        f"1 validation error detected: Value '[{layer}]' at 'layers' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 2048, Member must have length greater than or "
        f"equal to 1, Member must satisfy regular expression pattern: {LAYER_PATTERN}, Member must not be null]")
    # VpcConfig's ids: recorded without "Member must not be null".
    assert refused(create, lam=loose_lam, VpcConfig={"SubnetIds": ["bad"], "SecurityGroupIds": []}) == (
        400, "ValidationException",
        "1 validation error detected: Value '[bad]' at 'vpcConfig.subnetIds' failed to satisfy constraint: Member "
        "must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length "
        "greater than or equal to 0, Member must satisfy regular expression pattern: subnet-[0-9a-z]*]")


def test_lambda_weights_render_as_java_doubles(loose_lam: Any) -> None:
    # The model's checks come before the function is looked up.
    assert refused(loose_lam.create_alias, FunctionName=unique("w"), Name="live", FunctionVersion="1",
                   RoutingConfig={"AdditionalVersionWeights": {"2": 2}}) == (
        400, "ValidationException",
        "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member "
        "must have value greater than or equal to 0.0, Member must not be null]")


def test_sensitive_members_are_named_but_never_echoed(server: RunningServer) -> None:
    # Lambda's environment variables are sensitive in its model; AWS answers "Value at '...'" (no value).
    body = {"FunctionName": unique("env"), "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(zip_code()["ZipFile"]).decode()},
            "Environment": {"Variables": {"A": "secret-value"}}}
    status, _, data = raw_request(server.endpoint, "POST", "/2015-03-31/functions", json.dumps(body).encode(),
                                  {"Content-Type": "application/json"})
    assert status == 400
    assert json.loads(data)["message"] == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
    assert b"secret-value" not in data


def test_enum_values_are_listed_in_aws_s_order_not_the_model_s(loose_lam: Any) -> None:
    """LocalStack's AWS-recorded snapshots: each enum set in the order of AWS's Java hash table of it."""
    prefix = "1 validation error detected: Value "
    assert refused(loose_lam.put_function_recursion_config, FunctionName=unique(), RecursiveLoop="InvalidValue") == (
        400, "ValidationException", prefix + "'InvalidValue' at 'recursiveLoop' failed to satisfy constraint: Member "
        "must satisfy enum value set: [Terminate, Allow]")
    assert refused(loose_lam.create_function_url_config, FunctionName=unique(), AuthType="NONE",
                   InvokeMode="UNKNOWN") == (
        400, "ValidationException", prefix + "'UNKNOWN' at 'invokeMode' failed to satisfy constraint: Member must "
        "satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")
    assert refused(loose_lam.create_event_source_mapping, FunctionName=unique(), StartingPosition="FOO",
                   EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/s") == (
        400, "ValidationException", prefix + "'FOO' at 'startingPosition' failed to satisfy constraint: Member must "
        "satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]")


def test_a_valid_input_with_a_long_string_is_not_remembered(server: RunningServer) -> None:
    """Inputs of scalars found valid are remembered (Invoke repeats them); an SQS message body is not, so
    a stream of distinct large bodies does not pile up in that memory. The answers stay the same."""
    from lambda_emu.emulator.protocol import validation

    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=unique("bodies"))["QueueUrl"]
    body = "b" * 10_000
    for _ in range(2):
        assert sqs.send_message(QueueUrl=url, MessageBody=body)["MD5OfMessageBody"]
    assert not any(body in str(key) for key in validation._VALID_FLAT)  # noqa: SLF001 - the memory itself
    assert refused(sqs.send_message, QueueUrl=url, MessageBody=body, DelaySeconds=901)[:2] == (
        400, "InvalidParameterValue")
