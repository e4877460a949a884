"""The FilterCriteria matcher on its own (no server, no I/O): every operator with a matching and a
non-matching record, ORed filters, ANDed fields, ORed values, $or, arrays, the SQS body format matrix,
stream data, and the patterns Lambda refuses (docs/aws-behaviour.md §Event filtering)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_emu.emulator.services.lambda_.event_filters import (
    Criteria,
    FilterPatternError,
    _parser,
    compile_criteria,
)

RECORD = {"messageId": "m-1", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
          "attributes": {"ApproximateReceiveCount": "1", "SenderId": "AIDA"},
          "messageAttributes": {"color": {"stringValue": "blue", "dataType": "String"}}}


def sqs(*patterns: Any) -> Criteria:
    criteria = compile_criteria({"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)}
                                             for p in patterns]}, data_key="body", stream=False)
    assert criteria is not None
    return criteria


def body_matches(pattern: Any, body: Any) -> bool:
    """Does ``{"body": pattern}`` match a JSON body ``body`` (or a plain one, when a str is given)?"""
    text = body if isinstance(body, str) else json.dumps(body)
    return sqs({"body": pattern}).matches(RECORD, text)


# (operator, body pattern, matching body, non-matching body)
OPERATORS = [
    ("null", {"a": [None]}, {"a": None}, {"a": "x"}),
    ("empty", {"a": [""]}, {"a": ""}, {"a": "x"}),
    ("equals", {"a": ["Alice"]}, {"a": "Alice"}, {"a": "alice"}),
    ("equals number", {"a": [300]}, {"a": 300}, {"a": 300.0}),
    ("equals-ignore-case", {"a": [{"equals-ignore-case": "alice"}]}, {"a": "ALICE"}, {"a": "Bob"}),
    ("or values", {"a": ["x", "y"]}, {"a": "y"}, {"a": "z"}),
    ("and fields", {"a": ["x"], "b": ["y"]}, {"a": "x", "b": "y"}, {"a": "x", "b": "z"}),
    ("$or", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"b": "y"}, {"a": "q", "b": "q"}),
    ("anything-but", {"a": [{"anything-but": ["Raining"]}]}, {"a": "Sunny"}, {"a": "Raining"}),
    ("anything-but value", {"a": [{"anything-but": "Raining"}]}, {"a": "Sunny"}, {"a": "Raining"}),
    ("anything-but prefix", {"a": [{"anything-but": {"prefix": "init"}}]}, {"a": "done"}, {"a": "initial"}),
    ("numeric equals", {"a": [{"numeric": ["=", 100]}]}, {"a": 100}, {"a": 101}),
    ("numeric range", {"a": [{"numeric": [">", 10, "<=", 20]}]}, {"a": 20}, {"a": 10}),
    ("numeric on a string", {"a": [{"numeric": [">", 0]}]}, {"a": 5}, {"a": "5"}),
    ("exists", {"a": [{"exists": True}]}, {"a": "x"}, {"b": "x"}),
    ("exists on an object", {"a": [{"exists": True}]}, {"a": 1}, {"a": {"leaf": 1}}),
    ("not exists", {"a": [{"exists": False}]}, {"b": "x"}, {"a": "x"}),
    ("not exists on an object", {"a": [{"exists": False}]}, {"a": {"S": "x"}}, {"a": 1}),
    ("prefix", {"a": [{"prefix": "us-"}]}, {"a": "us-east-1"}, {"a": "eu-west-1"}),
    ("suffix", {"a": [{"suffix": ".png"}]}, {"a": "cat.png"}, {"a": "cat.jpg"}),
    ("nested", {"a": {"b": ["x"]}}, {"a": {"b": "x"}}, {"a": {"b": "y"}}),
    ("array in record", {"a": ["x"]}, {"a": ["w", "x"]}, {"a": ["w", "y"]}),
    ("missing field", {"a": ["x"]}, {"a": "x", "more": 1}, {"other": "x"}),
]


@pytest.mark.parametrize(("name", "pattern", "yes", "no"), OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operator(name: str, pattern: dict[str, Any], yes: Any, no: Any) -> None:
    assert body_matches(pattern, yes)
    assert not body_matches(pattern, no)


def test_filters_are_ored() -> None:
    criteria = sqs({"body": {"a": ["x"]}}, {"body": {"a": ["y"]}})
    assert criteria.matches(RECORD, '{"a": "x"}') and criteria.matches(RECORD, '{"a": "y"}')
    assert not criteria.matches(RECORD, '{"a": "z"}')


def test_metadata_fields_on_the_record() -> None:
    assert sqs({"attributes": {"SenderId": ["AIDA"]}}).matches(RECORD, "anything")
    assert not sqs({"attributes": {"SenderId": ["OTHER"]}}).matches(RECORD, "anything")
    assert sqs({"messageAttributes": {"color": {"stringValue": ["blue"]}}}).matches(RECORD, "x")
    both = sqs({"eventSource": ["aws:sqs"], "body": {"a": ["x"]}})
    assert both.matches(RECORD, '{"a":"x"}') and not both.matches(RECORD, '{"a":"y"}')


def test_sqs_body_format_matrix() -> None:
    plain = sqs({"body": [{"prefix": "order"}]})
    json_pattern = sqs({"body": {"a": [{"exists": True}]}})
    assert plain.matches(RECORD, "order 1")  # plain / plain → filter
    assert not plain.matches(RECORD, "refund 1")
    assert not plain.matches(RECORD, '{"a": "order"}')  # plain pattern / JSON body → drop
    assert not json_pattern.matches(RECORD, "a plain body")  # JSON pattern / plain body → drop
    assert json_pattern.matches(RECORD, '{"a": 1}')  # JSON / JSON → filter
    assert sqs({"eventSource": ["aws:sqs"]}).matches(RECORD, "plain")  # no body in the pattern


def test_stream_data() -> None:
    criteria = compile_criteria({"Filters": [{"Pattern": '{"data": {"t": [{"numeric": [">", 0]}]}}'}]},
                                data_key="data", stream=True)
    assert criteria is not None
    assert criteria.matches({"partitionKey": "1"}, b'{"t": 5}')
    assert not criteria.matches({"partitionKey": "1"}, b'{"t": -5}')
    assert not criteria.matches({"partitionKey": "1"}, b"not json")  # non-JSON data + JSON pattern → drop


@pytest.mark.parametrize("pattern", [
    None, "", "not json", "{", "[]", "{}", '{"eventSource": "aws:sqs"}', '{"eventSource": []}',
    '{"a": [{"prefix": 1}]}', '{"a": [{"unknown": "x"}]}', '{"a": [{"numeric": [">", "1"]}]}',
    '{"a": [{"numeric": ["!", 1]}]}', '{"a": [{"exists": "yes"}]}', '{"$or": [{"a": ["x"]}]}',
    '{"a": [{"prefix": "x", "suffix": "y"}]}', '{"a": [["nested"]]}',
])
def test_invalid_patterns(pattern: Any) -> None:
    with pytest.raises(FilterPatternError):
        compile_criteria({"Filters": [{"Pattern": pattern}]}, data_key="body", stream=False)


def test_stream_refuses_a_plain_data_pattern_and_more_than_five_filters() -> None:
    with pytest.raises(FilterPatternError):
        compile_criteria({"Filters": [{"Pattern": '{"data": ["x"]}'}]}, data_key="data", stream=True)
    six = {"Filters": [{"Pattern": '{"a": ["x"]}'}] * 6}
    with pytest.raises(FilterPatternError):
        compile_criteria(six, data_key="body", stream=False)


def test_no_filters() -> None:
    assert compile_criteria({}, data_key="body", stream=False) is None
    assert compile_criteria(None, data_key="body", stream=False) is None


# ---- the data's JSON: read exactly as json.loads reads it ----------------------------------------
# The matcher parses data with orjson in front of json (event_filters._parser); what it gets must be
# what json.loads gives, value for value and type for type, or None where json.loads refuses the data
# or gives no object.


def _json_object(data: bytes | str) -> Any:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


EDGE_DATA = [
    b'{"a":"\\ud800"}', b'{"a":"\\udc00\\ud800"}', b'{"a":"\\ud834\\udd1e"}', b'{"a":"\xed\xa0\x80"}', b'{"a":"\xff"}',
    b'{"a":"\x01"}', b'{"a":"\t"}', b'{"a":"\x00"}', b'{"\\u0000":1}', b'{"a":1,"b":2,"a":3}', b'{"a":-0}',
    b'{"a":-0.0}', b'{"a":1e400}', b'{"a":-1e400}', b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}',
    b'{"a":9223372036854775807}', b'{"a":9223372036854775808}', b'{"a":-9223372036854775809}',
    b'{"a":18446744073709551615}', b'{"a":18446744073709551616}', b'{"":1234567890123456789}',
    b'{"a":123456789012345678}', b'{"a":1.7976931348623157e308}', b'{"a":4.9e-324}', b'{"a":1e-400}',
    b'{"a":0.30000000000000004}', b'{"a":300}', b'{"a":300.0}', b'{"a":01}', b'{"a":1.}', b'{"a":.5}',
    b'{"a":+1}', b'{"a":tru}', b'{} ', b'{}\n\r\t ', b'{}\x0b', b'{}\xa0', b'{"a":1}x', b'{"a":1}{}',
    b'{"a":[1,]}', b'{"a":1,}', b'{\x0c"a":1}', b'{"a":"\\x"}', b'{"a":"\xc0\xaf"}', b" {}", b"\xef\xbb\xbf{}",
    '{"a": 1}'.encode("utf-16"), '{"a": 1}'.encode("utf-16-le"), '{"a": 1}'.encode("utf-32"), b"[1]", b"1",
    b"", b"plain", b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}", b'{"a":' + b"[" * 900 + b"]" * 900 + b"}",
    b'{"a":' + b"9" * 5000 + b"}",
]


@pytest.mark.parametrize("data", EDGE_DATA + [d.decode("utf-8", "surrogatepass") for d in EDGE_DATA
                                              if d[:1] == b"{" and d.isascii()])
def test_data_is_read_as_json_reads_it(data: bytes | str) -> None:
    assert repr(_parser()(data)) == repr(_json_object(data))
    # The data-only matcher reads bytes itself (no parser call): the same answer as the full matcher.
    assert _SOME_A.matches_data is not None
    assert _SOME_A.matches_data(data) == _SOME_A.matches({}, data)


#: A pattern that tells numbers, strings, null and absence apart.
_SOME_A = compile_criteria({"Filters": [{"Pattern": json.dumps(
    {"data": {"$or": [{"a": [{"numeric": [">", 0]}, None, ""]}, {"a": [{"exists": False}]}]}})}]},
    data_key="data", stream=True) or Criteria((), "data")


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8)
    | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True, allow_infinity=True),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", ""]) | st.text(max_size=4), _JSON_VALUES, max_size=5),
       st.booleans(), st.integers(0, 1000), st.binary(max_size=2))
def test_generated_data_is_read_as_json_reads_it(document: dict[str, Any], ascii_only: bool, cut: int,
                                                 noise: bytes) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    data = text.encode("utf-8", "surrogatepass")
    parse = _parser()
    assert _SOME_A.matches_data is not None
    for given_data in (data, text, data[:cut] + noise + data[cut:]):
        assert repr(parse(given_data)) == repr(_json_object(given_data))
        assert _SOME_A.matches_data(given_data) == _SOME_A.matches({}, given_data)


def test_an_integer_past_64_bits_stays_exact() -> None:
    criteria = compile_criteria({"Filters": [{"Pattern": '{"data": {"n": [18446744073709551616]}}'}]},
                                data_key="data", stream=True)
    assert criteria is not None and criteria.matches_data is not None
    assert criteria.matches_data(b'{"n": 18446744073709551616}')
    assert not criteria.matches_data(b'{"n": 18446744073709551616.0}')  # AWS compares numbers by their text


def test_matches_data_is_matches_without_the_record() -> None:
    data_only = compile_criteria({"Filters": [{"Pattern": '{"data": {"t": [{"numeric": [">", 0]}]}}'},
                                              {"Pattern": '{"data": {"u": ["x"]}}'}]}, data_key="data", stream=True)
    assert data_only is not None and data_only.matches_data is not None
    for data in (b'{"t": 5}', b'{"t": -5}', b'{"u": "x"}', b"not json", b'{"t": 1}x'):
        assert data_only.matches_data(data) == data_only.matches({}, data)
    with_metadata = compile_criteria({"Filters": [{"Pattern": '{"partitionKey": ["1"]}'}]}, data_key="data",
                                     stream=True)
    assert with_metadata is not None and with_metadata.matches_data is None
