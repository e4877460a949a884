"""The checks CreateFunction and the Update* operations share: runtime, limits, environment, revision.

Mixed into the functions and updates mixins (the Lambda API's FunctionsApi and UpdatesApi); plain
checks, no state of their own.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.functions import (
    DEPRECATED_RUNTIMES,
    MAX_ENV_BYTES,
    RESERVED_ENV_KEYS,
    SUPPORTED_RUNTIMES,
)
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, lambda_error

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function

#: Standard functions: 900 s and 10,240 MB, although the model now admits more.
MAX_TIMEOUT = 900
MAX_MEMORY = 10240

#: Coral's problem for a Runtime outside the model's enum (CreateFunction, UpdateFunctionConfiguration).
RUNTIME_ENUM = re.compile(r"Value '(?P<value>.*)' at 'runtime' failed to satisfy constraint: Member must satisfy "
                          r"enum value set: \[", re.DOTALL)
#: The runtimes AWS lists in that message, in its order (recorded 2026-01 for CreateFunction,
#: UpdateFunctionConfiguration and PublishLayerVersion's CompatibleRuntimes): every runtime it still
#: knows, python3.8, nodejs16.x and dotnet6 included although it refuses to create functions with them.
AWS_RUNTIME_ORDER = (
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x", "nodejs22.x", "java25",
    "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4", "ruby3.2", "python3.8", "python3.9", "java17",
    "nodejs16.x", "dotnet10", "dotnet8", "java11", "dotnet6", "nodejs18.x", "provided.al2", "java8.al2",
)


def listed_runtimes() -> list[str]:
    """The runtimes Lambda's runtime enum message lists: AWS's list, then any runtime lambda-emu creates
    functions with that AWS's list lacks."""
    usable = [r for r in SUPPORTED_RUNTIMES if r not in DEPRECATED_RUNTIMES]
    return list(AWS_RUNTIME_ORDER) + [r for r in usable if r not in AWS_RUNTIME_ORDER]


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", f"1 validation error detected: {message}", 400)


class FunctionChecks:
    """Checks of a CreateFunction / Update* request beyond the model's (they raise AWS's error)."""

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


#: Coral's problem for a CompatibleRuntimes list with a value outside the enum (PublishLayerVersion).
_LAYER_RUNTIMES = re.compile(r"^(?P<head>Value '.*' at 'compatibleRuntimes' failed to satisfy constraint: )Member must "
                             r"satisfy constraint: \[Member must satisfy enum value set: \[.*\], Member must not be "
                             r"null\]$", re.DOTALL)


def layer_runtimes_first(problems: list[str]) -> list[str]:
    """Lambda words a layer's CompatibleRuntimes problem as it words Runtime's, with the same list, and
    reports it first (recorded for PublishLayerVersion)."""
    rewritten = []
    for problem in problems:
        found = _LAYER_RUNTIMES.match(problem)
        if found is not None:
            problem = f"{found['head']}Member must satisfy enum value set: [{', '.join(listed_runtimes())}]"
        rewritten.append(problem)
    return sorted(rewritten, key=lambda p: "'compatibleRuntimes'" not in p)
