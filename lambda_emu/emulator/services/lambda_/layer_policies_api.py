"""A layer version's resource-based policy: AddLayerVersionPermission / GetLayerVersionPolicy /
RemoveLayerVersionPermission.

Kept and reported as AWS renders it, not enforced (lambda-emu serves one account and checks no
permission). Unlike a function's policy, a layer version's has a RevisionId of its own, new at every
change. The statements live on the layer version, so ``--state-dir`` keeps them
(docs/aws-behaviour.md §Layer version policies).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.documents import compact
from lambda_emu.emulator.platform.errors import lambda_error, resource_conflict, resource_not_found
from lambda_emu.emulator.services.lambda_.permissions_api import render_principal

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.layers import LayerStore, LayerVersion


class LayerPoliciesApi:
    """Mixed into LambdaService (which provides ``layers``)."""

    layers: LayerStore

    def _policy_layer_version(self, params: dict[str, Any]) -> LayerVersion:
        name = self.layers.name_of(params["LayerName"])
        number = params["VersionNumber"]
        found = next((v for v in self.layers.versions(name) if v.version == number), None)
        if found is None:
            raise resource_not_found(f"Layer version {self.layers.layer_arn(name)}:{number} does not exist.")
        return found

    @staticmethod
    def _check_layer_revision(version: LayerVersion, wanted: str | None) -> None:
        if wanted and wanted != version.policy_revision:
            raise lambda_error("PreconditionFailedException",
                               "The Revision Id provided does not match the latest Revision Id. "
                               "Call the GetLayerPolicy API to retrieve the latest Revision Id", 412)

    def AddLayerVersionPermission(self, params: dict[str, Any]) -> dict[str, Any]:
        version = self._policy_layer_version(params)
        sid = params["StatementId"]
        if any(s["Sid"] == sid for s in version.policy):
            raise resource_conflict(f"The statement id ({sid}) provided already exists. Please provide a new "
                                    "statement id, or remove the existing statement.")
        self._check_layer_revision(version, params.get("RevisionId"))
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": render_principal(params["Principal"]),
                                     "Action": params["Action"], "Resource": version.arn}
        if params.get("OrganizationId"):
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
        version.policy.append(statement)
        version.policy_revision = str(uuid.uuid4())
        self.layers.saved(version)
        return {"Statement": compact(statement), "RevisionId": version.policy_revision}

    def GetLayerVersionPolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        version = self._policy_layer_version(params)
        if not version.policy:
            raise resource_not_found("No policy is associated with the given resource.")
        document = {"Version": "2012-10-17", "Id": "default", "Statement": version.policy}
        return {"Policy": compact(document), "RevisionId": version.policy_revision}

    def RemoveLayerVersionPermission(self, params: dict[str, Any]) -> dict[str, Any]:
        version = self._policy_layer_version(params)
        sid = params["StatementId"]
        if not any(s["Sid"] == sid for s in version.policy):
            raise resource_not_found(f"Statement {sid} is not found in resource policy.")
        self._check_layer_revision(version, params.get("RevisionId"))
        version.policy = [s for s in version.policy if s["Sid"] != sid]
        version.policy_revision = str(uuid.uuid4()) if version.policy else ""
        self.layers.saved(version)
        return {}
