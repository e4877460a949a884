"""`lambda-emu up` as a user runs it: the installed console script as a subprocess, its lines read by threads."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from tests.support import EmuEndpoint

LAMBDA_EMU = Path(sys.executable).parent / "lambda-emu"
READY = re.compile(r"^lambda-emu \S+ ready at (http://\S+)$")


class UpProcess(EmuEndpoint):
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
