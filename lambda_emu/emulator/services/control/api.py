"""lambda-emu's own API under /_emu: health, the clock, the journal, deliveries and fault injection.

Inputs are ours, so they are pydantic models (control_inputs.py, imported on the first request that
has a body, to keep pydantic out of start-up); errors are JSON {"error": {"code", "message"}}.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambda_emu import __version__
from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.destinations import Destinations
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.platform.faults import Faults
    from lambda_emu.emulator.platform.journal import Attempt, Journal
    from lambda_emu.emulator.services.control.replay import Replayer
    from lambda_emu.runtime_api.runners.interpreters import Interpreters

Handler = Callable[[web.Request], Awaitable[Any]]
#: A function's log lines: (function name, since, limit) → (lines, the position to go on from).
LogLines = Callable[[str, str | None, int | None], tuple[list[dict[str, str]], str]]

log = get_logger("control")


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def ok(document: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(document).encode(), content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    return ok({"error": {"code": code, "message": message}}, status)


async def read_model(request: web.Request, name: str) -> Any:
    """The body as the pydantic model ``control_inputs.<name>``."""
    from pydantic import ValidationError

    from lambda_emu.emulator.services.control import inputs as control_inputs

    model = getattr(control_inputs, name)
    raw = await request.read()
    try:
        document = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ControlError(400, "InvalidJson", f"Body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ControlError(400, "InvalidJson", "Body is not valid JSON: nested too deeply") from exc
    if not isinstance(document, dict):
        raise ControlError(400, "InvalidJson", "Body must be a JSON object")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise ControlError(400, "ValidationError", problems) from exc


#: The query parameters each of this module's endpoints reads; anything else is a caller's typo
#: (``function=`` for ``functionName=``) that would otherwise silently widen the answer to everything.
#: Routes other services add (add_route) check their own.
QUERY_PARAMETERS: dict[str, frozenset[str]] = {
    "/_emu/health": frozenset(),
    "/_emu/clock": frozenset(),
    "/_emu/clock/advance": frozenset(),
    "/_emu/clock/settle": frozenset(),
    "/_emu/invocations": frozenset({"functionName", "requestId", "limit", "nextToken", "format"}),
    "/_emu/logs": frozenset({"functionName", "since", "limit"}),
    "/_emu/deliveries": frozenset({"target"}),
    "/_emu/faults": frozenset({"functionName"}),
    "/_emu/replay": frozenset(),
    "/_emu/reset": frozenset(),
    "/_emu/template": frozenset(),
    "/_emu/queue-messages": frozenset({"queue"}),
    "/_emu/functions": frozenset(),
}


def check_query(request: web.Request, path: str) -> None:
    accepted = QUERY_PARAMETERS.get(path)
    if accepted is None:
        return
    unknown = sorted(set(request.query) - accepted)
    if unknown:
        allowed = ", ".join(sorted(accepted)) or "none"
        raise ControlError(400, "ValidationError",
                           f"Unknown query parameter(s) {', '.join(unknown)} on {path} (accepted: {allowed})")


def _int_query(request: web.Request, name: str, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ControlError(400, "ValidationError", f"{name} must be an integer from {low} to {high}, not {raw!r}")
    return int(raw)


class ControlService:
    def __init__(self, clock: Clock, journal: Journal, destinations: Destinations, faults: Faults,
                 functions: FunctionRegistry, interpreters: Interpreters, *, runner_name: str) -> None:
        self.clock = clock
        self.journal = journal
        self.destinations = destinations
        self.faults = faults
        self.functions = functions
        self.interpreters = interpreters
        self.runner_name = runner_name
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/_emu/health"): self.health,
            ("GET", "/_emu/clock"): self.get_clock,
            ("POST", "/_emu/clock/advance"): self.advance,
            ("POST", "/_emu/clock/settle"): self.settle,
            ("GET", "/_emu/invocations"): self.invocations,
            ("GET", "/_emu/deliveries"): self.deliveries,
            ("POST", "/_emu/faults"): self.set_faults,
            ("GET", "/_emu/faults"): self.get_faults,
            ("DELETE", "/_emu/faults"): self.delete_faults,
            ("GET", "/_emu/functions"): self.list_functions,
        }

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        handler = self.routes.get((request.method, path))
        if handler is None:
            if any(p == path for (_, p) in self.routes):
                return error_response(405, "MethodNotAllowed", f"{request.method} is not allowed on {path}")
            return error_response(404, "NotFound", f"No lambda-emu endpoint at {path}")
        try:
            check_query(request, path)
            result = await handler(request)
        except ControlError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a fault of lambda-emu's still answers in JSON
            log.exception("control request failed", path=path)
            return error_response(500, "InternalError", f"lambda-emu internal error: {exc}")
        return result if isinstance(result, web.Response) else ok(result)

    async def health(self, _request: web.Request) -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    async def get_clock(self, _request: web.Request) -> dict[str, Any]:
        return self.clock.describe()

    async def advance(self, request: web.Request) -> dict[str, Any]:
        body = await read_model(request, "AdvanceInput")
        await self.clock.advance(body.seconds)
        return {"now": self.clock.describe()["now"]}

    async def settle(self, request: web.Request) -> dict[str, Any]:
        body = await read_model(request, "SettleInput")
        await self.clock.settle(body.maxSeconds)
        return {"now": self.clock.describe()["now"]}

    async def invocations(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The journal: every attempt, in start order, filtered by functionName and requestId; ``limit``
        and ``nextToken`` page through it, ``format=jsonl`` answers one attempt per line."""
        function_name = request.query.get("functionName")
        request_id = request.query.get("requestId")
        limit = _int_query(request, "limit", 1, 100_000)
        after = _int_query(request, "nextToken", 0, 2**63) or 0
        answer_format = request.query.get("format", "json")
        if answer_format not in ("json", "jsonl"):
            raise ControlError(400, "ValidationError", f"format must be json or jsonl, not {answer_format!r}")
        attempts: list[Attempt] = []
        next_token: str | None = None
        for attempt in self.journal.select(function_name, request_id, after):
            if limit is not None and len(attempts) == limit:
                next_token = str(attempts[-1].sequence)
                break
            attempts.append(attempt)
        if answer_format == "jsonl":
            body = "".join(json.dumps(a.to_json()) + "\n" for a in attempts).encode()
            headers = {"X-Emu-Next-Token": next_token} if next_token else {}
            return web.Response(body=body, content_type="application/x-ndjson", headers=headers)
        document: dict[str, Any] = {"invocations": [a.to_json() for a in attempts]}
        if next_token:
            document["nextToken"] = next_token
        return document

    async def deliveries(self, request: web.Request) -> dict[str, Any]:
        """What destinations and DLQs received, in order (every target, SQS included)."""
        target = request.query.get("target")
        return {"deliveries": [d.to_json() for d in self.destinations.query(target)]}

    async def set_faults(self, request: web.Request) -> dict[str, Any]:
        """Set fault rates (only those given) for one function, or without functionName for all."""
        from lambda_emu.emulator.platform.faults import FAULTS

        self._no_query(request)
        body = await read_model(request, "FaultsInput")
        self._known_function(body.functionName)
        rates: dict[str, float] = {name: getattr(body, name) for name in FAULTS if getattr(body, name) is not None}
        if not rates:
            raise ControlError(400, "ValidationError", f"Give at least one fault rate: {', '.join(FAULTS)}")
        self.faults.set_rates(body.functionName, rates)
        return self.faults.to_json()

    async def get_faults(self, request: web.Request) -> dict[str, Any]:
        """Every rate in force; with ?functionName=F, the rates that apply to F."""
        name = request.query.get("functionName")
        if name is None:
            return self.faults.to_json()
        self._known_function(name)
        return {"functionName": name, **self.faults.rates_for(name)}

    async def delete_faults(self, request: web.Request) -> dict[str, Any]:
        """No fault at all; with ?functionName=F, F's own rates go (the rates for every function apply)."""
        name = request.query.get("functionName")
        if name is not None:
            self._known_function(name)
        self.faults.clear(name)
        return self.faults.to_json()

    def _known_function(self, name: str | None) -> None:
        if name is not None and self.functions.find(name) is None:
            raise ControlError(404, "ResourceNotFoundException", f"Function not found: {name}")

    @staticmethod
    def _no_query(request: web.Request) -> None:
        if request.query:
            raise ControlError(400, "ValidationError",
                               "POST /_emu/faults takes the function in its body (functionName), not the query")

    async def list_functions(self, _request: web.Request) -> dict[str, Any]:
        """Each function's sandbox: the runner, the interpreter it really runs on, its requirements and layers."""
        described = []
        for function in self.functions:
            resolution = await asyncio.to_thread(self.interpreters.for_runtime, function.runtime)
            interpreter = None if resolution is None else {
                "path": str(resolution.interpreter.path), "version": resolution.interpreter.version,
                "exact": resolution.exact}
            described.append({
                "functionName": function.name,
                "runtime": function.runtime,
                "runner": self.runner_name,
                "interpreter": interpreter,
                "dependencies": function.dependencies.to_json(),
                "layers": [layer.arn for layer in function.layers],
                "codePath": str(function.code.directory),
                **self._versions(function.name),
            })
        return {"functions": described}

    def _versions(self, name: str) -> dict[str, Any]:
        """A function's published versions and aliases, and the version its latest invocation ran."""
        ran = self.journal.query(name)
        return {
            "versions": [version.version for version in self.functions.versions_of(name)],
            "aliases": {alias.name: alias.configuration() for alias in self.functions.aliases_of(name)},
            "lastExecutedVersion": ran[-1].executed_version if ran else None,
        }


# ---- routes the composition root adds (they use rooms the control service itself doesn't hold) ----


def logs_handler(function_logs: LogLines) -> Handler:
    """``GET /_emu/logs``: a function's log lines (START / END / REPORT included), oldest first, from
    ``since`` on (a position returned as ``nextSince``, or an ISO-8601 platform time): what CloudWatch
    Logs holds of the function's log group."""

    async def logs(request: web.Request) -> dict[str, Any]:
        function_name = request.query.get("functionName")
        if not function_name:
            raise ControlError(400, "ValidationError", "functionName is required")
        limit = _int_query(request, "limit", 1, 100_000)
        try:
            lines, next_since = function_logs(function_name, request.query.get("since"), limit)
        except ValueError as exc:
            raise ControlError(400, "ValidationError", str(exc)) from exc
        return {"functionName": function_name, "lines": lines, "nextSince": next_since}

    return logs


def replay_handler(replayer: Replayer) -> Handler:
    """``POST /_emu/replay``: events sent again through their source (``lambda-emu replay``)."""

    async def replay(request: web.Request) -> dict[str, Any]:
        body = await read_model(request, "ReplayInput")
        if body.fromQueue is not None:
            try:
                results = await replayer.drain(body.fromQueue, body.functionName, body.invocationType)
            except AwsError as exc:
                raise ControlError(exc.status, exc.code, exc.message) from exc
            return {"results": results}
        deliveries = [d.model_dump(exclude_none=True) for d in body.deliveries]
        return {"results": await replayer.replay(deliveries)}

    return replay
