"""Every attempt of every invocation, from every source, in start order.

The one record of what ran: `/_emu/invocations` reads it, and so do capture (`up --record`), replay,
`lambda-emu timeline` and the terminal's narration. Attempts are numbered per request ID (1-based), so
an async retry chain, a redelivered SQS message or an injected duplicate shows as attempts 2, 3... of
one request.

An attempt tells the whole story: the event the function received, its response or error and the tail
of its log, where it came from (``sourceDetail``), and what the platform did next (``decision``, set by
the source's driver once it has decided). The journal is bounded (oldest attempts dropped first), and
every attempt has a sequence number that pages through it (``nextToken``) even while it rolls over.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from lambda_emu.emulator.platform.clock import Clock, iso8601
from lambda_emu.emulator.platform.documents import json_or_text

Source = Literal["sync", "async", "sqs", "kinesis", "dynamodb"]
Outcome = Literal["success", "error", "throttled", "partialFailure"]
#: What a journal listener hears: an attempt began, finished, or got its decision.
JournalEvent = Literal["begin", "finish", "decision"]
JournalListener = Callable[[JournalEvent, "Attempt"], None]
#: (function name, subject, text): a platform event with no attempt of its own, for the narration.
NoteListener = Callable[[str, str, str], None]

DEFAULT_SIZE = 10_000
DEFAULT_PAYLOAD_LIMIT = 262_144
#: logTail: the attempt's last 4 KB of log, as LogType=Tail.
LOG_TAIL_BYTES = 4096


@dataclass
class Attempt:
    sequence: int  # position in the journal across the whole run (pages with nextToken)
    request_id: str
    function_name: str
    source: Source
    attempt: int
    duplicate: bool
    start_time: float  # virtual epoch seconds
    #: The payload as received, cut to the journal's payload limit. Kept as bytes and read as JSON only
    #: when the attempt is shown: parsing every event on the invoke path would cost time, and parsed
    #: documents take several times the memory of their text.
    event_bytes: bytes = b""
    event_truncated: bool = False
    source_detail: dict[str, Any] = field(default_factory=dict)
    end_time: float | None = None
    duration_ms: float | None = None  # wall
    outcome: Outcome | None = None
    error_type: str | None = None
    cold_start: bool = False
    response_bytes: bytes = b""
    response_truncated: bool = False
    error: dict[str, str] | None = None
    log_tail: str = ""
    failed_item_ids: list[str] | None = None
    decision: dict[str, Any] | None = None
    #: The injected platform fault that hit this attempt, by name (platform/faults.py), else None.
    fault: str | None = None
    #: The version that ran ("$LATEST", or a published version's number; an alias resolves to one).
    executed_version: str = "$LATEST"
    #: What the terminal's narration needs beyond the JSON (max attempts, maxReceiveCount, names...).
    #: Never serialized.
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> Any:
        """The event as JSON when it parses (and wasn't cut), else its text."""
        return shown(self.event_bytes, self.event_truncated)

    @property
    def response(self) -> Any:
        return shown(self.response_bytes, self.response_truncated)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "sequence": self.sequence,
            "requestId": self.request_id,
            "functionName": self.function_name,
            "executedVersion": self.executed_version,
            "source": self.source,
            "sourceDetail": self.source_detail,
            "attempt": self.attempt,
            "duplicate": self.duplicate,
            "startTime": iso8601(self.start_time),
            "endTime": iso8601(self.end_time) if self.end_time is not None else None,
            "durationMs": round(self.duration_ms, 3) if self.duration_ms is not None else None,
            "outcome": self.outcome,
            "errorType": self.error_type,
            "coldStart": self.cold_start,
            "event": self.event,
            "eventTruncated": self.event_truncated,
        }
        if self.outcome == "success":
            document["response"] = self.response
            if self.response_truncated:
                document["responseTruncated"] = True
        elif self.error is not None:
            document["error"] = self.error
        if self.outcome == "partialFailure":
            document["response"] = self.response
            document["failedItemIds"] = self.failed_item_ids or []
        document["logTail"] = self.log_tail
        document["decision"] = self.decision
        if self.fault is not None:
            document["fault"] = self.fault
        return document


def attempt_record(attempt: Attempt) -> dict[str, Any]:
    """An attempt as the state directory keeps it (``context`` is the narration's, never serialized)."""
    record = {f.name: getattr(attempt, f.name) for f in fields(Attempt) if f.name != "context"}
    return record


def attempt_from_record(record: dict[str, Any]) -> Attempt:
    known = {f.name for f in fields(Attempt)}
    return Attempt(**{k: v for k, v in record.items() if k in known})


def kept(payload: bytes, limit: int) -> tuple[bytes, bool]:
    """A payload as the journal keeps it: cut to ``limit`` bytes, and whether it was cut."""
    if len(payload) > limit:
        return payload[:limit], True
    return payload, False


def shown(payload: bytes, truncated: bool) -> Any:
    """A kept payload as the journal shows it: its JSON, else (or when it was cut) its text."""
    if truncated:
        return payload.decode(errors="replace")
    return json_or_text(payload) if payload else None


class Journal:
    def __init__(self, clock: Clock, *, size: int = DEFAULT_SIZE, payload_limit: int = DEFAULT_PAYLOAD_LIMIT) -> None:
        self.clock = clock
        self.size = size
        self.payload_limit = payload_limit
        self._attempts: deque[Attempt] = deque()
        self._sequence = 0
        # Attempts so far per request ID, and how many of them the journal still holds (so the counter
        # of a request whose attempts all rolled out can go too: the bound holds for the counters).
        self._per_request: dict[str, int] = {}
        self._held: dict[str, int] = {}
        self._listeners: list[JournalListener] = []
        self._note_listeners: list[NoteListener] = []

    def restore(self, attempts: list[Attempt]) -> None:
        """Attempts kept from an earlier run (--state-dir), oldest first: sequence numbers and the
        numbering per request ID go on from them."""
        for attempt in attempts[-self.size:]:
            self._attempts.append(attempt)
            self._sequence = max(self._sequence, attempt.sequence)
            self._per_request[attempt.request_id] = max(self._per_request.get(attempt.request_id, 0),
                                                        attempt.attempt)
            self._held[attempt.request_id] = self._held.get(attempt.request_id, 0) + 1

    def add_listener(self, listener: JournalListener) -> None:
        self._listeners.append(listener)

    def add_note_listener(self, listener: NoteListener) -> None:
        self._note_listeners.append(listener)

    def note(self, function_name: str, subject: str, text: str) -> None:
        """Something the platform did that no attempt records (a duplicate injected, an event dropped
        before it ran, an injected fault): told to the note listeners (the terminal's narration)."""
        for listener in self._note_listeners:
            listener(function_name, subject, text)

    def _tell(self, what: JournalEvent, attempt: Attempt) -> None:
        for listener in self._listeners:
            listener(what, attempt)

    def begin(self, request_id: str, function_name: str, source: Source, *, duplicate: bool = False,
              payload: bytes = b"", source_detail: dict[str, Any] | None = None,
              context: dict[str, Any] | None = None, fault: str | None = None,
              executed_version: str = "$LATEST") -> Attempt:
        number = self._per_request.get(request_id, 0) + 1
        self._per_request[request_id] = number
        self._held[request_id] = self._held.get(request_id, 0) + 1
        self._sequence += 1
        # kept() and _tell() written out here and in finish: they run on every invocation.
        limit = self.payload_limit
        event, truncated = (payload[:limit], True) if len(payload) > limit else (payload, False)
        attempt = Attempt(
            sequence=self._sequence,
            request_id=request_id,
            function_name=function_name,
            source=source,
            attempt=number,
            duplicate=duplicate,
            start_time=self.clock.now(),
            event_bytes=event,
            event_truncated=truncated,
            source_detail=dict(source_detail or {}),
            context=dict(context or {}),
            fault=fault,
            executed_version=executed_version,
        )
        self._attempts.append(attempt)
        while len(self._attempts) > self.size:
            self._drop(self._attempts.popleft())
        for listener in self._listeners:
            listener("begin", attempt)
        return attempt

    def _drop(self, attempt: Attempt) -> None:
        held = self._held.get(attempt.request_id, 0) - 1
        if held > 0:
            self._held[attempt.request_id] = held
        else:
            self._held.pop(attempt.request_id, None)
            self._per_request.pop(attempt.request_id, None)

    def finish(
        self,
        attempt: Attempt,
        outcome: Outcome,
        *,
        error_type: str | None = None,
        error_message: str | None = None,
        duration_ms: float | None = None,
        cold_start: bool = False,
        response: bytes = b"",
        log: bytes = b"",
        fault: str | None = None,
    ) -> None:
        if fault is not None:
            attempt.fault = fault
        attempt.end_time = self.clock.now()
        attempt.outcome = outcome
        attempt.error_type = error_type
        attempt.duration_ms = duration_ms
        attempt.cold_start = cold_start
        if outcome == "success":
            limit = self.payload_limit
            if len(response) > limit:
                attempt.response_bytes, attempt.response_truncated = response[:limit], True
            else:
                attempt.response_bytes, attempt.response_truncated = response, False
        elif error_type is not None:
            attempt.error = {"errorType": error_type, "errorMessage": error_message or ""}
        attempt.log_tail = log[-LOG_TAIL_BYTES:].decode(errors="replace")
        for listener in self._listeners:
            listener("finish", attempt)

    def partial_failure(self, attempt: Attempt, failed_item_ids: list[str]) -> None:
        """A batch the function answered with failed items: not a success (the items come back)."""
        attempt.outcome = "partialFailure"
        attempt.failed_item_ids = list(failed_item_ids)

    def decide(self, attempt: Attempt | None, decision: dict[str, Any] | None) -> None:
        """What the platform did after ``attempt`` (see the issue's list of actions)."""
        if attempt is None:
            return
        attempt.decision = decision
        self._tell("decision", attempt)

    def clear(self) -> None:
        """Forget every attempt (``POST /_emu/reset``); numbering per request ID starts again. The
        sequence goes on, so a page token from before the reset shows nothing of what came before."""
        # New containers: an attempt still finishing from before the reset lands in none of them.
        self._attempts = deque()
        self._per_request = {}
        self._held = {}

    def query(self, function_name: str | None = None, request_id: str | None = None) -> list[Attempt]:
        return list(self.select(function_name, request_id))

    def select(self, function_name: str | None = None, request_id: str | None = None,
               after: int = 0) -> Iterator[Attempt]:
        """Matching attempts in start order, from sequence number ``after`` + 1 on."""
        for a in self._attempts:
            if (a.sequence > after
                    and (function_name is None or a.function_name == function_name)
                    and (request_id is None or a.request_id == request_id)):
                yield a
