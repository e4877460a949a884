"""The Docker engine: the docker SDK's client, connected once and lazily (importing the SDK costs
~100 ms), and the one clear error when no engine answers."""

from __future__ import annotations

import os
import threading
from typing import Any


class DockerUnavailable(OSError):
    """No Docker engine answers; the message is the one line the user sees (at start with --runner
    docker; when an image function's environment starts otherwise)."""


class DockerEngine:
    """The docker SDK client, connected on first use."""

    def __init__(self) -> None:
        self._client: Any | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = connect()
            return self._client


def connect(timeout: float = 30) -> Any:
    """A client of a Docker engine that answers within ``timeout`` seconds, else DockerUnavailable with
    the reason."""
    try:
        from docker.client import DockerClient
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise DockerUnavailable(f"--runner docker needs a running Docker engine: {exc}") from exc
    try:
        client: Any = DockerClient.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine has one answer
        raise DockerUnavailable(f"--runner docker needs a running Docker engine: {_reason(exc)}") from exc
    return client


def _reason(exc: BaseException) -> str:
    text = str(exc)
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if "FileNotFoundError" in text or "No such file or directory" in text:
        return f"cannot connect to {host} (is the Docker daemon running?)"
    if "Connection refused" in text or "ConnectionRefused" in text:
        return f"connection refused at {host} (is the Docker daemon running?)"
    return text
