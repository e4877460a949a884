"""The terminal's story of what the platform did: one line per decision, START lines tagged.

It listens to the journal: every decision a source's driver records there, and the notes of what has
no attempt of its own (a duplicate injected, an event dropped before it ran, an injected fault:
``Journal.note``, with :func:`event_subject` and :func:`dropped_text` for the wording). It
only writes when ``lambda-emu up`` gave it a :class:`Terminal` (not ``--quiet``); tests and embedded
runs keep it silent. Lines look like::

    [OrderFn] async 3f2a… attempt 1/3 failed: ValueError: card declined → retry at +60s
    [OrderFn] sqs orders: batch of 10 failed (receive 3 of maxReceiveCount 3) → 10 to orders-dlq
    [StreamFn] kinesis shardId-000000000000: batch of 100 failed → bisect 50 + 50
"""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.platform.journal import Attempt, Journal, JournalEvent

#: START lines wait for their tag; keep the tags of this many recent attempts.
_TAGS_KEPT = 1024


class Terminal:
    """Where narration and function output go: rich colour on a terminal, plain lines otherwise."""

    def __init__(self, stream: IO[str] | None = None, *, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.color = self.stream.isatty() if color is None else color
        self._console: Any = None
        if self.color:
            from rich.console import Console  # only on a terminal: rich costs start-up time

            self._console = Console(file=self.stream, highlight=False, emoji=False, soft_wrap=True)

    def line(self, function_name: str, text: str, *, style: str | None = None) -> None:
        """One ``[FunctionName] text`` line; ``style`` (a rich style) colours it on a terminal."""
        # A closed terminal or pipe must not break the invocation that printed.
        with contextlib.suppress(OSError, ValueError):
            if self._console is not None:
                from rich.markup import escape

                body = escape(text)
                self._console.print(f"[bold]{escape(f'[{function_name}]')}[/bold] "
                                    + (f"[{style}]{body}[/{style}]" if style else body))
            else:
                self.stream.write(f"[{function_name}] {text}\n")
                self.stream.flush()

    def print(self, renderable: Any) -> None:
        """A block (the start summary): a rich renderable on a terminal, else its plain text."""
        with contextlib.suppress(OSError, ValueError):
            if self._console is not None:
                self._console.print(renderable)
            else:
                self.stream.write(str(renderable) + "\n")
                self.stream.flush()


class Narration:
    def __init__(self, journal: Journal, clock: Clock) -> None:
        self.clock = clock
        self.terminal: Terminal | None = None
        self._tags: OrderedDict[str, str] = OrderedDict()
        self._partial: dict[str, bytes] = {}
        journal.add_listener(self._heard)
        journal.add_note_listener(self.note)

    def note(self, function_name: str, subject: str, text: str) -> None:
        """A platform event that has no decision of its own (an injected fault, a dropped event)."""
        if self.terminal is not None:
            style = "red" if text.startswith("event dropped") else "yellow"
            self.terminal.line(function_name, f"{subject} {text}", style=style)

    # ---- function output, START lines tagged ------------------------------------------------------

    def function_output(self, function_name: str, chunk: bytes) -> None:
        """Log listener: whole lines, prefixed by the function's name; START lines tagged."""
        data = self._partial.pop(function_name, b"") + chunk
        *lines, rest = data.split(b"\n")
        if rest:
            self._partial[function_name] = rest
        self._write(function_name, lines)

    def flush(self) -> None:
        for function_name in list(self._partial):
            self._write(function_name, [self._partial.pop(function_name)])

    def _write(self, function_name: str, lines: list[bytes]) -> None:
        if self.terminal is None:
            return
        # A runtime without the telemetry log pipe (a custom bootstrap) may join a multi-line record
        # with \r; a terminal would overwrite it in place, so each part gets its own prefixed line.
        for line in lines:
            for part in line.decode(errors="replace").rstrip("\r").split("\r"):
                style = None
                if part.startswith("START RequestId: "):
                    request_id = part.split()[2] if len(part.split()) > 2 else ""
                    tag = self._tags.get(request_id)
                    part = f"{part} ({tag})" if tag else part
                    style = "cyan"
                elif part.startswith(("END RequestId: ", "REPORT RequestId: ", "INIT_START ")):
                    style = "dim"
                self.terminal.line(function_name, part, style=style)

    # ---- the journal's decisions --------------------------------------------------------------------

    def _heard(self, what: JournalEvent, attempt: Attempt) -> None:
        if self.terminal is None:
            return  # silent (tests, --quiet): nothing to keep either
        if what == "begin":
            self._tags[attempt.request_id] = start_tag(attempt)
            self._tags.move_to_end(attempt.request_id)
            while len(self._tags) > _TAGS_KEPT:
                self._tags.popitem(last=False)
        elif what == "decision" and attempt.decision is not None:
            line = decision_line(attempt, self.clock.now())
            failed = attempt.outcome != "success"
            self.terminal.line(attempt.function_name, line, style="red" if failed else "green")


def start_tag(attempt: Attempt) -> str:
    parts = [attempt.source, f"attempt {_attempt_of(attempt)}"]
    if attempt.duplicate:
        parts.append("duplicate")
    if attempt.fault and attempt.fault != "duplicateRate":  # an injected duplicate already says "duplicate"
        parts.append(f"fault {attempt.fault}")
    return ", ".join(parts)


def _attempt_of(attempt: Attempt) -> str:
    most = attempt.context.get("maxAttempts")
    return f"{attempt.attempt}/{most}" if most else str(attempt.attempt)


def event_subject(source: str, request_id: str) -> str:
    """How a line names an event: its source and the start of its request ID (``async 3f2a…``)."""
    return f"{source} {request_id[:4]}…"


DUPLICATE = "duplicate delivery injected"


def dropped_text(condition: str, decision: dict[str, Any] | None, now: float) -> str:
    """An event that ends without an attempt (too old, reserved concurrency 0), and where it went."""
    where = f" → {_where(decision, now)}" if decision and decision.get("action") != "discard" else ""
    return f"event dropped: {condition}{where}"


def _batch_subject(attempt: Attempt) -> str:
    detail = attempt.source_detail
    if attempt.source == "sqs":
        return f"sqs {str(detail.get('eventSourceArn', '')).rsplit(':', 1)[-1]}:"
    return f"{attempt.source} {detail.get('shardId', '')}:"


def _in(at: str | None, now: float) -> str:
    if not at:
        return ""
    seconds = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() - now
    return f"+{seconds:.0f}s" if abs(seconds - round(seconds)) < 0.05 else f"+{seconds:.1f}s"


def _where(decision: dict[str, Any] | None, now: float) -> str:
    """The arrow's right-hand side for a decision."""
    if decision is None:
        return ""
    action = decision.get("action")
    if action == "retry":
        return f"retry at {_in(decision.get('at'), now)}"
    if action == "destination":
        side = "OnSuccess" if decision.get("condition") == "Success" else "OnFailure"
        text = f"{side} {decision.get('target')} ({decision.get('condition')})"
        if decision.get("deadLetter"):
            text += f" + dead-letter queue {decision['deadLetter']}"
        return text
    if action == "deadLetter":
        return f"dead-letter queue {decision.get('target')}"
    if action == "redrive":
        return f"to {str(decision.get('target', '')).rsplit(':', 1)[-1]}"
    if action == "bisect":
        return "bisect " + " + ".join(str(n) for n in decision.get("into", []))
    if action == "checkpoint":
        return f"checkpoint {decision.get('sequenceNumber')}"
    if action == "discard":
        return f"event dropped: {decision.get('reason')}"
    if action == "delete":
        return "deleted"
    return str(action)


def _failure(attempt: Attempt) -> str:
    if attempt.outcome == "throttled":
        return "throttled"
    error = attempt.error or {}
    message = str(error.get("errorMessage") or "").strip().splitlines()
    text = f"failed: {error.get('errorType')}"
    return text + (f": {message[0][:200]}" if message else "")


def decision_line(attempt: Attempt, now: float) -> str:
    """The narration line of an attempt whose decision was just recorded."""
    decision = attempt.decision or {}
    where = _where(decision, now)
    if attempt.source in ("async", "sync"):
        result = "succeeded" if attempt.outcome == "success" else _failure(attempt)
        return f"{event_subject(attempt.source, attempt.request_id)} attempt {_attempt_of(attempt)} {result} → {where}"
    detail = attempt.source_detail
    size = len(detail.get("messageIds") or []) if attempt.source == "sqs" else int(detail.get("records") or 0)
    if attempt.outcome == "success":
        result = "succeeded"
    elif attempt.outcome == "partialFailure":
        result = f"{len(attempt.failed_item_ids or [])} failed"
    else:
        result = "throttled" if attempt.outcome == "throttled" else "failed"
    text = f"{_batch_subject(attempt)} batch of {size}"
    if detail.get("filteredOut"):
        text += f" ({detail['filteredOut']} filtered out)"
    text += f" {result}"
    if attempt.source == "sqs" and attempt.outcome != "success":
        receives = detail.get("receiveCounts") or [0]
        most = attempt.context.get("maxReceiveCount")
        text += f" (receive {max(receives)}" + (f" of maxReceiveCount {most})" if most else ")")
        if decision.get("action") == "redrive":
            count = attempt.context.get("redriven") or size
            where = f"{count} {where}"
    return f"{text} → {where}"
