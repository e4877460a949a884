"""The start-up sweep: a start that doesn't run containers (any runner but ``--runner docker``) still
removes the containers of lambda-emu runs that were killed, when a Docker engine answers quickly.

It speaks the Engine API (list containers by label, remove one) with the standard library's
http.client, not the docker SDK: importing the SDK costs ~0.1–0.7 s of CPU and ~18 MB of memory, which
a process-runner start must not pay for two calls. Nothing is asked when no engine is configured (no
DOCKER_HOST, no /var/run/docker.sock); an engine that doesn't answer within ``TIMEOUT`` is given up on.
TLS endpoints (DOCKER_TLS_VERIFY) are left to ``--runner docker``, whose SDK client handles them.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse

from lambda_emu.runtime_api.runners.docker.labels import LABEL_RUN, of_dead_run

#: Seconds an engine has to answer each call (the sweep runs in the background: it never delays start-up).
TIMEOUT = 3.0
DEFAULT_HOST = "unix:///var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _connection(timeout: float) -> http.client.HTTPConnection | None:
    """A connection to the configured engine, or None when there is none this sweep can reach."""
    if os.environ.get("DOCKER_TLS_VERIFY"):
        return None
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    if host.startswith("unix://"):
        path = host.removeprefix("unix://")
        return _UnixConnection(path, timeout) if os.path.exists(path) else None
    if host.startswith(("tcp://", "http://")):
        parsed = urllib.parse.urlsplit(host)
        if parsed.hostname is None:
            return None
        return http.client.HTTPConnection(parsed.hostname, parsed.port or 2375, timeout=timeout)
    return None


def _call(connection: http.client.HTTPConnection, method: str, path: str) -> tuple[int, bytes]:
    connection.request(method, path)
    response = connection.getresponse()
    return response.status, response.read()


def reap_dead_runs(timeout: float = TIMEOUT) -> int:
    """Remove every container of a lambda-emu run whose owner is gone; how many were removed (0 when no
    engine is configured or none answers in time)."""
    connection = _connection(timeout)
    if connection is None:
        return 0
    removed = 0
    try:
        filters = urllib.parse.quote(json.dumps({"label": [LABEL_RUN]}))
        status, body = _call(connection, "GET", f"/containers/json?all=1&filters={filters}")
        if status != 200:
            return 0
        for item in json.loads(body):
            if of_dead_run(item.get("Labels") or {}):
                status, _ = _call(connection, "DELETE", f"/containers/{item['Id']}?force=1")
                removed += status in (204, 404)
    except (OSError, http.client.HTTPException, ValueError, TypeError, KeyError):
        return removed  # an engine that is gone, slow or odd: the next start tries again
    finally:
        connection.close()
    return removed
