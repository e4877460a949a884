"""JSON as AWS's records carry it: compact, and payloads embedded as JSON when they are JSON."""

from __future__ import annotations

import json
from typing import Any


def compact(document: Any) -> str:
    """AWS writes records as compact JSON."""
    return json.dumps(document, separators=(",", ":"))


def json_or_text(data: bytes | str) -> Any:
    """The JSON document ``data`` holds, else its text: how records embed payloads and bodies."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested deeper than Python parses (Lambda passes such a payload on as is).
        return data.decode(errors="replace") if isinstance(data, bytes) else data
