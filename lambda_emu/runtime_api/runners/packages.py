"""Installing Python packages for one interpreter into a folder of lambda-emu's cache, like ``sam build``.

pip runs as the target interpreter's own (``python3.X -m pip install --target``), or uv when it is on
PATH, so compiled packages (awslambdaric's C extension, a requirement's wheels) match that Python.
Every install lands in a temporary folder renamed into place when complete: a folder in the cache is
always whole, and two lambda-emu processes building the same one at once waste work, never corrupt it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from lambda_emu.runtime_api.runners.interpreters import Interpreter

#: The last lines of pip's output kept in an error (the ones that say what went wrong).
ERROR_TAIL_LINES = 20


class InstallError(Exception):
    """pip (or uv) failed; the message is the tail of its output."""


def digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
        hasher.update(b"\0")
    return hasher.hexdigest()[:16]


def _has_pip(interpreter: Interpreter) -> bool:
    try:
        return subprocess.run([str(interpreter.path), "-m", "pip", "--version"], capture_output=True,
                              timeout=30, stdin=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def install_command(interpreter: Interpreter, target: Path, arguments: list[str]) -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", str(interpreter.path), "--target", str(target), *arguments]
    if _has_pip(interpreter):
        base = [str(interpreter.path), "-m", "pip"]
    else:
        # An interpreter without pip (some uv-managed ones): lambda-emu's pip installs for it.
        import sys

        base = [sys.executable, "-m", "pip", "--python", str(interpreter.path)]
    return [*base, "install", "--target", str(target), "--disable-pip-version-check", "--no-input",
            "--no-warn-script-location", "--quiet", *arguments]


async def install(interpreter: Interpreter, target: Path, arguments: list[str], cwd: Path | None = None) -> None:
    """Install into ``target`` (absent before; complete or absent after). Raises InstallError.
    ``cwd``: where relative paths in the arguments (a requirements file's ``./lib``) start."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    command = await asyncio.to_thread(install_command, interpreter, scratch, arguments)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=env, start_new_session=True, cwd=str(cwd) if cwd else None)
    try:
        output, _ = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        await asyncio.to_thread(shutil.rmtree, scratch, True)
        raise
    if process.returncode != 0:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
        lines = output.decode(errors="replace").strip().splitlines()
        raise InstallError("\n".join(lines[-ERROR_TAIL_LINES:]) or f"pip exited with status {process.returncode}")
    scratch.mkdir(exist_ok=True)  # an empty requirements file installs nothing, and that is fine
    try:
        os.rename(scratch, target)
    except OSError:
        # Another process finished the same folder first: its copy is as good as ours.
        await asyncio.to_thread(shutil.rmtree, scratch, True)
        if not target.is_dir():
            raise


class Builds:
    """One build per cache folder at a time within this process: later askers await the first."""

    def __init__(self) -> None:
        # Keyed by event loop too: a task belongs to its loop (tests run servers on several).
        self._running: dict[tuple[int, Path], asyncio.Task[Path]] = {}

    async def ensure(self, target: Path, build: Callable[[], Awaitable[None]]) -> Path:
        if target.is_dir():
            return target
        key = (id(asyncio.get_running_loop()), target)
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._build(target, build))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(task)

    @staticmethod
    async def _build(target: Path, build: Callable[[], Awaitable[None]]) -> Path:
        await build()
        return target


#: One per process: every emulator of the process (tests run several) shares the builds under way.
BUILDS = Builds()
