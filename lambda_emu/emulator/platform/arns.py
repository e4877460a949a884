"""ARNs as lambda-emu reads them: which service one names, and the function name of a Lambda ARN."""

from __future__ import annotations


def arn_service(arn: str) -> str | None:
    """The service part of an ARN (``sqs``, ``lambda``...), or None when ``arn`` is not an ARN."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[2]


def function_name(arn: str) -> str:
    """The function name of a Lambda ARN ("" when it has none)."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else ""


def arn(service: str, region: str, account_id: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account_id}:{resource}"
