"""Lambda's telemetry log pipe (``_LAMBDA_TELEMETRY_LOG_FD``), decoded back into log text.

On Lambda a runtime gets a file descriptor for framed log records beside its stdout; awslambdaric
then writes each ``logging`` record and each error report as one frame, and joins a multi-line error
(a traceback) with "\\n". Without the pipe it falls back to stdout and joins those lines with "\\r",
which is not what AWS shows. lambda-emu hands the runtime the *same* pipe as its stdout/stderr under
that descriptor number, so print() and logging output reach us in the order they were written, and
this decoder splits the interleaved stream back into raw output and records: raw bytes pass through
(CloudWatch makes an event of each line), each frame is its message (one event, as AWS keeps a logging
record or an error report whole); as plain text (the terminal, ``LogType=Tail``) a frame ends in a newline.

A frame is: type (4 bytes, 0xA55A00xx), message length (4), timestamp in microseconds (8), message;
all big-endian.
"""

from __future__ import annotations

import time

MAGIC = b"\xa5\x5a\x00"
HEADER_BYTES = 16
#: A header is believed only when its timestamp is this close to now (microseconds): stray bytes that
#: happen to look like a frame type are passed through as text instead of swallowing the output.
TIMESTAMP_SLACK_US = 86_400 * 1_000_000
#: Longest frame believed (awslambdaric frames one log record; CloudWatch keeps 256 KB of it).
MAX_FRAME_BYTES = 64 * 1024 * 1024


class FrameDecoder:
    """Feed it the runtime's output as it arrives; it returns the log text that is complete so far."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        """The complete log text so far: raw bytes as they are, each frame's message ending in a newline."""
        return b"".join(piece if not record or piece.endswith(b"\n") else piece + b"\n"
                        for piece, record in self.pieces(data))

    def pieces(self, data: bytes) -> list[tuple[bytes, bool]]:
        """What is complete so far, in order: (raw bytes, False) and (one frame's message, True). A frame is
        one log record, one CloudWatch Logs event on AWS, newline or not."""
        buffer = self._buffer + data if self._buffer else data
        out: list[tuple[bytes, bool]] = []

        def text(raw: bytes) -> None:
            if raw:
                out.append((raw, False))

        position = 0
        while True:
            found = buffer.find(MAGIC, position)
            if found < 0:
                # Keep a trailing partial magic: the rest of the header may be in the next read.
                keep = _partial_magic(buffer)
                text(buffer[position:len(buffer) - keep])
                self._buffer = buffer[len(buffer) - keep:]
                break
            text(buffer[position:found])
            if len(buffer) - found < HEADER_BYTES:
                self._buffer = buffer[found:]
                break
            length = int.from_bytes(buffer[found + 4:found + 8], "big")
            stamp = int.from_bytes(buffer[found + 8:found + 16], "big")
            if length > MAX_FRAME_BYTES or abs(stamp - time.time_ns() // 1000) > TIMESTAMP_SLACK_US:
                text(buffer[found:found + 1])  # not a frame: text that looks like one
                position = found + 1
                continue
            end = found + HEADER_BYTES + length
            if len(buffer) < end:
                self._buffer = buffer[found:]
                break
            out.append((buffer[found + HEADER_BYTES:end], True))
            position = end
        # Adjacent raw pieces are one piece (a split around a false magic is not a boundary).
        merged: list[tuple[bytes, bool]] = []
        for piece, record in out:
            if merged and not record and not merged[-1][1]:
                merged[-1] = (merged[-1][0] + piece, False)
            else:
                merged.append((piece, record))
        return merged

    def flush(self) -> bytes:
        """What is left when the runtime is gone (a frame it never finished is shown as it is)."""
        rest, self._buffer = self._buffer, b""
        return rest


def _partial_magic(buffer: bytes) -> int:
    for size in range(min(len(MAGIC) - 1, len(buffer)), 0, -1):
        if buffer.endswith(MAGIC[:size]):
            return size
    return 0
