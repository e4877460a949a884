"""Event source mappings: their configuration as AWS reports it, and the driver that polls for each.

A driver is started per mapping (``EventSourceDriver``): SQS queues get an SQS poller, Kinesis
streams a stream poller. Drivers are event-driven: they wake on new data or on a clock timer and run
their work as tracked clock tasks, so a manual clock can settle. Each owns its retry policy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.app import Emulator

log = get_logger("mappings")

SourceKind = Literal["sqs", "kinesis"]


class EventSourceDriver(Protocol):
    def start(self) -> None:
        """Begin polling (called when the mapping is enabled)."""

    async def stop(self) -> None:
        """Stop polling and cancel timers; in-flight batches may finish."""

    def reconfigure(self) -> None:
        """The mapping's settings changed (UpdateEventSourceMapping)."""


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
    starting_position: str | None = None
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
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types

    def to_json(self) -> dict[str, Any]:
        """EventSourceMappingConfiguration as AWS returns it for this kind of source."""
        config: dict[str, Any] = {"UUID": self.uuid}
        if self.kind == "kinesis":
            config["StartingPosition"] = self.starting_position
            if self.starting_position_timestamp is not None:
                config["StartingPositionTimestamp"] = self.starting_position_timestamp
        config["BatchSize"] = self.batch_size
        config["MaximumBatchingWindowInSeconds"] = self.maximum_batching_window
        if self.kind == "kinesis":
            config["ParallelizationFactor"] = self.parallelization_factor
        config["EventSourceArn"] = self.event_source_arn
        if self.filter_criteria:
            config["FilterCriteria"] = self.filter_criteria
        config["FunctionArn"] = self.function_arn
        config["LastModified"] = self.last_modified
        if self.kind == "kinesis":
            config["LastProcessingResult"] = self.last_processing_result
        config["State"] = self.state
        # AWS words a user's change "USER_INITIATED" on SQS mappings and "User action" on streams.
        reason = self.state_transition_reason
        config["StateTransitionReason"] = "USER_INITIATED" if self.kind == "sqs" and reason == "User action" else reason
        if self.kind == "kinesis":
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


class EventSourceMappings:
    """Every mapping of the run, and the driver polling for each enabled one."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.mappings: dict[str, EventSourceMapping] = {}
        self.drivers: dict[str, EventSourceDriver] = {}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self.mappings.values()))

    def add(self, mapping: EventSourceMapping) -> None:
        self.mappings[mapping.uuid] = mapping
        # Creating → Enabled/Disabled right after the response, as AWS does within seconds.
        self.emu.clock.spawn(self._settle_state(mapping), name=f"esm-state:{mapping.uuid}")

    async def _settle_state(self, mapping: EventSourceMapping) -> None:
        if mapping.uuid not in self.mappings:
            return
        mapping.state = "Enabled" if mapping.enabled else "Disabled"
        driver = self.drivers.get(mapping.uuid)
        if mapping.enabled and driver is None:
            driver = self._driver(mapping)
            self.drivers[mapping.uuid] = driver
            driver.start()
        elif mapping.enabled and driver is not None:
            driver.reconfigure()
        elif not mapping.enabled and driver is not None:
            del self.drivers[mapping.uuid]
            await driver.stop()

    def updated(self, mapping: EventSourceMapping) -> None:
        mapping.state = "Updating"
        self.emu.clock.spawn(self._settle_state(mapping), name=f"esm-state:{mapping.uuid}")

    async def remove(self, mapping: EventSourceMapping) -> None:
        mapping.state = "Deleting"
        self.mappings.pop(mapping.uuid, None)
        driver = self.drivers.pop(mapping.uuid, None)
        if driver is not None:
            await driver.stop()

    def _driver(self, mapping: EventSourceMapping) -> EventSourceDriver:
        if mapping.kind == "sqs":
            from lambda_emu.event_sources.sqs.poller import SqsPoller

            return SqsPoller(self.emu, mapping)
        from lambda_emu.event_sources.kinesis.poller import KinesisPoller

        return KinesisPoller(self.emu, mapping)

    async def stop(self) -> None:
        drivers = list(self.drivers.values())
        self.drivers.clear()
        for driver in drivers:
            try:
                await driver.stop()
            except Exception:  # noqa: BLE001 - shutdown reaches every driver
                log.exception("driver stop failed")
