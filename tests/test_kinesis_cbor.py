"""Kinesis over CBOR, as the AWS SDKs for Java and Kotlin speak it by default: requests built byte by byte
the way Jackson's CBORGenerator writes them (indefinite-length maps, byte strings for blobs, tag 1 with
epoch milliseconds for timestamps), answers checked down to their CBOR types."""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest

from lambda_emu.emulator.protocol import cbor
from tests.support import RunningServer, raw_request, unique

CBOR = "application/x-amz-cbor-1.1"


# ---- requests as Jackson writes them (independent of lambda-emu's encoder) ------------------------------


def head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | info]) + argument.to_bytes(size, "big")
    raise ValueError(argument)


def text(value: str) -> bytes:
    raw = value.encode()
    return head(3, len(raw)) + raw


def blob(value: bytes) -> bytes:
    return head(2, len(value)) + value


def millis(value: int) -> bytes:
    # SdkCborGenerator.writeValue(Instant): tag 1, then toEpochMilli() as a long.
    return b"\xc1\x1b" + struct.pack(">Q", value)


def jackson_map(*pairs: tuple[str, bytes]) -> bytes:
    return b"\xbf" + b"".join(text(key) + value for key, value in pairs) + b"\xff"


def cbor_call(server: RunningServer, operation: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    return raw_request(server.endpoint, "POST", "/", body, {
        "Content-Type": CBOR, "X-Amz-Target": f"Kinesis_20131202.{operation}"})


# ---- the codec against RFC 8949 Appendix A ---------------------------------------------------------------


@pytest.mark.parametrize(("encoded", "value"), [
    ("00", 0), ("17", 23), ("1818", 24), ("1903e8", 1000), ("1a000f4240", 1000000),
    ("1b000000e8d4a51000", 1000000000000), ("20", -1), ("3903e7", -1000), ("fb3ff199999999999a", 1.1),
    ("f93c00", 1.0), ("f4", False), ("f5", True), ("f6", None), ("60", ""), ("6449455446", "IETF"),
    ("4401020304", b"\x01\x02\x03\x04"), ("8301820203820405", [1, [2, 3], [4, 5]]),
    ("a26161016162820203", {"a": 1, "b": [2, 3]}), ("5f42010243030405ff", b"\x01\x02\x03\x04\x05"),
    ("7f657374726561646d696e67ff", "streaming"), ("9fff", []), ("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}),
    ("c11a514b67b0", cbor.Tagged(1, 1363896240)),
])
def test_codec_reads_rfc_8949_examples(encoded: str, value: Any) -> None:
    assert cbor.loads(bytes.fromhex(encoded)) == value


def test_codec_writes_what_it_reads() -> None:
    value = {"a": [1, -5, 2.5, True, None, b"\x00\xff", "ü"], "t": cbor.Tagged(1, 1_700_000_000_123)}
    assert cbor.loads(cbor.dumps(value)) == value
    assert cbor.dumps(cbor.Tagged(1, 1_700_000_000_123)) == b"\xc1\x1b" + struct.pack(">Q", 1_700_000_000_123)


# ---- Kinesis in CBOR ------------------------------------------------------------------------------------------


def test_put_and_get_binary_records_in_cbor(server: RunningServer, kinesis: Any) -> None:
    name = unique("cbor")
    status, headers, body = cbor_call(server, "CreateStream", jackson_map(("StreamName", text(name)),
                                                                        ("ShardCount", head(0, 1))))
    assert (status, headers["Content-Type"], body) == (200, CBOR, b"")
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    before = int(time.time() * 1000) - 1000

    data = bytes(range(256)) + b"\x00binary\xff"
    status, headers, body = cbor_call(server, "PutRecord", jackson_map(
        ("StreamName", text(name)), ("Data", blob(data)), ("PartitionKey", text("pk"))))
    assert (status, headers["Content-Type"]) == (200, CBOR)
    put = cbor.loads(body)
    assert put["ShardId"] == "shardId-000000000000" and put["SequenceNumber"].isdigit()

    # AT_TIMESTAMP with the Java SDK's millisecond timestamp.
    status, _, body = cbor_call(server, "GetShardIterator", jackson_map(
        ("StreamName", text(name)), ("ShardId", text("shardId-000000000000")),
        ("ShardIteratorType", text("AT_TIMESTAMP")), ("Timestamp", millis(before))))
    assert status == 200
    iterator = cbor.loads(body)["ShardIterator"]

    status, headers, body = cbor_call(server, "GetRecords", jackson_map(("ShardIterator", text(iterator)),
                                                                        ("Limit", head(0, 10))))
    assert (status, headers["Content-Type"]) == (200, CBOR)
    records = cbor.loads(body)["Records"]
    assert len(records) == 1
    record = records[0]
    assert record["Data"] == data and isinstance(record["Data"], bytes)  # a byte string, not base64 text
    assert (record["PartitionKey"], record["SequenceNumber"]) == ("pk", put["SequenceNumber"])
    arrival = record["ApproximateArrivalTimestamp"]
    # Tag 1 with integer epoch milliseconds (the SDKs parse it with Long.parseLong).
    assert isinstance(arrival, cbor.Tagged) and arrival.tag == 1 and isinstance(arrival.value, int)
    assert before <= arrival.value <= int(time.time() * 1000) + 1000

    # The same record through boto3 (JSON) is the same record.
    shard_iterator = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=shard_iterator)["Records"][0]["Data"] == data


def test_errors_in_cbor(server: RunningServer) -> None:
    missing = unique("missing")
    status, headers, body = cbor_call(server, "DescribeStream", jackson_map(("StreamName", text(missing))))
    assert (status, headers["Content-Type"], headers["x-amzn-ErrorType"]) == (400, CBOR, "ResourceNotFoundException")
    error = cbor.loads(body)
    assert error["__type"] == "ResourceNotFoundException"
    assert error["message"] == f"Stream {missing} under account 000000000000 not found."
    # Validation and serialization problems as in JSON.
    status, _, body = cbor_call(server, "DescribeStream", jackson_map(("StreamName", text(""))))
    assert (status, cbor.loads(body)["__type"]) == (400, "ValidationException")
    status, _, body = cbor_call(server, "DescribeStream", jackson_map(("StreamName", head(0, 5))))
    assert (status, cbor.loads(body)) == (400, {
        "__type": "SerializationException",
        "Message": "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"})
    for broken in (b"", b"\xbf\x61", b"\xff", b"\x9f\xff"):
        status, _, body = cbor_call(server, "ListStreams", broken)
        assert status == 400 and cbor.loads(body)["__type"] == "SerializationException"
    status, headers, body = raw_request(server.endpoint, "POST", "/", b"\xbf\xff",
                                        {"Content-Type": CBOR, "X-Amz-Target": "Kinesis_20131202.Whatever"})
    assert (status, headers["Content-Type"], cbor.loads(body)) == (400, CBOR, {"__type": "UnknownOperationException"})


def test_subscribe_to_shard_streams_cbor_events_to_a_cbor_call(server: RunningServer, kinesis: Any) -> None:
    """A CBOR SubscribeToShard (the Java SDK's enhanced fan-out) gets its events in CBOR: byte strings for
    record data, tag 1 milliseconds for arrival times, each message's `:content-type` the CBOR one."""
    import http.client
    from urllib.parse import urlsplit

    from botocore.eventstream import EventStreamBuffer

    name = unique("cbor-efo")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name)
    stream_arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn, ConsumerName="java")["Consumer"]["ConsumerARN"]
    data = b"\x00--RECORD--\xff"
    kinesis.put_record(StreamName=name, PartitionKey="pk", Data=data)
    target = urlsplit(server.endpoint)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    try:
        connection.request("POST", "/", jackson_map(
            ("ConsumerARN", text(consumer)), ("ShardId", text("shardId-000000000000")),
            ("StartingPosition", jackson_map(("Type", text("TRIM_HORIZON"))))),
            {"Content-Type": CBOR, "X-Amz-Target": "Kinesis_20131202.SubscribeToShard"})
        response = connection.getresponse()
        assert (response.status, response.headers["Content-Type"]) == (200, "application/vnd.amazon.eventstream")
        messages: list[Any] = []
        buffer = EventStreamBuffer()
        while len(messages) < 2:
            chunk = response.read1(65536)
            assert chunk, messages
            buffer.add_data(chunk)
            messages.extend(buffer)
    finally:
        connection.close()
    initial, first = messages[:2]
    assert initial.headers == {":message-type": "event", ":event-type": "initial-response", ":content-type": CBOR}
    assert cbor.loads(initial.payload) == {}
    assert first.headers == {":message-type": "event", ":event-type": "SubscribeToShardEvent", ":content-type": CBOR}
    event = cbor.loads(first.payload)
    record = event["Records"][0]
    assert record["Data"] == data and isinstance(record["Data"], bytes)
    arrival = record["ApproximateArrivalTimestamp"]
    assert isinstance(arrival, cbor.Tagged) and arrival.tag == 1 and isinstance(arrival.value, int)
    assert event["ContinuationSequenceNumber"] == record["SequenceNumber"]
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
