"""`lambda-emu up` as a user runs it: the installed console script as a subprocess, its lines read by threads."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config

LAMBDA_EMU = Path(sys.executable).parent / "lambda-emu"
READY = re.compile(r"^lambda-emu \S+ ready at (http://\S+)$")


class UpProcess:
    """One `lambda-emu up` and the lines it prints (read by threads, so nothing blocks on a full pipe)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], prefix: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [*prefix, str(LAMBDA_EMU), "up", *args], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.endpoint = ""
        self._lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream, sink, feed in ((self.proc.stdout, self.stdout, True), (self.proc.stderr, self.stderr, False)):
            threading.Thread(target=self._read, args=(stream, sink, feed), daemon=True).start()

    def _read(self, stream: IO[str], sink: list[str], feed: bool) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))
            if feed:
                self._lines.put(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 30) -> str:
        """The endpoint from the ready line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            found = READY.match(line)
            if found:
                self.endpoint = found.group(1)
                return self.endpoint
        raise AssertionError(f"lambda-emu never got ready; exit={self.proc.poll()} stderr={self.stderr}")

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="x",
                            aws_secret_access_key="x",
                            config=Config(retries={"max_attempts": 1}, read_timeout=120))

    def emu_get(self, path: str) -> Any:
        with urllib.request.urlopen(self.endpoint + path, timeout=60) as response:
            return json.loads(response.read())

    def emu_post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(self.endpoint + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())
