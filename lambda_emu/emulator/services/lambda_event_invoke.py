"""Lambda's asynchronous invocation configuration: Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s).

Kept on the function as AWS returns it (recorded shapes §1.10–1.11): settings that were not given are
absent, each destination slot is echoed as ``{}`` when empty, and FunctionArn is qualified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.errors import invalid_parameter, resource_not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.functions import Function

SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class EventInvokeConfigApi:
    """Mixed into LambdaService (which provides ``emu`` and ``functions``)."""

    emu: Any
    functions: Any

    def _event_invoke_target(self, params: dict[str, Any]) -> Function:
        qualifier = params.get("Qualifier")
        function = self.functions.get(params["FunctionName"], qualifier)
        return function

    def _event_invoke_config(self, function: Function) -> dict[str, Any]:
        if function.event_invoke_config is None:
            raise resource_not_found(f"The function {function.arn}:$LATEST doesn't have an EventInvokeConfig")
        return function.event_invoke_config

    def _store_event_invoke_config(self, function: Function, settings: dict[str, Any]) -> dict[str, Any]:
        if not any(settings.get(key) is not None for key in SETTINGS):
            raise invalid_parameter("You must specify at least one of error handling or destination setting.")
        destinations = settings.get("DestinationConfig") or {}
        for slot in ("OnSuccess", "OnFailure"):
            target = (destinations.get(slot) or {}).get("Destination")
            if target:
                self.emu.destinations.check_destination(function, target, on_success=slot == "OnSuccess")
        config: dict[str, Any] = {
            "LastModified": self.emu.clock.now(),
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
        return dict(config)

    def PutFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Put replaces the whole configuration: settings left out are removed.
        function = self._event_invoke_target(params)
        return self._store_event_invoke_config(function, {k: params.get(k) for k in SETTINGS})

    def UpdateFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Update changes only what is given.
        function = self._event_invoke_target(params)
        current = self._event_invoke_config(function)
        merged = {k: current.get(k) for k in SETTINGS}
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
        return dict(self._event_invoke_config(self._event_invoke_target(params)))

    def DeleteFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._event_invoke_target(params)
        self._event_invoke_config(function)
        function.event_invoke_config = None
        return {}

    def ListFunctionEventInvokeConfigs(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        configs = [dict(function.event_invoke_config)] if function.event_invoke_config else []
        return {"FunctionEventInvokeConfigs": configs}
