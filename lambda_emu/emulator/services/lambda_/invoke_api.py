"""Lambda's Invoke and InvokeAsync: the request's checks (state, payload size, JSON event, client
context), then the invoker (RequestResponse) or the async queue (Event).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation import logs
from lambda_emu.emulator.platform.errors import AwsError, invalid_parameter, lambda_error, service_exception
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.services.lambda_.functions_api import not_found

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.invoker import AsyncInvoke, Invoker
    from lambda_emu.emulator.services.lambda_.lifecycle import Lifecycle

#: Payload quotas (docs/aws-behaviour.md §Invoke: Payload limits).
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_INVOKE_ASYNC_PAYLOAD = 256 * 1024


def too_large(limit: int) -> AwsError:
    return lambda_error("RequestTooLargeException",
                        f"Request must be smaller than {limit} bytes for the InvokeFunction operation", 413)


class InvokeApi:
    """Mixed into LambdaService (which provides ``functions``, ``invoker``, ``async_invoke``, ``lifecycle``)."""

    functions: FunctionRegistry
    invoker: Invoker
    async_invoke: AsyncInvoke
    lifecycle: Lifecycle

    async def Invoke(self, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        if qualifier is None and self.functions.find(name) is None:
            # Invoke names the version it would have run (recorded: "...:function:doesnotexist:$LATEST").
            raise not_found(f"{self.functions.arn(name)}:$LATEST")
        target = self.functions.resolve_qualified(name, qualifier)
        function = self.functions.pick(target)  # a weighted alias draws its version here
        if function.state != "Active":
            # A template's image function whose image is still building (or failed to build).
            raise lambda_error("ResourceConflictException", "The operation cannot be performed at this time. "
                               f"The function is currently in the following state: {function.state}", 409)
        self._check_invocable(function)
        invocation_type = params.get("InvocationType", "RequestResponse")
        payload = params.get("Payload") or b""
        limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        if len(payload) > limit:
            raise too_large(limit)
        payload = self._event_payload(payload)
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        request_id = context.request_id.get()
        invoked_arn = target.arn
        if invocation_type == "Event":
            await self.async_invoke(function, payload, request_id=request_id, invoked_arn=invoked_arn)
            return {"StatusCode": 202, "Payload": b""}
        client_context = self._client_context(params.get("ClientContext"))
        # During an update in progress (--creation-delays) the previous code and configuration run.
        result = await self.invoker.invoke(self.lifecycle.running(function), payload, request_id=request_id,
                                          source="sync", invoked_arn=invoked_arn, client_context=client_context)
        if result.fault == "serviceErrorRate":
            raise service_exception(result.system_error or "")
        if result.kind == "system_error":
            raise service_exception(f"lambda-emu could not run the invocation: {result.system_error}")
        if result.kind == "throttled":
            raise lambda_error("TooManyRequestsException", "Rate Exceeded.", 429, Reason=result.throttle_reason)
        assert result.outcome is not None
        output: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": function.version}
        if result.function_error:
            output["FunctionError"] = result.function_error
        if params.get("LogType") == "Tail":
            output["LogResult"] = logs.tail(result.outcome.log)
        return output

    async def InvokeAsync(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        self._check_invocable(function)
        payload = params.get("InvokeArgs") or b""
        if len(payload) > MAX_INVOKE_ASYNC_PAYLOAD:
            raise lambda_error("RequestTooLargeException",
                               f"Request must be smaller than {MAX_INVOKE_ASYNC_PAYLOAD} bytes for the InvokeAsync "
                               "operation", 413)
        payload = self._event_payload(payload)
        await self.async_invoke(function, payload, request_id=context.request_id.get(), invoked_arn=function.arn)
        return {"Status": 202}

    @staticmethod
    def _check_invocable(function: Function) -> None:
        """Lambda invokes nothing Pending (requirements being installed) or Failed (they could not be)."""
        if not function.dependencies.invocable:
            raise lambda_error("ResourceConflictException",
                               "The operation cannot be performed at this time. The function is currently in the "
                               f"following state: {function.dependencies.state}", 409)

    @staticmethod
    def _event_payload(payload: bytes) -> bytes:
        """Lambda accepts only JSON events; an empty body is the empty object."""
        if not payload.strip():
            return b"{}"
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise lambda_error("InvalidRequestContentException",
                               f"Could not parse request body into json: {str(exc).split(':')[0]}", 400) from exc
        except RecursionError:
            # Nested deeper than Python's parser goes: Lambda passes the event on; the runtime decides.
            pass
        return payload

    @staticmethod
    def _client_context(raw: str | None) -> str | None:
        if not raw:
            return None
        try:
            decoded = base64.b64decode(raw, validate=True).decode()
            json.loads(decoded)
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
            raise invalid_parameter("Client context must be a valid Base64-encoded JSON object.") from exc
        return decoded
