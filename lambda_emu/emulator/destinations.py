"""Placeholder until the async issue."""

from __future__ import annotations

from typing import Any


def check_dead_letter_target(emu: Any, function: Any, target: str) -> None:
    pass
