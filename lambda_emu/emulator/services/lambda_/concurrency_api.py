"""Lambda's concurrency operations: Put/Get/DeleteFunctionConcurrency (reserved concurrency) and
GetAccountSettings (the account's limits and usage: TotalCodeSize counts versions and layer versions too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import invalid_parameter, lambda_error, resource_not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.layers import LayerStore
    from lambda_emu.emulator.services.lambda_.functions_api import FunctionHook

#: Lambda keeps at least this much of the account's concurrency unreserved.
MIN_UNRESERVED = 100


class ConcurrencyApi:
    """Mixed into LambdaService (which provides ``functions``, ``layers``, ``account_concurrency`` and the
    hook)."""

    functions: FunctionRegistry
    layers: LayerStore
    account_concurrency: int
    on_concurrency_changed: list[FunctionHook]

    def PutFunctionConcurrency(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._unqualified(params["FunctionName"], ":$LATEST")
        wanted = params["ReservedConcurrentExecutions"]
        others = self.functions.reserved_total() - (function.reserved_concurrency or 0)
        if self.account_concurrency - others - wanted < MIN_UNRESERVED:
            # Recorded without "Type", and the same for more than the account's whole limit.
            raise lambda_error(
                "InvalidParameterValueException",
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].", typed=False,
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

    def total_code_size(self) -> int:
        """AccountUsage.TotalCodeSize: every function's code, each published version's own copy and every layer
        version's package (recorded: an UpdateFunctionCode with Publish adds the package once more, a layer
        version adds its zip; a configuration change alone adds nothing)."""
        functions: list[Function] = list(self.functions)
        versions: list[Function] = [v for f in functions for v in self.functions.versions_of(f.name)]
        code: int = sum(f.code.size for f in functions + versions)
        return code + sum(v.code_size for layer in self.layers.layers() for v in layer.versions.values())

    def GetAccountSettings(self, params: dict[str, Any]) -> dict[str, Any]:
        reserved = self.functions.reserved_total()
        total = self.account_concurrency
        return {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": total,
                "UnreservedConcurrentExecutions": total - reserved,
            },
            "AccountUsage": {"TotalCodeSize": self.total_code_size(),
                             "FunctionCount": len(list(self.functions))},
        }

    def _unqualified(self, reference: str, latest_suffix: str = "") -> Function:
        """Reserved concurrency is the function's as a whole (all its versions): a version or alias is
        refused (docs/aws-behaviour.md §Versions and aliases)."""
        name, qualifier = self.functions.qualified(reference)
        if qualifier:  # $LATEST too (recorded); an unknown version or alias is not found first
            self.functions.resolve(reference)
            raise invalid_parameter("This operation is permitted on Lambda functions only. Aliases and versions do "
                                    "not support this operation. Please specify either a function name or an "
                                    "unqualified function ARN.")
        function = self.functions.find(name)
        if function is None:
            # PutFunctionConcurrency names the version it would set (recorded); the others the function.
            raise resource_not_found(f"Function not found: {self.functions.arn(name)}{latest_suffix}")
        return function
