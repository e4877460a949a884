"""Where records go when an event is done: on-success / on-failure destinations and dead-letter queues.

SQS targets land in lambda-emu's own queues; a Lambda target is invoked asynchronously with the
record; SNS, EventBridge and S3 targets (which lambda-emu does not serve) are kept. Every delivery,
whatever the target, is also kept in order and readable at ``GET /_emu/deliveries?target=ARN``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.app import Emulator
    from lambda_emu.emulator.services.lambda_.functions import Function

log = get_logger("destinations")

#: DLQ ErrorMessage attribute: the first 1 KB of the error message (spec §2.3).
DLQ_MESSAGE_BYTES = 1024
DESTINATION_SERVICES = ("sqs", "sns", "lambda", "events", "s3")


@dataclass
class Delivery:
    target: str
    time: float
    body: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        document = {"target": self.target, "time": iso8601(self.time), "body": self.body,
                    "attributes": self.attributes}
        if self.error:
            document["error"] = self.error
        return document


def compact(document: Any) -> str:
    """AWS writes records as compact JSON."""
    return json.dumps(document, separators=(",", ":"))


def json_or_text(data: bytes | str) -> Any:
    """The JSON document ``data`` holds, else its text: how records embed payloads and bodies."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode(errors="replace") if isinstance(data, bytes) else data


def arn_service(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[2]


def _function_name(arn: str) -> str:
    """The function name of a Lambda ARN ("" when it has none)."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else ""


def check_dead_letter_target(emu: Emulator, function: Function, target: str) -> None:
    """A function's DLQ must be an SQS queue or an SNS topic."""
    if arn_service(target) not in ("sqs", "sns"):
        raise invalid_parameter(
            "The provided target ARN is invalid. A dead-letter queue must be an SQS queue or an SNS topic: " + target
        )
    emu.destinations.check_reachable(function, target)


class Destinations:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.deliveries: list[Delivery] = []

    # ---- validation (PutFunctionEventInvokeConfig, DeadLetterConfig) ----

    def check_destination(self, function: Function, arn: str, on_success: bool,
                          config: dict[str, Any] | None = None) -> None:
        """An on-success / on-failure destination, with AWS's messages (recorded by LocalStack's
        AWS-validated test_lambda_eventinvokeconfig_exceptions)."""
        service = arn_service(arn)
        if service not in DESTINATION_SERVICES or (service == "s3" and on_success):
            # AWS names the whole configuration, in its Java toString form.
            raise invalid_parameter(f"The provided destination config {_config_text(config or {})} is invalid.")
        if service == "lambda":
            name = _function_name(arn)
            if self.emu.functions.find(name) is None:
                raise invalid_parameter(f"The destination ARN {arn} is invalid.")
            if name == function.name:
                raise invalid_parameter("You can't specify the function as a destination for itself.")
        self.check_reachable(function, arn)

    def check_reachable(self, function: Function, arn: str) -> None:
        """What lambda-emu serves must exist; AWS's check is on the execution role's permission."""
        service = arn_service(arn)
        if service == "sqs":
            sqs = self.emu.services.get("sqs")
            if getattr(sqs, "queue_by_arn", None) is not None and sqs.queue_by_arn(arn) is None:  # type: ignore[union-attr]
                raise invalid_parameter(
                    f"The function execution role does not have permissions to call SendMessage on {arn}"
                )
        elif service == "lambda":
            name = _function_name(arn)
            if self.emu.functions.find(name) is None:
                raise invalid_parameter(
                    f"The function execution role does not have permissions to call InvokeFunction on {arn}"
                )

    # ---- delivery ----

    async def send_record(self, target: str, record: dict[str, Any], success: bool) -> None:
        """An invocation record to an on-success / on-failure destination."""
        service = arn_service(target)
        now = self.emu.clock.now()
        if service == "events":
            envelope = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Lambda Function Invocation Result - " + ("Success" if success else "Failure"),
                "source": "lambda",
                "account": self.emu.account_id,
                "time": iso8601(now)[:-5] + "Z",
                "region": self.emu.region,
                "resources": [target, record["requestContext"]["functionArn"]],
                "detail": record,
            }
            self._keep(Delivery(target, now, envelope))
            return
        if service == "lambda":
            await self._invoke_target(target, compact(record).encode(), now, record)
            return
        if service == "sqs":
            self._to_queue(target, compact(record), {}, now, record)
            return
        # SNS and S3: the record is the message / object body.
        self._keep(Delivery(target, now, record))

    async def send_dead_letter(self, function: Function, payload: bytes, request_id: str, error_code: int,
                               error_message: str) -> None:
        """The original event to the function's DLQ, with AWS's three message attributes."""
        target = function.dead_letter_target
        if not target:
            return
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(error_code)},
            "ErrorMessage": {"DataType": "String",
                             "StringValue": error_message.encode()[:DLQ_MESSAGE_BYTES].decode(errors="ignore")},
        }
        body = payload.decode(errors="replace")
        now = self.emu.clock.now()
        if arn_service(target) == "sqs":
            self._to_queue(target, body, attributes, now, json_or_text(body))
        else:
            self._keep(Delivery(target, now, json_or_text(body), attributes))

    def send_stream_failure(self, target: str, record: dict[str, Any]) -> None:
        """An event source mapping's on-failure record (SQS queue, SNS topic or S3 bucket)."""
        if arn_service(target) == "sqs":
            self._to_queue(target, compact(record), {}, self.emu.clock.now(), record)
        else:
            self._keep(Delivery(target, self.emu.clock.now(), record))

    def _to_queue(self, target: str, body: str, attributes: dict[str, Any], now: float, shown: Any) -> None:
        delivery = Delivery(target, now, shown, attributes)
        sqs = self.emu.services.get("sqs")
        try:
            sqs.deliver(target, body, attributes or None)  # type: ignore[union-attr]
        except AwsError as error:
            # AWS drops the record and emits DestinationDeliveryFailures; we keep it, marked.
            delivery.error = f"{error.code}: {error.message}"
            log.warning("destination delivery failed", target=target, error=delivery.error)
        self._keep(delivery)

    async def _invoke_target(self, target: str, payload: bytes, now: float, shown: Any) -> None:
        delivery = Delivery(target, now, shown)
        name = _function_name(target)
        function = self.emu.functions.find(name)
        if function is None:
            delivery.error = f"ResourceNotFoundException: Function not found: {target}"
        else:
            await self.emu.async_queue.enqueue(function, payload, request_id=str(uuid.uuid4()),
                                               invoked_arn=function.arn)
        self._keep(delivery)

    def _keep(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    def query(self, target: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries if target is None or d.target == target]


def _config_text(config: dict[str, Any]) -> str:
    """DestinationConfig as AWS prints it: DestinationConfig(onSuccess=OnSuccess(destination=ARN), onFailure=null)."""
    parts = []
    for slot in ("OnSuccess", "OnFailure"):
        target = (config.get(slot) or {}).get("Destination")
        shown = f"{slot}(destination={target})" if target else "null"
        parts.append(f"{slot[0].lower()}{slot[1:]}={shown}")
    return f"DestinationConfig({', '.join(parts)})"
