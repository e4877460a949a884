"""AWS errors as one typed exception; the protocol layer renders it in the wire format the client spoke."""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error AWS would return.

    ``code`` is the modeled error shape name (what botocore raises as ``client.exceptions.<code>``).
    ``query_code`` is the legacy code SQS reports through ``x-amzn-query-error`` and in its query
    protocol (e.g. ``AWS.SimpleQueueService.NonExistentQueue``); it defaults to ``code``.
    ``fields`` are extra members of the error body (Lambda's ``Type``, ``Reason``...).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        sender_fault: bool = True,
        query_code: str | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.query_code = query_code or code
        self.fields = fields or {}
        self.headers = headers or {}


# ---- Lambda's errors (rest-json body: {"Type": "User", "message": ...}) ------------------------


def lambda_error(code: str, message: str, status: int = 400, *, typed: bool = True, **fields: Any) -> AwsError:
    """``typed=False`` for the errors AWS answers without ``"Type": "User"`` (recorded: an alias routing to
    $LATEST, the concurrency limits); errors Lambda's model does not list never carry it (rest_json)."""
    body: dict[str, Any] = {"Type": "User"} if typed else {}
    body.update(fields)
    return AwsError(code, message, status, fields=body)


def access_denied() -> AwsError:
    """Lambda's 403 for a function ARN of another account: AWS's body has a null message (recorded)."""
    return AwsError("AccessDeniedException", "", 403, fields={"Message": None})


def resource_not_found(message: str) -> AwsError:
    return lambda_error("ResourceNotFoundException", message, 404)


def resource_conflict(message: str) -> AwsError:
    return lambda_error("ResourceConflictException", message, 409)


def invalid_parameter(message: str) -> AwsError:
    return lambda_error("InvalidParameterValueException", message, 400)


def service_exception(message: str = "lambda-emu internal error") -> AwsError:
    return AwsError("ServiceException", message, 500, sender_fault=False, fields={"Type": "Service"})
