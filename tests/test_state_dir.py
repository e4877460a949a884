"""`lambda-emu up --state-dir DIR`: everything accepted survives kill -9 (issue 9, section 5).

Every test runs the real console script as a subprocess, kills it with SIGKILL (no clean stop, no
last write), starts it again on the same directory and checks with boto3 and with what the
function itself wrote to a file (one line per record or event it was given) that nothing accepted
was lost.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.cli_support import UpProcess
from tests.support import ROLE, make_zip

#: Writes one line per record / event it is given to $OUT (one O_APPEND write per invocation, so
#: concurrent environments never interleave inside a line). An event with "hold" waits that long on
#: its first attempt only (a marker file says it started), so a kill can land mid-attempt. While
#: $OUT.slow exists every invocation takes a second.
RECORDER = r'''
import base64, json, os, time

OUT = os.environ["OUT"]


def write(lines):
    fd = os.open(OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode())
    finally:
        os.close(fd)


def late(event):
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            if int(record["body"][1:].split("-")[0]) >= 5:
                return True
        elif int(base64.b64decode(record["kinesis"]["data"]).decode()[1:]) >= 300:
            return True
    return event.get("i", -1) >= 500


def handler(event, context):
    lines = []
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            lines.append("sqs %s %s" % (record["body"], record["attributes"]["ApproximateReceiveCount"]))
        else:
            data = base64.b64decode(record["kinesis"]["data"]).decode()
            lines.append("kinesis %s %s" % (data, record["kinesis"]["sequenceNumber"]))
    if "i" in event:
        lines.append("async %s %s" % (event["i"], context.aws_request_id))
    if event.get("hold"):
        marker = OUT + ".held"
        first = not os.path.exists(marker)
        write(["start %s %s" % (context.aws_request_id, "first" if first else "again")])
        if first:
            open(marker, "w").close()
            time.sleep(event["hold"])
    # While OUT.gate exists, the second half of every source (SQS chunks 5-9, async events 500-999, Kinesis
    # records k300 on) is held before it is recorded, up to 15 s an invocation (under the 20 s timeout):
    # the kill then lands with work in flight and queued however fast or slow the machine is (that half
    # takes minutes at the gate), and the first halves can be done before it.
    if os.path.exists(OUT + ".gate") and late(event):
        deadline = time.monotonic() + 15
        while os.path.exists(OUT + ".gate") and time.monotonic() < deadline:
            time.sleep(0.05)
    write(lines)
    return {"ok": True}
'''


class Emu(UpProcess):
    """One `lambda-emu up --state-dir DIR` subprocess."""

    def __init__(self, state_dir: Path | None, cwd: Path, env: dict[str, str], *extra: str) -> None:
        state = ["--state-dir", str(state_dir)] if state_dir is not None else []
        super().__init__(["--port", "0", "--quiet", *extra, *state], cwd, env)

    def ready(self, timeout: float = 60) -> Emu:
        self.wait_ready(timeout)
        return self

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def cleanup(self) -> None:
        # A stop as a user stops it, so lambda-emu ends its environments and unmounts their /tmp
        # (a SIGKILL here left the tmpfs mounts of the last run behind, with no next start to sweep them).
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment["XDG_RUNTIME_DIR"] = str(tmp_path / "run")  # our own orphan registry
    (tmp_path / "run").mkdir()
    return environment


@pytest.fixture
def up(tmp_path: Path, env: dict[str, str]) -> Iterator[Callable[..., Emu]]:
    started: list[Emu] = []
    (tmp_path / "cwd").mkdir()

    def run(state_dir: Path | None, *extra: str, environment: dict[str, str] | None = None,
            cwd: Path | None = None) -> Emu:
        emu = Emu(state_dir, cwd or tmp_path / "cwd", environment or env, *extra)
        started.append(emu)
        return emu

    try:
        yield run
    finally:
        for emu in started:
            emu.cleanup()


def recorder(lam: Any, out: Path, timeout: int = 3) -> str:
    name = f"recorder-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": RECORDER})}, Timeout=timeout,
                        Environment={"Variables": {"OUT": str(out)}})
    return name


def lines(out: Path, kind: str) -> list[list[str]]:
    if not out.exists():
        return []
    return [line.split(" ")[1:] for line in out.read_text().splitlines() if line.startswith(kind + " ")]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


# ---- the figure: 1,000 SQS messages, 1,000 async events and a Kinesis mapping mid-stream ----------


def test_kill_9_mid_work_loses_nothing_accepted(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    out = tmp_path / "out.txt"
    first = up(state_dir, "--async-concurrency", "2").ready()
    lam, sqs, kinesis = first.client("lambda"), first.client("sqs"), first.client("kinesis")
    name = recorder(lam, out, timeout=20)  # longer than a hold at the gate: a held event never times out
    gate = Path(f"{out}.gate")
    gate.touch()
    # Lambda wants the queue's visibility timeout ≥ the function's: the batches in flight at the kill come
    # back 20 s after they were received.
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "20"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, BatchSize=10,
                                    ScalingConfig={"MaximumConcurrency": 2})
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn, BatchSize=10,
                                    StartingPosition="TRIM_HORIZON")
    kinesis_ids: list[str] = []

    def put_clicks(count: int) -> None:
        batch = [f"k{len(kinesis_ids) + i}" for i in range(count)]
        kinesis.put_records(StreamName="clicks", Records=[{"Data": key.encode(), "PartitionKey": key}
                                                          for key in batch])
        kinesis_ids.extend(batch)

    for chunk in range(10):
        for batch in range(10):
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{chunk}-{batch}-{i}"}
                                                          for i in range(10)])
        for i in range(100):
            response = lam.invoke(FunctionName=name, InvocationType="Event",
                                  Payload=json.dumps({"i": chunk * 100 + i}).encode())
            assert response["StatusCode"] == 202
        put_clicks(30)
    put_clicks(50)  # the stream's tail: accepted just before the kill, held at the gate
    # The stream's first 300 records are done before the kill, so the resume below has a checkpoint to
    # start from; its tail (k300 on) is held, one batch in flight.
    wait_for(lambda: len(lines(out, "kinesis")) >= 300, 120, "the stream's first 300 records before the kill")
    before = first.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
    first.kill9()
    done_before = {kind: len(lines(out, kind)) for kind in ("sqs", "async", "kinesis")}
    # Mid-work: the kill came with every source still holding work (the gate holds each second half).
    assert done_before["sqs"] < 1000 and done_before["async"] < 1000 and done_before["kinesis"] == 300
    gate.unlink()

    second = up(state_dir, "--async-concurrency", "2").ready()
    sqs_ids = {f"m{c}-{b}-{i}" for c in range(10) for b in range(10) for i in range(10)}
    wait_for(lambda: {line[0] for line in lines(out, "sqs")} >= sqs_ids
             and {line[0] for line in lines(out, "async")} >= {str(i) for i in range(1000)}
             and {line[0] for line in lines(out, "kinesis")} >= set(kinesis_ids),
             240, "every accepted message, event and record to be processed after the restart")
    # The batches in flight at the kill came back after their visibility timeout, received a second time.
    assert any(int(count) >= 2 for _, count in lines(out, "sqs"))
    # At least once, and not from scratch: the stream mapping resumed at its checkpoint (only a batch in
    # flight at the kill may come again), and the queue was emptied.
    kinesis_after = len(lines(out, "kinesis")) - done_before["kinesis"]
    assert kinesis_after <= len(kinesis_ids) - done_before["kinesis"] + 10
    sqs2 = second.client("sqs")
    wait_for(lambda: sqs2.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
             ["ApproximateNumberOfMessages"] == "0", 30, "the queue to be empty")
    # The journal goes on from where it was: every attempt the first run reported is still there.
    after = second.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
    assert [(a["requestId"], a["attempt"]) for a in after[: len(before)]] == \
        [(a["requestId"], a["attempt"]) for a in before]


# ---- each promise on its own -----------------------------------------------------------------------


def test_an_in_flight_sqs_message_reappears_after_its_visibility_timeout(up: Callable[..., Emu],
                                                                         tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = up(state_dir, "--clock", "manual").ready()
    sqs = first.client("sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="job-1")["MessageId"]
    received = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert [m["MessageId"] for m in received] == [sent]
    first.emu_post("/_emu/clock/advance", {"seconds": 10})
    clock = first.emu_get("/_emu/clock")["now"]
    first.kill9()

    second = up(state_dir, "--clock", "manual").ready()
    sqs = second.client("sqs")
    assert second.emu_get("/_emu/clock")["now"] == clock  # the clock's time survived too
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == \
        ("0", "1")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    second.emu_post("/_emu/clock/advance", {"seconds": 20})
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert [(m["MessageId"], m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in again] == \
        [(sent, "job-1", "2")]
    # A new message gets a new ID: the restarted run does not hand out the first run's IDs again.
    assert sqs.send_message(QueueUrl=url, MessageBody="job-2")["MessageId"] != sent


def test_queues_of_every_region_come_back(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = up(state_dir).ready()

    def west(emu: Emu) -> Any:
        return boto3.client("sqs", endpoint_url=emu.endpoint, region_name="eu-west-1", aws_access_key_id="x",
                            aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))

    home_url = first.client("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    west_url = west(first).create_queue(QueueName="jobs")["QueueUrl"]
    first.client("sqs").send_message(QueueUrl=home_url, MessageBody="home")
    west(first).send_message(QueueUrl=west_url, MessageBody="west")
    first.kill9()

    second = up(state_dir).ready()
    [home] = second.client("sqs").receive_message(QueueUrl=home_url)["Messages"]
    [away] = west(second).receive_message(QueueUrl=west_url)["Messages"]
    assert (home["Body"], away["Body"]) == ("home", "west")
    assert west(second).get_queue_attributes(QueueUrl=west_url, AttributeNames=["QueueArn"])["Attributes"] == {
        "QueueArn": "arn:aws:sqs:eu-west-1:000000000000:jobs"}


def test_an_async_attempt_running_at_the_kill_is_made_again(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    out = tmp_path / "out.txt"
    first = up(state_dir).ready()
    lam = first.client("lambda")
    name = recorder(lam, out, timeout=900)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"i": "held", "hold": 600}')
    wait_for(lambda: bool(lines(out, "start")), 60, "the first attempt to start")
    first.kill9()

    second = up(state_dir).ready()
    wait_for(lambda: bool(lines(out, "async")), 60, "the attempt to be made again")
    (request_id, _), (again_id, again) = [tuple(line) for line in lines(out, "start")]
    assert (again_id, again) == (request_id, "again")
    assert lines(out, "async") == [["held", request_id]]
    # The journal numbers it attempt 2 of the same request (the first never finished).
    attempts = second.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
    assert [(a["requestId"], a["attempt"], a["outcome"]) for a in attempts] == \
        [(request_id, 1, None), (request_id, 2, "success")]
    # Settings survived with the function.
    assert second.client("lambda").get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0


def test_a_state_dir_of_an_incompatible_version_is_refused_unread(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    database = state_dir / "state.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, written_by TEXT NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (999, '99.0.0')")
    db.close()
    content = database.read_bytes()
    emu = up(state_dir)
    assert emu.proc.wait(30) == 2
    time.sleep(0.2)  # the reader thread drains stderr
    assert emu.stderr == [
        f"lambda-emu: the state directory {state_dir} holds state of an incompatible version (state schema 999, "
        f"written by lambda-emu 99.0.0); this lambda-emu ({_version()}) reads state schema 1. Nothing was read: use "
        "another --state-dir, or remove that one to start fresh"]
    assert database.read_bytes() == content


def test_one_state_dir_serves_one_lambda_emu_at_a_time(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    up(state_dir).ready()
    second = up(state_dir)
    assert second.proc.wait(30) == 2
    time.sleep(0.2)
    assert second.stderr == [f"lambda-emu: the state directory {state_dir} is in use by another lambda-emu"]


def test_without_state_dir_nothing_is_written(up: Callable[..., Emu], tmp_path: Path, env: dict[str, str]) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    environment = {**env, "TMPDIR": str(scratch)}
    out = tmp_path / "elsewhere" / "out.txt"
    out.parent.mkdir()
    emu = up(None, environment=environment).ready()
    lam, sqs = emu.client("lambda"), emu.client("sqs")
    name = recorder(lam, out)
    assert lam.invoke(FunctionName=name, Payload=b'{"i": 1}')["StatusCode"] == 200
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    emu.proc.send_signal(signal.SIGTERM)
    assert emu.proc.wait(30) == 0
    left = [p for root in (scratch, tmp_path / "cwd", tmp_path / "run") for p in root.rglob("*") if p.is_file()]
    assert left == []
    assert not list(scratch.iterdir())  # the run's temporary code directory went with it


def test_functions_queues_streams_and_mappings_come_back_as_they_were(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    out = tmp_path / "out.txt"
    first = up(state_dir).ready()
    lam, sqs, kinesis = first.client("lambda"), first.client("sqs"), first.client("kinesis")
    name = recorder(lam, out)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=7)
    configuration = lam.get_function(FunctionName=name)
    dlq = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    fifo = sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true",
                                                                "ContentBasedDeduplication": "true"})["QueueUrl"]
    sent = sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g")
    sqs.tag_queue(QueueUrl=dlq, Tags={"team": "x"})
    kinesis.create_stream(StreamName="events", ShardCount=2)
    kinesis.put_record(StreamName="events", Data=b"one", PartitionKey="p")
    stream_arn = kinesis.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]["StreamARN"]
    filters = {"Filters": [{"Pattern": '{"data": {"kind": ["order"]}}'}]}
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn, BatchSize=5,
                                              StartingPosition="LATEST", Enabled=False, FilterCriteria=filters)
    first.kill9()

    second = up(state_dir).ready()
    lam, sqs, kinesis = second.client("lambda"), second.client("sqs"), second.client("kinesis")
    again = lam.get_function(FunctionName=name)
    assert again["Configuration"] == configuration["Configuration"]
    assert again["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    assert lam.invoke(FunctionName=name, Payload=b'{"i": 2}')["StatusCode"] == 200  # its code is there
    assert sqs.list_queue_tags(QueueUrl=dlq)["Tags"] == {"team": "x"}
    # FIFO deduplication and sequence numbers go on: the same content within 5 minutes is the same message.
    duplicate = sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g")
    assert (duplicate["MessageId"], duplicate["SequenceNumber"]) == (sent["MessageId"], sent["SequenceNumber"])
    later = sqs.send_message(QueueUrl=fifo, MessageBody="b", MessageGroupId="g")
    assert int(later["SequenceNumber"]) > int(sent["SequenceNumber"])
    shard = kinesis.list_shards(StreamName="events")["Shards"]
    assert len(shard) == 2
    reads = [kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName="events", ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"])["Records"]
        for s in shard]
    assert [r["Data"] for records in reads for r in records] == [b"one"]
    kept = lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert (kept["State"], kept["BatchSize"], kept["StartingPosition"]) == ("Disabled", 5, "LATEST")
    assert kept["FilterCriteria"] == filters


def test_tags_policy_and_recursion_config_come_back(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = up(state_dir).ready()
    lam, sqs = first.client("lambda"), first.client("sqs")
    name = recorder(lam, tmp_path / "out.txt")
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"team": "a"})
    lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    queue_arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="tagged")["QueueUrl"],
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, Enabled=False)
    lam.tag_resource(Resource=mapping["EventSourceMappingArn"], Tags={"owner": "me"})
    policy = lam.get_policy(FunctionName=name)
    first.kill9()

    lam = up(state_dir).ready().client("lambda")
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    assert lam.get_policy(FunctionName=name) | {"ResponseMetadata": None} == policy | {"ResponseMetadata": None}
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
    assert lam.list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"] == {"owner": "me"}


def test_code_signing_configs_come_back_with_the_functions_using_them(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = up(state_dir).ready()
    lam = first.client("lambda")
    publishers = {"SigningProfileVersionArns": ["arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abc"]}
    kept = lam.create_code_signing_config(AllowedPublishers=publishers, Description="kept")["CodeSigningConfig"]
    gone = lam.create_code_signing_config(AllowedPublishers=publishers)["CodeSigningConfig"]
    kept = lam.update_code_signing_config(CodeSigningConfigArn=kept["CodeSigningConfigArn"],
                                          Description="kept, updated")["CodeSigningConfig"]
    lam.delete_code_signing_config(CodeSigningConfigArn=gone["CodeSigningConfigArn"])
    name = recorder(lam, tmp_path / "out.txt")
    lam.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=kept["CodeSigningConfigArn"])
    first.kill9()

    second = up(state_dir).ready()
    lam = second.client("lambda")
    assert lam.list_code_signing_configs()["CodeSigningConfigs"] == [kept]
    assert lam.get_function_code_signing_config(FunctionName=name)["CodeSigningConfigArn"] == \
        kept["CodeSigningConfigArn"]
    assert lam.list_functions_by_code_signing_config(
        CodeSigningConfigArn=kept["CodeSigningConfigArn"])["FunctionArns"] == [
        lam.get_function_configuration(FunctionName=name)["FunctionArn"]]
    # A reset forgets them, in the state directory too.
    second.emu_post("/_emu/reset", {})
    second.kill9()
    assert up(state_dir).ready().client("lambda").list_code_signing_configs()["CodeSigningConfigs"] == []


#: Imports from its layers' /opt/python (the process runner puts the merged /opt's python folders on
#: the path, as Lambda's python runtime does).
LAYER_READER = """
import greeting, only

def handler(event, context):
    return {"greeting": greeting.WHO, "only": only.WHO}
"""


def test_layer_versions_come_back_and_a_function_using_them_still_sees_opt(up: Callable[..., Emu],
                                                                          tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = up(state_dir).ready()
    lam = first.client("lambda")
    base = lam.publish_layer_version(LayerName="base", Description="first", CompatibleRuntimes=["python3.12"],
                                     Content={"ZipFile": make_zip({"python/greeting.py": "WHO = 'from base'\n",
                                                                   "python/only.py": "WHO = 'base only'\n"})})
    top_zip = make_zip({"python/greeting.py": "WHO = 'from top'\n"})
    top = lam.publish_layer_version(LayerName="top", Content={"ZipFile": top_zip})
    gone = lam.publish_layer_version(LayerName="top", Content={"ZipFile": make_zip({"python/x.py": ""})})
    name = f"layered-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": LAYER_READER})},
                        Layers=[base["LayerVersionArn"], top["LayerVersionArn"]])
    before = lam.invoke(FunctionName=name)
    assert json.loads(before["Payload"].read()) == {"greeting": "from top", "only": "base only"}
    # A deleted version is unlisted, and its number is never handed out again.
    lam.delete_layer_version(LayerName="top", VersionNumber=gone["Version"])
    # A function using a version deleted later keeps it, as on Lambda.
    lam.delete_layer_version(LayerName="base", VersionNumber=base["Version"])
    configuration = lam.get_function_configuration(FunctionName=name)
    listed = lam.list_layer_versions(LayerName="top")["LayerVersions"]
    fetched = lam.get_layer_version(LayerName="top", VersionNumber=top["Version"])
    first.kill9()

    second = up(state_dir).ready()
    lam = second.client("lambda")
    assert lam.list_layer_versions(LayerName="top")["LayerVersions"] == listed
    assert lam.list_layer_versions(LayerName="base")["LayerVersions"] == []
    again = lam.get_layer_version(LayerName="top", VersionNumber=top["Version"])
    # The same in all but the port in Content.Location (the new run's endpoint).
    assert again["Content"].pop("Location").startswith(second.endpoint + "/_emu/layer-content?arn=")
    location = fetched["Content"].pop("Location")
    assert again | {"ResponseMetadata": None} == fetched | {"ResponseMetadata": None}
    assert [layer["LayerName"] for layer in lam.list_layers()["Layers"]] == ["top"]
    assert lam.get_function_configuration(FunctionName=name)["Layers"] == configuration["Layers"]
    # The function's /opt is its two layers again (a fresh environment: the first run's died with it).
    after = lam.invoke(FunctionName=name)
    assert "FunctionError" not in after
    assert json.loads(after["Payload"].read()) == {"greeting": "from top", "only": "base only"}
    republished = lam.publish_layer_version(LayerName="top", Content={"ZipFile": make_zip({"python/y.py": ""})})
    assert republished["Version"] == 3
    # Its content is still served from the state directory.
    with urllib.request.urlopen(second.endpoint + location[len(first.endpoint):], timeout=30) as answer:
        assert answer.read() == top_zip


def test_iam_roles_and_policies_and_sts_keys_come_back(up: Callable[..., Emu], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = up(state_dir).ready()
    iam, sts = first.client("iam"), first.client("sts")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
    role = iam.create_role(RoleName="worker", Path="/app/", AssumeRolePolicyDocument=trust, Description="d",
                           MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "a"}])["Role"]
    policy = iam.create_policy(PolicyName="queues", PolicyDocument=document, Description="queues")["Policy"]
    iam.attach_role_policy(RoleName="worker", PolicyArn=policy["Arn"])
    iam.put_role_policy(RoleName="worker", PolicyName="inline", PolicyDocument=document)
    iam.create_role(RoleName="deleted", AssumeRolePolicyDocument=trust)
    iam.delete_role(RoleName="deleted")
    got_role = iam.get_role(RoleName="worker")["Role"]
    got_policy = iam.get_policy(PolicyArn=policy["Arn"])["Policy"]
    credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    first.kill9()

    second = up(state_dir).ready()
    iam = second.client("iam")
    assert iam.get_role(RoleName="worker")["Role"] == got_role
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"] == got_policy
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["worker"]
    assert iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"] == [
        {"PolicyName": "queues", "PolicyArn": policy["Arn"]}]
    assert iam.get_role_policy(RoleName="worker", PolicyName="inline")["PolicyDocument"] == json.loads(document)
    # The attachment is known from both sides: the policy can't be deleted while attached.
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=policy["Arn"])
    # A key AssumeRole issued before the kill still stands for the assumed role.
    assumed = boto3.client("sts", endpoint_url=second.endpoint, region_name="us-east-1",
                           aws_access_key_id=credentials["AccessKeyId"],
                           aws_secret_access_key=credentials["SecretAccessKey"],
                           aws_session_token=credentials["SessionToken"])
    identity = assumed.get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::000000000000:assumed-role/worker/s1"
    assert identity["UserId"] == f"{role['RoleId']}:s1"


def _version() -> str:
    from lambda_emu import __version__

    return __version__
