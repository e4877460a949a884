"""Template functions: AWS::Serverless::Function (with SAM's Globals) and AWS::Lambda::Function, their
code (a local directory used in place, or inline code), the properties lambda-emu reads, and the IAM
roles they name.

A function is created through the Lambda API's own CreateFunction path (``LambdaService.create_function``:
the same checks, defaults, state and hooks), with CloudFormation's properties as CreateFunction's
input. Only its code differs: a CodeUri folder is used in place rather than unzipped into lambda-emu's
code directory, so an edit reaches the next cold start (reload-on-edit, a deliberate local-dev feature)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lambda_emu.emulator.invocation.functions import Code, FunctionRegistry
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.template.images import ImageBuild, image_build, start_build
from lambda_emu.emulator.template.loader import (
    FUNCTION_PROPERTIES,
    NO_VALUE,
    PHASE_FUNCTIONS,
    PHASE_STORES,
    LoadContext,
    Unresolvable,
    as_text,
    log,
    resource_type,
)

SERVERLESS_FUNCTION = "AWS::Serverless::Function"


LAMBDA_FUNCTION = "AWS::Lambda::Function"


#: Function properties lambda-emu does not model: skipped, with a warning that names them.
_NOT_MODELED = ("ProvisionedConcurrencyConfig", "DeploymentPreference", "VpcConfig")


class FunctionProperties(BaseModel):
    """What lambda-emu reads of a function resource, after Globals and intrinsics (CloudFormation's names)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    function_name: str | None = Field(None, alias="FunctionName", pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    handler: str | None = Field(None, alias="Handler", min_length=1, max_length=128)
    runtime: str | None = Field(None, alias="Runtime")
    timeout: int = Field(3, alias="Timeout", ge=1, le=900)
    memory_size: int = Field(128, alias="MemorySize", ge=128, le=10240)
    description: str = Field("", alias="Description", max_length=256)
    role: str | None = Field(None, alias="Role")
    environment: dict[str, str] = Field(default_factory=dict, alias="Environment")
    reserved_concurrency: int | None = Field(None, alias="ReservedConcurrentExecutions", ge=0)
    architectures: list[str] = Field(default_factory=lambda: ["x86_64"], alias="Architectures")
    ephemeral_storage: int = Field(512, alias="EphemeralStorage", ge=512, le=10240)
    tags: dict[str, str] = Field(default_factory=dict, alias="Tags")
    package_type: str = Field("Zip", alias="PackageType")
    image_uri: str | None = Field(None, alias="ImageUri")
    image_config: dict[str, Any] | None = Field(None, alias="ImageConfig")

    @field_validator("environment", mode="before")
    @classmethod
    def _variables(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value.get("Variables") or {}
        return value

    @field_validator("ephemeral_storage", mode="before")
    @classmethod
    def _storage(cls, value: Any) -> Any:
        return value.get("Size", 512) if isinstance(value, dict) else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        # AWS::Lambda::Function: [{Key, Value}]; SAM: a map.
        if isinstance(value, list):
            return {str(t.get("Key")): t.get("Value") for t in value if isinstance(t, dict)}
        return value


#: The properties resolved and validated through FunctionProperties (Environment has its own rules).
_CONSUMED = [f.alias for f in FunctionProperties.model_fields.values() if f.alias and f.alias != "Environment"]


def _merge_globals(global_props: Any, local: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals rules: maps merge (the resource wins), lists add up, scalars are overridden."""
    if not isinstance(global_props, dict):
        return dict(local)
    merged = dict(global_props)
    for key, value in local.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = _merge_globals(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merged[key] = current + value
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: dict[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _function_properties(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    if context.resources[logical_id].get("Type") == SERVERLESS_FUNCTION:
        return _merge_globals((context.document.get("Globals") or {}).get("Function"), props)
    return props


def _function_name(context: LoadContext, logical_id: str, props: dict[str, Any]) -> str:
    # Without FunctionName, `sam local` names the function by its logical id; so do we.
    raw = _function_properties(context, logical_id, props).get("FunctionName")
    if raw is None:
        return logical_id
    try:
        return as_text(context.value(logical_id, "FunctionName", raw))
    except Unresolvable as exc:
        raise context.error(logical_id, f"FunctionName: {exc}") from None


def _function_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    name = _function_name(context, logical_id, props)
    return {"Ref": name, "Arn": context.stack.functions.arn(name)}


def _load_function(context: LoadContext, logical_id: str, raw_props: dict[str, Any]) -> None:
    props = _function_properties(context, logical_id, raw_props)
    consumed = {name: context.value(logical_id, name, props[name]) for name in _CONSUMED if name in props}
    if "Environment" in props:
        consumed["Environment"] = {"Variables": _environment(context, logical_id, props["Environment"])}
    consumed["FunctionName"] = _function_name(context, logical_id, raw_props)
    try:
        model = FunctionProperties.model_validate(consumed)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise context.error(logical_id, problems) from None
    if model.package_type not in ("Zip", "Image"):
        raise context.error(logical_id, f"PackageType must be Zip or Image, not {model.package_type}")
    image = model.package_type == "Image"
    if image:
        if model.runtime is not None or model.handler is not None:
            raise context.error(logical_id, "Runtime and Handler are not for PackageType Image (the image is both)")
    elif "ImageUri" in props or "ImageConfig" in props:
        raise context.error(logical_id, "ImageUri and ImageConfig need PackageType: Image")
    elif model.runtime is None:
        raise context.error(logical_id, "Runtime is required")
    elif model.handler is None and model.runtime.startswith("python"):
        raise context.error(logical_id, "Handler is required for the runtime " + model.runtime)
    name = model.function_name or logical_id
    build: ImageBuild | None = None
    resolved: str | None = None
    uri: str | None = None
    # CreateFunction's own input, with CloudFormation's values: the function is created through the
    # same path as the API's (its checks, defaults, --state-dir record and created-hooks).
    params: dict[str, Any] = {
        "FunctionName": name,
        "Role": model.role or f"arn:aws:iam::{context.stack.account_id}:role/{logical_id}Role",
        "Timeout": model.timeout,
        "MemorySize": model.memory_size,
        "Description": model.description,
        "Tags": model.tags,
        "Architectures": model.architectures,
        "EphemeralStorage": {"Size": model.ephemeral_storage},
        "PackageType": "Image" if image else "Zip",
    }
    if "Environment" in props:
        params["Environment"] = {"Variables": model.environment}
    if not image:
        params["Runtime"] = model.runtime
        if model.handler is not None:
            params["Handler"] = model.handler
    if "Layers" in props:
        layers = context.value(logical_id, "Layers", props["Layers"])
        if not isinstance(layers, list) or not all(isinstance(arn, str) for arn in layers):
            raise context.error(logical_id, "Layers must be a list of layer version ARNs")
        params["Layers"] = layers
    lambda_ = context.stack.lambda_
    # Checked before any code is made for it (inline code is written to a folder of its own).
    lambda_.check_create(params)
    if image:
        build, uri = image_build(context, logical_id, props, model.image_uri)
        params["Code"] = {"ImageUri": uri}
        if model.image_config:
            params["ImageConfig"] = model.image_config
        if build is None:
            try:
                code, resolved = lambda_.image_code(name, uri)
            except AwsError as exc:
                raise context.error(logical_id, f"ImageUri: {exc.message}") from None
        else:
            code = context.stack.functions.code_from_image(name, "")
    else:
        params["Code"] = {}
        code = _code(context, logical_id, props, name)
    function = lambda_.create_function(params, code, resolved)
    if build is not None:
        # Like `sam build`: the function exists at once, Pending until its image is built.
        function.state, function.state_reason_code = "Pending", "Creating"
        function.state_reason = "The function is being created."
        context.stack.functions.saved(function)
    if model.reserved_concurrency is not None:
        lambda_.PutFunctionConcurrency({"FunctionName": name, "ReservedConcurrentExecutions":
                                        model.reserved_concurrency})
    if build is not None:
        start_build(context.stack, function, build)
    if context.stack.refusal(function.runtime) is not None:
        context.unrunnable.append(f"{function.name} ({function.runtime})")
    context.stack.on_function_loaded(function)  # requirements installed, code folder watched
    for key in props:
        handler = FUNCTION_PROPERTIES.get(key)
        if handler is not None:
            handler(context, logical_id, function, props[key])
        elif key in _NOT_MODELED:
            log.warning("function property not modeled by lambda-emu; ignored", resource=logical_id, property=key)


def _environment(context: LoadContext, logical_id: str, raw: Any) -> dict[str, str]:
    if isinstance(raw, dict) and _is_intrinsic(raw):
        raw = context.value(logical_id, "Environment", raw)
    if not isinstance(raw, dict):
        raise context.error(logical_id, "Environment must be a mapping with Variables")
    variables = raw.get("Variables") or {}
    if isinstance(variables, dict) and _is_intrinsic(variables):
        variables = context.value(logical_id, "Environment.Variables", variables)
    if not isinstance(variables, dict):
        raise context.error(logical_id, "Environment.Variables must be a mapping")
    result: dict[str, str] = {}
    for key, value in variables.items():
        try:
            resolved = context.resolve(value)
            if resolved is NO_VALUE:
                continue
            result[str(key)] = as_text(resolved)
        except Unresolvable as exc:
            # `sam local` sets what it can't resolve to ""; a warning says which and why.
            log.warning("environment variable not resolvable locally; set to \"\"", resource=logical_id,
                        variable=key, reason=str(exc))
            result[str(key)] = ""
    return result


def _code(context: LoadContext, logical_id: str, props: dict[str, Any], name: str) -> Code:
    inline: Any = None
    location: Any = None
    if "InlineCode" in props:
        inline = context.value(logical_id, "InlineCode", props["InlineCode"])
    elif "Code" in props:
        code = context.value(logical_id, "Code", props["Code"])
        if isinstance(code, str):
            location = code  # a local path, as `sam build` / `sam package` accept
        elif isinstance(code, dict) and "ZipFile" in code:
            inline = code["ZipFile"]
        elif isinstance(code, dict) and code.get("ImageUri"):
            raise context.error(logical_id, "Code.ImageUri needs PackageType: Image")
        else:
            raise context.error(logical_id, "Code: lambda-emu has no S3; give Code.ZipFile or a local directory")
    else:
        # SAM's default CodeUri is the template's directory.
        location = context.value(logical_id, "CodeUri", props.get("CodeUri", "."))
    if inline is not None:
        if not isinstance(inline, str):
            raise context.error(logical_id, "inline code (ZipFile / InlineCode) must be a string")
        return _inline_code(context, name, inline)
    if not isinstance(location, str):
        raise context.error(logical_id, "CodeUri: lambda-emu has no S3; give a local directory")
    if location.startswith("s3://"):
        raise context.error(logical_id, f"CodeUri {location}: lambda-emu has no S3; give a local directory")
    directory = (context.directory / location).resolve()
    if not directory.is_dir():
        raise context.error(logical_id, f"CodeUri {location}: no directory {directory}")
    # Used in place: edits show up in the next cold start, as with `sam local`.
    return FunctionRegistry.code_from_directory(directory)


def _inline_code(context: LoadContext, name: str, source: str) -> Code:
    # CloudFormation writes ZipFile / InlineCode to index.py (the handler is index.<function>).
    data = source.encode()
    directory = context.stack.functions.code_root / f"{name}-inline-{uuid.uuid4().hex[:12]}"
    directory.mkdir(parents=True)
    (directory / "index.py").write_bytes(data)
    return Code(directory, len(data), base64.b64encode(hashlib.sha256(data).digest()).decode(), owned=True)


def _role_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    name = props.get("RoleName")
    name = logical_id if name is None else as_text(context.value(logical_id, "RoleName", name))
    return {"Ref": name, "Arn": f"arn:aws:iam::{context.stack.account_id}:role/{name}", "RoleId": f"AROA{logical_id}"}


resource_type(SERVERLESS_FUNCTION, phase=PHASE_FUNCTIONS, attributes=_function_attributes, load=_load_function)
resource_type(LAMBDA_FUNCTION, phase=PHASE_FUNCTIONS, attributes=_function_attributes, load=_load_function)
# IAM roles only matter as a function's Role ARN: lambda-emu doesn't enforce permissions.
resource_type("AWS::IAM::Role", phase=PHASE_STORES, attributes=_role_attributes)
