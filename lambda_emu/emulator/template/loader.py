"""SAM / CloudFormation templates: the functions, queues, streams and mappings a run starts with.

A template is YAML (or JSON) with CloudFormation's short-form tags (parsed by ``yaml_tags.py``), so
loading never fails on syntax we don't model; intrinsics are resolved only where a
property we consume uses them, so a ``!ImportValue`` in a property lambda-emu ignores costs nothing.

Loading is a registry of resource-type handlers run in phases: stores (queues, streams) before
functions, functions before what refers to them (event invoke configs, event source mappings). A
resource type is added with :func:`resource_type` (``functions.py`` registers functions and IAM
roles, ``resources.py`` everything else); a type nobody registered is skipped with a warning. Every
problem is a :class:`TemplateError` whose message names the template and the resource.

The intrinsic resolver stays in this module although it is a little over 500 lines: it is
``LoadContext``'s own methods, reading the resource-type registry and the dotted-ref registry the phased
load fills, so a module of its own would import this one back.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger

# TemplateError is re-exported: it is what every user of the loader catches.
from lambda_emu.emulator.template.yaml_tags import TemplateError as TemplateError
from lambda_emu.emulator.template.yaml_tags import parse

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
LOGICAL_ID_RE = re.compile(r"^[A-Za-z0-9]+$")


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
    #: ``docker build`` (context directory, Dockerfile, tag, build args, progress line sink) → image id,
    #: for image functions with SAM's Metadata; blocking, so the loader runs it off the loop.
    build_image: Callable[[Path, str, str, dict[str, str], Callable[[str], None]], str] | None = None
    #: Why the runner in use can't run a runtime (None: it can); such functions load, with one warning.
    refusal: Callable[[str], str | None] = lambda _runtime: None
    #: A function of the template was created: its requirements are installed, its code folder watched.
    on_function_loaded: Callable[[Function], None] = lambda _function: None

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
    #: Functions the runner in use can't run ("Name (nodejs20.x)"), reported in one warning.
    unrunnable: list[str] = field(default_factory=list)

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
            return str(separator).join(as_text(v) for v in items)
        if key == "Fn::Select":
            index, items = self._args(key, argument, 2)
            items = self.resolve(items)
            try:
                return items[int(self.resolve(index))]
            except (IndexError, TypeError, ValueError) as exc:
                raise Unresolvable(f"Fn::Select index {index!r} out of range") from exc
        if key == "Fn::Split":
            separator, text = self._args(key, argument, 2)
            return as_text(self.resolve(text)).split(str(separator))
        if key == "Fn::Base64":
            return base64.b64encode(as_text(self.resolve(argument)).encode()).decode()
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
        base, _, suffix = name.rpartition(".")
        if suffix in _DOTTED_REFS and base in self.resources:
            return _DOTTED_REFS[suffix](self, base, suffix)  # SAM's `!Ref Fn.Alias` and friends
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
                return as_text(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return as_text(self.get_att(resource, attribute))
            return as_text(self.ref(name))

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
                return as_text(left) == as_text(right)
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


def as_text(value: Any) -> str:
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
    skipped: dict[str, int] = {}
    for logical_id, resource, handler in _ordered(context):
        if handler is None:
            skipped[str(resource.get("Type"))] = skipped.get(str(resource.get("Type")), 0) + 1
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
    if skipped:
        # One line for all of them: a template full of tables and APIs shouldn't bury the rest.
        log.warning("skipped " + ", ".join(f"{count} {kind}" for kind, count in skipped.items()),
                    template=str(path))
    if context.unrunnable:
        log.warning(f"{', '.join(context.unrunnable)}: the process runner runs python3.x and provided.* "
                    "functions; invoking these needs --runner docker", template=str(path))
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
            value = as_text(value)
        values[str(name)] = value
    return values


# ---- functions --------------------------------------------------------------------------------


#: Handlers of function properties that configure more than the function (Events, DeadLetterQueue,
#: EventInvokeConfig, DeadLetterConfig; see ``resources.py``): called with (context, logical_id,
#: function, resolved-lazily raw value) after the function exists.
FunctionPropertyHandler = Callable[[LoadContext, str, Function, Any], None]
FUNCTION_PROPERTIES: dict[str, FunctionPropertyHandler] = {}


def function_property(name: str, handler: FunctionPropertyHandler) -> None:
    """Register a handler for a function property (e.g. SAM ``Events``) that configures more than the function."""
    FUNCTION_PROPERTIES[name] = handler


def call_api(context: LoadContext, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """An API operation with the protocol layer's validation, as a boto3 call would get it."""
    from lambda_emu.emulator.protocol.shapes import service_model
    from lambda_emu.emulator.protocol.validation import validate

    target = context.stack.api(service)
    shape = service_model(service).operation_model(operation).input_shape
    problems = validate(shape, params, enums=target.validate_enums)
    if problems:
        error = target.validation_error(problems)
        raise error if isinstance(error, AwsError) else AwsError("ValidationException", str(error))
    result: dict[str, Any] = getattr(target, operation)(params)
    if hasattr(result, "__await__"):
        raise TypeError(f"{service}:{operation} is asynchronous; the template loader runs synchronously")
    return result


#: SAM's references to resources it generates (``!Ref MyFunction.Alias``): suffix → (context, the
#: resource's logical id, suffix) → the value.
DottedRef = Callable[["LoadContext", str, str], Any]
_DOTTED_REFS: dict[str, DottedRef] = {}


def dotted_ref(suffix: str, handler: DottedRef) -> None:
    _DOTTED_REFS[suffix] = handler


# ---- resources referred to but not run -------------------------------------------------------


