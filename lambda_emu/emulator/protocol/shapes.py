"""Values on the wire ⇄ Python values, driven by botocore's shapes (validation.py checks them).

Behaviour lives in the service models: this module walks a shape and never knows an operation.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast

from lambda_emu.emulator.platform.errors import AwsError

if TYPE_CHECKING:
    from collections.abc import Callable

    # botocore is imported on first use only: an idle server never pays for it.
    import botocore.session
    from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape


@functools.cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of an AWS service (loaded once, on first use, to keep start-up fast)."""
    return _session().get_service_model(name)


@functools.cache
def _session() -> botocore.session.Session:
    import botocore.session

    return botocore.session.get_session()


def serialization_error(message: str) -> AwsError:
    return AwsError("SerializationException", message, 400)


def request_document(document: Any) -> dict[str, Any]:
    """A decoded request body (JSON or CBOR) that must be a map, refused in Coral's words otherwise."""
    if isinstance(document, list):
        raise serialization_error("Start of list found where not expected")
    if not isinstance(document, dict):
        raise serialization_error("")
    return document


# ---- wire → Python ------------------------------------------------------------------------------


#: How Coral names the Java class of a JSON scalar it can't convert ("class java.lang.Boolean can not
#: be converted to an String"); every JSON number is a TruncatingBigNumber to it.
_JAVA_CLASSES = {bool: "class java.lang.Boolean", str: "class java.lang.String",
                 int: "class com.amazon.coral.value.json.numbers.TruncatingBigNumber",
                 float: "class com.amazon.coral.value.json.numbers.TruncatingBigNumber",
                 bytes: "class java.nio.HeapByteBuffer"}
#: The Java type each scalar shape becomes, with Coral's article ("an Boolean" sic).
_JAVA_TARGETS = {"string": "an String", "boolean": "an Boolean", "integer": "an Integer", "long": "an Long",
                 "double": "an Double", "float": "an Float", "blob": "a Blob",
                 "timestamp": "milliseconds since epoch"}
#: Strings Coral reads as a boolean (kinesalite's AWS-checked suite).
_BOOLEAN_STRINGS = {"TRUE": True, "YES": True, "1": True, "FALSE": False, "NO": False, "0": False}
_INT_MAX = 2**31 - 1


def parse_json_value(shape: Shape, value: Any, path: str = "", *, binary: bool = False) -> Any:
    """A JSON value (already decoded) to the Python value services see, refusing a value of the wrong
    type with Coral's SerializationException wording ("Start of list found where not expected",
    "class java.lang.Boolean can not be converted to an String", ...).

    ``binary``: the document came as CBOR, where blobs are byte strings and timestamps epoch
    milliseconds (tagged 1), as the AWS SDKs for Java write them.
    """
    if value is None:
        return None
    kind = shape.type_name
    if isinstance(value, list) and kind != "list":
        raise serialization_error("Start of list found where not expected")
    if isinstance(value, dict) and kind not in ("structure", "map"):
        raise serialization_error("Start of structure or map found where not expected.")
    if kind == "structure":
        if not isinstance(value, dict):
            raise serialization_error("Expected null")
        out: dict[str, Any] = {}
        members = cast("StructureShape", shape).members
        for key, item in value.items():
            member = members.get(key)
            if member is None or item is None:
                continue  # AWS ignores unknown members in JSON bodies, and reads a null member as absent
            out[key] = parse_json_value(member, item, f"{path}.{key}" if path else key, binary=binary)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise serialization_error("Start of structure or map found where not expected." if isinstance(value, dict)
                                      else "Expected list or null")
        item_shape = cast("ListShape", shape).member
        return [parse_json_value(item_shape, item, path, binary=binary) for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise serialization_error("Expected map or null")
        value_shape = cast("MapShape", shape).value
        return {k: parse_json_value(value_shape, v, path, binary=binary) for k, v in value.items()}
    return _parse_scalar(kind, value, path, binary)


def _not_convertible(value: Any, kind: str) -> AwsError:
    java = _JAVA_CLASSES.get(type(value), f"class {type(value).__name__}")
    return serialization_error(f"{java} can not be converted to {_JAVA_TARGETS.get(kind, kind)}")


def _parse_scalar(kind: str, value: Any, path: str, binary: bool) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise _not_convertible(value, kind)
        return value
    if kind == "boolean":
        if isinstance(value, str):
            found = _BOOLEAN_STRINGS.get(value.upper())
            if found is None:
                raise serialization_error(f"'{value.upper()}' can not be converted to an Boolean")
            return found
        if not isinstance(value, bool):
            raise _not_convertible(value, kind)
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _not_convertible(value, kind)
        try:
            number = math.floor(value)  # Coral truncates a fractional number
        except (OverflowError, ValueError) as exc:  # NaN, infinity
            raise _not_convertible(value, kind) from exc
        return min(number, _INT_MAX) if kind == "integer" else number
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _not_convertible(value, kind)
        return float(value)
    if kind == "blob":
        if binary and isinstance(value, bytes | bytearray):
            return bytes(value)
        if not isinstance(value, str):
            raise _not_convertible(value, kind)
        return _base64_blob(value)
    if kind == "timestamp":
        if binary:
            if isinstance(value, Tagged):
                value = value.value
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = value / 1000  # the Java SDKs send epoch milliseconds in CBOR
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _not_convertible(value, kind)
        return parse_timestamp(value, path)
    return value


def _base64_blob(text: str) -> bytes:
    """A JSON blob: standard, padded base64, refused in Coral's words when it is not."""
    if len(text) % 4:
        raise serialization_error(f"'{text}' can not be converted to a Blob: Base64 encoded length is expected a "
                                  f"multiple of 4 bytes but found: {len(text)}")
    bad = _BASE64_BAD.search(text)
    if bad:
        raise serialization_error(f"'{text}' can not be converted to a Blob: Invalid Base64 character: "
                                  f"'{bad.group(0)[0]}'")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise serialization_error(f"'{text}' can not be converted to a Blob: Invalid Base64 character: '='") from exc
    if base64.b64encode(data).decode("ascii") != text:
        # Coral's own spelling.
        raise serialization_error(f"'{text}' can not be converted to a Blob: Invalid last non-pad Base64 character "
                                  "dectected")
    return data


#: A character base64 never has, or padding before the end.
_BASE64_BAD = re.compile(r"[^a-zA-Z0-9+/=]|=[^=]")


@dataclass(frozen=True)
class Tagged:
    """A CBOR tagged item (RFC 8949 §3.4); kept as sent, since AWS's tag 1 carries milliseconds."""

    tag: int
    value: Any


def parse_timestamp(value: Any, path: str = "") -> datetime:
    if isinstance(value, bool):
        raise serialization_error(f"Expected a timestamp at '{path}'")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:  # NaN, infinity, past year 9999
            raise serialization_error(f"Invalid timestamp at '{path}'") from exc
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except ValueError:
            pass
        except (OverflowError, OSError) as exc:
            raise serialization_error(f"Invalid timestamp at '{path}'") from exc
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError) as exc:
            raise serialization_error(f"Invalid timestamp at '{path}'") from exc
    raise serialization_error(f"Expected a timestamp at '{path}'")


def parse_header_value(shape: Shape, raw: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError as exc:
            raise serialization_error(f"Invalid integer header {shape.name}") from exc
    if kind == "boolean":
        return raw.lower() == "true"
    if kind == "timestamp":
        return parse_timestamp(raw)
    if kind == "blob":
        try:
            return base64.b64decode(raw)
        except (binascii.Error, ValueError) as exc:
            raise serialization_error(f"Invalid base64 header {shape.name}") from exc
    return raw


# ---- Python → wire ------------------------------------------------------------------------------


def to_wire_value(shape: Shape, value: Any, scalar: Callable[[str, Any], Any]) -> Any:
    """A service's Python value to a wire document: structures, lists and maps walked by the model,
    each leaf handed to ``scalar(type_name, value)``, the one place JSON and CBOR differ."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for key, member in cast("StructureShape", shape).members.items():
            if key in value and value[key] is not None and not member.serialization.get("location"):
                out[key] = to_wire_value(member, value[key], scalar)
        return out
    if kind == "list":
        item_shape = cast("ListShape", shape).member
        return [to_wire_value(item_shape, item, scalar) for item in value]
    if kind == "map":
        value_shape = cast("MapShape", shape).value
        return {k: to_wire_value(value_shape, v, scalar) for k, v in value.items()}
    return scalar(kind, value)


def to_json_value(shape: Shape, value: Any) -> Any:
    """A service's Python value to what goes in a JSON body."""
    return to_wire_value(shape, value, _json_scalar)


def _json_scalar(kind: str, value: Any) -> Any:
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    if kind == "timestamp":
        return epoch_seconds(value)
    return value


def epoch_seconds(value: Any) -> float | int:
    if isinstance(value, datetime):
        value = value.timestamp()
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


def header_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)
        return format_datetime(when, usegmt=True)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return str(value)

