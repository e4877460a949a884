"""Placeholder until the async issue: Event invocations."""

from __future__ import annotations

from typing import Any


class AsyncQueue:
    def __init__(self, emu: Any) -> None:
        self.emu = emu

    async def enqueue(self, function: Any, payload: bytes, *, request_id: str, invoked_arn: str) -> None:
        from lambda_emu.emulator.errors import invalid_parameter

        raise invalid_parameter("Event invocations are not implemented yet")

    def function_deleted(self, function: Any) -> None:
        pass

    def wake(self, function: Any) -> None:
        pass

    async def stop(self) -> None:
        pass
