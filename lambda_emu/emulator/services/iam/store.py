"""IAM's roles and customer managed policies, as AWS keeps and reports them.

IAM is global: no region in its ARNs (``arn:aws:iam::ACCOUNT:role/PATH/NAME``). Nothing here is
enforced: lambda-emu never evaluates a policy. Errors carry IAM's codes and messages.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lambda_emu.emulator.platform.errors import AwsError

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

#: The account AWS's own managed policies live in (arn:aws:iam::aws:policy/...).
AWS_MANAGED_ACCOUNT = "aws"
_ID_ALPHABET = string.ascii_uppercase + string.digits


def unique_id(prefix: str) -> str:
    """An IAM unique ID: a 4-letter type prefix (AROA role, ANPA policy) and 17 characters, 21 in all."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def iam_time(epoch: float) -> str:
    """IAM's timestamps as it writes them: ISO 8601, UTC, whole seconds, ``Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_document(document: str) -> str:
    """A policy document as IAM returns it: URL-encoded (boto3 decodes it back into a dict)."""
    return quote(document, safe="")


def no_such_entity(message: str) -> AwsError:
    return AwsError("NoSuchEntity", message, 404)


def already_exists(message: str) -> AwsError:
    return AwsError("EntityAlreadyExists", message, 409)


def delete_conflict(message: str) -> AwsError:
    return AwsError("DeleteConflict", message, 409)


def check_document(document: str) -> None:
    """IAM refuses a policy document that is not JSON (it checks the grammar further; lambda-emu doesn't)."""
    try:
        parsed = json.loads(document)
    except ValueError:
        raise AwsError("MalformedPolicyDocument", "This policy contains invalid Json") from None
    if not isinstance(parsed, dict):
        raise AwsError("MalformedPolicyDocument", "This policy contains invalid Json")


@dataclass
class Role:
    name: str
    path: str
    role_id: str
    arn: str
    created: float
    assume_role_policy: str
    description: str | None
    max_session_duration: int
    permissions_boundary: str | None
    tags: list[dict[str, str]]
    #: Inline policies: name → document, in the order they were put.
    inline: dict[str, str] = field(default_factory=dict)
    #: Attached managed policy ARNs, in attach order.
    attached: list[str] = field(default_factory=list)

    def shape(self, *, last_used: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Path": self.path, "RoleName": self.name, "RoleId": self.role_id, "Arn": self.arn,
            "CreateDate": iam_time(self.created),
            "AssumeRolePolicyDocument": encode_document(self.assume_role_policy),
            "Description": self.description, "MaxSessionDuration": self.max_session_duration,
        }
        if self.permissions_boundary is not None:
            out["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy",
                                          "PermissionsBoundaryArn": self.permissions_boundary}
        if last_used:
            out["Tags"] = self.tags or None
            out["RoleLastUsed"] = {}
        return out


@dataclass
class Policy:
    name: str
    path: str
    policy_id: str
    arn: str
    created: float
    document: str
    description: str | None
    tags: list[dict[str, str]]
    #: Role names it is attached to.
    attached_to: list[str] = field(default_factory=list)

    def shape(self, *, description: bool) -> dict[str, Any]:
        return {
            "PolicyName": self.name, "PolicyId": self.policy_id, "Arn": self.arn, "Path": self.path,
            "DefaultVersionId": "v1", "AttachmentCount": len(self.attached_to),
            "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
            "Description": self.description if description else None,
            "CreateDate": iam_time(self.created), "UpdateDate": iam_time(self.created),
            "Tags": self.tags or None,
        }


class IamStore:
    """Every role and customer managed policy of the account."""

    def __init__(self, account_id: str, now: Callable[[], float], state: StateStore | None = None) -> None:
        self.account_id = account_id
        self.now = now
        self.roles: dict[str, Role] = {}
        self.policies: dict[str, Policy] = {}
        #: --state-dir: every role and policy is written through (kinds iam-role, iam-policy); None without it.
        self.state = state

    def reset(self) -> None:
        self.roles.clear()
        self.policies.clear()
        if self.state is not None:
            self.state.delete_all("iam-role")
            self.state.delete_all("iam-policy")

    # ---- the state directory ----

    def saved_role(self, role: Role) -> None:
        """Write a role (its inline policies and attachments with it) through, after any change."""
        if self.state is not None:
            self.state.put("iam-role", role.name.lower(), lambda: asdict(role))

    def saved_policy(self, policy: Policy) -> None:
        if self.state is not None:
            self.state.put("iam-policy", policy.arn, lambda: asdict(policy))

    def restore(self) -> None:
        """The roles and managed policies of the state directory, as they were (IDs, dates, attachments)."""
        if self.state is None:
            return
        for key, record in self.state.load("iam-role"):
            self.roles[key] = Role(**record)
        for key, record in self.state.load("iam-policy"):
            self.policies[key] = Policy(**record)

    # ---- roles ----

    def role(self, name: str) -> Role:
        # IAM names are unique case-insensitively, and looked up that way.
        role = self.roles.get(name.lower())
        if role is None:
            raise no_such_entity(f"The role with name {name} cannot be found.")
        return role

    def role_by_arn(self, arn: str) -> Role | None:
        return next((r for r in self.roles.values() if r.arn == arn), None)

    def create_role(self, name: str, path: str, document: str, description: str | None, max_session: int,
                    boundary: str | None, tags: list[dict[str, str]]) -> Role:
        if name.lower() in self.roles:
            raise already_exists(f"Role with name {name} already exists.")
        check_document(document)
        role = Role(name, path, unique_id("AROA"), f"arn:aws:iam::{self.account_id}:role{path}{name}", self.now(),
                    document, description, max_session, boundary, tags)
        self.roles[name.lower()] = role
        self.saved_role(role)
        return role

    def delete_role(self, name: str) -> None:
        role = self.role(name)
        if role.attached:
            raise delete_conflict("Cannot delete entity, must detach all policies first.")
        if role.inline:
            raise delete_conflict("Cannot delete entity, must delete policies first.")
        del self.roles[name.lower()]
        if self.state is not None:
            self.state.delete("iam-role", name.lower())

    def put_role_policy(self, role_name: str, policy_name: str, document: str) -> None:
        role = self.role(role_name)
        check_document(document)
        role.inline[policy_name] = document
        self.saved_role(role)

    def role_policy(self, role_name: str, policy_name: str) -> tuple[Role, str]:
        role = self.role(role_name)
        document = role.inline.get(policy_name)
        if document is None:
            raise no_such_entity(f"The role policy with name {policy_name} cannot be found.")
        return role, document

    def delete_role_policy(self, role_name: str, policy_name: str) -> None:
        role, _ = self.role_policy(role_name, policy_name)
        del role.inline[policy_name]
        self.saved_role(role)

    def attach(self, role_name: str, policy_arn: str) -> None:
        role = self.role(role_name)
        policy = self.policies.get(policy_arn)
        if policy is None and not _aws_managed(policy_arn):
            raise no_such_entity(f"Policy {policy_arn} does not exist or is not attachable.")
        if policy_arn in role.attached:
            return  # attaching twice changes nothing, as in IAM
        role.attached.append(policy_arn)
        self.saved_role(role)
        if policy is not None:
            policy.attached_to.append(role.name)
            self.saved_policy(policy)

    def detach(self, role_name: str, policy_arn: str) -> None:
        role = self.role(role_name)
        if policy_arn not in role.attached:
            raise no_such_entity(f"Policy {policy_arn} was not found.")
        role.attached.remove(policy_arn)
        self.saved_role(role)
        policy = self.policies.get(policy_arn)
        if policy is not None and role.name in policy.attached_to:
            policy.attached_to.remove(role.name)
            self.saved_policy(policy)

    def policy_name(self, arn: str) -> str:
        policy = self.policies.get(arn)
        return policy.name if policy is not None else arn.rsplit("/", 1)[-1]

    # ---- managed policies ----

    def create_policy(self, name: str, path: str, document: str, description: str | None,
                      tags: list[dict[str, str]]) -> Policy:
        arn = f"arn:aws:iam::{self.account_id}:policy{path}{name}"
        if any(p.name.lower() == name.lower() and p.path == path for p in self.policies.values()):
            raise already_exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
        check_document(document)
        policy = Policy(name, path, unique_id("ANPA"), arn, self.now(), document, description, tags)
        self.policies[arn] = policy
        self.saved_policy(policy)
        return policy

    def policy(self, arn: str) -> Policy:
        policy = self.policies.get(arn)
        if policy is None:
            raise no_such_entity(f"Policy {arn} was not found.")
        return policy

    def delete_policy(self, arn: str) -> None:
        policy = self.policy(arn)
        if policy.attached_to:
            raise delete_conflict("Cannot delete a policy attached to entities.")
        del self.policies[arn]
        if self.state is not None:
            self.state.delete("iam-policy", arn)


def _aws_managed(arn: str) -> bool:
    """AWS's own managed policies (AWSLambdaBasicExecutionRole...) exist in every account; lambda-emu
    doesn't hold their documents, but attaching one is accepted as IAM accepts it."""
    return arn.startswith(f"arn:aws:iam::{AWS_MANAGED_ACCOUNT}:policy/")
