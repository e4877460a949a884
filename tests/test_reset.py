"""POST /_emu/reset (issue 13): everything goes, the clock stays, and nothing from before the reset
acts after it — a retry that was due, a mapping's poller, an environment finishing late. Each test runs
its own manual-clock server, since a reset would wipe the shared servers' state."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support import ROLE, RunningServer, create_python_function, make_zip, raw_request

FAILING = "def handler(event, context):\n    raise Exception('boom')\n"

RECORDER = """
import json, os, time

def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\\n")
    return event
"""


@pytest.fixture
def emu() -> Iterator[RunningServer]:
    running = RunningServer(clock="manual", seed=7).start()
    yield running
    running.stop()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def everything(emu: RunningServer) -> dict[str, Any]:
    lam, sqs, kinesis = emu.client("lambda"), emu.client("sqs"), emu.client("kinesis")
    return {
        "functions": lam.list_functions()["Functions"],
        "mappings": lam.list_event_source_mappings()["EventSourceMappings"],
        "queues": sqs.list_queues().get("QueueUrls", []),
        "streams": kinesis.list_streams()["StreamNames"],
        "invocations": emu.emu_get("/_emu/invocations")["invocations"],
        "deliveries": emu.emu_get("/_emu/deliveries")["deliveries"],
        "faults": emu.emu_get("/_emu/faults"),
        "layers": lam.list_layers()["Layers"],
    }


def test_reset_removes_everything_and_keeps_the_clock(emu: RunningServer, tmp_path: Path) -> None:
    lam, sqs, kinesis = emu.client("lambda"), emu.client("sqs"), emu.client("kinesis")
    out = tmp_path / "out.jsonl"
    clean = everything(emu)
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    failing = create_python_function(lam, FAILING, name="Failing")
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=2,
                                         DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    recorder = create_python_function(lam, RECORDER, name="Recorder", Environment={"Variables": {"OUT": str(out)}})
    source = sqs.create_queue(QueueName="source")["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=recorder, EventSourceArn=source_arn, BatchSize=1)
    kinesis.create_stream(StreamName="stream", ShardCount=1)
    emu.emu_post("/_emu/faults", {"functionName": recorder, "duplicateRate": 0.5})
    # A finished event (delivered to the OnFailure queue) and one whose retry is due in 60 s.
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=b"{}")
    emu.advance(0)
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=2)
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=b'{"retry": true}')
    sqs.send_message(QueueUrl=source, MessageBody="before")
    emu.advance(0)
    assert len(lines(out)) >= 1 and emu.emu_get("/_emu/deliveries")["deliveries"]
    clock = emu.emu_get("/_emu/clock")

    status, _, body = raw_request(emu.endpoint, "POST", "/_emu/reset")

    assert (status, json.loads(body)) == (200, {})
    assert everything(emu) == clean
    assert emu.emu_get("/_emu/clock") == clock
    assert emu.emu is not None and not emu.emu.event_source_mappings.drivers
    # The same names again, fresh: the retry that was due never runs, the old poller never polls.
    seen_before = len(lines(out))
    lam.create_function(FunctionName="Failing", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": RECORDER})}, Environment={"Variables": {"OUT": str(out)}})
    source = sqs.create_queue(QueueName="source")["QueueUrl"]
    sqs.send_message(QueueUrl=source, MessageBody="after")
    emu.settle(86400)
    assert emu.emu_get("/_emu/invocations")["invocations"] == []
    assert len(lines(out)) == seen_before
    assert emu.emu_get("/_emu/deliveries")["deliveries"] == []


def test_an_environment_finishing_after_the_reset_leaves_nothing(emu: RunningServer, tmp_path: Path) -> None:
    lam = emu.client("lambda", read_timeout=60)
    out = tmp_path / "out.jsonl"
    name = create_python_function(lam, RECORDER, Timeout=10,
                                  Environment={"Variables": {"OUT": str(out), "SLEEP": "1.5"}})
    replies: list[Any] = []
    caller = threading.Thread(target=lambda: replies.append(lam.invoke(FunctionName=name, Payload=b"{}")))
    caller.start()
    # Wait until the attempt is running, then reset under it.
    for _ in range(200):
        if emu.emu_get("/_emu/invocations")["invocations"]:
            break
        threading.Event().wait(0.05)
    assert emu.emu_post("/_emu/reset", {}) == {}
    caller.join(60)
    # The caller got an answer (its runtime was stopped), but the run shows nothing of it. The reset may
    # land while the runtime is still being started: that one is stopped too, none is left running.
    assert replies and replies[0]["StatusCode"] == 200
    assert emu.emu_get("/_emu/invocations")["invocations"] == []
    assert emu.emu is not None and emu.emu.environments.pools == {}
    assert [p.pid for p in psutil.Process().children(recursive=True) if _environ_of(p).get("OUT") == str(out)] == []


def _environ_of(process: psutil.Process) -> dict[str, str]:
    try:
        return dict(process.environ())
    except psutil.Error:  # gone meanwhile, or not ours to read
        return {}


def test_reset_reseeds_and_refuses_bad_bodies(emu: RunningServer) -> None:
    assert emu.emu is not None
    first = [emu.emu.rng.random() for _ in range(3)]
    emu.emu_post("/_emu/reset", {})
    assert [emu.emu.rng.random() for _ in range(3)] == first  # the run's --seed again
    emu.emu_post("/_emu/reset", {"seed": 42})
    import random

    assert emu.emu.rng.random() == random.Random(42).random()
    for body, field in ((b'{"seed": "1"}', "seed"), (b'{"seed": -1}', "seed"), (b'{"sead": 1}', "sead")):
        status, _, reply = raw_request(emu.endpoint, "POST", "/_emu/reset", body)
        assert status == 400 and field in json.loads(reply)["error"]["message"]


def test_reset_removes_layers_and_their_version_numbers_start_over(emu: RunningServer) -> None:
    lam = emu.client("lambda")
    content = {"ZipFile": make_zip({"python/helpers.py": "VALUE = 1\n"})}
    assert lam.publish_layer_version(LayerName="helpers", Content=content)["Version"] == 1
    assert lam.publish_layer_version(LayerName="helpers", Content=content)["Version"] == 2
    assert [layer["LayerName"] for layer in lam.list_layers()["Layers"]] == ["helpers"]
    assert emu.emu_post("/_emu/reset", {}) == {}
    assert lam.list_layers()["Layers"] == []
    assert lam.list_layer_versions(LayerName="helpers")["LayerVersions"] == []
    # A fresh run's numbering: the first version published after the reset is 1 again.
    assert lam.publish_layer_version(LayerName="helpers", Content=content)["Version"] == 1
