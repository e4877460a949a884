"""An event source mapping as Lambda's API keeps and reports it (the configuration, not the polling).

The Lambda API creates, changes and deletes mappings through a :class:`MappingRegistry`; the
registry that drives them (``event_sources.mappings``) implements it, so this side needs nothing of
event sources.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from lambda_emu.emulator.services.lambda_.event_filters import Criteria, compile_criteria

SourceKind = Literal["sqs", "kinesis", "dynamodb"]


def data_key(kind: str) -> str:
    """The record field FilterCriteria patterns match as data (SQS body, Kinesis data, DynamoDB dynamodb)."""
    return {"sqs": "body", "kinesis": "data"}.get(kind, "dynamodb")
#: The model's EventSourcePosition enum for streams.
StartingPosition = Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]


@dataclass
class EventSourceMapping:
    uuid: str
    kind: SourceKind
    event_source_arn: str
    function_name: str
    function_arn: str
    batch_size: int
    maximum_batching_window: int
    enabled: bool = True
    state: str = "Creating"
    state_transition_reason: str = "User action"
    last_modified: float = 0.0
    last_processing_result: str = "No records processed"
    function_response_types: list[str] = field(default_factory=list)
    scaling_config: dict[str, Any] | None = None
    filter_criteria: dict[str, Any] | None = None
    # Streams only.
    starting_position: StartingPosition | None = None
    starting_position_timestamp: float | None = None
    maximum_retry_attempts: int = -1
    maximum_record_age: int = -1
    bisect_batch_on_function_error: bool = False
    parallelization_factor: int = 1
    tumbling_window: int = 0
    on_failure: str | None = None
    arn_prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    # Streams: per shard, the last sequence number done in each lane (ParallelizationFactor groups).
    # Kept here, not in the driver, so a disabled and re-enabled mapping resumes where it stopped.
    checkpoints: dict[str, list[str]] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"{self.arn_prefix}:event-source-mapping:{self.uuid}"

    @property
    def filters(self) -> Criteria | None:
        """FilterCriteria compiled (what the pollers apply; None delivers every record). Cached beside
        the fields, not as one, so the state directory keeps only FilterCriteria as given."""
        criteria = self.filter_criteria
        cached = self.__dict__.get("_compiled_filters")
        if cached is None or cached[0] is not criteria:
            compiled = compile_criteria(criteria, data_key=data_key(self.kind),
                                        stream=self.kind != "sqs")
            self.__dict__["_compiled_filters"] = cached = (criteria, compiled)
        return cached[1]

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types

    def to_json(self) -> dict[str, Any]:
        """EventSourceMappingConfiguration as AWS returns it for this kind of source."""
        config: dict[str, Any] = {"UUID": self.uuid}
        if self.kind != "sqs":
            config["StartingPosition"] = self.starting_position
            if self.starting_position_timestamp is not None:
                config["StartingPositionTimestamp"] = self.starting_position_timestamp
        config["BatchSize"] = self.batch_size
        config["MaximumBatchingWindowInSeconds"] = self.maximum_batching_window
        if self.kind != "sqs":
            config["ParallelizationFactor"] = self.parallelization_factor
        config["EventSourceArn"] = self.event_source_arn
        if self.filter_criteria:
            config["FilterCriteria"] = self.filter_criteria
        config["FunctionArn"] = self.function_arn
        config["LastModified"] = self.last_modified
        if self.kind != "sqs":
            config["LastProcessingResult"] = self.last_processing_result
        config["State"] = self.state
        # AWS words a user's change "USER_INITIATED" on SQS mappings and "User action" on streams.
        reason = self.state_transition_reason
        config["StateTransitionReason"] = "USER_INITIATED" if self.kind == "sqs" and reason == "User action" else reason
        if self.kind != "sqs":
            config["DestinationConfig"] = {"OnFailure": {"Destination": self.on_failure} if self.on_failure else {}}
            config["MaximumRecordAgeInSeconds"] = self.maximum_record_age
            config["BisectBatchOnFunctionError"] = self.bisect_batch_on_function_error
            config["MaximumRetryAttempts"] = self.maximum_retry_attempts
            config["TumblingWindowInSeconds"] = self.tumbling_window
        config["FunctionResponseTypes"] = list(self.function_response_types)
        if self.scaling_config:
            config["ScalingConfig"] = dict(self.scaling_config)
        config["EventSourceMappingArn"] = self.arn
        return config


def new_uuid() -> str:
    return str(uuid.uuid4())


class MappingRegistry(Protocol):
    """Every mapping of the run, as the Lambda API reaches them."""

    def __iter__(self) -> Iterator[EventSourceMapping]: ...

    def get(self, uuid: str) -> EventSourceMapping | None: ...

    def add(self, mapping: EventSourceMapping) -> None: ...

    def updated(self, mapping: EventSourceMapping) -> None: ...

    def saved(self, mapping: EventSourceMapping) -> None:
        """Write a change that is no update of the mapping (its tags) through to the state directory."""

    async def remove(self, mapping: EventSourceMapping) -> None: ...
