"""Validation of queue attributes, message attributes, names and ids, in SQS's words."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.sqs.errors import (
    invalid_attribute_name,
    invalid_attribute_value,
    invalid_parameter,
    sqs_error,
)

# ---- queue attributes ----------------------------------------------------------------------------

#: integer attributes: (min, max)
INT_RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}

DEFAULTS: dict[str, str] = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}

FIFO_DEFAULTS: dict[str, str] = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}

BOOL_ATTRIBUTES = {"FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"}
FIFO_ONLY = {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
ENUM_ATTRIBUTES: dict[str, set[str]] = {
    "DeduplicationScope": {"messageGroup", "queue"},
    "FifoThroughputLimit": {"perQueue", "perMessageGroupId"},
}
SETTABLE = set(INT_RANGES) | BOOL_ATTRIBUTES | set(ENUM_ATTRIBUTES) | {
    "Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
}
COMPUTED = {
    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
}
#: Order in which GetQueueAttributes(All) lists attributes (AWS's own order as observed in responses).
ALL_ORDER = [
    "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "VisibilityTimeout",
    "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds", "Policy", "RedrivePolicy",
    "RedriveAllowPolicy", "ReceiveMessageWaitTimeSeconds", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
    "FifoThroughputLimit",
]
READABLE = SETTABLE | COMPUTED

MAX_RECEIVE_COUNT = (1, 1000)


def check_queue_attribute(name: str, value: str, *, fifo: bool, creating: bool) -> str:
    """Validate one settable attribute; return its normalized value."""
    if name in ("DeduplicationScope", "FifoThroughputLimit") and not fifo:
        # AWS's own wording for these two on a standard queue (CreateQueue and SetQueueAttributes).
        raise sqs_error("InvalidAttributeName", f"You can specify the {name} only when FifoQueue is set to true.")
    if name not in SETTABLE or (name in FIFO_ONLY and not fifo):
        # FifoQueue itself is unknown on a standard queue: FifoQueue=false on CreateQueue, and any
        # FifoQueue on a standard queue's SetQueueAttributes, are "Unknown Attribute FifoQueue." on AWS.
        raise invalid_attribute_name(name)
    if name == "FifoQueue" and not creating and value.lower() != "true":
        # A FIFO queue accepts FifoQueue=true (it already is one); false would change its type.
        raise invalid_attribute_value(name, "Modifying queue type is not supported.")
    if name in INT_RANGES:
        low, high = INT_RANGES[name]
        if not re.fullmatch(r"-?\d+", value or "") or not low <= int(value) <= high:
            raise invalid_attribute_value(name)
        return str(int(value))
    if name in BOOL_ATTRIBUTES:
        if value.lower() not in ("true", "false"):
            raise invalid_attribute_value(name)
        return value.lower()
    if name in ENUM_ATTRIBUTES and value not in ENUM_ATTRIBUTES[name]:
        raise invalid_attribute_value(name)
    if name == "Policy" and value:
        try:
            json.loads(value)
        except (ValueError, RecursionError):
            raise invalid_attribute_value(name, "Invalid JSON") from None
    return value


def check_single_sse(attributes: Mapping[str, str]) -> None:
    """SSE-KMS (a KmsMasterKeyId) and SSE-SQS (SqsManagedSseEnabled=true) in one request: AWS refuses both."""
    if attributes.get("KmsMasterKeyId") and attributes.get("SqsManagedSseEnabled") == "true":
        raise sqs_error("InvalidAttributeName", "You can use one type of server-side encryption (SSE) at one time. "
                        "You can either enable KMS SSE or SQS SSE.")


def redrive_policy_error(value: str, reason: str) -> AwsError:
    """AWS refuses a RedrivePolicy with InvalidParameterValue, quoting the value as it was sent."""
    return invalid_parameter(f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}")


def parse_redrive_policy(value: str) -> dict[str, Any]:
    """RedrivePolicy as a dict {deadLetterTargetArn, maxReceiveCount:int}; raises on malformed input."""
    try:
        policy = json.loads(value)
    except (ValueError, RecursionError):
        policy = None
    if not isinstance(policy, dict):
        raise redrive_policy_error(value, "Redrive policy is not a valid JSON map.")
    arn = policy.get("deadLetterTargetArn")
    count = policy.get("maxReceiveCount")
    if not arn:
        raise redrive_policy_error(value, "Redrive policy does not contain mandatory attribute: "
                                   "deadLetterTargetArn.")
    if count is None:
        raise redrive_policy_error(value, "Redrive policy does not contain mandatory attribute: maxReceiveCount.")
    try:
        count = int(count)
    except (TypeError, ValueError):
        count = 0
    low, high = MAX_RECEIVE_COUNT
    if not low <= count <= high:
        shown = policy["maxReceiveCount"]
        raise redrive_policy_error(value, f"Invalid value for maxReceiveCount: {shown}, valid values are from "
                                   f"{low} to {high} both inclusive.")
    return {"deadLetterTargetArn": str(arn), "maxReceiveCount": count}


def parse_redrive_allow_policy(value: str) -> dict[str, Any]:
    try:
        policy = json.loads(value)
    except (ValueError, RecursionError):
        policy = None
    if not isinstance(policy, dict):
        raise invalid_attribute_value("RedriveAllowPolicy", "Redrive allow policy is not a valid JSON map.")
    permission = policy.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise invalid_attribute_value("RedriveAllowPolicy", "Invalid value for redrivePermission.")
    sources = policy.get("sourceQueueArns")
    if permission == "byQueue":
        if not isinstance(sources, list) or not 1 <= len(sources) <= 10:
            raise invalid_attribute_value("RedriveAllowPolicy", "sourceQueueArns must contain between 1 and 10 "
                                          "ARNs when redrivePermission is byQueue.")
    elif sources:
        raise invalid_attribute_value("RedriveAllowPolicy", "sourceQueueArns is only allowed when "
                                      "redrivePermission is byQueue.")
    return policy


# ---- names and ids --------------------------------------------------------------------------------

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_DEDUP_ID = re.compile(r"[!-~]{1,128}")  # printable ASCII, no spaces


def check_queue_name(name: str, fifo: bool) -> None:
    if fifo:
        if not _FIFO_NAME.fullmatch(name):
            raise invalid_parameter("The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                                    "or underscores, must end with .fifo suffix and be 1 to 80 in length.")
    elif not _QUEUE_NAME.fullmatch(name):
        raise invalid_parameter("Can only include alphanumeric characters, hyphens, or underscores. "
                                "1 to 80 in length")


def check_batch_entry_ids(entries: list[dict[str, Any]], entry_name: str) -> None:
    if not entries:
        raise sqs_error("EmptyBatchRequest", f"There should be at least one {entry_name} in the request.")
    if len(entries) > 10:
        raise sqs_error("TooManyEntriesInBatchRequest",
                        f"Maximum number of entries per request are 10. You have sent {len(entries)}.")
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id", "")
        if not _BATCH_ID.fullmatch(entry_id):
            raise sqs_error("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, "
                            "hyphens and underscores. It can be at most 80 letters long.")
        if entry_id in seen:
            raise sqs_error("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)


def check_dedup_or_group_id(name: str, value: str) -> None:
    if not _DEDUP_ID.fullmatch(value):
        raise invalid_parameter(f"Value {value} for parameter {name} is invalid. Reason: {name} can only include "
                                "alphanumeric and punctuation characters. 1 to 128 in length.")


# ---- message bodies and message attributes ----------------------------------------------------

_INVALID_BODY_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Letters and digits of any script (AWS takes "attr.1øßä"), underscore, hyphen, period.
_ATTRIBUTE_NAME = re.compile(r"[\w.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\..+)?")
MAX_MESSAGE_ATTRIBUTES = 10


def check_message(body: str, message_attributes: dict[str, dict[str, Any]],
                  system_attributes: dict[str, dict[str, Any]], maximum_message_size: int) -> None:
    """A message as SendMessage checks it before anything that depends on the queue's kind: its body,
    message attributes, system attributes (only AWSTraceHeader) and size against the queue's maximum."""
    check_body(body)
    check_message_attributes(message_attributes)
    for name, value in system_attributes.items():
        if name != "AWSTraceHeader":
            raise invalid_parameter(f"Message system attribute name '{name}' is invalid.")
        if value.get("DataType") != "String" or not value.get("StringValue"):
            raise invalid_parameter(f"Message system attribute '{name}' must be of type String.")
    size = len(body.encode("utf-8")) + attributes_size(message_attributes)
    if size > maximum_message_size:
        raise invalid_parameter(f"One or more parameters are invalid. Reason: Message must be shorter than "
                                f"{maximum_message_size} bytes.")


def check_body(body: str) -> None:
    if body == "":
        raise sqs_error("MissingParameter", "The request must contain the parameter MessageBody.")
    if _INVALID_BODY_CHARS.search(body):
        raise sqs_error("InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | "
                        "#xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")


def check_message_attributes(attributes: Mapping[str, Mapping[str, Any]] | None) -> None:
    if not attributes:
        return
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise invalid_parameter(f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
                                f"[{MAX_MESSAGE_ATTRIBUTES}].")
    for name, value in attributes.items():
        _check_attribute_name(name)
        _check_attribute_value(name, value)


def _check_attribute_name(name: str) -> None:
    lowered = name.lower()
    if (
        not _ATTRIBUTE_NAME.fullmatch(name)
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
        or lowered.startswith("aws.")
        or lowered.startswith("amazon.")
    ):
        raise invalid_parameter(f"Message ({name}) contains invalid characters.")


def _check_attribute_value(name: str, value: Mapping[str, Any]) -> None:
    data_type = value.get("DataType") or ""
    if not data_type:
        raise invalid_parameter(f"The message attribute '{name}' must contain a non-empty message attribute type.")
    match = _DATA_TYPE.fullmatch(data_type)
    if not match or len(data_type) > 256:
        raise invalid_parameter(f"The type of message (user) attribute '{name}' is invalid. You must use only "
                                "the following supported type prefixes: Binary, Number, String.")
    base = match.group(1)
    if value.get("StringListValues") or value.get("BinaryListValues"):
        raise invalid_parameter("Message attribute list values in SendMessage operation are not supported.")
    if base in ("String", "Number"):
        text = value.get("StringValue")
        if text is None or text == "":
            raise invalid_parameter(f"Message (user) attribute '{name}' must contain a non-empty value of type "
                                    f"'{base}'.")
        if value.get("BinaryValue") is not None:
            raise invalid_parameter(f"The message attribute '{name}' with type '{base}' must use field "
                                    "'String'.")
        if base == "Number" and not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            raise invalid_parameter(f"Could not cast message attribute '{name}' value to number.")
        if _INVALID_BODY_CHARS.search(text):
            raise invalid_parameter(f"Message attribute '{name}' must contain valid characters.")
    else:
        blob = value.get("BinaryValue")
        if blob is None or len(blob) == 0:
            raise invalid_parameter(f"Message (user) attribute '{name}' must contain a non-empty value of type "
                                    "'Binary'.")
        if value.get("StringValue") is not None:
            raise invalid_parameter(f"The message attribute '{name}' with type 'Binary' must use field 'Binary'.")


def attributes_size(attributes: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes message attributes count toward the message size limit (name + type + value)."""
    total = 0
    for name, value in (attributes or {}).items():
        total += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if value.get("StringValue") is not None:
            total += len(str(value["StringValue"]).encode())
        if value.get("BinaryValue") is not None:
            total += len(value["BinaryValue"])
    return total
