"""Lambda's version operations: PublishVersion, ListVersionsByFunction, and DeleteFunction of one version.

AWS's behaviour as recorded (docs/aws-behaviour.md §Versions and aliases): a publish with nothing changed
since the last version returns that version (201, same Version and RevisionId, its old Description);
CodeSha256 / RevisionId that don't match $LATEST are refused; version numbers are never reused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import invalid_parameter, lambda_error, resource_conflict
from lambda_emu.emulator.services import pagination

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.pool import Environments
    from lambda_emu.emulator.platform.clock import Clock

#: The fields a listing leaves out (as ListFunctions does).
NOT_LISTED = ("State", "StateReasonCode", "StateReason", "LastUpdateStatus", "LastUpdateStatusReason",
              "LastUpdateStatusReasonCode", "RuntimeVersionConfig")


def precondition_failed() -> Exception:
    return lambda_error("PreconditionFailedException",
                        "The Revision Id provided does not match the latest Revision Id. "
                        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412)


class VersionsApi:
    """Mixed into LambdaService (which provides ``functions``, ``clock`` and ``environments``)."""

    functions: FunctionRegistry
    clock: Clock
    environments: Environments

    def publish_version(self, function: Function, description: str | None = None) -> Function:
        version: Function = self.functions.publish(function, description, self.clock.now())
        return version

    def PublishVersion(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        wanted_sha = params.get("CodeSha256")
        if wanted_sha and wanted_sha != function.code.sha256:
            raise invalid_parameter(
                f"CodeSHA256 ({wanted_sha}) is different from current CodeSHA256 in $LATEST "
                f"({function.code.sha256}). Please try again with the CodeSHA256 in $LATEST.")
        if params.get("RevisionId") and params["RevisionId"] != function.revision_id:
            raise precondition_failed()
        return self.publish_version(function, params.get("Description")).configuration()

    def ListVersionsByFunction(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        every = [function, *self.functions.versions_of(function.name)]
        return pagination.listing("Versions", every, params, 50,
                                  lambda v: _listed(latest_qualified(v.configuration())))

    def delete_version(self, function: Function, qualifier: str) -> None:
        """DeleteFunction with a qualifier: only that version goes (AWS: a version that is not there is a
        204 all the same; versions an alias names are refused; DeleteFunction refuses $LATEST itself)."""
        version = self.functions.version(function.name, qualifier) if qualifier.isdigit() else None
        if version is None:
            return
        referencing = [alias.name for alias in self.functions.aliases_of(function.name)
                       if alias.function_version == qualifier or qualifier in alias.routing]
        if referencing:
            raise resource_conflict(
                f"Unable to delete version because the following aliases reference it: [{', '.join(referencing)}]")
        self.environments.remove_function(version)
        self.functions.remove_version(version)


def latest_qualified(configuration: dict[str, Any]) -> dict[str, Any]:
    """A listing of versions names $LATEST by its qualified ARN, ``...:function:fn:$LATEST`` (recorded:
    ListVersionsByFunction, ListFunctions with FunctionVersion ALL), as GetFunction does when asked for it."""
    if configuration["Version"] == "$LATEST":
        configuration["FunctionArn"] += ":$LATEST"
    return configuration


def _listed(configuration: dict[str, Any]) -> dict[str, Any]:
    for key in NOT_LISTED:
        configuration.pop(key, None)
    return configuration
