"""Provisioned concurrency: Put / Get / Delete / ListProvisionedConcurrencyConfigs.

Configurations are kept per published version or alias, with AWS's shapes, errors and limits, and go
through AWS's status transitions on the platform clock: ``IN_PROGRESS`` when put, then ``READY`` with
the requested executions allocated and available. Without ``--creation-delays`` a configuration is
READY before lambda-emu answers its next request (as functions turn Active); with it, allocation takes
:data:`ALLOCATE_SECONDS` of platform time, as AWS's typically does. lambda-emu does not start
environments ahead of time for it: an invocation still starts its environment on demand (its INIT is
not pre-paid), which docs/aws-behaviour.md §Provisioned concurrency records. The configurations live on
the function (``Function.provisioned_concurrency``), so ``--state-dir`` keeps them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import invalid_parameter, lambda_error, resource_conflict, resource_not_found
from lambda_emu.emulator.services import pagination
from lambda_emu.emulator.services.lambda_.concurrency_api import MIN_UNRESERVED

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.lambda_.lifecycle import Lifecycle

#: With --creation-delays: how long IN_PROGRESS lasts (platform seconds). AWS allocates provisioned
#: environments in one to a few minutes.
ALLOCATE_SECONDS = 60.0


def _timestamp(epoch: float) -> str:
    """AWS's LastModified for these configurations: 2019-12-31T20:28:49+0000 (no fraction)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


class ProvisionedConcurrencyApi:
    """Mixed into LambdaService (which provides ``functions``, ``clock``, ``account_concurrency`` and
    ``lifecycle``)."""

    functions: FunctionRegistry
    clock: Clock
    account_concurrency: int
    lifecycle: Lifecycle

    @property
    def _allocate_seconds(self) -> float:
        return ALLOCATE_SECONDS if self.lifecycle.delays else 0.0

    def _provisioned_target(self, params: dict[str, Any], *, latest_message: str) -> tuple[Function, str]:
        """The function and the qualifier (a published version or an alias) a configuration is for."""
        name, qualifier = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        qualifier = qualifier or "$LATEST"
        if qualifier == "$LATEST":
            raise invalid_parameter(latest_message)
        addressed = f"{self.functions.arn(name)}:{qualifier}"
        function = self.functions.find(name)
        if qualifier.isdigit():
            if function is None or self.functions.version(name, qualifier) is None:
                raise resource_not_found(f"Function not found: {addressed}")
        elif function is None or self.functions.alias(name, qualifier) is None:
            raise resource_not_found(f"Cannot find alias arn: {addressed}")
        assert function is not None
        self._prune_provisioned(function)
        return function, qualifier

    def _prune_provisioned(self, function: Function) -> None:
        """A deleted version's configuration goes with it (its number is never reused)."""
        gone = [q for q in function.provisioned_concurrency
                if q.isdigit() and self.functions.version(function.name, q) is None]
        for qualifier in gone:
            del function.provisioned_concurrency[qualifier]
        if gone:
            self.functions.saved(function)

    def forget_provisioned(self, function: Function, qualifier: str) -> None:
        """DeleteAlias: the alias's configuration is deleted with it (recorded)."""
        if function.provisioned_concurrency.pop(qualifier, None) is not None:
            self.functions.saved(function)

    def _provisioned_shape(self, function: Function, qualifier: str, *, listed: bool = False) -> dict[str, Any]:
        config = function.provisioned_concurrency[qualifier]
        ready = self.clock.now() >= config["ReadyAt"]
        requested = config["Requested"]
        shape: dict[str, Any] = {"FunctionArn": f"{function.arn}:{qualifier}"} if listed else {}
        shape.update({
            "RequestedProvisionedConcurrentExecutions": requested,
            "AvailableProvisionedConcurrentExecutions": requested if ready else 0,
            "AllocatedProvisionedConcurrentExecutions": requested if ready else 0,
            "Status": "READY" if ready else "IN_PROGRESS",
            "LastModified": _timestamp(config["LastModified"]),
        })
        return shape

    def _version_of(self, function: Function, qualifier: str) -> str:
        if qualifier.isdigit():
            return qualifier
        alias = self.functions.alias(function.name, qualifier)
        return alias.function_version if alias is not None else ""

    def _check_provisioned(self, function: Function, qualifier: str, wanted: int) -> None:
        version = self._version_of(function, qualifier)
        for other in function.provisioned_concurrency:
            if other == qualifier or self._version_of(function, other) != version:
                continue
            if other.isdigit():
                raise resource_conflict("Alias can't be used for Provisioned Concurrency configuration on an "
                                        "already Provisioned version")
            raise resource_conflict("Version is pointed by a Provisioned Concurrency alias")
        if function.reserved_concurrency is not None:
            if wanted > function.reserved_concurrency:
                # Not recorded: AWS's wording for this case is unknown (docs/aws-behaviour.md).
                raise lambda_error("InvalidParameterValueException",
                                   "Specified ConcurrentExecutions for function is greater than function's reserved "
                                   f"concurrency [{function.reserved_concurrency}].", typed=False)
            return
        # Provisioned concurrency of functions without reserved concurrency comes out of the unreserved pool.
        unreserved = self.account_concurrency
        for each in self.functions:
            if each.reserved_concurrency is not None:
                unreserved -= each.reserved_concurrency
                continue
            unreserved -= sum(c["Requested"] for q, c in each.provisioned_concurrency.items()
                              if not (each is function and q == qualifier))
        if wanted > unreserved:
            raise lambda_error("InvalidParameterValueException",
                               "Specified ConcurrentExecutions for function is greater than account's unreserved "
                               f"concurrency [{unreserved}].", typed=False)
        if unreserved - wanted < MIN_UNRESERVED:
            raise lambda_error("InvalidParameterValueException",
                               "Specified ConcurrentExecutions for function decreases account's "
                               f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].",
                               typed=False)

    def PutProvisionedConcurrencyConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._provisioned_target(
            params, latest_message="Provisioned Concurrency Configs cannot be applied to unpublished function "
                                   "versions.")
        wanted = params["ProvisionedConcurrentExecutions"]
        self._check_provisioned(function, qualifier, wanted)
        now = self.clock.now()
        function.provisioned_concurrency[qualifier] = {"Requested": wanted, "LastModified": now,
                                                       "ReadyAt": now + self._allocate_seconds}
        self.functions.saved(function)
        shape = self._provisioned_shape(function, qualifier)
        # What Put answers is always the start of the allocation (recorded: 202, IN_PROGRESS, nothing allocated).
        shape.update(Status="IN_PROGRESS", AvailableProvisionedConcurrentExecutions=0,
                     AllocatedProvisionedConcurrentExecutions=0)
        return shape

    def GetProvisionedConcurrencyConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._provisioned_target(
            params, latest_message="The function resource provided must be an alias or a published version.")
        if qualifier not in function.provisioned_concurrency:
            raise lambda_error("ProvisionedConcurrencyConfigNotFoundException",
                               "No Provisioned Concurrency Config found for this function", 404)
        return self._provisioned_shape(function, qualifier)

    def DeleteProvisionedConcurrencyConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._provisioned_target(
            params, latest_message="The function resource provided must be an alias or a published version.")
        # AWS answers 204 when there is no configuration to delete, too (recorded).
        self.forget_provisioned(function, qualifier)
        return {}

    def ListProvisionedConcurrencyConfigs(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        self._prune_provisioned(function)
        qualifiers = sorted(function.provisioned_concurrency, key=lambda q: (not q.isdigit(), q.zfill(10)))
        return pagination.listing("ProvisionedConcurrencyConfigs", qualifiers, params, 50,
                                  lambda q: self._provisioned_shape(function, q, listed=True))
