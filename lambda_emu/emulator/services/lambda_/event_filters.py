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
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: AWS's default quota of filters per event source mapping.
MAX_FILTERS = 5
INVALID = "Invalid filter pattern definition."

_MISSING = object()
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NUMERIC_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NUMBER = (int, float)

#: A compiled leaf condition: the record's value (or _MISSING) → matches?
Leaf = Callable[[Any], bool]
#: A compiled pattern object: the record (or one of its nested objects) → matches?
Match = Callable[[Mapping[str, Any]], bool]

# The matcher runs once per record a filtered mapping reads, so it is compiled into closures that do
# as little as they can per call: one closure where a pattern has one condition, no generator where a
# list holds one value, a set lookup for plain values.


class FilterPatternError(ValueError):
    """A pattern Lambda refuses (``InvalidParameterValueException`` ``Invalid filter pattern definition.``)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


# ---- compiling ------------------------------------------------------------------------------------


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _any_of(tests: list[Leaf]) -> Leaf:
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(test(v) for test in tests)


def _equals(values: list[Any]) -> Leaf:
    """Equal to one of ``values``, type too: AWS compares numbers by their text (300 ≠ 300.0), and
    true is not 1. ``(type, value)`` pairs in a set say it in one lookup."""
    keys = frozenset((type(x), x) for x in values)

    def equals(v: Any) -> bool:
        try:
            return (type(v), v) in keys
        except TypeError:  # an object or an array in the record: never equal to a plain value
            return False

    return equals


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
    equal = _equals(values)
    return lambda v: v is not _MISSING and v is not None and not isinstance(v, dict) and not equal(v)


def _numeric(spec: Any) -> Leaf:
    if not isinstance(spec, list) or len(spec) not in (2, 4):
        raise FilterPatternError("numeric takes one or two comparisons")
    checks: list[tuple[Callable[[Any, Any], bool], float]] = []
    for i in range(0, len(spec), 2):
        op, bound = spec[i], spec[i + 1]
        if op not in _NUMERIC_OPS or not _is_number(bound):
            raise FilterPatternError(f"bad numeric comparison {op!r} {bound!r}")
        if len(spec) == 4 and op == "=":
            raise FilterPatternError("numeric = stands alone")
        checks.append((_NUMERIC_OPS[op], bound))
    if len(checks) == 1:
        (check, bound), = checks
        return lambda v: isinstance(v, _NUMBER) and not isinstance(v, bool) and check(v, bound)
    (low, low_bound), (high, high_bound) = checks
    return lambda v: (isinstance(v, _NUMBER) and not isinstance(v, bool) and low(v, low_bound)
                      and high(v, high_bound))


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
        # exists matches leaves only: an object is not "there" for it, so exists:false matches a missing
        # field and an object alike (a DynamoDB attribute such as {"S": "v"} included, as AWS recorded).
        if arg:
            return lambda v: v is not _MISSING and not isinstance(v, dict)
        return lambda v: v is _MISSING or isinstance(v, dict)
    if op == "anything-but":
        return _anything_but(arg)
    if op == "numeric":
        return _numeric(arg)
    raise FilterPatternError(f"unknown operator {op!r}")


def _leaf(values: list[Any]) -> Leaf:
    """A pattern's list of values: the record's value matches one of them."""
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
        tests.append(_equals(plain))
    return _any_of(tests)


def _has(key: str, leaf: Leaf) -> Match:
    def has(record: Mapping[str, Any]) -> bool:
        value = record.get(key, _MISSING)
        if isinstance(value, list):
            # An array in the record matches when one of its elements does.
            return any(map(leaf, value))
        return leaf(value)

    return has


def _within(key: str, child: Match) -> Match:
    def within(record: Mapping[str, Any]) -> bool:
        value = record.get(key)
        return child(value if isinstance(value, dict) else _EMPTY)

    return within


def _either(options: tuple[Match, ...]) -> Match:
    return lambda record: any(option(record) for option in options)


def _node(pattern: Any) -> Match:
    """A pattern object compiled: its fields ANDed (leaf conditions, nested objects, ``$or``)."""
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError("a pattern is a non-empty JSON object")
    leaves: list[Match] = []
    children: list[Match] = []
    alternatives: list[Match] = []
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPatternError("$or takes a list of at least two patterns")
            alternatives.append(_either(tuple(_node(option) for option in value)))
        elif isinstance(value, dict):
            children.append(_within(key, _node(value)))
        elif isinstance(value, list):
            leaves.append(_has(key, _leaf(value)))
        else:
            raise FilterPatternError(f"the value of {key!r} is neither a list nor an object")
    parts = (*leaves, *children, *alternatives)
    if len(parts) == 1:
        return parts[0]

    def every(record: Mapping[str, Any]) -> bool:
        for part in parts:
            if not part(record):
                return False
        return True

    return every


@dataclass(frozen=True)
class _Filter:
    metadata: Match | None  # every key but the data key
    data_json: Match | None  # the data key's object pattern
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


#: ``Criteria.matches``: (the record's metadata, its data) → does a filter match?
Matcher = Callable[[Mapping[str, Any], bytes | str | dict[str, Any]], bool]
#: ``Criteria.matches_data``: the record's data alone → does a filter match?
DataMatcher = Callable[[bytes | str | dict[str, Any]], bool]


@dataclass(frozen=True)
class Criteria:
    """A mapping's compiled filters (at least one).

    ``matches(record, data)``: does one filter match? ``record`` is the record's metadata as Lambda
    shows it; ``data`` its body (SQS) or decoded data (Kinesis), parsed as JSON once, and only when a
    pattern needs it (a dict is data already parsed: DynamoDB's ``dynamodb``)."""

    filters: tuple[_Filter, ...]
    data_key: str
    #: A closure built for these filters, not a method: it runs once per record a mapping reads.
    matches: Matcher = field(init=False, repr=False, compare=False)
    #: ``matches`` without the record, when no pattern names a field beside the data key (else None):
    #: a stream poller maps it over a read's data, one call a record.
    matches_data: DataMatcher | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        needs_metadata = any(flt.metadata is not None for flt in self.filters)
        object.__setattr__(self, "matches", _matcher(self.filters))
        object.__setattr__(self, "matches_data", None if needs_metadata else _data_matcher(self.filters))


def _matcher(filters: tuple[_Filter, ...]) -> Matcher:
    parse = _parser()
    if len(filters) == 1 and filters[0].metadata is None and filters[0].data_json is not None:
        # The commonest criteria, one pattern on the data alone: no loop, no parse kept for a next filter.
        data_json = filters[0].data_json

        def data_only(record: Mapping[str, Any], data: bytes | str | dict[str, Any]) -> bool:
            parsed = parse(data)
            return parsed is not None and data_json(parsed)

        return data_only

    def any_filter(record: Mapping[str, Any], data: bytes | str | dict[str, Any]) -> bool:
        parsed: Any = _MISSING
        for flt in filters:
            if flt.metadata is not None and not flt.metadata(record):
                continue
            if flt.data_json is not None:
                if parsed is _MISSING:
                    parsed = parse(data)
                if parsed is None or not flt.data_json(parsed):
                    continue
            elif flt.data_plain is not None:
                if parsed is _MISSING:
                    parsed = parse(data)
                if parsed is not None:
                    continue  # a JSON object: a list pattern does not apply
                text = data.decode(errors="replace") if isinstance(data, bytes) else data
                assert isinstance(text, str)
                if not flt.data_plain(text):
                    continue
            return True
        return False

    return any_filter


def _data_matcher(filters: tuple[_Filter, ...]) -> DataMatcher:
    """The filters (none of them naming a metadata field) on the data alone."""
    if len(filters) == 1 and filters[0].data_json is not None:
        data_json = filters[0].data_json
        parse = _parser()
        loads = _fast_loads()
        if loads is None:
            return lambda data: (parsed := _parse(data)) is not None and data_json(parsed)

        def data_only(data: bytes | str | dict[str, Any]) -> bool:
            # The commonest case, a record's data in bytes, as in the parser, without the call: this
            # runs once per record a stream mapping reads.
            if type(data) is bytes and data[:1] == b"{" and (len(data) < _SHORTEST_WITH_LONG_DIGITS
                                                             or _LONG_DIGITS_BYTES(data) is None):
                try:
                    parsed = loads(data)
                except ValueError:
                    parsed = _parse(data)
            else:
                parsed = parse(data)
            return parsed is not None and data_json(parsed)

        return data_only
    matches = _matcher(filters)
    return lambda data: matches(_EMPTY, data)


# json.loads without its per-call Python layers (two whitespace regex matches, its argument checks):
# the same C scanner and the same rules, so the same result for every text. What json.loads does to
# bytes (the encoding it detects, 'surrogatepass') is done here too.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_WHITESPACE: Callable[[str, int], re.Match[str]] = json.decoder.WHITESPACE.match  # type: ignore[attr-defined]
_ENCODING_SIGNS = (b"{", b"\x00", b"\xef", b"\xfe", b"\xff")


def _parse(data: bytes | str | dict[str, Any]) -> dict[str, Any] | None:
    """The data as a JSON object, or None when it is plain text (or JSON that isn't an object)."""
    if isinstance(data, bytes):
        if data[:1] == b"{" and data[1:2] != b"\x00":
            encoding = "utf-8"  # what json.detect_encoding says of these bytes, without the call
        elif data.lstrip(b" \t\n\r")[:1] not in _ENCODING_SIGNS:
            # Neither a JSON object in UTF-8 nor bytes that may be UTF-16/32 or carry a BOM.
            return None
        else:
            encoding = json.detect_encoding(data)
        try:
            text = data.decode(encoding, "surrogatepass")
        except UnicodeDecodeError:
            return None
    elif isinstance(data, str):
        text = data
    else:
        return data
    # A JSON object's text starts with "{" after JSON's whitespace: plain text (an SQS body for a list
    # pattern) is told apart without a failed parse and its exception.
    start = 0
    if text[:1] != "{":
        stripped = text.lstrip(" \t\n\r")
        if stripped[:1] != "{":
            return None
        start = len(text) - len(stripped)
    try:
        value, end = _SCAN(text, start)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(text) and _WHITESPACE(text, end).end() != len(text):
        return None  # json.loads's "Extra data"
    return value  # type: ignore[no-any-return]


# orjson in front of json's scanner: the same result, in a third of the time, for the data a filter
# mostly sees (a small JSON object), and json itself decides the rest. orjson takes no input json
# refuses (it is the stricter of the two: no NaN, Infinity, lone surrogates, numbers past a double,
# invalid UTF-8, or nesting past 1024), and what it takes it reads as json does (the same types,
# values, key order and last-wins duplicate keys) — except an integer past 64 bits, which orjson
# gives as a float and json exactly; so data with a run of 19 digits goes to json (an integer of
# 18 digits or fewer fits 64 bits). tests/test_event_filters.py compares the two on generated data.
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}").search
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}").search
#: No shorter JSON object holds a 19-digit number: ``{"":1234567890123456789}``.
_SHORTEST_WITH_LONG_DIGITS = 24


def _parser() -> Callable[[bytes | str | dict[str, Any]], dict[str, Any] | None]:
    """:func:`_parse`, faster: built when a mapping's filters are compiled, so orjson is imported
    only by a server that has a filter (``lambda-emu up`` does not load it)."""
    loads = _fast_loads()
    if loads is None:
        return _parse

    def parse(data: bytes | str | dict[str, Any]) -> dict[str, Any] | None:
        if type(data) is bytes:
            if data[:1] != b"{" or (len(data) >= _SHORTEST_WITH_LONG_DIGITS and _LONG_DIGITS_BYTES(data)):
                return _parse(data)
        elif type(data) is str:
            if data[:1] != "{" or (len(data) >= _SHORTEST_WITH_LONG_DIGITS and _LONG_DIGITS_TEXT(data)):
                return _parse(data)
        else:
            return _parse(data)
        try:
            # Starts with "{": a JSON object when orjson takes it.
            return loads(data)  # type: ignore[no-any-return]
        except ValueError:  # orjson.JSONDecodeError; json may still take it (NaN, a lone surrogate, ...)
            return _parse(data)

    return parse



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


def _fast_loads() -> Callable[[bytes | str], Any] | None:
    """orjson's loads, imported on the first use (see :func:`_parser`); None without orjson (a
    virtualenv not reinstalled since it joined the dependencies): then json reads everything, the same
    answers, slower, rather than a filter failing to compile."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads
