"""The contract between the protocol layer and a service.

A service is a class whose public CamelCase methods are AWS operation names. Each takes one dict of
validated input (parsed by the protocol layer from botocore's model: blobs as ``bytes``, timestamps as
aware UTC ``datetime``, everything else as JSON types) and returns a dict of output members (blobs as
``bytes``, timestamps as ``datetime`` or epoch seconds). It may be ``async``. It raises
:class:`lambda_emu.emulator.platform.errors.AwsError` for anything AWS would refuse.

The protocol layer names no service: what differs between services on the wire comes in through the
hooks below (``validation_error``, ``json_error_type``, ``query_traits``, ``query_message``), which
a service overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_emu.emulator.platform.errors import AwsError


@dataclass(frozen=True)
class QueryTraits:
    """What the query protocol needs of a service that botocore's JSON model no longer carries."""

    #: The XML namespace of responses.
    namespace: str
    #: (structure, member) → query wire name; every list and map member named here is flattened.
    member_names: Mapping[tuple[str, str], str]
    #: map shape → (key element, value element).
    map_names: Mapping[str, tuple[str, str]]
    #: modeled error shape name → (query code, HTTP status).
    errors: Mapping[str, tuple[str, int]]
    #: (structure, member) → the name a query answer in JSON (``Accept: application/json``) gives it,
    #: where AWS's legacy JSON differs from the model's member name.
    json_names: Mapping[tuple[str, str], str] = field(default_factory=dict)


class Service:
    #: botocore's service name ("lambda", "sqs", "kinesis").
    service_name: str = ""
    #: Whether the protocol layer enforces the model's enums (see protocol.validation.validate).
    validate_enums: bool = True
    #: Element shapes whose list/map constraint problem AWS words without "Member must not be null"
    #: (``*``: every one of the service's; see protocol.validation.validate).
    nullable_elements: frozenset[str] = frozenset()

    async def start(self) -> None:
        """Called once the server is listening."""

    async def stop(self) -> None:
        """Called on shutdown; release timers and tasks."""

    def operation(self, name: str) -> Any | None:
        if not name or not name[0].isupper():
            return None
        return getattr(self, name, None)

    def validation_error(self, problems: list[str]) -> Exception:
        """The error for input that breaks the model's constraints (AWS's Coral wording by default)."""
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        return AwsError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(problems))

    def json_error_type(self, error: AwsError) -> tuple[str, str]:
        """(``__type``, legacy query code) of an error on the JSON protocols: the error's own code by default."""
        return error.code, error.query_code

    #: Set by a service also served over the query protocol (SQS).
    query_traits: QueryTraits | None = None

    def check_query_path(self, operation: str, path: str) -> None:
        """Refuse a query action the request's path can't take (SQS: CreateQueue sent to a queue URL)."""

    def query_message(self, error: AwsError) -> str:
        """The error's message as the query protocol words it (the same words by default)."""
        return error.message
