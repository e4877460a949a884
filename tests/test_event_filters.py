"""The FilterCriteria matcher on its own (no server, no I/O): every operator with a matching and a
non-matching record, ORed filters, ANDed fields, ORed values, $or, arrays, the SQS body format matrix,
stream data, and the patterns Lambda refuses (docs/aws-behaviour.md §Event filtering)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_emu.emulator.services.lambda_.event_filters import (
    Criteria,
    FilterPatternError,
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
