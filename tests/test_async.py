"""Async invocations (issue 3) on the manual clock: retries, event age, destinations, DLQ, throttles,
duplicates and the journal, through boto3 and real handlers run by awslambdaric."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, error_of, function_arn, raw_request, unique

FAILING = """
def handler(event, context):
    raise Exception("Test exception (this is intentional)")
"""

ECHO = """
def handler(event, context):
    if event.get("raise_error"):
        raise Exception("Test exception (this is intentional)")
    return {"event": event, "requestId": context.aws_request_id}
"""

SLEEPY = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
"""


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def spacing(attempts: list[dict[str, Any]]) -> list[float]:
    starts = [iso(a["startTime"]) for a in attempts]
    return [round((b - a).total_seconds(), 3) for a, b in zip(starts, starts[1:], strict=False)]



def make_queue(manual_sqs: Any) -> tuple[str, str]:
    url = manual_sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = manual_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_all(manual_sqs: Any, url: str) -> list[dict[str, Any]]:
    return manual_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", [])


def invoke_event(lam: Any, name: str, payload: Any) -> str:
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    return response["ResponseMetadata"]["RequestId"]


# ---- the clock ----------------------------------------------------------------------------------


def test_clock_endpoints(manual_server: RunningServer) -> None:
    before = manual_server.emu_get("/_emu/clock")
    assert before["mode"] == "manual" and before["scale"] == 1.0
    after = manual_server.advance(90)
    assert (iso(after["now"]) - iso(before["now"])).total_seconds() == pytest.approx(90, abs=0.002)
    assert manual_server.emu_get("/_emu/clock")["now"] == after["now"]
    settled = manual_server.settle(0)
    assert settled["now"] == after["now"]


def test_clock_rejects_malformed_requests(manual_server: RunningServer) -> None:
    import urllib.error
    import urllib.request

    for body in (b"{", b'{"seconds": -1}', b'{"seconds": "x"}', b"[]", b'{"seconds": 1, "extra": 1}'):
        request = urllib.request.Request(manual_server.endpoint + "/_emu/clock/advance", data=body, method="POST")
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(request, timeout=30)
        assert excinfo.value.code == 400
        assert "error" in json.loads(excinfo.value.read())


# ---- retries ------------------------------------------------------------------------------------


def test_function_error_retried_after_60_then_120_seconds(manual_server: RunningServer, manual_lam: Any,
                                                          manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, ECHO)
    manual_lam.put_function_event_invoke_config(FunctionName=name,
                                                DestinationConfig={"OnFailure": {"Destination": arn}})
    request_id = invoke_event(manual_lam, name, {"raise_error": 1})
    manual_server.advance(0)
    assert len(manual_server.invocations(name)) == 1
    manual_server.advance(59.9)
    assert len(manual_server.invocations(name)) == 1
    manual_server.advance(0.1)
    assert len(manual_server.invocations(name)) == 2
    manual_server.advance(119.9)
    assert len(manual_server.invocations(name)) == 2
    manual_server.advance(0.1)
    attempts = manual_server.invocations(name)
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert {a["requestId"] for a in attempts} == {request_id}
    assert spacing(attempts) == [60.0, 120.0]
    assert all(a["source"] == "async" and a["outcome"] == "error" and a["errorType"] == "Exception"
               for a in attempts)
    [message] = receive_all(manual_sqs, url)
    record = json.loads(message["Body"])
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload", "responseContext",
                            "responsePayload"]
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"raise_error": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "Test exception (this is intentional)"
    assert record["responsePayload"]["errorType"] == "Exception"
    assert record["responsePayload"]["requestId"] == request_id
    assert isinstance(record["responsePayload"]["stackTrace"], list)
    # The timestamp is virtual time, ISO-8601 with milliseconds and Z, at the last attempt.
    assert record["timestamp"] == attempts[-1]["endTime"]


def test_on_success_record(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, ECHO)
    put = manual_lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": arn}, "OnFailure": {"Destination": arn}})
    assert put["DestinationConfig"] == {"OnSuccess": {"Destination": arn}, "OnFailure": {"Destination": arn}}
    assert "MaximumEventAgeInSeconds" not in put
    request_id = invoke_event(manual_lam, name, {})
    manual_server.advance(0)
    [message] = receive_all(manual_sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"event": {}, "requestId": request_id}


def test_max_retry_attempts_zero_fails_after_one_attempt(manual_server: RunningServer, manual_lam: Any,
                                                         manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, FAILING)
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                                DestinationConfig={"OnFailure": {"Destination": arn}})
    invoke_event(manual_lam, name, {"raise_error": 1})
    manual_server.advance(0)
    [message] = receive_all(manual_sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    manual_server.settle(3600)
    assert len(manual_server.invocations(name)) == 1


@pytest.mark.parametrize(("max_age", "expected_invocations"), [(60, 1), (90, 2)])
def test_event_age_cut_off(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, max_age: int,
                           expected_invocations: int) -> None:
    """AWS gives up at once when the next retry would land past the maximum age (recorded §1.5/§1.6)."""
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, FAILING)
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2,
                                                MaximumEventAgeInSeconds=max_age,
                                                DestinationConfig={"OnFailure": {"Destination": arn}})
    invoke_event(manual_lam, name, {"raise_error": 1})
    manual_server.advance(0)
    if expected_invocations == 1:
        # Sent immediately: no waiting for the 60 s.
        [message] = receive_all(manual_sqs, url)
    else:
        assert receive_all(manual_sqs, url) == []
        manual_server.advance(60)
        [message] = receive_all(manual_sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == expected_invocations
    manual_server.settle(3600)
    assert len(manual_server.invocations(name)) == expected_invocations


# ---- DLQ ----------------------------------------------------------------------------------------


def test_dead_letter_queue_message(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, FAILING, DeadLetterConfig={"TargetArn": arn})
    assert manual_lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": arn}
    request_id = invoke_event(manual_lam, name, {"raise_error": 1})
    manual_server.settle(600)
    assert len(manual_server.invocations(name)) == 3
    [message] = receive_all(manual_sqs, url)
    assert json.loads(message["Body"]) == {"raise_error": 1}
    assert message["MessageAttributes"] == {
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "Test exception (this is intentional)"},
        "RequestID": {"DataType": "String", "StringValue": request_id},
    }


def test_dead_letter_error_message_is_cut_at_1_kb(manual_server: RunningServer, manual_lam: Any,
                                                  manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    source = 'def handler(event, context):\n    raise ValueError("x" * 5000)\n'
    name = create_python_function(manual_lam, source, DeadLetterConfig={"TargetArn": arn})
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    invoke_event(manual_lam, name, {})
    manual_server.advance(0)
    [message] = receive_all(manual_sqs, url)
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "x" * 1024


def test_dead_letter_target_must_be_sqs_or_sns(manual_lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        create_python_function(manual_lam, ECHO,
                               DeadLetterConfig={"TargetArn": "arn:aws:s3:::bucket"})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


# ---- reserved concurrency and throttles ----------------------------------------------------------


def test_zero_reserved_concurrency_goes_straight_to_failure(manual_server: RunningServer, manual_lam: Any,
                                                            manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, ECHO)
    manual_lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                                DestinationConfig={"OnFailure": {"Destination": arn}})
    request_id = invoke_event(manual_lam, name, {})
    manual_server.advance(0)
    [message] = receive_all(manual_sqs, url)
    record = json.loads(message["Body"])
    assert record == {
        "version": "1.0",
        "timestamp": record["timestamp"],
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST",
            "condition": "ZeroReservedConcurrency",
            "approximateInvokeCount": 0,
        },
        "requestPayload": {},
    }
    assert manual_server.invocations(name) == []


def test_throttled_event_backs_off_exponentially_then_runs(manual_server: RunningServer, manual_lam: Any) -> None:
    name = create_python_function(manual_lam, SLEEPY, Timeout=30)
    manual_lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    manual_lam.invoke(FunctionName=name, Payload=b"{}")  # warm the one environment
    busy = threading.Thread(target=lambda: manual_lam.invoke(FunctionName=name, Payload=b'{"sleep": 3}'))
    busy.start()
    try:
        while not any(a["outcome"] is None for a in manual_server.invocations(name)):
            time.sleep(0.01)
        request_id = invoke_event(manual_lam, name, {})
        manual_server.advance(0)
        for step in (1, 2, 4, 8):
            manual_server.advance(step)
    finally:
        busy.join()
    manual_server.advance(16)
    attempts = manual_server.invocations(name, request_id)
    assert [a["outcome"] for a in attempts] == ["throttled"] * 5 + ["success"]
    assert spacing(attempts) == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5, 6]


# ---- every failure mode is retried like an exception ------------------------------------------


@pytest.mark.parametrize(("source", "config", "error_type"), [
    ("import time\ndef handler(e, c):\n    time.sleep(5)\n", {"Timeout": 1}, "Sandbox.Timedout"),
    ("def handler(e, c):\n    x = bytearray(400 * 1024 * 1024)\n    return len(x)\n", {"MemorySize": 128},
     "Runtime.ExitError"),
])
def test_platform_failures_are_retried(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, source: str,
                                       config: dict[str, Any], error_type: str) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, source, **config)
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                                DestinationConfig={"OnFailure": {"Destination": arn}})
    request_id = invoke_event(manual_lam, name, {})
    manual_server.advance(0)
    manual_server.advance(60)
    attempts = manual_server.invocations(name)
    assert [a["errorType"] for a in attempts] == [error_type, error_type]
    assert spacing(attempts) == [60.0]
    [message] = receive_all(manual_sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorType"] == error_type
    assert record["responsePayload"]["errorMessage"].startswith(f"RequestId: {request_id} Error: ")


# ---- duplicates -------------------------------------------------------------------------------


def test_duplicate_rate_one_delivers_every_event_twice(manual_server: RunningServer, manual_lam: Any,
                                                       manual_sqs: Any) -> None:
    url, arn = make_queue(manual_sqs)
    name = create_python_function(manual_lam, ECHO)
    manual_lam.put_function_event_invoke_config(FunctionName=name,
                                                DestinationConfig={"OnSuccess": {"Destination": arn}})
    faults = manual_server.emu_post("/_emu/faults", {"functionName": name, "duplicateRate": 1.0})
    assert {"functionName": name, "duplicateRate": 1.0} in faults["functions"]
    request_id = invoke_event(manual_lam, name, {"n": 1})
    manual_server.advance(0)
    attempts = manual_server.invocations(name)
    assert [(a["requestId"], a["attempt"], a["duplicate"], a["outcome"]) for a in attempts] == [
        (request_id, 1, False, "success"), (request_id, 2, True, "success")]
    messages = receive_all(manual_sqs, url)
    assert len(messages) == 2
    for message in messages:
        record = json.loads(message["Body"])
        assert record["requestContext"]["requestId"] == request_id
        assert record["responsePayload"] == {"event": {"n": 1}, "requestId": request_id}


def test_faults_endpoint_rejects_bad_input(manual_server: RunningServer) -> None:
    import urllib.error
    import urllib.request

    for body in ({"functionName": "nope-" + unique(), "duplicateRate": 0.5}, {"duplicateRate": 2},
                 {"functionName": "x"}):
        request = urllib.request.Request(manual_server.endpoint + "/_emu/faults", data=json.dumps(body).encode(),
                                         method="POST")
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(request, timeout=30)
        assert excinfo.value.code in (400, 404)


# ---- other destinations -------------------------------------------------------------------------


def test_lambda_destination_invokes_target_asynchronously(manual_server: RunningServer, manual_lam: Any) -> None:
    target = create_python_function(manual_lam, "def handler(event, context):\n    return event\n")
    name = create_python_function(manual_lam, ECHO)
    target_arn = manual_lam.get_function(FunctionName=target)["Configuration"]["FunctionArn"]
    manual_lam.put_function_event_invoke_config(FunctionName=name,
                                                DestinationConfig={"OnSuccess": {"Destination": target_arn}})
    request_id = invoke_event(manual_lam, name, {"k": "v"})
    manual_server.advance(0)
    [attempt] = manual_server.invocations(target)
    assert attempt["source"] == "async" and attempt["outcome"] == "success"
    [delivery] = manual_server.emu_get(f"/_emu/deliveries?target={target_arn}")["deliveries"]
    assert delivery["body"]["requestContext"]["requestId"] == request_id
    assert delivery["body"]["requestContext"]["condition"] == "Success"


def test_eventbridge_and_sns_deliveries_are_kept(manual_server: RunningServer, manual_lam: Any) -> None:
    bus = "arn:aws:events:us-east-1:000000000000:event-bus/" + unique("bus")
    topic = "arn:aws:sns:us-east-1:000000000000:" + unique("topic")
    name = create_python_function(manual_lam, ECHO)
    manual_lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": bus}, "OnFailure": {"Destination": topic}})
    ok_id = invoke_event(manual_lam, name, {"mode": "success"})
    fail_id = invoke_event(manual_lam, name, {"raise_error": 1})
    manual_server.advance(0)
    [event] = manual_server.emu_get(f"/_emu/deliveries?target={bus}")["deliveries"]
    assert event["target"] == bus
    body = event["body"]
    assert body["source"] == "lambda" and body["version"] == "0"
    assert body["detail-type"] == "Lambda Function Invocation Result - Success"
    assert body["resources"] == [bus, f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST"]
    assert body["detail"]["requestContext"]["requestId"] == ok_id
    [failure] = manual_server.emu_get(f"/_emu/deliveries?target={topic}")["deliveries"]
    assert failure["body"]["requestContext"]["requestId"] == fail_id
    assert failure["body"]["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["body"]["responseContext"]["functionError"] == "Unhandled"


# ---- the event invoke config API ----------------------------------------------------------------


def test_event_invoke_config_api_shapes(manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST"
    with pytest.raises(ClientError) as excinfo:
        manual_lam.get_function_event_invoke_config(FunctionName=name)
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert excinfo.value.response["Error"]["Message"] == f"The function {arn} doesn't have an EventInvokeConfig"
    put = manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert put["FunctionArn"] == arn
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert isinstance(put["LastModified"], datetime)
    updated = manual_lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=600)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 600)
    replaced = manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=120)
    assert "MaximumRetryAttempts" not in replaced  # Put overwrites the whole configuration
    listed = manual_lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["MaximumEventAgeInSeconds"] for c in listed] == [120]
    assert manual_lam.get_function_event_invoke_config(FunctionName=name)["MaximumEventAgeInSeconds"] == 120
    deleted = manual_lam.delete_function_event_invoke_config(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert manual_lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []


@pytest.mark.parametrize(("kwargs", "code", "message"), [
    ({"MaximumRetryAttempts": 3}, "ValidationException",
     "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
     "Member must have value less than or equal to 2"),
    ({"MaximumEventAgeInSeconds": 59}, "ValidationException",
     "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
     "Member must have value greater than or equal to 60"),
    ({"MaximumEventAgeInSeconds": 21601}, "ValidationException", None),
    ({}, "InvalidParameterValueException", "You must specify at least one of error handling or destination setting."),
    ({"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:dynamodb:us-east-1:000000000000:table/t"}}},
     "InvalidParameterValueException", None),
    ({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:no-such-queue"}}},
     "InvalidParameterValueException", None),
])
def test_event_invoke_config_validation(manual_server: RunningServer, manual_lam: Any, kwargs: dict[str, Any],
                                        code: str, message: str | None) -> None:
    name = create_python_function(manual_lam, ECHO)
    # boto3 checks minimums itself; the server must refuse them too (other SDKs don't check).
    unchecked = manual_server.client("lambda", parameter_validation=False)
    with pytest.raises(ClientError) as excinfo:
        unchecked.put_function_event_invoke_config(FunctionName=name, **kwargs)
    assert excinfo.value.response["Error"]["Code"] == code
    if message is not None:
        assert excinfo.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError):
        manual_lam.get_function_event_invoke_config(FunctionName=name)  # nothing was stored


def test_function_cannot_be_its_own_destination(manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    with pytest.raises(ClientError) as excinfo:
        manual_lam.put_function_event_invoke_config(FunctionName=name,
                                                    DestinationConfig={"OnSuccess": {"Destination": arn}})
    assert excinfo.value.response["Error"]["Message"] == "You can't specify the function as a destination for itself."


# ---- intake -------------------------------------------------------------------------------------


def test_event_payload_over_1_mb_is_refused(manual_server: RunningServer, manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    payload = json.dumps({"x": "a" * (1024 * 1024)}).encode()
    with pytest.raises(ClientError) as excinfo:
        manual_lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    assert excinfo.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    manual_server.advance(0)
    assert manual_server.invocations(name) == []


def test_legacy_invoke_async(manual_server: RunningServer, manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    response = manual_lam.invoke_async(FunctionName=name, InvokeArgs=b'{"legacy": true}')
    assert response["Status"] == 202
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    manual_server.advance(0)
    [attempt] = manual_server.invocations(name)
    assert attempt["requestId"] == response["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as excinfo:
        manual_lam.invoke_async(FunctionName=name, InvokeArgs=b'"' + b"a" * (256 * 1024) + b'"')
    assert excinfo.value.response["Error"]["Code"] == "RequestTooLargeException"


def test_journal_entry_shape(manual_server: RunningServer, manual_lam: Any) -> None:
    name = create_python_function(manual_lam, ECHO)
    request_id = invoke_event(manual_lam, name, {})
    manual_server.advance(0)
    [entry] = manual_server.invocations(name, request_id)
    assert set(entry) == {"sequence", "requestId", "functionName", "executedVersion", "source", "sourceDetail",
                          "attempt", "duplicate", "startTime", "endTime", "durationMs", "outcome", "errorType",
                          "coldStart", "event", "eventTruncated", "response", "logTail", "decision"}
    assert entry["functionName"] == name and entry["source"] == "async" and entry["attempt"] == 1
    assert entry["duplicate"] is False and entry["outcome"] == "success" and entry["errorType"] is None
    assert entry["coldStart"] is True and entry["durationMs"] > 0
    assert entry["startTime"].endswith("Z") and len(entry["startTime"]) == len("2026-01-01T00:00:00.000Z")


# ---- the scaled clock, for real -------------------------------------------------------------------


@pytest.fixture(scope="module")
def scaled_server() -> Any:
    running = RunningServer(clock="scaled", time_scale=600).start()
    yield running
    running.stop()


def test_scaled_clock_runs_the_retry_chain_in_real_time(scaled_server: RunningServer) -> None:
    """At 600x, the 60 s and 120 s retry delays take 0.1 s and 0.2 s of wall time."""
    lam = scaled_server.client("lambda")
    name = create_python_function(lam, FAILING)
    assert scaled_server.emu_get("/_emu/clock")["mode"] == "scaled"
    # A first (sync) invoke takes the cold start out of the measured gaps: at 600x, a cold start of
    # 0.7 s on a busy machine is 420 virtual seconds on the first attempt, which is not the retry delay.
    assert lam.invoke(FunctionName=name, Payload=b"{}")["FunctionError"] == "Unhandled"
    started = time.monotonic()
    request_id = invoke_event(lam, name, {})
    deadline = started + 20
    while len(scaled_server.invocations(name, request_id)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    attempts = scaled_server.invocations(name, request_id)
    assert len(attempts) == 3
    gaps = spacing(attempts)
    # Virtual gaps are at least the delays; the wall clock only adds a little at 600x.
    assert 60 <= gaps[0] < 60 + 0.6 * 600 and 120 <= gaps[1] < 120 + 0.6 * 600
    assert time.monotonic() - started < 10


RETURN_EVENT = "def handler(event, context):\n    return event\n"


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
    name = create_python_function(manual_lam, RETURN_EVENT)
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
    name = create_python_function(manual_lam, RETURN_EVENT)
    assert aws_error(manual_lam.update_function_event_invoke_config, FunctionName=name,
                     MaximumRetryAttempts=0) == (
        404, "ResourceNotFoundException",
        f"The function {function_arn(name)}:$LATEST doesn't have an EventInvokeConfig")
    assert manual_lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []


def test_destination_errors(manual_lam: Any) -> None:
    name = create_python_function(manual_lam, RETURN_EVENT)
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
