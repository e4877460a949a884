"""CloudWatch Logs' log groups, streams and events, on the platform clock.

Lambda writes every line a function produces (its own output and the platform's START / END / REPORT,
INIT_START...) into the function's log group, one stream per execution environment. Events carry
the platform clock's time. A group keeps at most ``max_events`` events (the oldest dropped first)
unless the run has a state directory, which keeps them all; a group's retention (PutRetentionPolicy)
drops events older than that many days on the platform clock.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

#: Events a log group keeps without a state directory (the oldest go first).
DEFAULT_MAX_EVENTS = 10_000
DAY_MS = 86_400_000


@dataclass(slots=True)  # three made per invocation
class LogEvent:
    #: Ingestion order over the whole run (eventId and tokens are made from it).
    sequence: int
    stream: str
    timestamp: int
    ingestion_time: int
    message: str

    @property
    def event_id(self) -> str:
        # AWS's event IDs are 56-digit decimal strings.
        return f"{self.sequence:056d}"


@dataclass
class LogStream:
    name: str
    creation_time: int
    first_event: int | None = None
    last_event: int | None = None
    last_ingestion: int | None = None
    #: The stream's events, oldest first (also in the group's deque, which bounds them).
    events: deque[LogEvent] = field(default_factory=deque)


@dataclass
class LogGroup:
    name: str
    creation_time: int
    retention_days: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    log_group_class: str = "STANDARD"
    kms_key_id: str | None = None
    streams: dict[str, LogStream] = field(default_factory=dict)
    #: Every event of the group in ingestion order, for the bound.
    events: deque[LogEvent] = field(default_factory=deque)

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "creationTime": self.creation_time, "retentionInDays": self.retention_days,
                "tags": self.tags, "logGroupClass": self.log_group_class, "kmsKeyId": self.kms_key_id,
                "streams": {name: s.creation_time for name, s in self.streams.items()}}


class LogStore:
    def __init__(self, now_ms: Callable[[], int], *, state: StateStore | None = None,
                 max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self.now_ms = now_ms
        self.state = state
        #: None with a state directory: everything is kept.
        self.max_events: int | None = None if state is not None else max_events
        self.groups: dict[str, LogGroup] = {}
        self._sequence = itertools.count(1)
        #: The sequence of the newest event ingested (Live Tail sessions read what comes after theirs).
        self.last_sequence = 0
        #: Partial lines per (group, stream): a line is an event once its newline arrives.
        self._partial: dict[tuple[str, str], bytes] = {}

    # ---- groups and streams ----

    def create_group(self, name: str, **settings: Any) -> LogGroup:
        group = LogGroup(name, self.now_ms(), **settings)
        self.groups[name] = group
        self._save_group(group)
        return group

    def delete_group(self, name: str) -> None:
        group = self.groups.pop(name)
        for key in [k for k in self._partial if k[0] == name]:
            del self._partial[key]
        if self.state is not None:
            self.state.delete("log-group", name)
            self.state.delete_owned("log-event", name)
        group.events.clear()

    def create_stream(self, group: LogGroup, name: str) -> LogStream:
        stream = LogStream(name, self.now_ms())
        group.streams[name] = stream
        self._save_group(group)
        return stream

    def delete_stream(self, group: LogGroup, name: str) -> None:
        stream = group.streams.pop(name)
        gone = {id(e) for e in stream.events}
        group.events = deque(e for e in group.events if id(e) not in gone)
        if self.state is not None:
            for event in stream.events:
                self.state.delete("log-event", _event_key(group.name, event.sequence))
        self._save_group(group)

    def set_retention(self, group: LogGroup, days: int | None) -> None:
        group.retention_days = days
        self._save_group(group)
        self.expire(group)

    # ---- events ----

    def write(self, group_name: str, stream_name: str, chunk: bytes, record: bool = False) -> None:
        """Output as it is written (the group and stream are made when missing, as Lambda makes them). Raw
        output: each complete line is one event and keeps its newline, an empty line is none (as AWS's
        recordings show: ``"multi\\n"``, a ``\\r`` inside a line kept). A ``record`` (a logging record or
        error report the runtime framed) is one event as it came, newlines inside and no newline added."""
        if record:
            if chunk:
                self._ingest(group_name, stream_name, [chunk.decode(errors="replace")])
            return
        if self._partial:  # runs for every line of every invocation: the usual case has nothing pending
            pending = self._partial.pop((group_name, stream_name), None)
            if pending is not None:
                chunk = pending + chunk
        *lines, rest = chunk.split(b"\n")
        if rest:
            self._partial[(group_name, stream_name)] = rest
        messages = []
        for line in lines:  # a loop, not a comprehension: no frame of its own on every write
            if line:
                messages.append(line.decode(errors="replace") + "\n")
        if messages:
            self._ingest(group_name, stream_name, messages)

    def _ingest(self, group_name: str, stream_name: str, messages: list[str]) -> None:
        """Output written now: stamped and ingested at one clock reading; the group and stream are made
        when missing."""
        now = self.now_ms()
        self.put(group_name, stream_name, [(now, message) for message in messages], create=True, ingested=now)

    def put(self, group_name: str, stream_name: str, events: Iterable[tuple[int, str]], *,
            create: bool = False, ingested: int | None = None) -> None:
        """Events into a stream; ``ingested`` is their ingestion time when the caller just read the clock."""
        group = self.groups.get(group_name)
        if group is None:
            if not create:
                raise KeyError(group_name)
            group = self.create_group(group_name)
        stream = group.streams.get(stream_name)
        if stream is None:
            if not create:
                raise LookupError(stream_name)
            stream = self.create_stream(group, stream_name)
        now = self.now_ms() if ingested is None else ingested
        for timestamp, message in events:
            event = LogEvent(next(self._sequence), stream_name, timestamp, now, message)
            self.last_sequence = event.sequence
            stream.events.append(event)
            group.events.append(event)
            if stream.first_event is None or timestamp < stream.first_event:
                stream.first_event = timestamp
            if stream.last_event is None or timestamp > stream.last_event:
                stream.last_event = timestamp
            stream.last_ingestion = now
            if self.state is not None:
                self.state.put("log-event", _event_key(group_name, event.sequence),
                               _event_record(group_name, event), owner=group_name)
        if self.max_events is not None:
            while len(group.events) > self.max_events:
                oldest = group.events.popleft()
                group.streams[oldest.stream].events.popleft()

    def expire(self, group: LogGroup) -> None:
        """Retention on the platform clock: events older than the group's retention are gone."""
        if group.retention_days is None:
            return
        cutoff = self.now_ms() - group.retention_days * DAY_MS
        if not group.events or min(e.timestamp for e in group.events) >= cutoff:
            return
        for stream in group.streams.values():
            kept = deque(e for e in stream.events if e.timestamp >= cutoff)
            if self.state is not None:
                for event in stream.events:
                    if event.timestamp < cutoff:
                        self.state.delete("log-event", _event_key(group.name, event.sequence))
            stream.events = kept
        group.events = deque(e for e in group.events if e.timestamp >= cutoff)

    def events_of(self, group: LogGroup, streams: Iterable[LogStream]) -> Iterator[LogEvent]:
        self.expire(group)
        for stream in streams:
            yield from stream.events

    def read_lines(self, group_name: str, since: str | None, limit: int | None) -> tuple[list[dict[str, str]], str]:
        """``GET /_emu/logs``: a group's lines in the order they were written, after position ``since``
        (an event's sequence) or from the ISO-8601 platform time ``since``; and the position to go on from."""
        from lambda_emu.emulator.platform.clock import iso8601

        after, from_ms = 0, None
        if since:
            if since.isdigit():
                after = int(since)
            else:
                from datetime import datetime

                try:
                    from_ms = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1000
                except ValueError as exc:
                    raise ValueError(f"since must be a position or an ISO-8601 time, not {since!r}") from exc
        group = self.groups.get(group_name)
        out: list[dict[str, str]] = []
        last = after
        if group is not None:
            self.expire(group)
            for event in group.events:
                if event.sequence <= after or (from_ms is not None and event.timestamp < from_ms):
                    continue
                if limit is not None and len(out) >= limit:
                    break
                # Lines, as lambda-emu's own API shows them: without the newline CloudWatch keeps.
                out.append({"time": iso8601(event.timestamp / 1000), "message": event.message.removesuffix("\n")})
                last = event.sequence
        return out, str(max(last, after))

    # ---- reset and the state directory ----

    def clear(self) -> None:
        self.groups.clear()
        self._partial.clear()
        if self.state is not None:
            self.state.delete_all("log-group")
            self.state.delete_all("log-event")

    def _save_group(self, group: LogGroup) -> None:
        if self.state is not None:
            self.state.put("log-group", group.name, group.record)

    def restore(self) -> None:
        assert self.state is not None
        for name, record in self.state.load("log-group"):
            group = LogGroup(name, record["creationTime"], record.get("retentionInDays"),
                             dict(record.get("tags") or {}), record.get("logGroupClass") or "STANDARD",
                             record.get("kmsKeyId"))
            group.streams = {s: LogStream(s, created) for s, created in (record.get("streams") or {}).items()}
            self.groups[name] = group
        last = 0
        for _key, record in self.state.load("log-event"):
            owner = self.groups.get(record["group"])
            if owner is None:
                continue
            stream = owner.streams.get(record["stream"]) or self.create_stream(owner, record["stream"])
            event = LogEvent(record["sequence"], record["stream"], record["timestamp"], record["ingestionTime"],
                             record["message"])
            stream.events.append(event)
            owner.events.append(event)
            stream.first_event = min(stream.first_event or event.timestamp, event.timestamp)
            stream.last_event = max(stream.last_event or event.timestamp, event.timestamp)
            stream.last_ingestion = event.ingestion_time
            last = max(last, event.sequence)
        self._sequence = itertools.count(last + 1)
        self.last_sequence = last


def _event_key(group: str, sequence: int) -> str:
    return f"{group}\x00{sequence:020d}"


def _event_record(group: str, event: LogEvent) -> Callable[[], dict[str, Any]]:
    return lambda: {"group": group, "stream": event.stream, "sequence": event.sequence, "timestamp": event.timestamp,
                    "ingestionTime": event.ingestion_time, "message": event.message}
