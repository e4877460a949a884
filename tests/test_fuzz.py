"""No 5xx for a client's mistake, searched for: type-wrong values for every member of every operation
lambda-emu serves (from botocore's models), in every protocol it speaks, plus raw malformed bodies.
Any 5xx fails. Bounded to well under a minute.

Every request goes to a server of its own, so nothing created by accident here shows up elsewhere.
"""

from __future__ import annotations

import http.client
import json
import math
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_emu.emulator.protocol.shapes import service_model
from tests.support import RunningServer

JSON_TYPES = {"sqs": "application/x-amz-json-1.0", "kinesis": "application/x-amz-json-1.1"}


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[RunningServer]:
    running = RunningServer().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(fuzz_server: RunningServer) -> Client:
    return Client(fuzz_server.endpoint)


class Client:
    """One keep-alive connection (thousands of requests: no per-request connect)."""

    def __init__(self, endpoint: str) -> None:
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closes a connection after some refusals; a fresh one is no failure.
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def served(service: str) -> list[OperationModel]:
    """The operations lambda-emu implements, from the service class itself."""
    from lambda_emu.emulator.services.kinesis.api import KinesisService
    from lambda_emu.emulator.services.lambda_.api import LambdaService
    from lambda_emu.emulator.services.sqs.api import SqsService

    cls = {"lambda": LambdaService, "sqs": SqsService, "kinesis": KinesisService}[service]
    model = service_model(service)
    return [model.operation_model(name) for name in model.operation_names if callable(getattr(cls, name, None))]


# ---- type-wrong values ----

SCALARS: list[Any] = [None, True, 0, -1, 2**63, 1.5, math.nan, math.inf, "", "x" * 300, "\u0000\ud7ff", [], {},
                      [None], {"k": None}, [[[]]], {"a": {"b": [1]}}]


def wrong_values(shape: Shape) -> list[Any]:
    """A value of every JSON type but the shape's own, and for containers, wrong things inside."""
    kind = shape.type_name
    own = {
        "string": str, "blob": str, "boolean": bool, "integer": int, "long": int, "float": float,
        "double": float, "timestamp": float, "list": list, "map": dict, "structure": dict,
    }.get(kind)
    values = [v for v in SCALARS if own is None or not isinstance(v, own) or v in ("", [], {})]
    if kind == "list":
        values += [[v] for v in wrong_values_flat(shape.member)]
    elif kind == "map":
        values += [{"k": v} for v in wrong_values_flat(shape.value)]
    elif kind == "structure":
        values += [{name: v} for name, member in shape.members.items() for v in wrong_values_flat(member)[:3]]
    elif kind == "timestamp":
        values += [1e300, -1e300, "not a date", "99999999999999999"]
    elif kind == "blob":
        values += ["not base64!", "a"]
    return values


def wrong_values_flat(shape: Shape) -> list[Any]:
    kind = shape.type_name
    if kind in ("list", "map", "structure"):
        return ["x", 1, None, [None], {"k": None}]
    return [v for v in SCALARS if not isinstance(v, list | dict)] + [[1], {"k": 1}]


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# ---- requests in each protocol ----


def rest_json_request(op: OperationModel, members: dict[str, Any]) -> tuple[str, str, bytes | None, dict[str, str]]:
    """A Lambda request: members go where the model says (uri label, query string, header, body)."""
    shape = op.input_shape
    labels: dict[str, str] = {}
    query: list[str] = []
    headers = {"Content-Type": "application/json"}
    body: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload") if shape is not None else None
    raw_payload: bytes | None = None
    for name, member in (shape.members.items() if shape is not None else []):
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri":
            labels[wire] = text_of(members.get(name, "fuzz-function"))
        elif name not in members:
            continue
        elif where == "querystring":
            query.append(f"{quote(wire)}={quote(text_of(members[name]), safe='')}")
        elif where == "header":
            headers[wire] = "".join(c for c in text_of(members[name]) if c in string.printable[:95])
        elif name == payload_name:
            value = members[name]
            raw_payload = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else \
                json.dumps(value).encode()
        else:
            body[name] = members[name]
    path = op.http["requestUri"].split("?", 1)
    uri = path[0]
    for label, value in labels.items():
        uri = uri.replace("{" + label + "+}", quote(value, safe="")).replace("{" + label + "}", quote(value, safe=""))
    if len(path) > 1:
        query.append(path[1])
    if query:
        uri += "?" + "&".join(query)
    data = raw_payload if raw_payload is not None else (json.dumps(body).encode() if body else None)
    return op.http["method"], uri, data, headers


def json_request(service: str, op: OperationModel, members: dict[str, Any]) -> tuple[str, str, bytes, dict[str, str]]:
    prefix = service_model(service).metadata["targetPrefix"]
    headers = {"Content-Type": JSON_TYPES[service], "X-Amz-Target": f"{prefix}.{op.name}"}
    return "POST", "/", json.dumps(members).encode(), headers


def request_for(service: str, op: OperationModel, members: dict[str, Any]) -> tuple[str, str, bytes | None,
                                                                                   dict[str, str]]:
    if service == "lambda":
        return rest_json_request(op, members)
    return json_request(service, op, members)


def assert_no_5xx(client: Client, request: tuple[str, str, bytes | None, dict[str, str]]) -> None:
    status, data = client.send(*request)
    assert status < 500, f"{status} for {request[0]} {request[1][:200]} {request[3]} " \
                         f"{(request[2] or b'')[:300]!r}: {data[:500]!r}"


# ---- the sweep: every member of every served operation, every wrong type ----


@pytest.mark.parametrize("service", ["lambda", "sqs", "kinesis"])
def test_every_member_of_every_operation_with_every_wrong_type(client: Client, service: str) -> None:
    operations = served(service)
    assert operations
    sent = 0
    for op in operations:
        if op.input_shape is None:
            assert_no_5xx(client, request_for(service, op, {}))
            continue
        for name, member in op.input_shape.members.items():
            for value in wrong_values(member):
                assert_no_5xx(client, request_for(service, op, {name: value}))
                sent += 1
    assert sent > 100


# ---- Hypothesis: random combinations, and raw malformed bodies ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
SERVED = {service: served(service) for service in ("lambda", "sqs", "kinesis")}


@st.composite
def wrong_requests(draw: st.DrawFn) -> tuple[str, str, bytes | None, dict[str, str]]:
    service = draw(st.sampled_from(sorted(SERVED)))
    op = draw(st.sampled_from(SERVED[service]))
    members: dict[str, Any] = {}
    if op.input_shape is not None:
        names = sorted(op.input_shape.members)
        for name in draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True)) if names else []:
            member = op.input_shape.members[name]
            members[name] = draw(st.sampled_from(wrong_values(member)) | json_values)
    return request_for(service, op, members)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=wrong_requests())
def test_random_wrong_members(client: Client, request: tuple[str, str, bytes | None, dict[str, str]]) -> None:
    assert_no_5xx(client, request)


ENDPOINTS = [
    ("POST", "/2015-03-31/functions", {"Content-Type": "application/json"}),
    ("POST", "/2015-03-31/functions/fuzz/invocations", {"Content-Type": "application/json"}),
    ("PUT", "/2015-03-31/functions/fuzz/configuration", {"Content-Type": "application/json"}),
    ("POST", "/2015-03-31/event-source-mappings/", {"Content-Type": "application/json"}),
    ("POST", "/", {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessageBatch"}),
    ("POST", "/", {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.CreateQueue"}),
    ("POST", "/", {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.PutRecords"}),
    ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/_emu/clock/advance", {"Content-Type": "application/json"}),
    ("POST", "/_emu/faults", {"Content-Type": "application/json"}),
]

malformed_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.lists(st.tuples(st.sampled_from(["Action", "QueueUrl", "Entries.1.Id", "AWSAccountIds.1.Name",
                                        "Attribute.1.Name", "Tag.1.Key", "MessageBody", "X.1.Y.2"]),
                       st.text(max_size=10)), max_size=5)
    .map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()),
)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(endpoint=st.sampled_from(ENDPOINTS), body=malformed_bodies)
def test_raw_malformed_bodies(client: Client, endpoint: tuple[str, str, dict[str, str]], body: bytes) -> None:
    method, path, headers = endpoint
    assert_no_5xx(client, (method, path, body, headers))
