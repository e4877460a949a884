"""MD5 digests exactly as SQS computes them (and as SDKs that verify them recompute them).

Message attributes are hashed over a binary encoding: attributes sorted by name, each written as
length-prefixed name, length-prefixed data type, a one-byte transport type (1 = string, 2 = binary,
3 = string list, 4 = binary list) and the length-prefixed value(s); lengths are 4-byte big-endian.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

_STRING, _BINARY, _STRING_LIST, _BINARY_LIST = 1, 2, 3, 4


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def _prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def encode_attribute_value(value: Mapping[str, Any]) -> bytes:
    """The transport byte and value bytes of one attribute (input shape: DataType / StringValue / ...)."""
    if value.get("StringValue") is not None:
        return bytes([_STRING]) + _prefixed(_as_bytes(value["StringValue"]))
    if value.get("BinaryValue") is not None:
        return bytes([_BINARY]) + _prefixed(_as_bytes(value["BinaryValue"]))
    if value.get("StringListValues"):
        return bytes([_STRING_LIST]) + b"".join(_prefixed(_as_bytes(v)) for v in value["StringListValues"])
    if value.get("BinaryListValues"):
        return bytes([_BINARY_LIST]) + b"".join(_prefixed(_as_bytes(v)) for v in value["BinaryListValues"])
    return b""


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """MD5OfMessageAttributes (or MD5OfMessageSystemAttributes); None when there are none."""
    if not attributes:
        return None
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        digest.update(_prefixed(name.encode("utf-8")))
        digest.update(_prefixed(str(value.get("DataType", "")).encode("utf-8")))
        digest.update(encode_attribute_value(value))
    return digest.hexdigest()
