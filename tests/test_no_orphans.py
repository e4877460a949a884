"""No orphan process and no /tmp data left, ever: a function that starts a `setsid` daemon, with
lambda-emu stopped cleanly, killed with -9 and restarted, or the function deleted."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests import test_cli
from tests.test_cli import EmuProcess, gone, lambda_client, wait_until

# The CLI tests' fixtures: an isolated orphan registry, a project directory, `lambda-emu up` runs.
isolated_env, project, start = test_cli.isolated_env, test_cli.project, test_cli.start

DAEMON_APP = """\
import os
import subprocess


def handler(event, context):
    # A daemon as a careless function makes one: its own session, its parent (sh) gone at once.
    started = subprocess.run(
        ["setsid", "sh", "-c", "sleep 300 > /dev/null 2>&1 < /dev/null & echo $!"],
        capture_output=True, text=True, check=True,
    )
    with open(os.path.join(os.environ["TMPDIR"], "scratch.bin"), "wb") as scratch:
        scratch.write(b"x" * 4096)
    return {"daemon": int(started.stdout), "tmp": os.environ["TMPDIR"]}
"""

TEMPLATE = """\
Resources:
  Spawner:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: daemon/
      Handler: app.handler
      Runtime: python3.12
"""


@pytest.fixture
def daemon_project(project: Path) -> Path:
    (project / "daemon").mkdir()
    (project / "daemon" / "app.py").write_text(DAEMON_APP)
    (project / "template.yaml").write_text(TEMPLATE)
    return project


def spawn_daemon(endpoint: str) -> tuple[psutil.Process, Path]:
    response = lambda_client(endpoint).invoke(FunctionName="Spawner", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    daemon = psutil.Process(body["daemon"])
    tmp = Path(body["tmp"])
    assert not gone(daemon)
    # Seen through the daemon's root: lambda-emu's /tmp mounts live in its own mount namespace.
    assert Path(f"/proc/{daemon.pid}/root{tmp}/scratch.bin").is_file()
    return daemon, tmp


def test_kill_9_then_restart_leaves_nothing(start: Callable[..., EmuProcess], daemon_project: Path) -> None:
    emu = start(cwd=daemon_project)
    daemon, tmp = spawn_daemon(emu.wait_ready())
    runtimes = emu.find_runtimes()
    try:
        emu.proc.kill()
        emu.proc.wait(10)
        # The runtime dies with lambda-emu (PR_SET_PDEATHSIG); the daemon left its session and survives.
        wait_until(lambda: all(gone(p) for p in runtimes), 10, "the runtime to die with lambda-emu")
        time.sleep(0.2)
        assert not gone(daemon), "the daemon should have outlived the kill (else this test proves nothing)"
        assert tmp.is_dir()

        start(cwd=daemon_project).wait_ready()
        wait_until(lambda: gone(daemon), 10, "the next start to end the dead run's daemon")
        assert not tmp.exists(), "the dead run's /tmp data is removed by the next start"
    finally:
        if not gone(daemon):
            daemon.kill()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_clean_stop_ends_daemons_and_removes_tmp(
    start: Callable[..., EmuProcess], daemon_project: Path, stop_signal: signal.Signals,
) -> None:
    emu = start(cwd=daemon_project)
    daemon, tmp = spawn_daemon(emu.wait_ready())
    try:
        emu.proc.send_signal(stop_signal)
        assert emu.proc.wait(30) == 0
        assert gone(daemon), "a daemon outlived a clean stop"
        assert not tmp.exists()
    finally:
        if not gone(daemon):
            daemon.kill()


def test_deleting_the_function_ends_its_daemons_and_removes_its_tmp(
    start: Callable[..., EmuProcess], daemon_project: Path,
) -> None:
    emu = start(cwd=daemon_project)
    endpoint = emu.wait_ready()
    daemon, tmp = spawn_daemon(endpoint)
    try:
        lambda_client(endpoint).delete_function(FunctionName="Spawner")
        wait_until(lambda: gone(daemon), 10, "the deleted function's daemon to end")
        wait_until(lambda: not tmp.exists(), 10, "the deleted function's /tmp to be removed")
    finally:
        if not gone(daemon):
            daemon.kill()

