"""Limits and prompt stop: EphemeralStorage enforced by the process runner, SIGTERM within 2 s with a
60 s invocation in flight and a half-sent request open, and one /next per Runtime API port."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions
import psutil
import pytest

from tests import test_cli
from tests.support import RunningServer, create_python_function, payload_of, raw_request
from tests.test_cli import EmuProcess, gone, lambda_client, wait_until

# The CLI tests' fixtures: an isolated orphan registry, a project directory, `lambda-emu up` runs.
isolated_env, project, start = test_cli.isolated_env, test_cli.project, test_cli.start

FILL_TMP = """\
import errno, os

def handler(event, context):
    written = 0
    chunk = b"x" * (1024 * 1024)
    try:
        with open(os.path.join(os.environ["TMPDIR"], "fill.bin"), "wb") as sink:
            while written < 700 * 1024 * 1024:
                sink.write(chunk)
                sink.flush()
                written += len(chunk)
    except OSError as exc:
        os.remove(os.path.join(os.environ["TMPDIR"], "fill.bin"))
        return {"errno": exc.errno, "written": written}
    return {"errno": None, "written": written}
"""


def test_a_write_past_ephemeral_storage_fails_with_enospc(lam: Any) -> None:
    """Where the machine allows a size-limited mount (root on Linux, as here and on CI), /tmp is a tmpfs
    of EphemeralStorage's size, as on Lambda."""
    name = create_python_function(lam, FILL_TMP, Timeout=60, EphemeralStorage={"Size": 512})
    result = payload_of(lam.invoke(FunctionName=name))
    assert result["errno"] == 28, result  # ENOSPC
    assert 500 * 1024 * 1024 <= result["written"] <= 512 * 1024 * 1024


SLEEPER = """\
import time

def handler(event, context):
    print("sleeping", flush=True)
    time.sleep(60)
    return "woke"
"""

SLEEPER_TEMPLATE = """\
Resources:
  Sleeper:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: sleeper/
      Handler: app.handler
      Runtime: python3.12
      Timeout: 120
"""


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stop_within_2_seconds_with_work_in_flight(
    start: Callable[..., EmuProcess], project: Path, stop_signal: signal.Signals,
) -> None:
    (project / "sleeper").mkdir()
    (project / "sleeper" / "app.py").write_text(SLEEPER)
    (project / "template.yaml").write_text(SLEEPER_TEMPLATE)
    emu = start()
    endpoint = emu.wait_ready()
    port = int(endpoint.rsplit(":", 1)[1])

    outcome: dict[str, Any] = {}

    def invoke() -> None:
        try:
            outcome["reply"] = lambda_client(endpoint).invoke(FunctionName="Sleeper", Payload=b"{}")
        except botocore.exceptions.BotoCoreError as exc:
            outcome["error"] = exc

    caller = threading.Thread(target=invoke, daemon=True)
    caller.start()
    wait_until(lambda: "[Sleeper] sleeping" in emu.stdout, 30, "the 60 s invocation to be in flight")
    runtimes = emu.find_runtimes()
    assert runtimes

    # A half-sent request: headers promise a body that never comes.
    half = socket.create_connection(("127.0.0.1", port))
    half.sendall(b"POST /2015-03-31/functions/Sleeper/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
    time.sleep(0.2)

    began = time.monotonic()
    emu.proc.send_signal(stop_signal)
    assert emu.proc.wait(10) == 0
    took = time.monotonic() - began
    assert took <= 2.0, f"stopping took {took:.2f} s"

    caller.join(10)
    assert "error" in outcome and "reply" not in outcome, outcome  # the caller in flight saw its connection closed
    half.settimeout(5)
    assert half.recv(1024) == b""  # so did the half-sent request
    half.close()
    assert all(gone(p) for p in runtimes), "a runtime outlived the stop"


BOOTSTRAP_NEXT = """\
import os
def handler(event, context):
    return os.environ["AWS_LAMBDA_RUNTIME_API"]
"""


def test_a_second_next_is_refused_and_steals_nothing(server: RunningServer, lam: Any) -> None:
    name = create_python_function(lam, BOOTSTRAP_NEXT)
    api = payload_of(lam.invoke(FunctionName=name))
    # The runtime (awslambdaric) is now waiting on /next; a second poller is refused at once.
    status, _, body = raw_request(f"http://{api}", "GET", "/2018-06-01/runtime/invocation/next")
    assert status == 403
    assert json.loads(body) == {"errorType": "InvalidStateTransition",
                                "errorMessage": "next is not allowed while another next is waiting for this "
                                                "environment"}
    # The event goes to the runtime that was waiting.
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response and payload_of(response) == api


def test_no_process_of_a_stopped_server_survives(tmp_path: Path) -> None:
    """An in-process server stopped cleanly ends every process its functions started (the run marker)."""
    running = RunningServer().start()
    try:
        lam = running.client("lambda")
        name = create_python_function(lam, (
            "import subprocess\n"
            "def handler(event, context):\n"
            "    p = subprocess.Popen(['setsid', 'sleep', '300'])\n"
            "    return p.pid\n"))
        child = psutil.Process(payload_of(lam.invoke(FunctionName=name)))
        assert not gone(child)
    finally:
        running.stop()
    wait_until(lambda: gone(child), 10, "the function's setsid child to end with the server")


FILL_SLOWLY = """\
import os, time

def handler(event, context):
    with open(os.path.join(os.environ["TMPDIR"], "fill.bin"), "wb") as sink:
        for _ in range(520):
            sink.write(b"x" * (1024 * 1024))
    time.sleep(10)
    return "survived"
"""

FILL_TEMPLATE = """\
Resources:
  Filler:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: filler/
      Handler: app.handler
      Runtime: python3.12
      Timeout: 30
      EphemeralStorage:
        Size: 512
"""


def test_without_a_mount_the_environment_is_ended_past_ephemeral_storage(
    start: Callable[..., EmuProcess], project: Path,
) -> None:
    """Where mounting is not allowed (here: lambda-emu without CAP_SYS_ADMIN, as an unprivileged user
    runs it), the runner measures /tmp and ends the environment."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "this test needs util-linux's setpriv"
    (project / "filler").mkdir()
    (project / "filler" / "app.py").write_text(FILL_SLOWLY)
    (project / "template.yaml").write_text(FILL_TEMPLATE)
    emu = start(prefix=(setpriv, "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"))
    response = lambda_client(emu.wait_ready()).invoke(FunctionName="Filler", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith(" Error: Runtime exited with error: signal: killed")
    wait_until(lambda: any("more than the function's EphemeralStorage (512 MB)" in line for line in emu.stdout), 10,
               "the log line saying why")
