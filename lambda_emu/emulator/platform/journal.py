"""Every attempt of every invocation, from every source, in start order.

The one record of what ran: `/_emu/invocations` reads it, and capture, replay and the terminal view
are meant to read it too. Attempts are numbered per request ID (1-based), so an async retry chain,
a redelivered SQS message or an injected duplicate shows as attempts 2, 3... of one request.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from lambda_emu.emulator.platform.clock import Clock, iso8601

Source = Literal["sync", "async", "sqs", "kinesis"]
Outcome = Literal["success", "error", "throttled"]


@dataclass
class Attempt:
    request_id: str
    function_name: str
    source: Source
    attempt: int
    duplicate: bool
    start_time: float  # virtual epoch seconds
    end_time: float | None = None
    duration_ms: float | None = None  # wall
    outcome: Outcome | None = None
    error_type: str | None = None
    cold_start: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "requestId": self.request_id,
            "functionName": self.function_name,
            "source": self.source,
            "attempt": self.attempt,
            "duplicate": self.duplicate,
            "startTime": iso8601(self.start_time),
            "endTime": iso8601(self.end_time) if self.end_time is not None else None,
            "durationMs": round(self.duration_ms, 3) if self.duration_ms is not None else None,
            "outcome": self.outcome,
            "errorType": self.error_type,
            "coldStart": self.cold_start,
        }


class Journal:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._attempts: list[Attempt] = []
        self._per_request: dict[str, int] = defaultdict(int)

    def begin(self, request_id: str, function_name: str, source: Source, *, duplicate: bool = False) -> Attempt:
        self._per_request[request_id] += 1
        attempt = Attempt(
            request_id=request_id,
            function_name=function_name,
            source=source,
            attempt=self._per_request[request_id],
            duplicate=duplicate,
            start_time=self.clock.now(),
        )
        self._attempts.append(attempt)
        return attempt

    def finish(
        self,
        attempt: Attempt,
        outcome: Outcome,
        *,
        error_type: str | None = None,
        duration_ms: float | None = None,
        cold_start: bool = False,
    ) -> None:
        attempt.end_time = self.clock.now()
        attempt.outcome = outcome
        attempt.error_type = error_type
        attempt.duration_ms = duration_ms
        attempt.cold_start = cold_start

    def query(self, function_name: str | None = None, request_id: str | None = None) -> list[Attempt]:
        return [
            a
            for a in self._attempts
            if (function_name is None or a.function_name == function_name)
            and (request_id is None or a.request_id == request_id)
        ]
