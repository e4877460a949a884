"""The default runner: the runtime as a local process.

python3.x runtimes run AWS's own runtime interface client (awslambdaric) with the function's code
first on the path; provided.* runtimes run the code's ``bootstrap`` executable (any language). Both
find lambda-emu through AWS_LAMBDA_RUNTIME_API, exactly as on Lambda.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

import psutil

from lambda_emu.runtime_api.log_frames import FrameDecoder
from lambda_emu.runtime_api.runners.base import EntrypointMissing, OutputSink, RuntimeSpec
from lambda_emu.runtime_api.runners.orphans import OrphanRegistry, die_with_parent

#: How often the list of a runtime's child processes is refreshed for memory accounting (wall seconds).
CHILDREN_REFRESH_SECONDS = 1.0


class LocalProcess:
    def __init__(self, proc: asyncio.subprocess.Process, read_fd: int, on_output: OutputSink,
                 registry: OrphanRegistry) -> None:
        self._proc = proc
        self.pid: int | None = proc.pid
        self._fd = read_fd
        self._on_output = on_output
        self._registry = registry
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(read_fd, self.drain)
        self._closed = False
        self._frames = FrameDecoder()
        try:
            self._ps: psutil.Process | None = psutil.Process(proc.pid)
        except psutil.Error:
            self._ps = None
        self._children: list[psutil.Process] = []
        self._children_at = float("-inf")

    def drain(self) -> None:
        """Read everything the runtime has written so far (called by the loop and before each report)."""
        if self._closed:
            return
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._close_pipe()
                return
            text = self._frames.feed(chunk)
            if text:
                self._on_output(text)

    def _close_pipe(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        rest = self._frames.flush()
        if rest:
            self._on_output(rest)

    async def wait(self) -> int:
        code = await self._proc.wait()
        self.drain()
        self._close_pipe()
        if self.pid is not None:
            self._registry.unregister(self.pid)
        return code

    def kill(self) -> None:
        if self._proc.returncode is None and self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def memory_bytes(self) -> int:
        """RSS of the runtime and its children. Finding children scans all of /proc, so the list is
        refreshed at most once a second; the runtime's own RSS is read every time."""
        if self._ps is None:
            return 0
        try:
            now = time.monotonic()
            if now - self._children_at > CHILDREN_REFRESH_SECONDS:
                self._children = self._ps.children(recursive=True)
                self._children_at = now
            total = self._ps.memory_info().rss
            for child in self._children:
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
            return total
        except psutil.Error:
            return 0

    def peak_memory_bytes(self) -> int:
        try:
            with open(f"/proc/{self.pid}/status", "rb") as status:
                text = status.read()
            start = text.find(b"VmHWM:")
            if start >= 0:
                return int(text[start + 6:text.index(b"kB", start)]) * 1024
        except (OSError, ValueError):
            pass
        return self.memory_bytes()


class ProcessRunner:
    def __init__(self, registry: OrphanRegistry) -> None:
        self.registry = registry

    def command(self, spec: RuntimeSpec) -> list[str]:
        if spec.runtime.startswith("python"):
            return [sys.executable, "-m", "awslambdaric", spec.handler]
        bootstrap = spec.code_dir / "bootstrap"
        if not bootstrap.is_file():
            raise EntrypointMissing(f"Couldn't find valid bootstrap(s): [{bootstrap} /opt/bootstrap]")
        if not os.access(bootstrap, os.X_OK):
            raise EntrypointMissing(f"fork/exec {bootstrap}: permission denied")
        return [str(bootstrap)]

    async def start(self, spec: RuntimeSpec, on_output: OutputSink) -> LocalProcess:
        argv = self.command(spec)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        # Lambda's telemetry log pipe, as the very pipe of stdout/stderr (see log_frames): framed
        # records and plain output then arrive in the order the runtime wrote them.
        env = {**spec.env, "_LAMBDA_TELEMETRY_LOG_FD": str(write_fd)}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(spec.code_dir),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                pass_fds=(write_fd,),
                preexec_fn=die_with_parent,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.registry.register(proc.pid)
        return LocalProcess(proc, read_fd, on_output, self.registry)
