"""`lambda-emu up --record FILE`: every event entering lambda-emu, appended as JSON lines.

One line per event as it first reaches a function: sync and async Invoke payloads (an async event
once, not once per retry) and the batches of messages and records mappings deliver (a redelivered
batch is a new line; replay sends each message or record once). A line is::

    {"time": ISO8601 (platform clock), "source": "sync"|"async"|"sqs"|"kinesis", "functionName": F,
     "requestId": R, "sourceDetail": {...}, "event": the payload (JSON, else text)}

the capture format `lambda-emu replay` reads (the journal's JSON lines read the same way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, TYPE_CHECKING

from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.documents import json_or_text

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.journal import Attempt


class Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def record(self, attempt: Attempt, payload: bytes) -> None:
        if attempt.attempt != 1 or attempt.duplicate:
            return
        if self._file is None:
            # Opened on the first event (append: one file can collect several runs).
            self._file = self.path.open("a", encoding="utf-8", buffering=1)
        line = {
            "time": iso8601(attempt.start_time),
            "source": attempt.source,
            "functionName": attempt.function_name,
            "requestId": attempt.request_id,
            "sourceDetail": attempt.source_detail,
            "event": json_or_text(payload),
        }
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
