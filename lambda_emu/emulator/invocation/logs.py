"""Function logs as Lambda writes them: the function's own output between START and END, a REPORT
line with durations and memory, and the last 4 KB of it for LogType=Tail."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field

TAIL_BYTES = 4096

LogListener = Callable[[str, bytes], None]  # (function name, a chunk of its output as written)


@dataclass
class InvocationLog:
    """The log of one invocation (for a cold start, the init output comes first, as in CloudWatch)."""

    request_id: str
    lines: list[bytes] = field(default_factory=list)
    #: Whether the START line is written (once, whatever the function itself printed).
    started: bool = False

    def add(self, chunk: bytes) -> None:
        self.lines.append(chunk)

    def text(self) -> bytes:
        return b"".join(self.lines)


def init_start_line(runtime: str, runtime_version_arn: str) -> bytes:
    """The line a cold start's log opens with (docs/aws-behaviour.md §Logs). The version is a stand-in: AWS
    names the patch release it runs (python:3.12.v38), which a local process has no equivalent of."""
    if runtime.startswith("python"):
        name = "python:" + runtime.removeprefix("python")
    else:
        name = "provided:" + (runtime.partition(".")[2] or "alami")
    return f"INIT_START Runtime Version: {name}.v1\tRuntime Version ARN: {runtime_version_arn}\n".encode()


def start_line(request_id: str, version: str = "$LATEST") -> bytes:
    return f"START RequestId: {request_id} Version: {version}\n".encode()


def end_line(request_id: str) -> bytes:
    return f"END RequestId: {request_id}\n".encode()


def report_line(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> bytes:
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status:
        parts.append(f"Status: {status}")
    if error_type:
        parts.append(f"Error Type: {error_type}")
    return ("\t".join(parts) + "\t\n").encode()


def tail(log: bytes) -> str:
    """X-Amz-Log-Result: the last 4 KB of the invocation's log, base64."""
    return base64.b64encode(log[-TAIL_BYTES:]).decode("ascii")
