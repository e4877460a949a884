"""The runner interface: how an execution environment's runtime process (or container) is started.

A runner knows how to start a runtime and to stop it; it knows nothing of invocations. The process
runner is the default; a container runner implements the same interface. Everything outside a runner
(execution environments, the composition root's choice aside) sees only what this module defines:
:class:`Runner`, :class:`RuntimeProcess`, :class:`RuntimeSpec` and the failures a start may raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass
class ImageSpec:
    """An image function's image (Code.ImageUri) and its ImageConfig overrides (None: the image's own)."""

    uri: str
    entry_point: list[str] | None = None
    command: list[str] | None = None
    working_directory: str | None = None


@dataclass
class RuntimeSpec:
    """Everything needed to start one environment's runtime."""

    function_name: str
    runtime: str  # python3.12, provided.al2023...
    handler: str
    code_dir: Path
    env: dict[str, str]
    memory_mb: int
    tmp_dir: Path
    #: The function's EphemeralStorage size: how much its /tmp (``tmp_dir``) may hold.
    ephemeral_storage_mb: int = 512
    #: Set for PackageType Image functions, which only a container runner can start.
    image: ImageSpec | None = None
    #: The function's layers, merged as Lambda extracts them into /opt (None: no layers).
    opt_dir: Path | None = None
    #: The function's installed requirements, which `sam build` would merge into the task root.
    dependencies_dir: Path | None = None


class RuntimeNotStarted(Exception):
    """The runner cannot start this runtime; the invocation fails with ``error_type`` and ``reason``
    (Runtime.InvalidEntrypoint for a missing bootstrap, for instance)."""

    error_type = "Runtime.InvalidEntrypoint"

    def __init__(self, reason: str, error_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if error_type is not None:
            self.error_type = error_type


class EntrypointMissing(RuntimeNotStarted):
    """The runtime has no entrypoint to start (AWS: Runtime.InvalidEntrypoint), e.g. a provided.*
    runtime without an executable bootstrap.

    ``reason`` is Lambda's wording: "Couldn't find valid bootstrap(s): [...]" when there is none,
    Go's "fork/exec <path>: permission denied" when it is not executable.
    """


class RuntimeProcess(Protocol):
    pid: int | None

    async def wait(self) -> int:
        """The exit status: >= 0 an exit code, < 0 the signal that ended it (like Popen.returncode)."""
        ...

    def kill(self) -> None: ...

    def memory_bytes(self) -> int:
        """Resident memory of the whole environment now (0 when unknown)."""
        ...

    def peak_memory_bytes(self) -> int: ...


class OutputSink(Protocol):
    """Where a runtime's output goes: raw output as it comes, or one whole log record (a telemetry frame)."""

    def __call__(self, chunk: bytes, record: bool = False) -> None: ...


class Runner(Protocol):
    async def start(self, spec: RuntimeSpec, on_output: OutputSink) -> RuntimeProcess: ...
