"""Every way a function fails, with AWS's exact payloads: HTTP 200, X-Amz-Function-Error Unhandled."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from tests.support import RunningServer, create_python_function, error_of, payload_of

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def invoke_failing(lam: Any, name: str, payload: bytes = b"{}", **extra: Any) -> tuple[dict[str, Any], bytes, str]:
    """Invoke, check the function-error envelope, return (response, raw payload, request id)."""
    response = lam.invoke(FunctionName=name, Payload=payload, **extra)
    assert response["StatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    return response, response["Payload"].read(), response["ResponseMetadata"]["RequestId"]


def platform_error(error_type: str, message: str) -> bytes:
    """Errors Lambda itself reports: compact JSON, errorType first (recorded shapes §5.2, §5.4)."""
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()


# ---- handler exception ----


def test_handler_exception(lam: Any) -> None:
    name = create_python_function(lam, "def handler(event, context):\n    raise Exception(\"Handler fails\")\n")
    _, raw, request_id = invoke_failing(lam, name)
    body = json.loads(raw)
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorMessage"] == "Handler fails"
    assert body["errorType"] == "Exception"
    assert body["requestId"] == request_id
    assert len(body["stackTrace"]) == 1
    assert re.fullmatch(r'  File "/.+/app\.py", line 2, in handler\n    raise Exception\("Handler fails"\)\n',
                        body["stackTrace"][0])


def test_custom_exception_type_and_log_tail(lam: Any) -> None:
    source = ("class CustomError(Exception):\n    pass\n\n"
              "def handler(event, context):\n    print('before')\n    raise CustomError('some error occurred')\n")
    name = create_python_function(lam, source)
    response, raw, request_id = invoke_failing(lam, name, LogType="Tail")
    assert json.loads(raw)["errorType"] == "CustomError"
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "before" in lines
    assert "[ERROR] CustomError: some error occurred" in lines
    assert "Traceback (most recent call last):" in lines
    assert lines[-2] == f"END RequestId: {request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\t")


def test_an_error_leaves_the_environment_warm(lam: Any) -> None:
    source = ("import os\nN = []\ndef handler(event, context):\n    N.append(1)\n"
              "    if event.get('fail'):\n        raise ValueError('no')\n    return [len(N), os.getpid()]\n")
    name = create_python_function(lam, source)
    first = payload_of(lam.invoke(FunctionName=name, Payload=b"{}"))
    invoke_failing(lam, name, b'{"fail": true}')
    assert payload_of(lam.invoke(FunctionName=name, Payload=b"{}")) == [3, first[1]]


def test_unserializable_result_is_a_marshal_error(lam: Any) -> None:
    name = create_python_function(lam, "def handler(event, context):\n    return {1, 2}\n")
    _, raw, request_id = invoke_failing(lam, name)
    body = json.loads(raw)
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert body["requestId"] == request_id


# ---- timeout ----

TIMEOUT_SOURCE = """
import os, tempfile, time
GLOBAL = []
def handler(event, context):
    GLOBAL.append(1)
    path = os.path.join(tempfile.gettempdir(), "marker.txt")
    if event.get("write"):
        with open(path, "w") as f:
            f.write("survives")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"globals": len(GLOBAL), "tmp": open(path).read() if os.path.exists(path) else None,
            "pid": os.getpid()}
"""


def test_timeout_resets_the_environment_but_tmp_survives(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, TIMEOUT_SOURCE, Timeout=1)
    warm = payload_of(lam.invoke(FunctionName=name, Payload=b'{"write": true}'))
    assert warm["globals"] == 1 and warm["tmp"] == "survives"
    response, raw, request_id = invoke_failing(lam, name, b'{"sleep": 3}', LogType="Tail")
    assert raw == platform_error("Sandbox.Timedout",
                                 f"RequestId: {request_id} Error: Task timed out after 1.00 seconds")
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {request_id} Task timed out after 1\.00 seconds",
                        lines[-3])
    assert lines[-2] == f"END RequestId: {request_id}"
    assert re.fullmatch(rf"REPORT RequestId: {request_id}\tDuration: 1000\.00 ms\tBilled Duration: 1000 ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tStatus: timeout\t", lines[-1]), lines[-1]
    after = payload_of(lam.invoke(FunctionName=name, Payload=b"{}"))
    # Globals are gone (a fresh runtime), the file in its TMPDIR is still there.
    assert after["globals"] == 1 and after["tmp"] == "survives" and after["pid"] != warm["pid"]
    assert [a["coldStart"] for a in server.invocations(name)] == [True, False, True]
    assert [a["errorType"] for a in server.invocations(name)] == [None, "Sandbox.Timedout", None]


def test_init_time_is_not_part_of_the_function_timeout(lam: Any) -> None:
    # Init has its own 10 s limit; only the handler's time counts against Timeout.
    source = "import time\ntime.sleep(1.5)\ndef handler(event, context):\n    return 'ok'\n"
    name = create_python_function(lam, source, Timeout=1)
    response = lam.invoke(FunctionName=name)
    assert "FunctionError" not in response
    assert payload_of(response) == "ok"


# ---- the runtime exits ----


def test_sys_exit_in_handler(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, "import sys\ndef handler(event, context):\n    sys.exit(0)\n")
    _, raw, request_id = invoke_failing(lam, name)
    assert raw == platform_error("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited without providing a reason")
    # The environment is reset: the next invoke is cold (and fails the same way).
    invoke_failing(lam, name)
    assert [a["coldStart"] for a in server.invocations(name)] == [True, True]


def test_sys_exit_at_import(lam: Any) -> None:
    name = create_python_function(lam, "import sys\nsys.exit(0)\ndef handler(event, context):\n    return 1\n")
    _, raw, request_id = invoke_failing(lam, name)
    assert raw == platform_error("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited without providing a reason")


def test_os_exit_with_status(lam: Any) -> None:
    name = create_python_function(lam, "import os\ndef handler(event, context):\n    os._exit(3)\n")
    _, raw, request_id = invoke_failing(lam, name)
    assert raw == platform_error("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with error: exit status 3")


def test_runtime_dying_between_invocations_gives_a_cold_start(lam: Any, server: RunningServer) -> None:
    source = ("import os, threading\ndef handler(event, context):\n    if event.get('die_after'):\n"
              "        threading.Timer(0.05, lambda: os._exit(1)).start()\n    return os.getpid()\n")
    name = create_python_function(lam, source)
    first = payload_of(lam.invoke(FunctionName=name, Payload=b'{"die_after": true}'))
    time.sleep(0.3)
    # The dead runtime never took this event: it goes to a fresh one and succeeds.
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response
    assert payload_of(response) != first
    assert [a["coldStart"] for a in server.invocations(name)] == [True, True]


def test_killed_by_a_signal(lam: Any) -> None:
    name = create_python_function(lam, "import os, signal\ndef handler(e, c):\n    os.kill(os.getpid(), 11)\n")
    _, raw, request_id = invoke_failing(lam, name)
    message = f"RequestId: {request_id} Error: Runtime exited with error: signal: segmentation fault"
    assert raw == platform_error("Runtime.ExitError", message)


def test_segfault_during_init_times_out_after_the_function_timeout(lam: Any) -> None:
    """Recorded on AWS (shapes §5.7): not an exit error, a timeout after the whole function timeout."""
    name = create_python_function(lam, "import os\nos.kill(os.getpid(), 11)\ndef handler(e, c):\n    return 1\n",
                                  Timeout=1)
    started = time.monotonic()
    _, raw, request_id = invoke_failing(lam, name)
    assert time.monotonic() - started >= 1.0
    message = f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"
    assert raw == platform_error("Sandbox.Timedout", message)


def test_memory_over_memory_size_is_killed(lam: Any, server: RunningServer) -> None:
    source = ("import os\nHOLD = []\ndef handler(event, context):\n"
              "    for _ in range(30):\n        HOLD.append(b'x' * (10 * 1024 * 1024))\n"
              "    return len(HOLD)\n")
    name = create_python_function(lam, source, MemorySize=128)
    response, raw, request_id = invoke_failing(lam, name, LogType="Tail")
    assert raw == platform_error("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with error: signal: killed")
    report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    assert re.fullmatch(rf"REPORT RequestId: {request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB\tInit Duration: \d+\.\d\d ms\t"
                        r"Status: error\tError Type: Runtime\.ExitError\t", report), report
    used = int(re.search(r"Max Memory Used: (\d+) MB", report)[1])  # type: ignore[index]
    assert used >= 128
    # Within the limit, the same function works (and its next environment is a fresh one).
    lam.update_function_configuration(FunctionName=name, MemorySize=1024)
    assert payload_of(lam.invoke(FunctionName=name)) == 30


def test_a_short_memory_spike_is_killed_too(lam: Any) -> None:
    # Allocated and freed faster than any sampler looks: the kernel's high-water mark still shows it.
    source = "def handler(event, context):\n    data = b'x' * (300 * 1024 * 1024)\n    del data\n    return 'ok'\n"
    name = create_python_function(lam, source, MemorySize=128)
    _, raw, request_id = invoke_failing(lam, name)
    assert raw == platform_error("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with error: signal: killed")


# ---- init failures ----


def test_import_error(lam: Any) -> None:
    name = create_python_function(lam, "import no_such_module_here\ndef handler(e, c):\n    return 1\n")
    response, raw, request_id = invoke_failing(lam, name, LogType="Tail")
    report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    assert report.endswith("\tStatus: error\tError Type: Runtime.ImportModuleError\t")
    body = json.loads(raw)
    assert body == {
        "errorMessage": "Unable to import module 'app': No module named 'no_such_module_here'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


def test_missing_module(lam: Any) -> None:
    name = create_python_function(lam, "def handler(e, c):\n    return 1\n", handler="nope.handler")
    body = json.loads(invoke_failing(lam, name)[1])
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'nope': No module named 'nope'"


def test_missing_handler_attribute(lam: Any) -> None:
    name = create_python_function(lam, "def handler(e, c):\n    return 1\n", handler="app.other")
    body = json.loads(invoke_failing(lam, name)[1])
    assert body == {"errorMessage": "Handler 'other' missing on module 'app'", "errorType": "Runtime.HandlerNotFound",
                    "requestId": "", "stackTrace": []}


def test_malformed_handler_name(lam: Any) -> None:
    name = create_python_function(lam, "def handler(e, c):\n    return 1\n", handler="nodot")
    body = json.loads(invoke_failing(lam, name)[1])
    assert body["errorType"] == "Runtime.MalformedHandlerName"
    assert body["errorMessage"] == "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"


def test_syntax_error(lam: Any) -> None:
    name = create_python_function(lam, "def handler(e, c)\n    return 1\n")
    body = json.loads(invoke_failing(lam, name)[1])
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("Syntax error in module 'app': ")


def test_exception_at_import(lam: Any, server: RunningServer) -> None:
    name = create_python_function(lam, 'raise Exception("Runtime startup fails")\ndef handler(e, c):\n    return 1\n')
    response, raw, request_id = invoke_failing(lam, name, LogType="Tail")
    body = json.loads(raw)
    # Recorded shape §5.3: the exception's own type, requestId the EMPTY string, the import's stack.
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (body["errorMessage"], body["errorType"], body["requestId"]) == ("Runtime startup fails", "Exception", "")
    assert re.fullmatch(r'  File "/.+/app\.py", line 1, in <module>\n    raise Exception\("Runtime startup fails"\)\n',
                        body["stackTrace"][-1])
    assert any("importlib" in frame for frame in body["stackTrace"])
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert "[ERROR] Exception: Runtime startup fails" in lines
    assert lines[-2] == f"END RequestId: {request_id}"
    # The exception's type is no Category.Reason: Lambda logs it as Runtime.Unknown.
    assert re.fullmatch(rf"REPORT RequestId: {request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t"
                        r"Status: error\tError Type: Runtime\.Unknown\t", lines[-1]), lines[-1]
    # Init failures are retried from scratch on the next invoke (and fail again).
    invoke_failing(lam, name)
    assert [a["coldStart"] for a in server.invocations(name)] == [True, True]


# ---- payload limits ----

RESPONSE_LIMIT = 6 * 1024 * 1024 + 100


def test_response_over_the_limit(lam: Any) -> None:
    # A JSON string of n characters is n + 2 bytes on the wire.
    source = "def handler(event, context):\n    return 'x' * event['n']\n"
    name = create_python_function(lam, source)
    exact = lam.invoke(FunctionName=name, Payload=json.dumps({"n": RESPONSE_LIMIT - 2}).encode())
    assert "FunctionError" not in exact
    assert len(exact["Payload"].read()) == RESPONSE_LIMIT
    _, raw, _ = invoke_failing(lam, name, json.dumps({"n": RESPONSE_LIMIT - 1}).encode())
    assert raw == platform_error("Function.ResponseSizeTooLarge",
                                 "Response payload size exceeded maximum allowed payload size (6291556 bytes).")
    # The environment stays usable.
    assert payload_of(lam.invoke(FunctionName=name, Payload=b'{"n": 3}')) == "xxx"


def test_request_over_6_mb(lam: Any) -> None:
    name = create_python_function(lam, "def handler(event, context):\n    return len(event)\n")
    limit = 6 * 1024 * 1024
    body = json.dumps("x" * (limit - 2)).encode()
    assert len(body) == limit
    assert payload_of(lam.invoke(FunctionName=name, Payload=body)) == limit - 2
    with pytest.raises(lam.exceptions.RequestTooLargeException) as caught:
        lam.invoke(FunctionName=name, Payload=json.dumps("x" * (limit - 1)).encode())
    status, code, message, parsed = error_of(caught.value)
    assert (status, code, parsed["Type"]) == (413, "RequestTooLargeException", "User")
    assert message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
