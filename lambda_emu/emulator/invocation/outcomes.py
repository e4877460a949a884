"""What an attempt produced, and every failure Lambda itself reports worded as AWS words it (timeouts,
exits, entrypoints, sizes; the Error Type its logs show)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal


@dataclass
class Outcome:
    """What one attempt produced, as the caller and the retry policies see it."""

    kind: Literal["success", "error"]
    payload: bytes
    error_type: str | None = None
    error_message: str | None = None
    log: bytes = b""
    cold_start: bool = False
    duration_ms: float = 0.0


def platform_failure(error_type: str, message: str) -> Outcome:
    """A failure Lambda itself reports rather than the function (timeout, exit, entrypoint, size)."""
    # Its payload is compact JSON with errorType first (docs/aws-behaviour.md §Function failure modes).
    payload = json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()
    return Outcome("error", payload, error_type, message)


def timed_out(request_id: str, timeout: float) -> Outcome:
    return platform_failure("Sandbox.Timedout",
                            f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds")


def exited(request_id: str, status: int) -> Outcome:
    return platform_failure("Runtime.ExitError", f"RequestId: {request_id} Error: {exit_message(status)}")


def exit_message(status: int) -> str:
    """Go's ProcessState wording, which AWS's messages carry."""
    if status == 0:
        return "Runtime exited without providing a reason"
    if status > 0:
        return f"Runtime exited with error: exit status {status}"
    names = {9: "killed", 11: "segmentation fault", 6: "aborted", 15: "terminated", 2: "interrupt", 7: "bus error"}
    return f"Runtime exited with error: signal: {names.get(-status, f'signal {-status}')}"


REPORTED_ERROR_TYPE = re.compile(r"^(Runtime|Function)\.[A-Z][a-zA-Z]+$")


def report_error_type(error_type: str | None) -> str:
    """The Error Type Lambda logs: a runtime's own type when it reads Category.Reason, else Unknown
    (AWS's RIE normalises it so; docs/aws-behaviour.md §Runtime API: Headers)."""
    if error_type and REPORTED_ERROR_TYPE.match(error_type):
        return error_type
    return "Function.Unknown" if (error_type or "").startswith("Function.") else "Runtime.Unknown"


def error_details(body: bytes, header_type: str | None) -> tuple[str, str]:
    error_type, message = header_type or "", ""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return error_type or "Runtime.Unknown", body.decode(errors="replace")
    if isinstance(document, dict):
        error_type = error_type or str(document.get("errorType") or "")
        message = str(document.get("errorMessage") or "")
    return error_type or "Runtime.Unknown", message
