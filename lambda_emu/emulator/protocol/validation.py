"""AWS-style input validation, driven by botocore's shapes: a request's problems in Coral's wording
(the ValidationException's "1 validation error detected: ..."), and values as Java's toString shows them.
"""

from __future__ import annotations

import binascii
import functools
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # botocore is imported on first use only: an idle server never pays for it.
    from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape


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
    if shape is None:
        return problems
    # An input of scalars only is remembered once found valid: a client repeats the same call (Invoke of
    # one function) and the walk over the model gives the same empty answer each time. A blob is checked
    # for its length only, so its length stands for it. A long string (an SQS message body) is never
    # remembered: it rarely repeats, and keeping it would hold up to _VALID_FLAT_SIZE such bodies.
    signature: list[Any] = [shape, enums, model, nullable_elements]
    flat = True
    for name, value in params.items():
        kind = value.__class__
        if kind is bytes:
            signature.append((name, len(value)))
        elif (kind is str and len(value) <= _REMEMBERED_STRING_CHARS) or kind is int or kind is bool \
                or kind is float:
            signature.append((name, kind, value))
        else:
            flat = False  # nested (or a timestamp): always walked
            break
    key = tuple(signature) if flat else None
    if key is not None and key in _VALID_FLAT:
        return problems
    _Checker(problems, enums, _java_package(model), nullable_elements).check(shape, params, "")
    if key is not None and not problems:
        if len(_VALID_FLAT) >= _VALID_FLAT_SIZE:
            _VALID_FLAT.clear()
        _VALID_FLAT.add(key)
    return problems[:MAX_PROBLEMS]


#: Scalar-only inputs found valid (see validate), by shape, options and values; bounded.
_VALID_FLAT: set[tuple[Any, ...]] = set()
_VALID_FLAT_SIZE = 4096
#: Strings up to this length may be part of a remembered input (names, ARNs, qualifiers, small payloads).
_REMEMBERED_STRING_CHARS = 256


@functools.lru_cache(maxsize=64)  # per model, not per request
def _java_package(model: ServiceModel | None) -> str:
    """Coral's package of a service's generated classes: ``com.amazonaws.kinesis.v20131202``."""
    if model is None:
        return "com.amazonaws"
    prefix = model.metadata.get("endpointPrefix") or model.service_name
    return f"com.amazonaws.{prefix}.v{model.api_version.replace('-', '')}"


@functools.lru_cache(maxsize=1024)  # the same few paths on every request
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
                found.append(f"Member must satisfy enum value set: [{', '.join(coral_enum_order(enum))}]")
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
            found.append(f"Member must satisfy enum value set: [{', '.join(coral_enum_order(meta['enum']))}]")
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


def _java_hash(text: str) -> int:
    """Java's String.hashCode: over UTF-16 code units, wrapping at 32 bits."""
    data = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def coral_enum_order(values: list[str]) -> list[str]:
    """An enum's values in the order AWS's messages list them: by the low five bits of each value's Java
    hash code (the bucket of a 32-bucket Java hash table), values of one bucket newest first. 23 of the
    25 "enum value set" lists in LocalStack's AWS-recorded snapshots follow it, Lambda's [Terminate,
    Allow], [RESPONSE_STREAM, BUFFERED], [LATEST, AT_TIMESTAMP, TRIM_HORIZON] and its 56-value Runtime
    list among them (docs/aws-behaviour.md, Validation messages); the model's own order is not AWS's."""
    return sorted(reversed(values), key=lambda value: _java_hash(value) & 31)


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
