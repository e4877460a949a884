"""One running container seen through the runner interface (RuntimeProcess): its output (a host FIFO,
and Docker's attach stream, whose end is the container's end), its exit status and its memory cgroup."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from pathlib import Path
from typing import Any, Protocol

from lambda_emu.runtime_api.log_frames import FrameDecoder
from lambda_emu.runtime_api.runners.base import OutputSink

#: Where the kernel keeps a container's memory accounting: cgroup v1 (cgroupfs / systemd drivers) and v2.
CGROUP_CANDIDATES = (
    ("/sys/fs/cgroup/memory/docker/{id}", "memory.usage_in_bytes", "memory.max_usage_in_bytes"),
    ("/sys/fs/cgroup/memory/system.slice/docker-{id}.scope", "memory.usage_in_bytes", "memory.max_usage_in_bytes"),
    ("/sys/fs/cgroup/system.slice/docker-{id}.scope", "memory.current", "memory.peak"),
    ("/sys/fs/cgroup/docker/{id}", "memory.current", "memory.peak"),
)


class Containers(Protocol):
    """What a container process asks of the runner that made it (synchronous: run in executor threads)."""

    def exit_state(self, container_id: str) -> tuple[int, bool]:
        """The container's exit code and whether the kernel's OOM killer ended it (then it is removed)."""
        ...

    def kill(self, container_id: str) -> None: ...

    def forget(self, container_id: str) -> None: ...


class OutputPipe:
    """A FIFO on the host, bind-mounted into the container; lambda-emu holds both ends, so reading it
    never sees a premature end of file before the runtime opens it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path, 0o666)
        os.chmod(path, 0o666)  # whatever user the image runs as
        self.read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)

    def close(self) -> None:
        for fd in (self.read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            self.path.unlink()


class ContainerProcess:
    """One running container, seen through the runner interface (RuntimeProcess)."""

    def __init__(self, containers: Containers, container_id: str, attach: Any, output: OutputPipe | None,
                 on_output: OutputSink, memory_limit_bytes: int) -> None:
        self._containers = containers
        self._memory_limit_bytes = memory_limit_bytes
        #: The engine said the kernel's OOM killer ended it: it reached its memory limit.
        self._oom_killed = False
        self.container_id = container_id
        self.pid: int | None = None
        self._attach = attach  # keeps the HTTP response (and so the socket) alive
        self._sock: socket.socket = getattr(attach, "_sock", attach)
        self._sock.setblocking(False)
        self._output = output
        self._on_output = on_output
        self._loop = asyncio.get_running_loop()
        self._buffer = b""
        self._frames = FrameDecoder()
        self._eof: asyncio.Future[None] = self._loop.create_future()
        self._closed = False
        self._killed = False
        self._status: int | None = None
        self._cgroup: tuple[Path, str, str] | None = None
        self._loop.add_reader(self._sock.fileno(), self._read_attach)
        if output is not None:
            self._loop.add_reader(output.read_fd, self.drain)

    # ---- output ----

    def drain(self) -> None:
        """Read everything the runtime has written so far (the loop calls it; so does the environment
        before it writes END/REPORT)."""
        if self._output is None or self._closed:
            return
        while True:
            try:
                chunk = os.read(self._output.read_fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not chunk:
                return
            for piece, record in self._frames.pieces(chunk):
                self._on_output(piece, record)

    def _read_attach(self) -> None:
        """Docker's attach stream (8-byte headers: stream, 0, 0, 0, size): what the container wrote before
        the output redirection (or all of it without a FIFO); its end is the container's end."""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:
                self._close()
                return
            self._buffer += chunk
        self._emit()

    def _emit(self) -> None:
        buffer = self._buffer
        offset = 0
        while len(buffer) - offset >= 8:
            _, size = struct.unpack_from(">BxxxL", buffer, offset)
            if len(buffer) - offset - 8 < size:
                break
            data = buffer[offset + 8:offset + 8 + size]
            offset += 8 + size
            for piece, record in self._frames.pieces(data) if self._output is None else [(data, False)]:
                if piece:
                    self._on_output(piece, record)
        self._buffer = buffer[offset:]

    def _close(self) -> None:
        if self._closed:
            return
        self._emit()
        self.drain()
        self._closed = True
        self._loop.remove_reader(self._sock.fileno())
        if self._output is not None:
            self._loop.remove_reader(self._output.read_fd)
            self._output.close()
        rest = self._frames.flush()
        if rest:
            self._on_output(rest)
        with contextlib.suppress(OSError):
            self._attach.close()
        with contextlib.suppress(OSError):
            self._sock.close()
        if not self._eof.done():
            self._eof.set_result(None)

    # ---- lifecycle ----

    async def wait(self) -> int:
        """The container's end: its stream closes when its processes are gone; the engine then knows the
        exit code. A container lambda-emu killed ended by SIGKILL, whatever docker-init reports."""
        await self._eof
        if self._status is None:
            code, self._oom_killed = await self._loop.run_in_executor(None, self._containers.exit_state,
                                                                       self.container_id)
            self._status = -9 if self._killed else status_of(code)
            self._containers.forget(self.container_id)
        return self._status

    def kill(self) -> None:
        if self._killed or self._eof.done():
            return
        self._killed = True
        self._loop.run_in_executor(None, self._containers.kill, self.container_id)

    # ---- memory: the container's own cgroup (the kernel enforces MemorySize; these are for REPORT) ----

    def _cgroup_files(self) -> tuple[Path, str, str] | None:
        if self._cgroup is None:
            for template, current, peak in CGROUP_CANDIDATES:
                directory = Path(template.format(id=self.container_id))
                if (directory / current).exists():
                    self._cgroup = (directory, current, peak)
                    break
        return self._cgroup

    def _read(self, which: int) -> int:
        files = self._cgroup_files()
        if files is None:
            return 0
        try:
            return int((files[0] / files[which]).read_text())
        except (OSError, ValueError):
            return 0

    def memory_bytes(self) -> int:
        return self._read(1)

    def peak_memory_bytes(self) -> int:
        peak = self._read(2) or self._read(1)
        if self._oom_killed:
            # The cgroup may be gone by now (its peak unreadable), but the OOM killer only acts at the
            # limit: the runtime used all of it, as AWS's REPORT of a function killed for memory says.
            peak = max(peak, self._memory_limit_bytes)
        return peak


def status_of(code: int) -> int:
    """docker-init (PID 1) exits 128+N when the runtime died of signal N: report it as the signal."""
    if 128 < code <= 128 + 64:
        return -(code - 128)
    return code
