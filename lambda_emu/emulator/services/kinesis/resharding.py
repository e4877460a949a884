"""Resharding: SplitShard, MergeShards and UpdateShardCount (UNIFORM_SCALING).

The checks AWS makes before it reshards (the stream ACTIVE, the shards open and adjacent, the new
hash key inside the parent, half to double the open shards, the account's shard limit) are here;
the resharding itself (parents closed with an EndingSequenceNumber, children naming their parents) is
:meth:`~lambda_emu.emulator.services.kinesis.streams.Stream.split` / ``merge`` / ``rescale``. With
--creation-delays the stream is UPDATING for UPDATING_SECONDS on the clock first, and the parents keep
taking records meanwhile, as on AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.streams import Shard, Stream, invalid_argument

if TYPE_CHECKING:
    from lambda_emu.emulator.services.kinesis.store import KinesisStore

# A split or merge took some 30-60 s when kinesalite's suite ran on AWS.
UPDATING_SECONDS = 30.0


class Resharding:
    """SplitShard, MergeShards and UpdateShardCount on the streams of one Kinesis store."""

    def __init__(self, store: KinesisStore) -> None:
        self.store = store
        self.clock = store.clock
        self.account_id = store.account_id

    def _check_active(self, stream: Stream) -> None:
        if stream.status != "ACTIVE":
            raise AwsError("ResourceInUseException",
                           f"Stream {stream.name} under account {self.account_id} not ACTIVE, "
                           f"instead in state {stream.status}")

    def _shard_to_reshard(self, stream: Stream, shard_id: str) -> Shard:
        shard = stream.shard(shard_id)
        if shard is None:
            raise AwsError("ResourceNotFoundException",
                           f"Could not find shard {shard_id} in stream {stream.name} under account {self.account_id}.")
        if not shard.is_open:
            raise AwsError("ResourceInUseException",
                           f"Shard {shard_id} in stream {stream.name} under account {self.account_id} has already "
                           "been merged or split, and thus is not eligible for merging or splitting.")
        return shard

    def _reshard(self, stream: Stream, apply: Callable[[], object]) -> None:
        """Apply a resharding now, or (--creation-delays) after an UPDATING phase on the clock, during
        which the parents keep taking records as on AWS."""
        if not self.store.creation_delays:
            apply()
            return
        stream.status = "UPDATING"
        stream.saved()

        def done() -> None:
            if stream.deleted:
                return
            stream.status = "ACTIVE"
            apply()

        self.clock.call_later(UPDATING_SECONDS, done)

    def split_shard(self, stream: Stream, shard_id: str, new_starting_hash_key: str) -> None:
        self._check_active(stream)
        shard = self._shard_to_reshard(stream, shard_id)
        self.store.check_shard_limit(1)
        key = int(new_starting_hash_key) if new_starting_hash_key.isascii() and new_starting_hash_key.isdigit() else -1
        if not shard.starting_hash_key + 1 < key < shard.ending_hash_key:
            raise invalid_argument(
                f"NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {shard_id} in stream "
                f"{stream.name} under account {self.account_id} is not both greater than one plus the shard's "
                f"StartingHashKey {shard.starting_hash_key} and less than the shard's EndingHashKey "
                f"{shard.ending_hash_key}."
            )
        self._reshard(stream, lambda: stream.split(shard, key))

    def merge_shards(self, stream: Stream, shard_id: str, adjacent_id: str) -> None:
        self._check_active(stream)
        shard = self._shard_to_reshard(stream, shard_id)
        adjacent = self._shard_to_reshard(stream, adjacent_id)
        if shard.ending_hash_key + 1 != adjacent.starting_hash_key:
            raise invalid_argument(
                f"Shards {shard_id} and {adjacent_id} in stream {stream.name} under account {self.account_id} "
                "are not an adjacent pair of shards eligible for merging"
            )
        self._reshard(stream, lambda: stream.merge(shard, adjacent))

    def update_shard_count(self, stream: Stream, target: int) -> int:
        """UNIFORM_SCALING to ``target`` shards; the open shard count before it."""
        self._check_active(stream)
        if stream.mode == "ON_DEMAND":
            raise AwsError("ValidationException",
                           f"UpdateShardCount is not supported for stream {stream.name} under account "
                           f"{self.account_id} because it is in ON_DEMAND capacity mode.")
        current = len(stream.open_shards)
        if target > 2 * current or 2 * target < current:
            raise AwsError(
                "LimitExceededException",
                f"UpdateShardCount on stream {stream.name} under account {self.account_id} failed: "
                f"TargetShardCount {target} must be between half and double the current shard count {current}.",
            )
        if target > current:
            self.store.check_shard_limit(target - current)
        self._reshard(stream, lambda: stream.rescale(target))
        return current
