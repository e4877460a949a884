"""Amazon SQS: a thin API over :mod:`lambda_emu.emulator.services.sqs.store`.

Each CamelCase method is an SQS operation taking botocore-validated input and returning output
members; queue state, visibility, FIFO and redrive rules live in the store.

The rest of lambda-emu (destinations, the SQS poller, the Lambda API's checks) is handed the store
itself, :class:`~lambda_emu.emulator.services.sqs.store.SqsStore`, by the composition root.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.services.sqs import attributes as attrs
from lambda_emu.emulator.services.sqs import permissions
from lambda_emu.emulator.services.sqs.checksums import md5_of_attributes
from lambda_emu.emulator.services.sqs.errors import (
    invalid_attribute_name,
    invalid_parameter,
    invalid_parameter_value,
    json_error_type,
    query_message,
    queue_does_not_exist,
    sqs_error,
)
from lambda_emu.emulator.services.sqs.long_polling import receive_wait
from lambda_emu.emulator.services.sqs.messages import ReceivedMessage
from lambda_emu.emulator.services.sqs.move_tasks import MoveTask
from lambda_emu.emulator.services.sqs.query_traits import QUERY_TRAITS
from lambda_emu.emulator.services.sqs.queue import Queue
from lambda_emu.emulator.services.sqs.store import SqsStore

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

#: Every system attribute ReceiveMessage can return ("All" selects these).
MESSAGE_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
    "SequenceNumber", "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn",
)
#: Sum of all message sizes in one SendMessageBatch.
MAX_BATCH_BYTES = 1_048_576


class SqsService(Service):
    service_name = "sqs"
    # Model enums are narrower than SQS's real input (legacy AttributeNames take message attributes).
    validate_enums = False
    query_traits = QUERY_TRAITS

    def __init__(self, clock: Clock, rng: random.Random, *, region: str, account_id: str,
                 endpoint: Callable[[], str], state: StateStore | None = None) -> None:
        self.account_id = account_id
        self.store = SqsStore(clock, region=region, account_id=account_id, endpoint=endpoint, rng=rng, state=state)

    def restore(self) -> None:
        """--state-dir: the queues and messages an earlier run accepted."""
        self.store.restore()

    def json_error_type(self, error: AwsError) -> tuple[str, str]:
        return json_error_type(error)

    def reset(self) -> None:
        self.store.reset()

    def query_message(self, error: AwsError) -> str:
        return query_message(error)

    def check_query_path(self, operation: str, path: str) -> None:
        """A query request sent to a queue URL acts on a queue: CreateQueue and ListQueues there are
        refused as AWS refuses them (the QueueUrl parameter, when given, still wins over the path)."""
        if operation in ("CreateQueue", "ListQueues") and len([s for s in path.split("/") if s]) >= 2:
            raise sqs_error("InvalidAction", f"The action {operation} is not valid for this endpoint.")

    def validation_error(self, problems: list[str]) -> Exception:
        """SQS words model violations as MissingParameter / InvalidParameterValue."""
        first = problems[0]
        missing = re.match(r"Value null at '([^']+)' failed to satisfy constraint: Member must not be null", first)
        if missing:
            name = missing.group(1).split(".")[-1]
            return sqs_error("MissingParameter", f"The request must contain the parameter {name[:1].upper()}"
                             f"{name[1:]}.")
        return invalid_parameter(first)

    def _region(self) -> str:
        """The caller's region (its signature's), else the emulator's: queues are per region."""
        return context.region.get() or self.store.region

    def _queue(self, params: Mapping[str, Any]) -> Queue:
        return self.store.queue_by_url(params["QueueUrl"], self._region())

    # ---- queues --------------------------------------------------------------------------------

    def CreateQueue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.store.create_queue(params["QueueName"], params.get("Attributes"), params.get("tags"),
                                        self._region())
        return {"QueueUrl": queue.url}

    def GetQueueUrl(self, params: dict[str, Any]) -> dict[str, Any]:
        owner = params.get("QueueOwnerAWSAccountId")
        if owner is not None and owner != self.account_id:
            raise queue_does_not_exist()
        return {"QueueUrl": self.store.get_queue(params["QueueName"], self._region()).url}

    def ListQueues(self, params: dict[str, Any]) -> dict[str, Any]:
        queues = {q.name: q for q in self.store.list_queues(params.get("QueueNamePrefix"), self._region())}
        page, token = _paginate(list(queues), params.get("MaxResults"), params.get("NextToken"))
        out: dict[str, Any] = {}
        if page:
            out["QueueUrls"] = [queues[name].url for name in page]
        if token:
            out["NextToken"] = token
        return out

    def DeleteQueue(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_queue(self._queue(params))
        return {}

    def PurgeQueue(self, params: dict[str, Any]) -> dict[str, Any]:
        self._queue(params).purge()
        return {}

    def GetQueueAttributes(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        names = list(params.get("AttributeNames") or [])
        for name in names:
            if name != "All" and (name not in attrs.READABLE or (name in attrs.FIFO_ONLY and not queue.fifo)):
                raise invalid_attribute_name(name)
        if not names:
            return {}
        values = queue.attribute_values()
        if "All" not in names:
            values = {k: v for k, v in values.items() if k in names}
        return {"Attributes": values} if values else {}

    def SetQueueAttributes(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.set_attributes(self._queue(params), params.get("Attributes") or {})
        return {}

    def ListDeadLetterSourceQueues(self, params: dict[str, Any]) -> dict[str, Any]:
        sources = {q.name: q for q in self.store.dead_letter_sources(self._queue(params))}
        page, token = _paginate(list(sources), params.get("MaxResults"), params.get("NextToken"))
        out: dict[str, Any] = {}
        if page:  # AWS answers {} when no queue names this one as its dead-letter queue
            out["queueUrls"] = [sources[name].url for name in page]
        if token:
            out["NextToken"] = token
        return out

    def TagQueue(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.tag(self._queue(params), params.get("Tags") or {})
        return {}

    def UntagQueue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        for key in params.get("TagKeys") or []:
            queue.tags.pop(key, None)
        queue.saved()
        return {}

    def AddPermission(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        policy = permissions.add_statement(queue.attributes.get("Policy"), queue.arn, params["Label"],
                                           params["AWSAccountIds"], params["Actions"])
        self.store.set_attributes(queue, {"Policy": policy})
        return {}

    def RemovePermission(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        self.store.set_attributes(queue, {"Policy": permissions.remove_statement(queue.attributes.get("Policy"),
                                                                                 params["Label"])})
        return {}

    def ListQueueTags(self, params: dict[str, Any]) -> dict[str, Any]:
        tags = self._queue(params).tags
        return {"Tags": dict(tags)} if tags else {}

    # ---- messages --------------------------------------------------------------------------------

    def SendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send(self._queue(params), params)

    def _send(self, queue: Queue, params: Mapping[str, Any]) -> dict[str, Any]:
        system_attributes = params.get("MessageSystemAttributes")
        trace_header = context.trace_header.get()
        if trace_header and "AWSTraceHeader" not in (system_attributes or {}):
            # The X-Amzn-Trace-Id header becomes the AWSTraceHeader system attribute (an explicit
            # attribute wins); the digest still covers only what the client sent.
            system_attributes = {**(system_attributes or {}),
                                 "AWSTraceHeader": {"DataType": "String", "StringValue": trace_header}}
        result = queue.send(
            params["MessageBody"],
            delay_seconds=params.get("DelaySeconds"),
            message_attributes=params.get("MessageAttributes"),
            system_attributes=system_attributes,
            dedup_id=params.get("MessageDeduplicationId"),
            group_id=params.get("MessageGroupId"),
        )
        out: dict[str, Any] = {"MD5OfMessageBody": result.md5_of_body}
        if result.md5_of_message_attributes:
            out["MD5OfMessageAttributes"] = result.md5_of_message_attributes
        if result.md5_of_system_attributes and params.get("MessageSystemAttributes"):
            out["MD5OfMessageSystemAttributes"] = result.md5_of_system_attributes
        out["MessageId"] = result.message_id
        if result.sequence_number:
            out["SequenceNumber"] = result.sequence_number
        return out

    def SendMessageBatch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        entries = params.get("Entries") or []
        attrs.check_batch_entry_ids(entries, "SendMessageBatchRequestEntry")
        total = sum(len(e.get("MessageBody", "").encode()) + attrs.attributes_size(e.get("MessageAttributes"))
                    for e in entries)
        if total > MAX_BATCH_BYTES:
            raise sqs_error("BatchRequestTooLong", f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. "
                            f"You have sent {total} bytes.")
        queue.check_batch_entries(entries)
        successful, failed = [], []
        for entry in entries:
            try:
                if entry.get("MessageBody") is None:
                    raise sqs_error("MissingParameter", "The request must contain the parameter MessageBody.")
                result = self._send(queue, entry)
            except AwsError as error:
                # An entry's own validation is worded as AWS words it in a batch ("cannot be validated").
                failed.append(_batch_failure(entry["Id"], error, "One or more parameters are invalid. Reason: ",
                                             "One or more parameters cannot be validated. Reason: "))
                continue
            successful.append({"Id": entry["Id"], **result})
        return _batch_result(successful, failed)

    async def ReceiveMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        max_messages = _bounded(params, "MaxNumberOfMessages", 1, 10, 1, "Must be between 1 and 10, if provided.")
        wait = _bounded(params, "WaitTimeSeconds", 0, 20, queue.receive_wait_time,
                        "Must be >= 0 and <= 20, if provided.")
        timeout = params.get("VisibilityTimeout")
        if timeout is not None and not 0 <= timeout <= 43_200:
            raise invalid_parameter_value("VisibilityTimeout", timeout, "Must be >= 0 and <= 43200, if provided.")
        if wait > 0:
            received = await receive_wait(self.store.clock, queue, max_messages, timeout, wait)
        else:
            received = self.store.receive(queue, max_messages, timeout)
        if not received:
            return {}
        system_names = _selected_system_attributes(
            [*(params.get("AttributeNames") or []), *(params.get("MessageSystemAttributeNames") or [])])
        attribute_names = list(params.get("MessageAttributeNames") or [])
        return {"Messages": [_message_output(m, system_names, attribute_names) for m in received]}

    def DeleteMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        self._queue(params).delete(params["ReceiptHandle"])
        return {}

    def DeleteMessageBatch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        entries = params.get("Entries") or []
        attrs.check_batch_entry_ids(entries, "DeleteMessageBatchRequestEntry")
        return _run_batch(entries, lambda e: queue.delete(e["ReceiptHandle"]))

    def ChangeMessageVisibility(self, params: dict[str, Any]) -> dict[str, Any]:
        self._queue(params).change_visibility(params["ReceiptHandle"], params["VisibilityTimeout"])
        return {}

    def ChangeMessageVisibilityBatch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(params)
        entries = params.get("Entries") or []
        attrs.check_batch_entry_ids(entries, "ChangeMessageVisibilityBatchRequestEntry")

        def change(entry: Mapping[str, Any]) -> None:
            queue.change_visibility(entry["ReceiptHandle"], entry.get("VisibilityTimeout") or 0)

        return _run_batch(entries, change)

    # ---- message move tasks ------------------------------------------------------------------------

    def StartMessageMoveTask(self, params: dict[str, Any]) -> dict[str, Any]:
        task = self.store.move_tasks.start(params["SourceArn"], params.get("DestinationArn"),
                                           params.get("MaxNumberOfMessagesPerSecond"))
        return {"TaskHandle": task.handle}

    def CancelMessageMoveTask(self, params: dict[str, Any]) -> dict[str, Any]:
        task = self.store.move_tasks.cancel(params["TaskHandle"])
        return {"ApproximateNumberOfMessagesMoved": task.moved}

    def ListMessageMoveTasks(self, params: dict[str, Any]) -> dict[str, Any]:
        max_results = _bounded(params, "MaxResults", 1, 10, 1, "Must be between 1 and 10, if provided.")
        tasks = self.store.move_tasks.list(params["SourceArn"], max_results)
        return {"Results": [_task_output(t) for t in tasks]}


# ---- helpers ------------------------------------------------------------------------------------


def _bounded(params: Mapping[str, Any], name: str, low: int, high: int, default: int, reason: str) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not low <= value <= high:
        raise invalid_parameter_value(name, value, reason)
    return int(value)


def _paginate(names: list[str], max_results: int | None, token: str | None) -> tuple[list[str], str | None]:
    """A page of sorted names after the token's name; AWS pages only when MaxResults is given."""
    if max_results is not None and not 1 <= max_results <= 1000:
        raise invalid_parameter_value("MaxResults", max_results, "MaxResults must be an integer between 1 and 1000.")
    if token:
        try:
            after = json.loads(base64.b64decode(token, validate=True))["after"]
        except (binascii.Error, ValueError, KeyError, TypeError, RecursionError):
            raise invalid_parameter("Invalid NextToken value.") from None
        names = [n for n in names if n > after]
    if max_results is None:
        return names[:1000], None
    page = names[:max_results]
    more = len(names) > max_results
    next_token = base64.b64encode(json.dumps({"after": page[-1]}).encode()).decode() if more and page else None
    return page, next_token


def _batch_failure(entry_id: str, error: AwsError, prefix: str = "", batch_prefix: str = "") -> dict[str, Any]:
    message = error.message
    if prefix and message.startswith(prefix):
        message = batch_prefix + message[len(prefix):]
    return {"Id": entry_id, "SenderFault": error.sender_fault, "Code": error.query_code, "Message": message}


def _run_batch(entries: Iterable[Mapping[str, Any]], action: Any) -> dict[str, Any]:
    successful, failed = [], []
    for entry in entries:
        try:
            action(entry)
        except AwsError as error:
            failed.append(_batch_failure(entry["Id"], error))
            continue
        successful.append({"Id": entry["Id"]})
    return _batch_result(successful, failed)


def _batch_result(successful: list[dict[str, Any]], failed: list[dict[str, Any]]) -> dict[str, Any]:
    """AWS leaves ``Failed`` out of a batch answer when no entry failed (recorded JSON answers have no
    ``"Failed": []``); ``Successful`` is a required member and always present."""
    out: dict[str, Any] = {"Successful": successful}
    if failed:
        out["Failed"] = failed
    return out


def _selected_system_attributes(names: list[str]) -> set[str]:
    if "All" in names:
        return set(MESSAGE_SYSTEM_ATTRIBUTES)
    return {n for n in names if n in MESSAGE_SYSTEM_ATTRIBUTES}


def _attribute_selected(name: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern in ("All", "*", ".*") or pattern == name:
            return True
        # "Hel.*" selects every attribute whose name starts with "Hel" (Hello, Help, ...).
        if pattern.endswith(".*") and name.startswith(pattern[:-2]):
            return True
    return False


def _message_output(msg: ReceivedMessage, system_names: set[str], attribute_patterns: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MessageId": msg.message_id,
        "ReceiptHandle": msg.receipt_handle,
        "MD5OfBody": msg.md5_of_body,
        "Body": msg.body,
    }
    system = {k: v for k, v in msg.attributes.items() if k in system_names}
    if system:
        out["Attributes"] = system
    selected = {k: v for k, v in msg.message_attributes.items() if _attribute_selected(k, attribute_patterns)}
    if selected:
        # The digest covers the attributes returned, so clients can verify what they got.
        out["MD5OfMessageAttributes"] = md5_of_attributes(selected)
        out["MessageAttributes"] = {k: _attribute_output(v) for k, v in selected.items()}
    return out


def _attribute_output(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("StringValue", "BinaryValue", "StringListValues", "BinaryListValues"):
        if value.get(key) not in (None, []):
            out[key] = value[key]
    out["DataType"] = value["DataType"]
    return out


def _task_output(task: MoveTask) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if task.status == "RUNNING":
        out["TaskHandle"] = task.handle
    out["Status"] = task.status
    out["SourceArn"] = task.source_arn
    if task.destination_arn:
        out["DestinationArn"] = task.destination_arn
    if task.rate is not None:
        out["MaxNumberOfMessagesPerSecond"] = task.rate
    out["ApproximateNumberOfMessagesMoved"] = task.moved
    out["ApproximateNumberOfMessagesToMove"] = task.to_move
    if task.failure_reason:
        out["FailureReason"] = task.failure_reason
    out["StartedTimestamp"] = int(task.started_at * 1000)
    return out
