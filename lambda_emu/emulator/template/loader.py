"""SAM / CloudFormation templates: the functions, queues, streams and mappings a run starts with.

A template is YAML (or JSON) with CloudFormation's short-form tags. Every short-form intrinsic has a
constructor, so loading never fails on syntax we don't model; intrinsics are resolved only where a
property we consume uses them, so a ``!ImportValue`` in a property lambda-emu ignores costs nothing.

Loading is a registry of resource-type handlers run in phases: stores (queues, streams) before
functions, functions before what refers to them (event invoke configs, event source mappings). A
resource type is added with :func:`resource_type` (``resources.py`` holds all but functions and IAM
roles); a type nobody registered is skipped with a warning. Every problem is a :class:`TemplateError`
whose message names the template and the resource.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lambda_emu.emulator.invocation.functions import Code, Function, FunctionRegistry
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.protocol.service import Service
    from lambda_emu.emulator.services.lambda_.api import LambdaService

log = get_logger("template")

#: Load phases: what others refer to goes first.
PHASE_STORES = 10  # SQS queues, Kinesis streams, SNS topics
PHASE_FUNCTIONS = 20
PHASE_FUNCTION_SETTINGS = 30  # EventInvokeConfig, permissions, concurrency
PHASE_MAPPINGS = 40  # event source mappings

STACK_NAME = "lambda-emu"
ZIP_ONLY = "lambda-emu runs Zip packages only (container images come with the container runner)"
LOGICAL_ID_RE = re.compile(r"^[A-Za-z0-9]+$")


class TemplateError(Exception):
    """A template lambda-emu can't load; the message is meant for the user as it is."""


# ---- YAML with CloudFormation's short forms ---------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's ``!Tag`` short forms, each turned into its long form."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    # The only other kind of node left.
    return loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value = _construct_node(loader, node)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        # !GetAtt Resource.Attribute (the attribute itself may contain dots: Outputs.X).
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


# One multi-constructor covers every short form (!Ref, !GetAtt, !Sub, !If, !Cidr, !Transform...),
# including ones CloudFormation adds later: loading never fails on a tag.
_CfnLoader.add_multi_constructor("!", _intrinsic)


def parse(text: str, source: str = "<template>") -> dict[str, Any]:
    try:
        document = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"{source}: a template is a mapping with a Resources section")
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{source}: the template has no Resources")
    return document


# ---- intrinsic functions ----------------------------------------------------------------------


class Unresolvable(Exception):
    """An intrinsic lambda-emu can't evaluate (ImportValue, an attribute of a resource it doesn't model)."""


class _NoValue:
    """AWS::NoValue: the property (or list item) disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_RE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class ResourceType:
    """How one CloudFormation resource type is loaded.

    ``attributes`` gives the resource's ``Ref`` value (key ``"Ref"``) and its ``GetAtt`` attributes;
    ``load`` creates it in the emulator (None: the type is only referred to, e.g. an IAM role).
    """

    type_name: str
    phase: int
    attributes: Callable[[LoadContext, str, dict[str, Any]], dict[str, Any]]
    load: Callable[[LoadContext, str, dict[str, Any]], None] | None = None


_RESOURCE_TYPES: dict[str, ResourceType] = {}


def resource_type(
    type_name: str,
    *,
    phase: int,
    attributes: Callable[[LoadContext, str, dict[str, Any]], dict[str, Any]],
    load: Callable[[LoadContext, str, dict[str, Any]], None] | None = None,
) -> None:
    """Register (or replace) the handler of a resource type."""
    _RESOURCE_TYPES[type_name] = ResourceType(type_name, phase, attributes, load)


@dataclass(frozen=True)
class Stack:
    """What a template's resources are created in: the run's region and account, its functions, and the
    API each resource type is created through, as a boto3 call would reach it."""

    region: str
    account_id: str
    #: lambda-emu's endpoint (queue URLs name it).
    endpoint: Callable[[], str]
    functions: FunctionRegistry
    lambda_: LambdaService
    #: service name ("lambda", "sqs", "kinesis") → its API (SQS and Kinesis are built on first use).
    apis: Mapping[str, Callable[[], Service]]

    def api(self, service: str) -> Service:
        return self.apis[service]()

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


@dataclass
class LoadContext:
    """One template being loaded: its document, where it lives, and the intrinsic-function resolver."""

    stack: Stack
    path: Path
    document: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    _attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _resolving: set[str] = field(default_factory=set)
    _conditions: dict[str, bool] = field(default_factory=dict)
    #: Work a resource schedules for a later phase (a SAM function's Events become mappings).
    _deferred: list[tuple[int, int, str, Callable[[], object]]] = field(default_factory=list)
    #: Resources already loaded (a queue may load its dead-letter queue first).
    loaded: set[str] = field(default_factory=set)

    def defer(self, phase: int, logical_id: str, action: Callable[[], object]) -> None:
        """Run ``action`` once every resource of an earlier phase is loaded."""
        self._deferred.append((phase, len(self._deferred), logical_id, action))

    def run_deferred(self, up_to_phase: int) -> None:
        self._deferred.sort(key=lambda item: (item[0], item[1]))
        while self._deferred and self._deferred[0][0] <= up_to_phase:
            _, _, logical_id, action = self._deferred.pop(0)
            try:
                action()
            except AwsError as exc:
                raise self.error(logical_id, exc.message) from None

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.document["Resources"]
        return resources

    def error(self, logical_id: str, message: str) -> TemplateError:
        kind = (self.resources.get(logical_id) or {}).get("Type", "?")
        return TemplateError(f"{self.path}: resource {logical_id} ({kind}): {message}")

    # ---- properties ----

    def value(self, logical_id: str, name: str, raw: Any) -> Any:
        """A consumed property, resolved; anything unresolvable is the user's error, named."""
        try:
            return self.resolve(raw)
        except Unresolvable as exc:
            raise self.error(logical_id, f"{name}: {exc}") from None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), = value.items()
                if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
                    return self._intrinsic(key, argument)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def _intrinsic(self, key: str, argument: Any) -> Any:
        if key == "Ref":
            return self.ref(self.resolve(argument))
        if key == "Fn::GetAtt":
            argument = self.resolve(argument)
            if isinstance(argument, str):
                argument = argument.split(".", 1)
            if not (isinstance(argument, list) and len(argument) == 2):
                raise Unresolvable(f"Fn::GetAtt takes [resource, attribute], not {argument!r}")
            return self.get_att(str(argument[0]), str(argument[1]))
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::Join":
            separator, items = self._args(key, argument, 2)
            items = self.resolve(items)
            if not isinstance(items, list):
                raise Unresolvable("Fn::Join takes a list of values")
            return str(separator).join(_text(v) for v in items)
        if key == "Fn::Select":
            index, items = self._args(key, argument, 2)
            items = self.resolve(items)
            try:
                return items[int(self.resolve(index))]
            except (IndexError, TypeError, ValueError) as exc:
                raise Unresolvable(f"Fn::Select index {index!r} out of range") from exc
        if key == "Fn::Split":
            separator, text = self._args(key, argument, 2)
            return _text(self.resolve(text)).split(str(separator))
        if key == "Fn::Base64":
            return base64.b64encode(_text(self.resolve(argument)).encode()).decode()
        if key == "Fn::FindInMap":
            mapping, top, second = (self.resolve(a) for a in self._args(key, argument, 3))
            try:
                return self.document["Mappings"][mapping][top][second]
            except (KeyError, TypeError) as exc:
                raise Unresolvable(f"Fn::FindInMap: no {mapping}/{top}/{second} in Mappings") from exc
        if key == "Fn::If":
            condition, when_true, when_false = self._args(key, argument, 3)
            return self.resolve(when_true if self.condition(str(condition)) else when_false)
        if key in ("Condition", "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"):
            return self._evaluate({key: argument})
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        if key == "Fn::Length":
            resolved = self.resolve(argument)
            if not isinstance(resolved, list):
                raise Unresolvable("Fn::Length takes a list")
            return len(resolved)
        # ImportValue, GetAZs, Cidr, Transform...: only a deployed account can answer.
        raise Unresolvable(f"{key} can't be resolved locally")

    @staticmethod
    def _args(key: str, argument: Any, count: int) -> list[Any]:
        if not isinstance(argument, list) or len(argument) != count:
            raise Unresolvable(f"{key} takes a list of {count} arguments, not {argument!r}")
        return argument

    def ref(self, name: Any) -> Any:
        name = str(name)
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.document.get("Parameters") or {}):
            raise Unresolvable(f"parameter {name} has no Default and no value was given")
        if name in self.resources:
            return self.attributes(name)["Ref"]
        raise Unresolvable(f"Ref to {name}, which is neither a parameter nor a resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources:
            raise Unresolvable(f"Fn::GetAtt of {logical_id}, which is not a resource of the template")
        attributes = self.attributes(logical_id)
        if attribute not in attributes:
            kind = self.resources[logical_id].get("Type", "?")
            raise Unresolvable(f"lambda-emu doesn't know the attribute {attribute} of {logical_id} ({kind})")
        return attributes[attribute]

    def attributes(self, logical_id: str) -> dict[str, Any]:
        """The Ref value and attributes of a resource, computed once (they may refer to each other)."""
        cached = self._attributes.get(logical_id)
        if cached is not None:
            return cached
        if logical_id in self._resolving:
            raise Unresolvable(f"circular reference through {logical_id}")
        resource = self.resources[logical_id]
        handler = _RESOURCE_TYPES.get(str(resource.get("Type")))
        self._resolving.add(logical_id)
        try:
            # An unmodeled resource's Ref is its logical id, as `sam local` does.
            found = {"Ref": logical_id} if handler is None else handler.attributes(
                self, logical_id, resource.get("Properties") or {})
        finally:
            self._resolving.discard(logical_id)
        self._attributes[logical_id] = found
        return found

    def _pseudo(self, name: str) -> Any:
        stack = self.stack
        return {
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": stack.arn("cloudformation", f"stack/{STACK_NAME}/{uuid.UUID(int=0)}"),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }.get(name)

    def _sub(self, argument: Any) -> str:
        variables: dict[str, Any] = {}
        if isinstance(argument, list):
            text, given = self._args("Fn::Sub", argument, 2)
            variables = {k: self.resolve(v) for k, v in (given or {}).items()}
        else:
            text = argument
        if not isinstance(text, str):
            raise Unresolvable("Fn::Sub takes a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} stays literal
            if name in variables:
                return _text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return _text(self.get_att(resource, attribute))
            return _text(self.ref(name))

        return _SUB_RE.sub(replace, text)

    # ---- conditions ----

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        conditions = self.document.get("Conditions") or {}
        if name not in conditions:
            raise Unresolvable(f"no condition named {name}")
        if name in self._resolving:
            raise Unresolvable(f"circular condition {name}")
        self._resolving.add(name)
        try:
            result = self._evaluate(conditions[name])
        finally:
            self._resolving.discard(name)
        self._conditions[name] = result
        return result

    def _evaluate(self, expression: Any) -> bool:
        if isinstance(expression, bool):
            return expression
        if isinstance(expression, dict) and len(expression) == 1:
            (key, argument), = expression.items()
            if key == "Condition":
                return self.condition(str(argument))
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in self._args(key, argument, 2))
                return _text(left) == _text(right)
            if key == "Fn::Not":
                (inner,) = self._args(key, argument, 1)
                return not self._evaluate(inner)
            if key in ("Fn::And", "Fn::Or") and isinstance(argument, list):
                results = [self._evaluate(a) for a in argument]
                return all(results) if key == "Fn::And" else any(results)
        raise Unresolvable(f"not a condition: {expression!r}")

    # ---- the load ----

    def included(self, logical_id: str, resource: dict[str, Any]) -> bool:
        """False when the resource's Condition is false (CloudFormation wouldn't create it)."""
        condition = resource.get("Condition")
        if condition is None:
            return True
        try:
            return self.condition(str(condition))
        except Unresolvable as exc:
            raise self.error(logical_id, f"Condition: {exc}") from None


def _text(value: Any) -> str:
    """A resolved value as CloudFormation turns it into a string (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise Unresolvable(f"expected a string, got {value!r}")
    return str(value)


def load_template(stack: Stack, path: Path | str, parameters: dict[str, Any] | None = None) -> list[str]:
    """Create the template's resources in ``stack``; returns the logical ids loaded.

    Raises :class:`TemplateError` naming the template and the resource at the first problem.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read the template: {exc.strerror or exc}") from exc
    document = parse(text, str(path))
    context = LoadContext(stack, path.resolve(), document, _parameter_values(path, document, parameters or {}))
    loaded: list[str] = []
    for logical_id, resource, handler in _ordered(context):
        if handler is None:
            log.warning("resource type not modeled by lambda-emu; skipped", template=str(path),
                        resource=logical_id, type=resource.get("Type"))
            continue
        context.run_deferred(handler.phase - 1)
        if handler.load is None or not context.included(logical_id, resource) or logical_id in context.loaded:
            continue
        try:
            handler.load(context, logical_id, resource.get("Properties") or {})
        except AwsError as exc:
            raise context.error(logical_id, exc.message) from None
        context.loaded.add(logical_id)
        loaded.append(logical_id)
    context.run_deferred(1 << 30)
    log.info("template loaded", template=str(path), resources=len(loaded))
    return loaded


def _ordered(context: LoadContext) -> Iterator[tuple[str, dict[str, Any], ResourceType | None]]:
    entries: list[tuple[int, int, str, dict[str, Any], ResourceType | None]] = []
    for index, (logical_id, resource) in enumerate(context.resources.items()):
        logical_id = str(logical_id)
        if not LOGICAL_ID_RE.match(logical_id):
            raise TemplateError(f"{context.path}: resource {logical_id}: a logical id is alphanumeric (A-Za-z0-9)")
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"{context.path}: resource {logical_id}: has no Type")
        if not isinstance(resource.get("Properties") or {}, dict):
            raise context.error(logical_id, "Properties must be a mapping")
        handler = _RESOURCE_TYPES.get(resource["Type"])
        phase = handler.phase if handler is not None else 0
        entries.append((phase, index, logical_id, resource, handler))
    for _phase, _index, logical_id, resource, handler in sorted(entries, key=lambda e: (e[0], e[1])):
        yield logical_id, resource, handler


def _parameter_values(path: Path, document: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    declared = document.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(f"{path}: unknown parameter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            continue  # an error only if something refers to it
        if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
            value = [item.strip() for item in value.split(",")]
        elif not isinstance(value, (list, str)):
            if isinstance(value, dict):
                raise TemplateError(f"{path}: parameter {name}: a value is a string, not {value!r}")
            value = _text(value)
        values[str(name)] = value
    return values


# ---- functions --------------------------------------------------------------------------------

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"

#: Function properties lambda-emu does not model: skipped, with a warning that names them.
_NOT_MODELED = ("AutoPublishAlias", "ProvisionedConcurrencyConfig", "Layers", "FunctionUrlConfig", "VpcConfig",
                "ImageUri", "ImageConfig")

#: Handlers of function properties that configure more than the function (Events, DeadLetterQueue,
#: EventInvokeConfig, DeadLetterConfig; see ``resources.py``): called with (context, logical_id,
#: function, resolved-lazily raw value) after the function exists.
FunctionPropertyHandler = Callable[[LoadContext, str, Function, Any], None]
_FUNCTION_PROPERTIES: dict[str, FunctionPropertyHandler] = {}


def function_property(name: str, handler: FunctionPropertyHandler) -> None:
    """Register a handler for a function property (e.g. SAM ``Events``) that configures more than the function."""
    _FUNCTION_PROPERTIES[name] = handler


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
        return _text(context.value(logical_id, "FunctionName", raw))
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
    if model.package_type != "Zip" or "ImageUri" in props:
        raise context.error(logical_id, ZIP_ONLY)
    if model.runtime is None:
        raise context.error(logical_id, "Runtime is required")
    if model.handler is None and model.runtime.startswith("python"):
        raise context.error(logical_id, "Handler is required for the runtime " + model.runtime)
    from lambda_emu.emulator.services.lambda_.api import LambdaService

    LambdaService._check_environment({"Variables": model.environment})  # noqa: SLF001 - AWS's own rules
    name = model.function_name or logical_id
    function = Function(
        name=name,
        arn=context.stack.functions.arn(name),
        runtime=model.runtime,
        handler=model.handler or "",
        role=model.role or f"arn:aws:iam::{context.stack.account_id}:role/{logical_id}Role",
        code=_code(context, logical_id, props, name),
        timeout=model.timeout,
        memory_size=model.memory_size,
        description=model.description,
        environment=model.environment,
        environment_set="Environment" in props,
        reserved_concurrency=model.reserved_concurrency,
        tags=model.tags,
        architectures=model.architectures,
        ephemeral_storage=model.ephemeral_storage,
    )
    try:
        context.stack.lambda_.register(function)
    except AwsError:
        if function.code.owned:  # inline code written for a function that never came to be
            shutil.rmtree(function.code.directory, ignore_errors=True)
        raise
    for key in props:
        handler = _FUNCTION_PROPERTIES.get(key)
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
            result[str(key)] = _text(resolved)
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
            raise context.error(logical_id, ZIP_ONLY)
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


# ---- resources referred to but not run -------------------------------------------------------


def _role_attributes(context: LoadContext, logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    name = props.get("RoleName")
    name = logical_id if name is None else _text(context.value(logical_id, "RoleName", name))
    return {"Ref": name, "Arn": f"arn:aws:iam::{context.stack.account_id}:role/{name}", "RoleId": f"AROA{logical_id}"}


resource_type(SERVERLESS_FUNCTION, phase=PHASE_FUNCTIONS, attributes=_function_attributes, load=_load_function)
resource_type(LAMBDA_FUNCTION, phase=PHASE_FUNCTIONS, attributes=_function_attributes, load=_load_function)
# IAM roles only matter as a function's Role ARN: lambda-emu doesn't enforce permissions.
resource_type("AWS::IAM::Role", phase=PHASE_STORES, attributes=_role_attributes)
