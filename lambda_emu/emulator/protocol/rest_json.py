"""AWS rest-json (Lambda): routes from the model's requestUri, members from uri/querystring/header/payload."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from aiohttp import web

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.protocol.shapes import (
    header_text,
    parse_header_value,
    parse_json_value,
    serialization_error,
    service_model,
    to_json_value,
)
from lambda_emu.emulator.protocol.validation import validate

if TYPE_CHECKING:
    from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape


@dataclass(frozen=True)
class Route:
    op: OperationModel
    method: str
    regex: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str | None], ...]  # literal query parts of the requestUri
    weight: int


#: Paths whose route is remembered; the cache starts over when full (paths are few in practice).
ROUTE_CACHE_SIZE = 4096


def _compile(op: OperationModel) -> Route:
    uri = op.http["requestUri"]
    path, _, literal_query = uri.partition("?")
    labels: list[str] = []
    pattern = ""
    weight = 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            labels.append(name)
            pattern += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(piece)
            weight += len(piece)
    query: list[tuple[str, str | None]] = []
    for part in filter(None, literal_query.split("&")):
        key, eq, val = part.partition("=")
        query.append((key, val if eq else None))
        weight += 100  # a literal query makes a route more specific than its twin without one
    return Route(op, op.http["method"], re.compile(pattern + "/?$"), tuple(labels), tuple(query), weight)


#: An operation's input as the parser reads it: the payload member's name, the members read from the URI,
#: query string or headers (name, shape, location, wire name) in model order, and the JSON body's members.
InputPlan = tuple["str | None", "list[tuple[str, Shape, str, str]]", "dict[str, Shape]"]

_LOCATIONS = ("uri", "querystring", "header", "headers")


def _input_plan(shape: StructureShape) -> InputPlan:
    payload_name = shape.serialization.get("payload")
    located: list[tuple[str, Shape, str, str]] = []
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        if where in _LOCATIONS:
            located.append((name, member, where, member.serialization.get("name", name)))
        elif name != payload_name:
            body_members[name] = member
    return payload_name, located, body_members


def _output_plan(shape: StructureShape) -> tuple[str | None, list[tuple[str, Shape, str, str]]]:
    located: list[tuple[str, Shape, str, str]] = []
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        if where in ("statusCode", "header", "headers"):
            located.append((name, member, where, member.serialization.get("name", name)))
    return shape.serialization.get("payload"), located


class RestJsonRouter:
    def __init__(self, model: ServiceModel, service: Service) -> None:
        self.model = model
        self.service = service
        routes = [_compile(model.operation_model(name)) for name in model.operation_names]
        routes.sort(key=lambda r: -r.weight)
        self.routes = routes
        self._query_routes = [route for route in routes if route.query]
        self._cache: dict[tuple[str, str], tuple[Route, dict[str, str]]] = {}
        #: Per operation, its input read off the model once (not on every request): see _input_plan.
        self._inputs: dict[str, InputPlan] = {}
        #: Likewise its output: the payload member's name and the members that go to the status or headers.
        self._outputs: dict[str, tuple[str | None, list[tuple[str, Shape, str, str]]]] = {}

    def match(self, request: web.Request) -> tuple[Route, dict[str, str]] | None:
        raw_path = request.raw_path.split("?", 1)[0]
        # Clients call the same few paths again and again (one function's invocations): remember them.
        key = (request.method, raw_path)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found = self._match(request, raw_path)
        # A path that a route with a literal query also matches (GetProvisionedConcurrencyConfig and its
        # ?List=ALL twin) is routed by its query every time: the cache keys on the path alone.
        if found is not None and not found[0].query and not any(
                route.query and route.method == request.method and route.regex.match(raw_path)
                for route in self._query_routes):
            if len(self._cache) >= ROUTE_CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _match(self, request: web.Request, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != request.method:
                continue
            found = route.regex.match(raw_path)
            if found is None:
                continue
            if any(
                key not in request.query or (val is not None and request.query.get(key) != val)
                for key, val in route.query
            ):
                continue
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    async def handle(self, request: web.Request, route: Route, labels: dict[str, str], body: bytes) -> web.Response:
        op = route.op
        params = self._parse(op, request, labels, body)
        problems = validate(op.input_shape, params, enums=self.service.validate_enums, model=self.model,
                            nullable_elements=self.service.nullable_elements)
        if problems:
            raise self.service.validation_error(problems)
        method = self.service.operation(op.name)
        if method is None:
            raise AwsError("UnsupportedOperationException",
                           f"lambda-emu does not implement {self.model.service_name}:{op.name}", 400)
        result = await context.call_operation(method, params)
        return self._serialize(op, result)

    # ---- input ----

    def _parse(self, op: OperationModel, request: web.Request, labels: dict[str, str], body: bytes) -> dict[str, Any]:
        shape = op.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        plan = self._inputs.get(op.name)
        if plan is None:
            plan = self._inputs[op.name] = _input_plan(shape)
        payload_name, located, body_members = plan
        for name, member, where, wire in located:
            if where == "uri":
                if wire in labels:
                    # A numeric label (a layer's VersionNumber) is a number, or the request is malformed.
                    numeric = member.type_name in ("integer", "long")
                    params[name] = parse_header_value(member, labels[wire]) if numeric else labels[wire]
            elif where == "querystring":
                if member.type_name == "list":
                    values = request.query.getall(wire, [])
                    if values:
                        item_shape = cast("ListShape", member).member
                        params[name] = [parse_header_value(item_shape, v) for v in values]
                elif wire in request.query:
                    params[name] = parse_header_value(member, request.query[wire])
            elif where == "header":
                if wire in request.headers:
                    params[name] = parse_header_value(member, request.headers[wire])
            elif where == "headers":
                prefix = wire.lower()
                found = {k[len(prefix):]: v for k, v in request.headers.items() if k.lower().startswith(prefix)}
                if found:
                    params[name] = found
        if payload_name:
            member = shape.members[payload_name]
            if member.type_name in ("blob", "string"):
                params[payload_name] = body if member.type_name == "blob" else body.decode()
            elif body:
                params[payload_name] = parse_json_value(member, _load_json(body), payload_name)
        elif body_members and body.strip():
            document = _load_json(body)
            if not isinstance(document, dict):
                raise serialization_error("Expected a JSON object body")
            for name, member in body_members.items():
                # AWS reads a null member as absent.
                if document.get(name) is not None:
                    params[name] = parse_json_value(member, document[name], name)
        return params

    # ---- output ----

    def _serialize(self, op: OperationModel, result: dict[str, Any]) -> web.Response:
        status = op.http.get("responseCode", 200)
        headers: dict[str, str] = {"x-amzn-RequestId": context.request_id.get()}
        shape = op.output_shape
        body: bytes = b""
        content_type = "application/json"
        if shape is not None:
            plan = self._outputs.get(op.name)
            if plan is None:
                plan = self._outputs[op.name] = _output_plan(shape)
            payload_name, located = plan
            for name, member, where, wire in located:
                value = result.get(name)
                if value is None:
                    continue
                if where == "statusCode":
                    status = int(value)
                elif where == "header":
                    headers[wire] = header_text(member, value)
                else:  # "headers": a prefix
                    for key, val in value.items():
                        headers[wire + key] = str(val)
            if payload_name:
                member = shape.members[payload_name]
                value = result.get(payload_name)
                if member.type_name == "blob":
                    body = value if isinstance(value, bytes) else (value or "").encode()
                elif member.type_name == "string":
                    body = (value or "").encode()
                elif value is not None:
                    body = json.dumps(to_json_value(member, value)).encode()
            else:
                document = to_json_value(shape, result)
                body = json.dumps(document).encode()
        if status == 204:
            return web.Response(status=204, headers=headers)
        headers["Content-Type"] = content_type
        return web.Response(status=status, body=body, headers=headers)


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise serialization_error("Could not parse request body into json: " + str(exc).split(":")[0]) from exc
    except RecursionError as exc:
        raise serialization_error("Could not parse request body into json: nested too deeply") from exc


@functools.cache
def _error_members(code: str) -> tuple[str, bool]:
    """(the message's key, whether the body has ``Type``) for an error code: Lambda spells the message
    ``message`` for some errors and ``Message`` for others (ResourceNotFoundException, ServiceException...),
    and only the errors its model lists carry ``Type`` (ValidationException, RequestEntityTooLargeException,
    AccessDeniedException are not among them)."""
    from botocore.model import NoShapeFoundError

    try:
        shape = service_model("lambda").shape_for(code)
    except NoShapeFoundError:
        return "message", False
    members = cast("StructureShape", shape).members
    return ("Message" if "Message" in members else "message"), "Type" in members


def render_error(error: AwsError) -> web.Response:
    """Lambda's error body: {"Type": ..., "message": ...} plus modeled fields; code in x-amzn-ErrorType."""
    key, typed = _error_members(error.code)
    body = {k: v for k, v in error.fields.items() if typed or k != "Type"}
    if error.message:
        body[key] = error.message
    headers = {"x-amzn-ErrorType": error.code, "x-amzn-RequestId": context.request_id.get() or context.new_request_id(),
               "Content-Type": "application/json"}
    headers.update(error.headers)
    return web.Response(status=error.status, body=json.dumps(body).encode(), headers=headers)
