"""Updating a function: UpdateFunctionCode, UpdateFunctionConfiguration, and its recursive loop
detection setting (Get/PutFunctionRecursionConfig).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import invalid_parameter
from lambda_emu.emulator.services.lambda_.function_checks import FunctionChecks
from lambda_emu.emulator.services.lambda_.function_code import FunctionCode
from lambda_emu.emulator.services.lambda_.functions_api import not_found
from lambda_emu.emulator.services.lambda_.kept_config import kept
from lambda_emu.emulator.services.lambda_.logging_config import merged as merged_logging_config
from lambda_emu.emulator.services.lambda_.versions_api import VersionsApi

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.layers import LayerStore
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks
    from lambda_emu.emulator.services.lambda_.lifecycle import Lifecycle


class UpdatesApi(FunctionChecks, FunctionCode, VersionsApi):
    """Mixed into LambdaService (which provides ``functions``, ``clock``, ``checks``, ``layers``, ``lifecycle``)."""

    functions: FunctionRegistry
    clock: Clock
    checks: DestinationChecks
    layers: LayerStore
    lifecycle: Lifecycle

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
        published = None
        if params.get("Publish"):
            # AWS answers with the version just published, still being created (recorded: its qualified ARN,
            # State Pending, no LastUpdateStatus).
            published = self.publish_version(function)
            configuration = published.configuration("created")
        self.lifecycle.updated(function, previous, old.discard, published)
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

    # ---- recursive loop detection ----

    def GetFunctionRecursionConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"RecursiveLoop": self.functions.get(params["FunctionName"]).recursive_loop}

    def PutFunctionRecursionConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Kept and echoed; lambda-emu does not trace invocation chains, so it never stops a loop itself.
        function = self.functions.get(params["FunctionName"])
        function.recursive_loop = params["RecursiveLoop"]
        self.functions.saved(function)
        return {"RecursiveLoop": function.recursive_loop}

    def _changed(self, function: Function) -> None:
        # Environments retire when the update is done (self.lifecycle), not before: until then
        # invocations run the previous code.
        function.touch(self.clock.now())
        self.functions.saved(function)

