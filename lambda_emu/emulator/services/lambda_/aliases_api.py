"""Lambda's alias operations: CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases.

An alias names a version ($LATEST included) and, with RoutingConfig.AdditionalVersionWeights, at most one
more published version that gets a share of its invocations (invocation/versions.py picks it with the
run's seeded RNG). Errors are AWS's, each as recorded (docs/aws-behaviour.md §Versions and aliases).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.versions import LATEST, Alias
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, lambda_error, resource_not_found
from lambda_emu.emulator.services import pagination
from lambda_emu.emulator.services.lambda_.versions_api import precondition_failed

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry


def _java_number(value: float) -> str:
    """A weight as AWS's (Java) validation message renders it: 2.0, 0.5."""
    return repr(float(value))


class AliasesApi:
    """Mixed into LambdaService (which provides ``functions``)."""

    functions: FunctionRegistry

    def _alias_arn(self, function: Function, name: str) -> str:
        return f"{function.arn}:{name}"

    def _check_version(self, function: Function, version: str) -> None:
        if self.functions.version(function.name, version) is None:
            raise resource_not_found(f"Function not found: {function.arn}:{version}")

    def _routing(self, function: Function, primary: str, routing: dict[str, Any] | None) -> dict[str, float]:
        """RoutingConfig checked as AWS checks it; {} when there is none."""
        weights: dict[str, float] = dict((routing or {}).get("AdditionalVersionWeights") or {})
        if not weights:
            return {}
        shown = "{" + ", ".join(f"{k}={_java_number(v)}" for k, v in weights.items()) + "}"
        where = f"1 validation error detected: Value '{shown}' at 'routingConfig.additionalVersionWeights' failed " \
                "to satisfy constraint: "
        if any(not key.isdigit() for key in weights):
            raise AwsError("ValidationException", where + "Map keys must satisfy constraint: [Member must have length "
                           "less than or equal to 1024, Member must have length greater than or equal to 1, Member "
                           "must satisfy regular expression pattern: [0-9]+]", 400)
        if any(not 0.0 <= float(weight) <= 1.0 for weight in weights.values()):
            raise AwsError("ValidationException", where + "Map value must satisfy constraint: [Member must have value "
                           "less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member "
                           "must not be null]", 400)
        if len(weights) > 1:
            raise invalid_parameter("Number of items in AdditionalVersionWeights cannot be greater than 1")
        if primary == LATEST:
            # AWS's body has no "Type" for this one (recorded).
            raise lambda_error("InvalidParameterValueException",
                               "$LATEST is not supported for an alias pointing to more than 1 version", typed=False)
        (extra, _weight), = weights.items()
        if extra == primary:
            raise invalid_parameter(f"Invalid function version {extra}. Function version {extra} is already "
                                    "included in routing configuration.")
        self._check_version(function, extra)
        return {key: float(value) for key, value in weights.items()}

    def create_alias(self, function: Function, name: str, version: str, description: str = "",
                     routing: dict[str, Any] | None = None) -> Alias:
        arn = self._alias_arn(function, name)
        if self.functions.alias(function.name, name) is not None:
            raise resource_conflict_alias(arn)
        self._check_version(function, version)
        weights = self._routing(function, version, routing)
        alias = Alias(name=name, function_name=function.name, arn=arn, function_version=version,
                      description=description, routing=weights)
        self.functions.add_alias(alias)
        return alias

    def CreateAlias(self, params: dict[str, Any]) -> dict[str, Any]:
        name, _ = self.functions.parse_name(params["FunctionName"])
        if self.functions.find(name) is None:
            # AWS names the version the alias was to point to (recorded).
            raise resource_not_found(f"Function not found: {self.functions.arn(name)}:{params['FunctionVersion']}")
        function = self.functions.get(params["FunctionName"])
        return self.create_alias(function, params["Name"], params["FunctionVersion"], params.get("Description", ""),
                                 params.get("RoutingConfig")).configuration()

    def GetAlias(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        alias = self.functions.alias(function.name, params["Name"])
        if alias is None:
            raise resource_not_found(f"Cannot find alias arn: {self._alias_arn(function, params['Name'])}")
        return alias.configuration()

    def UpdateAlias(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        alias = self.functions.alias(function.name, params["Name"])
        if alias is None:
            raise resource_not_found(f"Alias not found: {self._alias_arn(function, params['Name'])}")
        if params.get("RevisionId") and params["RevisionId"] != alias.revision_id:
            raise precondition_failed()
        version = params.get("FunctionVersion") or alias.function_version
        self._check_version(function, version)
        if "RoutingConfig" in params:
            weights = self._routing(function, version, params["RoutingConfig"])
        else:
            weights = self._routing(function, version, {"AdditionalVersionWeights": alias.routing})
        alias.function_version = version
        alias.routing = weights
        if "Description" in params:
            alias.description = params["Description"]
        alias.revision_id = str(uuid.uuid4())
        self.functions.saved_alias(alias)
        return alias.configuration()

    def DeleteAlias(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        alias = self.functions.alias(function.name, params["Name"])
        if alias is not None:  # AWS answers 204 for an alias that isn't there, too
            self.functions.remove_alias(alias)
            self.forget_provisioned(function, alias.name)  # type: ignore[attr-defined]
        return {}

    def ListAliases(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        wanted = params.get("FunctionVersion")
        every = [alias for alias in self.functions.aliases_of(function.name)
                 if wanted is None or alias.function_version == wanted or wanted in alias.routing]
        return pagination.listing("Aliases", every, params, 50, lambda alias: alias.configuration())


def resource_conflict_alias(arn: str) -> AwsError:
    return lambda_error("ResourceConflictException", f"Alias already exists: {arn}", 409)
