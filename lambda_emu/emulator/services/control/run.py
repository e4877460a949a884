"""The /_emu endpoints that act on the whole run, for tests and the pytest plugin:

- ``POST /_emu/reset`` (optional ``{"seed": N}``) → ``{}``: back to a fresh run on the same clock.
- ``POST /_emu/template`` ``{"path", "parameters"}``: load a template into the running emulator.
- ``GET /_emu/queue-messages?queue=NAME|URL|ARN``: a queue's messages, read without receiving them.

They are registered on the control service by the composition root (app.py), which hands them the
few things of the run they act on.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.services.control.api import ControlError, ControlService, read_model

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.services.sqs.store import SqsStore

#: Loads a template (path, parameter values) into the run; returns the logical ids loaded, raises
#: ValueError with the loader's message (templates sit above services: app.py hands this in).
LoadTemplate = Callable[[str, dict[str, str]], list[str]]


class RunEndpoints:
    def __init__(self, reset: Callable[[int | None], Awaitable[None]], load_template: LoadTemplate,
                 functions: FunctionRegistry, sqs_store: Callable[[], SqsStore], clock: Clock) -> None:
        self._reset = reset
        self._load_template = load_template
        self._functions = functions
        self._sqs_store = sqs_store
        self._clock = clock

    def register(self, control: ControlService) -> None:
        control.add_route("POST", "/_emu/reset", self.reset)
        control.add_route("POST", "/_emu/template", self.template)
        control.add_route("GET", "/_emu/queue-messages", self.queue_messages)

    async def reset(self, request: web.Request) -> dict[str, Any]:
        """Back to a fresh run on the same clock; ``{"seed": N}`` reseeds the RNG with N instead of --seed."""
        seed = None
        if (await request.read()).strip():  # no body, no pydantic import: a reset takes milliseconds
            seed = (await read_model(request, "ResetInput")).seed
        await self._reset(seed)
        return {}

    async def template(self, request: web.Request) -> dict[str, Any]:
        """Load a SAM / CloudFormation template into the running emulator, as ``--template`` does at start
        (the pytest plugin's ``deploy(template=...)``): its logical ids and the functions it created."""
        body = await read_model(request, "TemplateInput")
        before = {function.name for function in self._functions}
        try:
            loaded = self._load_template(body.path, body.parameters)
        except ValueError as exc:
            raise ControlError(400, "TemplateError", str(exc)) from exc
        created = [function.name for function in self._functions if function.name not in before]
        return {"loaded": loaded, "functions": created}

    async def queue_messages(self, request: web.Request) -> dict[str, Any]:
        """A queue's messages without receiving them (no receive count, no visibility change): the
        pytest plugin's ``queue_messages(queue)``. ``queue`` is its name, URL or ARN."""
        reference = request.query.get("queue")
        if not reference:
            raise ControlError(400, "ValidationError", "queue is required (a queue name, URL or ARN)")
        store = self._sqs_store()
        try:
            found = store.queue_by_arn(reference) if reference.startswith("arn:") else store.queue_by_url(reference)
        except AwsError:
            found = None
        if found is None:
            raise ControlError(404, "QueueDoesNotExist", f"No queue {reference}")
        now = self._clock.now()
        return {"messages": [{
            "messageId": message.message_id,
            "body": message.body,
            "attributes": message.system_attribute_values(),
            "messageAttributes": _base64_binaries(message.message_attributes),
            "inFlight": message.in_flight(now),
        } for message in found.messages.values() if not message.deleted]}


def _base64_binaries(value: Any) -> Any:
    """Message attributes as JSON: binary values base64-encoded, as SQS's JSON protocol sends them."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _base64_binaries(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_base64_binaries(item) for item in value]
    return value
