"""AddPermission / RemovePermission: statements in the queue's ``Policy`` attribute, as AWS writes them.

AWS keeps the permissions AddPermission grants in the queue's policy document (``Version`` 2008-10-17,
``Id`` ``<queue arn>/SQSDefaultPolicy``), one statement per label with the label as its ``Sid``; a
single principal or action is written as a string, several as a list. Removing the last statement
removes the ``Policy`` attribute. Nothing is enforced: lambda-emu has one account and no IAM checks.
"""

from __future__ import annotations

import json
from typing import Any

from lambda_emu.emulator.services.sqs.errors import invalid_parameter_value

POLICY_VERSION = "2008-10-17"


def _one_or_many(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _document(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def add_statement(policy: str | None, queue_arn: str, label: str, accounts: list[str], actions: list[str]) -> str:
    """The ``Policy`` value with a statement for ``label`` added (InvalidParameterValue if it exists)."""
    document = _document(policy) or {"Version": POLICY_VERSION, "Id": f"{queue_arn}/SQSDefaultPolicy",
                                     "Statement": []}
    statements = document.setdefault("Statement", [])
    if not isinstance(statements, list):
        statements = document["Statement"] = [statements]
    if any(isinstance(s, dict) and s.get("Sid") == label for s in statements):
        raise invalid_parameter_value("Label", label, "Already exists.")
    statements.append({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": _one_or_many([f"arn:aws:iam::{account}:root" for account in accounts])},
        "Action": _one_or_many([a if a == "*" else f"SQS:{a}" for a in actions]),
        "Resource": queue_arn,
    })
    return json.dumps(document, separators=(",", ":"))


def remove_statement(policy: str | None, label: str) -> str:
    """The ``Policy`` value without ``label``'s statement ("" when none is left: the attribute goes)."""
    document = _document(policy)
    statements = document.get("Statement") if document else None
    if not isinstance(statements, list) or not any(isinstance(s, dict) and s.get("Sid") == label
                                                   for s in statements):
        raise invalid_parameter_value("Label", label, "can't find label.")
    assert document is not None
    document["Statement"] = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == label)]
    return json.dumps(document, separators=(",", ":")) if document["Statement"] else ""
