"""AWS IAM over the query protocol, as AWS's IAM speaks it: roles, their inline and attached policies,
and customer managed policies. Stored with AWS's shapes and errors; permissions are never enforced."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol.service import QueryTraits, Service
from lambda_emu.emulator.services.iam.store import IamStore, Role, check_document, encode_document

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

#: IAM's botocore model is the query one already: only the namespace is handed over.
QUERY_TRAITS = QueryTraits(namespace="https://iam.amazonaws.com/doc/2010-05-08/", member_names={}, map_names={},
                           errors={})
#: ListRoles / ListRolePolicies / ListAttachedRolePolicies answer 100 items a page unless MaxItems says.
DEFAULT_MAX_ITEMS = 100
DEFAULT_MAX_SESSION_DURATION = 3600


class IamService(Service):
    service_name = "iam"
    query_traits = QUERY_TRAITS

    def __init__(self, *, account_id: str, now: Callable[[], float], state: StateStore | None = None) -> None:
        self.store = IamStore(account_id, now, state)

    def reset(self) -> None:
        self.store.reset()

    def validation_error(self, problems: list[str]) -> Exception:
        """IAM words model violations as Coral does, under the code ``ValidationError``."""
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        return AwsError("ValidationError", f"{count} validation {noun} detected: " + "; ".join(problems))

    # ---- roles ----

    def CreateRole(self, params: dict[str, Any]) -> dict[str, Any]:
        role = self.store.create_role(
            params["RoleName"], params.get("Path", "/"), params["AssumeRolePolicyDocument"],
            params.get("Description"), params.get("MaxSessionDuration", DEFAULT_MAX_SESSION_DURATION),
            params.get("PermissionsBoundary"), params.get("Tags", []))
        shape = role.shape(last_used=False)
        # CreateRole answers without MaxSessionDuration (GetRole has it); Tags only when some were given.
        del shape["MaxSessionDuration"]
        shape["Tags"] = role.tags or None
        return {"Role": shape}

    def GetRole(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Role": self.store.role(params["RoleName"]).shape(last_used=True)}

    def ListRoles(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("PathPrefix", "/")
        roles = sorted((r for r in self.store.roles.values() if r.path.startswith(prefix)),
                       key=lambda r: r.name.lower())
        page, more = _page([r.name for r in roles], params)
        by_name = {r.name: r for r in roles}
        return {"Roles": [by_name[name].shape(last_used=False) for name in page], **more}

    def DeleteRole(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_role(params["RoleName"])
        return {}

    def UpdateAssumeRolePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        role: Role = self.store.role(params["RoleName"])
        check_document(params["PolicyDocument"])
        role.assume_role_policy = params["PolicyDocument"]
        self.store.saved_role(role)
        return {}

    # ---- inline policies ----

    def PutRolePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.put_role_policy(params["RoleName"], params["PolicyName"], params["PolicyDocument"])
        return {}

    def GetRolePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        role, document = self.store.role_policy(params["RoleName"], params["PolicyName"])
        return {"RoleName": role.name, "PolicyName": params["PolicyName"], "PolicyDocument": encode_document(document)}

    def DeleteRolePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_role_policy(params["RoleName"], params["PolicyName"])
        return {}

    def ListRolePolicies(self, params: dict[str, Any]) -> dict[str, Any]:
        role = self.store.role(params["RoleName"])
        page, more = _page(sorted(role.inline), params)
        return {"PolicyNames": page, **more}

    # ---- attached managed policies ----

    def AttachRolePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.attach(params["RoleName"], params["PolicyArn"])
        return {}

    def DetachRolePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.detach(params["RoleName"], params["PolicyArn"])
        return {}

    def ListAttachedRolePolicies(self, params: dict[str, Any]) -> dict[str, Any]:
        role = self.store.role(params["RoleName"])
        prefix = params.get("PathPrefix", "/")
        arns = [arn for arn in role.attached if _policy_path(arn).startswith(prefix)]
        page, more = _page(arns, params)
        return {"AttachedPolicies": [{"PolicyName": self.store.policy_name(arn), "PolicyArn": arn} for arn in page],
                **more}

    # ---- customer managed policies ----

    def CreatePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        policy = self.store.create_policy(params["PolicyName"], params.get("Path", "/"), params["PolicyDocument"],
                                          params.get("Description"), params.get("Tags", []))
        # CreatePolicy's answer leaves the description out; GetPolicy has it.
        return {"Policy": policy.shape(description=False)}

    def GetPolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Policy": self.store.policy(params["PolicyArn"]).shape(description=True)}

    def DeletePolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_policy(params["PolicyArn"])
        return {}


def _policy_path(arn: str) -> str:
    resource = arn.split(":", 5)[-1]  # policy/PATH/NAME
    return resource[len("policy"):].rsplit("/", 1)[0] + "/"


def _page(items: list[str], params: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """One page of a list IAM pages with Marker / MaxItems (the marker is the next item's position)."""
    start = 0
    marker = params.get("Marker")
    if marker is not None:
        try:
            start = int(marker)
        except ValueError:
            raise AwsError("InvalidInput", f"Invalid Marker: {marker}") from None
    limit = params.get("MaxItems", DEFAULT_MAX_ITEMS)
    page = items[start:start + limit]
    if start + limit < len(items):
        return page, {"IsTruncated": True, "Marker": str(start + limit)}
    return page, {"IsTruncated": False}
