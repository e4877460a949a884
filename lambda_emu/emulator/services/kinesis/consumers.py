"""An enhanced fan-out consumer as state: its record, its ARN, and the limits and phases AWS gives it.

A consumer belongs to one stream (its ARN is the stream's ARN + ``/consumer/<name>:<creation epoch>``,
so a consumer registered again under the same name has a new ARN). ``fan_out.py`` registers consumers
and serves their SubscribeToShard subscriptions; this module imports nothing else of Kinesis, so a
stream (``streams.py``) can hold its consumers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_CONSUMERS_PER_STREAM = 20
SUBSCRIPTION_SECONDS = 300.0  # "The subscription lasts for up to 5 minutes"
HEARTBEAT_SECONDS = 5.0
RESUBSCRIBE_SECONDS = 5.0  # a second SubscribeToShard within 5 s of the last one is ResourceInUseException
# --creation-delays: how long RegisterStreamConsumer's CREATING and DeregisterStreamConsumer's DELETING last.
CONSUMER_PHASE_SECONDS = 5.0


def consumer_arn(stream_arn: str, name: str, created_at: float) -> str:
    return f"{stream_arn}/consumer/{name}:{int(created_at)}"


def parse_consumer_arn(arn: str) -> tuple[str, str] | None:
    """(stream ARN, consumer name) of a consumer ARN, or None."""
    stream_part, marker, rest = arn.partition("/consumer/")
    name, colon, stamp = rest.rpartition(":")
    if not marker or not colon or not name or not stamp.isdigit() or ":stream/" not in stream_part:
        return None
    return stream_part, name


@dataclass
class Consumer:
    """An enhanced fan-out consumer of a stream (``fan_out.py`` registers it and serves its subscriptions)."""

    name: str
    arn: str
    stream_arn: str
    created_at: float
    status: str = "ACTIVE"
    tags: dict[str, str] = field(default_factory=dict)
    #: PutResourcePolicy's document (kept and answered, not enforced).
    policy: str | None = None
    #: shard id → platform time of its last SubscribeToShard.
    subscribed_at: dict[str, float] = field(default_factory=dict)
    #: shard id → the generation of its live subscription (a newer one ends the older).
    generations: dict[str, int] = field(default_factory=dict)

    def describe(self, *, with_stream: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ConsumerName": self.name,
            "ConsumerARN": self.arn,
            "ConsumerStatus": self.status,
            "ConsumerCreationTimestamp": self.created_at,
        }
        if with_stream:
            out["StreamARN"] = self.stream_arn
        return out

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "arn": self.arn, "created_at": self.created_at, "status": self.status,
                "tags": self.tags, "policy": self.policy}

    @classmethod
    def from_record(cls, stream_arn: str, saved: dict[str, Any]) -> Consumer:
        # A CREATING or DELETING phase's timer does not survive a restart: the phase is over.
        status = "ACTIVE" if saved["status"] == "CREATING" else saved["status"]
        return cls(saved["name"], saved["arn"], stream_arn, saved["created_at"], status, dict(saved["tags"]),
                   saved.get("policy"))
