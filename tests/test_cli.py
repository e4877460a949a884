"""`lambda-emu up` as a user runs it: a real subprocess of the installed console script.

Every test isolates the orphan registry (XDG_RUNTIME_DIR) in its own directory and, whatever happens,
kills what it started: lambda-emu itself and every runtime process seen under it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from botocore.config import Config

from lambda_emu import __version__
from lambda_emu.runtime_api.runners.orphans import OrphanRegistry
from tests.cli_support import READY, UpProcess

APP = """\
def handler(event, context):
    print("marker", event["marker"])
    return {"echo": event["marker"]}
"""

TEMPLATE = """\
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Runtime: python3.12
"""


def gone(process: psutil.Process) -> bool:
    """Dead, or a zombie nobody reaped yet (in a container, PID 1 may never reap it)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class EmuProcess(UpProcess):
    """One `lambda-emu up`, and the runtime processes seen under it (so teardown can kill them)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], prefix: tuple[str, ...] = ()) -> None:
        super().__init__(args, cwd, env, prefix)
        self.ps = psutil.Process(self.proc.pid)
        self.runtimes: list[psutil.Process] = []

    def find_runtimes(self) -> list[psutil.Process]:
        """The awslambdaric processes under this lambda-emu (remembered, so teardown can kill them)."""
        found = [p for p in self.ps.children(recursive=True) if "awslambdaric" in " ".join(_cmdline(p))]
        self.runtimes.extend(p for p in found if p not in self.runtimes)
        return found

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for runtime in self.runtimes:
            if not gone(runtime):
                runtime.kill()  # psutil checks the pid still names the same process


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Our own orphan registry: no other lambda-emu on this machine is read or touched.
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    (tmp_path / "run").mkdir()
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    (directory / "app").mkdir(parents=True)
    (directory / "app" / "app.py").write_text(APP)
    (directory / "template.yaml").write_text(TEMPLATE)
    return directory


@pytest.fixture
def start(isolated_env: dict[str, str], project: Path) -> Iterator[Callable[..., EmuProcess]]:
    started: list[EmuProcess] = []
    extra: list[subprocess.Popen[bytes]] = []

    def run(*args: str, cwd: Path | None = None, prefix: tuple[str, ...] = ()) -> EmuProcess:
        process = EmuProcess(["--port", "0", *args], cwd or project, isolated_env, prefix)
        started.append(process)
        return process

    run.extra = extra  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        for process in started:
            process.cleanup()
        for child in extra:
            if child.poll() is None:
                child.kill()
                child.wait(10)
        # What a killed run leaves (its temporary state directory), removed as the next start would.
        OrphanRegistry(Path(isolated_env["XDG_RUNTIME_DIR"]) / "lambda-emu" / "run").reap_stale()


def lambda_client(endpoint: str) -> Any:
    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}, read_timeout=60))


def invoke_marker(endpoint: str, function: str = "Greeter") -> str:
    marker = uuid.uuid4().hex
    response = lambda_client(endpoint).invoke(FunctionName=function, Payload=json.dumps({"marker": marker}))
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"echo": marker}
    return marker


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_the_template_and_stops_every_environment(
    start: Callable[..., EmuProcess], isolated_env: dict[str, str], stop_signal: signal.Signals,
) -> None:
    emu = start("--template", "template.yaml")
    endpoint = emu.wait_ready()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint) and not endpoint.endswith(":0")

    with urllib.request.urlopen(endpoint + "/_emu/health", timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "ok", "version": __version__}

    marker = invoke_marker(endpoint)
    # Function output reaches the terminal, each line prefixed by the function's name.
    wait_until(lambda: f"[Greeter] marker {marker}" in emu.stdout, 10, "the prefixed function log line")
    runtimes = emu.find_runtimes()
    assert len(runtimes) == 1
    pid_files = list((Path(isolated_env["XDG_RUNTIME_DIR"]) / "lambda-emu" / "run").glob("*.pids"))
    # One file per run, named by its owner's pid and the run's token (one process may hold several runs).
    assert len(pid_files) == 1 and pid_files[0].name.startswith(f"{emu.proc.pid}.")

    emu.proc.send_signal(stop_signal)
    assert emu.proc.wait(30) == 0
    assert all(gone(p) for p in runtimes), "a runtime process outlived lambda-emu"
    assert not any(p.exists() for p in pid_files), "a clean stop leaves no pid file behind"
    assert "lambda-emu stopping" in emu.stdout


def test_template_yaml_in_the_current_directory_is_the_default(start: Callable[..., EmuProcess]) -> None:
    emu = start()
    endpoint = emu.wait_ready()
    names = [f["FunctionName"] for f in lambda_client(endpoint).list_functions()["Functions"]]
    assert names == ["Greeter"]


def test_sigkill_takes_the_runtimes_with_it(start: Callable[..., EmuProcess], isolated_env: dict[str, str]) -> None:
    emu = start()
    invoke_marker(emu.wait_ready())
    runtimes = emu.find_runtimes()
    assert runtimes
    emu.proc.kill()
    emu.proc.wait(10)
    # PR_SET_PDEATHSIG: the kernel kills the runtime when its parent dies, with no chance to clean up.
    wait_until(lambda: all(gone(p) for p in runtimes), 10, "the runtime to die with lambda-emu")

    # The killed run's pid file is still there; the next start reads it and removes it.
    [stale] = (Path(isolated_env["XDG_RUNTIME_DIR"]) / "lambda-emu" / "run").glob(f"{emu.proc.pid}.*.pids")
    start().wait_ready()
    assert not stale.exists()


def test_next_start_kills_what_a_dead_run_left(
    start: Callable[..., EmuProcess], isolated_env: dict[str, str],
) -> None:
    # A "runtime" that escaped its dead owner: its own process group, as runtimes are started.
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    start.extra.append(leftover)  # type: ignore[attr-defined]
    owner = subprocess.Popen(["true"])
    owner.wait()  # a pid whose process is gone: the dead lambda-emu
    registry = Path(isolated_env["XDG_RUNTIME_DIR"]) / "lambda-emu" / "run"
    registry.mkdir(parents=True)
    stale = registry / f"{owner.pid}.pids"
    stale.write_text(
        f"owner {owner.pid} {time.time() - 60}\n{leftover.pid} {psutil.Process(leftover.pid).create_time()}\n"
    )

    start().wait_ready()
    assert leftover.wait(10) == -signal.SIGKILL
    assert not stale.exists()


def test_a_malformed_registry_file_does_not_stop_start_up_or_the_reaping(
    start: Callable[..., EmuProcess], isolated_env: dict[str, str],
) -> None:
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    start.extra.append(leftover)  # type: ignore[attr-defined]
    owner = subprocess.Popen(["true"])
    owner.wait()
    registry = Path(isolated_env["XDG_RUNTIME_DIR"]) / "lambda-emu" / "run"
    registry.mkdir(parents=True)
    garbled = registry / "1.pids"
    garbled.write_text("owner not-a-pid\n12 34 56\n")
    stale = registry / f"{owner.pid}.pids"
    # A dead run's file with one garbled line among the good ones.
    stale.write_text(f"owner {owner.pid} {time.time() - 60}\nnonsense\n"
                     f"{leftover.pid} {psutil.Process(leftover.pid).create_time()}\n")

    endpoint = start().wait_ready()
    invoke_marker(endpoint)
    assert leftover.wait(10) == -signal.SIGKILL
    assert not stale.exists()
    assert garbled.exists()  # nobody's to delete: it is ignored, not trusted


def test_a_live_run_keeps_its_runtimes(start: Callable[..., EmuProcess], isolated_env: dict[str, str]) -> None:
    """The reaper only touches runs whose owner is dead: two lambda-emus side by side stay independent."""
    first = start()
    endpoint = first.wait_ready()
    invoke_marker(endpoint)
    runtimes = first.find_runtimes()
    start().wait_ready()
    assert not any(gone(p) for p in runtimes)
    invoke_marker(endpoint)  # still warm, still served


def test_bad_template_exits_nonzero_with_a_clear_message(start: Callable[..., EmuProcess], project: Path) -> None:
    (project / "bad.yaml").write_text(textwrap.dedent("""\
        Resources:
          BrokenFunction:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: app/, Handler: app.handler, Runtime: cobol85}
    """))
    emu = start("--template", "bad.yaml")
    assert emu.proc.wait(30) == 1
    wait_until(lambda: any("BrokenFunction" in line for line in emu.stderr), 5, "the error message")
    message = "\n".join(emu.stderr)
    assert "cobol85" in message
    assert "Traceback" not in message
    assert not any(READY.match(line) for line in emu.stdout)


def test_port_in_use_exits_nonzero(start: Callable[..., EmuProcess], project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        emu = start("--port", str(port))
        assert emu.proc.wait(30) == 1
    wait_until(lambda: any("cannot serve" in line for line in emu.stderr), 5, "the error message")
    assert "Traceback" not in "\n".join(emu.stderr)


def test_missing_template_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lambda_emu.cli import main

    assert main(["up", "--port", "0", "--template", str(tmp_path / "nope.yaml")]) == 2
    assert "no template at" in capsys.readouterr().err


def test_up_without_flags_runs_with_the_configs_own_defaults(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """One source of truth: `lambda-emu up` with no flags is EmulatorConfig() (plus the terminal echo)."""
    import dataclasses

    from lambda_emu.cli import config_from, parser
    from lambda_emu.config import EmulatorConfig

    monkeypatch.chdir(tmp_path)  # no ./template.yaml here
    assert config_from(parser().parse_args(["up"])) == dataclasses.replace(EmulatorConfig(), echo_function_logs=True)


def test_creation_delays_is_off_unless_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambda_emu.cli import config_from, parser

    monkeypatch.chdir(tmp_path)
    assert config_from(parser().parse_args(["up"])).creation_delays is False
    assert config_from(parser().parse_args(["up", "--creation-delays"])).creation_delays is True


MIXED_TEMPLATE = """\
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Runtime: python3.12
  NodeGreeter:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "exports.handler = async () => 1;"
      Handler: index.handler
      Runtime: nodejs20.x
  Users:
    Type: AWS::S3::Bucket
  Orders:
    Type: AWS::S3::Bucket
  Api:
    Type: AWS::ApiGateway::RestApi
  Items:
    Type: AWS::S3::Bucket
  OtherApi:
    Type: AWS::ApiGateway::RestApi
"""


def test_template_yml_with_a_nodejs_function_and_unmodeled_types(start: Callable[..., EmuProcess],
                                                                 project: Path) -> None:
    (project / "template.yaml").unlink()
    (project / "template.yml").write_text(MIXED_TEMPLATE)
    emu = start("--python", f"3.11={sys.executable}")
    endpoint = emu.wait_ready()
    names = [f["FunctionName"] for f in lambda_client(endpoint).list_functions()["Functions"]]
    assert names == ["Greeter", "NodeGreeter"]
    invoke_marker(endpoint)  # the python function serves, the nodejs one doesn't block it
    summary = [line for line in emu.stderr if "skipped " in line]
    assert len(summary) == 1 and "skipped 3 AWS::S3::Bucket, 2 AWS::ApiGateway::RestApi" in summary[0]
    warnings = [line for line in emu.stderr if "--runner docker" in line]
    assert len(warnings) == 1 and "NodeGreeter (nodejs20.x)" in warnings[0]


def test_a_python_option_that_is_not_that_python_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from lambda_emu.cli import main

    assert main(["up", "--python", f"3.12={sys.executable}"]) == 2
    assert "is Python 3.11" in capsys.readouterr().err
    assert main(["up", "--python", "3.12"]) == 2
    assert "--python takes VERSION=PATH" in capsys.readouterr().err
