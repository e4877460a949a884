"""The SQS store on a manual clock: visibility, delays, retention, redrive, FIFO, long polls, listeners."""

from __future__ import annotations

import asyncio
import json

import pytest

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.sqs.checksums import md5_of_attributes, md5_of_body
from lambda_emu.emulator.services.sqs.long_polling import receive_wait
from lambda_emu.emulator.services.sqs.store import SqsStore

ACCOUNT = "123456789012"


@pytest.fixture
def clock() -> Clock:
    return Clock("manual", start=1_700_000_000.0)


@pytest.fixture
def store(clock: Clock) -> SqsStore:
    return SqsStore(clock, region="us-east-1", account_id=ACCOUNT, endpoint="http://127.0.0.1:9999")


def error_code(exc: pytest.ExceptionInfo[AwsError]) -> tuple[str, str, int]:
    return exc.value.code, exc.value.query_code, exc.value.status


# ---- checksums ----------------------------------------------------------------------------------


def test_md5_of_body_and_attributes_match_aws() -> None:
    assert md5_of_body("hello") == "5d41402abc4b2a76b9719d911017c592"
    # Recorded by AWS for a Lambda event (aws-recorded-shapes §4.1).
    recorded = {
        "WeeksOn": {"DataType": "Number", "StringValue": "6"},
        "Author": {"DataType": "String", "StringValue": "John Grisham"},
        "Title": {"DataType": "String", "StringValue": "The Whistler"},
    }
    assert md5_of_attributes(recorded) == "d25a6aea97eb8f585bfa92d314504a92"
    assert md5_of_attributes({}) is None
    # Binary values use transport type 2 and are hashed as raw bytes.
    binary = md5_of_attributes({"b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    assert binary is not None and binary != md5_of_attributes({"b": {"DataType": "String", "StringValue": "\x00\x01"}})


# ---- queues -------------------------------------------------------------------------------------


def test_create_queue_url_arn_and_defaults(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("orders")
    assert queue.url == f"http://127.0.0.1:9999/{ACCOUNT}/orders"
    assert queue.arn == f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
    values = queue.attribute_values()
    assert values["VisibilityTimeout"] == "30"
    assert values["MaximumMessageSize"] == "1048576"
    assert values["MessageRetentionPeriod"] == "345600"
    assert values["ApproximateNumberOfMessages"] == "0"
    assert values["CreatedTimestamp"] == str(int(clock.now()))
    assert "FifoQueue" not in values and "RedrivePolicy" not in values
    assert store.queue_by_url(f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders") is queue
    assert store.queue_by_arn(queue.arn) is queue


def test_queue_name_rules(store: SqsStore) -> None:
    for bad in ("", "a" * 81, "has space", "dot.name"):
        with pytest.raises(AwsError) as exc:
            store.create_queue(bad)
        assert exc.value.code == "InvalidParameterValue"
    with pytest.raises(AwsError) as exc:
        store.create_queue("nofifo", {"FifoQueue": "true"})
    assert "must end with .fifo" in exc.value.message
    assert store.create_queue("a" * 75 + ".fifo", {"FifoQueue": "true"}).fifo


def test_create_existing_queue_same_or_different_attributes(store: SqsStore) -> None:
    first = store.create_queue("q", {"VisibilityTimeout": "10"})
    assert store.create_queue("q", {"VisibilityTimeout": "10"}) is first
    assert store.create_queue("q") is first
    with pytest.raises(AwsError) as exc:
        store.create_queue("q", {"VisibilityTimeout": "11"})
    assert error_code(exc) == ("QueueNameExists", "QueueAlreadyExists", 400)


async def test_queue_deleted_recently(store: SqsStore, clock: Clock) -> None:
    store.delete_queue(store.create_queue("gone"))
    with pytest.raises(AwsError) as exc:
        store.create_queue("gone")
    assert error_code(exc) == ("QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400)
    with pytest.raises(AwsError) as exc:
        store.queue_by_url(f"http://x/{ACCOUNT}/gone")
    assert error_code(exc) == ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400)
    await clock.advance(60)
    assert store.create_queue("gone").name == "gone"


def test_attribute_validation(store: SqsStore) -> None:
    with pytest.raises(AwsError) as exc:
        store.create_queue("q", {"VisibilityTimeout": "43201"})
    assert exc.value.code == "InvalidAttributeValue"
    with pytest.raises(AwsError) as exc:
        store.create_queue("q", {"Bogus": "1"})
    assert error_code(exc) == ("InvalidAttributeName", "InvalidAttributeName", 400)
    with pytest.raises(AwsError) as exc:
        store.create_queue("q", {"ContentBasedDeduplication": "true"})  # FIFO only
    assert exc.value.code == "InvalidAttributeName"
    queue = store.create_queue("q")
    with pytest.raises(AwsError) as exc:
        store.set_attributes(queue, {"RedrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:x"}'})
    # AWS refuses a bad RedrivePolicy with InvalidParameterValue ("Value ... for parameter RedrivePolicy ...").
    assert exc.value.code == "InvalidParameterValue"
    with pytest.raises(AwsError):
        store.set_attributes(queue, {"RedrivePolicy": "not json"})
    dlq = store.create_queue("dlq")
    store.set_attributes(queue, {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": "3"})})
    assert queue.attribute_values()["RedrivePolicy"] == f'{{"deadLetterTargetArn":"{dlq.arn}","maxReceiveCount":3}}'
    store.set_attributes(dlq, {"RedriveAllowPolicy": '{"redrivePermission":"denyAll"}'})
    other = store.create_queue("other")
    with pytest.raises(AwsError):
        store.set_attributes(other, {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn,
                                                                  "maxReceiveCount": 1})})
    store.set_attributes(queue, {"RedrivePolicy": ""})
    assert "RedrivePolicy" not in queue.attribute_values()


# ---- messages -----------------------------------------------------------------------------------


async def test_send_receive_visibility_and_attributes(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q", {"VisibilityTimeout": "10"})
    sent_at = clock.now()
    result = queue.send("hello", message_attributes={"a": {"DataType": "String", "StringValue": "b"}})
    assert result.md5_of_body == md5_of_body("hello")
    assert result.md5_of_message_attributes == md5_of_attributes({"a": {"DataType": "String", "StringValue": "b"}})
    await clock.advance(1)
    [first] = store.receive(queue, 10)
    assert first.message_id == result.message_id
    assert first.attributes["ApproximateReceiveCount"] == "1"
    assert first.attributes["SentTimestamp"] == str(int(sent_at * 1000))
    assert first.attributes["ApproximateFirstReceiveTimestamp"] == str(int((sent_at + 1) * 1000))
    assert first.attributes["SenderId"] == ACCOUNT
    assert store.receive(queue, 10) == []
    assert queue.counts() == {"ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesNotVisible": 1,
                              "ApproximateNumberOfMessagesDelayed": 0}
    await clock.advance(9.999)
    assert store.receive(queue, 10) == []
    await clock.advance(0.001)
    [second] = store.receive(queue, 10, visibility_timeout=5)
    assert second.message_id == first.message_id
    assert second.receipt_handle != first.receipt_handle
    assert second.attributes["ApproximateReceiveCount"] == "2"
    assert second.attributes["ApproximateFirstReceiveTimestamp"] == first.attributes["ApproximateFirstReceiveTimestamp"]
    store.delete(queue, second.receipt_handle)
    store.delete(queue, second.receipt_handle)  # deleting twice is fine
    await clock.advance(10)
    assert store.receive(queue, 10) == []


async def test_delay_queue_and_per_message_delay(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q", {"DelaySeconds": "5"})
    queue.send("queue-delay")
    queue.send("message-delay", delay_seconds=2)
    queue.send("no-delay", delay_seconds=0)
    assert [m.body for m in store.receive(queue, 10)] == ["no-delay"]
    assert queue.counts()["ApproximateNumberOfMessagesDelayed"] == 2
    await clock.advance(2)
    assert [m.body for m in store.receive(queue, 10)] == ["message-delay"]
    await clock.advance(3)
    assert [m.body for m in store.receive(queue, 10)] == ["queue-delay"]
    with pytest.raises(AwsError) as exc:
        queue.send("x", delay_seconds=901)
    assert exc.value.code == "InvalidParameterValue"


async def test_retention_drops_old_messages(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q", {"MessageRetentionPeriod": "60"})
    queue.send("old")
    await clock.advance(59)
    queue.send("new")
    await clock.advance(1)
    assert [m.body for m in store.receive(queue, 10)] == ["new"]
    assert len(queue.messages) == 1


async def test_change_visibility_and_errors(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q")
    queue.send("m")
    [msg] = store.receive(queue, 1)
    queue.change_visibility(msg.receipt_handle, 0)
    [again] = store.receive(queue, 1)
    assert again.attributes["ApproximateReceiveCount"] == "2"
    queue.change_visibility(again.receipt_handle, 100)
    await clock.advance(99)
    assert store.receive(queue, 1) == []
    with pytest.raises(AwsError) as exc:
        queue.change_visibility(again.receipt_handle, 43_200)
    assert "beyond the limit" in exc.value.message
    await clock.advance(1)
    queue.change_visibility(again.receipt_handle, 10)  # visible again: AWS still takes the change
    assert store.receive(queue, 1) == []
    for bad in ("garbage", "AQEB!!!", "AQEB" + "aGVsbG8="):
        with pytest.raises(AwsError) as exc:
            store.delete(queue, bad)
        assert error_code(exc) == ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404)
    other = store.create_queue("other")
    with pytest.raises(AwsError) as exc:
        store.delete(other, again.receipt_handle)
    assert exc.value.code == "ReceiptHandleIsInvalid"


def test_message_limits(store: SqsStore) -> None:
    queue = store.create_queue("q", {"MaximumMessageSize": "1024"})
    queue.send("x" * 1024)
    with pytest.raises(AwsError) as exc:
        queue.send("x" * 1025)
    assert exc.value.message.endswith("Message must be shorter than 1024 bytes.")
    with pytest.raises(AwsError) as exc:
        queue.send("x" * 1000, message_attributes={"n" * 20: {"DataType": "String", "StringValue": "v" * 10}})
    assert exc.value.code == "InvalidParameterValue"
    with pytest.raises(AwsError) as exc:
        queue.send("bad \x00 char")
    assert exc.value.code == "InvalidMessageContents"
    with pytest.raises(AwsError) as exc:
        queue.send("")
    assert exc.value.code == "MissingParameter"
    too_many = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    with pytest.raises(AwsError) as exc:
        queue.send("m", message_attributes=too_many)
    assert "exceeds the allowed maximum [10]" in exc.value.message
    for name, value in [
        ("AWS.reserved", {"DataType": "String", "StringValue": "v"}),
        ("ok", {"DataType": "Strong", "StringValue": "v"}),
        ("ok", {"DataType": "Number", "StringValue": "abc"}),
        ("ok", {"DataType": "String", "StringValue": ""}),
        ("ok", {"DataType": "Binary", "StringValue": "v"}),
    ]:
        with pytest.raises(AwsError) as exc:
            queue.send("m", message_attributes={name: value})
        assert exc.value.code == "InvalidParameterValue", (name, value)
    queue.send("m", message_attributes={"n.custom": {"DataType": "Number.int", "StringValue": "-1.5e3"}})


# ---- redrive ------------------------------------------------------------------------------------


async def test_redrive_after_exactly_max_receive_count(store: SqsStore, clock: Clock) -> None:
    dlq = store.create_queue("dlq")
    source = store.create_queue("src", {"VisibilityTimeout": "5", "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 2})})
    sent = source.send("payload", message_attributes={"k": {"DataType": "String", "StringValue": "v"}})
    for count in (1, 2):
        [msg] = store.receive(source, 1)
        assert msg.attributes["ApproximateReceiveCount"] == str(count)
        await clock.advance(5)
    # The third receive attempt would exceed maxReceiveCount: the message moves instead.
    assert store.receive(source, 1) == []
    assert source.messages == {}
    [dead] = store.receive(dlq, 10, visibility_timeout=0)
    assert dead.message_id == sent.message_id
    assert dead.body == "payload"
    assert dead.md5_of_message_attributes == sent.md5_of_message_attributes
    assert dead.attributes["DeadLetterQueueSourceArn"] == source.arn
    assert dead.attributes["SentTimestamp"] == str(int((clock.now() - 10) * 1000))
    assert [q.name for q in store.dead_letter_sources(dlq)] == ["src"]


async def test_message_move_task_back_to_source(store: SqsStore, clock: Clock) -> None:
    dlq = store.create_queue("dlq")
    source = store.create_queue("src", {"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})})
    for i in range(3):
        source.send(f"m{i}")
    store.receive(source, 10)
    assert store.receive(source, 10) == []
    assert len(dlq.messages) == 3
    with pytest.raises(AwsError) as exc:
        store.move_tasks.start(source.arn, None, None)
    assert exc.value.message == "Source queue must be configured as a Dead Letter Queue."
    task = store.move_tasks.start(dlq.arn, None, 2)
    assert (task.status, task.moved, task.to_move) == ("RUNNING", 2, 3)
    with pytest.raises(AwsError):
        store.move_tasks.start(dlq.arn, None, None)
    await clock.advance(1)
    assert (task.status, task.moved) == ("COMPLETED", 3)
    assert sorted(m.body for m in store.receive(source, 10)) == ["m0", "m1", "m2"]
    listed = store.move_tasks.list(dlq.arn, 10)
    assert listed == [task]
    with pytest.raises(AwsError) as exc:
        store.move_tasks.cancel(task.handle)
    assert exc.value.code == "UnsupportedOperation"


# ---- FIFO ---------------------------------------------------------------------------------------


async def test_fifo_order_group_lock_and_dedup(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q.fifo", {"FifoQueue": "true", "VisibilityTimeout": "30"})
    with pytest.raises(AwsError) as exc:
        queue.send("no group", dedup_id="d")
    assert error_code(exc) == ("MissingParameter", "MissingParameter", 400)
    with pytest.raises(AwsError) as exc:
        queue.send("no dedup", group_id="g")
    assert "ContentBasedDeduplication" in exc.value.message
    with pytest.raises(AwsError):
        queue.send("delay", group_id="g", dedup_id="x", delay_seconds=5)
    a1 = queue.send("a1", group_id="a", dedup_id="1")
    a2 = queue.send("a2", group_id="a", dedup_id="2")
    queue.send("b1", group_id="b", dedup_id="3")
    assert int(a2.sequence_number or 0) > int(a1.sequence_number or 0)
    assert len(a1.sequence_number or "") == 20
    duplicate = queue.send("a1 again", group_id="a", dedup_id="1")
    assert duplicate.message_id == a1.message_id
    assert len(queue.messages) == 3

    [first] = store.receive(queue, 1)
    assert first.body == "a1"
    assert first.attributes["MessageGroupId"] == "a"
    assert first.attributes["MessageDeduplicationId"] == "1"
    assert first.attributes["SequenceNumber"] == a1.sequence_number
    # Group "a" is locked while a1 is in flight; "b" is still served.
    assert [m.body for m in store.receive(queue, 10)] == ["b1"]
    assert store.receive(queue, 10) == []
    store.delete(queue, first.receipt_handle)
    assert [m.body for m in store.receive(queue, 10)] == ["a2"]
    with pytest.raises(AwsError) as exc:
        store.delete(queue, first.receipt_handle + "x")
    assert exc.value.code == "ReceiptHandleIsInvalid"

    await clock.advance(300)
    again = queue.send("a1", group_id="a", dedup_id="1")  # the dedup window is over
    assert again.message_id != a1.message_id


async def test_fifo_content_based_dedup_and_batch_from_one_group(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("c.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"})
    first = queue.send("same", group_id="g")
    assert queue.send("same", group_id="g").message_id == first.message_id
    queue.send("other", group_id="g")
    received = store.receive(queue, 10)
    assert [m.body for m in received] == ["same", "other"]
    assert received[0].attributes["MessageDeduplicationId"] == (
        "0967115f2813a3541eaef77de9d9d5773f1c0c04314b0bbfe4ff3b3b1c55b5d5")
    await clock.advance(30)
    # Visibility over: the whole group comes back in order.
    assert [m.body for m in store.receive(queue, 10)] == ["same", "other"]


async def test_fifo_redrive_keeps_group(store: SqsStore, clock: Clock) -> None:
    dlq = store.create_queue("d.fifo", {"FifoQueue": "true"})
    with pytest.raises(AwsError):
        store.create_queue("s", {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})})
    source = store.create_queue("s.fifo", {"FifoQueue": "true", "VisibilityTimeout": "1", "RedrivePolicy":
                                           json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})})
    source.send("x", group_id="g", dedup_id="1")
    source.send("y", group_id="g", dedup_id="2")
    assert [m.body for m in store.receive(source, 1)] == ["x"]
    await clock.advance(1)
    assert [m.body for m in store.receive(source, 1)] == ["y"]  # x moved to the DLQ, y is next
    [dead] = store.receive(dlq, 1)
    assert (dead.body, dead.attributes["MessageGroupId"]) == ("x", "g")


# ---- long polls, listeners, purge -------------------------------------------------------------


async def test_long_poll_wakes_on_send_and_on_deadline(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q")
    poll = asyncio.ensure_future(receive_wait(clock, queue, 10, None, 20))
    await asyncio.sleep(0)
    assert not poll.done()
    queue.send("wake")
    assert [m.body for m in await poll] == ["wake"]

    empty = asyncio.ensure_future(receive_wait(clock, queue, 10, None, 20))
    await asyncio.sleep(0)
    await clock.advance(19)
    assert not empty.done()
    await clock.advance(1)
    assert await empty == []
    assert clock.next_timer_at() is None


async def test_long_poll_wakes_on_visibility_expiry(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q", {"VisibilityTimeout": "5"})
    queue.send("m")
    store.receive(queue, 1)
    assert clock.next_timer_at() is None  # nobody waits: no timer
    poll = asyncio.ensure_future(receive_wait(clock, queue, 1, None, 20))
    await asyncio.sleep(0)
    await clock.advance(5)
    [msg] = await poll
    assert msg.attributes["ApproximateReceiveCount"] == "2"


async def test_listener_called_on_send_expiry_and_purge(store: SqsStore, clock: Clock) -> None:
    queue = store.create_queue("q", {"VisibilityTimeout": "5", "DelaySeconds": "3"})
    calls: list[float] = []

    def listener() -> None:
        calls.append(clock.now())

    queue.add_listener(listener)
    start = clock.now()
    queue.send("delayed")
    assert calls == []
    await clock.advance(3)
    assert calls == [start + 3]
    store.receive(queue, 1)
    await clock.advance(5)
    assert calls == [start + 3, start + 8]
    queue.send("now", delay_seconds=0)
    assert len(calls) == 3
    queue.purge()
    assert len(calls) == 4 and queue.messages == {}
    with pytest.raises(AwsError) as exc:
        queue.purge()
    assert error_code(exc) == ("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403)
    queue.remove_listener(listener)
    queue.send("later", delay_seconds=10)
    assert clock.next_timer_at() is None


def test_deliver_by_arn(store: SqsStore) -> None:
    queue = store.create_queue("dest")
    message_id = store.deliver(queue.arn, '{"a": 1}', {"RequestID": {"DataType": "String", "StringValue": "r"}})
    [msg] = store.receive(queue, 1)
    assert msg.message_id == message_id
    assert msg.message_attributes["RequestID"]["StringValue"] == "r"
    with pytest.raises(AwsError) as exc:
        store.deliver(queue.arn + "-missing", "x")
    assert exc.value.code == "QueueDoesNotExist"
