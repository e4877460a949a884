"""Review of issue 5's mapping API against AWS's answers: the stream wording of a duplicate mapping's
conflict, and a missing StartingPosition refused as InvalidParameterValueException before any
duplicate check."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, unique


@pytest.fixture(scope="module")
def kinesis(manual_server: RunningServer) -> Any:
    return manual_server.client("kinesis")


def refused(lam: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(**params)
    error = excinfo.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_stream_mapping_conflict_and_validation_order(manual_lam: Any, kinesis: Any) -> None:
    stream = unique("s")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    name = create_python_function(manual_lam, "def handler(event, context):\n    return None\n")
    missing_position = (400, "InvalidParameterValueException",
                        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                        "Member must not be null.")
    assert refused(manual_lam, FunctionName=name, EventSourceArn=stream_arn) == missing_position
    existing = manual_lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn,
                                                      StartingPosition="LATEST")["UUID"]
    try:
        # The request is validated before it is compared with existing mappings.
        assert refused(manual_lam, FunctionName=name, EventSourceArn=stream_arn) == missing_position
        assert refused(manual_lam, FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST") == (
            409, "ResourceConflictException",
            f'The event source arn (" {stream_arn} ") and function (" {name} ") provided mapping already exists. '
            f"Please update or delete the existing mapping with UUID {existing}")
    finally:
        manual_lam.delete_event_source_mapping(UUID=existing)
