"""A template function's requirements.txt, installed as ``sam build`` would, into lambda-emu's cache.

The install goes to ``<cache>/deps/python3.X-<hash of the file>``: never into the code folder, once per
interpreter version and file content (a second start with the same file installs nothing). While it
runs the function is Pending (Lambda's wording for a function being created); when it fails the
function is Failed with pip's error. A re-install after an edit is an update: the function stays
Active on its previous requirements until the new ones are in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lambda_emu.emulator.invocation.functions import Function
from lambda_emu.runtime_api.runners.interpreters import Interpreters
from lambda_emu.runtime_api.runners.packages import BUILDS, Builds, InstallError, digest, install

REQUIREMENTS_FILE = "requirements.txt"


class RequirementsInstaller:
    def __init__(self, cache_root: Path, interpreters: Interpreters, *, enabled: bool,
                 announce: Callable[[str, str], None], installed: Callable[[Function], None],
                 background: Callable[[Coroutine[Any, Any, Any], str], None], builds: Builds | None = None) -> None:
        self.root = cache_root / "deps"
        self.interpreters = interpreters
        self.enabled = enabled
        self._announce = announce
        self._installed = installed
        self._background = background
        self.builds = builds or BUILDS

    def requirements_of(self, function: Function) -> Path | None:
        """A code folder's requirements.txt (zips are used as uploaded: AWS installs nothing from them)."""
        if function.code.owned:
            return None
        candidate = function.code.directory / REQUIREMENTS_FILE
        return candidate if candidate.is_file() else None

    def attach(self, function: Function) -> None:
        """After a template function is created: install its requirements (or find them in the cache)."""
        requirements = self.requirements_of(function)
        if requirements is not None and self.enabled:
            self.install(function, requirements)

    def install(self, function: Function, requirements: Path) -> None:
        resolution = self.interpreters.for_runtime(function.runtime)
        if resolution is None:
            return  # requirements.txt is a Python affair
        interpreter = resolution.interpreter
        dependencies = function.dependencies
        # A function that never became Active is still being created; an Active one is being updated.
        dependencies.creating = dependencies.status in ("none", "installing", "failed") and dependencies.path is None
        dependencies.requirements = requirements
        target = self.root / f"python{interpreter.minor}-{digest(requirements.read_bytes())}"
        if target.is_dir():
            self._ready(function, target)
            return
        dependencies.status = "installing"
        dependencies.error = None
        self._announce(function.name, f"installing {requirements} for python{interpreter.minor}")
        started = time.monotonic()

        async def run() -> None:
            try:
                await self.builds.ensure(target, lambda: install(interpreter, target, ["-r", str(requirements)],
                                                                 cwd=requirements.parent))
            except InstallError as exc:
                if dependencies.requirements == requirements:
                    dependencies.status = "failed"
                    dependencies.error = str(exc)
                    self._announce(function.name, f"{requirements.name} could not be installed: {exc}")
                return
            if dependencies.requirements == requirements:  # not superseded by a newer edit meanwhile
                self._announce(function.name,
                               f"{requirements.name} installed in {time.monotonic() - started:.1f} s")
                self._ready(function, target)

        self._background(run(), "requirements install failed")

    def _ready(self, function: Function, target: Path) -> None:
        dependencies = function.dependencies
        changed = dependencies.path != target
        dependencies.status = "ready"
        dependencies.path = target
        dependencies.error = None
        if changed:
            self._installed(function)
