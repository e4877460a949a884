"""Kinesis data streams as plain state on the emulator clock: streams, shards, records, iterators.

No HTTP here. The Kinesis API (``api.py``) is a thin layer over :class:`KinesisStore`; streams,
shards and records are in ``streams.py``, and the stream event source mapping reads through the
internal API of :class:`~lambda_emu.emulator.services.kinesis.streams.Stream` (``list_shards``,
``starting_sequence_number``, ``read``, ``latest_sequence_number``, ``add_listener``).

The registry, the API's checks beyond the model and the shard iterators stay together (some 580
lines): every check reads the same stream state the iterators do.

Time: nothing here runs a timer. Retention trimming and iterator expiry are computed from timestamps
on the clock when a stream is touched, so a manual clock can always settle.

Sequence numbers are 56-digit decimal strings, like AWS's. Ours are laid out as
``"49" + stream key (15 digits) + shard index (6) + counter (33)``: the stream key tells a sequence
number of this stream from one of a deleted stream of the same name, the shard index gives AWS's
"It encodes shardId-…" error, and the counter grows strictly within a shard (it starts from the
arrival time in milliseconds, so numbers also grow with time as AWS's do).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.consumers import (
    CONSUMER_PHASE_SECONDS,
    MAX_CONSUMERS_PER_STREAM,
    RESUBSCRIBE_SECONDS,
    Consumer,
    consumer_arn,
    parse_consumer_arn,
)
from lambda_emu.emulator.services.kinesis.streams import (
    GET_RECORDS_MAX_BYTES,
    GET_RECORDS_MAX_LIMIT,
    MAX_HASH_KEY,
    Shard,
    Stream,
    StreamMode,
    StreamRecord,
    canonical_shard_id,
    invalid_argument,
    parse_sequence_number,
    partition_key_hash,
)

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

ITERATOR_TTL_S = 300.0  # "A shard iterator expires 5 minutes after it is returned to the requester."
NEXT_TOKEN_TTL_S = 300.0  # ListShards: "Tokens expire after 300 seconds."
MIN_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8760
# New on-demand streams start with 4 MB/s of write capacity, i.e. four shards.
ON_DEMAND_SHARD_COUNT = 4
DEFAULT_MAX_RECORD_KIB = 1024
MIN_MAX_RECORD_KIB = 1024
MAX_MAX_RECORD_KIB = 10240
MAX_PARTITION_KEY_CHARS = 256
PUT_RECORDS_MAX_ENTRIES = 500
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024  # streams with the default 1 MiB record size
PUT_RECORDS_MAX_BYTES_LARGE = 10 * 1024 * 1024  # streams whose MaxRecordSizeInKiB is raised
DEFAULT_SHARD_LIMIT = 500  # AWS's default open-shard quota per account and Region (us-east-1 and others)
MAX_TAGS_PER_STREAM = 50
MAX_TAG_KEY_CHARS = 128
# --creation-delays: how long a stream stays CREATING, and UPDATING after a resharding (AWS: "typically"
# well under a minute to create; a split or merge took some 30-60 s when kinesalite's suite ran on AWS).
CREATING_SECONDS = 10.0
UPDATING_SECONDS = 30.0

# AWS's tag alphabet: Unicode letters, digits, a plain space and _ . / = + - % @ (anything else, a tab
# or a newline included, is refused; "%" passes the first check and is refused by a second, older one).
_TAG_CHARACTERS = re.compile(r"[\w .\/=+\-%@]*")

IteratorType = Literal["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]

_MAX_SHARDS_ENCODABLE = 10**6


# ---- sequence numbers and hash keys ------------------------------------------------------------


def java_date(epoch: float) -> str:
    """``Sun Oct 10 05:17:11 UTC 2021``: how AWS's (Java) messages print a time."""
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[dt.weekday()]} {months[dt.month - 1]} {dt.day:02d} {dt:%H:%M:%S} UTC {dt.year}"


# ---- records and shards -----------------------------------------------------------------------


# ---- streams ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordsPage:
    """One GetRecords answer."""

    records: list[StreamRecord]
    #: None once a closed shard is read to its end; then ``child_shards`` name where to go on.
    next_shard_iterator: str | None
    millis_behind_latest: int
    child_shards: list[Shard] | None = None


@dataclass(frozen=True, slots=True)
class ShardPage:
    shards: list[Shard]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class _Iterator:
    created_ms: int
    stream_key: int
    shard_index: int
    counter: int  # read records strictly after this counter
    stream_name: str


# ---- the store --------------------------------------------------------------------------------


class KinesisStore:
    """Every stream of one emulator (one account, one Region)."""

    def __init__(self, clock: Clock, *, region: str, account_id: str, rng: random.Random,
                 state: StateStore | None = None, creation_delays: bool = False) -> None:
        self.clock = clock
        #: --creation-delays: CREATING and UPDATING last CREATING_SECONDS / UPDATING_SECONDS on the clock.
        self.creation_delays = creation_delays
        self.region = region
        self.account_id = account_id
        self._rng = rng
        # Signs iterators and page tokens so a forged or foreign one is refused, not misread.
        self._secret = secrets.token_bytes(32)
        self.state = state
        if state is not None:
            # Iterators handed out before a restart stay valid after it (for their 5 minutes).
            kept = state.get("meta", "kinesis-secret")
            if kept is not None:
                self._secret = kept["secret"]
            else:
                secret = self._secret
                state.put("meta", "kinesis-secret", lambda: {"secret": secret})
        self._streams: dict[str, Stream] = {}
        self.shard_limit = DEFAULT_SHARD_LIMIT

    # ---- streams ------------------------------------------------------------------------------

    def arn_for(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/{name}"

    def not_found(self, name: str, account_id: str | None = None) -> AwsError:
        return AwsError(
            "ResourceNotFoundException", f"Stream {name} under account {account_id or self.account_id} not found."
        )

    def create_stream(
        self,
        name: str,
        *,
        shard_count: int | None = None,
        mode: StreamMode = "PROVISIONED",
        tags: dict[str, str] | None = None,
        max_record_size_kib: int | None = None,
    ) -> Stream:
        if name in self._streams:
            raise AwsError("ResourceInUseException", f"Stream {name} under account {self.account_id} already exists.")
        count = self._shard_count(mode, shard_count)
        self._check_shard_limit(count)
        kib = DEFAULT_MAX_RECORD_KIB if max_record_size_kib is None else max_record_size_kib
        self._check_max_record_size(kib)
        if tags and len(tags) > MAX_TAGS_PER_STREAM:
            raise self._too_many_tags(name)
        if tags:
            self.check_tag_keys(tags)
            self.check_tags(name, tags)
        stream = Stream(
            self.clock,
            name=name,
            arn=self.arn_for(name),
            # The sequence-number base is unique across runs: not from the seeded RNG.
            key=secrets.SystemRandom().randrange(10**14, 10**15),
            shard_count=count,
            mode=mode,
            max_record_size_kib=kib,
            tags=tags or {},
        )
        self._streams[name] = stream
        stream.state = self.state
        if self.creation_delays:
            stream.status = "CREATING"
            self.clock.call_later(CREATING_SECONDS, lambda: self._activate(stream))
        stream.saved()
        return stream

    def _activate(self, stream: Stream) -> None:
        if not stream.deleted:
            stream.status = "ACTIVE"
            stream.saved()

    @staticmethod
    def _check_max_record_size(kib: int) -> None:
        if not MIN_MAX_RECORD_KIB <= kib <= MAX_MAX_RECORD_KIB:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{kib}' at 'maxRecordSizeInKiB' failed to satisfy "
                f"constraint: Member must have value between {MIN_MAX_RECORD_KIB} and {MAX_MAX_RECORD_KIB}",
            )

    def update_max_record_size(self, stream: Stream, kib: int) -> None:
        """UpdateMaxRecordSize: applies to records put from now on."""
        self._check_max_record_size(kib)
        stream.max_record_size_kib = kib
        stream.saved()

    def _shard_count(self, mode: StreamMode, shard_count: int | None) -> int:
        if mode == "ON_DEMAND":
            if shard_count is not None:
                raise AwsError("ValidationException", "ShardCount must not be specified for an ON_DEMAND stream.")
            return ON_DEMAND_SHARD_COUNT
        if shard_count is None:
            raise AwsError("ValidationException", "ShardCount is required for a PROVISIONED stream.")
        return self._check_shard_count(shard_count)

    @staticmethod
    def _check_shard_count(shard_count: int) -> int:
        if shard_count < 1:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{shard_count}' at 'shardCount' failed to satisfy "
                "constraint: Member must have value greater than or equal to 1",
            )
        return shard_count

    def _check_shard_limit(self, adding: int) -> None:
        current = sum(len(s.open_shards) for s in self._streams.values())
        if current + adding > min(self.shard_limit, _MAX_SHARDS_ENCODABLE):
            raise AwsError(
                "LimitExceededException",
                f"This request would exceed the shard limit for the account {self.account_id} in {self.region}. "
                f"Current shard count for the account: {current}. Limit: {self.shard_limit}. "
                f"Number of additional shards that would have resulted from this request: {adding}. "
                "Refer to the AWS Service Limits page "
                "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
                "for current limits and how to request higher limits.",
            )

    def delete_stream(self, stream: Stream) -> None:
        if self.state is not None:
            self.state.delete("kinesis-stream", stream.name)
            self.state.delete_owned("kinesis-record", stream.name)
        self._streams.pop(stream.name, None)
        stream.deleted = True
        stream.status = "DELETING"
        # Wake pollers so they notice the stream is gone instead of waiting for data that never comes.
        stream.notify(shard.shard_id for shard in stream.shards)

    def reset(self) -> None:
        """Delete every stream (``POST /_emu/reset``)."""
        for stream in list(self._streams.values()):
            self.delete_stream(stream)
        self._streams = {}

    def restore(self) -> None:
        """The streams of the state directory with their records (those still within retention)."""
        state = self.state
        if state is None:
            return
        for name, record in state.load("kinesis-stream"):
            stream = Stream(self.clock, name=name, arn=self.arn_for(name), key=record["key"], shard_count=1,
                            mode=record["mode"], max_record_size_kib=record["max_record_size_kib"],
                            tags=record["tags"])
            stream.restore(record)
            stream.consumers = {saved["name"]: Consumer.from_record(stream.arn, saved)
                                for saved in record.get("consumers", [])}
            if stream.status in ("CREATING", "UPDATING"):
                # The phase's timer did not survive the restart: the stream is ready now (an UPDATING
                # phase's resharding is not applied; docs/aws-behaviour.md).
                stream.status = "ACTIVE"
            self._streams[name] = stream
        for key, record in state.load("kinesis-record"):
            name, index, counter = key.rsplit("/", 2)
            found = self._streams.get(name)
            if found is not None and int(index) < len(found.shards):
                found.shards[int(index)].restore_record(record["pk"], record["data"], record["at"], int(counter))
        for stream in self._streams.values():
            stream.state = state
            stream.trim()

    def stream(self, name: str) -> Stream:
        stream = self._streams.get(name)
        if stream is None:
            raise self.not_found(name)
        return stream

    def find_stream_by_arn(self, arn: str) -> Stream | None:
        """The live stream with this ARN, or None (unknown, deleted, or another account/Region). A
        consumer's ARN names its stream while the consumer is registered (mappings on a consumer)."""
        consumer = parse_consumer_arn(arn)
        if consumer is not None:
            stream = self.find_stream_by_arn(consumer[0])
            registered = stream.consumers.get(consumer[1]) if stream is not None else None
            return stream if registered is not None and registered.arn == arn else None
        parsed = self._parse_arn(arn)
        if parsed is None:
            return None
        region, account, name = parsed
        if region != self.region or account != self.account_id:
            return None
        return self._streams.get(name)

    def stream_by_arn(self, arn: str) -> Stream:
        parsed = self._parse_arn(arn)
        if parsed is None:
            raise invalid_argument(f"Invalid StreamARN {arn}.")
        stream = self.find_stream_by_arn(arn)
        if stream is None:
            raise self.not_found(parsed[2], parsed[1])
        return stream

    def resolve(self, name: str | None, arn: str | None) -> Stream:
        """The stream an API call names by StreamName, StreamARN or both (they must agree)."""
        if arn:
            stream = self.stream_by_arn(arn)
            if name and name != stream.name:
                raise invalid_argument(f"StreamARN {arn} and StreamName {name} do not refer to the same stream.")
            return stream
        if name:
            return self.stream(name)
        raise invalid_argument("Either StreamName or StreamARN must be provided.")

    @staticmethod
    def _parse_arn(arn: str) -> tuple[str, str, str] | None:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kinesis" or not parts[5].startswith("stream/"):
            return None
        name = parts[5][len("stream/") :]
        if not name or "/" in name:
            return None
        return parts[3], parts[4], name

    def streams(self) -> list[Stream]:
        """All streams, by name (the order ListStreams pages in)."""
        return [self._streams[name] for name in sorted(self._streams)]

    # ---- shard ids and resharding -------------------------------------------------------------

    def shard_id_or_raise(self, given: str, stream_name: str) -> str:
        """``given`` as the shard id AWS reads it as; AWS checks this before it looks for the stream."""
        shard_id = canonical_shard_id(given)
        if shard_id is None:
            raise AwsError("ResourceNotFoundException",
                           f"Could not find shard {given} in stream {stream_name} under account {self.account_id}.")
        return shard_id

    def shard_for_iterator(self, stream: Stream | None, shard_id: str, stream_name: str) -> Shard:
        """GetShardIterator's lookup: an unknown stream reads as an unknown shard there; a CREATING stream
        has no shards yet."""
        shard = None if stream is None or stream.status == "CREATING" else stream.shard(shard_id)
        if shard is None:
            raise AwsError("ResourceNotFoundException",
                           f"Shard {shard_id} in stream {stream_name} under account {self.account_id} does not exist")
        return shard

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
        if not self.creation_delays:
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
        self._check_shard_limit(1)
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
            self._check_shard_limit(target - current)
        self._reshard(stream, lambda: stream.rescale(target))
        return current

    # ---- enhanced fan-out consumers -----------------------------------------------------------

    def register_consumer(self, stream: Stream, name: str, tags: dict[str, str] | None) -> Consumer:
        if name in stream.consumers:
            raise AwsError("ResourceInUseException",
                           f"Consumer {name} under stream {stream.name} under account {self.account_id} "
                           "already exists.")
        if len(stream.consumers) >= MAX_CONSUMERS_PER_STREAM:
            raise AwsError("LimitExceededException",
                           f"Consumer limit of {MAX_CONSUMERS_PER_STREAM} reached for stream {stream.name} "
                           f"under account {self.account_id}.")
        if tags:
            self.check_tag_keys(tags)
            self.check_tags(stream.name, tags)
        created = self.clock.now_ms() / 1000
        consumer = Consumer(name, consumer_arn(stream.arn, name, created), stream.arn, created, tags=dict(tags or {}))
        stream.consumers[name] = consumer
        if self.creation_delays:
            consumer.status = "CREATING"

            def active() -> None:
                if consumer.status == "CREATING":
                    consumer.status = "ACTIVE"
                    stream.saved()

            self.clock.call_later(CONSUMER_PHASE_SECONDS, active)
        stream.saved()
        return consumer

    def consumer_not_found(self, what: str) -> AwsError:
        return AwsError("ResourceNotFoundException", f"Consumer {what} under account {self.account_id} not found.")

    def find_consumer(self, arn: str) -> tuple[Stream, Consumer] | None:
        parsed = parse_consumer_arn(arn)
        if parsed is None:
            return None
        stream = self.find_stream_by_arn(parsed[0])
        consumer = stream.consumers.get(parsed[1]) if stream is not None else None
        if stream is None or consumer is None or consumer.arn != arn:
            return None
        return stream, consumer

    def consumer(self, stream_arn: str | None, name: str | None, arn: str | None) -> tuple[Stream, Consumer]:
        """The consumer DescribeStreamConsumer / DeregisterStreamConsumer name: by ARN, or by stream and name."""
        if arn:
            if parse_consumer_arn(arn) is None:
                raise invalid_argument(f"Invalid ConsumerARN {arn}.")
            found = self.find_consumer(arn)
            if found is None:
                raise self.consumer_not_found(arn)
            return found
        if not stream_arn or not name:
            raise invalid_argument("Either ConsumerARN or both ConsumerName and StreamARN must be provided.")
        stream = self.stream_by_arn(stream_arn)
        consumer = stream.consumers.get(name)
        if consumer is None:
            raise self.consumer_not_found(f"{name} under stream {stream.name}")
        return stream, consumer

    def deregister_consumer(self, stream: Stream, consumer: Consumer) -> None:
        def gone() -> None:
            if stream.consumers.get(consumer.name) is consumer:
                del stream.consumers[consumer.name]
                stream.saved()

        consumer.status = "DELETING"
        # Its subscriptions end now.
        stream.notify(list(consumer.generations))
        if self.creation_delays:
            stream.saved()
            self.clock.call_later(CONSUMER_PHASE_SECONDS, gone)
        else:
            gone()

    def subscribe(self, consumer: Consumer, shard: Shard) -> None:
        """Start a subscription of ``consumer`` to ``shard`` (a newer one ends the older)."""
        if consumer.status != "ACTIVE":
            raise AwsError("ResourceInUseException",
                           f"Consumer {consumer.arn} is not in ACTIVE state (it is {consumer.status}).")
        now = self.clock.now()
        last = consumer.subscribed_at.get(shard.shard_id)
        if last is not None and now - last < RESUBSCRIBE_SECONDS:
            raise AwsError("ResourceInUseException",
                           f"Another active subscription exists for this consumer: {consumer.arn} "
                           f"and shard {shard.shard_id}.")
        consumer.subscribed_at[shard.shard_id] = now
        consumer.generations[shard.shard_id] = consumer.generations.get(shard.shard_id, 0) + 1

    def starting_counter(self, stream: Stream, shard: Shard, kind: IteratorType, sequence_number: str | None,
                         timestamp: float | None) -> int:
        """Where a SubscribeToShard StartingPosition puts the reader (records after the counter)."""
        token = self.shard_iterator(stream, shard, kind, sequence_number, timestamp)
        return self._decode_iterator(token).counter

    # ---- resource policies ------------------------------------------------------------------------

    def policy_holder(self, arn: str) -> Stream | Consumer:
        """The stream or consumer a resource-policy or tagging call names."""
        if "/consumer/" in arn:
            found = self.find_consumer(arn)
            if found is None:
                raise self.consumer_not_found(arn)
            return found[1]
        return self.stream_by_arn(arn)

    def put_policy(self, arn: str, policy: str) -> None:
        holder = self.policy_holder(arn)
        try:
            document = json.loads(policy)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise invalid_argument("Policy document is not valid JSON.")
        holder.policy = policy
        self._saved(arn)

    def delete_policy(self, arn: str) -> None:
        holder = self.policy_holder(arn)
        if holder.policy is None:
            raise AwsError("ResourceNotFoundException", f"No resource policy found for resource ARN {arn}.")
        holder.policy = None
        self._saved(arn)

    def _saved(self, arn: str) -> None:
        parsed = parse_consumer_arn(arn)
        stream = self.find_stream_by_arn(parsed[0] if parsed else arn)
        if stream is not None:
            stream.saved()

    # ---- producing ----------------------------------------------------------------------------

    def put_record(
        self, stream: Stream, partition_key: str | None, data: bytes, explicit_hash_key: str | None = None,
        sequence_number_for_ordering: str | None = None,
    ) -> StreamRecord:
        shard = self._target_shard(stream, partition_key, data, explicit_hash_key, "")
        if sequence_number_for_ordering is not None:
            # Any sequence number this stream handed out orders the put; every number lambda-emu hands
            # out already grows within a shard, so a valid one changes nothing.
            parsed = parse_sequence_number(sequence_number_for_ordering)
            if parsed is None or parsed[0] != stream.key:
                raise invalid_argument(
                    f"ExclusiveMinimumSequenceNumber {sequence_number_for_ordering} used in PutRecord on stream "
                    f"{stream.name} under account {self.account_id} is invalid."
                )
        record = stream.append(shard, partition_key or "", data)
        stream.notify([shard.shard_id])
        return record

    def put_records(self, stream: Stream, entries: list[dict[str, object]]) -> list[StreamRecord]:
        """All or nothing on validation (AWS refuses the whole request); then one record per entry."""
        if not 1 <= len(entries) <= PUT_RECORDS_MAX_ENTRIES:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{len(entries)}' at 'records' failed to satisfy constraint: "
                f"Member must have length {'less than or equal to 500' if entries else 'greater than or equal to 1'}",
            )
        targets: list[tuple[Shard, str, bytes]] = []
        total = 0
        for position, entry in enumerate(entries, start=1):
            key = entry.get("PartitionKey")
            data = entry.get("Data", b"")
            hash_key = entry.get("ExplicitHashKey")
            assert isinstance(data, bytes) and (key is None or isinstance(key, str))
            assert hash_key is None or isinstance(hash_key, str)
            shard = self._target_shard(stream, key, data, hash_key, f"records.{position}.member.")
            targets.append((shard, key or "", data))
            total += len(data) + len((key or "").encode("utf-8"))
        request_limit = PUT_RECORDS_MAX_BYTES if stream.max_record_bytes <= 1024 * 1024 else PUT_RECORDS_MAX_BYTES_LARGE
        if total > request_limit:
            raise invalid_argument(f"Records size exceeds {request_limit // (1024 * 1024)} MB limit")
        records = [stream.append(shard, key, data) for shard, key, data in targets]
        stream.notify(dict.fromkeys(record.shard_id for record in records))
        return records

    def _target_shard(
        self, stream: Stream, partition_key: str | None, data: bytes, explicit_hash_key: str | None, path: str
    ) -> Shard:
        if partition_key is None:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value null at '{path}partitionKey' failed to satisfy constraint: "
                "Member must not be null",
            )
        if not 1 <= len(partition_key) <= MAX_PARTITION_KEY_CHARS:
            bound = "less than or equal to 256" if partition_key else "greater than or equal to 1"
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{partition_key}' at '{path}partitionKey' failed to satisfy "
                f"constraint: Member must have length {bound}",
            )
        size = len(data) + len(partition_key.encode("utf-8"))
        if size > stream.max_record_bytes:
            raise invalid_argument(
                f"Record size {size} bytes (data plus partition key) exceeds the maximum record size of "
                f"{stream.max_record_size_kib} KiB for stream {stream.name} under account {self.account_id}."
            )
        if explicit_hash_key is None:
            return stream.shard_for_hash_key(partition_key_hash(partition_key))
        if not explicit_hash_key.isascii() or not explicit_hash_key.isdigit() or int(explicit_hash_key) > MAX_HASH_KEY:
            raise invalid_argument(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                f"Specified value was {explicit_hash_key}"
            )
        return stream.shard_for_hash_key(int(explicit_hash_key))

    # ---- consuming: shard iterators -----------------------------------------------------------

    def shard_iterator(
        self,
        stream: Stream,
        shard: Shard | str,
        iterator_type: IteratorType,
        starting_sequence_number: str | None = None,
        timestamp: float | None = None,
    ) -> str:
        if isinstance(shard, str):
            shard = stream._shard_or_raise(shard)
        stream.trim()
        self._check_iterator_arguments(iterator_type, starting_sequence_number, timestamp)
        if iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            assert starting_sequence_number is not None
            counter = self._sequence_counter(stream, shard, starting_sequence_number)
            position = counter - 1 if iterator_type == "AT_SEQUENCE_NUMBER" else counter
        elif iterator_type == "TRIM_HORIZON":
            position = shard.start_counter
        elif iterator_type == "LATEST":
            position = shard.last_counter
        else:
            assert timestamp is not None
            now_ms = self.clock.now_ms()
            if int(timestamp * 1000) > now_ms:
                raise invalid_argument(
                    "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                    f"timestampInMillis: {int(timestamp * 1000)}, currentTimestampInMillis: {now_ms}"
                )
            record = shard.first_arrived_at_or_after(timestamp)
            position = record.counter - 1 if record else shard.last_counter
        return self._encode_iterator(stream, shard, position)

    @staticmethod
    def _check_iterator_arguments(
        iterator_type: str, starting_sequence_number: str | None, timestamp: float | None
    ) -> None:
        by_sequence = iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
        if by_sequence and starting_sequence_number is None:
            raise invalid_argument(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                f"Request specified {iterator_type} and no StartingSequenceNumber."
            )
        if not by_sequence and starting_sequence_number is not None:
            raise invalid_argument(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                f"Request specified {iterator_type} and also a StartingSequenceNumber."
            )
        if iterator_type == "AT_TIMESTAMP" and timestamp is None:
            raise invalid_argument(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                "Current request has no timestamp parameter."
            )
        if iterator_type != "AT_TIMESTAMP" and timestamp is not None:
            raise invalid_argument(
                f"Must specify timestampInMillis parameter only for iterator of type AT_TIMESTAMP. "
                f"Current request has type {iterator_type}."
            )

    def _sequence_counter(self, stream: Stream, shard: Shard, sequence_number: str) -> int:
        parsed = parse_sequence_number(sequence_number)
        prefix = (
            f"StartingSequenceNumber {sequence_number} used in GetShardIterator on shard {shard.shard_id} "
            f"in stream {stream.name} under account {self.account_id} is invalid"
        )
        if parsed is None:
            raise invalid_argument(prefix + ".")
        key, index, counter = parsed
        if key != stream.key:
            raise invalid_argument(prefix + " because it did not come from this stream.")
        if index != shard.index:
            raise invalid_argument(
                f"Invalid StartingSequenceNumber. It encodes shardId-{index:012d}, "
                f"while it was used in a call to a shard with {shard.shard_id}"
            )
        return counter

    def get_records(self, shard_iterator: str, limit: int | None = None, stream_arn: str | None = None) -> RecordsPage:
        it = self._decode_iterator(shard_iterator)
        now = self.clock.now()
        if now * 1000 - it.created_ms > ITERATOR_TTL_S * 1000:
            raise AwsError(
                "ExpiredIteratorException",
                f"Iterator expired. The iterator was created at time {java_date(it.created_ms / 1000)} "
                f"while right now it is {java_date(now)} which is further in the future than the tolerated "
                f"delay of {int(ITERATOR_TTL_S * 1000)} milliseconds.",
            )
        stream = self._streams.get(it.stream_name)
        shard_id = f"shardId-{it.shard_index:012d}"
        if stream is None or stream.key != it.stream_key or stream.shard(shard_id) is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Shard {shard_id} in stream {it.stream_name} under account {self.account_id} does not exist",
            )
        if stream_arn is not None and stream_arn != stream.arn:
            raise invalid_argument(f"ShardIterator does not belong to stream {stream_arn}.")
        if limit is not None and not 1 <= limit <= GET_RECORDS_MAX_LIMIT:
            raise invalid_argument(f"Limit {limit} is out of range [1, {GET_RECORDS_MAX_LIMIT}].")
        shard = stream.shard(shard_id)
        assert shard is not None
        stream.trim()
        records = shard.records_after(it.counter, limit or GET_RECORDS_MAX_LIMIT, GET_RECORDS_MAX_BYTES)
        position = records[-1].counter if records else it.counter
        behind = self._millis_behind(shard, position, self.clock.now_ms())
        if not shard.is_open and shard.next_after(position) is None:
            children = [child for child in (stream.shard(i) for i in shard.children) if child is not None]
            return RecordsPage(records, None, behind, children)
        return RecordsPage(records, self._encode_iterator(stream, shard, position), behind)

    @staticmethod
    def _millis_behind(shard: Shard, position: int, now_ms: int) -> int:
        """0 when caught up with the tip; otherwise how old the next unread record is."""
        pending = shard.next_after(position)
        if pending is None:
            return 0
        return max(0, now_ms - round(pending.approximate_arrival * 1000))

    # Iterators and page tokens carry their own state, signed: nothing to store, nothing to expire.

    def _seal(self, kind: bytes, payload: bytes) -> str:
        mac = hmac.new(self._secret, kind + payload, hashlib.sha256).digest()[:12]
        return base64.b64encode(mac + payload).decode("ascii")

    def _open(self, kind: bytes, token: str) -> bytes | None:
        try:
            raw = base64.b64decode(token.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            return None
        mac, payload = raw[:12], raw[12:]
        expected = hmac.new(self._secret, kind + payload, hashlib.sha256).digest()[:12]
        return payload if len(raw) > 12 and hmac.compare_digest(mac, expected) else None

    _ITERATOR_HEAD = struct.Struct(">BQQI")

    def _encode_iterator(self, stream: Stream, shard: Shard, counter: int) -> str:
        head = self._ITERATOR_HEAD.pack(1, self.clock.now_ms(), stream.key, shard.index)
        return self._seal(b"it", head + counter.to_bytes(16, "big") + stream.name.encode("utf-8"))

    def _decode_iterator(self, token: str) -> _Iterator:
        # AWS reads an iterator pasted with its JSON quotes around it (`aws kinesis get-records
        # --shard-iterator "\"AAAA...\""`) as the iterator itself.
        if len(token) > 1 and token.startswith('"') and token.endswith('"'):
            token = token[1:-1]
        payload = self._open(b"it", token)
        size = self._ITERATOR_HEAD.size
        if payload is None or len(payload) < size + 16:
            raise invalid_argument("Invalid ShardIterator.")
        _, created_ms, key, index = self._ITERATOR_HEAD.unpack(payload[:size])
        counter = int.from_bytes(payload[size : size + 16], "big")
        return _Iterator(created_ms, key, index, counter, payload[size + 16 :].decode("utf-8"))

    # ---- shard listings -----------------------------------------------------------------------

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
        return self._seal(b"ls", head + stream.name.encode("utf-8"))

    def _decode_shard_token(self, token: str) -> tuple[Stream, int]:
        payload = self._open(b"ls", token)
        if payload is None or len(payload) < 20:
            raise invalid_argument("Invalid NextToken.")
        issued_ms, key, last_index = struct.unpack(">QQI", payload[:20])
        if self.clock.now_ms() - issued_ms > NEXT_TOKEN_TTL_S * 1000:
            raise AwsError("ExpiredNextTokenException", "The timestamp of the NextToken has expired.")
        name = payload[20:].decode("utf-8")
        stream = self._streams.get(name)
        if stream is None or stream.key != key:
            raise self.not_found(name)
        return stream, last_index

    # ---- retention and tags -------------------------------------------------------------------

    def increase_retention(self, stream: Stream, hours: int) -> None:
        self._check_retention_bounds(hours)
        if hours < stream.retention_hours:
            raise invalid_argument(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be shorter than "
                f"existing retention period ({stream.retention_hours} hours). Use DecreaseRetentionPeriod API."
            )
        # Records already past the old retention stay gone: trim at the old period before widening it.
        stream.trim()
        stream.retention_hours = hours
        stream.saved()

    def decrease_retention(self, stream: Stream, hours: int) -> None:
        self._check_retention_bounds(hours)
        if hours > stream.retention_hours:
            raise invalid_argument(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be longer than "
                f"existing retention period ({stream.retention_hours} hours). Use IncreaseRetentionPeriod API."
            )
        stream.retention_hours = hours
        stream.saved()
        stream.trim()

    @staticmethod
    def _check_retention_bounds(hours: int) -> None:
        if hours < MIN_RETENTION_HOURS:
            raise invalid_argument(
                f"Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. "
                f"Requested retention period ({hours} hours) is too short."
            )
        if hours > MAX_RETENTION_HOURS:
            raise invalid_argument(
                f"Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. "
                f"Requested retention period ({hours} hours) is too long."
            )

    @staticmethod
    def check_tag_keys(tags: dict[str, str]) -> None:
        """AWS's tag key lengths: a validation error, answered before the stream is looked up."""
        if any(not 1 <= len(key) <= MAX_TAG_KEY_CHARS for key in tags):
            rendered = ", ".join(f"{key}={value}" for key, value in tags.items())
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{{{rendered}}}' at 'tags' failed to satisfy constraint: "
                "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
                "Member must have length greater than or equal to 1]",
            )

    def check_tags(self, stream_name: str, tags: dict[str, str] | list[str], verb: str = "add tags to") -> None:
        """AWS's tag alphabet (``verb``: "remove tags from" for RemoveTagsFromStream's keys)."""
        texts = [*tags, *tags.values()] if isinstance(tags, dict) else list(tags)
        if not all(_TAG_CHARACTERS.fullmatch(text) for text in texts):
            raise invalid_argument("Some tags contain invalid characters. Valid characters: "
                                   "Unicode letters, digits, white space, _ . / = + - % @.")
        if any("%" in text for text in texts):
            raise invalid_argument(
                f"Failed to {verb} stream {stream_name} under account {self.account_id} because some tags "
                "contained illegal characters. The allowed characters are Unicode letters, white-spaces, "
                "'_',',','/','=','+','-','@'."
            )

    def add_tags(self, stream: Stream, tags: dict[str, str]) -> None:
        self.check_tags(stream.name, tags)
        merged = {**stream.tags, **tags}
        if len(merged) > MAX_TAGS_PER_STREAM:
            raise self._too_many_tags(stream.name)
        stream.tags = merged
        stream.saved()

    def _too_many_tags(self, name: str) -> AwsError:
        return invalid_argument(
            f"Failed to add tags to stream {name} under account {self.account_id} because a given stream "
            f"cannot have more than {MAX_TAGS_PER_STREAM} tags associated with it."
        )

    def remove_tags(self, stream: Stream, keys: list[str]) -> None:
        self.check_tags(stream.name, keys, "remove tags from")
        for key in keys:
            stream.tags.pop(key, None)
        stream.saved()

    @staticmethod
    def list_tags(
        stream: Stream, exclusive_start_key: str | None, limit: int | None
    ) -> tuple[list[tuple[str, str]], bool]:
        """Tags in key order after ``exclusive_start_key``; (page, has_more)."""
        items = sorted(stream.tags.items())
        if exclusive_start_key is not None:
            items = [item for item in items if item[0] > exclusive_start_key]
        size = limit or MAX_TAGS_PER_STREAM
        return items[:size], len(items) > size
