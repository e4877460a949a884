"""CloudWatch Logs Live Tail (``StartLiveTail``): a session streams the log events ingested into its log
groups after it started, as AWS's event stream (protocol/eventstream.py, the one encoder).

A session answers one ``sessionStart`` event, then a ``sessionUpdate`` about once a second of platform
time with the events that arrived meanwhile (at most 500, ``sampled`` when there were more), filtered
by stream names or prefixes and by the same filter patterns FilterLogEvents matches. It ends with
AWS's ``SessionTimeoutException`` after three hours of platform time, when the client goes away
(the encoder closes the session's generator), at ``POST /_emu/reset`` and at shutdown.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.services.logs.store import LogEvent, LogStore

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock

#: "Every second, a LiveTailSessionUpdate object is sent" (StartLiveTail's documentation).
UPDATE_SECONDS = 1.0
#: "A SessionTimeoutException object is returned when the session times out, after it has been kept
#: open for three hours."
MAX_SESSION_SECONDS = 3 * 3600.0
#: "can include as many as 500 log events ... sampled down to 500 log events".
MAX_EVENTS_PER_UPDATE = 500
#: CloudWatch Logs' quota of concurrent Live Tail sessions per account and region.
MAX_SESSIONS = 15

_ARN = re.compile(r"^arn:aws[a-z-]*:logs:(?P<region>[^:]*):(?P<account>[^:]*):log-group:(?P<name>[^:]+)$")

Event = tuple[str, dict[str, Any]]


@dataclass(eq=False)  # a session is itself (kept in a set)
class LiveTailSession:
    session_id: str
    #: log group name → the identifier the caller named it by (what each event's logGroupIdentifier says).
    groups: dict[str, str]
    stream_names: frozenset[str] | None
    stream_prefixes: tuple[str, ...] | None
    matches: Callable[[str], bool]
    #: Events with a greater sequence have not been sent yet.
    after: int
    #: Platform time the session times out at.
    ends: float
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False

    def wants(self, event: LogEvent) -> bool:
        if self.stream_names is not None and event.stream not in self.stream_names:
            return False
        if self.stream_prefixes is not None and not event.stream.startswith(self.stream_prefixes):
            return False
        return self.matches(event.message)


class LiveTail:
    """The running Live Tail sessions of one CloudWatch Logs service."""

    def __init__(self, clock: Clock, store: LogStore, *, region: str, account_id: str) -> None:
        self.clock = clock
        self.store = store
        self.region = region
        self.account_id = account_id
        self.sessions: set[LiveTailSession] = set()

    def group_name(self, identifier: str) -> str:
        """The log group an identifier names: its name, or its ARN (which, unlike elsewhere in the API, may
        not end with ``:*``: the model's pattern refuses the ``*``)."""
        found = _ARN.match(identifier)
        if found is None:
            return identifier
        if found["region"] != self.region or found["account"] != self.account_id:
            # A log group of another account or region is none of this one's.
            raise AwsError("ResourceNotFoundException", "The specified log group does not exist.")
        return found["name"]

    def start(self, identifiers: list[str], stream_names: list[str] | None, stream_prefixes: list[str] | None,
              matches: Callable[[str], bool], echo: dict[str, Any]) -> AsyncIterator[Event]:
        if stream_names is not None and stream_prefixes is not None:
            raise AwsError("InvalidParameterException",
                           "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.")
        if (stream_names is not None or stream_prefixes is not None) and len(identifiers) != 1:
            raise AwsError("InvalidParameterException",
                           "logStreamNames and logStreamNamePrefixes can only be specified with a single log group.")
        groups: dict[str, str] = {}
        for identifier in identifiers:
            name = self.group_name(identifier)
            if name not in self.store.groups:
                raise AwsError("ResourceNotFoundException", "The specified log group does not exist.")
            groups.setdefault(name, identifier)
        if len([s for s in self.sessions if not s.ended]) >= MAX_SESSIONS:
            raise AwsError("LimitExceededException",
                           f"The maximum number of concurrent Live Tail sessions ({MAX_SESSIONS}) has been reached.")
        session = LiveTailSession(
            session_id=str(uuid.uuid4()), groups=groups,
            stream_names=frozenset(stream_names) if stream_names is not None else None,
            stream_prefixes=tuple(stream_prefixes) if stream_prefixes is not None else None,
            matches=matches, after=self.store.last_sequence, ends=self.clock.now() + MAX_SESSION_SECONDS,
        )
        started = {"requestId": context.request_id.get(), "sessionId": session.session_id, **echo}
        return self._events(session, started)

    async def _events(self, session: LiveTailSession, started: dict[str, Any]) -> AsyncIterator[Event]:
        # Counted from its first event: a stream never read (the client gone before the answer was sent)
        # is closed unstarted, and code before the first yield would never get to its cleanup.
        self.sessions.add(session)
        try:
            yield "sessionStart", started
            ends = session.ends
            # Checked before each wait: an end_all() (a reset) while the client was still reading the last
            # update set ``wake`` too, and clearing it would leave the session waiting on a dropped timer.
            while not session.ended:
                session.wake.clear()
                timer = self.clock.call_later(min(UPDATE_SECONDS, max(0.0, ends - self.clock.now())),
                                              session.wake.set)
                try:
                    await session.wake.wait()
                finally:
                    timer.cancel()
                if session.ended:
                    return
                yield "sessionUpdate", self._update(session)
                if self.clock.now() >= ends:
                    raise AwsError("SessionTimeoutException", "Session timed out after 3 hours.")
        finally:
            session.ended = True
            self.sessions.discard(session)

    def _update(self, session: LiveTailSession) -> dict[str, Any]:
        """The events ingested since the last update, in ingestion order (sampled down to 500)."""
        arrived: list[tuple[LogEvent, str]] = []
        for name, identifier in session.groups.items():
            group = self.store.groups.get(name)
            if group is None:
                continue
            fresh: list[LogEvent] = []
            for event in reversed(group.events):
                if event.sequence <= session.after:
                    break
                fresh.append(event)
            arrived.extend((event, identifier) for event in reversed(fresh) if session.wants(event))
        session.after = self.store.last_sequence
        arrived.sort(key=lambda pair: pair[0].sequence)
        sampled = len(arrived) > MAX_EVENTS_PER_UPDATE
        if sampled:
            # Evenly spread over the second's events, in their order (AWS does not say how it samples).
            step = len(arrived) / MAX_EVENTS_PER_UPDATE
            arrived = [arrived[int(i * step)] for i in range(MAX_EVENTS_PER_UPDATE)]
        return {
            "sessionResults": [
                {"logStreamName": event.stream, "logGroupIdentifier": identifier, "message": event.message,
                 "timestamp": event.timestamp, "ingestionTime": event.ingestion_time}
                for event, identifier in arrived
            ],
            "sessionMetadata": {"sampled": sampled},
        }

    def end_all(self) -> None:
        """``POST /_emu/reset`` and shutdown: every session's stream ends (the clock's timers are gone)."""
        for session in list(self.sessions):
            session.ended = True
            session.wake.set()
        self.sessions.clear()
