"""No orphan process, ever: every process started on a function's behalf is found and ended, on stop
and by the next start after lambda-emu was killed.

Three layers:

- the kernel kills a runtime when lambda-emu dies (PR_SET_PDEATHSIG, Linux);
- a run marker: every runtime is started with ``LAMBDA_EMU_RUN`` (this run) and
  ``LAMBDA_EMU_ENVIRONMENT`` (its execution environment) in its environment, which every descendant
  inherits — children, grandchildren and daemons that ``setsid`` and leave the process group alike.
  Ending an environment ends every live process carrying its marker (``/proc/<pid>/environ``);
- a registry file per run (``$XDG_RUNTIME_DIR/lambda-emu/run``) names the run's owner, its runtime
  pids and the scratch data its environments wrote (``/tmp`` directories, their size-limited mounts).
  The next start ends what a dead run left: every process carrying a dead run's marker, every pid in
  its file whose start time still matches (a recycled pid is never touched), and its scratch data.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import psutil

from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.runtime_api.runners.scratch import remove_tree

log = get_logger("orphans")

#: The environment variables every process started for a function inherits (the run marker).
RUN_VARIABLE = "LAMBDA_EMU_RUN"
ENVIRONMENT_VARIABLE = "LAMBDA_EMU_ENVIRONMENT"
_RUN_KEY = RUN_VARIABLE.encode() + b"="
_ENVIRONMENT_KEY = ENVIRONMENT_VARIABLE.encode() + b"="


def registry_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path.home() / ".cache")
    return Path(base) / "lambda-emu" / "run"


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _owner_alive(run_id: str) -> bool:
    """A run id is ``<pid>:<start time>:<token>``; its owner lives while that pid has that start time."""
    try:
        pid_text, started, _ = run_id.split(":", 2)
        now_started = _start_time(int(pid_text))
        return now_started is not None and abs(now_started - float(started)) < 1.0
    except ValueError:
        return True  # not ours to judge: never kill on a marker we can't read


def marked_processes() -> list[tuple[int, str, str]]:
    """(pid, run id, environment id) of every process carrying a run marker, read from /proc."""
    found: list[tuple[int, str, str]] = []
    own = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == own:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as file:
                environ = file.read()
        except OSError:
            continue  # gone, a zombie, or not ours to read
        if _RUN_KEY not in environ:
            continue
        run_id = environment_id = ""
        for item in environ.split(b"\0"):
            if item.startswith(_RUN_KEY):
                run_id = item[len(_RUN_KEY):].decode(errors="replace")
            elif item.startswith(_ENVIRONMENT_KEY):
                environment_id = item[len(_ENVIRONMENT_KEY):].decode(errors="replace")
        if run_id:
            found.append((int(entry), run_id, environment_id))
    return found


def _kill_marked(match: Callable[[str, str], bool]) -> int:
    """SIGKILL every marked process ``match(run_id, environment_id)`` selects, rescanning until none is
    left (a process may fork between a scan and its kill). Returns how many were killed."""
    killed = 0
    for _ in range(5):
        victims = [pid for pid, run, env in marked_processes() if match(run, env)]
        if not victims:
            break
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


class OrphanRegistry:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or registry_dir()
        self.owner = os.getpid()
        self.owner_start = _start_time(self.owner) or 0.0
        # Several emulators may share one process (tests): each run has its own id and file.
        self.run_id = f"{self.owner}:{self.owner_start!r}:{secrets.token_hex(4)}"
        self.path = self.directory / f"{self.owner}.{self.run_id.rsplit(':', 1)[1]}.pids"
        self._pids: dict[int, float] = {}
        self._scratch: list[Path] = []
        self._environments = 0
        self._sweeps: set[asyncio.Future[int]] = set()

    def new_environment(self) -> dict[str, str]:
        """The marker variables for one new runtime process (and everything it ever starts)."""
        self._environments += 1
        return {RUN_VARIABLE: self.run_id, ENVIRONMENT_VARIABLE: str(self._environments)}

    def register(self, pid: int) -> None:
        started = _start_time(pid)
        if started is not None:
            self._pids[pid] = started
            self._write()

    def unregister(self, pid: int) -> None:
        if self._pids.pop(pid, None) is not None:
            self._write()

    def scratch(self, path: Path) -> None:
        """Scratch data (a /tmp directory, a whole temporary state directory) the next start removes
        when this run is killed."""
        if path not in self._scratch:
            self._scratch.append(path)
            self._write()

    def kill_environment(self, environment_id: str) -> int:
        """End every process one environment started, wherever it went (its own session included)."""
        return _kill_marked(lambda run, env: run == self.run_id and env == environment_id)

    def sweep_later(self, environment_id: str) -> None:
        """kill_environment in a worker thread, off the event loop; close() waits for every sweep."""
        task = asyncio.ensure_future(asyncio.to_thread(self.kill_environment, environment_id))
        self._sweeps.add(task)
        task.add_done_callback(self._sweeps.discard)

    async def wait_sweeps(self) -> None:
        if self._sweeps:
            await asyncio.gather(*list(self._sweeps), return_exceptions=True)

    def _write(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            lines = [f"owner {self.owner} {self.owner_start}", f"run {self.run_id}"]
            lines += [f"{pid} {t}" for pid, t in self._pids.items()]
            lines += [f"scratch {path}" for path in self._scratch]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n")
            tmp.replace(self.path)
        except OSError:
            pass  # bookkeeping must never break an invocation

    def close(self) -> None:
        """On stop: end every process of this run still alive, then forget the run."""
        _kill_marked(lambda run, env: run == self.run_id)
        self._pids.clear()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def reap_stale(self) -> int:
        """End what dead lambda-emu runs left behind; returns how many processes were killed."""
        killed = 0
        if not self.directory.is_dir():
            return killed
        stale = False
        scratch: list[Path] = []
        for file in self.directory.glob("*.pids"):
            try:
                lines = file.read_text().splitlines()
            except OSError:
                continue
            header = _entry(lines[0][len("owner "):]) if lines and lines[0].startswith("owner ") else None
            if header is None:
                # Not a file any lambda-emu wrote whole: nothing in it can be trusted, and start-up must
                # not fail on it. Left alone (its owner, if any, rewrites it on its next runtime).
                log.warning("ignoring a malformed orphan registry file", path=str(file))
                continue
            owner_pid, owner_start = header
            if file == self.path:
                continue
            alive = _start_time(owner_pid)
            if alive is not None and abs(alive - owner_start) < 1.0:
                continue  # that run is still going
            stale = True
            for line in lines[1:]:
                key, _, value = line.partition(" ")
                if key == "scratch":
                    scratch.append(Path(value))
                    continue
                entry = _entry(line)
                if entry is None:
                    continue  # a malformed line names no process we could safely kill
                pid, started = entry
                now_started = _start_time(pid)
                if now_started is not None and abs(now_started - started) < 1.0:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
                        killed += 1
            with contextlib.suppress(OSError):
                file.unlink()
        if stale:
            # A run was killed (every run writes its file at start): end every process carrying the
            # marker of a run whose owner is gone. Only then: reading every process's environment
            # costs start-up time.
            dead: dict[str, bool] = {}

            def of_dead_run(run: str, _env: str) -> bool:
                if run not in dead:
                    dead[run] = run != self.run_id and not _owner_alive(run)
                return dead[run]

            killed += _kill_marked(of_dead_run)
        # Scratch data last: nothing of those runs is left to write to it.
        for path in scratch:
            remove_tree(path)
        return killed


def _entry(text: str) -> tuple[int, float] | None:
    """``"<pid> <start time>"`` parsed, or None when it isn't that."""
    parts = text.split()
    if len(parts) != 2:
        return None
    try:
        return int(parts[0]), float(parts[1])
    except ValueError:
        return None


def die_with_parent() -> None:
    """preexec_fn for runtime processes: their own session, and SIGKILL when lambda-emu dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
