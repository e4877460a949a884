"""Execution environments of custom runtimes (provided.al2 / provided.al2023) with real bootstraps, and
what the process runner guarantees: the environment's variables, its code directory, its end."""

from __future__ import annotations

import json
import re
import shutil
import time
from typing import Any

import psutil
import pytest

from tests.support import (
    ROLE,
    RunningServer,
    bootstrap_zip,
    create_bootstrap_function,
    function_arn,
    make_zip,
    payload_of,
    unique,
)

ECHO_HANDLE = '''
CALLS = []

def handle(event, headers, request_id):
    CALLS.append(request_id)
    if event.get("fail"):
        return "error", {"errorMessage": "custom failure", "errorType": "Custom.Failure", "stackTrace": ["here"]}
    return "response", {"event": event, "request_id": request_id, "calls": len(CALLS), "pid": os.getpid(),
                        "env": dict(os.environ), "cwd": os.getcwd()}
'''


@pytest.mark.parametrize("runtime", ["provided.al2", "provided.al2023"])
def test_python_bootstrap_success(lam: Any, runtime: str) -> None:
    name = create_bootstrap_function(lam, ECHO_HANDLE, runtime=runtime, MemorySize=256)
    response = lam.invoke(FunctionName=name, Payload=b'{"hello": "world"}')
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    result = payload_of(response)
    assert result["event"] == {"hello": "world"}
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    warm = payload_of(lam.invoke(FunctionName=name, Payload=b"{}"))
    assert (warm["calls"], warm["pid"]) == (2, result["pid"])
    env = result["env"]
    assert env["_HANDLER"] == "bootstrap.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"]
    # OS-only runtimes have no AWS_EXECUTION_ENV and no _X_AMZN_TRACE_ID (the bootstrap sets it if it wants).
    assert "AWS_EXECUTION_ENV" not in env
    assert "_X_AMZN_TRACE_ID" not in env


def test_bootstrap_error_post(lam: Any) -> None:
    name = create_bootstrap_function(lam, ECHO_HANDLE)
    response = lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    # The caller sees the body the runtime posted, as it posted it.
    assert payload_of(response) == {"errorMessage": "custom failure", "errorType": "Custom.Failure",
                                    "stackTrace": ["here"]}
    # An error post leaves the runtime running: the next invoke is warm.
    assert payload_of(lam.invoke(FunctionName=name, Payload=b"{}"))["calls"] == 2


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_shell_bootstrap_with_curl(lam: Any) -> None:
    bootstrap = """#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
HEADERS="$(mktemp)"
while true; do
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  curl -sS -o /dev/null -X POST "$API/invocation/$ID/response" -d "{\\"shell\\": true, \\"event\\": $EVENT}"
done
"""
    name = unique("shell")
    lam.create_function(FunctionName=name, Runtime="provided.al2", Role=ROLE, Handler="unused",
                        Code={"ZipFile": make_zip({"bootstrap": bootstrap}, {"bootstrap": 0o755})})
    assert payload_of(lam.invoke(FunctionName=name, Payload=b'{"n": 1}')) == {"shell": True, "event": {"n": 1}}
    assert payload_of(lam.invoke(FunctionName=name, Payload=b'{"n": 2}')) == {"shell": True, "event": {"n": 2}}


def invoke_failing(lam: Any, name: str) -> tuple[dict[str, Any], str]:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    return json.loads(response["Payload"].read()), response["ResponseMetadata"]["RequestId"]


def test_missing_bootstrap_is_an_invalid_entrypoint(lam: Any, server: RunningServer) -> None:
    name = unique("noboot")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="x",
                        Code={"ZipFile": make_zip({"main.sh": "echo hi"})})
    body, request_id = invoke_failing(lam, name)
    assert list(body) == ["errorType", "errorMessage"]
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert body["errorMessage"].startswith(f"RequestId: {request_id} Error: Couldn't find valid bootstrap(s): [")
    assert body["errorMessage"].endswith("/bootstrap /opt/bootstrap]")
    # Nothing is left running, and the server goes on.
    assert [a["errorType"] for a in server.invocations(name)] == ["Runtime.InvalidEntrypoint"]
    body, _ = invoke_failing(lam, name)
    assert body["errorType"] == "Runtime.InvalidEntrypoint"


def test_bootstrap_that_is_not_executable(lam: Any) -> None:
    name = unique("noexec")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="x",
                        Code={"ZipFile": make_zip({"bootstrap": "#!/bin/sh\nexit 0\n"}, {"bootstrap": 0o644})})
    body, request_id = invoke_failing(lam, name)
    assert list(body) == ["errorType", "errorMessage"]
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert re.fullmatch(rf"RequestId: {request_id} Error: fork/exec /\S+/bootstrap: permission denied",
                        body["errorMessage"]), body


def test_bootstrap_exiting_at_init(lam: Any) -> None:
    name = unique("exit")
    lam.create_function(FunctionName=name, Runtime="provided.al2", Role=ROLE, Handler="x",
                        Code={"ZipFile": make_zip({"bootstrap": "#!/bin/sh\nexit 127\n"}, {"bootstrap": 0o755})})
    body, request_id = invoke_failing(lam, name)
    assert body == {"errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 127"}


def test_bootstrap_reporting_an_init_error(lam: Any) -> None:
    source = '''
status, _, _ = call("POST", "/init/error", json.dumps({"errorMessage": "no config", "errorType": "Custom.NoConfig"})
                    .encode(), {"Lambda-Runtime-Function-Error-Type": "Custom.NoConfig"})
sys.exit(1)

def handle(event, headers, request_id):
    return "response", {}
'''
    name = create_bootstrap_function(lam, source)
    body, _ = invoke_failing(lam, name)
    assert body == {"errorMessage": "no config", "errorType": "Custom.NoConfig"}


def test_bootstrap_with_a_library_of_its_own(lam: Any) -> None:
    # Files next to the bootstrap are its working directory's: a custom runtime finds its code there.
    handle = '''
def handle(event, headers, request_id):
    with open("data.txt") as f:
        return "response", f.read()
'''
    name = unique("files")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE, Handler="x",
                        Code={"ZipFile": bootstrap_zip(handle, {"data.txt": "beside the bootstrap"})})
    assert payload_of(lam.invoke(FunctionName=name)) == "beside the bootstrap"


def test_invoked_arn_and_deadline_reach_a_custom_runtime(lam: Any) -> None:
    handle = '''
def handle(event, headers, request_id):
    import time
    return "response", {"arn": headers["Lambda-Runtime-Invoked-Function-Arn"],
                        "left_ms": int(headers["Lambda-Runtime-Deadline-Ms"]) - int(time.time() * 1000)}
'''
    name = create_bootstrap_function(lam, handle, Timeout=9)
    result = payload_of(lam.invoke(FunctionName=name))
    assert result["arn"] == function_arn(name)
    assert 8000 < result["left_ms"] <= 9000


def test_stopping_the_server_stops_every_environment() -> None:
    running = RunningServer().start()
    try:
        lam = running.client("lambda")
        name = create_bootstrap_function(lam, ECHO_HANDLE)
        pid = payload_of(lam.invoke(FunctionName=name))["pid"]
        python_pid = payload_of(lam.invoke(FunctionName=function_for_python(lam)))
        assert psutil.pid_exists(pid) and psutil.pid_exists(python_pid)
    finally:
        running.stop()
    deadline = time.monotonic() + 5
    while (psutil.pid_exists(pid) or psutil.pid_exists(python_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(pid)
    assert not psutil.pid_exists(python_pid)


def function_for_python(lam: Any) -> str:
    name = unique()
    source = "import os\ndef handler(e, c):\n    return os.getpid()\n"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": source})})
    return name
