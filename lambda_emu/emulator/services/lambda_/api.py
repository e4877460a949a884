"""The Lambda API: functions, concurrency and Invoke (rest-json operations, plain dicts in and out)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from lambda_emu.emulator.invocation import logs
from lambda_emu.emulator.invocation.functions import (
    DEPRECATED_RUNTIMES,
    MAX_ENV_BYTES,
    NAME_RE,
    PYTHON_RUNTIMES,
    RESERVED_ENV_KEYS,
    SUPPORTED_RUNTIMES,
    Code,
    Function,
    FunctionRegistry,
    zip_directory,
)
from lambda_emu.emulator.invocation.invoker import AsyncInvoke, Invoker
from lambda_emu.emulator.invocation.layers import LayerStore
from lambda_emu.emulator.invocation.pool import Environments
from lambda_emu.emulator.invocation.versions import Target
from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import (
    AwsError,
    invalid_parameter,
    lambda_error,
    resource_not_found,
    service_exception,
)
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.services import pagination
from lambda_emu.emulator.services.control.api import ControlError
from lambda_emu.emulator.services.lambda_.aliases_api import AliasesApi
from lambda_emu.emulator.services.lambda_.code_signing_api import CodeSigningApi
from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks
from lambda_emu.emulator.services.lambda_.event_invoke_config import EventInvokeConfigApi
from lambda_emu.emulator.services.lambda_.function_urls_api import FunctionUrlsApi
from lambda_emu.emulator.services.lambda_.kept_config import kept
from lambda_emu.emulator.services.lambda_.layers_api import LayersApi
from lambda_emu.emulator.services.lambda_.lifecycle import Lifecycle
from lambda_emu.emulator.services.lambda_.logging_config import merged as merged_logging_config
from lambda_emu.emulator.services.lambda_.mappings import MappingRegistry
from lambda_emu.emulator.services.lambda_.mappings_api import EventSourceMappingApi
from lambda_emu.emulator.services.lambda_.permissions_api import PermissionsApi
from lambda_emu.emulator.services.lambda_.tags_api import TagsApi
from lambda_emu.emulator.services.lambda_.versions_api import VersionsApi
from lambda_emu.emulator.services.sqs.queue import Queue

#: Called after a function changed in a way others react to (deleted; its concurrency changed).
FunctionHook = Callable[[Function], None]

#: Payload quotas (docs/aws-behaviour.md §Invoke: Payload limits).
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_INVOKE_ASYNC_PAYLOAD = 256 * 1024
#: Standard functions: 900 s and 10,240 MB, although the model now admits more.
MAX_TIMEOUT = 900
MAX_MEMORY = 10240
#: Lambda keeps at least this much of the account's concurrency unreserved.
MIN_UNRESERVED = 100


def too_large(limit: int) -> AwsError:
    return lambda_error("RequestTooLargeException",
                        f"Request must be smaller than {limit} bytes for the InvokeFunction operation", 413)


#: Coral's problem for a Runtime outside the model's enum (CreateFunction, UpdateFunctionConfiguration).
_RUNTIME_ENUM = re.compile(r"Value '(?P<value>.*)' at 'runtime' failed to satisfy constraint: Member must satisfy "
                           r"enum value set: \[", re.DOTALL)
#: The order AWS lists its runtimes in that message (recorded 2026-01); runtimes it lacks follow.
_AWS_RUNTIME_ORDER = (
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x", "nodejs22.x", "java25",
    "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4", "ruby3.2", "python3.8", "python3.9", "java17",
    "nodejs16.x", "dotnet10", "dotnet8", "java11", "dotnet6", "nodejs18.x", "provided.al2", "java8.al2",
)


def creatable_runtimes() -> list[str]:
    """The runtimes CreateFunction takes here, in AWS's order."""
    usable = [r for r in SUPPORTED_RUNTIMES if r not in DEPRECATED_RUNTIMES]
    return [r for r in _AWS_RUNTIME_ORDER if r in usable] + [r for r in usable if r not in _AWS_RUNTIME_ORDER]


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", f"1 validation error detected: {message}", 400)


class LambdaService(EventInvokeConfigApi, EventSourceMappingApi, LayersApi, TagsApi, PermissionsApi, VersionsApi,
                    AliasesApi, FunctionUrlsApi, CodeSigningApi, Service):
    service_name = "lambda"
    #: VpcConfig's ids are the elements AWS words without "Member must not be null" (recorded for
    #: vpcConfig.subnetIds / securityGroupIds; Layers and Architectures have it).
    nullable_elements = frozenset({"SubnetId", "SecurityGroupId"})

    def validation_error(self, problems: list[str]) -> Exception:
        """Lambda checks Runtime itself: a value outside the enum is its 400 InvalidParameterValueException
        "Value X at 'runtime' ... or be a valid ARN" (recorded), listing the runtimes it creates functions
        with; Coral's other problems come first."""
        others = [p for p in problems if not _RUNTIME_ENUM.match(p)]
        if others:
            return super().validation_error(others)
        value = _RUNTIME_ENUM.match(problems[0])["value"]  # type: ignore[index]
        return invalid_parameter(f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
                                 f"value set: [{', '.join(creatable_runtimes())}] or be a valid ARN")

    def __init__(
        self,
        functions: FunctionRegistry,
        clock: Clock,
        invoker: Invoker,
        environments: Environments,
        async_invoke: AsyncInvoke,
        checks: DestinationChecks,
        mappings: MappingRegistry,
        *,
        queue_by_arn: Callable[[str], Queue | None],
        stream_exists: Callable[[str], bool],
        region: str,
        account_id: str,
        account_concurrency: int,
        endpoint: Callable[[], str],
        resolve_image: Callable[[str], str] | None = None,
        layers: LayerStore,
        creation_delays: bool = False,
    ) -> None:
        self.functions = functions
        self.clock = clock
        self.invoker = invoker
        self.environments = environments
        self.async_invoke = async_invoke
        self.checks = checks
        self.mappings = mappings
        self.queue_by_arn = queue_by_arn
        self.stream_exists = stream_exists
        self.region = region
        self.account_id = account_id
        self.account_concurrency = account_concurrency
        self.endpoint = endpoint
        #: An image function's local image to its id (LookupError: no such image; OSError: no engine).
        self.resolve_image = resolve_image or _no_images
        self.layers = layers
        #: Pending → Active and InProgress → Successful, at once or (--creation-delays) on the clock.
        self.lifecycle = Lifecycle(clock, functions, environments, delays=creation_delays)
        self.code_signing_configs: dict[str, dict[str, Any]] = {}
        #: Hooks the composition root wires (the async queue and the faults forget a deleted function;
        #: the async queue wakes when a function's concurrency changes).
        self.on_function_deleted: list[FunctionHook] = []
        self.on_concurrency_changed: list[FunctionHook] = []
        #: A function was created (API or template): the sandbox prepares its interpreter.
        self.on_function_created: list[FunctionHook] = []

    def _endpoint(self) -> str:
        return self.endpoint()

    async def download_code(self, request: web.Request) -> web.Response:
        """Code.Location: the deployment package as uploaded (AWS's is a presigned S3 URL)."""
        function = self.functions.version(request.query.get("functionName", ""),
                                          request.query.get("qualifier", "$LATEST"))
        if function is None:
            raise ControlError(404, "NotFound", "No such function")
        if function.code.package is not None:
            data = function.code.package.read_bytes()
        else:
            data = zip_directory(function.code.directory)
        return web.Response(body=data, content_type="application/zip")

    # ---- functions ----

    async def CreateFunction(self, params: dict[str, Any]) -> dict[str, Any]:
        # Everything is checked before the package is read (an unzip can be large), and again by
        # create_function once it is (another request may have created the name meanwhile).
        name, _layers = self.check_create(params)
        if params.get("PackageType", "Zip") == "Image":
            code, resolved = self._image_code(name, params["Code"])
        else:
            code, resolved = await self._code(name, params["Code"]), None
        function = self.create_function(params, code, resolved)
        configuration = function.configuration("created")
        if params.get("Publish"):
            # AWS's answer names the version published but keeps the unqualified ARN (recorded).
            configuration["Version"] = self.publish_version(function).version
        self.lifecycle.created(function)
        return configuration

    def create_function(self, params: dict[str, Any], code: Code, resolved_image_uri: str | None = None) -> Function:
        """The one way a function comes to be, once its code is in hand: CreateFunction's checks, its
        defaults, the function added (and written to --state-dir), the created-hooks run. The API calls
        it with the package it unzipped; the template loader with its CodeUri folder, used in place.
        On a refusal, code lambda-emu made for it is discarded (never a folder used in place)."""
        try:
            name, layers = self.check_create(params)
            package_type = params.get("PackageType", "Zip")
            function = Function(
                name=name,
                arn=self.functions.arn(name),
                runtime=params.get("Runtime") or "",
                handler=params.get("Handler") or "",
                role=params["Role"],
                code=code,
                timeout=params.get("Timeout", 3),
                memory_size=params.get("MemorySize", 128),
                description=params.get("Description", ""),
                environment=dict((params.get("Environment") or {}).get("Variables") or {}),
                environment_set="Environment" in params,
                dead_letter_target=(params.get("DeadLetterConfig") or {}).get("TargetArn") or None,
                tags=dict(params.get("Tags") or {}),
                architectures=list(params.get("Architectures") or ["x86_64"]),
                ephemeral_storage=(params.get("EphemeralStorage") or {}).get("Size", 512),
                tracing_mode=(params.get("TracingConfig") or {}).get("Mode") or "PassThrough",
                package_type=package_type,
                image_uri=params["Code"].get("ImageUri") if package_type == "Image" else None,
                resolved_image_uri=resolved_image_uri,
                image_config=dict(params["ImageConfig"]) if params.get("ImageConfig") else None,
                layers=layers,
                logging_config=merged_logging_config({}, params.get("LoggingConfig")),
                code_signing_config_arn=params.get("CodeSigningConfigArn") or None,
                kept_config=kept(params),
            )
            if function.image_config is not None and package_type != "Image":
                raise invalid_parameter("ImageConfig is only for functions of PackageType Image")
            self.checks.check_dead_letter_target(function, function.dead_letter_target)
        except AwsError:
            code.discard()
            raise
        function.touch(self.clock.now())
        self.functions.add(function)
        for hook in self.on_function_created:
            hook(function)
        return function

    def check_create(self, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """CreateFunction's own checks (beyond the model's): the name, and its layer versions."""
        name = params["FunctionName"]
        if not NAME_RE.match(name):
            name, qualifier = self.functions.parse_name(name)
            if qualifier:
                raise invalid_parameter("Unsupported function name with qualifier")
        package_type = params.get("PackageType", "Zip")
        runtime = params.get("Runtime")
        handler = params.get("Handler")
        if package_type == "Image":
            if runtime or handler or params.get("Layers"):
                raise invalid_parameter("Please don't provide Handler or Runtime or Layer when the intended "
                                        "function PackageType is Image")
        else:
            self._check_runtime(runtime)
            if runtime in PYTHON_RUNTIMES and not handler:
                raise invalid_parameter("Handler must be set for the runtime " + str(runtime))
        self._check_limits(params)
        self._check_environment(params.get("Environment"))
        merged_logging_config({}, params.get("LoggingConfig"))  # refuses a level with Text
        if params.get("CodeSigningConfigArn"):
            self.check_code_signing_config(params["CodeSigningConfigArn"])
        if self.functions.find(name) is not None:
            raise lambda_error("ResourceConflictException", f"Function already exist: {name}", 409)
        return name, self.layers.resolve(params.get("Layers") or [])

    def GetFunction(self, params: dict[str, Any]) -> dict[str, Any]:
        target = self.functions.resolve(params["FunctionName"], params.get("Qualifier"))
        function = target.function
        code: dict[str, Any]
        if function.package_type == "Image":
            code = {"RepositoryType": "ECR", "ImageUri": function.image_uri}
            if function.resolved_image_uri:
                code["ResolvedImageUri"] = function.resolved_image_uri
        else:
            code = {"RepositoryType": "S3",
                    "Location": f"{self.endpoint()}/_emu/code?functionName={quote(function.name)}"
                                + (f"&qualifier={function.version}" if function.version != "$LATEST" else "")}
        base = self.functions.get(function.name)  # tags and concurrency are the function's, not a version's
        result: dict[str, Any] = {"Configuration": qualified_configuration(target), "Code": code}
        if base.tags:
            result["Tags"] = dict(base.tags)
        if base.reserved_concurrency is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": base.reserved_concurrency}
        return result

    def GetFunctionConfiguration(self, params: dict[str, Any]) -> dict[str, Any]:
        return qualified_configuration(self.functions.resolve(params["FunctionName"], params.get("Qualifier")))

    def ListFunctions(self, params: dict[str, Any]) -> dict[str, Any]:
        every: list[Function] = list(self.functions)
        if params.get("FunctionVersion") == "ALL":
            # Each function's published versions follow its $LATEST.
            every = [f for latest in every for f in (latest, *self.functions.versions_of(latest.name))]
        functions, following = pagination.page(every, params, 50)
        result: dict[str, Any] = {"Functions": [listed(f.configuration()) for f in functions]}
        if following:
            result["NextMarker"] = following
        return result

    async def UpdateFunctionCode(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        self._check_revision(function, params)
        previous = self.lifecycle.check_update(function)
        sources = ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri")
        given = {k: v for k, v in params.items() if k in sources}
        if function.package_type == "Image":
            if not given.get("ImageUri"):
                raise invalid_parameter("Please provide ImageUri when updating a function with packageType Image.")
            code, resolved = self._image_code(function.name, given)
        else:
            if given.get("ImageUri"):
                raise invalid_parameter("Please don't provide ImageUri when updating a function with packageType Zip.")
            code, resolved = await self._code(function.name, given), None
        if self.functions.find(function.name) is not function:  # deleted (or replaced) while this one unzipped
            code.discard()
            raise not_found(function.name)
        if function.package_type == "Image":
            function.image_uri, function.resolved_image_uri = given["ImageUri"], resolved
        if function.update_in_progress:  # another update began while this one unzipped
            code.discard()
            self.lifecycle.check_update(function)
        old = function.code
        function.code = code
        self._changed(function)
        configuration = function.configuration("updated")
        if params.get("Publish"):
            configuration["Version"] = self.publish_version(function).version
        self.lifecycle.updated(function, previous, old.discard)
        return configuration

    def UpdateFunctionConfiguration(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        self._check_revision(function, params)
        previous = self.lifecycle.check_update(function)
        if "Runtime" in params:
            self._check_runtime(params["Runtime"])
        self._check_limits(params)
        self._check_environment(params.get("Environment"))
        logging_config = (merged_logging_config(function.logging_config, params["LoggingConfig"])
                          if "LoggingConfig" in params else None)
        if "Layers" in params:
            function.layers = self.layers.resolve(params["Layers"] or [])
        if "DeadLetterConfig" in params:
            target = (params["DeadLetterConfig"] or {}).get("TargetArn") or None
            self.checks.check_dead_letter_target(function, target)
            function.dead_letter_target = target
        for key, attr in (("Runtime", "runtime"), ("Handler", "handler"), ("Role", "role"), ("Timeout", "timeout"),
                          ("MemorySize", "memory_size"), ("Description", "description")):
            if key in params:
                setattr(function, attr, params[key])
        if "Environment" in params:
            function.environment = dict((params["Environment"] or {}).get("Variables") or {})
            function.environment_set = True
        if "EphemeralStorage" in params:
            function.ephemeral_storage = params["EphemeralStorage"].get("Size", 512)
        if "TracingConfig" in params:
            function.tracing_mode = (params["TracingConfig"] or {}).get("Mode") or "PassThrough"
        if logging_config is not None:
            function.logging_config = logging_config
        function.kept_config.update(kept(params))
        if "ImageConfig" in params:
            if function.package_type != "Image":
                raise invalid_parameter("ImageConfig is only for functions of PackageType Image")
            function.image_config = dict(params["ImageConfig"]) or None
        self._changed(function)
        updated = function.configuration("updated")
        self.lifecycle.updated(function, previous, None)
        return updated

    def DeleteFunction(self, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        function = self.functions.get(name)
        if qualifier:
            self.delete_version(function, qualifier)
            return {"StatusCode": 204}
        self.environments.remove_function(function)
        self.lifecycle.forget(function)
        for version in self.functions.remove(function):
            self.environments.remove_function(version)
        for hook in self.on_function_deleted:
            hook(function)
        # Lambda answers a delete with 204 No Content (the model's StatusCode member carries it).
        return {"StatusCode": 204}

    # ---- concurrency ----

    def PutFunctionConcurrency(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._unqualified(params["FunctionName"])
        wanted = params["ReservedConcurrentExecutions"]
        others = sum(f.reserved_concurrency or 0 for f in self.functions if f is not function)
        if self.account_concurrency - others - wanted < MIN_UNRESERVED:
            raise invalid_parameter(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
        function.reserved_concurrency = wanted
        self.functions.saved(function)
        for hook in self.on_concurrency_changed:
            hook(function)
        return {"ReservedConcurrentExecutions": wanted}

    def GetFunctionConcurrency(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._unqualified(params["FunctionName"])
        if function.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": function.reserved_concurrency}

    def DeleteFunctionConcurrency(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._unqualified(params["FunctionName"])
        function.reserved_concurrency = None
        self.functions.saved(function)
        for hook in self.on_concurrency_changed:
            hook(function)
        return {}

    def GetAccountSettings(self, params: dict[str, Any]) -> dict[str, Any]:
        reserved = sum(f.reserved_concurrency or 0 for f in self.functions)
        total = self.account_concurrency
        return {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": total,
                "UnreservedConcurrentExecutions": total - reserved,
            },
            "AccountUsage": {"TotalCodeSize": sum(f.code.size for f in self.functions),
                             "FunctionCount": len(list(self.functions))},
        }

    # ---- recursive loop detection ----

    def GetFunctionRecursionConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"RecursiveLoop": self.functions.get(params["FunctionName"]).recursive_loop}

    def PutFunctionRecursionConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Kept and echoed; lambda-emu does not trace invocation chains, so it never stops a loop itself.
        function = self.functions.get(params["FunctionName"])
        function.recursive_loop = params["RecursiveLoop"]
        self.functions.saved(function)
        return {"RecursiveLoop": function.recursive_loop}

    # ---- invoke ----

    async def Invoke(self, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        if qualifier is None and self.functions.find(name) is None:
            # Invoke names the version it would have run (recorded: "...:function:doesnotexist:$LATEST").
            raise not_found(f"{self.functions.arn(name)}:$LATEST")
        target = self.functions.resolve(params["FunctionName"], params.get("Qualifier"))
        function = self.functions.pick(target)  # a weighted alias draws its version here
        if function.state != "Active":
            # A template's image function whose image is still building (or failed to build).
            raise lambda_error("ResourceConflictException", "The operation cannot be performed at this time. "
                               f"The function is currently in the following state: {function.state}", 409)
        self._check_invocable(function)
        invocation_type = params.get("InvocationType", "RequestResponse")
        payload = params.get("Payload") or b""
        limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        if len(payload) > limit:
            raise too_large(limit)
        payload = self._event_payload(payload)
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        request_id = context.request_id.get()
        invoked_arn = target.arn
        if invocation_type == "Event":
            await self.async_invoke(function, payload, request_id=request_id, invoked_arn=invoked_arn)
            return {"StatusCode": 202, "Payload": b""}
        client_context = self._client_context(params.get("ClientContext"))
        # During an update in progress (--creation-delays) the previous code and configuration run.
        result = await self.invoker.invoke(self.lifecycle.running(function), payload, request_id=request_id,
                                          source="sync", invoked_arn=invoked_arn, client_context=client_context)
        if result.fault == "serviceErrorRate":
            raise service_exception(result.system_error or "")
        if result.kind == "system_error":
            raise service_exception(f"lambda-emu could not run the invocation: {result.system_error}")
        if result.kind == "throttled":
            raise lambda_error("TooManyRequestsException", "Rate Exceeded.", 429, Reason=result.throttle_reason)
        assert result.outcome is not None
        output: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": function.version}
        if result.function_error:
            output["FunctionError"] = result.function_error
        if params.get("LogType") == "Tail":
            output["LogResult"] = logs.tail(result.outcome.log)
        return output

    async def InvokeAsync(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        self._check_invocable(function)
        payload = params.get("InvokeArgs") or b""
        if len(payload) > MAX_INVOKE_ASYNC_PAYLOAD:
            raise lambda_error("RequestTooLargeException",
                               f"Request must be smaller than {MAX_INVOKE_ASYNC_PAYLOAD} bytes for the InvokeAsync "
                               "operation", 413)
        payload = self._event_payload(payload)
        await self.async_invoke(function, payload, request_id=context.request_id.get(), invoked_arn=function.arn)
        return {"Status": 202}

    # ---- helpers ----

    def _unqualified(self, reference: str) -> Function:
        """Reserved concurrency is the function's as a whole (all its versions): a version or alias is
        refused (docs/aws-behaviour.md §Versions and aliases)."""
        target = self.functions.resolve(reference)
        if target.alias is not None or target.function.version != "$LATEST":
            raise invalid_parameter("Reserved concurrency applies to the function as a whole, every version "
                                    "included: give the function's name or unqualified ARN.")
        function: Function = target.function
        return function

    @staticmethod
    def _check_invocable(function: Function) -> None:
        """Lambda invokes nothing Pending (requirements being installed) or Failed (they could not be)."""
        if not function.dependencies.invocable:
            raise lambda_error("ResourceConflictException",
                               "The operation cannot be performed at this time. The function is currently in the "
                               f"following state: {function.dependencies.state}", 409)

    @staticmethod
    def _event_payload(payload: bytes) -> bytes:
        """Lambda accepts only JSON events; an empty body is the empty object."""
        if not payload.strip():
            return b"{}"
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise lambda_error("InvalidRequestContentException",
                               f"Could not parse request body into json: {str(exc).split(':')[0]}", 400) from exc
        except RecursionError:
            # Nested deeper than Python's parser goes: Lambda passes the event on; the runtime decides.
            pass
        return payload

    @staticmethod
    def _client_context(raw: str | None) -> str | None:
        if not raw:
            return None
        try:
            decoded = base64.b64decode(raw, validate=True).decode()
            json.loads(decoded)
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
            raise invalid_parameter("Client context must be a valid Base64-encoded JSON object.") from exc
        return decoded

    @staticmethod
    def _check_runtime(runtime: str | None) -> None:
        if runtime is None:
            raise invalid_parameter("Runtime must be set for a Zip package")
        if runtime in DEPRECATED_RUNTIMES:
            raise invalid_parameter(f"The runtime parameter of {runtime} is no longer supported for creating or "
                                    "updating AWS Lambda functions. We recommend you use a supported runtime while "
                                    "creating or updating functions.")
        if runtime not in SUPPORTED_RUNTIMES:
            raise invalid_parameter(
                f"lambda-emu does not run the runtime {runtime}; it runs {', '.join(SUPPORTED_RUNTIMES)}"
            )

    @staticmethod
    def _check_limits(params: dict[str, Any]) -> None:
        if params.get("Timeout") is not None and params["Timeout"] > MAX_TIMEOUT:
            raise validation(f"Value '{params['Timeout']}' at 'timeout' failed to satisfy constraint: "
                             f"Member must have value less than or equal to {MAX_TIMEOUT}")
        if params.get("MemorySize") is not None and params["MemorySize"] > MAX_MEMORY:
            raise validation(f"Value '{params['MemorySize']}' at 'memorySize' failed to satisfy constraint: "
                             f"Member must have value less than or equal to {MAX_MEMORY}")

    @staticmethod
    def _check_environment(environment: dict[str, Any] | None) -> None:
        variables = (environment or {}).get("Variables") or {}
        reserved = sorted(k for k in variables if k in RESERVED_ENV_KEYS)
        if reserved:
            raise invalid_parameter(
                "Lambda was unable to configure your environment variables because the environment variables you "
                "have provided contains reserved keys that are currently not supported for modification. "
                f"Reserved keys used in this request: {', '.join(reserved)}"
            )
        measured = json.dumps(variables, separators=(",", ":"))
        if len(measured.encode()) > MAX_ENV_BYTES:
            raise invalid_parameter(
                "Lambda was unable to configure your environment variables because the environment variables you "
                f"have provided exceeded the 4KB limit. String measured: {measured}"
            )

    def _check_revision(self, function: Function, params: dict[str, Any]) -> None:
        wanted = params.get("RevisionId")
        if wanted and wanted != function.revision_id:
            raise lambda_error("PreconditionFailedException",
                               "The Revision Id provided does not match the latest Revision Id. "
                               "Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412)

    async def _code(self, name: str, code: dict[str, Any]) -> Code:
        if code.get("ZipFile") is not None:
            # In a thread: a 250 MB unzip must not stall every other request and timer.
            return await asyncio.to_thread(self.functions.code_from_zip, name, code["ZipFile"])
        if code.get("ImageUri"):
            raise invalid_parameter("Please don't provide ImageUri when the intended function PackageType is Zip")
        if code.get("S3Bucket") or code.get("S3Key"):
            raise invalid_parameter("lambda-emu has no S3: upload the package as Code.ZipFile")
        raise invalid_parameter("Please provide a source for function code.")

    def _image_code(self, name: str, code: dict[str, Any]) -> tuple[Code, str]:
        uri = code.get("ImageUri")
        if not uri:
            raise invalid_parameter("Please provide a source for function code.")
        return self.image_code(name, uri)

    def image_code(self, name: str, uri: str, image_id: str | None = None) -> tuple[Code, str]:
        """An image function's code: a local image (no registry), resolved to its id now, as Lambda
        resolves a tag to a digest; (its Code, ResolvedImageUri)."""
        if image_id is None:
            try:
                image_id = self.resolve_image(uri)
            except LookupError:
                raise invalid_parameter(f"Source image {uri} does not exist. Provide a valid source image.") from None
            except OSError as exc:  # no Docker engine: image functions can't run at all
                raise invalid_parameter(str(exc)) from None
        return self.functions.code_from_image(name, image_id), f"{repository_of(uri)}@{image_id}"

    def _changed(self, function: Function) -> None:
        # Environments retire when the update is done (self.lifecycle), not before: until then
        # invocations run the previous code.
        function.touch(self.clock.now())
        self.functions.saved(function)


#: The fields ListFunctions leaves out (ListFunctions API reference: "returns a subset of the
#: FunctionConfiguration fields. To get the additional fields ... use GetFunction").
NOT_LISTED = ("State", "StateReasonCode", "StateReason", "LastUpdateStatus", "LastUpdateStatusReason",
              "LastUpdateStatusReasonCode", "RuntimeVersionConfig")


def qualified_configuration(target: Target) -> dict[str, Any]:
    """A version's configuration as addressed: through an alias, FunctionArn is the alias's ARN (recorded)."""
    configuration: dict[str, Any] = target.function.configuration()
    if target.alias is not None:
        configuration["FunctionArn"] = target.alias.arn
    return configuration


def listed(configuration: dict[str, Any]) -> dict[str, Any]:
    for key in NOT_LISTED:
        configuration.pop(key, None)
    return configuration


def _no_images(uri: str) -> str:
    raise OSError("container images need the container runner")


def repository_of(uri: str) -> str:
    """An image reference without its tag or digest (registry/repository)."""
    uri = uri.split("@", 1)[0]
    slash = uri.rfind("/")
    colon = uri.rfind(":")
    return uri[:colon] if colon > slash else uri


def not_found(name: str) -> AwsError:
    return resource_not_found(f"Function not found: {name}")
