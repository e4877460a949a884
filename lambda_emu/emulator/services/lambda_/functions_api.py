"""Lambda's function operations: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
DeleteFunction, and ``create_function``, the one way a function comes to be (API or template).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lambda_emu.emulator.invocation.functions import NAME_RE, PYTHON_RUNTIMES, Function
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, lambda_error, resource_not_found
from lambda_emu.emulator.services import pagination
from lambda_emu.emulator.services.lambda_.code_signing_api import CodeSigningApi
from lambda_emu.emulator.services.lambda_.function_checks import FunctionChecks
from lambda_emu.emulator.services.lambda_.function_code import FunctionCode
from lambda_emu.emulator.services.lambda_.kept_config import kept
from lambda_emu.emulator.services.lambda_.logging_config import merged as merged_logging_config
from lambda_emu.emulator.services.lambda_.tags_api import check_tag_count
from lambda_emu.emulator.services.lambda_.versions_api import VersionsApi, latest_qualified

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Code, FunctionRegistry
    from lambda_emu.emulator.invocation.layers import LayerStore
    from lambda_emu.emulator.invocation.pool import Environments
    from lambda_emu.emulator.invocation.versions import Target
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks
    from lambda_emu.emulator.services.lambda_.lifecycle import Lifecycle

#: Called after a function changed in a way others react to (deleted; its concurrency changed).
FunctionHook = Callable[[Function], None]


class FunctionsApi(FunctionChecks, FunctionCode, VersionsApi, CodeSigningApi):
    """Mixed into LambdaService (which provides the registries, ``lifecycle`` and the hooks)."""

    functions: FunctionRegistry
    clock: Clock
    environments: Environments
    checks: DestinationChecks
    layers: LayerStore
    endpoint: Callable[[], str]
    lifecycle: Lifecycle
    on_function_deleted: list[FunctionHook]
    on_function_created: list[FunctionHook]

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
            reference = name
            name, qualifier = self.functions.parse_name(reference)
            self.functions.check_new_name(reference, name)
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
        check_tag_count(params.get("Tags"))
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
        # With ALL, $LATEST is listed by its qualified ARN, as ListVersionsByFunction lists it (recorded).
        shown = latest_qualified if params.get("FunctionVersion") == "ALL" else (lambda config: config)
        return pagination.listing("Functions", every, params, 50, lambda f: listed(shown(f.configuration())))

    def DeleteFunction(self, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        if qualifier == "$LATEST":
            # Refused before the function is looked up: AWS answers this for a function that isn't there too
            # (LocalStack's AWS-recorded test_ops_with_arn_qualifier_mismatch[delete_function]).
            raise invalid_parameter("$LATEST version cannot be deleted without deleting the function.")
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


#: The fields ListFunctions leaves out (ListFunctions API reference: "returns a subset of the
#: FunctionConfiguration fields. To get the additional fields ... use GetFunction").
NOT_LISTED = ("State", "StateReasonCode", "StateReason", "LastUpdateStatus", "LastUpdateStatusReason",
              "LastUpdateStatusReasonCode", "RuntimeVersionConfig")


def qualified_configuration(target: Target) -> dict[str, Any]:
    """A version's configuration as addressed: through an alias, FunctionArn is the alias's ARN (recorded)."""
    configuration: dict[str, Any] = target.function.configuration()
    if target.alias is not None:
        configuration["FunctionArn"] = target.alias.arn
    elif target.function.version == "$LATEST":
        # Asked for as fn:$LATEST (or Qualifier=$LATEST), AWS names it so; unqualified, it doesn't (recorded).
        configuration["FunctionArn"] = target.arn
    return configuration


def listed(configuration: dict[str, Any]) -> dict[str, Any]:
    for key in NOT_LISTED:
        configuration.pop(key, None)
    return configuration


def not_found(name: str) -> AwsError:
    return resource_not_found(f"Function not found: {name}")
