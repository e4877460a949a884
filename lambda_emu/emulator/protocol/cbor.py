"""Kinesis over CBOR (``application/x-amz-cbor-1.1``): refused, clearly, in a form the client can read.

AWS's Java SDKs (v1 from 1.11.71, v2, and so the KCL) send Kinesis requests as CBOR by default;
botocore never does. lambda-emu speaks Kinesis as JSON 1.1 only, so a CBOR request is answered
with an error naming the switch that turns CBOR off in the client:

- SDK for Java v1: environment ``AWS_CBOR_DISABLE=true`` or ``-Dcom.amazonaws.sdk.disableCbor=true``
- SDK for Java v2: environment ``CBOR_ENABLED=false`` or ``-Daws.cborEnabled=false``

Why refuse rather than serve: the CBOR dialect of those SDKs (timestamps as tagged epoch
milliseconds, blobs as byte strings) cannot be verified here against a real Java client, and a
half-right answer is worse than a clear "switch CBOR off".

The error body is itself CBOR (``{"__type": ..., "message": ...}``) because those SDKs parse an
error body with the protocol they sent; the code and message are also in the
``x-amzn-ErrorType`` / ``x-amzn-error-message`` headers, which both SDKs read first.

The server routes on Content-Type *before* X-Amz-Target (CBOR requests carry
``X-Amz-Target: Kinesis_20131202.<Operation>`` too) and imports this module only when a CBOR
request arrives, to keep it off the start-up path; it then calls ``handle_cbor_request``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"
REFUSAL_CODE = "UnsupportedMediaTypeException"
REFUSAL_STATUS = 415

REFUSAL_MESSAGE = (
    "lambda-emu does not accept CBOR request bodies (Content-Type: application/x-amz-cbor-1.1); "
    "it speaks Kinesis as JSON (application/x-amz-json-1.1). Turn CBOR off in your AWS SDK for Java client: "
    "SDK v1 (and KCL 1.x): set the environment variable AWS_CBOR_DISABLE=true or the system property "
    "-Dcom.amazonaws.sdk.disableCbor=true; "
    "SDK v2 (and KCL 2.x/3.x): set the environment variable CBOR_ENABLED=false or the system property "
    "-Daws.cborEnabled=false."
)


@dataclass(frozen=True)
class CborRefusal:
    """A ready-to-send refusal: HTTP status, headers, CBOR body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def to_response(self) -> web.Response:
        return web.Response(status=self.status, headers=self.headers, body=self.body)


def cbor_refusal(operation: str | None = None, request_id: str | None = None) -> CborRefusal:
    """The answer to any CBOR request. ``operation`` is the X-Amz-Target (e.g. ``Kinesis_20131202.PutRecord``)."""
    message = REFUSAL_MESSAGE if not operation else f"{REFUSAL_MESSAGE} (Request was {operation}.)"
    headers = {
        "Content-Type": CBOR_CONTENT_TYPE,
        "x-amzn-ErrorType": REFUSAL_CODE,
        # Header values must be one line of latin-1; the message is plain ASCII.
        "x-amzn-error-message": message,
    }
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return CborRefusal(REFUSAL_STATUS, headers, dumps({"__type": REFUSAL_CODE, "message": message}))


async def handle_cbor_request(request: web.Request) -> web.Response:
    """Server hook: refuse a CBOR request (see the module docstring)."""
    from lambda_emu.emulator.protocol import context

    target = request.headers.get("X-Amz-Target") or None
    return cbor_refusal(target, context.request_id.get() or None).to_response()


# ---- a small CBOR codec (RFC 8949): maps, arrays, text, bytes, ints, floats, bool, null, tags ----


def dumps(value: Any) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _head(major: int, argument: int, out: bytearray) -> None:
    if argument < 24:
        out.append(major << 5 | argument)
    elif argument < 2**8:
        out += bytes((major << 5 | 24, argument))
    elif argument < 2**16:
        out.append(major << 5 | 25)
        out += struct.pack(">H", argument)
    elif argument < 2**32:
        out.append(major << 5 | 26)
        out += struct.pack(">I", argument)
    else:
        out.append(major << 5 | 27)
        out += struct.pack(">Q", argument)


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True or value is False:
        out.append(0xF5 if value else 0xF4)
    elif isinstance(value, int) and value >= 0:
        _head(0, value, out)
    elif isinstance(value, int):
        _head(1, -1 - value, out)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, bytes | bytearray):
        _head(2, len(value), out)
        out += value
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _head(3, len(raw), out)
        out += raw
    elif isinstance(value, list | tuple):
        _head(4, len(value), out)
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        _head(5, len(value), out)
        for key, item in value.items():
            _encode(key, out)
            _encode(item, out)
    else:
        raise TypeError(f"cannot CBOR-encode {type(value).__name__}")


@dataclass(frozen=True)
class Tagged:
    tag: int
    value: Any


def loads(data: bytes) -> Any:
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after CBOR item")
    return value


def _argument(data: bytes, pos: int, info: int) -> tuple[int | None, int]:
    if info < 24:
        return info, pos
    sizes = {24: 1, 25: 2, 26: 4, 27: 8}
    if info in sizes:
        size = sizes[info]
        if pos + size > len(data):
            raise ValueError("truncated CBOR")
        return int.from_bytes(data[pos : pos + size], "big"), pos + size
    if info == 31:
        return None, pos  # indefinite length
    raise ValueError("malformed CBOR")


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise ValueError("truncated CBOR")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if major == 7:
        return _decode_simple(data, pos, info)
    arg, pos = _argument(data, pos, info)
    if major == 0:
        return arg, pos
    if major == 1:
        assert arg is not None
        return -1 - arg, pos
    if major in (2, 3):
        return _decode_string(data, pos, major, arg)
    if major == 4:
        return _decode_array(data, pos, arg)
    if major == 5:
        return _decode_map(data, pos, arg)
    assert arg is not None
    inner, pos = _decode(data, pos)
    return Tagged(arg, inner), pos


def _decode_simple(data: bytes, pos: int, info: int) -> tuple[Any, int]:
    simple = {20: False, 21: True, 22: None, 23: None}
    if info in simple:
        return simple[info], pos
    formats = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}
    if info in formats:
        fmt, size = formats[info]
        if pos + size > len(data):
            raise ValueError("truncated CBOR")
        return struct.unpack(fmt, data[pos : pos + size])[0], pos + size
    raise ValueError("unsupported CBOR simple value")


def _decode_string(data: bytes, pos: int, major: int, length: int | None) -> tuple[Any, int]:
    if length is None:
        chunks = []
        while data[pos] != 0xFF:
            chunk, pos = _decode(data, pos)
            chunks.append(chunk)
        pos += 1
        return ("" if major == 3 else b"").join(chunks), pos
    if pos + length > len(data):
        raise ValueError("truncated CBOR")
    raw = data[pos : pos + length]
    return (raw.decode("utf-8") if major == 3 else bytes(raw)), pos + length


def _decode_array(data: bytes, pos: int, length: int | None) -> tuple[list[Any], int]:
    items: list[Any] = []
    while (length is None and data[pos] != 0xFF) or (length is not None and len(items) < length):
        item, pos = _decode(data, pos)
        items.append(item)
    return items, pos + (1 if length is None else 0)


def _decode_map(data: bytes, pos: int, length: int | None) -> tuple[dict[Any, Any], int]:
    result: dict[Any, Any] = {}
    count = 0
    while (length is None and data[pos] != 0xFF) or (length is not None and count < length):
        key, pos = _decode(data, pos)
        result[key], pos = _decode(data, pos)
        count += 1
    return result, pos + (1 if length is None else 0)
