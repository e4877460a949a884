"""AWS's CBOR dialect (``application/x-amz-cbor-1.1``), which the AWS SDKs for Java (v1 from 1.11.71, v2,
and so the KCL) and Kotlin speak to Kinesis by default; botocore never does.

The document is the JSON protocol's, encoded as CBOR (RFC 8949), except that blobs are byte strings and
timestamps are epoch *milliseconds* under tag 1 (``c1 1b <8 bytes>``), which RFC 8949 defines as
seconds: AWS and its SDKs use milliseconds (aws-sdk-java-v2 ``SdkCborGenerator``, issue #4661;
``AwsCborProtocolFactory``: ``UNIX_TIMESTAMP_MILLIS`` in payloads). That is why this small codec keeps
tags as they are (``Tagged``) rather than using cbor2, whose decoder reads tag 1 as RFC seconds (years
beyond 9999, an error) and whose encoder writes datetimes as seconds.

Errors are CBOR too (``{"__type": ..., "message": ...}``), with the code also in ``x-amzn-ErrorType``.
json_rpc.py serves the operations; the server imports this module only when a CBOR request arrives.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from lambda_emu.emulator.protocol.shapes import Tagged, request_document, serialization_error, to_wire_value

if TYPE_CHECKING:
    from botocore.model import Shape

__all__ = ["CBOR_CONTENT_TYPE", "Tagged", "dumps", "loads", "read_document", "to_cbor_value"]

CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"
#: RFC 8949's epoch-based date/time tag (AWS puts milliseconds under it).
EPOCH_TAG = 1


def read_document(body: bytes) -> dict[str, Any]:
    """The request's CBOR map; anything unreadable is a SerializationException without a message."""
    try:
        document = loads(body)
    except (ValueError, IndexError, TypeError, RecursionError, UnicodeDecodeError, struct.error) as exc:
        raise serialization_error("") from exc
    return request_document(document)


def to_cbor_value(shape: Shape, value: Any) -> Any:
    """A service's Python value to what goes in a CBOR body (blobs as bytes, timestamps as tagged ms)."""
    return to_wire_value(shape, value, _cbor_scalar)


def _cbor_scalar(kind: str, value: Any) -> Any:
    if kind == "blob":
        return value.encode() if isinstance(value, str) else bytes(value)
    if kind == "timestamp":
        seconds = value.timestamp() if isinstance(value, datetime) else float(value)
        # An integer: the SDKs read it with Long.parseLong.
        return Tagged(EPOCH_TAG, round(seconds * 1000))
    if kind in ("float", "double"):
        return float(value)
    return value


# ---- the codec (RFC 8949): maps, arrays, text, bytes, ints, floats, bool, null, tags ------------------


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
    elif isinstance(value, Tagged):
        _head(6, value.tag, out)
        _encode(value.value, out)
    else:
        raise TypeError(f"cannot CBOR-encode {type(value).__name__}")


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
    if major in (0, 1, 6) and arg is None:
        raise ValueError("malformed CBOR")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - cast("int", arg), pos
    if major in (2, 3):
        return _decode_string(data, pos, major, arg)
    if major == 4:
        return _decode_array(data, pos, arg)
    if major == 5:
        return _decode_map(data, pos, arg)
    inner, pos = _decode(data, pos)
    return Tagged(cast("int", arg), inner), pos


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
        chunks: list[Any] = []
        while data[pos] != 0xFF:
            chunk, pos = _decode(data, pos)
            if not isinstance(chunk, str if major == 3 else bytes):
                raise ValueError("malformed CBOR string chunk")
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
        if not isinstance(key, str):
            raise ValueError("a CBOR map key that is not text")  # AWS's documents have text keys only
        result[key], pos = _decode(data, pos)
        count += 1
    return result, pos + (1 if length is None else 0)
