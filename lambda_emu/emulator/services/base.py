"""The contract between the protocol layer and a service.

A service is a class whose public CamelCase methods are AWS operation names. Each takes one dict of
validated input (parsed by the protocol layer from botocore's model: blobs as ``bytes``, timestamps as
aware UTC ``datetime``, everything else as JSON types) and returns a dict of output members (blobs as
``bytes``, timestamps as ``datetime`` or epoch seconds). It may be ``async``. It raises
:class:`lambda_emu.emulator.platform.errors.AwsError` for anything AWS would refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_emu.app import Emulator


class Service:
    #: botocore's service name ("lambda", "sqs", "kinesis").
    service_name: str = ""
    #: Whether the protocol layer enforces the model's enums (see protocol.shapes.validate).
    validate_enums: bool = True

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

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
        from lambda_emu.emulator.platform.errors import AwsError

        count = len(problems)
        noun = "error" if count == 1 else "errors"
        return AwsError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(problems))
