"""--runner docker: every function in a container of its runtime's image, with AWS's exact payloads for
every failure, a real memory cgroup, a size-limited /tmp and a read-only /var/task."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from typing import Any

import pytest

from tests.docker_support import containers_of
from tests.support import RunningServer, create_python_function, error_of, payload_of

RUNTIME = "python3.11"


def platform_error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()


def invoke_failing(lam: Any, name: str, payload: bytes = b"{}", **extra: Any) -> tuple[dict[str, Any], bytes, str]:
    response = lam.invoke(FunctionName=name, Payload=payload, **extra)
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    return response, response["Payload"].read(), response["ResponseMetadata"]["RequestId"]


def make(lam: Any, source: str, **extra: Any) -> str:
    return create_python_function(lam, source, runtime=extra.pop("runtime", RUNTIME), **extra)


# ---- the environment: image, paths, limits ----

ENVIRONMENT_SOURCE = """
import os, sys, uuid
RUNTIME_ID = uuid.uuid4().hex  # one per runtime start (the host network shares the host's name)
def handler(event, context):
    return {"version": list(sys.version_info[:2]), "runtime": RUNTIME_ID, "cwd": os.getcwd(),
            "file": __file__, "task_root": os.environ["LAMBDA_TASK_ROOT"], "path": os.environ["PATH"],
            "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"], "tmp": os.environ.get("TMPDIR"),
            "execution_env": os.environ["AWS_EXECUTION_ENV"], "handler": os.environ["_HANDLER"]}
"""


@pytest.mark.parametrize(("runtime", "version"), [("python3.11", [3, 11]), ("python3.13", [3, 13])])
def test_the_function_runs_on_its_images_python(docker_lam: Any, runtime: str, version: list[int]) -> None:
    name = make(docker_lam, ENVIRONMENT_SOURCE, runtime=runtime)
    result = payload_of(docker_lam.invoke(FunctionName=name))
    assert result["version"] == version
    assert result["cwd"] == result["task_root"] == "/var/task"
    assert result["file"] == "/var/task/app.py"
    assert result["path"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert result["tmp"] is None
    assert result["execution_env"] == f"AWS_Lambda_{runtime}"
    assert result["handler"] == "app.handler"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", result["runtime_api"])


def test_labels_warm_reuse_and_one_container_per_environment(docker_lam: Any, docker_client: Any,
                                                             docker_server: RunningServer) -> None:
    name = make(docker_lam, ENVIRONMENT_SOURCE)
    first = payload_of(docker_lam.invoke(FunctionName=name))
    second = payload_of(docker_lam.invoke(FunctionName=name))
    assert first["runtime"] == second["runtime"]  # the same runtime, warm
    containers = containers_of(docker_client, name)
    assert len(containers) == 1
    labels = containers[0].labels
    assert labels["lambda-emu.function"] == name
    assert labels["lambda-emu.run"] == docker_server.emu.docker_runner.run_id
    assert [a["coldStart"] for a in docker_server.invocations(name)] == [True, False]


def test_var_task_is_read_only_and_tmp_is_writable(docker_lam: Any) -> None:
    source = """
import errno
def handler(event, context):
    try:
        open("/var/task/new.txt", "w")
        task = "written"
    except OSError as exc:
        task = errno.errorcode[exc.errno]
    with open("/tmp/new.txt", "w") as f:
        f.write("ok")
    return {"task": task, "tmp": open("/tmp/new.txt").read()}
"""
    name = make(docker_lam, source)
    assert payload_of(docker_lam.invoke(FunctionName=name)) == {"task": "EROFS", "tmp": "ok"}


def test_a_write_past_ephemeral_storage_fails_with_enospc(docker_lam: Any) -> None:
    # MemorySize above the /tmp size: the tmpfs's pages count against the memory cgroup.
    source = """
import errno
def handler(event, context):
    written = 0
    chunk = b"x" * (1024 * 1024)
    try:
        with open("/tmp/fill", "wb") as f:
            while written < 600:
                f.write(chunk)
                f.flush()
                written += 1
    except OSError as exc:
        return {"error": errno.errorcode[exc.errno], "written_mb": written}
    return {"error": None, "written_mb": written}
"""
    name = make(docker_lam, source, MemorySize=1024, Timeout=30, EphemeralStorage={"Size": 512})
    result = payload_of(docker_lam.invoke(FunctionName=name))
    assert result["error"] == "ENOSPC"
    assert 500 <= result["written_mb"] <= 512


def test_the_memory_cgroup_kills_the_runtime(docker_lam: Any, docker_server: RunningServer) -> None:
    source = """
def handler(event, context):
    hoard = []
    for _ in range(400):
        hoard.append(bytearray(1024 * 1024))
    return len(hoard)
"""
    name = make(docker_lam, source, MemorySize=128, Timeout=30)
    response, raw, request_id = invoke_failing(docker_lam, name, LogType="Tail")
    assert raw == platform_error("Runtime.ExitError",
                                 f"RequestId: {request_id} Error: Runtime exited with error: signal: killed")
    report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    assert re.fullmatch(rf"REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: (\d+) MB\t.*Status: error\tError Type: "
                        r"Runtime.ExitError\t", report), report
    used = int(re.search(r"Max Memory Used: (\d+) MB", report).group(1))  # type: ignore[union-attr]
    assert 100 <= used <= 128  # from the container's cgroup: up to the limit, never past it


# ---- every failure mode's payload ----


def test_handler_exception(docker_lam: Any) -> None:
    name = make(docker_lam, "def handler(event, context):\n    raise ValueError('Handler fails')\n")
    response, raw, request_id = invoke_failing(docker_lam, name, LogType="Tail")
    body = json.loads(raw)
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (body["errorMessage"], body["errorType"], body["requestId"]) == ("Handler fails", "ValueError", request_id)
    assert body["stackTrace"] == ['  File "/var/task/app.py", line 2, in handler\n'
                                  "    raise ValueError('Handler fails')\n"]
    lines = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "[ERROR] ValueError: Handler fails" in lines
    assert lines[-2] == f"END RequestId: {request_id}"


def test_import_error_at_init(docker_lam: Any) -> None:
    name = make(docker_lam, "import not_a_module\ndef handler(event, context):\n    return 1\n")
    _, raw, _ = invoke_failing(docker_lam, name)
    body = json.loads(raw)
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'not_a_module'"


TIMEOUT_SOURCE = """
import time, uuid
GLOBAL = []
RUNTIME_ID = uuid.uuid4().hex
def handler(event, context):
    GLOBAL.append(1)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"globals": len(GLOBAL), "runtime": RUNTIME_ID}
"""


def test_timeout_kills_the_container_and_the_next_invoke_is_cold(docker_lam: Any, docker_client: Any,
                                                                docker_server: RunningServer) -> None:
    name = make(docker_lam, TIMEOUT_SOURCE, Timeout=1)
    warm = payload_of(docker_lam.invoke(FunctionName=name))
    _, raw, request_id = invoke_failing(docker_lam, name, b'{"sleep": 5}')
    assert raw == platform_error("Sandbox.Timedout",
                                 f"RequestId: {request_id} Error: Task timed out after 1.00 seconds")
    after = payload_of(docker_lam.invoke(FunctionName=name))
    assert after["globals"] == 1 and after["runtime"] != warm["runtime"]  # a new container
    assert [a["coldStart"] for a in docker_server.invocations(name)] == [True, False, True]
    assert len(containers_of(docker_client, name)) == 1  # the killed one is gone


def test_tmp_does_not_survive_a_reset_of_the_environment(docker_lam: Any) -> None:
    # docs/aws-behaviour.md: the reset after a timeout replaces the container and its tmpfs (Lambda and
    # the process runner keep /tmp); POST /_emu/reset removes every /tmp under either runner.
    source = TIMEOUT_SOURCE.replace("    GLOBAL.append(1)\n", "    GLOBAL.append(1)\n    import os\n"
                                    "    kept = os.path.exists('/tmp/kept')\n    open('/tmp/kept', 'w').close()\n")
    source = source.replace('"runtime": RUNTIME_ID}', '"runtime": RUNTIME_ID, "kept": kept}')
    name = make(docker_lam, source, Timeout=1)
    assert payload_of(docker_lam.invoke(FunctionName=name))["kept"] is False
    assert payload_of(docker_lam.invoke(FunctionName=name))["kept"] is True  # warm: the same /tmp
    invoke_failing(docker_lam, name, b'{"sleep": 5}')
    assert payload_of(docker_lam.invoke(FunctionName=name))["kept"] is False  # a new container's /tmp


@pytest.mark.parametrize(("source", "message"), [
    ("import sys\ndef handler(event, context):\n    sys.exit(0)\n", "Runtime exited without providing a reason"),
    ("import os\ndef handler(event, context):\n    os._exit(3)\n", "Runtime exited with error: exit status 3"),
    ("import os, signal\ndef handler(event, context):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
     "Runtime exited with error: signal: killed"),
])
def test_the_runtime_exits(docker_lam: Any, source: str, message: str) -> None:
    name = make(docker_lam, source)
    _, raw, request_id = invoke_failing(docker_lam, name)
    assert raw == platform_error("Runtime.ExitError", f"RequestId: {request_id} Error: {message}")


def test_an_oversized_response(docker_lam: Any) -> None:
    name = make(docker_lam, "def handler(event, context):\n    return 'x' * (6 * 1024 * 1024 + 200)\n")
    _, raw, _ = invoke_failing(docker_lam, name)
    assert raw == platform_error("Function.ResponseSizeTooLarge",
                                 "Response payload size exceeded maximum allowed payload size (6291556 bytes).")


# ---- concurrency ----

SLOW_SOURCE = ("import time, uuid\nRUNTIME_ID = uuid.uuid4().hex\n"
               "def handler(event, context):\n    time.sleep(1.5)\n    return RUNTIME_ID\n")


def test_two_concurrent_invokes_get_two_containers(docker_lam: Any, docker_client: Any) -> None:
    name = make(docker_lam, SLOW_SOURCE, Timeout=30)
    runtimes: list[str] = []

    def call() -> None:
        runtimes.append(payload_of(docker_lam.invoke(FunctionName=name)))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(set(runtimes)) == 2
    assert len(containers_of(docker_client, name)) == 2


def test_reserved_concurrency_throttles(docker_lam: Any, docker_server: RunningServer) -> None:
    name = make(docker_lam, SLOW_SOURCE.replace("1.5", "4"), Timeout=30)
    docker_lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    first = threading.Thread(target=lambda: docker_lam.invoke(FunctionName=name))
    first.start()
    try:
        # Once the first invocation holds the one environment (in flight in the journal), a second is throttled.
        deadline = time.monotonic() + 60
        while not any(a["endTime"] is None for a in docker_server.invocations(name)):
            assert time.monotonic() < deadline, "the first invocation never started"
            time.sleep(0.05)
        with pytest.raises(docker_lam.exceptions.TooManyRequestsException) as caught:
            docker_lam.invoke(FunctionName=name)
        status, code, message, body = error_of(caught.value)
        assert (status, code, message) == (429, "TooManyRequestsException", "Rate Exceeded.")
        assert body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        first.join(60)
