"""Kinesis data streams as plain state on the emulator clock: the streams of one account and Region.

No HTTP here. :class:`KinesisStore` holds the streams: CreateStream / DeleteStream and their phases,
lookups by name or ARN, the shard and record-size limits, retention, and PutRecord / PutRecords (the
checks AWS makes beyond the model). Streams, shards and records themselves are in ``streams.py``; the
API (``api.py``) composes the rest over this store, each in its own module: shard iterators and
GetRecords (``iterators.py``), ListShards (``shards.py``), SplitShard / MergeShards / UpdateShardCount
(``resharding.py``), enhanced fan-out consumers (``fan_out.py``), resource policies (``policies.py``)
and tags (``tags.py``). The stream event source mapping is handed this store and reads through the
internal API of :class:`~lambda_emu.emulator.services.kinesis.streams.Stream`.

Time: nothing here runs a timer except the --creation-delays phases. Retention trimming and iterator
expiry are computed from timestamps on the clock when a stream is touched, so a manual clock can always
settle.

Sequence numbers are 56-digit decimal strings, like AWS's. Ours are laid out as
``"49" + stream key (15 digits) + shard index (6) + counter (33)``: the stream key tells a sequence
number of this stream from one of a deleted stream of the same name, the shard index gives AWS's
"It encodes shardId-…" error, and the counter grows strictly within a shard (it starts from the
arrival time in milliseconds, so numbers also grow with time as AWS's do).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.consumers import Consumer, parse_consumer_arn
from lambda_emu.emulator.services.kinesis.streams import (
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
from lambda_emu.emulator.services.kinesis.tags import MAX_TAGS_PER_STREAM, Tagging

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

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
# --creation-delays: how long a stream stays CREATING (AWS: "typically" well under a minute).
CREATING_SECONDS = 10.0

_MAX_SHARDS_ENCODABLE = 10**6


class KinesisStore:
    """Every stream of one emulator (one account, one Region)."""

    def __init__(self, clock: Clock, *, region: str, account_id: str,
                 state: StateStore | None = None, creation_delays: bool = False) -> None:
        self.clock = clock
        #: --creation-delays: CREATING lasts CREATING_SECONDS on the clock (UPDATING: resharding.py).
        self.creation_delays = creation_delays
        self.region = region
        self.account_id = account_id
        self.state = state
        self.tagging = Tagging(account_id)
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
        self.check_shard_limit(count)
        kib = DEFAULT_MAX_RECORD_KIB if max_record_size_kib is None else max_record_size_kib
        self._check_max_record_size(kib)
        if tags and len(tags) > MAX_TAGS_PER_STREAM:
            raise self.tagging.too_many_tags(name)
        if tags:
            self.tagging.check_tag_keys(tags)
            self.tagging.check_tags(name, tags)
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

    def check_shard_limit(self, adding: int) -> None:
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

    def find_stream(self, name: str) -> Stream | None:
        return self._streams.get(name)

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

    # ---- shard ids ----------------------------------------------------------------------------

    def shard_id_or_raise(self, given: str, stream_name: str) -> str:
        """``given`` as the shard id AWS reads it as; AWS checks this before it looks for the stream."""
        shard_id = canonical_shard_id(given)
        if shard_id is None:
            raise AwsError("ResourceNotFoundException",
                           f"Could not find shard {given} in stream {stream_name} under account {self.account_id}.")
        return shard_id


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
