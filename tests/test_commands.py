"""The `lambda-emu` commands that talk to a running lambda-emu (issue 12): invoke, timeline, logs,
clock — the real console script as a subprocess against a real server."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli_support import LAMBDA_EMU
from tests.support import RunningServer, create_python_function, unique

HANDLER = """
def handler(event, context):
    print("handling", event.get("order"))
    if event.get("fail"):
        raise ValueError("card declined")
    return {"charged": event.get("order")}
"""


def cli(*args: str, endpoint: str | None = None, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(LAMBDA_EMU), *args] + (["--endpoint", endpoint] if endpoint else [])
    environment = {**os.environ, **(env or {})}
    if env is None:
        environment.pop("LAMBDA_EMU_ENDPOINT", None)  # the test's --endpoint (or the default) decides
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, env=environment)


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("command", [["invoke"], ["timeline"], ["logs"], ["clock"], ["clock", "advance"],
                                     ["clock", "settle"], ["replay"], ["up"]])
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    done = cli(*command, "--help")
    assert done.returncode == 0
    assert "example" in done.stdout and "lambda-emu " in done.stdout


def test_unreachable_endpoint_is_one_line_and_non_zero() -> None:
    for args in (["clock"], ["invoke", "Fn"], ["timeline"], ["logs", "Fn"]):
        done = cli(*args, endpoint="http://127.0.0.1:9")
        assert done.returncode == 3
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lambda-emu: no lambda-emu at http://127.0.0.1:9")


def test_endpoint_comes_from_the_environment(manual_server: RunningServer) -> None:
    done = cli("clock", env={"LAMBDA_EMU_ENDPOINT": manual_server.endpoint})
    assert done.returncode == 0 and done.stdout.startswith("manual clock: ")


def test_invoke_prints_the_response_and_the_log_tail(manual_server: RunningServer, manual_lam: Any) -> None:
    name = create_python_function(manual_lam, HANDLER)
    done = cli("invoke", name, "--payload", '{"order": 5}', endpoint=manual_server.endpoint)
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"charged": 5}
    assert done.stderr.startswith("START RequestId: ")
    assert "handling 5" in done.stderr and "REPORT RequestId: " in done.stderr


def test_invoke_function_error_prints_aws_error_payload_and_exits_1(manual_server: RunningServer,
                                                                     manual_lam: Any) -> None:
    name = create_python_function(manual_lam, HANDLER)
    done = cli("invoke", name, "--payload", '{"fail": true}', endpoint=manual_server.endpoint)
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "card declined"
    assert "Traceback" in done.stderr or "card declined" in done.stderr


def test_invoke_event_from_stdin_and_file(manual_server: RunningServer, manual_lam: Any, tmp_path: Path) -> None:
    name = create_python_function(manual_lam, HANDLER)
    done = cli("invoke", name, "--event", "-", stdin='{"order": 9}', endpoint=manual_server.endpoint)
    assert done.returncode == 0 and json.loads(done.stdout) == {"charged": 9}
    event = tmp_path / "event.json"
    event.write_text('{"order": 10}')
    done = cli("invoke", name, "--event", str(event), endpoint=manual_server.endpoint)
    assert json.loads(done.stdout) == {"charged": 10}


def test_invoke_unknown_function_is_aws_error_in_one_line(manual_server: RunningServer) -> None:
    done = cli("invoke", unique("missing"), endpoint=manual_server.endpoint)
    assert done.returncode == 1
    assert done.stderr.startswith("lambda-emu: ResourceNotFoundException: Function not found: ")


def test_invoke_async_prints_the_request_id_and_timeline_shows_the_chain(manual_server: RunningServer,
                                                                         manual_lam: Any) -> None:
    name = create_python_function(manual_lam, HANDLER)
    manual_lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    done = cli("invoke", name, "--payload", '{"fail": true, "order": 2}', "--async", endpoint=manual_server.endpoint)
    assert done.returncode == 0
    request_id = done.stdout.strip()
    manual_server.settle(600)
    assert [a["requestId"] for a in manual_server.invocations(name)] == [request_id, request_id]

    done = cli("timeline", name, "--json", endpoint=manual_server.endpoint)
    assert done.returncode == 0
    [event] = json.loads(done.stdout)["events"]
    assert event["functionName"] == name and event["source"] == "async" and event["requestId"] == request_id
    assert [a["attempt"] for a in event["attempts"]] == [1, 2]
    assert event["attempts"][0]["decision"]["action"] == "retry"
    assert event["attempts"][1]["decision"] == {"action": "discard", "reason": "RetriesExhausted"}
    assert event["attempts"] == manual_server.invocations(name)

    done = cli("timeline", "--request-id", request_id, endpoint=manual_server.endpoint)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{name} async {request_id}")
    assert lines[1].startswith("  ├─ attempt 1") and "error ValueError: card declined" in lines[1]
    assert "→ retry at" in lines[1] and "(FunctionError)" in lines[1]
    assert lines[2].startswith("  └─ attempt 2") and "→ discard (RetriesExhausted)" in lines[2]


def test_logs_prints_the_function_log_with_start_end_report(manual_server: RunningServer, manual_lam: Any) -> None:
    name = create_python_function(manual_lam, HANDLER)
    reply = manual_lam.invoke(FunctionName=name, Payload=b'{"order": 77}')
    request_id = reply["ResponseMetadata"]["RequestId"]
    done = cli("logs", name, endpoint=manual_server.endpoint)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert f"START RequestId: {request_id} Version: $LATEST" in lines
    assert "handling 77" in lines
    assert f"END RequestId: {request_id}" in lines
    assert any(line.startswith(f"REPORT RequestId: {request_id}") for line in lines)
    page = manual_server.emu_get(f"/_emu/logs?functionName={name}")
    assert [line["message"] for line in page["lines"]] == lines
    after = manual_server.emu_get(f"/_emu/logs?functionName={name}&since={page['nextSince']}")
    assert after["lines"] == []


def test_clock_shows_advances_and_settles(manual_server: RunningServer) -> None:
    before = manual_server.emu_get("/_emu/clock")["now"]
    done = cli("clock", endpoint=manual_server.endpoint)
    assert done.returncode == 0 and done.stdout.startswith("manual clock: ")
    done = cli("clock", "advance", "90", endpoint=manual_server.endpoint)
    assert done.returncode == 0
    after = done.stdout.strip().removeprefix("manual clock: ")
    assert (iso(after) - iso(before)).total_seconds() >= 90
    done = cli("clock", "settle", "--max", "5", endpoint=manual_server.endpoint)
    assert done.returncode == 0 and done.stdout.startswith("manual clock: ")


def _follow(args: list[str], endpoint: str) -> tuple[subprocess.Popen[str], list[str]]:
    """A `--follow` command running in the background; the lines it prints, as it prints them."""
    import threading

    env = {k: v for k, v in os.environ.items() if k != "LAMBDA_EMU_ENDPOINT"}
    process = subprocess.Popen([str(LAMBDA_EMU), *args, "--follow", "--endpoint", endpoint], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def test_timeline_and_logs_follow_new_attempts(manual_server: RunningServer, manual_lam: Any) -> None:
    from tests.test_cli import wait_until

    name = create_python_function(manual_lam, HANDLER)
    timeline, timeline_lines = _follow(["timeline", name], manual_server.endpoint)
    logs, log_lines = _follow(["logs", name], manual_server.endpoint)
    try:
        reply = manual_lam.invoke(FunctionName=name, Payload=b'{"order": 31}')
        request_id = reply["ResponseMetadata"]["RequestId"]
        # Printed as a tree when the command's first look already finds it, else as one followed line.
        wait_until(lambda: any(request_id in line for line in timeline_lines)
                   and any("attempt 1" in line and "  success" in line for line in timeline_lines), 20,
                   "the followed attempt")
        manual_lam.invoke(FunctionName=name, Payload=b'{"order": 32}')
        wait_until(lambda: len([line for line in timeline_lines if "  success" in line]) == 2, 20,
                   "the second attempt, followed")
        wait_until(lambda: "handling 31" in log_lines and f"END RequestId: {request_id}" in log_lines, 20,
                   "the followed log lines")
    finally:
        for process in (timeline, logs):
            process.kill()
            process.wait(10)
