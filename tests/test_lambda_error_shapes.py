"""Lambda's error shapes as AWS answers them (LocalStack's AWS-recorded snapshots, test_lambda_api.snapshot.json:
test_create_lambda_exceptions, test_create_deprecated_function_runtime_with_validation_enabled,
test_function_arns, test_oversized_request_create_lambda)."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, RunningServer, error_of, make_zip, raw_request, unique

#: AWS's list as recorded on 2026-01-12, deprecated python3.8, nodejs16.x and dotnet6 included.
ACCEPTED = ("nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, "
            "python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, "
            "dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2")


def create(lam: Any, **overrides: Any) -> Any:
    params = {"FunctionName": unique("shape"), "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
              "Code": {"ZipFile": make_zip({"app.py": "def handler(event, context):\n    return event\n"})},
              **overrides}
    return lam.create_function(**params)


def refused(lam: Any, **overrides: Any) -> tuple[int, str, str, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        create(lam, **overrides)
    status, code, message, response = error_of(caught.value)
    body = {k: v for k, v in response.items() if k not in ("Error", "ResponseMetadata")}
    return status, code, message, body


@pytest.mark.parametrize("runtime", ["python3.7", "java8", "go1.x", "provided", "ruby2.7", "nodejs14.x",
                                     "dotnetcore3.1", "nodejs12.x", "python3.8"])
def test_a_deprecated_runtime(lam: Any, runtime: str) -> None:
    message = (f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
               "functions. We recommend you use a supported runtime while creating or updating functions.")
    assert refused(lam, Runtime=runtime) == (400, "InvalidParameterValueException", message,
                                             {"Type": "User", "message": message})
    name = create(lam)["FunctionName"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.update_function_configuration(FunctionName=name, Runtime=runtime)
    assert error_of(caught.value)[2] == message


@pytest.mark.parametrize("runtime", ["non-existent-runtime", "PYTHON3.9"])
def test_a_runtime_outside_the_enum(lam: Any, runtime: str) -> None:
    message = (f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
               f"[{ACCEPTED}] or be a valid ARN")
    assert refused(lam, Runtime=runtime) == (400, "InvalidParameterValueException", message,
                                             {"Type": "User", "message": message})
    name = create(lam)["FunctionName"]
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName=name, Runtime=runtime)
    status, code, answered, response = error_of(caught.value)
    assert (status, code, answered, response["Type"], response["message"]) == (
        400, "InvalidParameterValueException", message, "User", message)


def test_coral_problems_come_before_lambdas_runtime_check(server: RunningServer) -> None:
    lam = server.client("lambda", parameter_validation=False)
    status, code, message, body = refused(lam, Runtime="cobol", Role="r1")
    assert (status, code, body) == (400, "ValidationException", {})
    assert message == ("1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must "
                       "satisfy regular expression pattern: "
                       "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")


def test_function_names_and_arns(lam: Any) -> None:
    long_name = "a" * 65
    message = (f"1 validation error detected: Value '{long_name}' at 'functionName' failed to satisfy constraint: "
               "Member must have length less than or equal to 64")
    assert refused(lam, FunctionName=long_name) == (400, "InvalidParameterValueException", message,
                                                    {"Type": "User", "message": message})
    prefix = "arn:aws:lambda:us-east-1:000000000000:function:"
    long_arn = prefix + "a" * (140 - len(prefix) + 1)
    assert refused(lam, FunctionName=long_arn)[:3] == (
        400, "ValidationException",
        f"1 validation error detected: Value '{long_arn}' at 'functionName' failed to satisfy constraint: Member must "
        "have length less than or equal to 140")
    # Looked up rather than created, a name too long for a function is one that isn't there; and an ARN that
    # stops at "function" names a function called "function" (both recorded for GetFunction and DeleteFunction).
    for call in (lam.get_function, lam.delete_function):
        with pytest.raises(ClientError) as caught:
            call(FunctionName=long_name)
        assert error_of(caught.value)[:3] == (404, "ResourceNotFoundException",
                                              f"Function not found: {prefix}{long_name}")
        with pytest.raises(ClientError) as caught:
            call(FunctionName="arn:aws:lambda:us-east-1:000000000000:function")
        assert error_of(caught.value)[:3] == (404, "ResourceNotFoundException",
                                              f"Function not found: {prefix}function")
    # Another account's function: 403 with a null message.
    other = f"arn:aws:lambda:us-east-1:123456789012:function:{unique('other')}"
    assert refused(lam, FunctionName=other) == (403, "AccessDeniedException", None, {})
    with pytest.raises(ClientError) as caught:
        lam.get_function(FunctionName=other)
    assert error_of(caught.value)[:3] == (403, "AccessDeniedException", None)


def test_validation_errors_have_no_type_field(server: RunningServer) -> None:
    status, headers, body = raw_request(server.endpoint, "GET", "/2015-03-31/functions?MaxItems=0")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert json.loads(body) == {"message": "1 validation error detected: Value '0' at 'maxItems' failed to satisfy "
                                           "constraint: Member must have value greater than or equal to 1"}


def test_a_create_function_request_over_lambdas_limit(server: RunningServer) -> None:
    body = b"x" * (70167211 + 1)
    status, headers, answer = raw_request(server.endpoint, "POST", "/2015-03-31/functions", body,
                                          {"Content-Type": "application/json"})
    assert (status, headers["x-amzn-ErrorType"]) == (413, "RequestEntityTooLargeException")
    assert json.loads(answer) == {
        "message": "Request must be smaller than 70167211 bytes for the CreateFunction operation"}


def _code_limit_message(operation: str) -> str:
    return f"Request must be smaller than 70167211 bytes for the {operation} operation"


def test_code_uploads_over_lambdas_limit_however_large(lam: Any) -> None:
    """A zip upload past lambda-emu's own body limit (80 MB) still gets Lambda's answer for its operation, as
    LocalStack's AWS-recorded test_oversized_request_create_lambda sends it (a 50 MB zip and a large
    environment); AWS words UpdateFunctionCode and PublishLayerVersion the same way."""
    name = create(lam)["FunctionName"]
    package = b"\0" * (63 * 1024 * 1024)  # base64 in JSON: over 83886080 bytes
    calls = [
        ("CreateFunction", lambda: create(lam, Code={"ZipFile": package})),
        ("UpdateFunctionCode", lambda: lam.update_function_code(FunctionName=name, ZipFile=package)),
        ("PublishLayerVersion", lambda: lam.publish_layer_version(LayerName=unique("big"),
                                                                   Content={"ZipFile": package})),
    ]
    for operation, call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        status, code, message, response = error_of(caught.value)
        assert (status, code, message) == (413, "RequestEntityTooLargeException", _code_limit_message(operation))
        assert {k for k in response if k not in ("Error", "ResponseMetadata")} == set()  # no Type, as recorded
    assert lam.get_function(FunctionName=name)["Configuration"]["CodeSize"] < 1024  # nothing was changed


def _headers_only(endpoint: str, head: str) -> tuple[int, dict[str, str], bytes]:
    """Send a request's head announcing a body that never comes; the answer arrives all the same."""
    address = urlsplit(endpoint)
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(head.encode())

        def more() -> bytes:
            chunk = conn.recv(65536)
            assert chunk, "the connection was closed without an answer"
            return chunk

        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += more()
        head_part, _, body = answer.partition(b"\r\n\r\n")
        lines = head_part.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        while len(body) < int(headers["Content-Length"]):
            body += more()
    return int(lines[0].split()[1]), headers, body


def test_an_oversized_body_is_refused_before_it_is_read(server: RunningServer) -> None:
    """Neither limit reads the body it refuses: a 1 GB Content-Length is answered at once. Lambda's code uploads
    get Lambda's RequestEntityTooLargeException; every other request lambda-emu's own limit."""
    host = urlsplit(server.endpoint).netloc
    status, headers, body = _headers_only(server.endpoint, (
        f"POST /2015-03-31/functions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000\r\n\r\n"))
    assert (status, headers["x-amzn-ErrorType"]) == (413, "RequestEntityTooLargeException")
    assert json.loads(body) == {"message": _code_limit_message("CreateFunction")}
    status, headers, body = _headers_only(server.endpoint, (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n"
        "X-Amz-Target: AmazonSQS.SendMessage\r\nContent-Length: 1000000000\r\n\r\n"))
    assert status == 413
    assert json.loads(body)["message"] == "Request must be smaller than 83886080 bytes"
