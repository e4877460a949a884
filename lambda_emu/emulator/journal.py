"""Placeholder; the lead is writing the journal."""

from __future__ import annotations

from typing import Any


class Journal:
    def __init__(self, clock: Any) -> None:
        self.clock = clock
