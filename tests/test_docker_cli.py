"""`lambda-emu up --runner docker` as a user runs it: no container outlives it (SIGTERM, SIGKILL and the
next start), one clear error without an engine; and lambda-emu's own image."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_emu import __version__
from tests.docker_support import IMAGES, containers_of, remove_leftover
from tests.support import unique
from tests.test_cli import APP, EmuProcess, invoke_marker

REPO = Path(__file__).resolve().parent.parent

TEMPLATE = """\
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {name}
      CodeUri: app/
      Handler: app.handler
      Runtime: python3.11
"""


@pytest.fixture
def function_name() -> str:
    return unique("cli")


@pytest.fixture
def docker_project(tmp_path: Path, function_name: str) -> Path:
    directory = tmp_path / "project"
    (directory / "app").mkdir(parents=True)
    (directory / "app" / "app.py").write_text(APP)
    (directory / "template.yaml").write_text(TEMPLATE.format(name=function_name))
    return directory


@pytest.fixture
def start_docker(tmp_path: Path, docker_project: Path, docker_client: Any,
                 function_name: str) -> Iterator[Callable[..., EmuProcess]]:
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    started: list[EmuProcess] = []
    images = [arg for runtime, image in IMAGES.items() for arg in ("--image", f"{runtime}={image}")]

    def run(*args: str, extra_env: dict[str, str] | None = None) -> EmuProcess:
        process = EmuProcess(["--port", "0", "--runner", "docker", *images, *args], docker_project,
                             {**env, **(extra_env or {})})
        started.append(process)
        return process

    try:
        yield run
    finally:
        for process in started:
            process.cleanup()
        for container in containers_of(docker_client, function_name):
            remove_leftover(container)


def test_sigterm_removes_every_container(start_docker: Callable[..., EmuProcess], docker_client: Any,
                                         function_name: str) -> None:
    emu = start_docker()
    endpoint = emu.wait_ready(60)
    invoke_marker(endpoint, function_name)
    [container] = containers_of(docker_client, function_name)
    assert container.labels["lambda-emu.function"] == function_name
    assert container.labels["lambda-emu.run"]
    emu.proc.send_signal(signal.SIGTERM)
    assert emu.proc.wait(60) == 0
    assert containers_of(docker_client, function_name) == []


def test_the_next_start_removes_what_a_killed_run_left(start_docker: Callable[..., EmuProcess],
                                                       docker_client: Any, function_name: str) -> None:
    killed = start_docker()
    invoke_marker(killed.wait_ready(60), function_name)
    [left] = containers_of(docker_client, function_name)
    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait(10)
    # The next run removes the dead run's containers before it says it is ready.
    second = start_docker()
    endpoint = second.wait_ready(60)
    remaining = containers_of(docker_client, function_name)
    assert left.id not in [c.id for c in remaining]
    invoke_marker(endpoint, function_name)
    [fresh] = containers_of(docker_client, function_name)
    assert fresh.labels["lambda-emu.run"] != left.labels["lambda-emu.run"]


def test_no_engine_is_one_clear_error(start_docker: Callable[..., EmuProcess], tmp_path: Path) -> None:
    emu = start_docker(extra_env={"DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock"})
    assert emu.proc.wait(60) == 1
    time.sleep(0.2)  # the reader threads catch up
    assert emu.stderr[-1].startswith("lambda-emu: --runner docker needs a running Docker engine: "), emu.stderr
    assert "Traceback" not in "\n".join(emu.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_lambda_emus_own_image_builds_and_serves(docker_client: Any) -> None:
    tag = "lambda-emu:latest"
    subprocess.run([str(REPO / "docker" / "build-emulator-image.sh"), tag], check=True, timeout=1200,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    container = docker_client.containers.run(tag, ["up", "--port", str(port)], network_mode="host", detach=True,
                                             labels={"lambda-emu.test": "own-image"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emu/health", timeout=5) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                assert time.monotonic() < deadline, container.logs().decode()
                time.sleep(0.2)
        assert health == {"status": "ok", "version": __version__}
    finally:
        container.remove(force=True)


def test_any_start_removes_what_a_killed_run_left(start_docker: Callable[..., EmuProcess], docker_client: Any,
                                                  docker_project: Path, tmp_path: Path, function_name: str) -> None:
    killed = start_docker()
    invoke_marker(killed.wait_ready(60), function_name)
    [left] = containers_of(docker_client, function_name)
    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait(10)
    # A start with the process runner (no --runner docker) removes the dead run's container too.
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"))
    plain = EmuProcess(["--port", "0"], docker_project, env)
    try:
        plain.wait_ready(60)
        deadline = time.monotonic() + 60
        while left.id in [c.id for c in containers_of(docker_client, function_name)]:
            assert time.monotonic() < deadline, "the killed run's container is still there"
            time.sleep(0.2)
        plain.proc.send_signal(signal.SIGTERM)
        assert plain.proc.wait(60) == 0
    finally:
        plain.cleanup()


def test_an_engine_that_never_answers_does_not_hold_up_a_start(docker_project: Path, tmp_path: Path) -> None:
    # A socket that accepts and never answers: the start looks for dead runs' containers there, in the
    # background, while lambda-emu is already serving.
    path = tmp_path / "silent-docker.sock"
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(path))
    silent.listen(4)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"), DOCKER_HOST=f"unix://{path}")
    emu = EmuProcess(["--port", "0"], docker_project, env)
    try:
        endpoint = emu.wait_ready(60)
        silent.settimeout(60)
        connection, _ = silent.accept()  # the engine is being asked...
        with urllib.request.urlopen(f"{endpoint}/_emu/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"  # ...and lambda-emu serves meanwhile
        emu.proc.send_signal(signal.SIGTERM)
        assert emu.proc.wait(60) == 0
        assert "Traceback" not in "\n".join(emu.stderr)
        connection.close()
    finally:
        emu.cleanup()
        silent.close()
