"""Lambda's error shapes as AWS answers them (LocalStack's AWS-recorded snapshots, test_lambda_api.snapshot.json:
test_create_lambda_exceptions, test_create_deprecated_function_runtime_with_validation_enabled,
test_function_arns, test_oversized_request_create_lambda)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, RunningServer, error_of, make_zip, raw_request, unique

ACCEPTED = ("nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, "
            "python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.9, java17, dotnet10, dotnet8, java11, "
            "nodejs18.x, provided.al2, java8.al2")


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
