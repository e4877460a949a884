"""Function logs as Lambda writes them: the function's own output between START and END, a REPORT
line with durations and memory, and the last 4 KB of it for LogType=Tail."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from lambda_emu.emulator.platform.clock import iso8601

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


#: System log levels, most detailed first, and the level of each platform record Lambda writes
#: (docs/aws-behaviour.md §LoggingConfig).
SYSTEM_LEVELS = ("DEBUG", "INFO", "WARN")
_RECORD_LEVELS = {"platform.initStart": "INFO", "platform.start": "INFO", "platform.runtimeDone": "DEBUG",
                  "platform.report": "INFO"}


class PlatformLines:
    """The lines Lambda itself writes, in the function's log format: plain text (``START RequestId: ...``)
    or, with ``LoggingConfig.LogFormat`` JSON, one JSON record per line (``platform.start``...) kept or
    dropped by the system log level."""

    def __init__(self, logging_config: dict[str, str], now: Callable[[], float]) -> None:
        self.json = logging_config.get("LogFormat") == "JSON"
        self.level = SYSTEM_LEVELS.index(logging_config.get("SystemLogLevel") or "INFO")
        self.now = now

    def _record(self, kind: str, record: dict[str, object]) -> bytes:
        if SYSTEM_LEVELS.index(_RECORD_LEVELS[kind]) < self.level:
            return b""
        import json

        return (json.dumps({"time": iso8601(self.now()), "type": kind, "record": record},
                           separators=(",", ":")) + "\n").encode()

    def init_start(self, runtime: str, runtime_version_arn: str, function_name: str,
                   version: str = "$LATEST") -> bytes:
        if not self.json:
            return init_start_line(runtime, runtime_version_arn)
        name = init_start_line(runtime, runtime_version_arn).decode().split("\t")[0].removeprefix(
            "INIT_START Runtime Version: ")
        return self._record("platform.initStart", {
            "initializationType": "on-demand", "phase": "init", "runtimeVersion": name,
            "runtimeVersionArn": runtime_version_arn, "functionName": function_name, "functionVersion": version})

    def start(self, request_id: str, version: str = "$LATEST") -> bytes:
        if not self.json:
            return start_line(request_id, version)
        return self._record("platform.start", {"requestId": request_id, "version": version})

    def end(self, request_id: str, duration_ms: float, status: str | None) -> bytes:
        if not self.json:
            return end_line(request_id)
        return self._record("platform.runtimeDone", {"requestId": request_id, "status": status or "success",
                                                     "metrics": {"durationMs": round(duration_ms, 3)}})

    def report(self, request_id: str, duration_ms: float, memory_mb: int, max_memory_mb: int,
               init_ms: float | None = None, status: str | None = None, error_type: str | None = None) -> bytes:
        if not self.json:
            return report_line(request_id, duration_ms, memory_mb, max_memory_mb, init_ms, status, error_type)
        metrics: dict[str, object] = {"durationMs": round(duration_ms, 3),
                                      "billedDurationMs": max(1, math.ceil(duration_ms)),
                                      "memorySizeMB": memory_mb, "maxMemoryUsedMB": max_memory_mb}
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        record: dict[str, object] = {"requestId": request_id, "metrics": metrics, "status": status or "success"}
        if error_type:
            record["errorType"] = error_type
        return self._record("platform.report", record)
