"""Lambda's asynchronous invocation configuration: Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s).

Kept on the function as AWS returns it (docs/aws-behaviour.md §Async invocation: Retries): settings that
were not given are absent, each destination slot is echoed as ``{}`` when empty, and FunctionArn is
qualified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, resource_not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks

SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


def _has_settings(params: dict[str, Any]) -> bool:
    return any(params.get(key) is not None for key in SETTINGS)


class EventInvokeConfigApi:
    """Mixed into LambdaService (which provides ``functions``, ``clock`` and ``checks``).

    AWS's error for a function that isn't there depends on the operation (as recorded against AWS by
    LocalStack's validated snapshot test_lambda_eventinvokeconfig_exceptions): Get and Delete say the
    function has no EventInvokeConfig, Put, Update and List say it doesn't exist. A request with no
    setting at all is refused before the function is even looked up.
    """

    functions: FunctionRegistry
    clock: Clock
    checks: DestinationChecks

    def _event_invoke_target(self, params: dict[str, Any], *, missing: str = "exists") -> Function:
        reference = params["FunctionName"]
        name, _qualifier = self.functions.parse_name(reference)
        if self.functions.find(name) is None:
            if missing == "config":
                raise self._no_config(name)
            raise resource_not_found("The function doesn't exist.")
        return self.functions.get(reference, params.get("Qualifier"))

    def _no_config(self, name: str) -> AwsError:
        return resource_not_found(f"The function {self.functions.arn(name)}:$LATEST doesn't have an EventInvokeConfig")

    def _event_invoke_config(self, function: Function) -> dict[str, Any]:
        if function.event_invoke_config is None:
            raise self._no_config(function.name)
        return function.event_invoke_config

    def _store_event_invoke_config(self, function: Function, settings: dict[str, Any]) -> dict[str, Any]:
        if not _has_settings(settings):
            raise invalid_parameter("You must specify at least one of error handling or destination setting.")
        destinations = settings.get("DestinationConfig") or {}
        for slot in ("OnSuccess", "OnFailure"):
            target = (destinations.get(slot) or {}).get("Destination")
            if target:
                self.checks.check_destination(function, target, on_success=slot == "OnSuccess",
                                                        config=destinations)
        config: dict[str, Any] = {
            "LastModified": self.clock.now(),
            "FunctionArn": function.arn + ":$LATEST",
        }
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if settings.get(key) is not None:
                config[key] = settings[key]
        config["DestinationConfig"] = {
            slot: ({"Destination": destinations[slot]["Destination"]}
                   if (destinations.get(slot) or {}).get("Destination") else {})
            for slot in ("OnSuccess", "OnFailure")
        }
        function.event_invoke_config = config
        self.functions.saved(function)
        return dict(config)

    def PutFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Put replaces the whole configuration: settings left out are removed.
        if not _has_settings(params):
            raise invalid_parameter("You must specify at least one of error handling or destination setting.")
        function = self._event_invoke_target(params)
        return self._store_event_invoke_config(function, {k: params.get(k) for k in SETTINGS})

    def UpdateFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Update changes only what is given; given nothing, it is refused like Put (not a no-op).
        if not _has_settings(params):
            raise invalid_parameter("You must specify at least one of error handling or destination setting.")
        function = self._event_invoke_target(params)
        current = self._event_invoke_config(function)
        merged: dict[str, Any] = {k: current.get(k) for k in SETTINGS}
        if merged.get("DestinationConfig"):
            merged["DestinationConfig"] = {slot: dict(value) for slot, value in merged["DestinationConfig"].items()}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if params.get(key) is not None:
                merged[key] = params[key]
        if params.get("DestinationConfig") is not None:
            destinations = dict(merged.get("DestinationConfig") or {})
            for slot in ("OnSuccess", "OnFailure"):
                if slot in params["DestinationConfig"]:
                    destinations[slot] = params["DestinationConfig"][slot] or {}
            merged["DestinationConfig"] = destinations
        return self._store_event_invoke_config(function, merged)

    def GetFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._event_invoke_config(self._event_invoke_target(params, missing="config")))

    def DeleteFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._event_invoke_target(params, missing="config")
        self._event_invoke_config(function)
        function.event_invoke_config = None
        self.functions.saved(function)
        return {}

    def ListFunctionEventInvokeConfigs(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._event_invoke_target({"FunctionName": params["FunctionName"]})
        configs = [dict(function.event_invoke_config)] if function.event_invoke_config else []
        return {"FunctionEventInvokeConfigs": configs}
