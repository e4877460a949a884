"""Lambda's list pagination: an opaque Marker in, a NextMarker out when more items remain."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from lambda_emu.emulator.platform.errors import invalid_parameter

T = TypeVar("T")


def page(items: Sequence[T], params: dict[str, Any], default_size: int) -> tuple[Sequence[T], str | None]:
    """The page ``params`` (Marker, MaxItems) asks for, and the marker of the next page (None: last)."""
    start = 0
    if params.get("Marker"):
        try:
            start = int(base64.b64decode(params["Marker"]).decode())
        except (ValueError, binascii.Error) as exc:
            raise invalid_parameter("Invalid marker") from exc
    size = params.get("MaxItems", default_size)
    following = base64.b64encode(str(start + size).encode()).decode() if start + size < len(items) else None
    return items[start:start + size], following


def listing(key: str, items: Sequence[T], params: dict[str, Any], default_size: int,
            shape: Callable[[T], Any] = lambda item: item) -> dict[str, Any]:
    """A List operation's answer: the page's items, shaped, under ``key``, and NextMarker when more remain."""
    shown, following = page(items, params, default_size)
    result: dict[str, Any] = {key: [shape(item) for item in shown]}
    if following:
        result["NextMarker"] = following
    return result
