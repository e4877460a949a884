"""Message move tasks (StartMessageMoveTask, CancelMessageMoveTask, ListMessageMoveTasks): a redrive
of a dead-letter queue's messages back to their source queues, or to one destination, at most
``MaxNumberOfMessagesPerSecond`` a second on the platform clock."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Protocol

from lambda_emu.emulator.platform.clock import Clock, Timer
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.sqs.errors import invalid_parameter, invalid_parameter_value, sqs_error
from lambda_emu.emulator.services.sqs.messages import SqsMessage
from lambda_emu.emulator.services.sqs.queue import Queue


class MoveQueues(Protocol):
    """What a move task needs of the queue registry (the store)."""

    clock: Clock

    def new_id(self) -> str: ...

    def queue_by_arn(self, arn: str) -> Queue | None: ...

    def dead_letter_sources(self, dlq: Queue) -> list[Queue]: ...

    def move_message(self, source: Queue, msg: SqsMessage, target: Queue, *, dead_letter: bool) -> None: ...


@dataclass
class MoveTask:
    """A StartMessageMoveTask redrive from a dead-letter queue."""

    task_id: str
    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    started_at: float
    status: str = "RUNNING"
    moved: int = 0
    failure_reason: str | None = None
    timer: Timer | None = None


def _source_not_found() -> AwsError:
    return sqs_error("ResourceNotFoundException", "The resource that you specified for the SourceArn "
                     "parameter doesn't exist.")


class MoveTasks:
    """Every message move task of one store, by source queue ARN, newest last."""

    def __init__(self, queues: MoveQueues) -> None:
        self.queues = queues
        self._tasks: dict[str, list[MoveTask]] = {}

    def start(self, source_arn: str, destination_arn: str | None, rate: int | None) -> MoveTask:
        queues = self.queues
        source = queues.queue_by_arn(source_arn)
        if source is None:
            raise _source_not_found()
        if not queues.dead_letter_sources(source):
            raise invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None and queues.queue_by_arn(destination_arn) is None:
            raise sqs_error("ResourceNotFoundException", "The resource that you specified for the DestinationArn "
                            "parameter doesn't exist.")
        if rate is not None and not 1 <= rate <= 500:
            raise invalid_parameter_value("MaxNumberOfMessagesPerSecond", rate, "Must be between 1 and 500.")
        if any(t.status == "RUNNING" for t in self._tasks.get(source_arn, [])):
            raise invalid_parameter("There is already a task running. Only one active task is allowed for a "
                                    "source queue arn at a given time.")
        task_id = queues.new_id()
        handle = base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn},
                                             separators=(",", ":")).encode()).decode()
        task = MoveTask(task_id=task_id, handle=handle, source_arn=source_arn, destination_arn=destination_arn,
                        rate=rate, to_move=len(source.messages), started_at=queues.clock.now())
        self._tasks.setdefault(source_arn, []).append(task)
        self._step(task)
        return task

    def _step(self, task: MoveTask) -> None:
        """Move this second's messages, then wait a second on the clock for the next ones."""
        task.timer = None
        if task.status != "RUNNING":
            return
        queues = self.queues
        source = queues.queue_by_arn(task.source_arn)
        if source is None:
            self._finish(task, "FAILED", "AWS.SimpleQueueService.NonExistentQueue")
            return
        budget = task.rate if task.rate is not None else task.to_move
        while budget > 0 and task.moved < task.to_move:
            msg = source.movable()
            if msg is None:
                break
            target_arn = task.destination_arn or msg.dead_letter_source_arn
            target = queues.queue_by_arn(target_arn) if target_arn else None
            if target is None:
                self._finish(task, "FAILED", "AWS.SimpleQueueService.NonExistentQueue")
                return
            queues.move_message(source, msg, target, dead_letter=False)
            task.moved += 1
            budget -= 1
        if task.moved >= task.to_move or source.movable() is None:
            self._finish(task, "COMPLETED")
            return
        task.timer = queues.clock.call_later(1.0, lambda: self._step(task))

    def _finish(self, task: MoveTask, status: str, reason: str | None = None) -> None:
        task.status = status
        task.failure_reason = reason
        if task.timer is not None:
            task.timer.cancel()
            task.timer = None

    def cancel(self, handle: str) -> MoveTask:
        try:
            decoded = json.loads(base64.b64decode(handle, validate=True))
            tasks = self._tasks.get(decoded["sourceArn"], [])
            task = next(t for t in tasks if t.task_id == decoded["taskId"])
        except (binascii.Error, ValueError, KeyError, TypeError, StopIteration, RecursionError):
            raise sqs_error("ResourceNotFoundException", "Task does not exist.") from None
        if task.status != "RUNNING":
            raise sqs_error("UnsupportedOperation", "Only active tasks can be cancelled.")
        self._finish(task, "CANCELLED")
        return task

    def list(self, source_arn: str, max_results: int) -> list[MoveTask]:
        if self.queues.queue_by_arn(source_arn) is None:
            raise _source_not_found()
        return list(reversed(self._tasks.get(source_arn, [])))[:max_results]

    def source_deleted(self, source_arn: str) -> None:
        """The source queue is gone: its tasks end (as cancelled), and no timer of theirs runs again."""
        for task in self._tasks.get(source_arn, []):
            self._finish(task, "CANCELLED")

    def clear(self) -> None:
        self._tasks = {}
