"""The table engine: moto's DynamoDB backend and its request checks, used in-process (docs/architecture.md
§DynamoDB says why). moto is imported on the first DynamoDB request only, in a thread, so neither
``lambda-emu up`` nor the event loop waits for it.

What comes in is our protocol layer's already validated input (blobs as bytes); moto keeps binary
values as the base64 text of the wire, so blobs are encoded on the way in and decoded on the way
out. moto's errors carry AWS's ``__type`` and message; they become :class:`AwsError` with every other
member of moto's error body (``Item``, ``CancellationReasons``) kept.

Numbers: arithmetic runs in a 38-digit decimal context (DynamoDB's precision, Python's default is
28), and moto's subtraction, which goes through ``float``, is replaced by a decimal one.
"""

from __future__ import annotations

import asyncio
import base64
import decimal
import json
import re
import threading
from typing import Any

from lambda_emu.emulator.platform.errors import AwsError

_loaded = threading.Event()
_load_lock = threading.Lock()
_PRECISION = decimal.Context(prec=38)


def _load() -> None:
    """Import moto's DynamoDB (seconds: moto.core pulls in boto3, requests, responses)."""
    with _load_lock:
        if _loaded.is_set():
            return
        from moto.dynamodb.exceptions import IncorrectDataType
        from moto.dynamodb.models import dynamo_type

        def subtract(self: Any, other: Any) -> Any:
            # moto subtracts numbers as floats; DynamoDB keeps 38 decimal digits.
            if self.type != other.type:
                raise TypeError("Different types of operandi is not allowed.")
            if self.type == "N":
                total = decimal.Decimal(self.value) - decimal.Decimal(other.value)
                return dynamo_type.DynamoType({"N": _number_text(total)})
            raise IncorrectDataType()

        def add(self: Any, other: Any) -> Any:
            if self.type != other.type:
                raise TypeError("Different types of operandi is not allowed.")
            if self.is_number():
                total = decimal.Decimal(self.value) + decimal.Decimal(other.value)
                return dynamo_type.DynamoType({"N": _number_text(total)})
            raise IncorrectDataType()

        setattr(dynamo_type.DynamoType, "__sub__", subtract)  # noqa: B010 - replacing moto's method
        setattr(dynamo_type.DynamoType, "__add__", add)  # noqa: B010
        import moto.dynamodb.responses  # noqa: F401 - the request checks, imported with the backend

        _loaded.set()


def _number_text(value: decimal.Decimal) -> str:
    """A number as DynamoDB writes it back: no exponent, no trailing zeros after the point."""
    text = format(value.normalize(_PRECISION), "f")
    return text


async def load() -> None:
    if not _loaded.is_set():
        await asyncio.to_thread(_load)


def snake_case(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class TableEngine:
    """One account and region's tables (moto's backend) and the calls that reach them."""

    def __init__(self, region: str, account_id: str) -> None:
        _load()
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.responses import DynamoHandler

        self.backend = DynamoDBBackend(region, account_id)
        backend = self.backend

        class Handler(DynamoHandler):
            @property
            def dynamodb_backend(self) -> Any:
                return backend

        self.handler = Handler()
        self.handler.current_account = account_id
        self.handler.region = region

    def table(self, name: str) -> Any | None:
        return self.backend.tables.get(name)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from moto.core.exceptions import JsonRESTError

        method = getattr(self.handler, snake_case(operation))
        _check_names(params)
        for entry in params.get("TransactItems") or ():
            for request in entry.values():
                _check_names(request)
        self.handler.body = _to_moto(params)
        with decimal.localcontext(_PRECISION):
            try:
                result = method().result
            except JsonRESTError as exc:
                raise _aws_error(exc) from exc
        return _from_moto(result) if isinstance(result, dict) else {}


EXPRESSIONS = ("KeyConditionExpression", "UpdateExpression", "ConditionExpression", "FilterExpression",
               "ProjectionExpression")
_NAME = re.compile(r"#[A-Za-z0-9_]+")


def _check_names(params: dict[str, Any]) -> None:
    """An expression attribute name that is used but not defined, refused as AWS words it (moto fails on
    some of these with a KeyError)."""
    names = params.get("ExpressionAttributeNames") or {}
    for member in EXPRESSIONS:
        expression = params.get(member)
        if not isinstance(expression, str):
            continue
        for name in _NAME.findall(expression):
            if name not in names:
                raise AwsError("ValidationException",
                               f"Invalid {member}: An expression attribute name used in the document path is not "
                               f"defined; attribute name: {name}")


def _aws_error(exc: Any) -> AwsError:
    code = str(exc.error_type).rsplit("#", 1)[-1]
    # moto names a few codes short of AWS's shape names.
    code = {"ResourceNotFound": "ResourceNotFoundException"}.get(code, code)
    fields: dict[str, Any] = {}
    try:
        body = json.loads(exc.description)
    except (TypeError, ValueError):
        body = {}
    if isinstance(body, dict):
        fields = {k: v for k, v in body.items() if k not in ("__type", "message", "Message")}
    status = 500 if code in ("InternalServerError",) else 400
    return AwsError(code, str(exc.message), status, sender_fault=status < 500, fields=fields)


def _to_moto(value: Any) -> Any:
    """Our parsed input as moto expects it: binary values back to their base64 text."""
    if isinstance(value, dict):
        return {k: _to_moto(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_moto(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value


def _from_moto(value: Any) -> Any:
    """moto's output for our serializer: ``B`` / ``BS`` values (base64 text in moto) as bytes."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "B" and isinstance(item, str):
                out[key] = base64.b64decode(item)
            elif key == "BS" and isinstance(item, list) and all(isinstance(i, str) for i in item):
                out[key] = [base64.b64decode(i) for i in item]
            else:
                out[key] = _from_moto(item)
        return out
    if isinstance(value, list):
        return [_from_moto(v) for v in value]
    return value
