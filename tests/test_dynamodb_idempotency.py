"""The idempotency store, tried as a new user would: handlers whose own boto3 reaches lambda-emu's
DynamoDB (AWS_ENDPOINT_URL), under lambda-emu's injected duplicates, retries and lost responses.

- the seed's conditional put (``attribute_not_exists``): one item; the duplicate delivery gets
  ConditionalCheckFailedException;
- Powertools' ``@idempotent`` with ``DynamoDBPersistenceLayer`` (Powertools shipped as a layer): the
  side effect happens once, and a second call returns the stored result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import RunningServer, create_python_function, powertools_layer, unique

CONDITIONAL_PUT = """
import json, os
import boto3
from botocore.exceptions import ClientError

table = boto3.client("dynamodb")

def handler(event, context):
    try:
        table.put_item(TableName=os.environ["TABLE"], Item={"UserId": {"S": event["user"]}},
                       ConditionExpression="attribute_not_exists(UserId)")
        outcome = "created"
    except ClientError as error:
        outcome = error.response["Error"]["Code"]
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "outcome": outcome}) + "\\n")
"""

POWERTOOLS = """
import json, os
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent

persistence = DynamoDBPersistenceLayer(table_name=os.environ["TABLE"])
config = IdempotencyConfig(event_key_jmespath="order")

@idempotent(persistence_store=persistence, config=config)
def handler(event, context):
    # The side effect: a card charged.
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"requestId": context.aws_request_id, "order": event["order"]}) + "\\n")
    return {"charged": event["order"], "by": context.aws_request_id}
"""


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningServer]:
    running = RunningServer(clock="manual", seed=15).start()
    yield running
    running.stop()


def lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines() if line] if out.exists() else []


def table(emu: RunningServer, key: str) -> str:
    name = unique("idempotency")
    emu.client("dynamodb").create_table(TableName=name, KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                                        BillingMode="PAY_PER_REQUEST")
    return name


def faults(emu: RunningServer, **body: Any) -> Any:
    return emu.emu_post("/_emu/faults", body)


def test_conditional_put_under_injected_duplicates(emu: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    name = table(emu, "UserId")
    function = create_python_function(emu.client("lambda"), CONDITIONAL_PUT,
                                      Environment={"Variables": {"OUT": str(out), "TABLE": name}})
    faults(emu, functionName=function, duplicateRate=1.0)
    emu.client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=b'{"user": "u-1"}')
    emu.settle(600)
    handled = lines(out)
    assert sorted(h["outcome"] for h in handled) == ["ConditionalCheckFailedException", "created"]
    assert handled[0]["requestId"] == handled[1]["requestId"]  # one event, delivered twice
    items = emu.client("dynamodb").scan(TableName=name)["Items"]
    assert items == [{"UserId": {"S": "u-1"}}]
    assert [a.get("duplicate", False) for a in emu.invocations(function)] == [False, True]


@pytest.fixture(scope="module")
def charge(emu: RunningServer) -> tuple[str, str]:
    """The Powertools handler (Powertools as a layer) and its persistence table (key ``id``)."""
    return table(emu, "id"), powertools_layer(emu.client("lambda"))


def powertools_function(emu: RunningServer, charge: tuple[str, str], out: Path) -> str:
    name, layer = charge
    return create_python_function(emu.client("lambda"), POWERTOOLS, Layers=[layer], Timeout=30,
                                  Environment={"Variables": {"OUT": str(out), "TABLE": name}})


def test_powertools_second_call_returns_the_stored_result(emu: RunningServer, charge: tuple[str, str],
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    function = powertools_function(emu, charge, out)
    lam = emu.client("lambda")
    first = json.loads(lam.invoke(FunctionName=function, Payload=b'{"order": "o-1"}')["Payload"].read())
    second = json.loads(lam.invoke(FunctionName=function, Payload=b'{"order": "o-1"}')["Payload"].read())
    assert first == second and first["charged"] == "o-1"
    assert [h["order"] for h in lines(out)] == ["o-1"]  # charged once
    record = [i for i in emu.client("dynamodb").scan(TableName=charge[0])["Items"]
              if json.loads(i["data"]["S"]) == first]
    assert len(record) == 1 and record[0]["status"] == {"S": "COMPLETED"}


def test_powertools_under_duplicates_and_lost_responses(emu: RunningServer, charge: tuple[str, str],
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    function = powertools_function(emu, charge, out)
    lam = emu.client("lambda")
    # Every delivery duplicated, every response lost: the async event is retried twice after the
    # "timeout", each attempt delivered twice — six runs of the handler, one charge.
    faults(emu, functionName=function, duplicateRate=1.0, lostResponseRate=1.0)
    lam.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"order": "o-2"}')
    emu.settle(3600)
    attempts = emu.invocations(function)
    assert len(attempts) == 6
    assert {a.get("fault") for a in attempts if not a.get("duplicate")} == {"lostResponseRate"}
    assert [h["order"] for h in lines(out)] == ["o-2"]
    faults(emu, functionName=function, duplicateRate=0.0, lostResponseRate=0.0)
    again = json.loads(lam.invoke(FunctionName=function, Payload=b'{"order": "o-2"}')["Payload"].read())
    assert again["charged"] == "o-2" and again["by"] == lines(out)[0]["requestId"]
    assert len(lines(out)) == 1
