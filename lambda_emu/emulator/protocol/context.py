"""Per-request facts a service may need beyond its input (the request ID AWS puts in x-amzn-RequestId)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger

log = get_logger("protocol")

#: The request ID of the API call being served; Invoke hands the same ID to the function.
request_id: ContextVar[str] = ContextVar("request_id", default="")
#: The X-Amzn-Trace-Id header of the API call being served (SQS keeps it as AWSTraceHeader); "" if absent.
trace_header: ContextVar[str] = ContextVar("trace_header", default="")
#: The access key ID the caller signed with (SigV4's credential scope), "" when unsigned. Nothing checks
#: signatures; STS's GetCallerIdentity reports whom the key stands for.
access_key_id: ContextVar[str] = ContextVar("access_key_id", default="")
#: The region the caller signed for (SigV4's credential scope), "" when unsigned: SQS keeps queues per region.
region: ContextVar[str] = ContextVar("region", default="")


def signing_scope(authorization: str, credential: str = "") -> tuple[str, str]:
    """(access key ID, service name) from a SigV4 ``Authorization`` header (or a presigned URL's
    ``X-Amz-Credential``): ``Credential=AKID/DATE/REGION/SERVICE/aws4_request``; ("", "") when absent."""
    if "Credential=" in authorization:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    parts = credential.split("/")
    if len(parts) != 5:
        return "", ""
    return parts[0], parts[3]


def signing_region(authorization: str, credential: str = "") -> str:
    """The region of a SigV4 credential scope (``Credential=AKID/DATE/REGION/SERVICE/aws4_request``); "" when absent."""
    if "Credential=" in authorization:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    parts = credential.split("/")
    return parts[2] if len(parts) == 5 else ""


def new_request_id() -> str:
    """A random (version 4) UUID as AWS's request IDs are, written out from 16 random bytes: what
    ``str(uuid.uuid4())`` gives, without building a UUID object on every request."""
    h = os.urandom(16).hex()
    # Digit 13 is the version (4); digit 17 the RFC 4122 variant (binary 10xx: 8, 9, a or b).
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


#: A random hex digit → the variant digit with the same two low bits.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


async def call_operation(method: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """Run a service operation; anything that is not an AwsError becomes a 500 ServiceException."""
    try:
        result = method(params)
        if inspect.isawaitable(result):
            result = await result
    except AwsError:
        raise
    except Exception as exc:  # noqa: BLE001 - the server must survive any handler bug
        log.exception("operation failed", operation=getattr(method, "__name__", "?"))
        raise AwsError("ServiceException", f"lambda-emu internal error: {exc}", 500, sender_fault=False,
                       fields={"Type": "Service"}) from exc
    return result or {}
