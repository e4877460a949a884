"""Template resources beyond functions: SQS queues, Kinesis streams, async invocation settings
(EventInvokeConfig, DeadLetterQueue) and event source mappings (SAM ``Events`` of type SQS / Kinesis,
AWS::Lambda::EventSourceMapping).

Each is created through the same service operation a boto3 call would reach, so a template gets the
same validation and the same shapes as the API. Names default to the logical id (CloudFormation would
add the stack name and a random suffix; a predictable local name is easier to use from tests).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.template.loader import (
    PHASE_FUNCTION_SETTINGS,
    PHASE_MAPPINGS,
    PHASE_STORES,
    LoadContext,
    TemplateError,
    as_text,
    call_api,
    function_property,
    log,
    resource_type,
)

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function

QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                    "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                    "FifoThroughputLimit", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled")
MAPPING_PROPERTIES = ("BatchSize", "Enabled", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes",
                      "ScalingConfig", "StartingPosition", "StartingPositionTimestamp", "MaximumRetryAttempts",
                      "BisectBatchOnFunctionError", "MaximumRecordAgeInSeconds", "ParallelizationFactor",
                      "DestinationConfig", "TumblingWindowInSeconds", "FilterCriteria")
INTEGER_PROPERTIES = {"BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts",
                      "MaximumRecordAgeInSeconds", "ParallelizationFactor", "TumblingWindowInSeconds",
                      "MaximumEventAgeInSeconds", "ShardCount", "RetentionPeriodHours"}
BOOLEAN_PROPERTIES = {"Enabled", "BisectBatchOnFunctionError"}


def _typed(context: LoadContext, logical_id: str, name: str, value: Any) -> Any:
    """CloudFormation accepts "10" for 10 and "true" for true; the API doesn't."""
    value = context.value(logical_id, name, value)
    try:
        if name in INTEGER_PROPERTIES:
            return int(value)
        if name in BOOLEAN_PROPERTIES:
            return value if isinstance(value, bool) else str(value).lower() == "true"
    except (TypeError, ValueError):
        raise context.error(logical_id, f"{name}: expected a number, got {value!r}") from None
    return value


def _call(context: LoadContext, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """An API operation with the protocol layer's validation, as a boto3 call would get it."""
    return call_api(context, service, operation, params)


# ---- SQS queues -------------------------------------------------------------------------------


def _queue_name(context: LoadContext, logical_id: str, props: dict[str, Any]) -> str:
    if "QueueName" in props:
        return as_text(context.value(logical_id, "QueueName", props["QueueName"]))
    fifo = as_text(context.value(logical_id, "FifoQueue", props.get("FifoQueue", False))) == "true"
    return logical_id + (".fifo" if fifo else "")


def _queue_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(context, logical_id, props)
    url = f"{context.stack.endpoint()}/{context.stack.account_id}/{name}"
    return {"Ref": url, "QueueUrl": url, "QueueName": name, "Arn": context.stack.arn("sqs", name)}


def _load_queue(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    attributes: dict[str, str] = {}
    for key in QUEUE_ATTRIBUTES:
        if key in props:
            attributes[key] = as_text(context.value(logical_id, key, props[key]))
    if attributes.get("FifoQueue", "").lower() == "false":
        # CloudFormation accepts FifoQueue: false for a standard queue; SQS's CreateQueue itself does not.
        del attributes["FifoQueue"]
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in props:
            policy = context.value(logical_id, key, props[key])
            if key == "RedrivePolicy" and isinstance(policy, dict):
                _load_dead_letter_queue_first(context, str(policy.get("deadLetterTargetArn", "")))
            attributes[key] = policy if isinstance(policy, str) else json.dumps(policy, separators=(",", ":"))
    params: dict[str, Any] = {"QueueName": _queue_name(context, logical_id, props)}
    if attributes:
        params["Attributes"] = attributes
    if "Tags" in props:
        tags = context.value(logical_id, "Tags", props["Tags"])
        params["tags"] = {str(t["Key"]): as_text(t["Value"]) for t in tags} if isinstance(tags, list) else tags
    _call(context, "sqs", "CreateQueue", params)


def _load_dead_letter_queue_first(context: LoadContext, target_arn: str) -> None:
    """A redrive policy names its DLQ, which SQS checks exists: load that queue now if the template has it."""
    for other_id, resource in context.resources.items():
        if resource.get("Type") != "AWS::SQS::Queue" or other_id in context.loaded:
            continue
        if context.attributes(other_id).get("Arn") == target_arn:
            _load_queue(context, other_id, resource.get("Properties") or {})
            context.loaded.add(other_id)


resource_type("AWS::SQS::Queue", phase=PHASE_STORES, attributes=_queue_attributes, load=_load_queue)


# ---- Kinesis streams ------------------------------------------------------------------------------


def _stream_name(context: LoadContext, logical_id: str, props: dict[str, Any]) -> str:
    return as_text(context.value(logical_id, "Name", props["Name"])) if "Name" in props else logical_id


def _stream_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    name = _stream_name(context, logical_id, props)
    return {"Ref": name, "Arn": context.stack.arn("kinesis", f"stream/{name}")}


def _load_stream(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    name = _stream_name(context, logical_id, props)
    mode = (context.value(logical_id, "StreamModeDetails", props.get("StreamModeDetails") or {}) or {}).get(
        "StreamMode", "PROVISIONED")
    params: dict[str, Any] = {"StreamName": name, "StreamModeDetails": {"StreamMode": mode}}
    if mode == "PROVISIONED":
        params["ShardCount"] = _typed(context, logical_id, "ShardCount", props.get("ShardCount", 1))
    _call(context, "kinesis", "CreateStream", params)
    if "RetentionPeriodHours" in props:
        hours = _typed(context, logical_id, "RetentionPeriodHours", props["RetentionPeriodHours"])
        if hours != 24:
            operation = "IncreaseStreamRetentionPeriod" if hours > 24 else "DecreaseStreamRetentionPeriod"
            _call(context, "kinesis", operation, {"StreamName": name, "RetentionPeriodHours": hours})


resource_type("AWS::Kinesis::Stream", phase=PHASE_STORES, attributes=_stream_attributes, load=_load_stream)


# ---- DynamoDB tables --------------------------------------------------------------------------

TABLE_PROPERTIES = ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
                    "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "Tags", "TableClass",
                    "DeletionProtectionEnabled", "SSESpecification")
SIMPLE_TABLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}


def _table_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """Ref is the table's name; Arn and StreamArn are known once it exists, so the first !Ref, !GetAtt (or
    the load) creates it (the context computes attributes once)."""
    kind = context.resources[logical_id].get("Type")
    params = _simple_table_params(context, logical_id, props) if kind == "AWS::Serverless::SimpleTable" \
        else _table_params(context, logical_id, props)
    table = _call(context, "dynamodb", "CreateTable", params)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl is not None:
        ttl = context.value(logical_id, "TimeToLiveSpecification", ttl) or {}
        _call(context, "dynamodb", "UpdateTimeToLive", {"TableName": table["TableName"], "TimeToLiveSpecification": {
            "AttributeName": as_text(ttl.get("AttributeName", "")),
            "Enabled": _typed(context, logical_id, "Enabled", ttl.get("Enabled", True))}})
    attributes = {"Ref": table["TableName"], "Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return attributes


def _table_params(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    name = as_text(context.value(logical_id, "TableName", props["TableName"])) if "TableName" in props else logical_id
    for required in ("KeySchema", "AttributeDefinitions"):
        if required not in props:
            raise context.error(logical_id, f"{required} is required")
    params: dict[str, Any] = {"TableName": name}
    for key in TABLE_PROPERTIES:
        if key in props:
            params[key] = context.value(logical_id, key, props[key])
    for index in params.get("GlobalSecondaryIndexes") or ():
        if params.get("BillingMode") == "PAY_PER_REQUEST":
            index.pop("ProvisionedThroughput", None)
    if "ProvisionedThroughput" in params:
        params["ProvisionedThroughput"] = {k: int(v) for k, v in params["ProvisionedThroughput"].items()}
    params.setdefault("BillingMode", "PROVISIONED" if "ProvisionedThroughput" in params else "PAY_PER_REQUEST")
    stream = props.get("StreamSpecification")
    if stream is not None:
        # CloudFormation's StreamSpecification has the view type only: present means enabled.
        stream = context.value(logical_id, "StreamSpecification", stream) or {}
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream.get("StreamViewType")}
    return params


def _simple_table_params(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """SAM's SimpleTable: a hash key (``PrimaryKey``, default ``id`` String), on demand unless it gives
    ProvisionedThroughput."""
    name = as_text(context.value(logical_id, "TableName", props["TableName"])) if "TableName" in props else logical_id
    key = context.value(logical_id, "PrimaryKey", props.get("PrimaryKey")) or {}
    key_name = as_text(key.get("Name", "id"))
    key_type = SIMPLE_TABLE_TYPES.get(as_text(key.get("Type", "String")))
    if key_type is None:
        raise context.error(logical_id, "PrimaryKey.Type must be String, Number or Binary")
    params: dict[str, Any] = {"TableName": name, "KeySchema": [{"AttributeName": key_name, "KeyType": "HASH"}],
                              "AttributeDefinitions": [{"AttributeName": key_name, "AttributeType": key_type}]}
    throughput = context.value(logical_id, "ProvisionedThroughput", props.get("ProvisionedThroughput"))
    if throughput:
        params["BillingMode"] = "PROVISIONED"
        params["ProvisionedThroughput"] = {k: int(v) for k, v in throughput.items()}
    else:
        params["BillingMode"] = "PAY_PER_REQUEST"
    if "Tags" in props:
        tags = context.value(logical_id, "Tags", props["Tags"]) or {}
        params["Tags"] = [{"Key": k, "Value": as_text(v)} for k, v in tags.items()]
    return params


def _load_table(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    context.attributes(logical_id)


for _table_type in ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
    resource_type(_table_type, phase=PHASE_STORES, attributes=_table_attributes, load=_load_table)


# ---- async invocation settings ----------------------------------------------------------------


def _event_invoke_params(context: LoadContext, logical_id: str, function_name: str, raw: Any,
                         sam: bool) -> dict[str, Any]:
    props = context.value(logical_id, "EventInvokeConfig", raw) or {}
    if not isinstance(props, dict):
        raise context.error(logical_id, "EventInvokeConfig must be a mapping")
    params: dict[str, Any] = {"FunctionName": function_name}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in props:
            params[key] = _typed(context, logical_id, key, props[key])
    destinations = props.get("DestinationConfig") or {}
    if destinations:
        config: dict[str, Any] = {}
        for slot in ("OnSuccess", "OnFailure"):
            target = destinations.get(slot) or {}
            if not target:
                continue
            if not target.get("Destination"):
                # SAM would create a queue or topic for a typed destination without an ARN; we don't.
                kind = target.get("Type", "?") if sam else "?"
                raise context.error(logical_id, f"EventInvokeConfig.DestinationConfig.{slot}: give a Destination "
                                    f"ARN (lambda-emu doesn't create a {kind} destination for you)")
            config[slot] = {"Destination": as_text(target["Destination"])}
        params["DestinationConfig"] = config
    return params


def _sam_event_invoke_config(context: LoadContext, logical_id: str, function: Function, raw: Any) -> None:
    from lambda_emu.emulator.template.versions import auto_publish_alias

    def apply() -> None:
        params = _event_invoke_params(context, logical_id, function.name, raw, sam=True)
        alias = auto_publish_alias(context, logical_id)
        if alias is not None:
            params["Qualifier"] = alias  # SAM puts it on the AutoPublishAlias alias
        _call(context, "lambda", "PutFunctionEventInvokeConfig", params)

    # Destinations may be functions loaded after this one: wait for the settings phase.
    context.defer(PHASE_FUNCTION_SETTINGS, logical_id, apply)


def _sam_dead_letter_queue(context: LoadContext, logical_id: str, function: Function, raw: Any) -> None:
    props = context.value(logical_id, "DeadLetterQueue", raw)
    if not isinstance(props, dict) or not props.get("TargetArn"):
        raise context.error(logical_id, "DeadLetterQueue needs Type (SQS or SNS) and TargetArn")
    target = as_text(props["TargetArn"])

    def apply() -> None:
        _call(context, "lambda", "UpdateFunctionConfiguration",
              {"FunctionName": function.name, "DeadLetterConfig": {"TargetArn": target}})

    context.defer(PHASE_FUNCTION_SETTINGS, logical_id, apply)


def _load_event_invoke_config(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    function_name = as_text(context.value(logical_id, "FunctionName", props.get("FunctionName")))
    qualifier = as_text(context.value(logical_id, "Qualifier", props.get("Qualifier", "$LATEST")))
    params = _event_invoke_params(context, logical_id, function_name, props, sam=False)
    params["Qualifier"] = qualifier
    _call(context, "lambda", "PutFunctionEventInvokeConfig", params)


def _lambda_function_dead_letter(context: LoadContext, logical_id: str, function: Function, raw: Any) -> None:
    """AWS::Lambda::Function's DeadLetterConfig: {TargetArn}."""
    props = context.value(logical_id, "DeadLetterConfig", raw) or {}
    if props.get("TargetArn"):
        _sam_dead_letter_queue(context, logical_id, function, {"TargetArn": props["TargetArn"]})


def _sam_function_url(context: LoadContext, logical_id: str, function: Function, raw: Any) -> None:
    """SAM's FunctionUrlConfig: {AuthType, Cors, InvokeMode}, created through CreateFunctionUrlConfig."""
    props = context.value(logical_id, "FunctionUrlConfig", raw) or {}
    if not isinstance(props, dict) or "AuthType" not in props:
        raise context.error(logical_id, "FunctionUrlConfig needs AuthType (NONE or AWS_IAM)")
    params: dict[str, Any] = {"FunctionName": function.name, "AuthType": as_text(props["AuthType"])}
    if "InvokeMode" in props:
        params["InvokeMode"] = as_text(props["InvokeMode"])
    if props.get("Cors"):
        params["Cors"] = props["Cors"]
    _call(context, "lambda", "CreateFunctionUrlConfig", params)


def _logging_config(context: LoadContext, logical_id: str, function: Function, raw: Any) -> None:
    """LoggingConfig: kept as CreateFunction keeps it (AWS's defaults filled in, a level with Text refused)."""
    from lambda_emu.emulator.platform.errors import AwsError
    from lambda_emu.emulator.services.lambda_.logging_config import merged

    props = context.value(logical_id, "LoggingConfig", raw) or {}
    try:
        function.logging_config = merged({}, {str(k): as_text(v) for k, v in props.items()})
    except AwsError as exc:
        raise context.error(logical_id, f"LoggingConfig: {exc.message}") from None
    context.stack.functions.saved(function)


function_property("EventInvokeConfig", _sam_event_invoke_config)
function_property("FunctionUrlConfig", _sam_function_url)
function_property("LoggingConfig", _logging_config)
function_property("DeadLetterQueue", _sam_dead_letter_queue)
function_property("DeadLetterConfig", _lambda_function_dead_letter)
resource_type("AWS::Lambda::EventInvokeConfig", phase=PHASE_FUNCTION_SETTINGS,
              attributes=lambda context, logical_id, props: {"Ref": logical_id}, load=_load_event_invoke_config)


# ---- event source mappings --------------------------------------------------------------------


def _mapping_params(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in MAPPING_PROPERTIES:
        if key in props:
            value = _typed(context, logical_id, key, props[key])
            if key == "StartingPositionTimestamp":
                value = datetime.fromtimestamp(float(value), tz=UTC)
            params[key] = value
    return params


def _sam_events(context: LoadContext, logical_id: str, function: Function, raw: Any) -> None:
    events = raw if isinstance(raw, dict) else None
    if events is None:
        raise context.error(logical_id, "Events must be a mapping of event name to event")
    for event_name, event in events.items():
        kind = event.get("Type") if isinstance(event, dict) else None
        if kind not in ("SQS", "Kinesis", "DynamoDB"):
            log.warning("event type not modeled by lambda-emu; skipped", resource=logical_id,
                        event_name=event_name, type=kind)
            continue
        props = event.get("Properties") or {}
        source_key = "Queue" if kind == "SQS" else "Stream"
        if source_key not in props:
            raise context.error(logical_id, f"Events.{event_name}: {source_key} is required")

        def create(props: dict[str, Any] = props, source_key: str = source_key) -> None:
            from lambda_emu.emulator.template.versions import alias_arn

            params = _mapping_params(context, logical_id, props)
            # SAM wires a function's event sources to its AutoPublishAlias alias when it has one.
            params["FunctionName"] = alias_arn(context, logical_id, function.name) or function.name
            params["EventSourceArn"] = as_text(context.value(logical_id, source_key, props[source_key]))
            _call(context, "lambda", "CreateEventSourceMapping", params)

        context.defer(PHASE_MAPPINGS, logical_id, create)


def _load_mapping(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    params = _mapping_params(context, logical_id, props)
    for key in ("FunctionName", "EventSourceArn"):
        if key not in props:
            raise TemplateError(f"{context.path}: resource {logical_id} (AWS::Lambda::EventSourceMapping): "
                                f"{key} is required")
        params[key] = as_text(context.value(logical_id, key, props[key]))
    result = _call(context, "lambda", "CreateEventSourceMapping", params)
    context.attributes(logical_id)["Ref"] = result["UUID"]


function_property("Events", _sam_events)
resource_type("AWS::Lambda::EventSourceMapping", phase=PHASE_MAPPINGS,
              attributes=lambda context, logical_id, props: {"Ref": logical_id, "Id": logical_id},
              load=_load_mapping)


# ---- Lambda layers -------------------------------------------------------------------------------

def _layer_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    # Ref is the version's ARN, known only once published; the context computes attributes once, so
    # the first !Ref (or the load) publishes and both get the same version.
    return {"Ref": _publish_layer(context, logical_id, props)}


def _publish_layer(context: LoadContext, logical_id: str, props: dict[str, Any]) -> str:
    """A layer folder zipped and published through PublishLayerVersion, as `sam deploy` would."""
    from pathlib import Path

    from lambda_emu.emulator.invocation.deployment_package import zip_directory

    kind = context.resources[logical_id].get("Type")
    key = "ContentUri" if kind == "AWS::Serverless::LayerVersion" else "Content"
    location = context.value(logical_id, key, props.get(key))
    if not isinstance(location, str) or location.startswith("s3://"):
        raise context.error(logical_id, f"{key}: lambda-emu has no S3; give a local folder")
    directory = (context.directory / location).resolve()
    if not directory.is_dir():
        raise context.error(logical_id, f"{key} {location}: no directory {directory}")
    params: dict[str, Any] = {
        "LayerName": as_text(context.value(logical_id, "LayerName", props["LayerName"])) if "LayerName" in props
        else logical_id,
        "Content": {"ZipFile": zip_directory(Path(directory))},
    }
    for name in ("Description", "LicenseInfo", "CompatibleRuntimes", "CompatibleArchitectures"):
        if name in props:
            params[name] = context.value(logical_id, name, props[name])
    return str(_call(context, "lambda", "PublishLayerVersion", params)["LayerVersionArn"])


def _load_layer(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    context.attributes(logical_id)


for _layer_type in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
    resource_type(_layer_type, phase=PHASE_STORES, attributes=_layer_attributes, load=_load_layer)


# ---- permissions ------------------------------------------------------------------------------

PERMISSION_PROPERTIES = ("Action", "Principal", "SourceArn", "SourceAccount", "PrincipalOrgID", "EventSourceToken",
                         "FunctionUrlAuthType", "InvokedViaFunctionUrl")


def _load_permission(context: LoadContext, logical_id: str, props: dict[str, Any]) -> None:
    """AWS::Lambda::Permission: a statement added through AddPermission, its Sid the logical id (CloudFormation
    makes one up from the stack and the logical id; a predictable local one is easier to use from tests)."""
    for key in ("FunctionName", "Action", "Principal"):
        if key not in props:
            raise TemplateError(f"{context.path}: resource {logical_id} (AWS::Lambda::Permission): {key} is required")
    params: dict[str, Any] = {"StatementId": logical_id,
                              "FunctionName": as_text(context.value(logical_id, "FunctionName", props["FunctionName"]))}
    for key in PERMISSION_PROPERTIES:
        if key in props:
            value = context.value(logical_id, key, props[key])
            params[key] = (value if isinstance(value, bool) else str(value).lower() == "true") \
                if key == "InvokedViaFunctionUrl" else as_text(value)
    _call(context, "lambda", "AddPermission", params)


resource_type("AWS::Lambda::Permission", phase=PHASE_FUNCTION_SETTINGS,
              attributes=lambda context, logical_id, props: {"Ref": logical_id}, load=_load_permission)
