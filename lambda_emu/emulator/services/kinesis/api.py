"""The Kinesis Data Streams API (JSON 1.1, ``Kinesis_20131202.*``): a thin layer over the stream store.

Input arrives validated against botocore's model (blobs as bytes, timestamps as aware datetimes);
the checks left here are the ones AWS makes beyond the model (stream exists, retention bounds,
record sizes...), and those live next to it, one module per AWS concept: the streams in ``store.py``,
iterators and GetRecords in ``iterators.py``, ListShards in ``shards.py``, resharding in ``resharding.py``,
enhanced fan-out in ``fan_out.py``, resource policies in ``policies.py`` and tags in ``tags.py``. This
service puts them together over one store.

The stream event source mapping is handed the same store by the composition root.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.services.kinesis.fan_out import FanOut, subscription_events
from lambda_emu.emulator.services.kinesis.iterators import ShardIterators
from lambda_emu.emulator.services.kinesis.policies import ResourcePolicies
from lambda_emu.emulator.services.kinesis.resharding import Resharding
from lambda_emu.emulator.services.kinesis.shards import ShardListing
from lambda_emu.emulator.services.kinesis.store import KinesisStore
from lambda_emu.emulator.services.kinesis.streams import Shard, Stream, StreamRecord, invalid_argument
from lambda_emu.emulator.services.kinesis.tokens import TokenSeal

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

Params = dict[str, Any]
Result = dict[str, Any]

DESCRIBE_STREAM_MAX_SHARDS = 100
LIST_STREAMS_MAX = 100


def _epoch(value: datetime | float | None) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _record(record: StreamRecord) -> Result:
    return {
        "SequenceNumber": record.sequence_number,
        "ApproximateArrivalTimestamp": record.approximate_arrival,
        "Data": record.data,
        "PartitionKey": record.partition_key,
        "EncryptionType": "NONE",
    }


def _shards(shards: list[Shard]) -> list[Result]:
    return [shard.describe() for shard in shards]


class KinesisService(Service):
    service_name = "kinesis"
    #: Kinesis words a bad list or map element's constraints without "Member must not be null"
    #: (kinesalite's AWS-checked suite: "Map value must satisfy constraint: [... equal to 0]").
    nullable_elements = frozenset({"*"})

    def __init__(self, clock: Clock, *, region: str, account_id: str,
                 state: StateStore | None = None, creation_delays: bool = False) -> None:
        self.store = KinesisStore(clock, region=region, account_id=account_id, state=state,
                                  creation_delays=creation_delays)
        # Signs iterators and ListShards tokens so a forged or foreign one is refused, not misread.
        tokens = TokenSeal(state)
        self.iterators = ShardIterators(self.store, tokens)
        self.shards = ShardListing(self.store, tokens)
        self.resharding = Resharding(self.store)
        self.fan_out = FanOut(self.store)
        self.policies = ResourcePolicies(self.store, self.fan_out)
        self.tagging = self.store.tagging

    def restore(self) -> None:
        """--state-dir: the streams and records an earlier run accepted."""
        self.store.restore()

    def reset(self) -> None:
        self.store.reset()

    def _stream(self, params: Params) -> Stream:
        return self.store.resolve(params.get("StreamName"), params.get("StreamARN"))

    # ---- streams ------------------------------------------------------------------------------

    def CreateStream(self, params: Params) -> Result:
        # Without a mode or a ShardCount AWS makes an on-demand stream (with its default four shards).
        default_mode = "PROVISIONED" if params.get("ShardCount") is not None else "ON_DEMAND"
        mode = (params.get("StreamModeDetails") or {}).get("StreamMode", default_mode)
        self.store.create_stream(
            params["StreamName"],
            shard_count=params.get("ShardCount"),
            mode=mode,
            tags=params.get("Tags"),
            max_record_size_kib=params.get("MaxRecordSizeInKiB"),
        )
        return {}

    def DeleteStream(self, params: Params) -> Result:
        stream = self._stream(params)
        if stream.consumers and not params.get("EnforceConsumerDeletion"):
            raise AwsError("ResourceInUseException",
                           f"Stream {stream.name} under account {self.store.account_id} has registered consumers; "
                           "set EnforceConsumerDeletion to delete it with them.")
        self.store.delete_stream(stream)
        return {}

    def DescribeStream(self, params: Params) -> Result:
        stream = self._stream(params)
        limit = min(params.get("Limit") or DESCRIBE_STREAM_MAX_SHARDS, DESCRIBE_STREAM_MAX_SHARDS)
        start = params.get("ExclusiveStartShardId") or ""
        remaining = [shard for shard in self.shards.visible_shards(stream) if shard.shard_id > start]
        description = {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": stream.status,
            "StreamModeDetails": {"StreamMode": stream.mode},
            "Shards": _shards(remaining[:limit]),
            "HasMoreShards": len(remaining) > limit,
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": stream.created_at,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
        }
        return {"StreamDescription": description}

    def DescribeStreamSummary(self, params: Params) -> Result:
        stream = self._stream(params)
        summary = {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": stream.status,
            "StreamModeDetails": {"StreamMode": stream.mode},
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": stream.created_at,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
            "OpenShardCount": 0 if stream.status == "CREATING" else len(stream.open_shards),
            "ConsumerCount": len(stream.consumers),
            "MaxRecordSizeInKiB": stream.max_record_size_kib,
        }
        return {"StreamDescriptionSummary": summary}

    def ListStreams(self, params: Params) -> Result:
        limit = min(params.get("Limit") or LIST_STREAMS_MAX, LIST_STREAMS_MAX)
        token = params.get("NextToken")
        start = params.get("ExclusiveStartStreamName")
        if token is not None:
            if start is not None:
                raise invalid_argument("NextToken and ExclusiveStartStreamName cannot be provided together.")
            start = self._decode_list_streams_token(token)
        streams = [s for s in self.store.streams() if start is None or s.name > start]
        page, more = streams[:limit], len(streams) > limit
        result: Result = {
            "StreamNames": [s.name for s in page],
            "HasMoreStreams": more,
            "StreamSummaries": [
                {
                    "StreamName": s.name,
                    "StreamARN": s.arn,
                    "StreamStatus": s.status,
                    "StreamModeDetails": {"StreamMode": s.mode},
                    "StreamCreationTimestamp": s.created_at,
                }
                for s in page
            ],
        }
        if more:
            result["NextToken"] = self._encode_list_streams_token(page[-1].name)
        return result

    # A ListStreams token only remembers the last name of its page (names are [a-zA-Z0-9_.-]+).
    @staticmethod
    def _encode_list_streams_token(last_name: str) -> str:
        return base64.urlsafe_b64encode(b"ls1:" + last_name.encode("ascii")).decode("ascii")

    @staticmethod
    def _decode_list_streams_token(token: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
        except (ValueError, UnicodeError) as exc:
            raise invalid_argument("Invalid NextToken.") from exc
        if not raw.startswith("ls1:") or len(raw) <= 4:
            raise invalid_argument("Invalid NextToken.")
        return raw[4:]

    def ListShards(self, params: Params) -> Result:
        token = params.get("NextToken")
        if token is not None:
            for member in ("StreamName", "StreamARN", "StreamCreationTimestamp", "ExclusiveStartShardId"):
                if params.get(member) is not None:
                    raise invalid_argument(f"NextToken and {member} cannot be provided together.")
            page = self.shards.list_shards(None, next_token=token, max_results=params.get("MaxResults"))
        else:
            if not params.get("StreamName") and not params.get("StreamARN"):
                raise invalid_argument("Either NextToken or StreamName should be provided.")
            stream = self._stream(params)
            start = self._list_shards_start(params)
            page = self.shards.list_shards(stream, exclusive_start_shard_id=start, max_results=params.get("MaxResults"),
                                          shard_filter=params.get("ShardFilter"))
        result: Result = {"Shards": _shards(page.shards)}
        if page.next_token:
            result["NextToken"] = page.next_token
        return result

    @staticmethod
    def _list_shards_start(params: Params) -> str | None:
        """Where ListShards starts, and the checks of its ShardFilter (shards.py applies the filter)."""
        shard_filter = params.get("ShardFilter")
        start = params.get("ExclusiveStartShardId")
        if not shard_filter:
            return start
        kind = shard_filter["Type"]
        if start is not None:
            raise invalid_argument("ExclusiveStartShardId and ShardFilter cannot be provided together.")
        if kind == "AFTER_SHARD_ID":
            if not shard_filter.get("ShardId"):
                raise invalid_argument("ShardFilter of type AFTER_SHARD_ID requires a ShardId.")
            return None
        if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP") and shard_filter.get("Timestamp") is None:
            raise invalid_argument(f"ShardFilter of type {kind} requires a Timestamp.")
        return None

    # ---- producing ----------------------------------------------------------------------------

    def _writable(self, params: Params) -> Stream:
        stream = self._stream(params)
        if stream.status == "CREATING":
            raise self.store.not_found(stream.name)
        return stream

    def PutRecord(self, params: Params) -> Result:
        stream = self._writable(params)
        record = self.store.put_record(
            stream, params.get("PartitionKey"), params.get("Data", b""), params.get("ExplicitHashKey"),
            params.get("SequenceNumberForOrdering"),
        )
        return {"ShardId": record.shard_id, "SequenceNumber": record.sequence_number, "EncryptionType": "NONE"}

    def PutRecords(self, params: Params) -> Result:
        stream = self._writable(params)
        records = self.store.put_records(stream, list(params.get("Records") or []))
        # lambda-emu never throttles a record, so no entry carries ErrorCode/ErrorMessage.
        return {
            "FailedRecordCount": 0,
            "Records": [{"SequenceNumber": r.sequence_number, "ShardId": r.shard_id} for r in records],
            "EncryptionType": "NONE",
        }

    # ---- consuming ----------------------------------------------------------------------------

    def _named(self, params: Params) -> tuple[str, Stream | None]:
        """The stream a shard-level call names, or None if there is none (its name is still in AWS's
        messages about the shard)."""
        try:
            stream = self._stream(params)
        except AwsError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            stream = None
        arn = params.get("StreamARN")
        name = params.get("StreamName") or (arn.rsplit("/", 1)[-1] if arn else "")
        return (stream.name if stream else name), stream

    def GetShardIterator(self, params: Params) -> Result:
        name, found = self._named(params)
        shard_id = self.store.shard_id_or_raise(params["ShardId"], name)
        shard = self.iterators.shard_for_iterator(found, shard_id, name)
        assert found is not None
        iterator = self.iterators.shard_iterator(
            found,
            shard,
            params["ShardIteratorType"],
            params.get("StartingSequenceNumber"),
            _epoch(params.get("Timestamp")),
        )
        return {"ShardIterator": iterator}

    def GetRecords(self, params: Params) -> Result:
        page = self.iterators.get_records(params["ShardIterator"], params.get("Limit"), params.get("StreamARN"))
        result: Result = {"Records": [_record(r) for r in page.records]}
        if page.next_shard_iterator is not None:
            result["NextShardIterator"] = page.next_shard_iterator
        result["MillisBehindLatest"] = page.millis_behind_latest
        if page.child_shards is not None:
            # A closed shard read to its end: no NextShardIterator, and where its keys went.
            result["ChildShards"] = [
                {"ShardId": child.shard_id, "ParentShards": list(child.parents), "HashKeyRange": child.hash_range()}
                for child in page.child_shards
            ]
        return result

    # ---- resharding ---------------------------------------------------------------------------

    def _resharded_stream(self, params: Params, *given: str) -> tuple[Stream, list[str]]:
        """The stream and shard ids of SplitShard / MergeShards (a shard id AWS cannot read is refused
        before the stream is looked up)."""
        arn = params.get("StreamARN")
        name = params.get("StreamName") or (arn.rsplit("/", 1)[-1] if arn else "")
        shard_ids = [self.store.shard_id_or_raise(text, name) for text in given]
        return self._stream(params), shard_ids

    def SplitShard(self, params: Params) -> Result:
        stream, (shard_id,) = self._resharded_stream(params, params["ShardToSplit"])
        self.resharding.split_shard(stream, shard_id, params["NewStartingHashKey"])
        return {}

    def MergeShards(self, params: Params) -> Result:
        stream, (shard_id, adjacent_id) = self._resharded_stream(
            params, params["ShardToMerge"], params["AdjacentShardToMerge"])
        self.resharding.merge_shards(stream, shard_id, adjacent_id)
        return {}

    def UpdateShardCount(self, params: Params) -> Result:
        stream = self._stream(params)
        target = params["TargetShardCount"]
        current = self.resharding.update_shard_count(stream, target)
        return {"StreamName": stream.name, "CurrentShardCount": current, "TargetShardCount": target,
                "StreamARN": stream.arn}

    # ---- retention and tags -------------------------------------------------------------------

    def IncreaseStreamRetentionPeriod(self, params: Params) -> Result:
        self.store.increase_retention(self._stream(params), params["RetentionPeriodHours"])
        return {}

    def DecreaseStreamRetentionPeriod(self, params: Params) -> Result:
        self.store.decrease_retention(self._stream(params), params["RetentionPeriodHours"])
        return {}

    def AddTagsToStream(self, params: Params) -> Result:
        self.tagging.check_tag_keys(params["Tags"])
        self.tagging.add_tags(self._stream(params), params["Tags"])
        return {}

    def RemoveTagsFromStream(self, params: Params) -> Result:
        self.tagging.remove_tags(self._stream(params), params["TagKeys"])
        return {}

    def UpdateMaxRecordSize(self, params: Params) -> Result:
        self.store.update_max_record_size(self._stream(params), params["MaxRecordSizeInKiB"])
        return {}

    # The resource-tagging operations, for stream and consumer ARNs.

    def TagResource(self, params: Params) -> Result:
        self.tagging.check_tag_keys(params["Tags"])
        holder = self.policies.policy_holder(params["ResourceARN"])
        if isinstance(holder, Stream):
            self.tagging.add_tags(holder, params["Tags"])
        else:
            self.tagging.check_tags(holder.name, params["Tags"])
            holder.tags.update(params["Tags"])
            self.policies.saved(holder.arn)
        return {}

    def UntagResource(self, params: Params) -> Result:
        holder = self.policies.policy_holder(params["ResourceARN"])
        if isinstance(holder, Stream):
            self.tagging.remove_tags(holder, params["TagKeys"])
        else:
            for key in params["TagKeys"]:
                holder.tags.pop(key, None)
            self.policies.saved(holder.arn)
        return {}

    def ListTagsForResource(self, params: Params) -> Result:
        holder = self.policies.policy_holder(params["ResourceARN"])
        return {"Tags": [{"Key": key, "Value": value} for key, value in sorted(holder.tags.items())]}

    # ---- resource policies (kept and answered; not enforced) ----------------------------------

    def PutResourcePolicy(self, params: Params) -> Result:
        self.policies.put_policy(params["ResourceARN"], params["Policy"])
        return {}

    def GetResourcePolicy(self, params: Params) -> Result:
        policy = self.policies.policy_holder(params["ResourceARN"]).policy
        return {"Policy": policy if policy is not None else "{}"}

    def DeleteResourcePolicy(self, params: Params) -> Result:
        self.policies.delete_policy(params["ResourceARN"])
        return {}

    # ---- enhanced fan-out ---------------------------------------------------------------------

    def RegisterStreamConsumer(self, params: Params) -> Result:
        stream = self.store.stream_by_arn(params["StreamARN"])
        consumer = self.fan_out.register_consumer(stream, params["ConsumerName"], params.get("Tags"))
        return {"Consumer": consumer.describe()}

    def DescribeStreamConsumer(self, params: Params) -> Result:
        _, consumer = self.fan_out.consumer(params.get("StreamARN"), params.get("ConsumerName"),
                                          params.get("ConsumerARN"))
        return {"ConsumerDescription": consumer.describe(with_stream=True)}

    def DeregisterStreamConsumer(self, params: Params) -> Result:
        stream, consumer = self.fan_out.consumer(params.get("StreamARN"), params.get("ConsumerName"),
                                               params.get("ConsumerARN"))
        self.fan_out.deregister_consumer(stream, consumer)
        return {}

    def ListStreamConsumers(self, params: Params) -> Result:
        token = params.get("NextToken")
        stream = self.store.stream_by_arn(params["StreamARN"])
        consumers = sorted(stream.consumers.values(), key=lambda c: (c.created_at, c.name))
        since = _epoch(params.get("StreamCreationTimestamp"))
        if since is not None and since > stream.created_at:
            consumers = []  # the timestamp names another (older or newer) stream of that name
        start = 0
        if token is not None:
            try:
                start = int(base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii").removeprefix("lc1:"))
            except (ValueError, UnicodeError) as exc:
                raise invalid_argument("Invalid NextToken.") from exc
        size = params.get("MaxResults") or 100
        page = consumers[start : start + size]
        result: Result = {"Consumers": [consumer.describe() for consumer in page]}
        if start + size < len(consumers):
            result["NextToken"] = base64.urlsafe_b64encode(f"lc1:{start + size}".encode()).decode("ascii")
        return result

    def SubscribeToShard(self, params: Params) -> Result:
        arn = params["ConsumerARN"]
        found = self.fan_out.find_consumer(arn)
        if found is None:
            raise self.fan_out.consumer_not_found(arn)
        stream, consumer = found
        shard_id = self.store.shard_id_or_raise(params["ShardId"], stream.name)
        shard = self.iterators.shard_for_iterator(stream, shard_id, stream.name)
        position = params["StartingPosition"]
        counter = self.iterators.starting_counter(stream, shard, position["Type"], position.get("SequenceNumber"),
                                              _epoch(position.get("Timestamp")))
        self.fan_out.subscribe(consumer, shard)
        clock = self.store.clock

        def event_of(records: list[StreamRecord], at: int, finished: bool) -> Result:
            event: Result = {
                "Records": [_record(r) for r in records],
                "ContinuationSequenceNumber": shard.sequence_number(at),
                "MillisBehindLatest": ShardIterators.millis_behind(shard, at, clock.now_ms()),
            }
            if finished:
                event["ChildShards"] = [
                    {"ShardId": c.shard_id, "ParentShards": list(c.parents), "HashKeyRange": c.hash_range()}
                    for c in (stream.shard(i) for i in shard.children) if c is not None
                ]
            return event

        return {"EventStream": subscription_events(clock, stream, shard, consumer, counter, event_of=event_of)}

    def ListTagsForStream(self, params: Params) -> Result:
        tags, more = self.tagging.list_tags(self._stream(params), params.get("ExclusiveStartTagKey"),
                                            params.get("Limit"))
        return {"Tags": [{"Key": key, "Value": value} for key, value in tags], "HasMoreTags": more}
