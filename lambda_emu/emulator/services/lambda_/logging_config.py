"""A function's LoggingConfig as Lambda keeps it: merged over the current one, AWS's defaults filled in.

Recorded on AWS (docs/aws-behaviour.md §LoggingConfig): LogFormat defaults to Text; switching to JSON
sets ApplicationLogLevel and SystemLogLevel to INFO unless given; switching back to Text drops both; a
partial update keeps what it does not name; LogGroup defaults to /aws/lambda/<function>. A log level
with the Text format is refused.
"""

from __future__ import annotations

from typing import Any

from lambda_emu.emulator.platform.errors import invalid_parameter

LEVELS = ("ApplicationLogLevel", "SystemLogLevel")


def merged(current: dict[str, str], given: dict[str, Any] | None) -> dict[str, str]:
    """The LoggingConfig kept after a request gave ``given`` (CreateFunction: ``current`` is empty)."""
    given = {k: v for k, v in (given or {}).items() if v}
    result = {**current, **given}
    log_format = result.get("LogFormat") or "Text"
    if log_format == "Text":
        if any(level in given for level in LEVELS):
            raise invalid_parameter('LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel '
                                    'from your request or change the LogFormat to "Json" and try again.')
        for level in LEVELS:
            result.pop(level, None)
    else:
        for level in LEVELS:
            result.setdefault(level, "INFO")
    result["LogFormat"] = log_format
    return result

