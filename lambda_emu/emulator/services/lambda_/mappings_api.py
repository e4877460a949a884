"""Lambda's event source mapping API (Create/Update/Delete/Get/ListEventSourceMapping(s)) for SQS queues
and Kinesis streams, with AWS's validation and response shapes (docs/aws-behaviour.md §Kinesis event source mapping:
Mapping API, §SQS event source mapping)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.arns import arn_service
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, lambda_error, resource_not_found
from lambda_emu.emulator.services import pagination
from lambda_emu.emulator.services.lambda_.event_filters import INVALID as INVALID_FILTER
from lambda_emu.emulator.services.lambda_.event_filters import FilterPatternError, compile_criteria
from lambda_emu.emulator.services.lambda_.mappings import (
    EventSourceMapping,
    MappingRegistry,
    SourceKind,
    data_key,
    new_uuid,
)
from lambda_emu.emulator.services.lambda_.tags_api import check_tag_count

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks
    from lambda_emu.emulator.services.sqs.queue import Queue

STREAM_ONLY = ("ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
               "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "DestinationConfig", "StartingPosition",
               "StartingPositionTimestamp")
DEFAULT_BATCH = {"sqs": 10, "kinesis": 100, "dynamodb": 100}
FIFO_MAX_BATCH = 10
MIN_RECORD_AGE = 60
#: No EventSourceArn (recorded 2025-11-27, LocalStack's test_event_source_mapping_exceptions).
NO_SOURCE = "Unrecognized event source."
#: An ARN of a service lambda-emu maps no events from (lambda-emu's wording: AWS's is not recorded).
UNRECOGNIZED_SOURCE = "Unrecognized event source, must be kinesis, dynamodb stream or sqs."
#: CreateEventSourceMapping for a function, version or alias that is not there: 400, not GetFunction's 404
#: (recorded 2025-11-27).
NO_FUNCTION = "Function does not exist"
#: A queue lambda-emu does not serve: AWS's wording as recorded on 2025-11-25 (LocalStack's
#: test_esm_with_not_existing_sqs_queue).
NO_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
            "SQS Error Message: The specified queue does not exist.")


def unsupported(parameter: str) -> AwsError:
    return invalid_parameter(f"Unsupported {parameter} parameter for given event source mapping type.")


def not_found() -> AwsError:
    return resource_not_found("The resource you requested does not exist.")


def _refuse_stream_parameters(params: dict[str, Any]) -> None:
    """A queue's mapping takes none of a stream's parameters."""
    for parameter in STREAM_ONLY:
        if params.get(parameter) is not None:
            if parameter == "StartingPosition":
                raise invalid_parameter("StartingPosition is not valid for SQS event sources.")
            raise unsupported(parameter)


def _conflict(kind: str, source: str, function_name: str, uuid: str) -> str:
    """AWS words a duplicate SQS mapping and a duplicate stream mapping differently."""
    if kind == "sqs":
        return (f'An event source mapping with SQS arn (" {source} ") and function (" {function_name} ") already '
                f"exists. Please update or delete the existing mapping with UUID {uuid}")
    return (f'The event source arn (" {source} ") and function (" {function_name} ") provided mapping already '
            f"exists. Please update or delete the existing mapping with UUID {uuid}")


class EventSourceMappingApi:
    """Mixed into LambdaService, which provides these."""

    functions: FunctionRegistry
    clock: Clock
    checks: DestinationChecks
    mappings: MappingRegistry
    region: str
    account_id: str
    #: The SQS queue with this ARN, if lambda-emu serves one.
    queue_by_arn: Callable[[str], Queue | None]
    #: Whether lambda-emu serves a Kinesis stream with this ARN.
    stream_exists: Callable[[str], bool]

    # ---- operations ----

    def CreateEventSourceMapping(self, params: dict[str, Any]) -> dict[str, Any]:
        # AWS's order (recorded): the source's kind, the parameters that kind refuses, the function, and only
        # then whether the queue is there.
        source = params.get("EventSourceArn")
        kind = self._source_kind(source)
        assert source is not None
        if kind == "sqs":
            _refuse_stream_parameters(params)
        # A version or alias may be named (fn:3, fn:live, its ARN): the mapping invokes it as named.
        try:
            target = self.functions.resolve(params["FunctionName"])
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise invalid_parameter(NO_FUNCTION) from exc
            raise
        function = target.function
        if kind == "sqs" and self.queue_by_arn(source) is None:
            raise invalid_parameter(NO_QUEUE)
        check_tag_count(params.get("Tags"))
        mapping = EventSourceMapping(
            uuid=new_uuid(),
            kind=kind,
            event_source_arn=source,
            function_name=function.name,
            function_arn=target.arn,
            batch_size=params.get("BatchSize") or DEFAULT_BATCH[kind],
            maximum_batching_window=params.get("MaximumBatchingWindowInSeconds") or 0,
            enabled=params.get("Enabled", True),
            last_modified=self.clock.now(),
            arn_prefix=f"arn:aws:lambda:{self.region}:{self.account_id}",
            tags=dict(params.get("Tags") or {}),
        )
        self._apply(mapping, params, function, creating=True)
        # AWS validates the request first, then compares it with the existing mappings.
        for existing in self.mappings:
            if existing.event_source_arn == source and existing.function_arn == mapping.function_arn:
                raise lambda_error("ResourceConflictException", _conflict(kind, source, function.name, existing.uuid),
                                   409)
        self.mappings.add(mapping)
        return mapping.to_json()

    def UpdateEventSourceMapping(self, params: dict[str, Any]) -> dict[str, Any]:
        mapping = self._mapping(params["UUID"])
        target = self.functions.resolve(params.get("FunctionName") or mapping.function_arn)
        function = target.function
        # Validate on a copy: a refused update changes nothing.
        candidate = dataclasses.replace(mapping, batch_size=params.get("BatchSize") or mapping.batch_size)
        if "MaximumBatchingWindowInSeconds" in params:
            candidate.maximum_batching_window = params["MaximumBatchingWindowInSeconds"]
        if "Enabled" in params:
            candidate.enabled = params["Enabled"]
        self._apply(candidate, params, function, creating=False)
        candidate.function_name = function.name
        candidate.function_arn = target.arn
        candidate.last_modified = self.clock.now()
        mapping.__dict__.update(candidate.__dict__)
        self.mappings.updated(mapping)
        return mapping.to_json()

    async def DeleteEventSourceMapping(self, params: dict[str, Any]) -> dict[str, Any]:
        mapping = self._mapping(params["UUID"])
        await self.mappings.remove(mapping)
        return mapping.to_json()

    def GetEventSourceMapping(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._mapping(params["UUID"]).to_json()

    def ListEventSourceMappings(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted_function = None
        if params.get("FunctionName"):
            wanted_function = self.functions.parse_name(params["FunctionName"])[0]
        every = [m for m in self.mappings
                 if (not params.get("EventSourceArn") or m.event_source_arn == params["EventSourceArn"])
                 and (wanted_function is None or m.function_name == wanted_function)]
        return pagination.listing("EventSourceMappings", every, params, 100, lambda m: m.to_json())

    # ---- validation ----

    def _mapping(self, uuid: str) -> EventSourceMapping:
        mapping = self.mappings.get(uuid)
        if mapping is None:
            raise not_found()
        return mapping

    def _source_kind(self, source: str | None) -> SourceKind:
        if not source:
            raise invalid_parameter(NO_SOURCE)
        service = arn_service(source)
        if service == "sqs":
            return "sqs"  # whether the queue is there is checked after the function (CreateEventSourceMapping)
        if service == "kinesis":
            if not self.stream_exists(source):
                raise invalid_parameter(f"Stream not found: {source}")
            return "kinesis"
        if service == "dynamodb" and "/stream/" in source:
            if not self.stream_exists(source):
                raise invalid_parameter(f"Stream not found: {source}")
            return "dynamodb"
        raise invalid_parameter(UNRECOGNIZED_SOURCE)

    def _apply(self, mapping: EventSourceMapping, params: dict[str, Any], function: Function, creating: bool) -> None:
        """Check ``params`` for this kind of source and copy them onto ``mapping``."""
        if "FunctionResponseTypes" in params:
            mapping.function_response_types = list(params["FunctionResponseTypes"] or [])
        if "FilterCriteria" in params:
            criteria = params["FilterCriteria"] or None
            try:
                compiled = compile_criteria(criteria, data_key=data_key(mapping.kind),
                                            stream=mapping.kind != "sqs")
            except FilterPatternError as exc:
                raise invalid_parameter(INVALID_FILTER) from exc
            # FilterCriteria: {} (or no filters) removes the filters.
            mapping.filter_criteria = criteria if compiled is not None else None
        if mapping.kind == "sqs":
            self._apply_sqs(mapping, params, function)
        else:
            self._apply_stream(mapping, params, creating)

    def _apply_sqs(self, mapping: EventSourceMapping, params: dict[str, Any], function: Function) -> None:
        _refuse_stream_parameters(params)
        queue = self.queue_by_arn(mapping.event_source_arn)
        if queue is not None and queue.fifo and mapping.batch_size > FIFO_MAX_BATCH:
            raise invalid_parameter(f"Batch size must be between 1 and {FIFO_MAX_BATCH} for FIFO queues.")
        if mapping.batch_size > 10 and mapping.maximum_batching_window < 1:
            raise invalid_parameter(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
        visibility = queue.visibility_timeout if queue is not None else 30
        if function.timeout > visibility:
            raise invalid_parameter(
                f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
                f"{function.timeout} seconds")
        if "ScalingConfig" in params:
            mapping.scaling_config = params["ScalingConfig"] or None

    def _apply_stream(self, mapping: EventSourceMapping, params: dict[str, Any], creating: bool) -> None:
        if params.get("ScalingConfig"):
            raise unsupported("ScalingConfig")
        if creating:
            position = params.get("StartingPosition")
            if position is None:
                # Lambda's own check (not the model's), so InvalidParameterValueException with Coral's words.
                raise invalid_parameter("1 validation error detected: Value null at 'startingPosition' failed to "
                                        "satisfy constraint: Member must not be null.")
            if position == "AT_TIMESTAMP" and mapping.kind == "dynamodb":
                raise invalid_parameter(f"Unsupported starting position for arn type: {mapping.event_source_arn}")
            mapping.starting_position = position
            stamp = params.get("StartingPositionTimestamp")
            if position == "AT_TIMESTAMP":
                if stamp is None:
                    raise invalid_parameter("StartingPositionTimestamp must be set for the AT_TIMESTAMP starting "
                                            "position.")
                if stamp.timestamp() > self.clock.now():
                    raise invalid_parameter("StartingPositionTimestamp cannot be in the future.")
                mapping.starting_position_timestamp = stamp.timestamp()
        age = params.get("MaximumRecordAgeInSeconds")
        if age is not None:
            if age != -1 and age < MIN_RECORD_AGE:
                raise invalid_parameter(
                    f"MaximumRecordAgeInSeconds must be -1 or between {MIN_RECORD_AGE} and 604800: {age}")
            mapping.maximum_record_age = age
        for key, attr in (("MaximumRetryAttempts", "maximum_retry_attempts"),
                          ("BisectBatchOnFunctionError", "bisect_batch_on_function_error"),
                          ("ParallelizationFactor", "parallelization_factor"),
                          ("TumblingWindowInSeconds", "tumbling_window")):
            if params.get(key) is not None:
                setattr(mapping, attr, params[key])
        destinations = params.get("DestinationConfig")
        if destinations is not None:
            if (destinations.get("OnSuccess") or {}).get("Destination"):
                raise unsupported("DestinationConfig")
            target = (destinations.get("OnFailure") or {}).get("Destination") or None
            if target is not None:
                if arn_service(target) not in ("sqs", "sns", "s3"):
                    raise invalid_parameter(f"The destination ARN {target} is invalid for a stream event source: "
                                            "use an SQS queue, an SNS topic or an S3 bucket.")
                self.checks.check_reachable(target)
            mapping.on_failure = target
