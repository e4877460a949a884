"""One aiohttp app on one port: every AWS API lambda-emu speaks, plus its own /_emu control endpoints.

A request is routed by what the client sent, the way AWS's front doors tell them apart, in this
order: ``/_emu/...`` → control; CBOR → the JSON-protocol service in CBOR (``protocol/cbor.py``; Java
SDKs send ``X-Amz-Target`` with CBOR too, so the content type decides first); ``X-Amz-Target`` → a
JSON-protocol service (SQS, Kinesis); a Lambda rest-json route; else a form-encoded ``Action`` → the
query protocol, served by the service named in the SigV4 credential scope (``…/us-east-1/iam/aws4_request``),
else by the one whose API ``Version`` the request names, else by the first query service (SQS).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from lambda_emu.emulator.platform.errors import AwsError
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.protocol import context, json_rpc
from lambda_emu.emulator.protocol.json_rpc import JsonRpcProtocol
from lambda_emu.emulator.protocol.rest_json import RestJsonRouter, Route
from lambda_emu.emulator.protocol.rest_json import render_error as render_rest_json_error
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.protocol.shapes import service_model
from lambda_emu.emulator.services.control.api import ControlService

log = get_logger("server")

# Lambda's largest request is a 50 MB zip, base64-encoded in JSON; bodies beyond this are refused early.
MAX_BODY = 80 * 1024 * 1024
#: Lambda's limit on a request that uploads a zip: 413 RequestEntityTooLargeException "Request must be
#: smaller than 70167211 bytes for the <operation> operation" (recorded for CreateFunction; AWS words
#: UpdateFunctionCode and PublishLayerVersion the same way). It is under MAX_BODY, so these operations
#: answer it for every body over it, however large, without reading the body.
MAX_CODE_REQUEST = 70167211
CODE_UPLOADS = frozenset({"CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"})


#: A function URL's handler: the response to await, or None (at once) when the request is for no function URL.
FunctionUrls = Callable[[web.Request], Awaitable[web.StreamResponse] | None]


class Frontend:
    """The request router: lazily builds each service's protocol handler from botocore's model."""

    def __init__(self, lambda_: Service, control: ControlService, json_apis: Mapping[str, Callable[[], Service]],
                 query_apis: Mapping[str, Callable[[], Service]],
                 function_urls: FunctionUrls | None = None) -> None:
        self.lambda_ = lambda_
        #: Function URLs (services/lambda_/function_urls_api.py): (request) → response, or None when the
        #: request is not for a function URL.
        self.function_urls = function_urls
        self.control = control
        #: The JSON-protocol services by name (SQS, Kinesis), each built on first use.
        self.json_apis = json_apis
        #: The services spoken over the query protocol by botocore name (SQS, IAM, STS), each built on first
        #: use; the first answers query requests that name no other.
        self.query_apis = query_apis
        self._query_versions: dict[str, str] | None = None
        self._lambda: RestJsonRouter | None = None
        self._json: dict[str, JsonRpcProtocol] = {}

    @property
    def lambda_router(self) -> RestJsonRouter:
        if self._lambda is None:
            self._lambda = RestJsonRouter(service_model("lambda"), self.lambda_)
        return self._lambda

    def json_protocol(self, prefix: str) -> JsonRpcProtocol | None:
        if not self._json:
            for name, api in self.json_apis.items():
                protocol = JsonRpcProtocol(service_model(name), api())
                self._json[protocol.prefix] = protocol
        return self._json.get(prefix)

    def query_service(self, request: web.Request, body: bytes) -> Service:
        """The query-protocol service a request is for: the credential scope's service name, else the
        API version the request names (SQS 2012-11-05, IAM 2010-05-08, STS 2011-06-15), else the first."""
        _key, scope = context.signing_scope(request.headers.get("Authorization", ""),
                                            request.query.get("X-Amz-Credential", ""))
        name = scope if scope in self.query_apis else ""
        if not name:
            version = request.query.get("Version") or _form_value(body, "Version")
            if version:
                if self._query_versions is None:
                    self._query_versions = {service_model(n).api_version: n for n in self.query_apis}
                name = self._query_versions.get(version, "")
        return self.query_apis[name or next(iter(self.query_apis))]()

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        context.request_id.set(context.new_request_id())
        context.trace_header.set(request.headers.get("X-Amzn-Trace-Id", ""))
        authorization = request.headers.get("Authorization", "")
        # A presigned URL's credential is read only when the header has none (the header's wins).
        context.region.set(context.signing_region(
            authorization, "" if "Credential=" in authorization else request.query.get("X-Amz-Credential", "")))
        if request.path.startswith("/_emu/") or request.path == "/_emu":
            return await self.control.handle(request)
        if self.function_urls is not None:
            served = self.function_urls(request)
            if served is not None:
                return await served
        target = request.headers.get("X-Amz-Target", "")
        renderer = render_rest_json_error
        try:
            media_type = _media_type(request)
            # Lambda's route, matched once: it tells a code upload's body limit and then serves the call.
            found = (None if target or media_type == json_rpc.CBOR_CONTENT_TYPE
                     else self.lambda_router.match(request))
            body = await _read_body(request, _code_upload(request, found))
            # The Java SDKs' CBOR: the content type decides before X-Amz-Target (they send both).
            if media_type == json_rpc.CBOR_CONTENT_TYPE:
                protocol = self.json_protocol(target.split(".", 1)[0]) if target else None
                if protocol is None or not protocol.knows(target):
                    return json_rpc.cbor_bare_error("UnknownOperationException")
                renderer = protocol.render_cbor_error
                return await protocol.handle(target, body, binary=True)
            if target:
                protocol = self.json_protocol(target.split(".", 1)[0])
                if media_type not in JSON_PROTOCOL_TYPES or (protocol and media_type != protocol.content_type):
                    # Not the service's own JSON: Coral's bare answers (an SDK never sends this).
                    return json_rpc.unreadable_media(media_type, target, body,
                                                     protocol is not None and protocol.knows(target))
                if protocol is None:
                    return json_rpc.bare_error(media_type, "UnknownOperationException")
                renderer = protocol.render_error
                return await protocol.handle(target, body)
            # Lambda's routes first: a form post to one of them is refused as Lambda would (415), not
            # taken for an SQS query call.
            if found is None and _is_query_request(request, request.content_type):
                from lambda_emu.emulator.protocol import query

                return await query.handle_query_request(request, self.query_service(request, body), body)
            if found is None and request.method == "GET" and _is_queue_url(request.path):
                from lambda_emu.emulator.protocol import query

                return query.unknown_operation()  # a GET on an SQS queue URL without an Action
            if found is None:
                raise AwsError("UnknownOperationException", f"No AWS operation at {request.method} {request.path}",
                               404, fields={"Type": "User"})
            route, labels = found
            if media_type not in REST_JSON_TYPES:
                raise AwsError("UnsupportedMediaTypeException", _wrong_media_type(request, REST_JSON_TYPES), 415,
                               fields={"Type": "User"})
            return await self.lambda_router.handle(request, route, labels, body)
        except AwsError as error:
            return renderer(error)
        except web.HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad request never takes the server down
            log.exception("request failed", path=request.path)
            return renderer(AwsError("ServiceException", f"lambda-emu internal error: {exc}", 500,
                                     sender_fault=False, fields={"Type": "Service"}))


#: What AWS SDKs send with JSON-protocol calls (X-Amz-Target): SQS 1.0, Kinesis 1.1.
JSON_PROTOCOL_TYPES = ("application/x-amz-json-1.0", "application/x-amz-json-1.1")
#: What AWS SDKs send with Lambda's rest-json calls: nothing (no body; botocore with a streamed body),
#: JSON (botocore, the Node SDK, older SDKs' amz-json) or octet-stream (Invoke from the Node, Go and Java
#: SDKs). Never text/plain, form or multipart data: those a web page can send cross-origin unasked.
REST_JSON_TYPES = ("", "application/json", "application/x-amz-json-1.0", "application/x-amz-json-1.1",
                   "application/octet-stream", "binary/octet-stream")


def _code_upload(request: web.Request, found: tuple[Route, dict[str, str]] | None) -> str | None:
    """The Lambda operation a request uploads code with (CODE_UPLOADS), told from its method and route
    before its body is read; None for any other request."""
    if found is None or request.method not in ("POST", "PUT"):
        return None
    name = found[0].op.name
    return name if name in CODE_UPLOADS else None


def _media_type(request: web.Request) -> str:
    """The Content-Type's media type as sent ("" when absent; aiohttp's content_type defaults it)."""
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _wrong_media_type(request: web.Request, accepted: tuple[str, ...]) -> str:
    sent = request.headers.get("Content-Type", "")
    names = ", ".join(t for t in accepted if t)
    return (f"lambda-emu does not accept Content-Type {sent!r} here: AWS SDKs send {names}"
            + (" or none" if "" in accepted else "") + ".")


def _form_value(body: bytes, name: str) -> str:
    from urllib.parse import parse_qsl

    try:
        return dict(parse_qsl(body.decode("utf-8"))).get(name, "")
    except UnicodeDecodeError:
        return ""


def _is_query_request(request: web.Request, content_type: str) -> bool:
    if content_type == "application/x-www-form-urlencoded":
        return True
    return request.method == "GET" and "Action" in request.query


def _is_queue_url(path: str) -> bool:
    """``/<12-digit account>/<name>`` (or ``/queue/<region>/<account>/<name>``): an SQS queue URL's path."""
    segments = [s for s in path.split("/") if s]
    return len(segments) in (2, 4) and len(segments[-2]) == 12 and segments[-2].isdigit() and (
        len(segments) == 2 or segments[0] == "queue")


async def _read_body(request: web.Request, code_upload: str | None = None) -> bytes:
    """The request's body, refused unread when its Content-Length is over the limit: Lambda's own for an
    operation that uploads code (``code_upload``), else lambda-emu's (MAX_BODY) for every service. A
    body sent without a length is never read past MAX_BODY (aiohttp's client_max_size)."""
    limit = MAX_CODE_REQUEST if code_upload else MAX_BODY
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(code_upload)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(code_upload) from exc
    if len(body) > limit:
        raise _too_large(code_upload)
    return body


def _too_large(code_upload: str | None) -> AwsError:
    if code_upload:
        # Unmodeled in Lambda's model: no Type in the body (recorded).
        return AwsError("RequestEntityTooLargeException",
                        f"Request must be smaller than {MAX_CODE_REQUEST} bytes for the {code_upload} operation", 413)
    return AwsError("RequestTooLargeException", f"Request must be smaller than {MAX_BODY} bytes", 413,
                    fields={"Type": "User"})


def build_app(frontend: Frontend, on_cleanup: Callable[[], Awaitable[None]],
              guard: Callable[[Handler], Handler] | None = None,
              before_answer: Callable[[], None] | None = None) -> web.Application:
    """The aiohttp application; ``on_cleanup`` stops the rooms behind it; ``guard`` wraps the one route
    that takes every request (the request guard runs first); ``before_answer`` runs before any
    response's first byte is sent (--state-dir: what the request changed is then on disk)."""
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/{tail:.*}", frontend.dispatch if guard is None else guard(frontend.dispatch))
    if before_answer is not None:
        commit = before_answer

        async def prepare(_request: web.Request, _response: web.StreamResponse) -> None:
            commit()

        app.on_response_prepare.append(prepare)

    async def cleanup(_app: web.Application) -> None:
        await on_cleanup()

    app.on_cleanup.append(cleanup)
    return app


#: How long a stop lets a request handler finish before cancelling it (seconds).
STOP_GRACE_SECONDS = 0.25


async def stop_serving(runner: web.AppRunner) -> None:
    """Stop at once (SIGTERM, Ctrl-C): every open connection is closed — callers in flight, a half-sent
    request, an idle keep-alive — then every room stops (environments and their processes end)."""
    server = runner.server
    if server is not None:
        for handler in server.connections:
            if handler.transport is not None:
                handler.transport.abort()
    await runner.cleanup()
