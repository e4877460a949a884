"""CloudWatch Logs Live Tail (issue 16): StartLiveTail's event stream read by boto3 (`responseStream`) and by
the AWS CLI's `aws logs start-live-tail`, against real servers with real functions writing lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from tests.support import ACCOUNT, REGION, RunningServer, create_python_function, error_of, unique

STREAM = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

HANDLER = '''
import json

def handler(event, context):
    print("tail line", event["n"])
    print(json.dumps({"level": event.get("level", "INFO"), "n": event["n"]}))
    return event["n"]
'''


def tail_client(server: RunningServer) -> Any:
    """StartLiveTail's model has the host prefix `stream-` (streaming-logs.<region>.amazonaws.com): against a
    local endpoint the SDK must not prepend it (`stream-127.0.0.1` resolves nowhere)."""
    return server.client("logs", inject_host_prefix=False, max_pool_connections=32)


def group_arn(name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


class Reader:
    """Reads a session's events on a thread, so the test can wait for what it expects with a deadline."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.stream = response["responseStream"]
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                self.events.append(event)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        finally:
            self.done.set()

    def results(self) -> list[dict[str, Any]]:
        return [r for e in list(self.events) if "sessionUpdate" in e for r in e["sessionUpdate"]["sessionResults"]]

    def wait_for(self, predicate: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline and not self.done.is_set():
            time.sleep(0.05)
        assert predicate(), (self.events[-3:], self.error)

    def close(self) -> None:
        self.stream.close()
        self._thread.join(10)


def test_a_function_s_lines_arrive_in_session_updates(server: RunningServer, lam: Any) -> None:
    logs = tail_client(server)
    name = create_python_function(lam, HANDLER)
    lam.invoke(FunctionName=name, Payload=b'{"n": 1}')  # lines before the session are not tailed
    group = f"/aws/lambda/{name}"
    response = logs.start_live_tail(logGroupIdentifiers=[group_arn(group)])
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    reader = Reader(response)
    try:
        reader.wait_for(lambda: len(reader.events) >= 1)
        start = reader.events[0]
        assert list(start) == ["sessionStart"]
        assert start["sessionStart"]["requestId"] == response["ResponseMetadata"]["RequestId"]
        assert UUID.match(start["sessionStart"]["sessionId"])
        assert {k: v for k, v in start["sessionStart"].items() if k not in ("requestId", "sessionId")} == {
            "logGroupIdentifiers": [group_arn(group)]
        }
        invoked = lam.invoke(FunctionName=name, Payload=b'{"n": 2}')["ResponseMetadata"]["RequestId"]
        reader.wait_for(lambda: any(r["message"].startswith(f"REPORT RequestId: {invoked}") for r in reader.results()))
        results = reader.results()
        messages = [r["message"] for r in results]
        assert messages[0] == f"START RequestId: {invoked} Version: $LATEST\n"
        assert "tail line 2\n" in messages
        assert not any("tail line 1" in m for m in messages)
        assert messages[-2] == f"END RequestId: {invoked}\n"
        for result in results:
            assert set(result) == {"logStreamName", "logGroupIdentifier", "message", "timestamp", "ingestionTime"}
            assert STREAM.match(result["logStreamName"])
            assert result["logGroupIdentifier"] == group_arn(group)
            assert result["timestamp"] <= result["ingestionTime"]
            assert abs(result["ingestionTime"] - time.time() * 1000) < 120_000
        updates = [e["sessionUpdate"] for e in reader.events[1:]]
        assert all(list(e) == ["sessionUpdate"] for e in reader.events[1:])
        assert all(u["sessionMetadata"] == {"sampled": False} for u in updates)
    finally:
        reader.close()


def test_stream_and_pattern_filters(server: RunningServer, lam: Any) -> None:
    """logEventFilterPattern is FilterLogEvents' filter pattern; the group may be named by its name."""
    logs = tail_client(server)
    name = create_python_function(lam, HANDLER)
    lam.invoke(FunctionName=name, Payload=b'{"n": 0}')
    group = f"/aws/lambda/{name}"
    errors = Reader(logs.start_live_tail(logGroupIdentifiers=[group], logEventFilterPattern='{ $.level = "ERROR" }'))
    by_prefix = Reader(logs.start_live_tail(logGroupIdentifiers=[group], logStreamNamePrefixes=["other/"]))
    mine = f"own-{unique()}"
    logs.create_log_stream(logGroupName=group, logStreamName=mine)
    by_name = Reader(logs.start_live_tail(logGroupIdentifiers=[group], logStreamNames=[mine],
                                          logEventFilterPattern="?kept ?also"))
    try:
        for reader in (errors, by_prefix, by_name):
            reader.wait_for(lambda r=reader: len(r.events) >= 1)  # type: ignore[misc]
        assert errors.events[0]["sessionStart"]["logGroupIdentifiers"] == [group]
        assert errors.events[0]["sessionStart"]["logEventFilterPattern"] == '{ $.level = "ERROR" }'
        assert by_prefix.events[0]["sessionStart"]["logStreamNamePrefixes"] == ["other/"]
        assert by_name.events[0]["sessionStart"]["logStreamNames"] == [mine]
        lam.invoke(FunctionName=name, Payload=b'{"n": 3, "level": "ERROR"}')
        lam.invoke(FunctionName=name, Payload=b'{"n": 4}')
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=group, logStreamName=mine, logEvents=[
            {"timestamp": now, "message": "kept one"}, {"timestamp": now, "message": "dropped"},
            {"timestamp": now, "message": "also kept"}])
        errors.wait_for(lambda: len(errors.results()) >= 1)
        by_name.wait_for(lambda: len(by_name.results()) >= 2)
        time.sleep(2.5)  # two more updates: nothing else matches
        assert [r["message"] for r in errors.results()] == ['{"level": "ERROR", "n": 3}\n']
        assert errors.results()[0]["logGroupIdentifier"] == group
        assert [(r["logStreamName"], r["message"]) for r in by_name.results()] == [(mine, "kept one"),
                                                                                  (mine, "also kept")]
        assert by_prefix.results() == []
        assert len(by_prefix.events) >= 3
    finally:
        for reader in (errors, by_prefix, by_name):
            reader.close()


def test_refusals(server: RunningServer) -> None:
    logs = tail_client(server)
    group = f"/tail/{unique()}"
    logs.create_log_group(logGroupName=group)
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({"logGroupIdentifiers": ["/tail/none"]},
         ("ResourceNotFoundException", "The specified log group does not exist.")),
        ({"logGroupIdentifiers": [f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{group}"]},
         ("ResourceNotFoundException", "The specified log group does not exist.")),
        ({"logGroupIdentifiers": [group_arn(group) + ":*"]},
         ("InvalidParameterException",
          f"1 validation error detected: Value '[{group_arn(group)}:*]' at 'logGroupIdentifiers' failed to satisfy "
          "constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member "
          "must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
          "[\\w#+=/:,.@-]*, Member must not be null]")),
        ({"logGroupIdentifiers": [group], "logStreamNames": ["a"], "logStreamNamePrefixes": ["b"]},
         ("InvalidParameterException", "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.")),
        ({"logGroupIdentifiers": [group, group_arn(group)], "logStreamNamePrefixes": ["b"]},
         ("InvalidParameterException",
          "logStreamNames and logStreamNamePrefixes can only be specified with a single log group.")),
        ({"logGroupIdentifiers": [group] * 11},
         ("InvalidParameterException",
          "1 validation error detected: Value '[" + ", ".join([group] * 11) + "]' at 'logGroupIdentifiers' failed to "
          "satisfy constraint: Member must have length less than or equal to 10")),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as excinfo:
            logs.start_live_tail(**params)
        status, code, message, _ = error_of(excinfo.value)
        assert (code, message) == expected, params
        assert status == 400


# ---- on the platform clock --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tail_server() -> Iterator[RunningServer]:
    """A manual clock of its own: a session's once-a-second timers (three hours of them) stay off the shared one."""
    running = RunningServer(clock="manual").start()
    yield running
    running.stop()


def test_updates_follow_the_platform_clock_sample_and_time_out(tail_server: RunningServer) -> None:
    logs = tail_client(tail_server)
    group = f"/tail/{unique()}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    events = iter(logs.start_live_tail(logGroupIdentifiers=[group])["responseStream"])
    assert "sessionStart" in next(events)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": now, "message": f"line {i}"} for i in range(3)])
    tail_server.advance(1)  # the update of the first second
    update = next(events)["sessionUpdate"]
    assert [r["message"] for r in update["sessionResults"]] == ["line 0", "line 1", "line 2"]
    assert update["sessionMetadata"] == {"sampled": False}
    # More than 500 in a second: 500 of them, in order, sampled.
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": now, "message": f"many {i}"} for i in range(1200)])
    tail_server.advance(1)
    update = next(events)["sessionUpdate"]
    assert update["sessionMetadata"] == {"sampled": True}
    numbers = [int(r["message"].split()[1]) for r in update["sessionResults"]]
    assert len(numbers) == 500 and numbers == sorted(numbers) and numbers[0] == 0 and numbers[-1] >= 1195
    # Three hours after it started, the session ends with SessionTimeoutException.
    tail_server.advance(3 * 3600)
    updates = 0
    with pytest.raises(EventStreamError) as excinfo:
        for event in events:
            assert event["sessionUpdate"]["sessionResults"] == []
            updates += 1
    assert excinfo.value.response["Error"] == {"Code": "SessionTimeoutException",
                                               "Message": "Session timed out after 3 hours."}
    assert 1 <= updates <= 3 * 3600


def test_a_session_ends_when_its_client_goes_and_at_most_15_run(tail_server: RunningServer) -> None:
    """The clock does not move here: the server notices the closed connection by itself (no leaked session)."""
    logs = tail_client(tail_server)
    group = f"/tail/{unique()}"
    logs.create_log_group(logGroupName=group)
    responses = [logs.start_live_tail(logGroupIdentifiers=[group]) for _ in range(15)]
    for response in responses:
        assert "sessionStart" in next(iter(response["responseStream"]))
    with pytest.raises(ClientError) as excinfo:
        tail_client(tail_server).start_live_tail(logGroupIdentifiers=[group])
    assert error_of(excinfo.value)[1:3] == (
        "LimitExceededException", "The maximum number of concurrent Live Tail sessions (15) has been reached.")
    for response in responses:
        response["responseStream"].close()
    deadline = time.monotonic() + 30
    while True:
        try:
            response = logs.start_live_tail(logGroupIdentifiers=[group])
            break
        except ClientError:
            assert time.monotonic() < deadline, "the closed sessions were not ended"
            time.sleep(0.5)
    events = iter(response["responseStream"])
    assert "sessionStart" in next(events)
    # POST /_emu/reset ends every session: its stream ends.
    tail_server.emu_post("/_emu/reset", {})
    assert list(events) == []


# ---- the AWS CLI --------------------------------------------------------------------------------------------


def test_aws_cli_start_live_tail(server: RunningServer, lam: Any) -> None:
    """`aws logs start-live-tail` prints each tailed line. It is the AWS CLI v1's (the test extras install it):
    Debian's AWS CLI v2 (2.9), which `logs tail` uses, predates the command."""
    aws = Path(sys.executable).parent / "aws"
    name = create_python_function(lam, HANDLER)
    lam.invoke(FunctionName=name, Payload=b'{"n": 0}')
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
    tail = subprocess.Popen([str(aws), "logs", "start-live-tail", "--log-group-identifiers",
                             group_arn(f"/aws/lambda/{name}"), "--endpoint-url", server.endpoint],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(tail.stdout.readline, "")) if tail.stdout else None,
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        invoked = ""
        while time.monotonic() < deadline and not any(invoked and f"END RequestId: {invoked}" in s for s in seen):
            if tail.poll() is not None:
                break
            invoked = lam.invoke(FunctionName=name, Payload=b'{"n": 5}')["ResponseMetadata"]["RequestId"]
            time.sleep(2)
    finally:
        tail.kill()
        tail.wait(30)
        reader.join(10)
    text = "".join(seen)
    assert f"END RequestId: {invoked}" in text, tail.stderr.read() if tail.stderr else ""
    assert "tail line 5\n" in text
    assert "tail line 0" not in text
