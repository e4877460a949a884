"""`POST /_emu/replay`: events sent again through their original source, now or at a recorded offset.

``lambda-emu replay`` reads captures, event files, destination records and SQS / Kinesis events and
turns each into one of three deliveries, which this endpoint performs exactly as the AWS call would:

- ``invoke``: Lambda's Invoke (``Event``: the async queue, so it retries, ages and reaches destinations;
  ``RequestResponse``: one synchronous attempt);
- ``sqs``: SendMessage to the queue (its mapping picks it up);
- ``kinesis``: PutRecord to the stream with the record's partition key.

A delivery with ``delay`` runs that many seconds later on the platform clock (``--timing original``):
a clock timer, so a manual clock plays it on ``advance`` / ``settle``. ``fromQueue`` drains a queue (a
dead-letter queue) into a function: each message's body is invoked, and the message is deleted once
the invoke was accepted.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import iso8601
from lambda_emu.emulator.platform.documents import json_or_text
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.protocol import context

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.kinesis.api import KinesisService
    from lambda_emu.emulator.services.sqs.api import SqsService

log = get_logger("replay")

#: A drained message stays invisible this long while it is replayed (it is deleted once accepted).
DRAIN_VISIBILITY = 300


class Replayer:
    """``invoke`` is the Lambda API's Invoke operation; the SQS and Kinesis services are built on first use."""

    def __init__(self, functions: FunctionRegistry, clock: Clock,
                 invoke: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
                 sqs: Callable[[], SqsService], kinesis: Callable[[], KinesisService]) -> None:
        self.functions = functions
        self.clock = clock
        self.invoke = invoke
        self.sqs = sqs
        self.kinesis = kinesis

    async def replay(self, deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        clock = self.clock
        for delivery in deliveries:
            delay = float(delivery.get("delay") or 0.0)
            if delay > 0:
                at = clock.now() + delay
                # The timer's coroutine is tracked work: a manual clock's advance / settle waits for it.
                clock.call_at(at, functools.partial(self._deliver_quietly, delivery))
                results.append({"status": "scheduled", "at": iso8601(at)})
                continue
            results.append(await self.deliver(delivery))
        return results

    async def _deliver_quietly(self, delivery: dict[str, Any]) -> None:
        result = await self.deliver(delivery)
        if result.get("status") == "failed":
            log.warning("scheduled replay failed", error=result.get("error"))

    async def deliver(self, delivery: dict[str, Any]) -> dict[str, Any]:
        """One delivery now; its result (never raises for the caller's mistakes: they are a result)."""
        try:
            kind = delivery["kind"]
            if kind == "invoke":
                return await self._invoke(delivery["functionName"], delivery.get("invocationType") or "Event",
                                          _payload(delivery.get("payload"), bool(delivery.get("raw"))))
            if kind == "sqs":
                return self._send(delivery)
            if kind == "kinesis":
                return self._put(delivery)
            return {"status": "failed", "error": f"unknown kind {kind!r}"}
        except AwsError as exc:
            return {"status": "failed", "error": f"{exc.code}: {exc.message}"}

    async def _invoke(self, function_name: str, invocation_type: str, payload: bytes) -> dict[str, Any]:
        request_id = context.new_request_id()
        # The same Invoke a client's call runs, with a request ID of its own.
        context.request_id.set(request_id)
        output = await self.invoke({"FunctionName": function_name, "InvocationType": invocation_type,
                                    "Payload": payload})
        result: dict[str, Any] = {"status": "done", "requestId": request_id, "statusCode": output["StatusCode"]}
        if output.get("FunctionError"):
            result["functionError"] = output["FunctionError"]
        if invocation_type == "RequestResponse":
            result["payload"] = json_or_text(output.get("Payload") or b"")
        return result

    def _send(self, delivery: dict[str, Any]) -> dict[str, Any]:
        sqs = self.sqs()
        queue = _find_queue(sqs, delivery["queue"])
        params: dict[str, Any] = {"QueueUrl": queue.url, "MessageBody": delivery["body"]}
        if delivery.get("messageAttributes"):
            params["MessageAttributes"] = _message_attributes(delivery["messageAttributes"])
        for key, name in (("messageGroupId", "MessageGroupId"), ("messageDeduplicationId", "MessageDeduplicationId")):
            if delivery.get(key):
                params[name] = delivery[key]
        output = sqs.SendMessage(params)
        return {"status": "done", "messageId": output["MessageId"], "queue": queue.arn}

    def _put(self, delivery: dict[str, Any]) -> dict[str, Any]:
        kinesis = self.kinesis()
        stream = delivery["stream"]
        where = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
        output = kinesis.PutRecord({**where, "PartitionKey": delivery["partitionKey"],
                                    "Data": base64.b64decode(delivery.get("data") or "")})
        return {"status": "done", "shardId": output["ShardId"], "sequenceNumber": output["SequenceNumber"]}

    async def drain(self, queue_ref: str, function_name: str, invocation_type: str) -> list[dict[str, Any]]:
        """Replay every message of a queue on a function; each is deleted once its invoke is accepted."""
        sqs = self.sqs()
        queue = _find_queue(sqs, queue_ref)
        self.functions.get(function_name)  # ResourceNotFoundException before anything is received
        results: list[dict[str, Any]] = []
        while True:
            received = sqs.store.receive(queue, 10, DRAIN_VISIBILITY)
            if not received:
                return results
            for message in received:
                result = await self.deliver({"kind": "invoke", "functionName": function_name,
                                             "invocationType": invocation_type, "payload": message.body,
                                             "raw": True})
                result["messageId"] = message.message_id
                if result["status"] == "done":
                    sqs.store.delete(queue, message.receipt_handle)
                results.append(result)


def _payload(value: Any, raw: bool) -> bytes:
    """An event as the Invoke body: its JSON, or (``raw``: a message body) the text as it is."""
    if raw and isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def _find_queue(sqs: SqsService, ref: str) -> Any:
    store = sqs.store
    queue = store.queue_by_arn(ref) if ref.startswith("arn:") else store.queue_by_url(ref)
    if queue is None:
        raise AwsError("AWS.SimpleQueueService.NonExistentQueue", f"The specified queue does not exist: {ref}",
                       400)
    return queue


def _message_attributes(rendered: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Lambda's event rendering of message attributes (camelCase) back to SendMessage's shape."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in rendered.items():
        attribute: dict[str, Any] = {"DataType": value.get("dataType") or value.get("DataType") or "String"}
        if value.get("stringValue") is not None:
            attribute["StringValue"] = value["stringValue"]
        if value.get("binaryValue") is not None:
            attribute["BinaryValue"] = base64.b64decode(value["binaryValue"])
        out[name] = attribute
    return out
