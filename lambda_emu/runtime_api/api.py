"""The Lambda Runtime API (2018-06-01) for execution environments.

One aiohttp application serves every environment, with one listener (a TCP site on its own port) per
environment; the port a request arrived on says which environment is speaking. Each environment's
side is a :class:`RuntimeSession`, an explicit state machine (as AWS's Runtime Interface Emulator
has): which call is legal in which state, and the error for each illegal one. This module knows
nothing of retries: it hands events over and reports what the runtime said.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import functools
import json
from dataclasses import dataclass
from typing import Literal, cast

from aiohttp import web

from lambda_emu.request_guard import RequestGuard

PREFIX = "/2018-06-01"
#: Largest response a runtime may post: 6 MiB + 100 bytes (RIE's MaxPayloadSize; AWS's recorded cap).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100


@dataclass
class RuntimeInvocation:
    """What /next hands to the runtime."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    tenant_id: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
            # awslambdaric hands the handler raw bytes unless the event is declared JSON.
            "Content-Type": "application/json",
        }
        if self.client_context:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        if self.tenant_id:
            headers["Lambda-Runtime-Aws-Tenant-Id"] = self.tenant_id
        return headers


@dataclass
class RuntimeReply:
    """What the runtime said about one invocation (or about its init)."""

    kind: Literal["response", "error", "init_error", "too_large"]
    body: bytes = b""
    error_type: str | None = None


class State(enum.Enum):
    INITIALIZING = "initializing"  # process started, no /next yet
    IDLE = "idle"  # /next may be pending; no invocation handed out
    INVOKING = "invoking"  # an invocation was handed out; waiting for response/error
    FAILED = "failed"  # init error reported
    CLOSED = "closed"


class RuntimeSession:
    """The Runtime API as one environment sees it."""

    def __init__(self) -> None:
        self.state = State.INITIALIZING
        loop = asyncio.get_running_loop()
        #: Resolves with None on the first /next (init done) or with the init error reply.
        self.init_done: asyncio.Future[RuntimeReply | None] = loop.create_future()
        self._pending: RuntimeInvocation | None = None
        self._waiter: asyncio.Future[RuntimeInvocation] | None = None
        self._current: RuntimeInvocation | None = None
        self._reply: asyncio.Future[RuntimeReply] | None = None
        self.port: int | None = None
        #: The HTTP request of the /next that waits now (a second one is refused while it is connected).
        self.next_request: web.Request | None = None
        # The last few answered request IDs: a second post for one of them is a state error, not an unknown ID.
        self._answered: collections.deque[str] = collections.deque(maxlen=16)

    # ---- the environment's side ----

    def submit(self, invocation: RuntimeInvocation) -> asyncio.Future[RuntimeReply]:
        """Hand an invocation to the runtime; the future resolves with its reply."""
        if self.state is not State.IDLE or self._pending is not None or self._reply is not None:
            raise RuntimeError(f"environment is {self.state.value}, cannot take an invocation")
        self._reply = asyncio.get_running_loop().create_future()
        if self._waiter is not None and not self._waiter.done():
            self._hand_out(invocation)
            self._waiter.set_result(invocation)
            self._waiter = None
        else:
            self._pending = invocation
        return self._reply

    def is_pending(self, request_id: str) -> bool:
        """True while the invocation waits for the runtime's next /next (not handed out yet)."""
        return self._pending is not None and self._pending.request_id == request_id

    def close(self) -> None:
        self.state = State.CLOSED
        if self._waiter is not None and not self._waiter.done():
            # An error, not a cancellation: a CancelledError in a handler must only ever mean that the
            # handler itself is being cancelled (the server shutting down), never be answered.
            self._waiter.set_exception(EnvironmentClosed("Environment shut down"))
        if not self.init_done.done():
            self.init_done.cancel()

    def _hand_out(self, invocation: RuntimeInvocation) -> None:
        self._current = invocation
        self.state = State.INVOKING

    def _resolve(self, reply: RuntimeReply) -> None:
        future, self._reply = self._reply, None
        if self._current is not None:
            self._answered.append(self._current.request_id)
        self._current = None
        self.state = State.IDLE
        if future is not None and not future.done():
            future.set_result(reply)

    # ---- the runtime's side (HTTP handlers call these) ----

    async def next(self) -> RuntimeInvocation:
        if self.state is State.INITIALIZING:
            self.state = State.IDLE
            if not self.init_done.done():
                self.init_done.set_result(None)
        elif self.state is State.INVOKING:
            # The runtime asked for more work without answering the current invocation.
            raise InvalidStateTransition("next is not allowed while an invocation is in progress")
        elif self.state in (State.FAILED, State.CLOSED):
            raise InvalidStateTransition(f"next is not allowed after {self.state.value}")
        if self._waiter is not None and not self._waiter.done():
            # Two pollers on one environment: the event goes to the one that asked first, never stolen.
            raise InvalidStateTransition("next is not allowed while another next is waiting for this environment")
        if self._pending is not None:
            invocation, self._pending = self._pending, None
            self._hand_out(invocation)
            return invocation
        self._waiter = asyncio.get_running_loop().create_future()
        return await self._waiter

    def abandon_next(self) -> None:
        """The waiting /next's connection is gone: stop waiting for it (nothing was handed out)."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
        self._waiter = None

    def respond(self, request_id: str, reply: RuntimeReply) -> None:
        if self._current is None or self._current.request_id != request_id:
            if request_id in self._answered:
                raise InvalidStateTransition("a response or error was already posted for this invocation")
            raise InvalidRequestId()
        self._resolve(reply)

    def init_error(self, reply: RuntimeReply) -> None:
        if self.state is not State.INITIALIZING:
            raise InvalidStateTransition("init error is only allowed during init")
        self.state = State.FAILED
        if not self.init_done.done():
            self.init_done.set_result(reply)


class RuntimeApiError(Exception):
    status = 500
    error_type = "InternalServerError"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message or self.error_type


class EnvironmentClosed(RuntimeApiError):
    """The environment shut down while its runtime waited for work."""


class InvalidRequestId(RuntimeApiError):
    status = 400
    error_type = "InvalidRequestID"

    def __init__(self) -> None:
        super().__init__("Invalid request ID")


class InvalidStateTransition(RuntimeApiError):
    status = 403
    error_type = "InvalidStateTransition"


def _error(status: int, error_type: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"errorType": error_type, "errorMessage": message}).encode(),
        content_type="application/json",
    )


def _accepted() -> web.Response:
    return web.Response(status=202, body=b'{"status":"OK"}\n', content_type="application/json")


def _too_large(session: RuntimeSession, request_id: str) -> web.Response:
    """The invocation fails with Function.ResponseSizeTooLarge; the runtime is told why."""
    session.respond(request_id, RuntimeReply("too_large"))
    return _error(413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).")


async def _unrouted(resources: list[web.AbstractResource], request: web.Request) -> web.StreamResponse:
    """What aiohttp's router answers a request none of ``resources`` takes: 405 naming the methods
    the path allows, else 404."""
    allowed: set[str] = set()
    for resource in resources:
        _match, methods = await resource.resolve(request)
        allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


class RuntimeApiServer:
    """The listeners: ``open(session)`` binds a new port on 127.0.0.1 for one environment."""

    def __init__(self, host: str = "127.0.0.1", guard: RequestGuard | None = None) -> None:
        self.host = host
        self._guard = guard or RequestGuard(host)
        self._sessions: dict[int, RuntimeSession] = {}
        self._sites: dict[int, web.TCPSite] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        # The guard wraps each route rather than running as aiohttp middleware: the same checks without
        # aiohttp's per-request middleware chain, on the two requests of every warm invoke.
        guarded = self._guard.guarded
        app = web.Application(client_max_size=MAX_RESPONSE_BYTES + 1024 * 1024)
        app.router.add_get(PREFIX + "/runtime/invocation/next", guarded(self._next))
        app.router.add_post(PREFIX + "/runtime/invocation/{request_id}/response", guarded(self._response))
        app.router.add_post(PREFIX + "/runtime/invocation/{request_id}/error", guarded(self._error))
        app.router.add_post(PREFIX + "/runtime/init/error", guarded(self._init_error))
        # Every other path or method: aiohttp's own 404 / 405, after the guard as before.
        app.router.add_route("*", "/{tail:.*}", guarded(functools.partial(_unrouted, list(app.router.resources()))))
        # A stop never waits for a runtime's open request (the runtimes are ended first anyway).
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.25)
        await self._runner.setup()

    async def stop(self) -> None:
        for session in self._sessions.values():
            session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._sessions.clear()
        self._sites.clear()

    async def open(self, session: RuntimeSession) -> int:
        assert self._runner is not None, "RuntimeApiServer.start() first"
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = cast(asyncio.Server, site._server)  # noqa: SLF001 - the bound port; started, so set
        port: int = server.sockets[0].getsockname()[1]
        self._sessions[port] = session
        self._sites[port] = site
        session.port = port
        return port

    async def close(self, session: RuntimeSession) -> None:
        session.close()
        if session.port is None:
            return
        self._sessions.pop(session.port, None)
        site = self._sites.pop(session.port, None)
        if site is not None:
            await site.stop()

    def _session(self, request: web.Request) -> RuntimeSession:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        session = self._sessions.get(sockname[1]) if sockname else None
        if session is None:
            raise RuntimeApiError("No execution environment on this port")
        return session

    async def _next(self, request: web.Request) -> web.StreamResponse:
        try:
            session = self._session(request)
            waiting = session.next_request
            if waiting is not None and (waiting.transport is None or waiting.transport.is_closing()):
                session.abandon_next()  # its runtime hung up; this one may wait instead
            # This request is the one waiting (in this coroutine, not one more per /next).
            pending = session.next()
            if session.next_request is None:
                session.next_request = request
            try:
                invocation = await pending
            finally:
                if session.next_request is request:
                    session.next_request = None
        except RuntimeApiError as exc:
            return _error(exc.status, exc.error_type, exc.message)
        return web.Response(body=invocation.payload, headers=invocation.headers())

    async def _response(self, request: web.Request) -> web.Response:
        return await self._reply(request, "response")

    async def _error(self, request: web.Request) -> web.Response:
        return await self._reply(request, "error")

    async def _reply(self, request: web.Request, kind: Literal["response", "error"]) -> web.Response:
        request_id = request.match_info["request_id"]
        try:
            session = self._session(request)
            too_large = request.content_length is not None and request.content_length > MAX_RESPONSE_BYTES
            body = b"" if too_large else await request.read()
            if too_large or len(body) > MAX_RESPONSE_BYTES:
                return _too_large(session, request_id)
            session.respond(request_id, RuntimeReply(
                kind,
                body,
                error_type=request.headers.get("Lambda-Runtime-Function-Error-Type"),
            ))
        except web.HTTPRequestEntityTooLarge:
            return _too_large(session, request_id)
        except RuntimeApiError as exc:
            return _error(exc.status, exc.error_type, exc.message)
        return _accepted()

    async def _init_error(self, request: web.Request) -> web.Response:
        try:
            session = self._session(request)
            body = await request.read()
            session.init_error(RuntimeReply(
                "init_error", body, error_type=request.headers.get("Lambda-Runtime-Function-Error-Type")
            ))
        except RuntimeApiError as exc:
            return _error(exc.status, exc.error_type, exc.message)
        return _accepted()
