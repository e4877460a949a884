"""Review of issue 3 against AWS's recorded behaviour and the issue's letter, through boto3 and /_emu.

Each test pins a discrepancy found by driving lambda-emu as a user would: the seeded run, the /_emu
endpoints' handling of bad input, and Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s) errors.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, error_of, function_arn, raw_request, unique

ECHO = "def handler(event, context):\n    return event\n"


# ---- same seed, same run ----------------------------------------------------------------------


def duplicated_events(order: str) -> list[int]:
    """Which of 10 events got an injected duplicate, with handler timings that finish them ``order``."""
    running = RunningServer(clock="manual", seed=11, duplicate_rate=0.5).start()
    try:
        lam = running.client("lambda")
        # Each event sleeps for its own time, so the order attempts finish in is the handler's doing.
        source = "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return event\n"
        name = create_python_function(lam, source, name="seeded-fn", Timeout=10)
        indices: dict[str, int] = {}
        for i in range(10):
            sleep = 0.02 * (9 - i if order == "reversed" else i)
            response = lam.invoke(FunctionName=name, InvocationType="Event",
                                  Payload=json.dumps({"i": i, "sleep": sleep}).encode())
            indices[response["ResponseMetadata"]["RequestId"]] = i
        running.advance(0)
        attempts = running.invocations(name)
        assert len(attempts) == 10 + sum(a["duplicate"] for a in attempts)
        return sorted(indices[a["requestId"]] for a in attempts if a["duplicate"])
    finally:
        running.stop()


def test_same_seed_gives_the_same_duplicates_whatever_the_handler_timing() -> None:
    """The duplicate draw must follow the order events arrive, not the order attempts happen to finish."""
    in_order = duplicated_events("in-order")
    assert 0 < len(in_order) < 10
    assert duplicated_events("reversed") == in_order


# ---- /_emu: bad input is refused and changes nothing ------------------------------------------


def post_raw(server: RunningServer, path: str, body: bytes) -> tuple[int, Any]:
    status, _headers, raw = raw_request(server.endpoint, "POST", path, body, {"Content-Type": "application/json"})
    return status, json.loads(raw)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/_emu/clock/advance", b'{"seconds": "5"}', "seconds"),
    ("/_emu/clock/advance", b'{"seconds": true}', "seconds"),
    ("/_emu/clock/advance", b'{"seconds": NaN}', "seconds"),
    ("/_emu/clock/advance", b'{"seconds": Infinity}', "seconds"),
    ("/_emu/clock/settle", b'{"maxSeconds": "60"}', "maxSeconds"),
    ("/_emu/clock/settle", b'{"maxSeconds": false}', "maxSeconds"),
    ("/_emu/faults", b'{"duplicateRate": "0.5"}', "duplicateRate"),
    ("/_emu/faults", b'{"duplicateRate": true}', "duplicateRate"),
])
def test_wrong_types_on_emu_endpoints_are_refused(manual_server: RunningServer, path: str, body: bytes,
                                                  field: str) -> None:
    clock_before = manual_server.emu_get("/_emu/clock")
    faults_before = manual_server.emu_get("/_emu/faults")
    status, document = post_raw(manual_server, path, body)
    assert status == 400
    assert list(document) == ["error"] and document["error"]["code"] == "ValidationError"
    assert document["error"]["message"].startswith(f"{field}: ")
    assert manual_server.emu_get("/_emu/clock") == clock_before
    assert manual_server.emu_get("/_emu/faults") == faults_before


@pytest.mark.parametrize("path", [
    "/_emu/invocations?functionName=f&bogus=1",
    "/_emu/invocations?function=f",
    "/_emu/deliveries?targetArn=arn:aws:sqs:us-east-1:000000000000:q",
    "/_emu/clock?now=1",
])
def test_unknown_query_parameters_are_refused(manual_server: RunningServer, path: str) -> None:
    status, _headers, raw = raw_request(manual_server.endpoint, "GET", path)
    assert status == 400
    document = json.loads(raw)
    assert document["error"]["code"] == "ValidationError"
    assert "Unknown query parameter" in document["error"]["message"]


# ---- the event invoke config API: AWS's errors, in AWS's order --------------------------------


def aws_error(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    status, code, message, _ = error_of(excinfo.value)
    return status, code, message


NO_SETTINGS = (400, "InvalidParameterValueException",
               "You must specify at least one of error handling or destination setting.")


def test_no_settings_is_refused_before_the_function_is_looked_up(manual_server: RunningServer) -> None:
    unchecked = manual_server.client("lambda", parameter_validation=False)
    assert aws_error(unchecked.put_function_event_invoke_config, FunctionName="doesnotexist") == NO_SETTINGS
    assert aws_error(unchecked.update_function_event_invoke_config, FunctionName="doesnotexist") == NO_SETTINGS


def test_update_with_no_settings_is_refused_and_changes_nothing(manual_server: RunningServer,
                                                                manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    before = manual_lam.get_function_event_invoke_config(FunctionName=name)
    unchecked = manual_server.client("lambda", parameter_validation=False)
    assert aws_error(unchecked.update_function_event_invoke_config, FunctionName=name) == NO_SETTINGS
    after = manual_lam.get_function_event_invoke_config(FunctionName=name)
    before.pop("ResponseMetadata")
    after.pop("ResponseMetadata")
    assert after == before


def test_errors_for_a_function_that_does_not_exist(manual_lam: Any) -> None:
    missing = "doesnotexist-" + unique()
    no_config = (404, "ResourceNotFoundException",
                 f"The function {function_arn(missing)}:$LATEST doesn't have an EventInvokeConfig")
    no_function = (404, "ResourceNotFoundException", "The function doesn't exist.")
    assert aws_error(manual_lam.get_function_event_invoke_config, FunctionName=missing) == no_config
    assert aws_error(manual_lam.delete_function_event_invoke_config, FunctionName=missing) == no_config
    assert aws_error(manual_lam.put_function_event_invoke_config, FunctionName=missing,
                     MaximumRetryAttempts=1) == no_function
    assert aws_error(manual_lam.put_function_event_invoke_config, FunctionName=function_arn(missing),
                     MaximumRetryAttempts=1) == no_function
    assert aws_error(manual_lam.update_function_event_invoke_config, FunctionName=missing,
                     MaximumRetryAttempts=1) == no_function
    assert aws_error(manual_lam.list_function_event_invoke_configs, FunctionName=missing) == no_function


def test_update_of_a_function_without_a_config(manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    assert aws_error(manual_lam.update_function_event_invoke_config, FunctionName=name,
                     MaximumRetryAttempts=0) == (
        404, "ResourceNotFoundException",
        f"The function {function_arn(name)}:$LATEST doesn't have an EventInvokeConfig")
    assert manual_lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []


def test_destination_errors(manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    iam = function_arn(name).replace(":lambda:", ":iam:")
    assert aws_error(manual_lam.put_function_event_invoke_config, FunctionName=name,
                     DestinationConfig={"OnSuccess": {"Destination": iam}}) == (
        400, "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={iam}), "
        "onFailure=null) is invalid.")
    missing = function_arn("doesnotexist-" + unique())
    assert aws_error(manual_lam.put_function_event_invoke_config, FunctionName=name,
                     DestinationConfig={"OnFailure": {"Destination": missing}}) == (
        400, "InvalidParameterValueException", f"The destination ARN {missing} is invalid.")
    with pytest.raises(ClientError):
        manual_lam.get_function_event_invoke_config(FunctionName=name)  # nothing was stored
