"""AWS STS over the query protocol: GetCallerIdentity and AssumeRole.

lambda-emu checks no signature, so every credential works against it, the temporary ones AssumeRole
issues included. What STS remembers is whom each issued access key stands for, so GetCallerIdentity
called with it answers the assumed role, as AWS does. Any other access key is taken as the account's
root user's (``UserId`` the account ID, ``Arn`` ``arn:aws:iam::ACCOUNT:root``): lambda-emu has no IAM
users, and the root user is what a plain long-term key of the account is when no user owns it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.protocol.service import QueryTraits, Service

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

QUERY_TRAITS = QueryTraits(namespace="https://sts.amazonaws.com/doc/2011-06-15/", member_names={}, map_names={},
                           errors={})
DEFAULT_DURATION = 3600
_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?([^/]+)")
_KEY_ALPHABET = string.ascii_uppercase + string.digits
#: Execution environments' keys kept at once. Lambda's keys stay valid for hours after the environment
#: is gone, so they are not dropped when it ends; but every cold start issues one, and a long run must
#: not keep them all. The oldest goes first (it then answers as the account, like any unknown key).
ENVIRONMENT_KEYS_KEPT = 1000

#: What STS needs of a role IAM holds: (RoleId, MaxSessionDuration), or None when there is no such role.
RoleLookup = Callable[[str], tuple[str, int] | None]


@dataclass(frozen=True)
class Session:
    """The identity behind one set of temporary credentials."""

    account: str
    user_id: str
    arn: str


class StsService(Service):
    service_name = "sts"
    query_traits = QUERY_TRAITS

    def __init__(self, *, account_id: str, now: Callable[[], float], find_role: RoleLookup,
                 state: StateStore | None = None) -> None:
        self.account_id = account_id
        self.now = now
        self.find_role = find_role
        #: Access key ID → whom it was issued to (AssumeRole).
        self.sessions: dict[str, Session] = {}
        #: Access key ID → the execution environment's session it names, oldest first (function_credentials).
        self.environment_sessions: dict[str, Session] = {}
        #: --state-dir: each issued key is written through (kind sts-session), so it still names its
        #: assumed role after a restart; None without it.
        self.state = state

    def reset(self) -> None:
        self.sessions.clear()
        self.environment_sessions.clear()
        if self.state is not None:
            self.state.delete_all("sts-session")

    def restore(self) -> None:
        """The access keys AssumeRole issued in earlier runs of this state directory."""
        if self.state is not None:
            for key, record in self.state.load("sts-session"):
                self.sessions[key] = Session(**record)

    def validation_error(self, problems: list[str]) -> Exception:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        return AwsError("ValidationError", f"{count} validation {noun} detected: " + "; ".join(problems))

    def GetCallerIdentity(self, params: dict[str, Any]) -> dict[str, Any]:
        key = context.access_key_id.get()
        session = self.sessions.get(key) or self.environment_sessions.get(key)
        if session is not None:
            return {"UserId": session.user_id, "Account": session.account, "Arn": session.arn}
        return {"UserId": self.account_id, "Account": self.account_id, "Arn": f"arn:aws:iam::{self.account_id}:root"}

    def function_credentials(self, role_arn: str, function_name: str) -> tuple[str, str, str]:
        """An execution environment's credentials, as Lambda issues them: a session of the function's
        role named after the function, so STS called with them answers
        ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION``. Not kept in --state-dir (a restart starts every
        environment afresh); the newest ENVIRONMENT_KEYS_KEPT are kept. A role ARN STS refuses gets the
        fixed ``lambda-emu`` keys (the account's root)."""
        match = _ROLE_ARN.fullmatch(role_arn)
        if match is None:
            return "lambda-emu", "lambda-emu", "lambda-emu"
        partition, account, role_name = match.groups()
        if len(function_name) < 2:
            # A session name has at least 2 characters: Lambda names a 1-letter function's session
            # "f@lambda_function" (AWS-recorded in LocalStack's test_assume_role[1]).
            function_name = f"{function_name}@lambda_function"
        known = self.find_role(role_arn)
        role_id = known[0] if known is not None else _derived_role_id(role_arn)
        access_key = "ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        arn = f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{function_name}"
        self.environment_sessions[access_key] = Session(account, f"{role_id}:{function_name}", arn)
        if len(self.environment_sessions) > ENVIRONMENT_KEYS_KEPT:
            del self.environment_sessions[next(iter(self.environment_sessions))]
        return (access_key, base64.b64encode(secrets.token_bytes(30)).decode(),
                base64.b64encode(secrets.token_bytes(300)).decode())

    def AssumeRole(self, params: dict[str, Any]) -> dict[str, Any]:
        role_arn: str = params["RoleArn"]
        session_name: str = params["RoleSessionName"]
        match = _ROLE_ARN.fullmatch(role_arn)
        if match is None:
            raise AwsError("ValidationError", f"{role_arn} is invalid")
        partition, account, role_name = match.groups()
        duration: int = params.get("DurationSeconds", DEFAULT_DURATION)
        known = self.find_role(role_arn)
        if known is not None:
            role_id, max_session = known
            if duration > max_session:
                raise AwsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set "
                               "for this role.")
        else:
            # Not enforced: a role IAM doesn't hold (another account's, or one a template only names) can
            # be assumed too; its RoleId is derived from its ARN, so it is the same every time.
            role_id = _derived_role_id(role_arn)
        access_key = "ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        user_id = f"{role_id}:{session_name}"
        arn = f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session_name}"
        session = self.sessions[access_key] = Session(account, user_id, arn)
        if self.state is not None:
            self.state.put("sts-session", access_key, lambda: asdict(session))
        expiration = datetime.fromtimestamp(self.now() + duration, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out: dict[str, Any] = {
            "Credentials": {
                "AccessKeyId": access_key,
                "SecretAccessKey": base64.b64encode(secrets.token_bytes(30)).decode(),
                "SessionToken": base64.b64encode(secrets.token_bytes(300)).decode(),
                "Expiration": expiration,
            },
            "AssumedRoleUser": {"AssumedRoleId": user_id, "Arn": arn},
        }
        if params.get("Policy") or params.get("PolicyArns") or params.get("Tags"):
            # How much of the packed-policy allowance session policies and tags take, in percent.
            size = len(params.get("Policy", "")) + 100 * len(params.get("PolicyArns", [])) + 50 * len(
                params.get("Tags", []))
            out["PackedPolicySize"] = min(100, max(1, size * 100 // 2048))
        if params.get("SourceIdentity"):
            out["SourceIdentity"] = params["SourceIdentity"]
        return out


def _derived_role_id(role_arn: str) -> str:
    """The RoleId of a role IAM doesn't hold, derived from its ARN so it is the same every time."""
    return "AROA" + base64.b32encode(hashlib.sha256(role_arn.encode()).digest()).decode()[:17]
