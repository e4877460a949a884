"""Event filtering (issue 14): FilterCriteria on SQS and Kinesis mappings through boto3 against the
real server on the manual clock — every operator with matching and non-matching records, both SQS body
formats, Kinesis data, filtered SQS messages deleted, the stream checkpoint moved past filtered records,
no batch slot taken, the journal's filteredOut count, refused patterns, ``FilterCriteria: {}``, and a
SAM template's FilterCriteria."""

from __future__ import annotations

import base64
import io
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_emu.emulator.invocation.narration import Terminal
from tests.support import RunningServer, delivered, error_of, new_function, unique
from tests.test_kinesis_esm import OK_HANDLER, decoded, new_stream, put
from tests.test_sqs_esm import bodies, counts, mappings, rig
from tests.test_template import load, write_template

__all__ = ["mappings"]  # a fixture, imported for this module's tests


def criteria(*patterns: Any) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}


# (operator, body pattern, matching body, non-matching body) — JSON bodies
OPERATORS = [
    ("null", {"a": [None]}, {"a": None}, {"a": "x"}),
    ("empty", {"a": [""]}, {"a": ""}, {"a": "x"}),
    ("equals", {"a": ["Alice"]}, {"a": "Alice"}, {"a": "alice"}),
    ("equals-ignore-case", {"a": [{"equals-ignore-case": "alice"}]}, {"a": "ALICE"}, {"a": "Bob"}),
    ("and-or", {"a": ["x", "y"], "b": ["z"]}, {"a": "y", "b": "z"}, {"a": "y", "b": "q"}),
    ("$or", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"b": "y"}, {"a": "q"}),
    ("anything-but", {"a": [{"anything-but": ["Raining"]}]}, {"a": "Sunny"}, {"a": "Raining"}),
    ("numeric", {"a": [{"numeric": [">", 10, "<=", 20]}]}, {"a": 15}, {"a": 25}),
    ("exists", {"a": [{"exists": True}]}, {"a": 1}, {"b": 1}),
    ("not-exists", {"a": [{"exists": False}]}, {"b": 1}, {"a": 1}),
    ("prefix", {"a": [{"prefix": "us-"}]}, {"a": "us-east-1"}, {"a": "eu-west-1"}),
    ("suffix", {"a": [{"suffix": ".png"}]}, {"a": "cat.png"}, {"a": "cat.jpg"}),
]


@pytest.mark.parametrize(("name", "pattern", "yes", "no"), OPERATORS, ids=[o[0] for o in OPERATORS])
def test_sqs_operator_delivers_matches_and_deletes_the_rest(
        manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any, tmp_path: Path,
        name: str, pattern: dict[str, Any], yes: Any, no: Any) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, FilterCriteria=criteria({"body": pattern}))
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[
        {"Id": "no", "MessageBody": json.dumps(no)}, {"Id": "yes", "MessageBody": json.dumps(yes)}])
    manual_server.advance(0)
    assert bodies(r.out) == [[json.dumps(yes)]]
    assert counts(manual_sqs, r.url) == (0, 0)  # the filtered message was deleted, not left in flight
    [attempt] = manual_server.invocations(r.function)
    assert attempt["sourceDetail"]["filteredOut"] == 1


def test_sqs_plain_body_and_the_format_matrix(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                              mappings: Any, tmp_path: Path) -> None:
    # A plain pattern filters plain bodies; a JSON body never matches it. A JSON pattern (second filter)
    # never matches a plain body.
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path,
            FilterCriteria=criteria({"body": [{"prefix": "order"}]}, {"body": {"kind": ["order"]}}))
    sent = ["order 1", "refund 2", '"order 3"', '{"kind": "order"}', '{"kind": "refund"}', "{not json"]
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": str(i), "MessageBody": b}
                                                           for i, b in enumerate(sent)])
    manual_server.advance(0)
    assert bodies(r.out) == [["order 1", '{"kind": "order"}']]
    assert counts(manual_sqs, r.url) == (0, 0)


def test_sqs_metadata_filter_and_filtered_records_take_no_batch_slot(
        manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, BatchSize=3, MaximumBatchingWindowInSeconds=5,
            FilterCriteria=criteria({"messageAttributes": {"keep": {"stringValue": ["yes"]}}}))
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}", "MessageAttributes": {
            "keep": {"DataType": "String", "StringValue": "yes" if i % 3 == 0 else "no"}}}
        for i in range(9)])
    manual_server.advance(0)
    assert bodies(r.out) == [["m0", "m3", "m6"]]  # one full batch of 3, no window wait
    assert counts(manual_sqs, r.url) == (0, 0)  # m7 and m8 too, filtered after the batch went out
    [attempt] = manual_server.invocations(r.function)
    assert attempt["sourceDetail"]["filteredOut"] == 4  # m1, m2, m4, m5


def test_sqs_everything_filtered_out_is_deleted_without_an_invocation(
        manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any, tmp_path: Path) -> None:
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, FilterCriteria=criteria({"body": ["never"]}))
    manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(4)])
    manual_server.advance(0)
    assert bodies(r.out) == []
    assert manual_server.invocations(r.function) == []
    assert counts(manual_sqs, r.url) == (0, 0)


def test_filter_criteria_api_echo_update_remove_and_refusals(
        manual_server: RunningServer, manual_lam: Any, manual_sqs: Any, mappings: Any, tmp_path: Path) -> None:
    given = criteria({"body": {"a": ["x"]}})
    r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, FilterCriteria=given)
    assert manual_lam.get_event_source_mapping(UUID=r.uuid)["FilterCriteria"] == given
    invalid = [None, "not json", '{"eventSource": "aws:sqs"}', '{"eventSource": []}', "{",
               '{"a": [{"prefix": 1}]}']
    for pattern in invalid:
        filt: dict[str, Any] = {} if pattern is None else {"Pattern": pattern}
        for call in (lambda f: manual_lam.update_event_source_mapping(UUID=r.uuid, FilterCriteria=f),
                     lambda f: manual_lam.create_event_source_mapping(
                         FunctionName=r.function, EventSourceArn=r.arn, FilterCriteria=f)):
            with pytest.raises(ClientError) as raised:
                call({"Filters": [filt]})
            status, code, message, _ = error_of(raised.value)
            assert (status, code, message) == (400, "InvalidParameterValueException",
                                               "Invalid filter pattern definition.")
    assert manual_lam.get_event_source_mapping(UUID=r.uuid)["FilterCriteria"] == given  # refused: unchanged
    # FilterCriteria: {} removes the filters: every message is delivered again.
    updated = manual_lam.update_event_source_mapping(UUID=r.uuid, FilterCriteria={})
    assert "FilterCriteria" not in updated
    manual_server.advance(0)
    manual_sqs.send_message(QueueUrl=r.url, MessageBody="plain")
    manual_server.advance(0)
    assert bodies(r.out) == [["plain"]]
    assert "filteredOut" not in manual_server.invocations(r.function)[0]["sourceDetail"]


# ---- Kinesis --------------------------------------------------------------------------------------


def test_kinesis_filters(manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, tmp_path: Path,
                         mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    pattern = {"data": {"t": [{"numeric": [">", 0]}], "kind": [{"anything-but": "noise"}]}}
    esm = mapping(name, stream_arn, BatchSize=2, FilterCriteria=criteria(pattern))
    values = ['{"t": 5, "kind": "a"}', "plain text", '{"t": -1, "kind": "a"}', '{"t": 7, "kind": "noise"}',
              '{"t": 9, "kind": "b"}', '{"t": 0, "kind": "c"}']
    put(manual_kinesis, stream, values)
    manual_server.advance(0)
    # Filtered records take no batch slot: the two matches make one batch of 2.
    assert [decoded(c["event"]) for c in delivered(out)] == [[values[0], values[4]]]
    [attempt] = manual_server.invocations(name)
    assert attempt["sourceDetail"]["filteredOut"] == 4
    # The checkpoint moved past the filtered records: with the filters removed and the mapping restarted
    # (from its checkpoints), none of them comes back.
    manual_lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)
    manual_server.advance(0)
    manual_lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True, FilterCriteria={})
    manual_server.advance(0)
    put(manual_kinesis, stream, ["after"])
    manual_server.advance(0)
    assert [decoded(c["event"]) for c in delivered(out)] == [[values[0], values[4]], ["after"]]


def test_kinesis_metadata_filter_and_plain_data_pattern_refused(
        manual_server: RunningServer, manual_lam: Any, manual_kinesis: Any, tmp_path: Path, mapping: Any) -> None:
    name, out = new_function(manual_lam, tmp_path, OK_HANDLER)
    stream, stream_arn = new_stream(manual_kinesis)
    with pytest.raises(ClientError) as raised:
        mapping(name, stream_arn, FilterCriteria=criteria({"data": ["plain"]}))
    assert error_of(raised.value)[:3] == (400, "InvalidParameterValueException", "Invalid filter pattern definition.")
    mapping(name, stream_arn, FilterCriteria=criteria({"partitionKey": [{"prefix": "keep-"}]}))
    put(manual_kinesis, stream, ["a"], key="keep-1")
    put(manual_kinesis, stream, ["b"], key="drop-1")
    put(manual_kinesis, stream, ["c"], key="keep-2")
    manual_server.advance(0)
    assert [v for c in delivered(out) for v in decoded(c["event"])] == ["a", "c"]


# ---- SAM ------------------------------------------------------------------------------------------


def test_sam_template_filter_criteria(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                     manual_kinesis: Any, tmp_path: Path) -> None:
    """A SAM template's Events FilterCriteria (SQS and Kinesis) reaches the mappings and is applied."""
    (tmp_path / "src").mkdir()
    out = tmp_path / "out.jsonl"
    (tmp_path / "src" / "app.py").write_text(textwrap.dedent(f"""
        import json
        def handler(event, context):
            with open({str(out)!r}, "a") as f:
                f.write(json.dumps(event) + "\\n")
    """))
    fn, queue, stream = unique("samfn"), unique("samq"), unique("sams")
    path = write_template(tmp_path, f"""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Orders:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: {queue}
          Stream:
            Type: AWS::Kinesis::Stream
            Properties:
              Name: {stream}
              ShardCount: 1
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: {fn}
              Runtime: python3.11
              Handler: app.handler
              CodeUri: src/
              Events:
                Queue:
                  Type: SQS
                  Properties:
                    Queue: !GetAtt Orders.Arn
                    FilterCriteria:
                      Filters:
                        - Pattern: '{{"body": {{"kind": ["order"]}}}}'
                Kinesis:
                  Type: Kinesis
                  Properties:
                    Stream: !GetAtt Stream.Arn
                    StartingPosition: TRIM_HORIZON
                    FilterCriteria:
                      Filters:
                        - Pattern: '{{"data": {{"kind": ["order"]}}}}'
    """)
    load(manual_server, path)
    manual_server.advance(0)
    esms = manual_lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    try:
        assert sorted(m["FilterCriteria"]["Filters"][0]["Pattern"] for m in esms) == [
            '{"body": {"kind": ["order"]}}', '{"data": {"kind": ["order"]}}']
        url = manual_sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        manual_sqs.send_message(QueueUrl=url, MessageBody='{"kind": "order"}')
        manual_sqs.send_message(QueueUrl=url, MessageBody='{"kind": "refund"}')
        manual_kinesis.put_record(StreamName=stream, Data=b'{"kind": "refund"}', PartitionKey="k")
        manual_kinesis.put_record(StreamName=stream, Data=b'{"kind": "order"}', PartitionKey="k")
        manual_server.advance(0)
        records = [r for line in out.read_text().splitlines() for r in json.loads(line)["Records"]]
        assert sorted(r.get("body") or base64.b64decode(r["kinesis"]["data"]).decode() for r in records) == [
            '{"kind": "order"}', '{"kind": "order"}']
        assert counts(manual_sqs, url) == (0, 0)
    finally:
        for esm in esms:
            manual_lam.delete_event_source_mapping(UUID=esm["UUID"])
        manual_server.advance(0)


def test_terminal_counts_what_each_batch_left_out(manual_server: RunningServer, manual_lam: Any, manual_sqs: Any,
                                                 mappings: Any, tmp_path: Path) -> None:
    """The narration (as `lambda-emu up` prints it): a batch's line says how many records the filters
    dropped; records dropped with nothing left to deliver get a line of their own."""
    assert manual_server.emu is not None
    stream = io.StringIO()
    narration = manual_server.emu.narration
    narration.terminal = Terminal(stream, color=False)
    try:
        r = rig(manual_server, manual_lam, manual_sqs, mappings, tmp_path, FilterCriteria=criteria({"body": ["keep"]}))
        queue = r.url.rsplit("/", 1)[-1]
        manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[
            {"Id": "1", "MessageBody": "drop"}, {"Id": "2", "MessageBody": "keep"}, {"Id": "3", "MessageBody": "x"}])
        manual_server.advance(0)
        manual_sqs.send_message_batch(QueueUrl=r.url, Entries=[{"Id": "1", "MessageBody": "drop"}])
        manual_server.advance(0)
    finally:
        narration.terminal = None
    lines = [line for line in stream.getvalue().splitlines() if f"sqs {queue}:" in line]
    assert lines == [f"[{r.function}] sqs {queue}: batch of 1 (2 filtered out) succeeded → deleted",
                     f"[{r.function}] sqs {queue}: 1 filtered out (FilterCriteria) → deleted"]
