"""AWS's event stream encoding (``application/vnd.amazon.eventstream``), for operations whose output has
an event stream member (Kinesis SubscribeToShard, CloudWatch Logs StartLiveTail).

A message is: total length and headers length (4 bytes each, big-endian), the CRC-32 of those 8
bytes, the headers (name length: 1 byte, name, value type 7 = string, value length: 2 bytes, value),
the payload, and the CRC-32 of everything before it. Over the JSON protocols the first message is an
``initial-response`` event carrying the output's other members (botocore refuses a stream without it);
then one ``event`` message per event, and an ``exception`` message if the stream ends in an error.
Payloads are JSON, or CBOR when the request was CBOR (the AWS SDKs for Java read a CBOR call's events
with the CBOR unmarshaller of its answers).
A client that goes away ends the stream within a second of wall time, even while no event is due
(a manual clock may not move for hours): the service's generator is closed, so nothing outlives it.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import AsyncIterablePayload

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol.shapes import to_json_value

if TYPE_CHECKING:
    from botocore.model import Shape, StructureShape

#: What a service returns as the event stream member: (event type, that event's members) pairs.
Events = AsyncIterator[tuple[str, dict[str, Any]]]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
#: How often (wall seconds) a stream waiting for its next event looks whether the client is still there.
_CLIENT_CHECK_SECONDS = 1.0


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        encoded += struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_stream_response(output_shape: StructureShape, result: dict[str, Any], member: str,
                          headers: dict[str, str], *, binary: bool = False) -> web.Response:
    """The HTTP answer of an operation with an event stream output: the messages are written as the
    service's events come (chunked), and the service's generator is closed if the client goes away.
    ``binary``: the request was CBOR, and so are the messages' payloads."""
    stream_shape = output_shape.members[member]
    events: Events = result[member]
    initial = {key: value for key, value in result.items() if key != member}
    if binary:
        from lambda_emu.emulator.protocol import cbor

        content_type = cbor.CBOR_CONTENT_TYPE

        def encode(shape: Shape | None, value: dict[str, Any]) -> bytes:
            return cbor.dumps(cbor.to_cbor_value(shape, value) if shape is not None else value)
    else:
        content_type = "application/json"

        def encode(shape: Shape | None, value: dict[str, Any]) -> bytes:
            return json.dumps(to_json_value(shape, value) if shape is not None else value).encode()

    def event(event_type: str, payload: bytes) -> bytes:
        return encode_message({":message-type": "event", ":event-type": event_type, ":content-type": content_type},
                              payload)

    async def messages() -> AsyncIterator[bytes]:
        yield event("initial-response", encode(output_shape if initial else None, initial))
        try:
            async for event_type, payload in events:
                shape = stream_shape.members[event_type]  # type: ignore[attr-defined]
                yield event(event_type, encode(shape, payload))
        except AwsError as exc:
            yield encode_message(
                {":message-type": "exception", ":exception-type": exc.code, ":content-type": content_type},
                encode(None, {"message": exc.message}),
            )
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    return web.Response(body=_EventStreamPayload(messages()), headers={"Content-Type": CONTENT_TYPE, **headers})


class _EventStreamPayload(AsyncIterablePayload):
    """aiohttp's streaming payload notices a closed connection only when it next writes; this one also
    looks every second of wall time while it waits for the next message, and then stops waiting (the
    wait is cancelled, which closes the messages' generator and the service's)."""

    async def write(self, writer: AbstractStreamWriter) -> None:
        # aiohttp before 3.12 calls write() alone (later ones route it through write_with_length).
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        messages = self._iter
        if messages is None:
            return
        self._iter = None
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        gone = False
        check: asyncio.TimerHandle | None = None

        def look() -> None:
            nonlocal gone, check
            transport = getattr(writer, "transport", None)  # None once the connection is lost
            if transport is None or transport.is_closing():
                gone = True
                if task is not None:
                    task.cancel()
            else:
                check = loop.call_later(_CLIENT_CHECK_SECONDS, look)

        check = loop.call_later(_CLIENT_CHECK_SECONDS, look)
        try:
            async for message in messages:
                await writer.write(message)
        except asyncio.CancelledError:
            if not gone:
                raise
            if task is not None:
                task.uncancel()  # our own cancellation, done with: the writer reports the lost connection
        finally:
            if check is not None:
                check.cancel()
            await messages.aclose()  # type: ignore[attr-defined]
