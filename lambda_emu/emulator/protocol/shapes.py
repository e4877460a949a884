"""Values on the wire ⇄ Python values, driven by botocore's shapes; and AWS-style input validation.

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
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast

from lambda_emu.emulator.platform.errors import AwsError

if TYPE_CHECKING:
    from collections.abc import Callable

    # botocore is imported on first use only: an idle server never pays for it.
    import botocore.session
    from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape


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


# ---- validation ---------------------------------------------------------------------------------

#: Coral reports at most this many problems in one ValidationException.
MAX_PROBLEMS = 10


def validate(shape: Shape | None, params: dict[str, Any], *, enums: bool = True,
             model: ServiceModel | None = None, nullable_elements: frozenset[str] = frozenset()) -> list[str]:
    """Problems with ``params`` in AWS's (Coral) wording; an empty list when they fit the model.

    ``enums=False`` skips enum checks for services whose model enums are narrower than what the
    service really accepts (SQS takes message attribute names in a list typed as queue attributes).
    ``model`` names the service's Java package, which Coral shows for a structure inside a list.
    ``nullable_elements``: element shapes whose constraint list (``Member must satisfy constraint: [...]``)
    AWS records without "Member must not be null" (``*``: all of the service's).
    """
    problems: list[str] = []
    if shape is not None:
        _Checker(problems, enums, _java_package(model), nullable_elements).check(shape, params, "")
    return problems[:MAX_PROBLEMS]


def _java_package(model: ServiceModel | None) -> str:
    """Coral's package of a service's generated classes: ``com.amazonaws.kinesis.v20131202``."""
    if model is None:
        return "com.amazonaws"
    prefix = model.metadata.get("endpointPrefix") or model.service_name
    return f"com.amazonaws.{prefix}.v{model.api_version.replace('-', '')}"


def _member_path(prefix: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{prefix}.{name}" if prefix else name


class _Checker:
    """One request's walk over its input shape, collecting problems as Coral words them:

    - a structure's members by path (``records.1.member.partitionKey``: list elements that are
      structures are numbered from 1, each ``.member``);
    - a list of scalars is one problem at the list's path, ``Member must satisfy constraint: [...]``
      naming every constraint of the element shape, when any element breaks one;
    - a map likewise, with ``Map keys must satisfy constraint: [...]`` and ``Map value must ...``.
    """

    def __init__(self, problems: list[str], enums: bool, package: str, nullable: frozenset[str]) -> None:
        self.problems = problems
        self.enums = enums
        self.package = package
        self.nullable = nullable

    def add(self, shape: Shape, value: Any, path: str, constraint: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{_value_label(shape, value, self.package)} at '{path}' failed to satisfy "
                                 f"constraint: {constraint}")

    def check(self, shape: Shape, value: Any, path: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            return
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                return
            structure = cast("StructureShape", shape)
            for key, member in structure.members.items():
                item = value.get(key)
                if item is None:
                    if key in structure.required_members:
                        self.add(member, None, _member_path(path, key), "Member must not be null")
                else:
                    self.check(member, item, _member_path(path, key))
            return
        if kind == "list":
            self._check_list(cast("ListShape", shape), value, path)
            return
        if kind == "map":
            self._check_map(cast("MapShape", shape), value, path)
            return
        for constraint in self.broken(shape, value):
            self.add(shape, value, path, constraint)

    def broken(self, shape: Shape, value: Any) -> list[str]:
        """The constraints a scalar (or a list's or map's own size) breaks, in Coral's words."""
        meta = shape.metadata
        kind = shape.type_name
        found: list[str] = []
        if kind in ("integer", "long", "float", "double"):
            found += _range_problems("value", value, meta, kind)
        elif kind in ("string", "blob", "list", "map"):
            found += _range_problems("length", len(value), meta, kind)
        if kind == "string":
            enum = meta.get("enum")
            if self.enums and enum and value not in enum:
                found.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
            pattern = meta.get("pattern")
            if pattern and not _pattern(pattern).fullmatch(value):
                found.append(f"Member must satisfy regular expression pattern: {shown_pattern(pattern)}")
        return found

    def _element_fails(self, shape: Shape, value: Any) -> bool:
        if value is None:
            return True
        if shape.type_name in ("list", "map"):
            inner: list[str] = []
            _Checker(inner, self.enums, self.package, self.nullable).check(shape, value, "")
            return bool(inner)
        return bool(self.broken(shape, value))

    def _check_list(self, shape: ListShape, value: list[Any], path: str) -> None:
        for constraint in self.broken(shape, value):
            self.add(shape, value, path, constraint)
        item_shape = shape.member
        if item_shape.type_name == "structure":
            if any(item is None for item in value):
                self.add(shape, value, path, f"Member must satisfy constraint: [{self.constraints(item_shape)}]")
            for index, item in enumerate(value, 1):
                if item is not None:
                    self.check(item_shape, item, f"{path}.{index}.member")
        elif any(self._element_fails(item_shape, item) for item in value):
            self.add(shape, value, path, f"Member must satisfy constraint: [{self.constraints(item_shape)}]")

    def _check_map(self, shape: MapShape, value: dict[str, Any], path: str) -> None:
        for constraint in self.broken(shape, value):
            self.add(shape, value, path, constraint)
        if any(self.broken(shape.key, key) for key in value):
            self.add(shape, value, path,
                     f"Map keys must satisfy constraint: [{self.constraints(shape.key, nullable=True)}]")
        value_shape = shape.value
        if value_shape.type_name == "structure":
            if any(item is None for item in value.values()):
                self.add(shape, value, path, f"Map value must satisfy constraint: [{self.constraints(value_shape)}]")
            for key, item in value.items():
                if item is not None:
                    self.check(value_shape, item, f"{path}.{key}.member")
        elif any(self._element_fails(value_shape, item) for item in value.values()):
            self.add(shape, value, path, f"Map value must satisfy constraint: [{self.constraints(value_shape)}]")

    def constraints(self, shape: Shape, *, nullable: bool = False) -> str:
        """An element shape's constraints, as Coral lists them when an element of a list or map breaks one
        (a map's keys are never null, so their list ends without "Member must not be null")."""
        meta = shape.metadata
        kind = shape.type_name
        measure = "value" if kind in ("integer", "long", "float", "double") else "length"
        found = []
        if meta.get("max") is not None:
            found.append(f"Member must have {measure} less than or equal to {_bound(meta['max'], kind)}")
        if meta.get("min") is not None:
            found.append(f"Member must have {measure} greater than or equal to {_bound(meta['min'], kind)}")
        if meta.get("pattern"):
            found.append(f"Member must satisfy regular expression pattern: {shown_pattern(meta['pattern'])}")
        if self.enums and meta.get("enum"):
            found.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
        if not (nullable or "*" in self.nullable or shape.name in self.nullable):
            found.append("Member must not be null")
        return ", ".join(found)


def _range_problems(measure: str, measured: float, meta: dict[str, Any], kind: str) -> list[str]:
    """The model's min/max on a value or a length, in Coral's words ("Member must have length ...")."""
    low, high = meta.get("min"), meta.get("max")
    found = []
    if low is not None and measured < low:
        found.append(f"Member must have {measure} greater than or equal to {_bound(low, kind)}")
    if high is not None and measured > high:
        found.append(f"Member must have {measure} less than or equal to {_bound(high, kind)}")
    return found


def _bound(bound: Any, kind: str) -> str:
    # Java prints a double bound as 1.0, an integer one (and every length) as 1.
    if kind in ("float", "double"):
        return _java_double(float(bound))
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _value_label(shape: Shape, value: Any, package: str) -> str:
    """How Coral quotes the offending value: ``Value 'x'``, ``Value null``, and just ``Value`` for a
    member the model marks sensitive (its content is never echoed)."""
    if shape.metadata.get("sensitive"):
        return "Value"
    if value is None:
        return "Value null"
    return f"Value '{java_text(shape, value, package)}'"


def java_text(shape: Shape | None, value: Any, package: str = "com.amazonaws") -> str:
    """A value as Coral shows it in a problem: Java's ``toString`` of what it deserialized — ``[a, null]``
    for a list, ``{k=v}`` for a map, ``true``, ``2.0``, ``java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]``
    for a blob, ``com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@5f1c2e0a`` for a structure."""
    if value is None:
        return "null"
    kind = shape.type_name if shape is not None else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    if isinstance(value, list):
        item = cast("ListShape", shape).member if kind == "list" else None
        return "[" + ", ".join(java_text(item, element, package) for element in value) + "]"
    if isinstance(value, dict):
        if kind == "structure":
            # Java's Object.toString: class name @ hash code. The hash is Coral's own; a stable hash of
            # the content stands in for it.
            digest = binascii.crc32(repr(sorted(value.items(), key=lambda kv: kv[0])).encode())
            return f"{package}.{shape.name}@{digest:x}"  # type: ignore[union-attr]
        inner = cast("MapShape", shape).value if kind == "map" else None
        return "{" + ", ".join(f"{key}={java_text(inner, item, package)}" for key, item in value.items()) + "}"
    return str(value)


def _java_double(value: float) -> str:
    """Java's Double.toString: ``2.0``, ``0.5``, ``1.0E7``, ``1.0E-5``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    # The shortest digits that read back as this double (repr's), in Java's d.dddE±n form.
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{int(exponent) + len(text) - 1}"


def shown_pattern(pattern: str) -> str:
    """A model pattern as AWS's messages show it: botocore's models wrap some services' patterns in
    anchors and a group (``^(0|([1-9]\\d{0,38}))$``) that the service's own message doesn't have."""
    if len(pattern) > 1 and pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        inner = pattern[1:-1]
        if _wrapped_in_one_group(inner):
            inner = inner[1:-1]
        return inner
    return pattern


def _wrapped_in_one_group(text: str) -> bool:
    """Whether ``text`` is one parenthesised group from its first character to its last."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    escaped = in_class = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return False
    return depth == 0


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        # Java-flavoured patterns Python can't read are not enforced rather than misapplied.
        return re.compile(r".*", re.DOTALL)


def input_shape(op: OperationModel) -> Shape | None:
    return op.input_shape
