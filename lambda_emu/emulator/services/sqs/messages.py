"""SQS messages: one message as a queue holds it, what one receive hands out, what a send returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(eq=False)
class SqsMessage:
    """One message in one queue (mutable state: visibility, receives, current receipt handle)."""

    message_id: str
    body: str
    md5_of_body: str
    message_attributes: dict[str, dict[str, Any]]
    md5_of_message_attributes: str | None
    system_attributes: dict[str, dict[str, Any]]
    md5_of_system_attributes: str | None
    sent_at: float
    enqueued_at: float  # what retention counts from (moves keep or reset it as AWS does)
    sender_id: str
    visible_at: float
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None
    dead_letter_source_arn: str | None = None
    receive_count: int = 0
    first_receive_at: float | None = None
    received_at: float | None = None
    receipt_handle: str | None = None
    deleted: bool = False
    in_ready: bool = False

    def in_flight(self, now: float) -> bool:
        return self.receipt_handle is not None and self.visible_at > now

    def system_attribute_values(self) -> dict[str, str]:
        """Every system attribute ReceiveMessage can return, as AWS's strings."""
        out = {
            "ApproximateReceiveCount": str(self.receive_count),
            "SentTimestamp": str(int(self.sent_at * 1000)),
            "SenderId": self.sender_id,
            "ApproximateFirstReceiveTimestamp": str(int((self.first_receive_at or self.sent_at) * 1000)),
        }
        if self.sequence_number is not None:
            out["SequenceNumber"] = self.sequence_number
        if self.dedup_id is not None:
            out["MessageDeduplicationId"] = self.dedup_id
        if self.group_id is not None:
            out["MessageGroupId"] = self.group_id
        trace = self.system_attributes.get("AWSTraceHeader")
        if trace and trace.get("StringValue") is not None:
            out["AWSTraceHeader"] = trace["StringValue"]
        if self.dead_letter_source_arn:
            out["DeadLetterQueueSourceArn"] = self.dead_letter_source_arn
        return out


@dataclass(frozen=True)
class ReceivedMessage:
    """What one receive of one message hands out (a snapshot: later receives don't change it)."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    #: All system attributes as strings (filter with ``MessageSystemAttributeNames``).
    attributes: dict[str, str]
    #: All message attributes, in the SendMessage input shape (blobs as bytes).
    message_attributes: dict[str, dict[str, Any]]
    #: MD5 over all message attributes; None when the message has none.
    md5_of_message_attributes: str | None
    queue_arn: str


@dataclass(frozen=True)
class SendResult:
    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None
    md5_of_system_attributes: str | None
    sequence_number: str | None


def message_record(queue_key: str, msg: SqsMessage) -> dict[str, Any]:
    """A message as --state-dir keeps it (with the state key of its queue), without the queue's own
    bookkeeping."""
    record = asdict(msg)
    del record["deleted"], record["in_ready"]
    record["queue"] = queue_key
    return record
