"""The AWS query protocol (IAM, STS; SQS from AWS CLI v1 and older SDKs): form-encoded ``Action=...`` in, XML out.

botocore's current model of a query-era service (SQS) is the JSON one; its query wire names
(``Attribute.N.Name``, ``<Message>``...) were dropped with the switch. They are the service's
``xmlName`` / ``xmlFlattened`` traits, which the service hands over as data
(:class:`~lambda_emu.emulator.protocol.service.QueryTraits`) and which are restored onto a copy of
botocore's model (:func:`query_service_model`); the parser and serializer walk that model's shapes
(``locationName``, ``flattened``, map key/value names) like botocore's own query serializer and XML
parser do. Nothing here knows an operation or a service.
"""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any, cast
from urllib.parse import parse_qsl

import botocore.session
from aiohttp import web
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.protocol.service import QueryTraits, Service
from lambda_emu.emulator.protocol.validation import validate

log = get_logger("protocol.query")

_MODELS: dict[str, ServiceModel] = {}


def query_service_model(service_name: str, traits: QueryTraits) -> ServiceModel:
    """botocore's model of ``service_name`` with its query protocol names restored (also usable by
    botocore's own query serializer and parser, which is how the tests cross-check this module)."""
    model = _MODELS.get(service_name)
    if model is None:
        model = _MODELS[service_name] = _restore(service_name, traits)
    return model


def _restore(service_name: str, traits: QueryTraits) -> ServiceModel:
    loader = botocore.session.get_session().get_component("data_loader")
    raw = copy.deepcopy(loader.load_service_model(service_name, "service-2"))
    meta = raw["metadata"]
    meta["protocol"] = "query"
    meta["protocols"] = ["query"]
    meta["xmlNamespace"] = traits.namespace
    for key in ("jsonVersion", "targetPrefix", "awsQueryCompatible"):
        meta.pop(key, None)
    for name, operation in raw["operations"].items():
        if operation.get("output", {}).get("shape"):
            operation["output"]["resultWrapper"] = f"{name}Result"
    shapes = raw["shapes"]
    for (structure, member), wire in traits.member_names.items():
        spec = shapes[structure]["members"][member]
        spec["locationName"] = wire
        target = shapes[spec["shape"]]
        if target["type"] in ("list", "map"):
            spec["flattened"] = True
            target["flattened"] = True
    for name, (key, value) in traits.map_names.items():
        shapes[name]["key"]["locationName"] = key
        shapes[name]["value"]["locationName"] = value
    for name, (code, status) in traits.errors.items():
        if name in shapes:
            shapes[name]["error"] = {"code": code, "httpStatusCode": status, "senderFault": True}
    return ServiceModel(raw, service_name=service_name)


# ---- form → Python ------------------------------------------------------------------------------


class _Form:
    """The flat ``A.1.B=value`` parameters with every dotted prefix indexed for presence checks."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        self.prefixes: set[str] = set()
        for key, value in pairs:
            self.values[key] = value
            parts = key.split(".")
            for i in range(1, len(parts) + 1):
                self.prefixes.add(".".join(parts[:i]))

    def has(self, prefix: str) -> bool:
        return prefix in self.prefixes


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _candidates(shape: StructureShape, member: str) -> list[str]:
    wire = shape.members[member].serialization.get("name")
    return [wire, member] if wire and wire != member else [member]


def parse_value(shape: Shape, form: _Form, prefix: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        structure = cast(StructureShape, shape)
        out: dict[str, Any] = {}
        for member, member_shape in structure.members.items():
            for name in _candidates(structure, member):
                key = _join(prefix, name)
                if form.has(key):
                    value = parse_value(member_shape, form, key)
                    if value is not None:
                        out[member] = value
                    break
        return out
    if kind == "list":
        base = prefix if shape.serialization.get("flattened") or not form.has(f"{prefix}.member") else \
            f"{prefix}.member"
        item_shape = cast(ListShape, shape).member
        return [parse_value(item_shape, form, f"{base}.{i}") for i in _indices(form, base)]
    if kind == "map":
        map_shape = cast(MapShape, shape)
        key_name = map_shape.key.serialization.get("name", "key")
        value_name = map_shape.value.serialization.get("name", "value")
        base = prefix if not form.has(f"{prefix}.entry") else f"{prefix}.entry"
        out_map: dict[str, Any] = {}
        for i in _indices(form, base):
            entry_key = form.values.get(f"{base}.{i}.{key_name}")
            if entry_key is None:
                continue
            out_map[entry_key] = parse_value(map_shape.value, form, f"{base}.{i}.{value_name}")
        return out_map
    raw = form.values.get(prefix)
    return None if raw is None else _scalar(shape, raw, prefix)


def _indices(form: _Form, base: str) -> list[int]:
    found = []
    i = 1
    while form.has(f"{base}.{i}"):
        found.append(i)
        i += 1
    return found


def _scalar(shape: Shape, raw: str, name: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("float", "double"):
            return float(raw)
    except ValueError:
        raise AwsError("InvalidParameterValue", f"Value {raw} for parameter {name} is invalid. Reason: Must be an "
                       "integer.") from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise AwsError("InvalidParameterValue", f"Value {raw} for parameter {name} is invalid.")
        return raw.lower() == "true"
    if kind == "blob":
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise AwsError("InvalidParameterValue", f"Value {raw} for parameter {name} is invalid. Reason: "
                           "Not a valid base64 value.") from None
    return raw


# ---- Python → XML -------------------------------------------------------------------------------


def _escape(text: str) -> str:
    # Escaping \r keeps it through XML end-of-line normalization, as SQS does.
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\r", "&#xD;"))


def _text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    if kind == "timestamp" and hasattr(value, "isoformat"):
        iso: str = value.isoformat()
        return iso
    return str(value)


def serialize(shape: Shape, value: Any, name: str, out: list[str]) -> None:
    """Append ``<name>value</name>`` (or a flattened run of elements) for ``value`` of ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        out.append(f"<{name}>")
        serialize_members(cast(StructureShape, shape), value, out)
        out.append(f"</{name}>")
    elif kind == "list":
        item_shape = cast(ListShape, shape).member
        if shape.serialization.get("flattened"):
            item_name = item_shape.serialization.get("name") or name
            for item in value:
                serialize(item_shape, item, item_name, out)
        else:
            item_name = item_shape.serialization.get("name", "member")
            out.append(f"<{name}>")
            for item in value:
                serialize(item_shape, item, item_name, out)
            out.append(f"</{name}>")
    elif kind == "map":
        map_shape = cast(MapShape, shape)
        key_name = map_shape.key.serialization.get("name", "key")
        value_name = map_shape.value.serialization.get("name", "value")
        flattened = shape.serialization.get("flattened")
        if not flattened:
            out.append(f"<{name}>")
        for key, item in value.items():
            out.append(f"<{name if flattened else 'entry'}><{key_name}>{_escape(str(key))}</{key_name}>")
            serialize(map_shape.value, item, value_name, out)
            out.append(f"</{name if flattened else 'entry'}>")
        if not flattened:
            out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_escape(_text(shape, value))}</{name}>")


def serialize_members(shape: StructureShape, value: dict[str, Any], out: list[str]) -> None:
    for member, member_shape in shape.members.items():
        if value.get(member) is None:
            continue
        serialize(member_shape, value[member], member_shape.serialization.get("name", member), out)


def response_xml(op: OperationModel, result: dict[str, Any], request_id: str) -> str:
    namespace = op.service_model.metadata["xmlNamespace"]
    parts = [f'<?xml version="1.0"?><{op.name}Response xmlns="{namespace}">']
    if op.output_shape is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper") or f"{op.name}Result"
        members: list[str] = []
        serialize_members(op.output_shape, result, members)
        # An answer with nothing in it is an empty element, as AWS sends it (<ReceiveMessageResult/>).
        parts.append(f"<{wrapper}>{''.join(members)}</{wrapper}>" if members else f"<{wrapper}/>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op.name}Response>")
    return "".join(parts)


def response_json(op: OperationModel, result: dict[str, Any], request_id: str,
                  traits: QueryTraits) -> dict[str, Any]:
    """The answer as JSON (``Accept: application/json``): ``{"<Op>Response": {"<Op>Result": ...,
    "ResponseMetadata": {"RequestId": ...}}}``, members under their model names (or the legacy JSON
    names the service's traits give), maps as lists of their query entries (``{"Name", "Value"}``)."""
    body: dict[str, Any] = {}
    if op.output_shape is not None:
        body[f"{op.name}Result"] = _json_value(op.output_shape, result, traits)
    body["ResponseMetadata"] = {"RequestId": request_id}
    return {f"{op.name}Response": body}


def _json_value(shape: Shape, value: Any, traits: QueryTraits) -> Any:
    kind = shape.type_name
    if kind == "structure":
        structure = cast(StructureShape, shape)
        return {traits.json_names.get((structure.name, member), member):
                _json_value(member_shape, value[member], traits)
                for member, member_shape in structure.members.items() if value.get(member) is not None}
    if kind == "list":
        return [_json_value(cast(ListShape, shape).member, item, traits) for item in value]
    if kind == "map":
        map_shape = cast(MapShape, shape)
        key_name = map_shape.key.serialization.get("name", "key")
        value_name = map_shape.value.serialization.get("name", "value")
        return [{key_name: key, value_name: _json_value(map_shape.value, item, traits)} for key, item in value.items()]
    if kind in ("blob", "timestamp"):
        return _text(shape, value)
    return value


def error_xml(error: AwsError, request_id: str, service: Service) -> str:
    fault = "Sender" if error.sender_fault else "Receiver"
    namespace = service.query_traits.namespace if service.query_traits is not None else ""
    return (f'<?xml version="1.0"?><ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type>'
            f"<Code>{_escape(error.query_code)}</Code><Message>{_escape(service.query_message(error))}</Message>"
            "<Detail/>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")


def render_error(error: AwsError, service: Service, as_json: bool = False) -> web.Response:
    request_id = context.request_id.get() or context.new_request_id()
    headers = {"x-amzn-RequestId": request_id, **error.headers}
    if as_json:
        body = {"Error": {"Type": "Sender" if error.sender_fault else "Receiver", "Code": error.query_code,
                          "Message": service.query_message(error), "Detail": None}, "RequestId": request_id}
        return web.json_response(body, status=error.status, headers=headers)
    return web.Response(status=error.status, text=error_xml(error, request_id, service), content_type="text/xml",
                        headers=headers)


# ---- the request handler ------------------------------------------------------------------------


#: Actions named so change nothing; every other action must come as a POST (see handle_query_request).
READ_ONLY_PREFIXES = ("Get", "List", "Describe")


def parse_request(pairs: list[tuple[str, str]], path: str, base_url: str,
                  model: ServiceModel) -> tuple[OperationModel, dict[str, Any]]:
    """(operation, input) from the form parameters; a queue URL path stands in for QueueUrl."""
    form = _Form(pairs)
    action = form.values.get("Action")
    if not action:
        raise AwsError("MissingAction", "The request must contain the parameter Action.")
    if action not in model.operation_names:
        raise AwsError("InvalidAction", f"The action {action} is not valid for this web service.")
    op = model.operation_model(action)
    params: dict[str, Any] = parse_value(op.input_shape, form, "") if op.input_shape is not None else {}
    segments = [s for s in path.split("/") if s]
    if (op.input_shape is not None and "QueueUrl" in op.input_shape.members and "QueueUrl" not in params
            and len(segments) >= 2):
        params["QueueUrl"] = f"{base_url}/{'/'.join(segments)}"  # a QueueUrl parameter wins over the path
    return op, params


async def handle_query_request(request: web.Request, service: Service, body: bytes | None = None) -> web.Response:
    """Serve one query-protocol request to ``service``; errors are rendered as query XML too."""
    if service.query_traits is None:
        raise ValueError(f"{service.service_name} has no query protocol traits")
    try:
        if body is None:
            body = await request.read()
        key, _service = context.signing_scope(request.headers.get("Authorization", ""),
                                              request.query.get("X-Amz-Credential", ""))
        context.access_key_id.set(key)
        pairs = list(request.query.items())
        if body:
            pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        base_url = f"{request.scheme}://{request.host}"
        op, params = parse_request(pairs, request.path, base_url,
                                   query_service_model(service.service_name, service.query_traits))
        service.check_query_path(op.name, request.path)
        if request.method == "GET" and not op.name.startswith(READ_ONLY_PREFIXES):
            # Any web page can make a browser send a GET (an <img src>): only reads may come that way.
            raise AwsError("UnsupportedOperation", f"lambda-emu refuses {op.name} sent with GET: an action that "
                           "changes state must be sent with POST.")
        # Query-era services check names themselves (SQS: InvalidAttributeName) and take legacy values
        # (ReceiveMessage's SentTimestamp...) that the model's enums don't list: enums are not enforced.
        problems = validate(op.input_shape, params, enums=False, model=op.service_model,
                            nullable_elements=service.nullable_elements)
        if problems:
            raise _as_aws_error(service.validation_error(problems))
        method = service.operation(op.name)
        if method is None:
            raise AwsError("InvalidAction", f"The action {op.name} is not valid for this web service.")
        result = await context.call_operation(method, params)
    except AwsError as error:
        return render_error(error, service, _wants_json(request))
    except UnicodeDecodeError:
        return render_error(AwsError("MalformedQueryString", "The query string is not valid UTF-8."), service)
    except Exception as exc:  # noqa: BLE001 - one bad request never takes the server down
        log.exception("query request failed")
        return render_error(AwsError("InternalError", f"lambda-emu internal error: {exc}", 500, sender_fault=False),
                            service)
    request_id = context.request_id.get() or context.new_request_id()
    if _wants_json(request):
        return web.json_response(response_json(op, result, request_id, service.query_traits),
                                 headers={"x-amzn-RequestId": request_id})
    return web.Response(text=response_xml(op, result, request_id), content_type="text/xml",
                        headers={"x-amzn-RequestId": request_id})


def unknown_operation() -> web.Response:
    """A GET on a resource's URL (an SQS queue URL) naming no Action: AWS's 404, in XML whatever the Accept."""
    request_id = context.request_id.get() or context.new_request_id()
    return web.Response(status=404, text="<UnknownOperationException/>", content_type="text/xml",
                        headers={"x-amzn-RequestId": request_id})


def _wants_json(request: web.Request) -> bool:
    """AWS negotiates content for query requests: ``Accept: application/json`` gets the answer as JSON."""
    return any(part.split(";", 1)[0].strip().lower() == "application/json"
               for part in request.headers.get("Accept", "").split(","))


def _as_aws_error(error: Exception) -> AwsError:
    return error if isinstance(error, AwsError) else AwsError("InvalidParameterValue", str(error))
