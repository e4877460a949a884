"""Placeholder: the sqs event source mapping poller is being written."""

from __future__ import annotations

from typing import Any


class SqsPoller:
    def __init__(self, emu: Any, mapping: Any) -> None:
        self.emu = emu
        self.mapping = mapping

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reconfigure(self) -> None:
        pass
