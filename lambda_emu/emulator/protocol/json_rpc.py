"""AWS JSON 1.0 / 1.1 (SQS, Kinesis): POST / with X-Amz-Target "<prefix>.<Operation>" and a JSON body."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.protocol.shapes import parse_json_value, serialization_error, to_json_value, validate

if TYPE_CHECKING:
    from botocore.model import ServiceModel


class JsonRpcProtocol:
    def __init__(self, model: ServiceModel, service: Service) -> None:
        self.model = model
        self.service = service
        self.prefix = model.metadata["targetPrefix"]
        self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
        # awsQueryCompatible services (SQS) also report the legacy query error code in a header.
        self.query_compatible = "awsQueryCompatible" in model.metadata

    async def handle(self, target: str, body: bytes) -> web.Response:
        _, _, name = target.partition(".")
        if name not in self.model.operation_names:
            raise AwsError("UnknownOperationException", f"Unknown operation {target}", 400)
        op = self.model.operation_model(name)
        params: dict[str, Any] = {}
        if op.input_shape is not None:
            try:
                document = json.loads(body) if body.strip() else {}
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise serialization_error("Start of structure or map found where not expected.") from exc
            if not isinstance(document, dict):
                raise serialization_error("Start of structure or map found where not expected.")
            params = parse_json_value(op.input_shape, document)
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
                                         {"x-amzn-RequestId": context.request_id.get()})
        document = to_json_value(op.output_shape, result) if op.output_shape is not None else {}
        return web.Response(
            body=json.dumps(document).encode(),
            headers={"Content-Type": self.content_type, "x-amzn-RequestId": context.request_id.get()},
        )

    def render_error(self, error: AwsError) -> web.Response:
        error_type, query_code = self.service.json_error_type(error)
        body = {"__type": error_type, "message": error.message}
        body.update({k: v for k, v in error.fields.items() if k not in ("Type",)})
        headers = {"Content-Type": self.content_type,
                   "x-amzn-RequestId": context.request_id.get() or context.new_request_id()}
        if self.query_compatible:
            fault = "Sender" if error.sender_fault else "Receiver"
            headers["x-amzn-query-error"] = f"{query_code};{fault}"
        headers.update(error.headers)
        return web.Response(status=error.status, body=json.dumps(body).encode(), headers=headers)
