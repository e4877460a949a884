"""Values on the wire ⇄ Python values, driven by botocore's shapes; and AWS-style input validation.

Behaviour lives in the service models: this module walks a shape and never knows an operation.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast

from lambda_emu.emulator.platform.errors import AwsError

if TYPE_CHECKING:
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


def parse_json_value(shape: Shape, value: Any, path: str = "") -> Any:
    """A JSON value (already decoded) to the Python value services see."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise serialization_error(f"Expected an object at '{path or shape.name}'")
        out: dict[str, Any] = {}
        members = cast("StructureShape", shape).members
        for key, item in value.items():
            member = members.get(key)
            if member is None or item is None:
                continue  # AWS ignores unknown members in JSON bodies, and reads a null member as absent
            out[key] = parse_json_value(member, item, f"{path}.{key}" if path else key)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise serialization_error(f"Expected a list at '{path}'")
        item_shape = cast("ListShape", shape).member
        return [parse_json_value(item_shape, item, path) for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise serialization_error(f"Expected a map at '{path}'")
        value_shape = cast("MapShape", shape).value
        return {k: parse_json_value(value_shape, v, path) for k, v in value.items()}
    if kind == "blob":
        if not isinstance(value, str):
            raise serialization_error(f"Expected a base64 string at '{path}'")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serialization_error(f"Invalid base64 at '{path}'") from exc
    if kind == "timestamp":
        return parse_timestamp(value, path)
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise serialization_error(f"Expected an integer at '{path}'")
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise serialization_error(f"Expected a number at '{path}'")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise serialization_error(f"Expected a boolean at '{path}'")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise serialization_error(f"Expected a string at '{path}'")
        return value
    return value


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


def to_json_value(shape: Shape, value: Any) -> Any:
    """A service's Python value to what goes in a JSON body."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for key, member in cast("StructureShape", shape).members.items():
            if key in value and value[key] is not None and not member.serialization.get("location"):
                out[key] = to_json_value(member, value[key])
        return out
    if kind == "list":
        item_shape = cast("ListShape", shape).member
        return [to_json_value(item_shape, item) for item in value]
    if kind == "map":
        value_shape = cast("MapShape", shape).value
        return {k: to_json_value(value_shape, v) for k, v in value.items()}
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


def validate(shape: Shape | None, params: dict[str, Any], *, enums: bool = True) -> list[str]:
    """Problems with ``params`` in AWS's (Coral) wording; an empty list when they fit the model.

    ``enums=False`` skips enum checks for services whose model enums are narrower than what the
    service really accepts (SQS takes message attribute names in a list typed as queue attributes).
    """
    problems: list[str] = []
    if shape is not None:
        _check(shape, params, "", problems, enums)
    return problems


def _member_path(prefix: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{prefix}.{name}" if prefix else name


def _check(shape: Shape, value: Any, path: str, problems: list[str], enums: bool) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return
        structure = cast("StructureShape", shape)
        for req in structure.required_members:
            if value.get(req) is None:
                problems.append(f"Value null at '{_member_path(path, req)}' failed to satisfy constraint: "
                                "Member must not be null")
        for key, member in structure.members.items():
            if value.get(key) is not None:
                _check(member, value[key], _member_path(path, key), problems, enums)
        return
    meta = shape.metadata
    if kind == "list":
        _check_length(len(value), meta, value, path, problems)
        item_shape = cast("ListShape", shape).member
        if any(item is None for item in value):
            problems.append(f"Value '{_java_text(value)}' at '{path}' failed to satisfy constraint: Member must "
                            f"satisfy constraint: [{_constraints(item_shape)}]")
        for item in value:
            if item is not None:
                _check(item_shape, item, f"{path}.member", problems, enums)
        return
    if kind == "map":
        _check_length(len(value), meta, value, path, problems)
        map_shape = cast("MapShape", shape)
        value_shape = map_shape.value
        # A plain value that breaks its shape's constraints is reported for the whole map, as Coral does
        # ("Map value must satisfy constraint: [...]", recorded for Lambda's AdditionalVersionWeights);
        # structured values are checked member by member. Keys are left to the services.
        plain = value_shape.type_name not in ("structure", "list", "map")
        if any(item is None or (plain and _breaks(value_shape, item, enums)) for item in value.values()):
            problems.append(f"Value '{_java_text(value)}' at '{path}' failed to satisfy constraint: Map value "
                            f"must satisfy constraint: [{_constraints(value_shape)}]")
        if not plain:
            for item in value.values():
                if item is not None:
                    _check(value_shape, item, f"{path}.member", problems, enums)
        return
    if kind == "string":
        _check_length(len(value), meta, value, path, problems)
        enum = meta.get("enum")
        if enums and enum and value not in enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy "
                            f"enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern and not _pattern(pattern).fullmatch(value):
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy "
                            f"regular expression pattern: {pattern}")
        return
    if kind == "blob":
        _check_length(len(value), meta, None, path, problems)
        return
    if kind in ("integer", "long", "float", "double"):
        _check_range("value", value, meta, value, path, problems)


def _breaks(shape: Shape, value: Any, enums: bool) -> bool:
    found: list[str] = []
    _check(shape, value, "", found, enums)
    return bool(found)


def _java_text(value: Any) -> str:
    """A value as Coral quotes it in a problem (Java's toString: ``[a, null]``, ``{k=v}``)."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_java_text(item)}" for key, item in value.items()) + "}"
    return str(value)


def _constraints(shape: Shape) -> str:
    """A member shape's constraints, as Coral lists them when an element of a list or map breaks one."""
    meta = shape.metadata
    measure = "value" if shape.type_name in ("integer", "long", "float", "double") else "length"
    decimal = shape.type_name in ("float", "double")

    def shown(bound: Any) -> str:
        # Java prints a double bound as 1.0, an integer one as 1.
        return str(float(bound)) if decimal else _num(bound)

    found = []
    if meta.get("max") is not None:
        found.append(f"Member must have {measure} less than or equal to {shown(meta['max'])}")
    if meta.get("min") is not None:
        found.append(f"Member must have {measure} greater than or equal to {shown(meta['min'])}")
    if meta.get("pattern"):
        found.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    found.append("Member must not be null")
    return ", ".join(found)


def _num(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_length(length: int, meta: dict[str, Any], shown: Any, path: str, problems: list[str]) -> None:
    """``shown`` is the value quoted in a problem (None: "null"); it is only rendered when one is found,
    since a valid request (an Invoke's payload, a batch's bodies) must not pay for str() of it."""
    _check_range("length", length, meta, shown, path, problems)


def _check_range(measure: str, measured: float, meta: dict[str, Any], shown: Any, path: str,
                 problems: list[str]) -> None:
    """The model's min/max on a value or a length, in Coral's words ("Member must have length ...")."""
    low, high = meta.get("min"), meta.get("max")
    if (low is None or measured >= low) and (high is None or measured <= high):
        return
    label = f"'{shown}'" if shown is not None else "null"
    if low is not None and measured < low:
        problems.append(f"Value {label} at '{path}' failed to satisfy constraint: Member must have {measure} "
                        f"greater than or equal to {_num(low)}")
    if high is not None and measured > high:
        problems.append(f"Value {label} at '{path}' failed to satisfy constraint: Member must have {measure} "
                        f"less than or equal to {_num(high)}")


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        # Java-flavoured patterns Python can't read are not enforced rather than misapplied.
        return re.compile(r".*", re.DOTALL)


def input_shape(op: OperationModel) -> Shape | None:
    return op.input_shape
