"""Which shards a stream shows: DescribeStream's and ListShards' view, ListShards' ShardFilter and pages.

A closed shard (a resharding's parent) stays listed until it is older than the retention period; a
CREATING stream lists none. ListShards' NextToken is a signed token (``tokens.py``) that names the
stream and the last shard of its page, and expires 300 seconds after it was handed out.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.streams import Shard, Stream, canonical_shard_id, invalid_argument

if TYPE_CHECKING:
    from lambda_emu.emulator.services.kinesis.store import KinesisStore
    from lambda_emu.emulator.services.kinesis.tokens import TokenSeal

NEXT_TOKEN_TTL_S = 300.0  # ListShards: "Tokens expire after 300 seconds."


@dataclass(frozen=True, slots=True)
class ShardPage:
    shards: list[Shard]
    next_token: str | None


class ShardListing:
    """ListShards over the streams of one Kinesis store."""

    def __init__(self, store: KinesisStore, seal: TokenSeal) -> None:
        self.store = store
        self.clock = store.clock
        self._tokens = seal

    def list_shards(
        self,
        stream: Stream | None,
        *,
        next_token: str | None = None,
        exclusive_start_shard_id: str | None = None,
        max_results: int | None = None,
        shard_filter: dict[str, object] | None = None,
    ) -> ShardPage:
        """One ListShards page. Either ``stream`` (with an optional start) or ``next_token``."""
        page_size = min(max_results or 1000, 1000)
        if next_token is not None:
            stream, last_index = self._decode_shard_token(next_token)
            exclusive_start_shard_id = f"shardId-{last_index:012d}"
        assert stream is not None
        # Shard ids are zero-padded, so id order is index order; a start id need not exist.
        start = exclusive_start_shard_id or ""
        if shard_filter and shard_filter.get("Type") == "AFTER_SHARD_ID":
            given = str(shard_filter["ShardId"])
            start = max(start, canonical_shard_id(given) or given)
        keep = self._shard_filter(stream, shard_filter)
        remaining = [s for s in self.visible_shards(stream) if s.shard_id > start and keep(s)]
        page = remaining[:page_size]
        token = self._encode_shard_token(stream, page[-1].index) if len(remaining) > page_size else None
        return ShardPage(page, token)

    @staticmethod
    def visible_shards(stream: Stream) -> list[Shard]:
        """The shards DescribeStream and ListShards show: none while CREATING; a closed shard until it
        is older than the retention period."""
        if stream.status == "CREATING":
            return []
        horizon = stream.retention_horizon()
        return [s for s in stream.shards if s.closed_at is None or s.closed_at >= horizon]

    @staticmethod
    def _shard_filter(stream: Stream, shard_filter: dict[str, object] | None) -> Callable[[Shard], bool]:
        """ListShards' ShardFilter as AWS documents each type (times clamped to the stream's creation)."""
        kind = (shard_filter or {}).get("Type")

        def open_at(when: float) -> Callable[[Shard], bool]:
            when = max(when, stream.created_at)
            return lambda s: s.created_at <= when and (s.closed_at is None or s.closed_at > when)

        def open_since(when: float) -> Callable[[Shard], bool]:
            return lambda s: s.closed_at is None or s.closed_at >= when

        if kind == "AT_LATEST":
            return lambda s: s.is_open
        if kind == "AT_TRIM_HORIZON":
            return open_at(stream.retention_horizon())
        if kind == "FROM_TRIM_HORIZON":
            return open_since(stream.retention_horizon())
        if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
            assert shard_filter is not None
            when = shard_filter["Timestamp"]
            epoch = when.timestamp() if isinstance(when, datetime) else float(when)  # type: ignore[arg-type]
            return open_at(epoch) if kind == "AT_TIMESTAMP" else open_since(epoch)
        return lambda s: True

    def _encode_shard_token(self, stream: Stream, last_index: int) -> str:
        head = struct.pack(">QQI", self.clock.now_ms(), stream.key, last_index)
        return self._tokens.seal(b"ls", head + stream.name.encode("utf-8"))

    def _decode_shard_token(self, token: str) -> tuple[Stream, int]:
        payload = self._tokens.unseal(b"ls", token)
        if payload is None or len(payload) < 20:
            raise invalid_argument("Invalid NextToken.")
        issued_ms, key, last_index = struct.unpack(">QQI", payload[:20])
        if self.clock.now_ms() - issued_ms > NEXT_TOKEN_TTL_S * 1000:
            raise AwsError("ExpiredNextTokenException", "The timestamp of the NextToken has expired.")
        name = payload[20:].decode("utf-8")
        stream = self.store.find_stream(name)
        if stream is None or stream.key != key:
            raise self.store.not_found(name)
        return stream, last_index
