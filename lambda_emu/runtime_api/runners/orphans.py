"""No orphan process, ever: every runtime process lambda-emu starts is written down, and killed later
by whoever finds its owner gone.

Two layers: the kernel kills a runtime when lambda-emu dies (PR_SET_PDEATHSIG, Linux), and each run
keeps a pid file that the next start reads to kill what a killed run left behind (other systems, or a
runtime that escaped its parent). A pid is only killed when its start time still matches, so a
recycled pid is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from pathlib import Path

import psutil

from lambda_emu.emulator.platform.logging import get_logger

log = get_logger("orphans")


def registry_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path.home() / ".cache")
    return Path(base) / "lambda-emu" / "run"


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


class OrphanRegistry:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or registry_dir()
        self.owner = os.getpid()
        self.path = self.directory / f"{self.owner}.pids"
        self._pids: dict[int, float] = {}

    def register(self, pid: int) -> None:
        started = _start_time(pid)
        if started is not None:
            self._pids[pid] = started
            self._write()

    def unregister(self, pid: int) -> None:
        if self._pids.pop(pid, None) is not None:
            self._write()

    def _write(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            owner_start = _start_time(self.owner) or 0.0
            lines = [f"owner {self.owner} {owner_start}"] + [f"{pid} {t}" for pid, t in self._pids.items()]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n")
            tmp.replace(self.path)
        except OSError:
            pass  # bookkeeping must never break an invocation

    def close(self) -> None:
        self._pids.clear()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def reap_stale(self) -> int:
        """Kill what dead lambda-emu runs left behind; returns how many processes were killed."""
        killed = 0
        if not self.directory.is_dir():
            return 0
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
            if owner_pid == self.owner:
                continue
            alive = _start_time(owner_pid)
            if alive is not None and abs(alive - owner_start) < 1.0:
                continue  # that run is still going
            for line in lines[1:]:
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
