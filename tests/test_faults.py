"""Injected platform faults (issue 13): each fault's effect and AWS shape, its journal tag, its
determinism (same seed → same decisions), /_emu/faults, and `--fault` at `lambda-emu up`.

One manual-clock server for the module, reset before every test (a reset would wipe the shared
servers' state, so these tests don't use them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, error_of, raw_request

# Appends each event it handles (with wall times and, for SQS, each record's receive count) to $OUT.
RECORDER = """
import json, os, time

with open(os.environ["OUT"], "a") as out:
    out.write(json.dumps({"init": True}) + "\\n")

def handler(event, context):
    started = time.time()
    time.sleep(float(os.environ.get("SLEEP", "0")))
    records = [{"messageId": r.get("messageId"),
                "receiveCount": r.get("attributes", {}).get("ApproximateReceiveCount")}
               for r in event.get("Records", [])] if isinstance(event, dict) else []
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "start": started, "end": time.time(),
                              "event": event, "records": records}) + "\\n")
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = RunningServer(clock="manual", seed=3).start()
    yield running
    running.stop()


@pytest.fixture
def emu(server: RunningServer) -> RunningServer:
    server.emu_post("/_emu/reset", {})
    return server


def handled(out: Path) -> list[dict[str, Any]]:
    """The events the handler ran for (init lines left out)."""
    if not out.exists():
        return []
    return [d for d in map(json.loads, out.read_text().splitlines()) if "init" not in d]


def inits(out: Path) -> int:
    return sum(1 for line in out.read_text().splitlines() if '"init"' in line) if out.exists() else 0


def recorder(emu: RunningServer, out: Path, **extra: Any) -> str:
    environment = {"Variables": {"OUT": str(out), **extra.pop("variables", {})}}
    return create_python_function(emu.client("lambda"), RECORDER, Environment=environment, **extra)


def faults(emu: RunningServer, **body: Any) -> Any:
    return emu.emu_post("/_emu/faults", body)


def tags(emu: RunningServer, name: str) -> list[Any]:
    return [a.get("fault") for a in emu.invocations(name)]


def queue(emu: RunningServer, name: str) -> tuple[str, str]:
    sqs = emu.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# ---- throttleRate ---------------------------------------------------------------------------------


def test_throttle_sync_is_aws_429_at_the_account_limit(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = recorder(emu, out)
    faults(emu, functionName=name, throttleRate=1.0)
    with pytest.raises(ClientError) as excinfo:
        emu.client("lambda", retries={"total_max_attempts": 1}).invoke(FunctionName=name, Payload=b"{}")
    status, code, message, response = error_of(excinfo.value)
    assert (status, code, message) == (429, "TooManyRequestsException", "Rate Exceeded.")
    assert (response["Reason"], response["Type"], response["message"]) == (
        "ConcurrentInvocationLimitExceeded", "User", "Rate Exceeded.")
    [attempt] = emu.invocations(name)
    assert (attempt["outcome"], attempt["errorType"], attempt["fault"]) == (
        "throttled", "TooManyRequestsException", "throttleRate")
    assert handled(out) == [] and inits(out) == 0  # throttled before anything ran


def test_throttle_async_backs_off_without_using_a_retry(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lam = emu.client("lambda")
    name = recorder(emu, out)
    url, arn = queue(emu, "success")
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnSuccess": {"Destination": arn}})
    faults(emu, functionName=name, throttleRate=1.0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    emu.advance(0)
    emu.advance(1)  # AWS's throttle backoff: 1 s, then 2, 4...
    assert tags(emu, name) == ["throttleRate", "throttleRate"]
    faults(emu, functionName=name, throttleRate=0.0)
    emu.advance(2)
    attempts = emu.invocations(name)
    assert [(a["outcome"], a.get("fault")) for a in attempts] == [
        ("throttled", "throttleRate"), ("throttled", "throttleRate"), ("success", None)]
    # MaximumRetryAttempts 0 and still delivered: throttles are not retries.
    [message] = emu.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_throttle_on_an_sqs_mapping_leaves_the_batch_to_its_visibility_timeout(emu: RunningServer,
                                                                                tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = recorder(emu, out)
    url, arn = queue(emu, "source")
    emu.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    faults(emu, functionName=name, throttleRate=1.0)
    emu.client("sqs").send_message(QueueUrl=url, MessageBody="m")
    emu.advance(0)
    assert tags(emu, name) == ["throttleRate"]
    faults(emu, functionName=name, throttleRate=0.0)
    emu.advance(29)
    assert len(emu.invocations(name)) == 1
    emu.advance(1)
    assert [(a["outcome"], a.get("fault")) for a in emu.invocations(name)][1:] == [("success", None)]
    assert [r["receiveCount"] for r in handled(out)[0]["records"]] == ["2"]


# ---- serviceErrorRate -----------------------------------------------------------------------------


def test_service_error_sync_is_a_500_service_exception(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = recorder(emu, out)
    faults(emu, functionName=name, serviceErrorRate=1.0)
    with pytest.raises(ClientError) as excinfo:
        emu.client("lambda", retries={"total_max_attempts": 1}).invoke(FunctionName=name, Payload=b"{}")
    status, code, message, response = error_of(excinfo.value)
    assert (status, code, message) == (500, "ServiceException", "The Lambda service encountered an internal error.")
    assert response["Type"] == "Service"
    [attempt] = emu.invocations(name)
    assert (attempt["outcome"], attempt["errorType"], attempt["fault"]) == ("error", "ServiceException",
                                                                            "serviceErrorRate")
    assert handled(out) == [] and inits(out) == 0


def test_service_error_async_is_retried_as_a_system_error(emu: RunningServer, tmp_path: Path) -> None:
    """AWS returns events that hit throttles and system errors (5xx) to its queue with backoff,
    without counting them against MaximumRetryAttempts."""
    out = tmp_path / "out"
    lam = emu.client("lambda")
    name = recorder(emu, out)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    faults(emu, functionName=name, serviceErrorRate=1.0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    emu.advance(0)
    faults(emu, functionName=name, serviceErrorRate=0.0)
    emu.advance(1)
    assert [(a["outcome"], a["errorType"], a.get("fault")) for a in emu.invocations(name)] == [
        ("error", "ServiceException", "serviceErrorRate"), ("success", None, None)]
    assert len(handled(out)) == 1


# ---- lostResponseRate -----------------------------------------------------------------------------


def test_lost_response_sync_ran_the_function_but_reports_a_timeout(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = recorder(emu, out, Timeout=7)
    faults(emu, functionName=name, lostResponseRate=1.0)
    response = emu.client("lambda").invoke(FunctionName=name, Payload=b'{"charge": 1}')
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 7.00 seconds",
    }
    assert [h["event"] for h in handled(out)] == [{"charge": 1}]  # the side effect happened
    [attempt] = emu.invocations(name)
    assert (attempt["outcome"], attempt["errorType"], attempt["fault"]) == ("error", "Sandbox.Timedout",
                                                                            "lostResponseRate")
    # `lambda-emu timeline` shows which fault hit the attempt.
    import subprocess
    import sys

    shown = subprocess.run([str(Path(sys.executable).parent / "lambda-emu"), "timeline", "--endpoint", emu.endpoint],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"{name} sync {request_id}" in shown and "attempt 1 cold fault lostResponseRate" in shown


def test_lost_response_async_is_retried_like_a_timeout(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lam = emu.client("lambda")
    name = recorder(emu, out)
    url, arn = queue(emu, "failures")
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}})
    faults(emu, functionName=name, lostResponseRate=1.0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"charge": 1}')
    emu.settle(3600)
    attempts = emu.invocations(name)
    assert [(a["attempt"], a["errorType"], a["fault"]) for a in attempts] == [
        (n, "Sandbox.Timedout", "lostResponseRate") for n in (1, 2, 3)]
    assert len(handled(out)) == 3  # charged three times: the double-charge story
    [message] = emu.client("sqs").receive_message(QueueUrl=url)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"]["errorType"] == "Sandbox.Timedout"


# ---- initFailureRate ------------------------------------------------------------------------------


def test_init_failure_fails_the_cold_start_before_the_handler(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lam = emu.client("lambda")
    name = recorder(emu, out)
    faults(emu, functionName=name, initFailureRate=1.0)
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 1",
    }
    assert handled(out) == []
    [attempt] = emu.invocations(name)
    assert (attempt["errorType"], attempt["fault"], attempt["coldStart"]) == ("Runtime.ExitError",
                                                                               "initFailureRate", True)
    # Only cold starts fail: a warm environment is not hit.
    faults(emu, functionName=name, initFailureRate=0.0)
    assert "FunctionError" not in lam.invoke(FunctionName=name, Payload=b"{}")
    faults(emu, functionName=name, initFailureRate=1.0)
    assert "FunctionError" not in lam.invoke(FunctionName=name, Payload=b"{}")
    assert tags(emu, name) == ["initFailureRate", None, None]


# ---- redeliverDuringProcessingRate ----------------------------------------------------------------


def test_redeliver_during_processing_gives_two_concurrent_deliveries(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = recorder(emu, out, Timeout=10, variables={"SLEEP": "1.5"})
    url, arn = queue(emu, "orders")
    emu.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    faults(emu, functionName=name, redeliverDuringProcessingRate=1.0)
    message_id = emu.client("sqs").send_message(QueueUrl=url, MessageBody="order-1")["MessageId"]
    emu.advance(0)
    # Two environments start at once; which handler starts first is the machine's choice, so the two
    # deliveries are told apart by their receive count, and must overlap in time.
    first, second = sorted(handled(out), key=lambda h: int(h["records"][0]["receiveCount"]))
    assert [r["messageId"] for r in first["records"] + second["records"]] == [message_id, message_id]
    assert [first["records"][0]["receiveCount"], second["records"][0]["receiveCount"]] == ["1", "2"]
    assert second["start"] < first["end"] and first["start"] < second["end"], \
        "the second delivery must run while the first still does"
    attempts = emu.invocations(name)
    assert [(a["source"], a.get("fault")) for a in attempts] == [
        ("sqs", "redeliverDuringProcessingRate"), ("sqs", None)]
    emu.advance(60)
    assert len(handled(out)) == 2  # deleted after success: no third delivery
    assert emu.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0"


# ---- determinism, the endpoint, `--fault` ---------------------------------------------------------


def fault_run(emu: RunningServer, tmp_path: Path, seed: int) -> list[Any]:
    emu.emu_post("/_emu/reset", {"seed": seed})
    name = recorder(emu, tmp_path / f"out-{seed}-{len(list(tmp_path.iterdir()))}", name="Deterministic")
    faults(emu, throttleRate=0.3, serviceErrorRate=0.2, lostResponseRate=0.3)
    lam = emu.client("lambda", retries={"total_max_attempts": 1})
    for n in range(12):
        try:
            lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())
        except ClientError:
            pass
    return tags(emu, name)


def test_same_seed_same_fault_decisions(emu: RunningServer, tmp_path: Path) -> None:
    first = fault_run(emu, tmp_path, 5)
    assert set(first) >= {"throttleRate", "lostResponseRate", None}
    assert fault_run(emu, tmp_path, 5) == first
    assert fault_run(emu, tmp_path, 6) != first


def test_faults_endpoint(emu: RunningServer, tmp_path: Path) -> None:
    name = recorder(emu, tmp_path / "out")
    everything = faults(emu, throttleRate=0.25)
    assert everything == {"duplicateRate": 0.0, "throttleRate": 0.25, "serviceErrorRate": 0.0,
                          "lostResponseRate": 0.0, "initFailureRate": 0.0, "redeliverDuringProcessingRate": 0.0,
                          "functions": []}
    faults(emu, functionName=name, lostResponseRate=1, throttleRate=0)
    assert emu.emu_get("/_emu/faults")["functions"] == [
        {"functionName": name, "throttleRate": 0.0, "lostResponseRate": 1}]
    assert emu.emu_get(f"/_emu/faults?functionName={name}") == {
        "functionName": name, "duplicateRate": 0.0, "throttleRate": 0.0, "serviceErrorRate": 0.0,
        "lostResponseRate": 1, "initFailureRate": 0.0, "redeliverDuringProcessingRate": 0.0}
    status, _, body = raw_request(emu.endpoint, "DELETE", f"/_emu/faults?functionName={name}")
    assert status == 200 and json.loads(body)["functions"] == [] and json.loads(body)["throttleRate"] == 0.25
    status, _, body = raw_request(emu.endpoint, "DELETE", "/_emu/faults")
    assert status == 200 and json.loads(body)["throttleRate"] == 0.0
    for raw, field in ((b'{"throttleRate": 1.5}', "throttleRate"), (b'{"lostResponseRate": "0.5"}', "lostResponseRate"),
                       (b'{"initFailureRate": -0.1}', "initFailureRate"), (b'{"bogusRate": 0.1}', "bogusRate"),
                       (b'{"redeliverDuringProcessingRate": true}', "redeliverDuringProcessingRate"),
                       (b'{"serviceErrorRate": null, "functionName": "' + name.encode() + b'"}', "fault rate")):
        status, _, body = raw_request(emu.endpoint, "POST", "/_emu/faults", raw)
        assert status == 400 and field in json.loads(body)["error"]["message"], (raw, body)
    status, _, _ = raw_request(emu.endpoint, "POST", "/_emu/faults", b'{"functionName": "nope", "throttleRate": 1}')
    assert status == 404


def test_fault_flags_at_up_and_the_narration_line(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    command = [str(Path(sys.executable).parent / "lambda-emu"), "up", "--port", "0", "--clock", "manual"]
    refused = subprocess.run([*command, "--fault", "slowRate=1"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "slowRate" in refused.stderr
    refused = subprocess.run([*command, "--fault", "throttleRate=2"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2 and "throttleRate must be a probability 0-1" in refused.stderr
    process = subprocess.Popen([*command, "--fault", "throttleRate=1", "--fault", "lostResponseRate=0.2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        ready = re.match(r"lambda-emu \S+ ready at (\S+)", process.stdout.readline())
        assert ready, "lambda-emu did not start"
        endpoint = ready.group(1)
        status, _, body = raw_request(endpoint, "GET", "/_emu/faults")
        rates = json.loads(body)
        assert (rates["throttleRate"], rates["lostResponseRate"], rates["duplicateRate"]) == (1.0, 0.2, 0.0)
        import boto3
        from botocore.config import Config

        lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
        name = create_python_function(lam, "def handler(event, context):\n    return {}\n")
        with pytest.raises(ClientError):
            lam.invoke(FunctionName=name, Payload=b"{}")
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
    # Narrated on the terminal (the narration's plain lines on stdout) and in lambda-emu's own log.
    narrated = rf"\[{name}\] sync \S+ fault throttleRate: the attempt is throttled before it runs"
    assert re.search(narrated, stdout), stdout
    assert "fault throttleRate: the attempt is throttled before it runs" in stderr


def test_throttle_on_a_kinesis_mapping_backs_off_without_using_a_retry(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = recorder(emu, out)
    kinesis = emu.client("kinesis")
    kinesis.create_stream(StreamName="stream", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="stream")["StreamDescriptionSummary"]["StreamARN"]
    emu.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=arn,
                                                     StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=0)
    emu.advance(0)
    faults(emu, functionName=name, throttleRate=1.0)
    kinesis.put_record(StreamName="stream", Data=b"r", PartitionKey="k")
    emu.advance(0)
    assert tags(emu, name) == ["throttleRate"]
    faults(emu, functionName=name, throttleRate=0.0)
    emu.advance(1)
    # MaximumRetryAttempts 0, and the batch still reached the function: a throttle is no retry.
    assert [(a["outcome"], a.get("fault")) for a in emu.invocations(name)] == [
        ("throttled", "throttleRate"), ("success", None)]
    assert len(handled(out)) == 1
