"""Resource policies on streams and consumers: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy.

A policy is kept (with --state-dir, too) and answered, not enforced. The same ARN lookup (a stream ARN
or a consumer ARN) serves the resource-tagging calls.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.consumers import Consumer, parse_consumer_arn
from lambda_emu.emulator.services.kinesis.streams import Stream, invalid_argument

if TYPE_CHECKING:
    from lambda_emu.emulator.services.kinesis.fan_out import FanOut
    from lambda_emu.emulator.services.kinesis.store import KinesisStore


class ResourcePolicies:
    """The resource policies of the streams and consumers of one Kinesis store."""

    def __init__(self, store: KinesisStore, fan_out: FanOut) -> None:
        self.store = store
        self.fan_out = fan_out

    def policy_holder(self, arn: str) -> Stream | Consumer:
        """The stream or consumer a resource-policy or tagging call names."""
        if "/consumer/" in arn:
            found = self.fan_out.find_consumer(arn)
            if found is None:
                raise self.fan_out.consumer_not_found(arn)
            return found[1]
        return self.store.stream_by_arn(arn)

    def put_policy(self, arn: str, policy: str) -> None:
        holder = self.policy_holder(arn)
        try:
            document = json.loads(policy)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise invalid_argument("Policy document is not valid JSON.")
        holder.policy = policy
        self.saved(arn)

    def delete_policy(self, arn: str) -> None:
        holder = self.policy_holder(arn)
        if holder.policy is None:
            raise AwsError("ResourceNotFoundException", f"No resource policy found for resource ARN {arn}.")
        holder.policy = None
        self.saved(arn)

    def saved(self, arn: str) -> None:
        """Write the stream an ARN names (a consumer's: its stream) to the state directory."""
        parsed = parse_consumer_arn(arn)
        stream = self.store.find_stream_by_arn(parsed[0] if parsed else arn)
        if stream is not None:
            stream.saved()
