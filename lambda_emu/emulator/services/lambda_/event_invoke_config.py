"""Lambda's asynchronous invocation configuration: Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s).

Kept on the function as AWS returns it (docs/aws-behaviour.md §Async invocation: Retries): settings that
were not given are absent, each destination slot is echoed as ``{}`` when empty, and FunctionArn is
qualified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from lambda_emu.emulator.invocation.versions import Alias
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, resource_not_found
from lambda_emu.emulator.services import pagination

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks

SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class Holder(NamedTuple):
    """Whose EventInvokeConfig an operation addresses: $LATEST or a version (a Function), or an alias."""

    owner: Function | Alias
    function: Function
    arn: str
    qualifier: str


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

    def _event_invoke_target(self, params: dict[str, Any], *, missing: str = "exists") -> Holder:
        """Whose settings these are: AWS keeps them per qualifier ($LATEST, a version, an alias)."""
        reference = params["FunctionName"]
        name, embedded = self.functions.parse_name(reference)
        qualifier = params.get("Qualifier") or embedded or "$LATEST"
        try:
            target = self.functions.resolve(reference, params.get("Qualifier"))
        except AwsError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            if missing == "config":
                raise self._no_config(name, qualifier) from None
            raise resource_not_found("The function doesn't exist.") from None
        if target.alias is not None:
            return Holder(target.alias, target.function, target.alias.arn, qualifier)
        return Holder(target.function, target.function, f"{target.function.arn}:{qualifier}", qualifier)

    def _no_config(self, name: str, qualifier: str = "$LATEST") -> AwsError:
        return resource_not_found(
            f"The function {self.functions.arn(name)}:{qualifier} doesn't have an EventInvokeConfig")

    def _event_invoke_config(self, holder: Holder) -> dict[str, Any]:
        if holder.owner.event_invoke_config is None:
            raise self._no_config(holder.function.name, holder.qualifier)
        return holder.owner.event_invoke_config

    def _saved_event_invoke_config(self, holder: Holder) -> None:
        if isinstance(holder.owner, Alias):
            self.functions.saved_alias(holder.owner)
        else:
            self.functions.saved(holder.owner)

    def _store_event_invoke_config(self, holder: Holder, settings: dict[str, Any]) -> dict[str, Any]:
        function = holder.function
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
            "FunctionArn": holder.arn,
        }
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if settings.get(key) is not None:
                config[key] = settings[key]
        config["DestinationConfig"] = {
            slot: ({"Destination": destinations[slot]["Destination"]}
                   if (destinations.get(slot) or {}).get("Destination") else {})
            for slot in ("OnSuccess", "OnFailure")
        }
        holder.owner.event_invoke_config = config
        self._saved_event_invoke_config(holder)
        return dict(config)

    def PutFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Put replaces the whole configuration: settings left out are removed.
        if not _has_settings(params):
            raise invalid_parameter("You must specify at least one of error handling or destination setting.")
        holder = self._event_invoke_target(params)
        return self._store_event_invoke_config(holder, {k: params.get(k) for k in SETTINGS})

    def UpdateFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        # Update changes only what is given; given nothing, it is refused like Put (not a no-op).
        if not _has_settings(params):
            raise invalid_parameter("You must specify at least one of error handling or destination setting.")
        holder = self._event_invoke_target(params)
        current = self._event_invoke_config(holder)
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
        return self._store_event_invoke_config(holder, merged)

    def GetFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._event_invoke_config(self._event_invoke_target(params, missing="config")))

    def DeleteFunctionEventInvokeConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        holder = self._event_invoke_target(params, missing="config")
        self._event_invoke_config(holder)
        holder.owner.event_invoke_config = None
        self._saved_event_invoke_config(holder)
        return {}

    def ListFunctionEventInvokeConfigs(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._event_invoke_target({"FunctionName": params["FunctionName"]}).function
        # Every qualifier's settings: $LATEST's, then each version's and alias's.
        owners: list[Function | Alias] = [function, *self.functions.versions_of(function.name),
                                          *self.functions.aliases_of(function.name)]
        every = [owner.event_invoke_config for owner in owners if owner.event_invoke_config]
        # Paged like Lambda's other lists (MaxItems 1-50, an opaque Marker; recorded: NextMarker with MaxItems).
        return pagination.listing("FunctionEventInvokeConfigs", every, params, 50, dict)
