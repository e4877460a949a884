"""A function's resource-based policy: AddPermission / RemovePermission / GetPolicy.

Kept and reported as AWS renders it, not enforced (lambda-emu enforces no permission at all). The
statements live on the function (written through to the state directory with it); a change to the
policy gives the function a new RevisionId, which GetPolicy reports and a RevisionId precondition
checks (docs/aws-behaviour.md §Lambda tags and permissions).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.versions import Alias
from lambda_emu.emulator.platform.documents import compact
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, lambda_error, resource_not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry

_ACCOUNT = re.compile(r"^\d{12}$")
#: A qualifier that names an alias (versions are numbers; "$" is no alias's).
_ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]+$")
#: The principals AddPermission takes: anyone, an account, an ARN, or an AWS service's principal.
_PRINCIPAL = re.compile(r"^(\*|\d{12}|arn:.+|[a-z0-9.-]+\.(amazonaws\.com(\.cn)?|amazon\.com))$")


def render_principal(principal: str) -> Any:
    """The Principal element as Lambda writes it from AddPermission's Principal."""
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def render_statement(params: dict[str, Any], resource: str) -> dict[str, Any]:
    """One policy statement, keys in AWS's order; the request's conditions become a Condition block."""
    statement: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": render_principal(params["Principal"]),
        "Action": params["Action"],
        "Resource": resource,
    }
    condition: dict[str, dict[str, Any]] = {}
    equals = (("SourceAccount", "AWS:SourceAccount"), ("PrincipalOrgID", "aws:PrincipalOrgID"),
              ("EventSourceToken", "lambda:EventSourceToken"), ("FunctionUrlAuthType", "lambda:FunctionUrlAuthType"))
    for member, key in equals:
        if params.get(member):
            condition.setdefault("StringEquals", {})[key] = params[member]
    if params.get("InvokedViaFunctionUrl") is not None:
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = str(params["InvokedViaFunctionUrl"]).lower()
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if condition:
        statement["Condition"] = condition
    return statement


class PermissionsApi:
    """Mixed into LambdaService (which provides ``functions``)."""

    functions: FunctionRegistry

    def _policy_holder(self, params: dict[str, Any], *, unknown_function: str = "Function not found: ") \
            -> tuple[Function | Alias, str]:
        """Whose policy: AWS keeps one per qualifier ($LATEST, a version, an alias); with its ARN. An unknown
        function is ``unknown_function`` + its ARN, an unknown alias "Cannot find alias arn: ..." (recorded)."""
        name, qualifier = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        addressed = self.functions.arn(name) + (f":{qualifier}" if qualifier else "")
        if self.functions.find(name) is None:
            raise resource_not_found(f"{unknown_function}{addressed}")
        if qualifier and _ALIAS_NAME.match(qualifier) and self.functions.alias(name, qualifier) is None:
            raise resource_not_found(f"Cannot find alias arn: {addressed}")
        target = self.functions.resolve_qualified(name, qualifier)
        holder: Function | Alias = target.alias if target.alias is not None else target.function
        return holder, target.arn

    def AddPermission(self, params: dict[str, Any]) -> dict[str, Any]:
        _name, qualifier = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        if qualifier == "$LATEST":
            raise invalid_parameter("We currently do not support adding policies for $LATEST.")  # recorded
        if not _PRINCIPAL.match(params["Principal"]):
            raise invalid_parameter("The provided principal was invalid. Please check the principal and try again.")
        function, resource = self._policy_holder(params)
        self._check_policy_revision(function, params.get("RevisionId"))
        sid = params["StatementId"]
        if any(s["Sid"] == sid for s in function.policy):
            raise lambda_error("ResourceConflictException",
                               f"The statement id ({sid}) provided already exists. Please provide a new statement "
                               "id, or remove the existing statement.", 409)
        statement = render_statement(params, resource)
        function.policy.append(statement)
        self._policy_changed(function)
        return {"Statement": compact(statement)}

    def RemovePermission(self, params: dict[str, Any]) -> dict[str, Any]:
        function, _arn = self._policy_holder(params, unknown_function="No policy found for: ")
        if not function.policy:
            raise resource_not_found("No policy is associated with the given resource.")
        self._check_policy_revision(function, params.get("RevisionId"))
        sid = params["StatementId"]
        kept = [s for s in function.policy if s["Sid"] != sid]
        if len(kept) == len(function.policy):
            raise resource_not_found(f"Statement {sid} is not found in resource policy.")
        function.policy = kept
        self._policy_changed(function)
        return {}

    def GetPolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            function, _arn = self._policy_holder(params)
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise
            # Recorded for an unknown version: GetPolicy does not say what is missing.
            raise resource_not_found("The resource you requested does not exist.") from None
        if not function.policy:
            raise resource_not_found("The resource you requested does not exist.")
        document = {"Version": "2012-10-17", "Id": "default", "Statement": function.policy}
        return {"Policy": compact(document), "RevisionId": function.revision_id}

    @staticmethod
    def _check_policy_revision(function: Function | Alias, wanted: str | None) -> None:
        if wanted and wanted != function.revision_id:
            raise lambda_error("PreconditionFailedException",
                               "The Revision Id provided does not match the latest Revision Id. "
                               "Call the GetPolicy API to retrieve the latest Revision Id", 412)

    def _policy_changed(self, function: Function | Alias) -> None:
        # A new revision, but not a new generation: the code and configuration environments run are unchanged.
        function.revision_id = str(uuid.uuid4())
        if isinstance(function, Alias):
            self.functions.saved_alias(function)
        else:
            self.functions.saved(function)

