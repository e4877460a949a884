"""CloudWatch Logs (issue 16): a function's output in /aws/lambda/<function>, one stream per execution
environment, read back through boto3's logs client and `aws logs tail` (AWS CLI v2), with AWS's shapes."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, error_of, unique


def json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()

ACCOUNT = "000000000000"
STREAM = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
ROOT = Path(__file__).resolve().parent.parent

HANDLER = '''
import json
print("init line")

def handler(event, context):
    print("hello", event.get("n"))
    print(json.dumps({"level": event.get("level", "INFO"), "n": event.get("n")}))
    return {"n": event.get("n")}
'''


@pytest.fixture(scope="module")
def logs(server: RunningServer) -> Any:
    return server.client("logs")


@pytest.fixture(scope="module")
def manual_logs(manual_server: RunningServer) -> Any:
    return manual_server.client("logs")


def messages(logs: Any, group: str, stream: str) -> list[str]:
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream,
                                                      startFromHead=True)["events"]]


def test_function_output_lands_in_its_log_group_one_stream_per_environment(lam: Any, logs: Any) -> None:
    name = create_python_function(lam, HANDLER)
    first = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["ResponseMetadata"]["RequestId"]
    second = lam.invoke(FunctionName=name, Payload=b'{"n": 2}')["ResponseMetadata"]["RequestId"]
    group = f"/aws/lambda/{name}"
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert len(groups) == 1
    created = groups[0].pop("creationTime")
    assert abs(created - time.time() * 1000) < 120_000
    assert groups[0] == {
        "logGroupName": group, "metricFilterCount": 0,
        "arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:*", "storedBytes": 0,
        "logGroupClass": "STANDARD", "logGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}",
        "deletionProtectionEnabled": False,
    }
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1  # one warm environment served both
    stream = streams[0]
    assert STREAM.match(stream["logStreamName"])
    assert set(stream) == {"logStreamName", "creationTime", "firstEventTimestamp", "lastEventTimestamp",
                           "lastIngestionTime", "arn", "storedBytes"}
    assert stream["arn"] == (f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:log-stream:"
                             f"{stream['logStreamName']}")
    lines = messages(logs, group, stream["logStreamName"])
    # Each line keeps its newline, as AWS records them ("START RequestId: ... Version: $LATEST\n",
    # REPORT's last field followed by "\t\n").
    assert lines[0].startswith("INIT_START Runtime Version: python:3.12.") and lines[0].endswith("\n")
    assert lines[1] == "init line\n"
    assert lines[2:6] == [f"START RequestId: {first} Version: $LATEST\n", "hello 1\n",
                          '{"level": "INFO", "n": 1}\n', f"END RequestId: {first}\n"]
    assert lines[6].startswith(f"REPORT RequestId: {first}\tDuration: ") and lines[6].endswith(" ms\t\n")
    assert "\tInit Duration: " in lines[6]
    assert lines[7:10] == [f"START RequestId: {second} Version: $LATEST\n", "hello 2\n",
                           '{"level": "INFO", "n": 2}\n']
    assert "Init Duration" not in lines[11]


MULTI_LINE = '''
import logging

logging.getLogger().setLevel(logging.INFO)

def handler(event, context):
    print(event["body"])
    logging.getLogger().info("a record")
    if event.get("fail"):
        raise ValueError("some error occurred")
    return "ok"
'''


def test_lines_records_and_error_reports_as_aws_keeps_them(lam: Any, logs: Any) -> None:
    """AWS's recordings (LocalStack's test_multi_line_prints, test_lambda_handler_error): every printed line is
    an event ending in its newline, with a \\r inside kept and no event for an empty line; a logging record
    and the runtime's error report (frames on the runtime's telemetry pipe) are one event each, the report
    without a newline at its end."""
    name = create_python_function(lam, MULTI_LINE)
    lam.invoke(FunctionName=name, Payload=json_bytes({"body": "\nmulti\nline\nstring\nanother\rline\n"}))
    lam.invoke(FunctionName=name, Payload=json_bytes({"body": "x", "fail": True}))
    group = f"/aws/lambda/{name}"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    lines = [m for m in messages(logs, group, stream) if not m.startswith(("INIT_START", "START", "END", "REPORT"))]
    assert lines[:4] == ["multi\n", "line\n", "string\n", "another\rline\n"]
    assert re.fullmatch(r"\[INFO\]\t\d{4}-\d\d-\d\dT[\d:.]+Z\t[0-9a-f-]{36}\ta record\n", lines[4])
    assert lines[5] == "x\n"
    assert re.fullmatch(r"\[INFO\]\t.*\ta record\n", lines[6])
    report = lines[7]
    assert report.startswith("[ERROR] ValueError: some error occurred\nTraceback (most recent call last):\n")
    assert not report.endswith("\n")
    assert len(lines) == 8


def test_timestamps_and_stream_date_are_the_platform_clock(manual_server: RunningServer, manual_lam: Any,
                                                           manual_logs: Any) -> None:
    name = create_python_function(manual_lam, HANDLER)
    manual_server.advance(86400 * 3)  # the platform's day is not today's
    manual_lam.invoke(FunctionName=name, Payload=b'{"n": 1}')
    group = f"/aws/lambda/{name}"
    stream = manual_logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert manual_server.emu is not None
    clock_now = manual_server.emu.clock.now()
    assert stream["logStreamName"].startswith(time.strftime("%Y/%m/%d/", time.gmtime(clock_now)))
    events = manual_logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
    assert {e["timestamp"] for e in events} == {int(clock_now * 1000)}
    assert {e["ingestionTime"] for e in events} == {int(clock_now * 1000)}


def put(logs: Any, group: str, stream: str, messages_: list[str], start: int | None = None) -> None:
    base = start if start is not None else int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(messages_)])


def test_filter_patterns(logs: Any) -> None:
    group = "/test/" + unique("filter")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    logs.create_log_stream(logGroupName=group, logStreamName="b")
    put(logs, group, "a", ["ERROR disk full", "WARN slow disk", '{"level": "ERROR", "latency": 1200}'])
    put(logs, group, "b", ["Task timed out after 3.00 seconds", "INFO fine",
                           '{"level": "INFO", "latency": 5, "user": {"name": "ann"}}'])

    def found(pattern: str, **extra: Any) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern=pattern,
                                                             **extra)["events"]]

    assert found("ERROR") == ["ERROR disk full", '{"level": "ERROR", "latency": 1200}']
    assert found("ERROR disk") == ["ERROR disk full"]
    assert found('"timed out"') == ["Task timed out after 3.00 seconds"]
    assert found("?WARN ?INFO") == ["WARN slow disk", "INFO fine", '{"level": "INFO", "latency": 5, '
                                                                   '"user": {"name": "ann"}}']
    assert found("disk -ERROR") == ["WARN slow disk"]
    assert found('{ $.level = "ERROR" }') == ['{"level": "ERROR", "latency": 1200}']
    assert found("{ $.latency > 100 || $.user.name = an* }") == [
        '{"level": "ERROR", "latency": 1200}', '{"level": "INFO", "latency": 5, "user": {"name": "ann"}}']
    assert found("{ ($.level != \"ERROR\") && $.latency < 10 }") == [
        '{"level": "INFO", "latency": 5, "user": {"name": "ann"}}']
    assert found("", logStreamNames=["b"]) == ["Task timed out after 3.00 seconds", "INFO fine",
                                               '{"level": "INFO", "latency": 5, "user": {"name": "ann"}}']
    response = logs.filter_log_events(logGroupName=group, filterPattern="disk", limit=1)
    assert response["searchedLogStreams"] == []
    event = response["events"][0]
    assert set(event) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert re.fullmatch(r"\d{56}", event["eventId"])
    more = logs.filter_log_events(logGroupName=group, filterPattern="disk", nextToken=response["nextToken"])
    assert [e["message"] for e in more["events"]] == ["WARN slow disk"]
    assert "nextToken" not in more
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(logGroupName=group, nextToken="nonsense")
    assert error_of(caught.value)[:3] == (400, "InvalidParameterException", "The specified nextToken is invalid.")
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(logGroupName=group, limit=10001)
    assert error_of(caught.value)[:3] == (400, "InvalidParameterException",
                                          "1 validation error detected: Value '10001' at 'limit' failed to satisfy "
                                          "constraint: Member must have value less than or equal to 10000")


def test_groups_streams_and_their_errors(logs: Any) -> None:
    group = "/test/" + unique("groups")
    logs.create_log_group(logGroupName=group, tags={"team": "a"})
    with pytest.raises(ClientError) as caught:
        logs.create_log_group(logGroupName=group)
    assert error_of(caught.value)[:3] == (400, "ResourceAlreadyExistsException",
                                          "The specified log group already exists")
    with pytest.raises(ClientError) as caught:
        logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="b")
    assert error_of(caught.value)[:3] == (400, "InvalidParameterException", "LogGroup name prefix and LogGroup name "
                                          "pattern are mutually exclusive parameters.")
    with pytest.raises(ClientError) as caught:
        logs.describe_log_streams(logGroupName=group + "-missing")
    assert error_of(caught.value)[:3] == (400, "ResourceNotFoundException", "The specified log group does not exist.")
    with pytest.raises(ClientError) as caught:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert error_of(caught.value)[:3] == (400, "ResourceNotFoundException", "The specified log stream does not exist.")
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(ClientError) as caught:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert error_of(caught.value)[:3] == (400, "ResourceAlreadyExistsException",
                                          "The specified log stream already exists")
    described = logs.describe_log_streams(logGroupIdentifier=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}")
    [stream] = described["logStreams"]
    stream.pop("creationTime")
    assert stream == {"logStreamName": "s", "storedBytes": 0,
                      "arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:log-stream:s"}
    with pytest.raises(ClientError) as caught:
        logs.describe_log_streams(logGroupName=group, logGroupIdentifier=group)
    assert error_of(caught.value)[:3] == (400, "ValidationException", "LogGroup name and LogGroup ARN are mutually "
                                          "exclusive parameters.")
    with pytest.raises(ClientError) as caught:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert error_of(caught.value)[:2] == (400, "InvalidParameterException")
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    with pytest.raises(ClientError) as caught:
        logs.delete_log_group(logGroupName=group)
    assert error_of(caught.value)[:3] == (400, "ResourceNotFoundException", "The specified log group does not exist.")


def test_get_log_events_pages_with_aws_tokens(logs: Any) -> None:
    group = "/test/" + unique("tokens")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    put(logs, group, "s", [f"line {i}" for i in range(5)])
    tail = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2)
    assert [e["message"] for e in tail["events"]] == ["line 3", "line 4"]
    assert re.fullmatch(r"f/\d{56}", tail["nextForwardToken"])
    assert re.fullmatch(r"b/\d{56}", tail["nextBackwardToken"])
    earlier = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in earlier["events"]] == ["line 1", "line 2"]
    # At the end, the forward token comes back unchanged (how clients know they have read everything).
    end = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=tail["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == tail["nextForwardToken"]
    put(logs, group, "s", ["line 5"])
    after = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=tail["nextForwardToken"])
    assert [e["message"] for e in after["events"]] == ["line 5"]


def test_retention_is_applied_on_the_platform_clock(manual_server: RunningServer, manual_logs: Any) -> None:
    group = "/test/" + unique("retention")
    manual_logs.create_log_group(logGroupName=group)
    manual_logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert manual_server.emu is not None
    put(manual_logs, group, "s", ["old"], start=manual_server.emu.clock.now_ms())
    manual_logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    manual_server.advance(3600)
    put(manual_logs, group, "s", ["new"], start=manual_server.emu.clock.now_ms())
    assert [e["message"] for e in manual_logs.filter_log_events(logGroupName=group)["events"]] == ["old", "new"]
    manual_server.advance(86400 - 1800)
    assert [e["message"] for e in manual_logs.filter_log_events(logGroupName=group)["events"]] == ["new"]
    manual_logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in manual_logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_a_group_keeps_its_newest_events(logs: Any) -> None:
    group = "/test/" + unique("bounded")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    start = int(time.time() * 1000)
    put(logs, group, "s", [f"{i}" for i in range(6000)], start=start)
    put(logs, group, "s", [f"{i}" for i in range(6000, 12000)], start=start + 6000)
    kept = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert len(kept) == 10_000
    assert kept[0]["message"] == "2000" and kept[-1]["message"] == "11999"


@pytest.fixture(scope="module")
def aws_v2() -> str:
    """AWS CLI v2 (`logs tail` is v2's): installed by the project's own script when missing."""
    done = subprocess.run([str(ROOT / "scripts" / "aws-cli-v2.sh")], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr
    return "/usr/bin/aws"


def cli_env() -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_PAGER": ""}


def test_aws_logs_tail_and_follow(server: RunningServer, lam: Any, aws_v2: str) -> None:
    name = create_python_function(lam, HANDLER)
    first = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["ResponseMetadata"]["RequestId"]
    done = subprocess.run([aws_v2, "logs", "tail", f"/aws/lambda/{name}", "--endpoint-url", server.endpoint,
                           "--format", "short"], env=cli_env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"START RequestId: {first} Version: $LATEST" in done.stdout
    assert "hello 1" in done.stdout
    follower = subprocess.Popen([aws_v2, "logs", "tail", f"/aws/lambda/{name}", "--follow", "--endpoint-url",
                                 server.endpoint], env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(follower.stdout.readline, "")) if follower.stdout
                              else None, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("hello 1" in line for line in seen) and time.monotonic() < deadline:
            time.sleep(0.2)
        second = lam.invoke(FunctionName=name, Payload=b'{"n": 2}')["ResponseMetadata"]["RequestId"]
        while not any(f"END RequestId: {second}" in line for line in seen) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        follower.kill()
        follower.wait(30)
        reader.join(10)
    text = "".join(seen)
    assert f"END RequestId: {second}" in text, follower.stderr.read() if follower.stderr else ""
    # Each line once: the CLI's own de-duplication relies on eventId.
    assert text.count(f"START RequestId: {first}") == 1
    assert re.search(r"^\S+ \d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32} hello 2$", text, re.MULTILINE)


def test_state_dir_keeps_logs(tmp_path: Path) -> None:
    first = RunningServer(state_dir=str(tmp_path / "state")).start()
    try:
        logs = first.client("logs")
        logs.create_log_group(logGroupName="/kept")
        logs.create_log_stream(logGroupName="/kept", logStreamName="s")
        put(logs, "/kept", "s", ["one", "two"])
        logs.put_retention_policy(logGroupName="/kept", retentionInDays=30)
    finally:
        first.stop()
    second = RunningServer(state_dir=str(tmp_path / "state")).start()
    try:
        logs = second.client("logs")
        assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 30
        assert messages(logs, "/kept", "s") == ["one", "two"]
        put(logs, "/kept", "s", ["three"])
        events = logs.filter_log_events(logGroupName="/kept")["events"]
        assert [e["message"] for e in events] == ["one", "two", "three"]
        assert len({e["eventId"] for e in events}) == 3
    finally:
        second.stop()
