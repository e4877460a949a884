"""Invoke (RequestResponse, DryRun, LogType Tail, ClientContext), the context the handler sees, and the
lifecycle of execution environments: cold then warm, one invocation at a time, reserved concurrency."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from typing import Any

import pytest

from tests.support import (
    ROLE,
    RunningServer,
    create_python_function,
    error_of,
    function_arn,
    make_zip,
    payload_of,
    unique,
)

ECHO = """
import json, os, tempfile, time

STARTED = time.time()
CALLS = []

def handler(event, context):
    CALLS.append(context.aws_request_id)
    if isinstance(event, dict) and event.get("print"):
        print(event["print"])
    if isinstance(event, dict) and event.get("sleep"):
        time.sleep(event["sleep"])
    cc = context.client_context
    fields = lambda obj, names: None if obj is None else {n: getattr(obj, n) for n in names}  # noqa: E731
    return {
        "event": event,
        "pid": os.getpid(),
        "calls": len(CALLS),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context": None if cc is None else {
            "client": fields(cc.client, ["installation_id", "app_title", "app_version_name", "app_version_code",
                                         "app_package_name"]),
            "custom": cc.custom, "env": cc.env},
        "identity": fields(context.identity, ["cognito_identity_id", "cognito_identity_pool_id"]),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "tmp": tempfile.gettempdir(),
    }
"""

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: (?P<memory>\d+) MB\tMax Memory Used: \d+ MB\t(?:Init Duration: \d+\.\d{2} ms\t)?$"
)


@pytest.fixture(scope="module")
def echo(lam: Any) -> str:
    return create_python_function(lam, ECHO, Timeout=7, MemorySize=192,
                                  Environment={"Variables": {"GREETING": "hello", "LANG_OVERRIDE": "x"}})


def invoke(lam: Any, name: str, event: Any = None, **extra: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}).encode(),
                          **extra)
    return response, payload_of(response)


def tail_lines(response: dict[str, Any]) -> list[str]:
    return base64.b64decode(response["LogResult"]).decode().splitlines()


# ---- RequestResponse ----


def test_request_response_returns_the_handler_result(lam: Any, echo: str) -> None:
    response, result = invoke(lam, echo, {"a": [1, 2], "b": "ü"})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert "LogResult" not in response
    assert result["event"] == {"a": [1, 2], "b": "ü"}
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    # The API's request ID is the one the function saw.
    assert headers["x-amzn-requestid"] == result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert headers["x-amz-executed-version"] == "$LATEST"
    assert "x-amz-function-error" not in headers


@pytest.mark.parametrize("payload,expected", [(b"", {}), (b"[1, 2]", [1, 2]), (b'"text"', "text"),
                                              (b"42", 42), (b"null", None)])
def test_any_json_document_is_an_event(lam: Any, payload: bytes, expected: Any) -> None:
    name = create_python_function(lam, "def handler(event, context):\n    return {'got': event}\n")
    response = lam.invoke(FunctionName=name, Payload=payload)
    assert payload_of(response) == {"got": expected}


def test_handler_result_is_returned_as_json_bytes(lam: Any) -> None:
    name = create_python_function(lam, "def handler(event, context):\n    return 'plain'\n")
    assert lam.invoke(FunctionName=name)["Payload"].read() == b'"plain"'
    none = create_python_function(lam, "def handler(event, context):\n    return None\n")
    assert lam.invoke(FunctionName=none)["Payload"].read() == b"null"


def test_context_object(lam: Any, echo: str) -> None:
    response, result = invoke(lam, echo)
    assert result["function_name"] == echo
    assert result["function_version"] == "$LATEST"
    assert result["memory_limit_in_mb"] == "192"
    assert result["invoked_function_arn"] == function_arn(echo)
    assert result["log_group_name"] == f"/aws/lambda/{echo}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", result["log_stream_name"])
    assert 6000 < result["remaining_ms"] <= 7000
    assert result["client_context"] is None
    assert result["identity"] == {"cognito_identity_id": None, "cognito_identity_pool_id": None}


def test_invoked_function_arn_carries_the_qualifier(lam: Any, echo: str) -> None:
    _, result = invoke(lam, echo, Qualifier="$LATEST")
    assert result["invoked_function_arn"] == function_arn(echo) + ":$LATEST"
    _, result = invoke(lam, function_arn(echo))
    assert result["invoked_function_arn"] == function_arn(echo)


def test_client_context_reaches_the_handler(lam: Any, echo: str) -> None:
    client_context = {
        "client": {"installation_id": "i-1", "app_title": "app", "app_version_name": "1.0",
                   "app_version_code": "1", "app_package_name": "com.example"},
        "custom": {"tenant": "t-42"},
        "env": {"platform": "linux"},
    }
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    _, result = invoke(lam, echo, ClientContext=encoded)
    assert result["client_context"] == client_context


def test_bad_client_context_is_refused(lam: Any, echo: str) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        lam.invoke(FunctionName=echo, ClientContext="not base64 !!")
    assert error_of(caught.value)[:3] == (400, "InvalidParameterValueException",
                                          "Client context must be a valid Base64-encoded JSON object.")


def test_environment_variables(lam: Any, echo: str, server: RunningServer) -> None:
    _, result = invoke(lam, echo)
    env = result["env"]
    code_dir = result["cwd"]
    expected = {
        "_HANDLER": "app.handler",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": echo,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "192",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{echo}",
        "AWS_LAMBDA_LOG_STREAM_NAME": result["log_stream_name"],
        "LAMBDA_TASK_ROOT": code_dir,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "GREETING": "hello",
        "LANG_OVERRIDE": "x",
    }
    assert {k: env.get(k) for k in expected} == expected
    for key in ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "LAMBDA_RUNTIME_DIR", "PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "AWS_XRAY_CONTEXT_MISSING",
                "AWS_XRAY_DAEMON_ADDRESS"):
        assert key in env, key
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_ACCESS_KEY"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_LAMBDA_RUNTIME_API"] != server.endpoint.removeprefix("http://")
    # awslambdaric sets the trace header of the invocation into the environment.
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", env["_X_AMZN_TRACE_ID"])
    # The function's code is its working directory and /tmp is its own.
    assert result["tmp"] == env["TMPDIR"] != "/tmp"


def test_exec_wrapper_starts_the_runtime(lam: Any) -> None:
    """AWS_LAMBDA_EXEC_WRAPPER: the runtime starts through the wrapper, which gets its command as arguments
    (LocalStack's AWS-validated test_runtime_wrapper_invoke)."""
    name = unique("wrapped")
    wrapper = '#!/bin/sh\nexport WRAPPER_VAR=wrapped\nexec "$@"\n'
    handler = "import os\n\ndef handler(event, context):\n    return os.environ.get('WRAPPER_VAR')\n"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": handler, "wrapper": wrapper}, modes={"wrapper": 0o755})},
        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper"}})
    assert payload_of(lam.invoke(FunctionName=name)) == "wrapped"


def test_python_runtimes_all_run(lam: Any) -> None:
    for runtime in ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13"):
        name = create_python_function(
            lam, "import os\ndef handler(event, context):\n    return os.environ['AWS_EXECUTION_ENV']\n",
            runtime=runtime)
        assert payload_of(lam.invoke(FunctionName=name)) == f"AWS_Lambda_{runtime}"


# ---- DryRun ----


def test_dry_run_returns_204_and_runs_nothing(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, ECHO)
    response = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=b'{"a": 1}')
    assert response["StatusCode"] == 204
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert response["Payload"].read() == b""
    assert "FunctionError" not in response
    assert server.invocations(name) == []


def test_dry_run_of_unknown_function_is_not_found(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=unique("missing"), InvocationType="DryRun")


# ---- LogType Tail ----


def test_log_tail_has_start_end_report_and_init_duration_only_when_cold(lam: Any) -> None:
    name = create_python_function(lam, ECHO, MemorySize=160)
    cold = lam.invoke(FunctionName=name, Payload=b'{"print": "hello from the handler"}', LogType="Tail")
    request_id = cold["ResponseMetadata"]["RequestId"]
    lines = tail_lines(cold)
    assert cold["ResponseMetadata"]["HTTPHeaders"]["x-amz-log-result"] == cold["LogResult"]
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "hello from the handler" in lines[1:-2]
    assert lines[-2] == f"END RequestId: {request_id}"
    report = REPORT.match(lines[-1])
    assert report is not None, lines[-1]
    assert (report["id"], report["memory"]) == (request_id, "160")
    assert "\tInit Duration: " in lines[-1]

    warm = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    warm_id = warm["ResponseMetadata"]["RequestId"]
    lines = tail_lines(warm)
    assert lines == [f"START RequestId: {warm_id} Version: $LATEST", f"END RequestId: {warm_id}", lines[-1]]
    assert REPORT.match(lines[-1]) is not None, lines[-1]
    assert "Init Duration" not in lines[-1]


def test_log_tail_is_the_last_4_kb(lam: Any) -> None:
    name = create_python_function(lam, ECHO)
    text = "".join(f"line {i:05d} " + "x" * 90 + "\n" for i in range(100))  # ~10 KB
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"print": text}).encode(), LogType="Tail")
    raw = base64.b64decode(response["LogResult"])
    assert len(raw) == 4096
    assert raw.decode().splitlines()[-1].startswith("REPORT RequestId: ")
    assert "line 00099 " in raw.decode()
    assert "START RequestId" not in raw.decode()


def test_log_type_none_has_no_log_result(lam: Any, echo: str) -> None:
    response = lam.invoke(FunctionName=echo, LogType="None")
    assert "LogResult" not in response
    assert "x-amz-log-result" not in response["ResponseMetadata"]["HTTPHeaders"]


# ---- lifecycle ----


def test_cold_start_then_warm_reuse(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, ECHO)
    _, first = invoke(lam, name)
    _, second = invoke(lam, name)
    _, third = invoke(lam, name)
    assert first["pid"] == second["pid"] == third["pid"]
    assert (first["calls"], second["calls"], third["calls"]) == (1, 2, 3)
    attempts = server.invocations(name)
    assert [(a["requestId"], a["coldStart"], a["outcome"], a["source"]) for a in attempts] == [
        (first["request_id"], True, "success", "sync"),
        (second["request_id"], False, "success", "sync"),
        (third["request_id"], False, "success", "sync"),
    ]


def concurrently(count: int, call: Any) -> list[Any]:
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = call(index)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each caller got
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_invokes_get_their_own_environments(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, ECHO)
    client = server.client("lambda", max_pool_connections=10)
    results = concurrently(4, lambda i: payload_of(client.invoke(FunctionName=name,
                                                                 Payload=json.dumps({"sleep": 0.5}).encode())))
    pids = {r["pid"] for r in results}
    # One invocation at a time per environment: four overlapping invokes, four environments, each fresh.
    assert len(pids) == 4
    assert all(r["calls"] == 1 for r in results)
    # Afterwards they are all warm: a sequential invoke reuses one of them.
    _, again = invoke(lam, name)
    assert again["pid"] in pids and again["calls"] == 2


TOO_MANY = (429, "TooManyRequestsException", "Rate Exceeded.")


def assert_throttled(exc: Exception) -> None:
    status, code, message, body = error_of(exc)
    assert (status, code, message) == TOO_MANY
    assert body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert body["Type"] == "User"
    assert body["message"] == "Rate Exceeded."


def test_reserved_concurrency_throttles_excess_sync_invokes(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, ECHO)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    # No client-side retry: botocore would retry a 429 and the test would count two throttles.
    client = server.client("lambda", max_pool_connections=10, retries={"total_max_attempts": 1})

    def call(index: int) -> Any:
        time.sleep(0.3 * index)  # the first caller holds the only environment
        return payload_of(client.invoke(FunctionName=name, Payload=json.dumps({"sleep": 1.5 if index == 0 else 0})
                                        .encode()))

    first, second = concurrently(2, call)
    assert isinstance(first, dict) and first["calls"] == 1
    assert isinstance(second, lam.exceptions.TooManyRequestsException), second
    assert_throttled(second)
    outcomes = [a["outcome"] for a in server.invocations(name)]
    assert sorted(outcomes) == ["success", "throttled"]
    # Free again once the first finished.
    assert invoke(lam, name)[1]["calls"] == 2


def test_reserved_concurrency_zero_throttles_every_invoke(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, ECHO)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    client = server.client("lambda", retries={"total_max_attempts": 1})
    for _ in range(2):
        with pytest.raises(lam.exceptions.TooManyRequestsException) as caught:
            client.invoke(FunctionName=name, Payload=b"{}")
        assert_throttled(caught.value)
    assert [a["outcome"] for a in server.invocations(name)] == ["throttled", "throttled"]
    lam.delete_function_concurrency(FunctionName=name)
    assert invoke(lam, name)[1]["calls"] == 1


def test_update_code_retires_environments(lam: Any) -> None:
    name = create_python_function(lam, "import os\nV = 1\ndef handler(e, c):\n    return [V, os.getpid()]\n")
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200
    old_version, old_pid = payload_of(lam.invoke(FunctionName=name))
    lam.update_function_code(FunctionName=name, ZipFile=make_zip(
        {"app.py": "import os\nV = 2\ndef handler(e, c):\n    return [V, os.getpid()]\n"}))
    response = lam.invoke(FunctionName=name, LogType="Tail")
    new_version, new_pid = payload_of(response)
    assert (old_version, new_version) == (1, 2)
    assert new_pid != old_pid
    assert "Init Duration" in tail_lines(response)[-1]


def test_update_configuration_retires_environments(lam: Any) -> None:
    name = create_python_function(lam, ECHO, Environment={"Variables": {"GREETING": "hello"}})
    _, before = invoke(lam, name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"GREETING": "bye"}},
                                      MemorySize=256)
    response, after = invoke(lam, name, LogType="Tail")
    assert (before["env"]["GREETING"], after["env"]["GREETING"]) == ("hello", "bye")
    assert after["memory_limit_in_mb"] == "256"
    assert after["pid"] != before["pid"] and after["calls"] == 1
    assert "Init Duration" in tail_lines(response)[-1]


def test_update_while_busy_retires_the_busy_environment_after_it_finishes(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, ECHO)
    client = server.client("lambda")
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(payload_of(client.invoke(
        FunctionName=name, Payload=json.dumps({"sleep": 0.8}).encode()))))
    worker.start()
    time.sleep(0.4)
    lam.update_function_configuration(FunctionName=name, Description="changed")
    worker.join(30)
    assert box and box[0]["calls"] == 1
    _, after = invoke(lam, name)
    assert after["pid"] != box[0]["pid"] and after["calls"] == 1


def test_deleted_function_stops_its_environments(lam: Any) -> None:
    import psutil

    name = create_python_function(lam, ECHO)
    _, result = invoke(lam, name)
    assert psutil.pid_exists(result["pid"])
    lam.delete_function(FunctionName=name)
    deadline = time.monotonic() + 5
    while psutil.pid_exists(result["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(result["pid"])


def test_idle_environments_are_reaped() -> None:
    import psutil

    running = RunningServer(idle_timeout=0.5).start()
    try:
        lam = running.client("lambda")
        name = create_python_function(lam, ECHO)
        _, first = invoke(lam, name)
        deadline = time.monotonic() + 5
        while psutil.pid_exists(first["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not psutil.pid_exists(first["pid"])
        _, second = invoke(lam, name)
        assert second["calls"] == 1 and second["pid"] != first["pid"]
    finally:
        running.stop()
