"""Event filtering (``FilterCriteria``) as Lambda applies it to SQS messages and Kinesis records, pure
(no I/O): :func:`compile_criteria` checks the patterns at CreateEventSourceMapping /
UpdateEventSourceMapping and :meth:`Criteria.matches` decides per record (docs/aws-behaviour.md
§Event filtering; https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).

- Up to 5 filters, ORed. Within a pattern, fields are ANDed; the values of a leaf's list are ORed.
- Leaf values: ``null``, ``""``, strings, numbers and booleans match equal values (numbers by their
  type and value: 300 and 300.0 differ, as AWS compares their text); operators ``prefix``,
  ``suffix``, ``equals-ignore-case``, ``anything-but`` (a value, a list, or ``{"prefix": …}`` /
  ``{"suffix": …}``), ``numeric`` (up to two comparisons), ``exists``; ``"$or": [pattern, …]``.
- An array in the record matches when one of its elements matches.
- The data key (SQS ``body``, Kinesis ``data``): a JSON-object pattern applies only to a JSON-object
  body or data, a list pattern only to a plain (non-JSON) body; every other pairing drops the record
  (AWS's format matrix). Streams refuse a non-JSON ``data`` pattern at create/update.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: AWS's default quota of filters per event source mapping.
MAX_FILTERS = 5
INVALID = "Invalid filter pattern definition."

_MISSING = object()
_NUMERIC_OPS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

#: A compiled leaf condition: the record's value (or _MISSING) → matches?
Leaf = Callable[[Any], bool]


class FilterPatternError(ValueError):
    """A pattern Lambda refuses (``InvalidParameterValueException`` ``Invalid filter pattern definition.``)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    # Same type too: AWS compares numbers by their text (300 ≠ 300.0), and true is not 1.
    return type(a) is type(b) and a == b


# ---- compiling ------------------------------------------------------------------------------------


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _anything_but(spec: Any) -> Leaf:
    if isinstance(spec, dict):
        if len(spec) != 1:
            raise FilterPatternError("anything-but takes one of prefix or suffix")
        (op, text), = spec.items()
        if op not in ("prefix", "suffix") or not isinstance(text, str):
            raise FilterPatternError("anything-but takes a value, a list of values, prefix or suffix")
        if op == "prefix":
            return lambda v: isinstance(v, str) and not v.startswith(text)
        return lambda v: isinstance(v, str) and not v.endswith(text)
    values = spec if isinstance(spec, list) else [spec]
    if not values or not all(_scalar(v) and v is not None for v in values):
        raise FilterPatternError("anything-but takes strings or numbers")
    return lambda v: v is not _MISSING and v is not None and not isinstance(v, dict) and not any(
        _same(v, x) for x in values)


def _numeric(spec: Any) -> Leaf:
    if not isinstance(spec, list) or len(spec) not in (2, 4):
        raise FilterPatternError("numeric takes one or two comparisons")
    checks: list[tuple[Callable[[float, float], bool], float]] = []
    for i in range(0, len(spec), 2):
        op, bound = spec[i], spec[i + 1]
        if op not in _NUMERIC_OPS or not _is_number(bound):
            raise FilterPatternError(f"bad numeric comparison {op!r} {bound!r}")
        if len(spec) == 4 and op == "=":
            raise FilterPatternError("numeric = stands alone")
        checks.append((_NUMERIC_OPS[op], bound))
    return lambda v: _is_number(v) and all(check(v, bound) for check, bound in checks)


def _operator(spec: dict[str, Any]) -> Leaf:
    if len(spec) != 1:
        raise FilterPatternError("an operator object holds one operator")
    (op, arg), = spec.items()
    if op == "prefix" and isinstance(arg, str):
        return lambda v: isinstance(v, str) and v.startswith(arg)
    if op == "suffix" and isinstance(arg, str):
        return lambda v: isinstance(v, str) and v.endswith(arg)
    if op == "equals-ignore-case" and isinstance(arg, str):
        folded = arg.casefold()
        return lambda v: isinstance(v, str) and v.casefold() == folded
    if op == "exists" and isinstance(arg, bool):
        # exists matches leaves only: an object is not "there" for it.
        if arg:
            return lambda v: v is not _MISSING and not isinstance(v, dict)
        return lambda v: v is _MISSING
    if op == "anything-but":
        return _anything_but(arg)
    if op == "numeric":
        return _numeric(arg)
    raise FilterPatternError(f"unknown operator {op!r}")


def _leaf(values: list[Any]) -> Leaf:
    if not values:
        raise FilterPatternError("an empty list matches nothing")
    tests: list[Leaf] = []
    plain: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            tests.append(_operator(value))
        elif _scalar(value):
            plain.append(value)
        else:
            raise FilterPatternError("a list holds values or operator objects")
    if plain:
        tests.append(lambda v: any(_same(v, x) for x in plain))

    def one(value: Any) -> bool:
        return any(test(value) for test in tests)

    def leaf(value: Any) -> bool:
        if isinstance(value, list):
            # An array in the record matches when one of its elements does.
            return any(one(item) for item in value)
        return one(value)

    return leaf


@dataclass(frozen=True)
class _Node:
    """A compiled pattern object: leaf conditions, nested objects, and ``$or`` alternatives."""

    leaves: tuple[tuple[str, Leaf], ...]
    children: tuple[tuple[str, _Node], ...]
    alternatives: tuple[tuple[_Node, ...], ...]

    def matches(self, record: dict[str, Any]) -> bool:
        for key, leaf in self.leaves:
            if not leaf(record.get(key, _MISSING)):
                return False
        for key, child in self.children:
            value = record.get(key)
            if not child.matches(value if isinstance(value, dict) else {}):
                return False
        return all(any(node.matches(record) for node in options) for options in self.alternatives)


def _node(pattern: Any) -> _Node:
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError("a pattern is a non-empty JSON object")
    leaves: list[tuple[str, Leaf]] = []
    children: list[tuple[str, _Node]] = []
    alternatives: list[tuple[_Node, ...]] = []
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPatternError("$or takes a list of at least two patterns")
            alternatives.append(tuple(_node(option) for option in value))
        elif isinstance(value, dict):
            children.append((key, _node(value)))
        elif isinstance(value, list):
            leaves.append((key, _leaf(value)))
        else:
            raise FilterPatternError(f"the value of {key!r} is neither a list nor an object")
    return _Node(tuple(leaves), tuple(children), tuple(alternatives))


@dataclass(frozen=True)
class _Filter:
    metadata: _Node | None  # every key but the data key
    data_json: _Node | None  # the data key's object pattern
    data_plain: Leaf | None  # the data key's list pattern (SQS plain bodies)


def _compile_one(text: Any, data_key: str, stream: bool) -> _Filter:
    if not isinstance(text, str):
        raise FilterPatternError("Pattern is missing")
    try:
        pattern = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FilterPatternError("Pattern is not JSON") from exc
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError("a pattern is a non-empty JSON object")
    rest = {k: v for k, v in pattern.items() if k != data_key}
    data_json = data_plain = None
    if data_key in pattern:
        data = pattern[data_key]
        if isinstance(data, dict):
            data_json = _node(data)
        elif isinstance(data, list) and not stream:
            data_plain = _leaf(data)
        else:
            raise FilterPatternError(f"{data_key} takes a JSON object pattern" if stream
                                     else f"{data_key} takes an object or a list")
    return _Filter(_node(rest) if rest else None, data_json, data_plain)


@dataclass(frozen=True)
class Criteria:
    """A mapping's compiled filters (at least one)."""

    filters: tuple[_Filter, ...]
    data_key: str

    def matches(self, record: dict[str, Any], data: bytes | str) -> bool:
        """Does one filter match? ``record`` is the record's metadata as Lambda shows it; ``data`` its
        body (SQS) or decoded data (Kinesis), parsed as JSON only when a pattern needs it."""
        parsed: Any = _MISSING
        for flt in self.filters:
            if flt.metadata is not None and not flt.metadata.matches(record):
                continue
            if flt.data_json is not None or flt.data_plain is not None:
                if parsed is _MISSING:
                    parsed = _parse(data)
                if flt.data_json is not None:
                    if not isinstance(parsed, dict) or not flt.data_json.matches(parsed):
                        continue
                else:
                    assert flt.data_plain is not None
                    text = data.decode(errors="replace") if isinstance(data, bytes) else data
                    if isinstance(parsed, dict) or not flt.data_plain(text):
                        continue
            return True
        return False


def _parse(data: bytes | str) -> Any:
    """The data as a JSON object, or None when it is plain text (or JSON that isn't an object)."""
    # A JSON object's text starts with "{" after JSON's whitespace: plain text (an SQS body for a list
    # pattern) is told apart without a failed parse and its exception, once per record. Bytes that may
    # be UTF-16/32 or carry a BOM (json.loads detects those) still go to the parser.
    if isinstance(data, str):
        if data.lstrip(" \t\n\r")[:1] != "{":
            return None
    elif data.lstrip(b" \t\n\r")[:1] not in (b"{", b"\x00", b"\xef", b"\xfe", b"\xff"):
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def compile_criteria(criteria: dict[str, Any] | None, *, data_key: str, stream: bool) -> Criteria | None:
    """The mapping's filters, checked; None when there are none (``FilterCriteria: {}`` or no filters).

    Raises :class:`FilterPatternError` for a pattern Lambda refuses."""
    if not criteria:
        return None
    filters = criteria.get("Filters")
    if filters is None:
        return None
    if not isinstance(filters, list):
        raise FilterPatternError("Filters is not a list")
    if len(filters) > MAX_FILTERS:
        raise FilterPatternError(f"more than {MAX_FILTERS} filters")
    if not filters:
        return None
    compiled = tuple(_compile_one((f or {}).get("Pattern") if isinstance(f, dict) else None, data_key, stream)
                     for f in filters)
    return Criteria(compiled, data_key)
