"""Amazon DynamoDB Streams (JSON 1.0, ``DynamoDBStreams_20120810.*``): ListStreams, DescribeStream,
GetShardIterator, GetRecords over the streams the DynamoDB service keeps (:mod:`.streams`).

A shard iterator is an opaque token naming the stream, the shard and the position after which the
next GetRecords reads.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.services.dynamodb.engine import _from_moto
from lambda_emu.emulator.services.dynamodb.streams import StreamRegistry, TableStream, stream_record

Params = dict[str, Any]
Result = dict[str, Any]

LIST_STREAMS_MAX = 100
GET_RECORDS_MAX = 1000


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message)


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


class DynamoDBStreamsService(Service):
    service_name = "dynamodbstreams"

    def __init__(self, streams: StreamRegistry, *, region: str) -> None:
        self.streams = streams
        self.region = region

    def json_error_type(self, error: AwsError) -> tuple[str, str]:
        return f"com.amazonaws.dynamodb.v20120810#{error.code}", error.query_code

    def _stream(self, arn: str) -> TableStream:
        stream = self.streams.get(arn)
        if stream is None:
            raise not_found(f"Requested resource not found: Stream: {arn} not found")
        return stream

    def ListStreams(self, params: Params) -> Result:
        table = params.get("TableName")
        limit = params.get("Limit") or LIST_STREAMS_MAX
        streams = [s for s in self.streams if table is None or s.table_name == table]
        start = params.get("ExclusiveStartStreamArn")
        if start is not None:
            arns = [s.arn for s in streams]
            streams = streams[arns.index(start) + 1:] if start in arns else []
        page = streams[:limit]
        result: Result = {"Streams": [{"StreamArn": s.arn, "TableName": s.table_name, "StreamLabel": s.label}
                                      for s in page]}
        if len(streams) > limit:
            result["LastEvaluatedStreamArn"] = page[-1].arn
        return result

    def DescribeStream(self, params: Params) -> Result:
        stream = self._stream(params["StreamArn"])
        shard = stream.log.shards[0]
        sequence_range: dict[str, str] = {"StartingSequenceNumber": str(shard.start_counter)}
        if not stream.enabled:
            sequence_range["EndingSequenceNumber"] = str(shard.last_counter)
        return {"StreamDescription": {
            "StreamArn": stream.arn,
            "StreamLabel": stream.label,
            "StreamStatus": stream.status,
            "StreamViewType": stream.view_type,
            "CreationRequestDateTime": stream.created_at,
            "TableName": stream.table_name,
            "KeySchema": stream.key_schema,
            "Shards": [{"ShardId": stream.shard_id, "SequenceNumberRange": sequence_range}],
        }}

    def GetShardIterator(self, params: Params) -> Result:
        stream = self._stream(params["StreamArn"])
        if params["ShardId"] != stream.shard_id:
            raise not_found(f"Requested resource not found: Shard does not exist: {params['ShardId']}")
        kind = params["ShardIteratorType"]
        sequence = params.get("SequenceNumber")
        log, inner = stream.log, stream.inner_shard_id
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence is None:
                raise validation("Must provide SequenceNumber for iterator type " + kind)
            cursor = stream.inner_sequence_number(sequence)
            if cursor is None:
                raise validation(f"Invalid SequenceNumber: {sequence}")
            counter = int(sequence)
            if kind == "AT_SEQUENCE_NUMBER":
                counter -= 1
            position = str(counter)
        elif kind == "TRIM_HORIZON":
            position = str(_counter(log.starting_sequence_number(inner, "TRIM_HORIZON")))
        else:
            position = str(_counter(log.starting_sequence_number(inner, "LATEST")))
        return {"ShardIterator": _iterator(stream.arn, stream.shard_id, position)}

    def GetRecords(self, params: Params) -> Result:
        arn, shard_id, position = _parse_iterator(params["ShardIterator"])
        stream = self._stream(arn)
        limit = params.get("Limit") or GET_RECORDS_MAX
        cursor = stream.inner_sequence_number(position)
        assert cursor is not None
        records = stream.log.read(stream.inner_shard_id, cursor, limit=limit)
        out = []
        for record in records:
            document = stream_record(stream.arn, stream.region, record)
            document["dynamodb"] = _from_moto(document["dynamodb"])
            identity = document.get("userIdentity")
            if identity is not None:
                # The API's Identity shape is capitalized; Lambda's event writes it in camelCase.
                document["userIdentity"] = {"PrincipalId": identity["principalId"], "Type": identity["type"]}
            out.append(document)
        result: Result = {"Records": out}
        last = str(records[-1].counter) if records else position
        shard = stream.log.shards[0]
        if stream.enabled or (records and records[-1].counter < shard.last_counter):
            result["NextShardIterator"] = _iterator(arn, shard_id, last)
        return result


def _counter(inner_sequence_number: str) -> int:
    return int(inner_sequence_number[23:])


def _iterator(arn: str, shard_id: str, position: str) -> str:
    text = json.dumps([arn, shard_id, position], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode("ascii")


def _parse_iterator(token: str) -> tuple[str, str, str]:
    try:
        arn, shard_id, position = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not str(position).isdigit():
            raise ValueError(position)
        return str(arn), str(shard_id), str(position)
    except (ValueError, TypeError) as exc:
        raise validation("Invalid ShardIterator") from exc
