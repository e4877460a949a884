"""AWS JSON 1.0 / 1.1 (SQS, Kinesis): POST / with X-Amz-Target "<prefix>.<Operation>" and a JSON body.

Coral, the front end of these services, answers in the client's own format: JSON for the service's
``application/x-amz-json-1.x``, CBOR for ``application/x-amz-cbor-1.1`` (protocol/cbor.py), and its
bare forms (below) for a body it can't read. Sources: kinesalite's AWS-checked test/connection.js.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.protocol.shapes import (
    parse_json_value,
    request_document,
    serialization_error,
    to_json_value,
)
from lambda_emu.emulator.protocol.validation import validate

if TYPE_CHECKING:
    from botocore.model import ServiceModel, Shape

CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"
#: Coral's legacy JSON RPC (``Content-Type: application/json``): it answers in an envelope of its own.
LEGACY_JSON = "application/json"


class JsonRpcProtocol:
    def __init__(self, model: ServiceModel, service: Service) -> None:
        self.model = model
        self.service = service
        self.prefix = model.metadata["targetPrefix"]
        self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
        # awsQueryCompatible services (SQS) also report the legacy query error code in a header.
        self.query_compatible = "awsQueryCompatible" in model.metadata

    def knows(self, target: str) -> bool:
        prefix, _, name = target.partition(".")
        return prefix == self.prefix and name in self.model.operation_names

    async def handle(self, target: str, body: bytes, *, binary: bool = False) -> web.Response:
        """Serve one call; ``binary``: the body is CBOR and so is the answer (protocol/cbor.py)."""
        codec = _codec(binary)
        _, _, name = target.partition(".")
        if name not in self.model.operation_names:
            # AWS's answer names no operation and has no message.
            raise AwsError("UnknownOperationException", "", 400)
        op = self.model.operation_model(name)
        params: dict[str, Any] = {}
        if op.input_shape is not None:
            params = parse_json_value(op.input_shape, codec.read_document(body), binary=binary)
            problems = validate(op.input_shape, params, enums=self.service.validate_enums, model=self.model,
                                nullable_elements=self.service.nullable_elements)
            if problems:
                raise self.service.validation_error(problems)
        method = self.service.operation(name)
        if method is None:
            raise AwsError("UnknownOperationException", f"lambda-emu does not implement {target}", 400)
        result = await context.call_operation(method, params)
        if op.output_shape is not None and op.output_shape.event_stream_name:
            from lambda_emu.emulator.protocol.eventstream import event_stream_response

            return event_stream_response(op.output_shape, result, op.output_shape.event_stream_name,
                                         {"x-amzn-RequestId": context.request_id.get()}, binary=binary)
        headers = {"Content-Type": CBOR_CONTENT_TYPE if binary else self.content_type,
                   "x-amzn-RequestId": context.request_id.get()}
        if op.output_shape is None:
            # An operation without output answers with an empty body (kinesalite: CreateStream, DeleteStream...).
            return web.Response(body=b"", headers=headers)
        return web.Response(body=codec.encode(op.output_shape, result), headers=headers)

    def error_document(self, error: AwsError) -> tuple[dict[str, Any], dict[str, str]]:
        """The error's body (as a document, for JSON or CBOR) and its headers."""
        error_type, query_code = self.service.json_error_type(error)
        body: dict[str, Any] = {"__type": error_type}
        if error.message:
            body[message_key(error)] = error.message
        body.update({k: v for k, v in error.fields.items() if k not in ("Type",)})
        headers = {"x-amzn-RequestId": context.request_id.get() or context.new_request_id()}
        if self.query_compatible:
            fault = "Sender" if error.sender_fault else "Receiver"
            headers["x-amzn-query-error"] = f"{query_code};{fault}"
        headers.update(error.headers)
        return body, headers

    def render_error(self, error: AwsError) -> web.Response:
        body, headers = self.error_document(error)
        headers["Content-Type"] = self.content_type
        return web.Response(status=error.status, body=json.dumps(body).encode(), headers=headers)

    def render_cbor_error(self, error: AwsError) -> web.Response:
        """The error in CBOR, as the Java SDKs parse it (they read the code from x-amzn-ErrorType first)."""
        from lambda_emu.emulator.protocol import cbor

        body, headers = self.error_document(error)
        headers.update({"Content-Type": CBOR_CONTENT_TYPE, "x-amzn-ErrorType": str(body["__type"])})
        return web.Response(status=error.status, body=cbor.dumps(body), headers=headers)


def message_key(error: AwsError) -> str:
    """Coral's SerializationException spells its message ``Message``; everything else ``message``."""
    return "Message" if error.code == "SerializationException" else "message"


def read_document(body: bytes) -> dict[str, Any]:
    """The request's JSON object; an empty or unreadable body is a SerializationException without a message."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise serialization_error("") from exc
    return request_document(document)


class _JsonCodec:
    read_document = staticmethod(read_document)

    @staticmethod
    def encode(shape: Shape, result: dict[str, Any]) -> bytes:
        return json.dumps(to_json_value(shape, result)).encode()


class _CborCodec:
    @staticmethod
    def read_document(body: bytes) -> dict[str, Any]:
        from lambda_emu.emulator.protocol import cbor

        return cbor.read_document(body)

    @staticmethod
    def encode(shape: Shape, result: dict[str, Any]) -> bytes:
        from lambda_emu.emulator.protocol import cbor

        return cbor.dumps(cbor.to_cbor_value(shape, result))


def _codec(binary: bool) -> type[_JsonCodec] | type[_CborCodec]:
    return _CborCodec if binary else _JsonCodec


def cbor_bare_error(code: str) -> web.Response:
    """``{"__type": code}`` in CBOR: Coral's answer to a CBOR call it cannot route."""
    from lambda_emu.emulator.protocol import cbor

    headers = {"Content-Type": CBOR_CONTENT_TYPE, "x-amzn-ErrorType": code,
               "x-amzn-RequestId": context.request_id.get()}
    return web.Response(status=400, body=cbor.dumps({"__type": code}), headers=headers)


def bare_error(content_type: str, code: str, status: int = 400) -> web.Response:
    """``{"__type": code}`` (no message) in the JSON content type the client sent."""
    headers = {"Content-Type": content_type, "x-amzn-RequestId": context.request_id.get()}
    return web.Response(status=status, body=json.dumps({"__type": code}).encode(), headers=headers)


def unreadable_media(media_type: str, target: str, body: bytes, known: bool) -> web.Response:
    """Coral's answer to an ``X-Amz-Target`` call whose Content-Type is not one it reads (kinesalite's
    AWS-checked connection tests): an empty body is refused in CBOR (its default);
    ``application/json`` gets the legacy envelope; any other body a bare XML 404 (or 403 when the
    target names no service and operation)."""
    from lambda_emu.emulator.protocol import cbor

    request_id = {"x-amzn-RequestId": context.request_id.get()}
    if not body:
        code = "SerializationException" if known else "UnknownOperationException"
        return web.Response(status=400, body=cbor.dumps({"__type": code}),
                            headers={"Content-Type": CBOR_CONTENT_TYPE, **request_id})
    if media_type == LEGACY_JSON:
        try:
            readable = isinstance(json.loads(body), dict)
        except (ValueError, UnicodeDecodeError, RecursionError):
            readable = False
        code, status = ("UnknownOperationException", 404) if readable else ("SerializationException", 400)
        envelope = {"Output": {"__type": f"com.amazon.coral.service#{code}"}, "Version": "1.0"}
        return web.Response(status=status, body=json.dumps(envelope).encode(),
                            headers={"Content-Type": LEGACY_JSON, **request_id})
    service, _, operation = target.partition(".")
    if not service or not operation:
        xml, status = ("<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be "
                       "authorized</Message>\n</AccessDeniedException>\n", 403)
    else:
        xml, status = "<UnknownOperationException/>\n", 404
    # AWS sends these without a Content-Type; aiohttp gives every body one (application/octet-stream).
    return web.Response(status=status, body=xml.encode(), headers=request_id)
