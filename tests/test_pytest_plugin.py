"""The pytest plugin (issue 13), tested as a user meets it: a test project using its fixtures, run by
pytest in a subprocess (pytester), against the `lambda-emu up` it starts or an endpoint it is given."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support import RunningServer

pytest_plugins = ("pytester",)

PROJECT_TESTS = '''
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

APP = "def handler(event, context):\\n    return {'echo': event, 'requestId': context.aws_request_id}\\n"
FAILING = "def handler(event, context):\\n    raise Exception('boom')\\n"


def test_deploy_invoke_and_the_journal(lambda_emu, lambda_emu_server):
    Path("server.pid").write_text(str(lambda_emu_server.process.pid))
    name = lambda_emu.deploy(code={"app.py": APP}, handler="app.handler", runtime="python3.12", Timeout=5)
    result = lambda_emu.invoke(name, {"n": 1})
    assert result.status_code == 200 and result.function_error is None
    assert result.payload == {"echo": {"n": 1}, "requestId": result.request_id}
    [attempt] = lambda_emu.invocations(function=name)
    assert attempt["requestId"] == result.request_id and attempt["source"] == "sync"
    assert lambda_emu.client("lambda").get_function(FunctionName=name)["Configuration"]["Timeout"] == 5
    assert lambda_emu.url.startswith("http://127.0.0.1:")


def test_a_retry_on_the_manual_clock(lambda_emu, tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text(FAILING)
    name = lambda_emu.deploy(code=tmp_path / "code", FunctionName="Failing")
    assert name == "Failing"
    sqs = lambda_emu.client("sqs")
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lambda_emu.client("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": arn}})
    accepted = lambda_emu.invoke(name, {"order": 1}, async_=True)
    assert accepted.status_code == 202
    lambda_emu.advance(0)
    assert len(lambda_emu.invocations(request_id=accepted.request_id)) == 1
    lambda_emu.settle()
    assert [a["attempt"] for a in lambda_emu.invocations(name)] == [1, 2]
    [delivery] = lambda_emu.deliveries(arn)
    assert delivery["body"]["requestContext"]["condition"] == "RetriesExhausted"
    # Read without consuming: twice the same, and a receive still gets it for the first time.
    first = lambda_emu.queue_messages("dlq")
    assert first == lambda_emu.queue_messages(url) == lambda_emu.queue_messages(arn) and len(first) == 1
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"


def test_each_test_starts_from_a_reset(lambda_emu):
    assert lambda_emu.client("lambda").list_functions()["Functions"] == []
    assert lambda_emu.invocations() == []
    assert lambda_emu.client("sqs").list_queues().get("QueueUrls", []) == []


@pytest.mark.lambda_emu(template="template.yaml", faults={"throttleRate": 1.0, "Greeter": {"lostResponseRate": 1.0}},
                        seed=9)
def test_the_marker(lambda_emu):
    with pytest.raises(ClientError) as excinfo:
        lambda_emu.invoke("Greeter", {})
    assert excinfo.value.response["Error"]["Code"] == "TooManyRequestsException"
    rates = lambda_emu.faults(throttleRate=0.0)
    assert rates["functions"] == [{"functionName": "Greeter", "lostResponseRate": 1.0}]
    assert lambda_emu.invoke("Greeter", {}).payload["errorType"] == "Sandbox.Timedout"
    assert [a["fault"] for a in lambda_emu.invocations("Greeter")] == ["throttleRate", "lostResponseRate"]


def test_wait_for(lambda_emu):
    name = lambda_emu.deploy(code={"app.py": APP})
    lambda_emu.invoke(name, {}, async_=True)
    lambda_emu.advance(0)
    assert lambda_emu.wait_for(lambda: lambda_emu.invocations(name), timeout=10)[0]["outcome"] == "success"
    with pytest.raises(AssertionError, match="still false"):
        lambda_emu.wait_for(lambda: False, timeout=0.2)


@pytest.mark.lambda_emu(faults={"throttleRate": 0.5}, seed=4)
@pytest.mark.parametrize("run", ["first", "second"])
def test_the_marker_seed(lambda_emu, run):
    name = lambda_emu.deploy(code={"app.py": APP}, FunctionName="Seeded")
    tags = []
    for n in range(12):
        try:
            lambda_emu.invoke(name, {"n": n})
        except ClientError:
            pass
    tags = [a.get("fault") for a in lambda_emu.invocations(name)]
    Path(f"seeded-{run}.json").write_text(json.dumps(tags))


def test_a_failure_shows_the_journal(lambda_emu):
    name = lambda_emu.deploy(code={"app.py": FAILING}, FunctionName="Exploder")
    result = lambda_emu.invoke(name, {})
    Path("failed-request-id").write_text(result.request_id)
    assert result.function_error is None, "deliberately failing"
'''

TEMPLATE = """\
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: |
        def handler(event, context):
            return {"hello": "world"}
      Handler: index.handler
      Runtime: python3.12
"""


@pytest.fixture
def project(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Our own orphan registry for the lambda-emu the project starts; no endpoint from outside.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    monkeypatch.delenv("LAMBDA_EMU_ENDPOINT", raising=False)
    return pytester


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_plugin_in_a_test_project(project: pytest.Pytester) -> None:
    project.makepyfile(test_project=PROJECT_TESTS)
    (project.path / "template.yaml").write_text(TEMPLATE)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=7, failed=1)
    # The marker's seed: both runs, each after a reset, drew the same throttles.
    first, second = (json.loads((project.path / f"seeded-{run}.json").read_text()) for run in ("first", "second"))
    assert first == second and set(first) == {"throttleRate", None}
    # The failing test's report carries its journal (the timeline view, else JSON), with the attempt
    # that failed and only that test's attempts.
    request_id = (project.path / "failed-request-id").read_text()
    result.stdout.fnmatch_lines(["*lambda-emu journal*"])
    report = result.stdout.str().split("lambda-emu journal", 1)[1]
    assert request_id in report and "Exploder" in report
    assert "Greeter" not in report
    # The lambda-emu the session started is gone, and with it every runtime it ran.
    pid = int((project.path / "server.pid").read_text())
    assert gone(pid)
    assert not list((project.path.parent / "run" / "lambda-emu" / "run").glob("*.pids"))


def test_the_plugin_is_off_unless_its_fixtures_are_used(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain='''
import psutil

def test_plain(request):
    assert request.config.pluginmanager.has_plugin("lambda_emu")  # installed, loaded, and idle
    assert psutil.Process().children(recursive=True) == []
''')
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--help")
    result.stdout.fnmatch_lines(["*--lambda-emu-endpoint=URL*"])
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_killed_test_run_leaves_no_lambda_emu(project: pytest.Pytester) -> None:
    project.makepyfile(test_killed='''
import os, signal
from pathlib import Path

def test_killed(lambda_emu, lambda_emu_server):
    Path("server.pid").write_text(str(lambda_emu_server.process.pid))
    os.kill(os.getpid(), signal.SIGKILL)  # no fixture teardown, no session end
''')
    project.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    pid = int((project.path / "server.pid").read_text())
    deadline = time.monotonic() + 30
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(pid), "lambda-emu outlived the test run that started it"


@pytest.fixture
def outside() -> Iterator[RunningServer]:
    running = RunningServer(clock="manual").start()
    yield running
    running.stop()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_given_endpoint_is_used(project: pytest.Pytester, outside: RunningServer, how: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_given=f'''
def test_given(lambda_emu, lambda_emu_server):
    assert lambda_emu_server.process is None
    assert lambda_emu.url == {outside.endpoint!r}
    lambda_emu.deploy(code={{"app.py": "def handler(e, c):\\n    return 1\\n"}}, FunctionName="FromProject")
''')
    args = ["-p", "no:cacheprovider"]
    if how == "option":
        args.append(f"--lambda-emu-endpoint={outside.endpoint}")
    else:
        monkeypatch.setenv("LAMBDA_EMU_ENDPOINT", outside.endpoint)
    project.runpytest_subprocess(*args).assert_outcomes(passed=1)
    names = [f["FunctionName"] for f in outside.client("lambda").list_functions()["Functions"]]
    assert names == ["FromProject"]
    assert outside.emu_get("/_emu/faults")["functions"] == []
