"""Where records go when an event is done: on-success / on-failure destinations and dead-letter queues.

SQS targets land in lambda-emu's own queues; a Lambda target is invoked asynchronously with the
record; SNS, EventBridge and S3 targets (which lambda-emu does not serve) are kept. Every delivery,
whatever the target, is also kept in order and readable at ``GET /_emu/deliveries?target=ARN``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.arns import arn_service
from lambda_emu.emulator.platform.arns import function_name as _function_name
from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.documents import compact, json_or_text
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.invoker import AsyncInvoke
    from lambda_emu.emulator.platform.clock import Clock

log = get_logger("destinations")

#: DLQ ErrorMessage attribute: the first 1 KB of the error message (docs/aws-behaviour.md §Async invocation:
#: Dead-letter queue).
DLQ_MESSAGE_BYTES = 1024

#: Sends a message to one of lambda-emu's SQS queues by ARN: (queue ARN, body, message attributes) →
#: message ID; raises AwsError (QueueDoesNotExist) when there is no such queue.
QueueSender = Callable[[str, str, Mapping[str, Any] | None], str]


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


class Destinations:
    def __init__(self, functions: FunctionRegistry, clock: Clock, *, region: str, account_id: str,
                 send_to_queue: QueueSender, async_invoke: AsyncInvoke) -> None:
        self.functions = functions
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.send_to_queue = send_to_queue
        self.async_invoke = async_invoke
        self.deliveries: list[Delivery] = []

    # ---- delivery ----

    async def send_record(self, target: str, record: dict[str, Any], success: bool) -> None:
        """An invocation record to an on-success / on-failure destination."""
        service = arn_service(target)
        now = self.clock.now()
        if service == "events":
            envelope = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Lambda Function Invocation Result - " + ("Success" if success else "Failure"),
                "source": "lambda",
                "account": self.account_id,
                "time": iso8601(now)[:-5] + "Z",
                "region": self.region,
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
        now = self.clock.now()
        if arn_service(target) == "sqs":
            self._to_queue(target, body, attributes, now, json_or_text(body))
        else:
            self._keep(Delivery(target, now, json_or_text(body), attributes))

    def send_stream_failure(self, target: str, record: dict[str, Any]) -> None:
        """An event source mapping's on-failure record (SQS queue, SNS topic or S3 bucket)."""
        if arn_service(target) == "sqs":
            self._to_queue(target, compact(record), {}, self.clock.now(), record)
        else:
            self._keep(Delivery(target, self.clock.now(), record))

    def _to_queue(self, target: str, body: str, attributes: dict[str, Any], now: float, shown: Any) -> None:
        delivery = Delivery(target, now, shown, attributes)
        try:
            self.send_to_queue(target, body, attributes or None)
        except AwsError as error:
            # AWS drops the record and emits DestinationDeliveryFailures; we keep it, marked.
            delivery.error = f"{error.code}: {error.message}"
            log.warning("destination delivery failed", target=target, error=delivery.error)
        self._keep(delivery)

    async def _invoke_target(self, target: str, payload: bytes, now: float, shown: Any) -> None:
        delivery = Delivery(target, now, shown)
        name = _function_name(target)
        function = self.functions.find(name)
        if function is None:
            delivery.error = f"ResourceNotFoundException: Function not found: {target}"
        else:
            # As named: a version's or an alias's ARN invokes that version or alias.
            await self.async_invoke(function, payload, request_id=str(uuid.uuid4()), invoked_arn=target)
        self._keep(delivery)

    def _keep(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    def clear(self) -> None:
        """Forget every delivery (``POST /_emu/reset``)."""
        self.deliveries = []

    def query(self, target: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries if target is None or d.target == target]
