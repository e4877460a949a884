"""The Kinesis stream store on a manual clock: no HTTP, no mocks."""

from __future__ import annotations

import hashlib

import pytest

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.kinesis.iterators import ShardIterators
from lambda_emu.emulator.services.kinesis.shards import ShardListing
from lambda_emu.emulator.services.kinesis.store import ON_DEMAND_SHARD_COUNT, KinesisStore
from lambda_emu.emulator.services.kinesis.streams import parse_sequence_number
from lambda_emu.emulator.services.kinesis.tokens import TokenSeal

START = 1_700_000_000.0
ACCOUNT = "123456789012"

# What AWS returns for the hash-key ranges of a 4-shard stream.
FOUR_SHARD_RANGES = [
    ("0", "85070591730234615865843651857942052863"),
    ("85070591730234615865843651857942052864", "170141183460469231731687303715884105727"),
    ("170141183460469231731687303715884105728", "255211775190703847597530955573826158591"),
    ("255211775190703847597530955573826158592", "340282366920938463463374607431768211455"),
]


@pytest.fixture
def clock() -> Clock:
    return Clock("manual", start=START)


@pytest.fixture
def store(clock: Clock) -> KinesisStore:
    return KinesisStore(clock, region="us-east-1", account_id=ACCOUNT)


@pytest.fixture
def tokens() -> TokenSeal:
    return TokenSeal()


@pytest.fixture
def iterators(store: KinesisStore, tokens: TokenSeal) -> ShardIterators:
    return ShardIterators(store, tokens)


@pytest.fixture
def listing(store: KinesisStore, tokens: TokenSeal) -> ShardListing:
    return ShardListing(store, tokens)


def code_of(excinfo: pytest.ExceptionInfo[AwsError]) -> str:
    return excinfo.value.code


def test_four_shards_split_the_hash_space_like_aws(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=4)
    ranges = [
        (s.describe()["HashKeyRange"]["StartingHashKey"], s.describe()["HashKeyRange"]["EndingHashKey"])  # type: ignore[index]
        for s in stream.shards
    ]
    assert ranges == FOUR_SHARD_RANGES
    assert [s.shard_id for s in stream.shards] == [f"shardId-00000000000{i}" for i in range(4)]
    assert stream.arn == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"
    assert stream.status == "ACTIVE"


def test_three_shards_last_takes_the_remainder(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=3)
    assert [(s.starting_hash_key, s.ending_hash_key) for s in stream.shards] == [
        (0, 113427455640312821154458202477256070484),
        (113427455640312821154458202477256070485, 226854911280625642308916404954512140969),
        (226854911280625642308916404954512140970, 2**128 - 1),
    ]


def test_on_demand_gets_default_shards(store: KinesisStore) -> None:
    assert len(store.create_stream("od", mode="ON_DEMAND").shards) == ON_DEMAND_SHARD_COUNT


def test_duplicate_create_is_resource_in_use(store: KinesisStore) -> None:
    store.create_stream("s", shard_count=1)
    with pytest.raises(AwsError) as excinfo:
        store.create_stream("s", shard_count=1)
    assert code_of(excinfo) == "ResourceInUseException"
    assert excinfo.value.message == f"Stream s under account {ACCOUNT} already exists."


def test_shard_limit(store: KinesisStore) -> None:
    store.shard_limit = 5
    store.create_stream("a", shard_count=4)
    with pytest.raises(AwsError) as excinfo:
        store.create_stream("b", shard_count=2)
    assert code_of(excinfo) == "LimitExceededException"


def test_partition_key_routes_by_md5(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=4)
    for key in ("a", "b", "hello", "partition-42", "ü"):
        record = store.put_record(stream, key, b"x")
        hash_key = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        shard = stream.shard(record.shard_id)
        assert shard is not None and shard.starting_hash_key <= hash_key <= shard.ending_hash_key


def test_explicit_hash_key_overrides(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=4)
    assert store.put_record(stream, "k", b"", explicit_hash_key="0").shard_id == "shardId-000000000000"
    top = str(2**128 - 1)
    assert store.put_record(stream, "k", b"", explicit_hash_key=top).shard_id == "shardId-000000000003"
    with pytest.raises(AwsError) as excinfo:
        store.put_record(stream, "k", b"", explicit_hash_key=str(2**128))
    assert code_of(excinfo) == "InvalidArgumentException"
    assert "ExplicitHashKey must be in the range: [0, 2^128-1]" in excinfo.value.message


async def test_sequence_numbers_are_56_digits_and_strictly_increasing(store: KinesisStore, clock: Clock) -> None:
    stream = store.create_stream("s", shard_count=1)
    shard = stream.shards[0]
    seqs = [store.put_record(stream, "k", b"%d" % i).sequence_number for i in range(5)]
    await clock.advance(1.5)
    seqs += [store.put_record(stream, "k", b"late").sequence_number]
    assert all(len(s) == 56 and s.isdigit() for s in seqs)
    assert [int(s) for s in seqs] == sorted({int(s) for s in seqs})
    assert int(shard.starting_sequence_number) < int(seqs[0])
    assert parse_sequence_number(seqs[0]) is not None


async def test_arrival_timestamps_are_on_the_clock(store: KinesisStore, clock: Clock) -> None:
    stream = store.create_stream("s", shard_count=1)
    await clock.advance(12.3456)
    record = store.put_record(stream, "k", b"d")
    assert record.approximate_arrival == pytest.approx(START + 12.345, abs=1e-6)  # millisecond precision


def test_record_size_and_partition_key_limits(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=1)
    store.put_record(stream, "k", b"x" * (1024 * 1024 - 1))  # data + key = exactly 1 MiB
    with pytest.raises(AwsError) as excinfo:
        store.put_record(stream, "k", b"x" * (1024 * 1024))
    assert code_of(excinfo) == "InvalidArgumentException"
    with pytest.raises(AwsError) as excinfo:
        store.put_record(stream, "k" * 257, b"x")
    assert code_of(excinfo) == "ValidationException"
    big = store.create_stream("big", shard_count=1, max_record_size_kib=2048)
    store.put_record(big, "k", b"x" * (2 * 1024 * 1024 - 1))


def test_put_records_is_all_or_nothing_on_validation(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=2)
    with pytest.raises(AwsError) as excinfo:
        store.put_records(stream, [{"PartitionKey": "a", "Data": b"1"}, {"Data": b"2"}])
    assert code_of(excinfo) == "ValidationException"
    assert "records.2.member.partitionKey" in excinfo.value.message
    assert all(not s.live_records() for s in stream.shards)
    with pytest.raises(AwsError):
        store.put_records(stream, [{"PartitionKey": "a", "Data": b""}] * 501)
    with pytest.raises(AwsError) as excinfo:  # 6 x 1 MiB - over the 5 MiB request limit
        store.put_records(stream, [{"PartitionKey": "a", "Data": b"x" * (1024 * 1024 - 1)}] * 6)
    assert code_of(excinfo) == "InvalidArgumentException"
    records = store.put_records(stream, [{"PartitionKey": str(i), "Data": b"d"} for i in range(500)])
    assert len(records) == 500


def test_iterators_trim_horizon_latest_and_sequence(store: KinesisStore, iterators: ShardIterators) -> None:
    stream = store.create_stream("s", shard_count=1)
    shard_id = "shardId-000000000000"
    first = [store.put_record(stream, "k", b"%d" % i) for i in range(3)]
    latest = iterators.shard_iterator(stream, shard_id, "LATEST")
    trim = iterators.shard_iterator(stream, shard_id, "TRIM_HORIZON")
    at = iterators.shard_iterator(stream, shard_id, "AT_SEQUENCE_NUMBER", first[1].sequence_number)
    after = iterators.shard_iterator(stream, shard_id, "AFTER_SEQUENCE_NUMBER", first[1].sequence_number)
    later = store.put_record(stream, "k", b"3")

    assert [r.data for r in iterators.get_records(trim).records] == [b"0", b"1", b"2", b"3"]
    assert [r.data for r in iterators.get_records(at).records] == [b"1", b"2", b"3"]
    assert [r.data for r in iterators.get_records(after).records] == [b"2", b"3"]
    assert [r.sequence_number for r in iterators.get_records(latest).records] == [later.sequence_number]


def test_get_records_limit_next_iterator_and_millis_behind(store: KinesisStore, iterators: ShardIterators) -> None:
    stream = store.create_stream("s", shard_count=1)
    for i in range(5):
        store.put_record(stream, "k", b"%d" % i)
    it = iterators.shard_iterator(stream, "shardId-000000000000", "TRIM_HORIZON")
    page = iterators.get_records(it, limit=2)
    assert [r.data for r in page.records] == [b"0", b"1"]
    assert page.millis_behind_latest == 0  # nothing on the clock moved: the pending records are 0 ms old
    page = iterators.get_records(page.next_shard_iterator, limit=10)
    assert [r.data for r in page.records] == [b"2", b"3", b"4"]
    empty = iterators.get_records(page.next_shard_iterator)
    assert empty.records == [] and empty.millis_behind_latest == 0
    store.put_record(stream, "k", b"5")
    assert [r.data for r in iterators.get_records(empty.next_shard_iterator).records] == [b"5"]


async def test_millis_behind_latest_counts_unread_age(
    store: KinesisStore, clock: Clock, iterators: ShardIterators
) -> None:
    stream = store.create_stream("s", shard_count=1)
    store.put_record(stream, "k", b"0")
    store.put_record(stream, "k", b"1")
    await clock.advance(7)
    it = iterators.shard_iterator(stream, "shardId-000000000000", "TRIM_HORIZON")
    assert iterators.get_records(it, limit=1).millis_behind_latest == 7000


async def test_at_timestamp(store: KinesisStore, clock: Clock, iterators: ShardIterators) -> None:
    stream = store.create_stream("s", shard_count=1)
    store.put_record(stream, "k", b"early")
    await clock.advance(10)
    store.put_record(stream, "k", b"late")
    it = iterators.shard_iterator(stream, "shardId-000000000000", "AT_TIMESTAMP", timestamp=START + 5)
    assert [r.data for r in iterators.get_records(it).records] == [b"late"]
    with pytest.raises(AwsError) as excinfo:
        iterators.shard_iterator(stream, "shardId-000000000000", "AT_TIMESTAMP", timestamp=START + 100)
    assert code_of(excinfo) == "InvalidArgumentException"


async def test_iterator_expires_after_five_minutes_of_clock_time(
    store: KinesisStore, clock: Clock, iterators: ShardIterators
) -> None:
    stream = store.create_stream("s", shard_count=1)
    it = iterators.shard_iterator(stream, "shardId-000000000000", "TRIM_HORIZON")
    await clock.advance(300)
    iterators.get_records(it)  # exactly 5 minutes: still good
    await clock.advance(0.001)
    with pytest.raises(AwsError) as excinfo:
        iterators.get_records(it)
    assert code_of(excinfo) == "ExpiredIteratorException"
    assert excinfo.value.message == (
        "Iterator expired. The iterator was created at time Tue Nov 14 22:13:20 UTC 2023 while right now it is "
        "Tue Nov 14 22:18:20 UTC 2023 which is further in the future than the tolerated delay of 300000 milliseconds."
    )


def test_bad_iterators_and_sequence_numbers(store: KinesisStore, iterators: ShardIterators) -> None:
    a = store.create_stream("a", shard_count=2)
    b = store.create_stream("b", shard_count=1)
    for token in ("garbage", "AAAA", ""):
        with pytest.raises(AwsError) as excinfo:
            iterators.get_records(token)
        assert code_of(excinfo) == "InvalidArgumentException"
    seq_a1 = store.put_record(a, "k", b"", explicit_hash_key=str(2**128 - 1)).sequence_number
    with pytest.raises(AwsError) as excinfo:
        iterators.shard_iterator(a, "shardId-000000000000", "AT_SEQUENCE_NUMBER", seq_a1)
    assert excinfo.value.message == (
        "Invalid StartingSequenceNumber. It encodes shardId-000000000001, "
        "while it was used in a call to a shard with shardId-000000000000"
    )
    with pytest.raises(AwsError) as excinfo:
        iterators.shard_iterator(b, "shardId-000000000000", "AFTER_SEQUENCE_NUMBER", seq_a1)
    assert excinfo.value.message.endswith("is invalid because it did not come from this stream.")
    with pytest.raises(AwsError) as excinfo:
        iterators.shard_iterator(a, "shardId-000000000000", "AT_SEQUENCE_NUMBER")
    assert "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber." in excinfo.value.message
    with pytest.raises(AwsError) as excinfo:
        iterators.shard_iterator(a, "shardId-000000000009", "LATEST")
    assert code_of(excinfo) == "ResourceNotFoundException"
    assert excinfo.value.message == f"Shard shardId-000000000009 in stream a under account {ACCOUNT} does not exist"


def test_iterator_of_a_deleted_then_recreated_stream(store: KinesisStore, iterators: ShardIterators) -> None:
    stream = store.create_stream("s", shard_count=1)
    it = iterators.shard_iterator(stream, "shardId-000000000000", "TRIM_HORIZON")
    store.delete_stream(stream)
    store.create_stream("s", shard_count=1)
    with pytest.raises(AwsError) as excinfo:
        iterators.get_records(it)
    assert code_of(excinfo) == "ResourceNotFoundException"


async def test_retention_trims_lazily_on_the_clock(
    store: KinesisStore, clock: Clock, iterators: ShardIterators
) -> None:
    stream = store.create_stream("s", shard_count=1)
    store.put_record(stream, "k", b"old")
    await clock.advance(23 * 3600)
    store.put_record(stream, "k", b"new")
    await clock.advance(3600 + 1)
    it = iterators.shard_iterator(stream, "shardId-000000000000", "TRIM_HORIZON")
    assert [r.data for r in iterators.get_records(it).records] == [b"new"]
    assert clock.next_timer_at() is None  # no timers: retention is computed, not scheduled


async def test_increasing_retention_does_not_revive_expired_records(
    store: KinesisStore, clock: Clock, iterators: ShardIterators
) -> None:
    stream = store.create_stream("s", shard_count=1)
    store.put_record(stream, "k", b"old")
    await clock.advance(25 * 3600)
    store.increase_retention(stream, 48)
    it = iterators.shard_iterator(stream, "shardId-000000000000", "TRIM_HORIZON")
    assert iterators.get_records(it).records == []


def test_retention_errors(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=1)
    store.increase_retention(stream, 48)
    cases = [
        (store.increase_retention, 30, "can not be shorter than existing retention period (48 hours)"),
        (store.decrease_retention, 72, "can not be longer than existing retention period (48 hours)"),
        (
            store.decrease_retention,
            1,
            "Minimum allowed retention period is 24 hours. Requested retention period (1 hours) is too short.",
        ),
        (store.increase_retention, 9000, "Maximum allowed retention period is 8760 hours."),
    ]
    for operation, hours, text in cases:
        with pytest.raises(AwsError) as excinfo:
            operation(stream, hours)
        assert code_of(excinfo) == "InvalidArgumentException"
        assert text in excinfo.value.message
    store.decrease_retention(stream, 24)
    assert stream.retention_hours == 24


def test_resolve_by_name_or_arn(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=1)
    assert store.resolve("s", None) is stream
    assert store.resolve(None, stream.arn) is stream
    assert store.resolve("s", stream.arn) is stream
    with pytest.raises(AwsError) as excinfo:
        store.resolve("nope", None)
    assert excinfo.value.message == f"Stream nope under account {ACCOUNT} not found."
    with pytest.raises(AwsError) as excinfo:
        store.resolve(None, "arn:aws:kinesis:us-east-1:999999999999:stream/s")
    assert excinfo.value.message == "Stream s under account 999999999999 not found."
    with pytest.raises(AwsError) as excinfo:
        store.resolve(None, None)
    assert code_of(excinfo) == "InvalidArgumentException"


async def test_list_shards_pages_and_tokens_expire(store: KinesisStore, clock: Clock, listing: ShardListing) -> None:
    stream = store.create_stream("s", shard_count=5)
    page = listing.list_shards(stream, max_results=2)
    ids = [s.shard_id for s in page.shards]
    while page.next_token:
        page = listing.list_shards(None, next_token=page.next_token, max_results=2)
        ids += [s.shard_id for s in page.shards]
    assert ids == [f"shardId-00000000000{i}" for i in range(5)]
    after = listing.list_shards(stream, exclusive_start_shard_id="shardId-000000000002")
    assert [s.shard_id for s in after.shards] == ["shardId-000000000003", "shardId-000000000004"]
    token = listing.list_shards(stream, max_results=1).next_token
    assert token is not None
    await clock.advance(301)
    with pytest.raises(AwsError) as excinfo:
        listing.list_shards(None, next_token=token)
    assert code_of(excinfo) == "ExpiredNextTokenException"


def test_tags(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=1, tags={"b": "2"})
    store.tagging.add_tags(stream, {"a": "1", "c": "3"})
    store.tagging.remove_tags(stream, ["c", "missing"])
    assert store.tagging.list_tags(stream, None, None) == ([("a", "1"), ("b", "2")], False)
    assert store.tagging.list_tags(stream, "a", 1) == ([("b", "2")], False)
    assert store.tagging.list_tags(stream, None, 1) == ([("a", "1")], True)
    with pytest.raises(AwsError) as excinfo:
        store.tagging.add_tags(stream, {f"k{i}": "v" for i in range(49)})
    assert code_of(excinfo) == "InvalidArgumentException"


# ---- the internal API the stream event source mapping uses ------------------------------------


async def test_internal_read_api(store: KinesisStore, clock: Clock) -> None:
    stream = store.create_stream("s", shard_count=2)
    assert store.find_stream_by_arn(stream.arn) is stream
    assert store.find_stream_by_arn("arn:aws:kinesis:us-east-1:123456789012:stream/other") is None
    shard_ids = [s.shard_id for s in stream.list_shards()]
    target = shard_ids[0]
    assert stream.latest_sequence_number(target) is None
    cursor = stream.starting_sequence_number(target, "TRIM_HORIZON")
    latest_cursor = stream.starting_sequence_number(target, "LATEST")
    records = [store.put_record(stream, "k", b"%d" % i, explicit_hash_key="0") for i in range(5)]
    await clock.advance(1)
    tail = store.put_record(stream, "k", b"tail", explicit_hash_key="1")

    got = stream.read(target, cursor, limit=3)
    assert [r.sequence_number for r in got] == [r.sequence_number for r in records[:3]]
    assert got[0].partition_key == "k" and got[0].data == b"0" and isinstance(got[0].approximate_arrival, float)
    rest = stream.read(target, got[-1].sequence_number)
    assert [r.data for r in rest] == [b"3", b"4", b"tail"]
    assert [r.data for r in stream.read(target, latest_cursor)] == [b"0", b"1", b"2", b"3", b"4", b"tail"]
    assert stream.latest_sequence_number(target) == tail.sequence_number
    by_time = stream.starting_sequence_number(target, "AT_TIMESTAMP", timestamp=START + 0.5)
    assert [r.data for r in stream.read(target, by_time)] == [b"tail"]
    assert stream.read(target, cursor, max_bytes=4)[0].data == b"0"  # always at least one record
    assert len(stream.read(target, cursor, max_bytes=4)) == 2  # 1 data + 1 key byte each


def test_listener_wakes_once_per_shard_per_put(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=4)
    woken: list[str] = []
    stream.add_listener(woken.append)
    store.put_record(stream, "k", b"", explicit_hash_key="0")
    assert woken == ["shardId-000000000000"]
    woken.clear()
    store.put_records(stream, [{"PartitionKey": "k", "Data": b"", "ExplicitHashKey": "0"}] * 3)
    assert woken == ["shardId-000000000000"]
    stream.remove_listener(woken.append)
    store.put_record(stream, "k", b"", explicit_hash_key="0")
    assert woken == ["shardId-000000000000"]


def test_listener_errors_do_not_fail_producers(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=1)

    def broken(shard_id: str) -> None:
        raise RuntimeError("poller bug")

    stream.add_listener(broken)
    assert store.put_record(stream, "k", b"x").sequence_number


def test_delete_wakes_listeners_and_marks_stream(store: KinesisStore) -> None:
    stream = store.create_stream("s", shard_count=2)
    woken: list[str] = []
    stream.add_listener(woken.append)
    store.delete_stream(stream)
    assert stream.deleted and sorted(woken) == ["shardId-000000000000", "shardId-000000000001"]
    assert store.find_stream_by_arn(stream.arn) is None
