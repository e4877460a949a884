"""Code reload: a template function's code folder is watched, and an edit retires its environments.

Environments busy with an invocation finish it first (they retire on release: the function's
generation moved on); the next invocation is a cold start on the new code. An edit of requirements.txt
installs the new requirements (the function stays Active on the old ones meanwhile, as an update).
One line in the terminal says what happened. ``lambda-emu up --no-reload`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.services.lambda_.requirements import REQUIREMENTS_FILE, RequirementsInstaller

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.pool import Environments
    from lambda_emu.emulator.platform.clock import Clock

log = get_logger("reload")

#: How long watchfiles gathers changes into one batch (ms): an editor's save is several events.
DEBOUNCE_MS = 100


class CodeWatcher:
    def __init__(self, functions: FunctionRegistry, environments: Environments, clock: Clock,
                 requirements: RequirementsInstaller, announce: Callable[[str, str], None]) -> None:
        self.functions = functions
        self.environments = environments
        self.clock = clock
        self.requirements = requirements
        self.announce = announce
        self._folders: dict[Path, set[str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._restart: asyncio.Handle | None = None

    def watch(self, function: Function) -> None:
        """Watch the function's code folder (a template's; an uploaded zip never changes)."""
        if function.code.owned:
            return
        names = self._folders.setdefault(function.code.directory, set())
        if function.name not in names:
            names.add(function.name)
            if self._restart is None:  # a template's functions arrive together: one (re)start
                self._restart = asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._restart = None
        self._cancel()
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self._run(list(self._folders), self._stop))

    def _cancel(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._task is not None:
            self._task.cancel()
        self._task = None

    async def stop(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None
        task = self._task
        self._cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, folders: list[Path], stop: asyncio.Event) -> None:
        from watchfiles import awatch

        existing = [folder for folder in folders if folder.is_dir()]
        if not existing:
            return
        try:
            async for changes in awatch(*existing, debounce=DEBOUNCE_MS, step=20, stop_event=stop):
                for folder in existing:
                    touched = [Path(path) for _, path in changes if Path(path).is_relative_to(folder)]
                    if touched:
                        self._changed(folder, touched)
        except Exception:  # noqa: BLE001 - a watcher failing must not take lambda-emu down
            log.exception("code watcher stopped")

    def _changed(self, folder: Path, touched: list[Path]) -> None:
        for name in sorted(self._folders.get(folder, ())):
            function = self.functions.find(name)
            if function is None or function.code.owned or function.code.directory != folder:
                continue
            if any(path == folder / REQUIREMENTS_FILE for path in touched):
                requirements = folder / REQUIREMENTS_FILE
                if requirements.is_file() and self.requirements.enabled:
                    self.requirements.install(function, requirements)
            try:
                function.code = FunctionRegistry.code_from_directory(folder)
            except Exception:  # noqa: BLE001 - the folder went away: keep what we had
                continue
            function.touch(self.clock.now())
            self.environments.retire_function(function)
            self.announce(name, "code changed: warm environments retired, the next invocation starts cold")
            published = self.functions.republish(function, self.clock.now())
            if published is not None:
                self.announce(name, f"AutoPublishAlias {function.auto_publish_alias} → version {published.version}")
