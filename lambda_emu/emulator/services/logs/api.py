"""Amazon CloudWatch Logs (JSON 1.1, ``Logs_20140328.*``): the log groups functions write to.

What Lambda writes reaches the store through the composition root (``LogStore.write``); this module
is the API over it: groups, streams, GetLogEvents, FilterLogEvents (``aws logs tail`` polls it),
retention. Errors and shapes as AWS answers them (docs/aws-behaviour.md §CloudWatch Logs).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.services.logs.filter_patterns import PatternError, compile_pattern
from lambda_emu.emulator.services.logs.live_tail import LiveTail
from lambda_emu.emulator.services.logs.store import LogEvent, LogGroup, LogStore, LogStream

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.platform.state import StateStore

Params = dict[str, Any]
Result = dict[str, Any]

#: The retention periods PutRetentionPolicy accepts (the model's Days documentation).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
MAX_EVENTS_PER_CALL = 10_000
_NAME = re.compile(r"^[\.\-_/#A-Za-z0-9]+$")
_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:[^:]*:\d{12}:log-group:(?P<name>[^:]+)(?::\*)?$")


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def group_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log stream does not exist.")


def bad_token() -> AwsError:
    return invalid("The specified nextToken is invalid.")


class LogsService(Service):
    service_name = "logs"

    def __init__(self, clock: Clock, *, region: str, account_id: str,
                 state: StateStore | None = None, max_events: int | None = None) -> None:
        self.region = region
        self.account_id = account_id
        self.store = LogStore(clock.now_ms, state=state, **({"max_events": max_events} if max_events else {}))
        self.live_tail = LiveTail(clock, self.store, region=region, account_id=account_id)

    def restore(self) -> None:
        self.store.restore()

    def reset(self) -> None:
        self.live_tail.end_all()
        self.store.clear()

    async def stop(self) -> None:
        self.live_tail.end_all()

    def validation_error(self, problems: list[str]) -> Exception:
        # CloudWatch Logs reports the model's constraints as InvalidParameterException (recorded on AWS).
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        return invalid(f"{count} validation {noun} detected: " + "; ".join(problems))

    # ---- shapes ----

    def _group_arn(self, name: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}"

    def _group_shape(self, group: LogGroup) -> Result:
        shape: Result = {"logGroupName": group.name, "creationTime": group.creation_time}
        if group.retention_days is not None:
            shape["retentionInDays"] = group.retention_days
        shape["metricFilterCount"] = 0
        shape["arn"] = self._group_arn(group.name) + ":*"
        shape["storedBytes"] = 0
        if group.kms_key_id:
            shape["kmsKeyId"] = group.kms_key_id
        shape.update({"logGroupClass": group.log_group_class, "logGroupArn": self._group_arn(group.name),
                      "deletionProtectionEnabled": False})
        return shape

    def _stream_shape(self, group: LogGroup, stream: LogStream) -> Result:
        shape: Result = {"logStreamName": stream.name, "creationTime": stream.creation_time}
        if stream.events:
            shape.update({"firstEventTimestamp": stream.first_event, "lastEventTimestamp": stream.last_event,
                          "lastIngestionTime": stream.last_ingestion})
        shape["arn"] = f"{self._group_arn(group.name)}:log-stream:{stream.name}"
        shape["storedBytes"] = 0
        return shape

    # ---- finding ----

    def _group(self, params: Params) -> LogGroup:
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name and identifier:
            raise AwsError("ValidationException", "LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if identifier:
            name = _group_name(identifier)
        if not name:
            raise invalid("Either logGroupName or logGroupIdentifier must be specified.")
        group = self.store.groups.get(name)
        if group is None:
            raise group_not_found()
        return group

    @staticmethod
    def _check_name(name: str) -> None:
        if len(name) > 512:
            raise invalid("Invalid LogGroup or LogStream, both must have length less than or equal to 512.")
        if not _NAME.match(name):
            raise AwsError("InvalidParameterException", "1 validation error detected: Value '" + name +
                           "' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular "
                           "expression pattern: [\\.\\-_/#A-Za-z0-9]+")

    # ---- log groups ----

    def CreateLogGroup(self, params: Params) -> Result:
        name = params["logGroupName"]
        self._check_name(name)
        if name in self.store.groups:
            raise AwsError("ResourceAlreadyExistsException", "The specified log group already exists")
        self.store.create_group(name, tags=dict(params.get("tags") or {}),
                                log_group_class=params.get("logGroupClass") or "STANDARD",
                                kms_key_id=params.get("kmsKeyId"))
        return {}

    def DeleteLogGroup(self, params: Params) -> Result:
        name = params["logGroupName"]
        if name not in self.store.groups:
            raise group_not_found()
        self.store.delete_group(name)
        return {}

    def DescribeLogGroups(self, params: Params) -> Result:
        prefix = params.get("logGroupNamePrefix")
        pattern = params.get("logGroupNamePattern")
        if prefix and pattern:
            raise invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        groups = sorted(self.store.groups.values(), key=lambda g: g.name)
        if prefix:
            groups = [g for g in groups if g.name.startswith(prefix)]
        if pattern:
            groups = [g for g in groups if pattern.lower() in g.name.lower()]
        if params.get("logGroupIdentifiers"):
            wanted = {_group_name(i) for i in params["logGroupIdentifiers"]}
            groups = [g for g in groups if g.name in wanted]
        if params.get("logGroupClass"):
            groups = [g for g in groups if g.log_group_class == params["logGroupClass"]]
        shown, following = _page([g.name for g in groups], params, 50)
        result: Result = {"logGroups": [self._group_shape(self.store.groups[n]) for n in shown]}
        if following:
            result["nextToken"] = following
        return result

    def PutRetentionPolicy(self, params: Params) -> Result:
        group = self._group(params)
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
                          "constraint: Member must satisfy enum value set: "
                          f"[{', '.join(str(d) for d in RETENTION_DAYS)}]")
        self.store.set_retention(group, days)
        return {}

    def DeleteRetentionPolicy(self, params: Params) -> Result:
        self.store.set_retention(self._group(params), None)
        return {}

    # ---- log streams ----

    def CreateLogStream(self, params: Params) -> Result:
        group = self._group(params)
        name = params["logStreamName"]
        if name in group.streams:
            raise AwsError("ResourceAlreadyExistsException", "The specified log stream already exists")
        self.store.create_stream(group, name)
        return {}

    def DeleteLogStream(self, params: Params) -> Result:
        group = self._group(params)
        if params["logStreamName"] not in group.streams:
            raise stream_not_found()
        self.store.delete_stream(group, params["logStreamName"])
        return {}

    def DescribeLogStreams(self, params: Params) -> Result:
        group = self._group(params)
        prefix = params.get("logStreamNamePrefix")
        order = params.get("orderBy", "LogStreamName")
        if prefix and order == "LastEventTime":
            raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        self.store.expire(group)
        streams = [s for s in group.streams.values() if not prefix or s.name.startswith(prefix)]
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.last_event or 0, s.name))
        else:
            streams.sort(key=lambda s: s.name)
        if params.get("descending"):
            streams.reverse()
        shown, following = _page([s.name for s in streams], params, 50)
        result: Result = {"logStreams": [self._stream_shape(group, group.streams[n]) for n in shown]}
        if following:
            result["nextToken"] = following
        return result

    # ---- events ----

    def PutLogEvents(self, params: Params) -> Result:
        group = self._group(params)
        stream = params["logStreamName"]
        if stream not in group.streams:
            raise stream_not_found()
        events = [(e["timestamp"], e["message"]) for e in params["logEvents"]]
        if any(a[0] > b[0] for a, b in zip(events, events[1:], strict=False)):
            raise invalid("Log events in a single PutLogEvents request must be in chronological order.")
        self.store.put(group.name, stream, events)
        return {"nextSequenceToken": f"{len(group.streams[stream].events):056d}"}

    def GetLogEvents(self, params: Params) -> Result:
        group = self._group(params)
        stream = group.streams.get(params["logStreamName"])
        if stream is None:
            raise stream_not_found()
        limit = params.get("limit", MAX_EVENTS_PER_CALL)
        events = [e for e in self.store.events_of(group, [stream]) if _in_window(e, params)]
        token = params.get("nextToken")
        if token:
            direction, position = _stream_token(token)
            if direction == "f":
                after = [e for e in events if e.sequence > position]
                page = after[:limit]
            else:
                before = [e for e in events if e.sequence < position]
                page = before[-limit:]
        elif params.get("startFromHead"):
            page = events[:limit]
        else:
            page = events[-limit:]
        if page:
            forward, backward = page[-1].sequence, page[0].sequence
        elif token:
            forward = backward = position
        else:
            forward = backward = 0
        return {
            "events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                       for e in page],
            "nextForwardToken": f"f/{forward:056d}",
            "nextBackwardToken": f"b/{backward:056d}",
        }

    def FilterLogEvents(self, params: Params) -> Result:
        group = self._group(params)
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        try:
            matches = compile_pattern(params.get("filterPattern"))
        except PatternError as exc:
            raise invalid(str(exc)) from None
        if names:
            streams = [group.streams[n] for n in names if n in group.streams]
        else:
            streams = [s for s in group.streams.values() if not prefix or s.name.startswith(prefix)]
        events = sorted((e for e in self.store.events_of(group, streams) if _in_window(e, params)),
                        key=lambda e: (e.timestamp, e.sequence))
        token = params.get("nextToken")
        if token:
            after = _filter_token(token)
            events = [e for e in events if (e.timestamp, e.sequence) > after]
        limit = params.get("limit", MAX_EVENTS_PER_CALL)
        page: list[LogEvent] = []
        more = False
        for event in events:
            if not matches(event.message):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(event)
        result: Result = {
            "events": [{"logStreamName": e.stream, "timestamp": e.timestamp, "message": e.message,
                        "ingestionTime": e.ingestion_time, "eventId": e.event_id} for e in page],
            "searchedLogStreams": [],
        }
        if more:
            last = page[-1]
            result["nextToken"] = base64.b64encode(json.dumps([last.timestamp, last.sequence]).encode()).decode()
        return result

    # ---- Live Tail ----

    def StartLiveTail(self, params: Params) -> Result:
        try:
            matches = compile_pattern(params.get("logEventFilterPattern"))
        except PatternError as exc:
            raise invalid(str(exc)) from None
        # sessionStart names what the request asked for (the members it gave).
        members = ("logGroupIdentifiers", "logStreamNames", "logStreamNamePrefixes", "logEventFilterPattern")
        echo: dict[str, Any] = {key: params[key] for key in members if key in params}
        stream = self.live_tail.start(params["logGroupIdentifiers"], params.get("logStreamNames"),
                                      params.get("logStreamNamePrefixes"), matches, echo)
        return {"responseStream": stream}


def _in_window(event: LogEvent, params: Params) -> bool:
    """startTime and endTime are epoch milliseconds, both inclusive."""
    start, end = params.get("startTime"), params.get("endTime")
    return (start is None or event.timestamp >= start) and (end is None or event.timestamp <= end)


def _stream_token(token: str) -> tuple[str, int]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or not digits.isdigit():
        raise bad_token()
    return direction, int(digits)


def _filter_token(token: str) -> tuple[int, int]:
    try:
        timestamp, sequence = json.loads(base64.b64decode(token, validate=True))
        return int(timestamp), int(sequence)
    except (ValueError, TypeError, binascii.Error):
        raise bad_token() from None


def _page(names: list[str], params: Params, default_size: int) -> tuple[list[str], str | None]:
    """The page ``nextToken`` (opaque) points at, and the token of the next page (None: last)."""
    start = 0
    if params.get("nextToken"):
        try:
            start = int(base64.b64decode(params["nextToken"], validate=True).decode().removeprefix("page-"))
        except (ValueError, binascii.Error):
            raise bad_token() from None
    size = params.get("limit", default_size)
    following = base64.b64encode(f"page-{start + size}".encode()).decode() if start + size < len(names) else None
    return names[start:start + size], following


def _group_name(identifier: str) -> str:
    """A log group's name from its name or its ARN (with or without the trailing ``:*``)."""
    found = _GROUP_ARN.match(identifier)
    return found["name"] if found else identifier
