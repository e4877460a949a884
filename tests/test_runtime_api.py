"""The Runtime API (2018-06-01) as a runtime sees it: /next's headers, and the errors for misuse, driven
by a real provided.al2 bootstrap that reports what it saw (in its response, or in a later one)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import Any

import pytest

from tests.support import create_bootstrap_function, function_arn, payload_of

#: A bootstrap whose handler misbehaves on request and keeps what the API answered in OBSERVED;
#: {"action": "report"} returns it.
MISUSE = '''
OBSERVED = {}

def answer(status, headers, body):
    return {"status": status, "content_type": headers.get("Content-Type"), "body": json.loads(body or b"null")}

def handle(event, headers, request_id):
    action = event.get("action")
    if action == "report":
        return "response", OBSERVED
    if action == "headers":
        return "response", {"headers": headers, "request_id": request_id}
    if action == "unknown_id":
        OBSERVED["unknown_response"] = answer(*call("POST", "/invocation/no-such-id/response", b"{}"))
        OBSERVED["unknown_error"] = answer(*call("POST", "/invocation/no-such-id/error", b"{}"))
        return "response", OBSERVED
    if action == "twice":
        OBSERVED["first"] = answer(*call("POST", "/invocation/" + request_id + "/response", b'"first"'))
        OBSERVED["second"] = answer(*call("POST", "/invocation/" + request_id + "/response", b'"second"'))
        OBSERVED["error_after"] = answer(*call("POST", "/invocation/" + request_id + "/error", b"{}"))
        return None, None
    if action == "next_early":
        OBSERVED["next_early"] = answer(*call("GET", "/invocation/next", timeout=5))
        return "response", OBSERVED
    if action == "init_error_late":
        OBSERVED["init_error_late"] = answer(*call("POST", "/init/error", b"{}"))
        return "response", OBSERVED
    if action == "oversized":
        size = event["size"]
        OBSERVED["oversized"] = answer(*call("POST", "/invocation/" + request_id + "/response", b"x" * size))
        return None, None
    return "response", {"echo": event}
'''


@pytest.fixture(scope="module")
def runtime(lam: Any) -> str:
    return create_bootstrap_function(lam, MISUSE, runtime="provided.al2", Timeout=10)


def invoke(lam: Any, name: str, event: Any, **extra: Any) -> dict[str, Any]:
    return lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)


def test_next_carries_every_header(lam: Any, runtime: str) -> None:
    client_context = {"custom": {"k": "v"}, "env": {}, "client": {}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    before = int(time.time() * 1000)
    response = invoke(lam, runtime, {"action": "headers"}, ClientContext=encoded)
    seen = payload_of(response)
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["lambda-runtime-aws-request-id"] == response["ResponseMetadata"]["RequestId"] == seen["request_id"]
    assert headers["lambda-runtime-invoked-function-arn"] == function_arn(runtime)
    deadline = int(headers["lambda-runtime-deadline-ms"])
    assert before + 9000 <= deadline <= int(time.time() * 1000) + 10000
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0",
                        headers["lambda-runtime-trace-id"])
    assert json.loads(headers["lambda-runtime-client-context"]) == client_context
    assert headers["content-type"] == "application/json"
    # Empty headers are left out, as AWS's RIE does: no Cognito identity on an API invoke.
    assert "lambda-runtime-cognito-identity" not in headers
    plain = payload_of(invoke(lam, runtime, {"action": "headers"}))
    assert "lambda-runtime-client-context" not in {k.lower() for k in plain["headers"]}


def test_unknown_request_id_is_400_invalid_request_id(lam: Any, runtime: str) -> None:
    seen = payload_of(invoke(lam, runtime, {"action": "unknown_id"}))
    expected = {"status": 400, "content_type": "application/json",
                "body": {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"}}
    assert seen["unknown_response"] == expected
    assert seen["unknown_error"] == expected


def test_posting_twice_is_403_invalid_state_transition(lam: Any, runtime: str) -> None:
    response = invoke(lam, runtime, {"action": "twice"})
    assert "FunctionError" not in response
    assert payload_of(response) == "first"
    seen = payload_of(invoke(lam, runtime, {"action": "report"}))
    assert seen["first"] == {"status": 202, "content_type": "application/json", "body": {"status": "OK"}}
    for key in ("second", "error_after"):
        assert seen[key]["status"] == 403, seen[key]
        assert seen[key]["content_type"] == "application/json"
        assert seen[key]["body"]["errorType"] == "InvalidStateTransition"


def test_next_during_an_invocation_is_403(lam: Any, runtime: str) -> None:
    seen = payload_of(invoke(lam, runtime, {"action": "next_early"}))
    assert seen["next_early"]["status"] == 403
    assert seen["next_early"]["body"]["errorType"] == "InvalidStateTransition"


def test_init_error_after_init_is_403(lam: Any, runtime: str) -> None:
    seen = payload_of(invoke(lam, runtime, {"action": "init_error_late"}))
    assert seen["init_error_late"]["status"] == 403
    assert seen["init_error_late"]["body"]["errorType"] == "InvalidStateTransition"


def test_oversized_response_is_413_and_the_caller_sees_response_size_too_large(lam: Any, runtime: str) -> None:
    limit = 6 * 1024 * 1024 + 100
    response = invoke(lam, runtime, {"action": "oversized", "size": limit + 1})
    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["Payload"].read() == (
        b'{"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size exceeded maximum '
        b'allowed payload size (6291556 bytes)."}'
    )
    seen = payload_of(invoke(lam, runtime, {"action": "report"}))
    assert seen["oversized"] == {
        "status": 413, "content_type": "application/json",
        "body": {"errorType": "RequestEntityTooLarge",
                 "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes)."},
    }
    # Exactly at the limit is fine.
    exact = invoke(lam, runtime, {"action": "oversized", "size": limit})
    assert "FunctionError" not in exact
    assert exact["Payload"].read() == b"x" * limit
    assert request_id != exact["ResponseMetadata"]["RequestId"]


def test_the_runtime_survives_all_that(lam: Any, runtime: str) -> None:
    assert payload_of(invoke(lam, runtime, {"n": 1})) == {"echo": {"n": 1}}


async def test_a_next_handler_cancelled_by_the_server_stays_cancelled() -> None:
    """The server's own shutdown cancels a waiting /next handler: that must not be answered with a 500
    (only an environment that shut down is), or aiohttp's shutdown waits on a handler that won't end."""
    from unittest.mock import Mock

    from aiohttp.test_utils import make_mocked_request

    from lambda_emu.runtime_api.api import PREFIX, RuntimeApiServer, RuntimeSession

    server = RuntimeApiServer("127.0.0.1")
    await server.start()
    try:
        session = RuntimeSession()
        port = await server.open(session)
        transport = Mock()  # aiohttp's transport, not lambda-emu's: which listener the request came in on
        transport.get_extra_info.return_value = ("127.0.0.1", port)
        request = make_mocked_request("GET", PREFIX + "/runtime/invocation/next", transport=transport)
        handler = asyncio.ensure_future(server._next(request))  # noqa: SLF001 - the handler aiohttp would run
        await asyncio.sleep(0.05)
        assert not handler.done()  # long-polling for work
        handler.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handler
    finally:
        await server.stop()
