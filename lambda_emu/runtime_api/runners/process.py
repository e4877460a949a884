"""The default runner: the runtime as a local process.

python3.x runtimes run AWS's own runtime interface client (awslambdaric) on a Python of the runtime's
version, with Lambda's sys.path and nothing else (sandbox.py); provided.* runtimes run the code's
``bootstrap`` executable (any language). Both find lambda-emu through AWS_LAMBDA_RUNTIME_API, exactly
as on Lambda. Other runtimes (nodejs, java, dotnet, ruby) need the container runner.

Every runtime carries the run marker (``orphans.py``), so ending an environment ends everything it
started, and its /tmp (``TMPDIR``) is a tmpfs of the function's EphemeralStorage size where the
machine allows mounting one (a write past it fails with ENOSPC, as on Lambda); elsewhere the runner
watches the directory's size and ends the environment once it passes the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import time
from pathlib import Path

import psutil

from lambda_emu.runtime_api.log_frames import FrameDecoder
from lambda_emu.runtime_api.runners.base import EntrypointMissing, OutputSink, RuntimeNotStarted, RuntimeSpec
from lambda_emu.runtime_api.runners.interpreters import Interpreters
from lambda_emu.runtime_api.runners.orphans import ENVIRONMENT_VARIABLE, OrphanRegistry, die_with_parent
from lambda_emu.runtime_api.runners.sandbox import RuntimeDirectories, layer_paths, python_command
from lambda_emu.runtime_api.runners.scratch import mount_tmpfs

#: How often the list of a runtime's child processes is refreshed for memory accounting (wall seconds).
CHILDREN_REFRESH_SECONDS = 1.0
#: Enough of /proc/PID/status to reach VmHWM (it sits in the first few hundred bytes).
STATUS_READ_BYTES = 8192
#: Without a size-limited mount: how often an environment's /tmp is measured (wall seconds).
TMP_SAMPLE_SECONDS = 0.25


def refusal(runtime: str) -> str | None:
    """Why the process runner can't run ``runtime`` (None: it can)."""
    if runtime.startswith(("python", "provided")):
        return None
    return (f"lambda-emu's process runner runs python3.x and provided.* functions, not {runtime}: "
            "start lambda-emu with --runner docker to run it")


class LocalProcess:
    def __init__(self, proc: asyncio.subprocess.Process, read_fd: int, on_output: OutputSink,
                 registry: OrphanRegistry, environment_id: str) -> None:
        self._proc = proc
        self.environment_id = environment_id
        self._tmp_watch: asyncio.Task[None] | None = None
        self._swept = False
        self.pid: int | None = proc.pid
        self._fd = read_fd
        self._on_output = on_output
        self._registry = registry
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(read_fd, self.drain)
        self._closed = False
        #: Whether the pipe has anything (or its end) to read: asked before each drain, since a read of an
        #: empty pipe raises BlockingIOError, and drain runs on every invocation.
        self._readable = select.poll()
        self._readable.register(read_fd, select.POLLIN)
        self._frames = FrameDecoder()
        try:
            self._ps: psutil.Process | None = psutil.Process(proc.pid)
        except psutil.Error:
            self._ps = None
        self._children: list[psutil.Process] = []
        self._children_at = float("-inf")
        #: /proc/PID/status kept open while the runtime runs (see _status); closed when it has ended.
        self._status_fd: int | None = None

    def drain(self) -> None:
        """Read everything the runtime has written so far (called by the loop and before each report)."""
        if self._closed or not self._readable.poll(0):
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
            for piece, record in self._frames.pieces(chunk):
                self._on_output(piece, record)

    def _close_pipe(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        with contextlib.suppress(KeyError, ValueError):
            self._readable.unregister(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        rest = self._frames.flush()
        if rest:
            self._on_output(rest)

    async def wait(self) -> int:
        code = await self._proc.wait()
        self._close_status()
        self.drain()
        self._close_pipe()
        if self.pid is not None:
            self._registry.unregister(self.pid)
        return code

    def kill(self) -> None:
        """End the runtime and everything it started: its process group at once, then (in a worker
        thread: reading every process's environment takes a while on a busy machine) every process
        carrying its environment's marker (a daemon that left the group, a grandchild)."""
        if self._tmp_watch is not None:
            self._tmp_watch.cancel()
            self._tmp_watch = None
        if self._proc.returncode is None and self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        if not self._swept:
            self._swept = True
            self._registry.sweep_later(self.environment_id)

    def watch_tmp(self, tmp_dir: str, limit_bytes: int) -> None:
        """Without a size-limited mount: end the environment once its /tmp holds more than the limit."""
        self._tmp_watch = asyncio.ensure_future(self._watch_tmp(tmp_dir, limit_bytes))

    async def _watch_tmp(self, tmp_dir: str, limit_bytes: int) -> None:
        while self._proc.returncode is None:
            # Wall time on purpose: this is physical behaviour (see clock.py).
            await asyncio.sleep(TMP_SAMPLE_SECONDS)
            used = await asyncio.to_thread(_disk_usage, tmp_dir)
            if used > limit_bytes:
                self._on_output(f"lambda-emu: /tmp holds {used // (1024 * 1024)} MB, more than the function's "
                                f"EphemeralStorage ({limit_bytes // (1024 * 1024)} MB): the environment is "
                                "ended\n".encode())
                self._tmp_watch = None
                self.kill()
                return

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
            text = self._status()
            start = text.find(b"VmHWM:")
            if start >= 0:
                return int(text[start + 6:text.index(b"kB", start)]) * 1024
        except (OSError, ValueError):
            pass
        return self.memory_bytes()


    def _status(self) -> bytes:
        """/proc/PID/status (read once per invocation for VmHWM) through a descriptor kept while the runtime
        runs: a read at offset 0 renders it afresh, without opening the file each time."""
        fd = self._status_fd
        if fd is None:
            fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            if self._proc.returncode is not None:  # ended: nothing to keep open
                try:
                    return os.pread(fd, STATUS_READ_BYTES, 0)
                finally:
                    os.close(fd)
            self._status_fd = fd
        return os.pread(fd, STATUS_READ_BYTES, 0)

    def _close_status(self) -> None:
        fd, self._status_fd = self._status_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _disk_usage(directory: str) -> int:
    """Bytes held by the files under ``directory`` (what a size-limited mount would count)."""
    total = 0
    pending = [directory]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total


#: Lambda's PATH and LD_LIBRARY_PATH, with /var/lang (the interpreter's prefix), /var/runtime,
#: /var/task and /opt standing for their local folders.
SYSTEM_PATH = "/usr/local/bin:/usr/bin/:/bin"
SYSTEM_LIBRARY_PATH = "/lib64:/usr/lib64"


def _local_path(path: str, code_dir: Path, opt_dir: Path | None) -> Path:
    """A path the function names as on Lambda (/var/task/..., /opt/...) where it is on this machine."""
    for prefix, local in (("/var/task/", code_dir), ("/opt/", opt_dir)):
        if local is not None and path.startswith(prefix):
            return local / path[len(prefix):]
    return Path(path)


class ProcessRunner:
    def __init__(self, registry: OrphanRegistry, interpreters: Interpreters | None = None,
                 runtimes: RuntimeDirectories | None = None) -> None:
        self.registry = registry
        self.interpreters = interpreters or Interpreters()
        self.runtimes = runtimes

    @staticmethod
    def refusal(runtime: str) -> str | None:
        """Why this runner can't run ``runtime`` (None: it can); the template loader warns with it."""
        return refusal(runtime)

    async def command(self, spec: RuntimeSpec) -> tuple[list[str], dict[str, str]]:
        """The argv of the runtime and what it adds to (or changes in) its environment."""
        opt = spec.opt_dir
        if spec.runtime.startswith("python"):
            return await self._python(spec)
        reason = refusal(spec.runtime)
        if reason is not None:
            raise RuntimeNotStarted(reason, "Runtime.InvalidRuntime")
        bootstrap = spec.code_dir / "bootstrap"
        if not bootstrap.is_file() and opt is not None and (opt / "bootstrap").is_file():
            bootstrap = opt / "bootstrap"  # Lambda looks in /var/task, then /opt
        if not bootstrap.is_file():
            raise EntrypointMissing(f"Couldn't find valid bootstrap(s): [{bootstrap} /opt/bootstrap]")
        if not os.access(bootstrap, os.X_OK):
            raise EntrypointMissing(f"fork/exec {bootstrap}: permission denied")
        extra: dict[str, str] = {}
        if opt is not None:
            # A custom runtime keeps the host's PATH (its bootstrap may be a script); /opt/bin is Lambda's.
            extra["PATH"] = f"{spec.env.get('PATH', SYSTEM_PATH)}:{opt / 'bin'}"
            extra["LD_LIBRARY_PATH"] = _joined(spec.env.get("LD_LIBRARY_PATH"), str(opt / "lib"))
        return [str(bootstrap)], extra

    async def _python(self, spec: RuntimeSpec) -> tuple[list[str], dict[str, str]]:
        resolution = await asyncio.to_thread(self.interpreters.for_runtime, spec.runtime)
        if resolution is None:
            raise RuntimeNotStarted(f"no interpreter for {spec.runtime}", "Runtime.InvalidRuntime")
        interpreter = resolution.interpreter
        if self.runtimes is None:
            raise RuntimeNotStarted("lambda-emu has no runtime directory cache", "Runtime.InvalidRuntime")
        try:
            runtime_dir = await self.runtimes.ensure(interpreter)
        except Exception as exc:  # noqa: BLE001 - pip's failure is the invocation's answer
            raise RuntimeNotStarted(f"could not build the python{interpreter.minor} runtime directory "
                                    f"(awslambdaric, boto3): {exc}", "Runtime.InvalidRuntime") from exc
        extra_path = ([spec.dependencies_dir] if spec.dependencies_dir else []) + layer_paths(spec.opt_dir,
                                                                                                interpreter.minor)
        prefix = interpreter.path.parent.parent
        opt = spec.opt_dir
        task = spec.code_dir
        path = f"{interpreter.path.parent}:{SYSTEM_PATH}" + (f":{opt / 'bin'}" if opt else "")
        libraries = [str(prefix / "lib"), SYSTEM_LIBRARY_PATH, str(runtime_dir), str(runtime_dir / "lib"),
                     str(task), str(task / "lib")] + ([str(opt / "lib")] if opt else [])
        env = {
            "PATH": path,
            "LD_LIBRARY_PATH": ":".join(libraries),
            "LAMBDA_RUNTIME_DIR": str(runtime_dir),
            # Lambda's PYTHONPATH is /var/runtime; a function that sets its own keeps it, first.
            "PYTHONPATH": _joined(spec.env.get("PYTHONPATH"), str(runtime_dir)),
            "_LAMBDA_EMU_SYS_PATH": os.pathsep.join(str(p) for p in extra_path),
        }
        return python_command(interpreter), env

    async def start(self, spec: RuntimeSpec, on_output: OutputSink) -> LocalProcess:
        argv, extra = await self.command(spec)
        wrapper = spec.env.get("AWS_LAMBDA_EXEC_WRAPPER")
        if wrapper and spec.runtime.startswith("python"):
            # A managed runtime starts through the wrapper script, which gets the runtime's command as
            # its arguments (Lambda's runtime-wrapper contract); /var/task and /opt stand for their folders.
            argv = [str(_local_path(wrapper, spec.code_dir, spec.opt_dir)), *argv]
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        # Lambda's telemetry log pipe, as the very pipe of stdout/stderr (see log_frames): framed
        # records and plain output then arrive in the order the runtime wrote them.
        marker = self.registry.new_environment()
        env = {**spec.env, **extra, **marker, "_LAMBDA_TELEMETRY_LOG_FD": str(write_fd)}
        limited = mount_tmpfs(spec.tmp_dir, spec.ephemeral_storage_mb)
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
        process = LocalProcess(proc, read_fd, on_output, self.registry, marker[ENVIRONMENT_VARIABLE])
        if not limited:
            process.watch_tmp(str(spec.tmp_dir), spec.ephemeral_storage_mb * 1024 * 1024)
        return process


def _joined(first: str | None, second: str) -> str:
    return f"{first}:{second}" if first else second

