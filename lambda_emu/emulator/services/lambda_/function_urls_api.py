"""Function URLs: the Create/Get/Update/Delete/ListFunctionUrlConfigs operations and the URL itself.

A function URL is served on lambda-emu's own port in two forms (docs/aws-behaviour.md §Function URLs):
the path form ``http://127.0.0.1:PORT/lambda-url/<url-id>/<path>`` (what ``FunctionUrl`` answers: every
client reaches it), and the host form, a request whose ``Host`` is ``<url-id>.lambda-url.<region>.localhost``
(AWS's ``<url-id>.lambda-url.<region>.on.aws``, on a loopback name the request guard admits). A request to
it invokes the function with AWS's payload format 2.0 event and maps the result to the HTTP response as
AWS does. ``AuthType: AWS_IAM`` is accepted and not enforced; ``InvokeMode: RESPONSE_STREAM`` is answered
buffered. Configurations live on the function (``Function.url_configs``), so ``--state-dir`` keeps them.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambda_emu.emulator.platform.errors import AwsError, resource_conflict, resource_not_found
from lambda_emu.emulator.protocol import context
from lambda_emu.emulator.services import pagination

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.invoker import Invoker

#: The path prefix of the path form, and the host form's pattern.
PATH_PREFIX = "/lambda-url/"
_HOST = re.compile(r"^(?P<id>[a-z0-9]{32})\.lambda-url\.[a-z0-9-]+\.localhost(?::\d+)?$")
#: Content types AWS passes as text in the event (anything else is base64 with isBase64Encoded).
_TEXT_TYPES = re.compile(r"^(text/.*|application/(json|javascript|xml|x-www-form-urlencoded|.*\+json|.*\+xml))$")


def url_id_of(request: web.Request) -> tuple[str, str] | None:
    """(url id, the path the function sees) when the request is for a function URL, else None."""
    host = request.headers.get("Host", "").lower()
    # Every request passes here: the pattern is tried only on a host that can match it.
    found = _HOST.match(host) if ".lambda-url." in host else None
    if found is not None:
        return found["id"], request.path
    if request.path.startswith(PATH_PREFIX):
        url_id, _, rest = request.path[len(PATH_PREFIX):].partition("/")
        return url_id, "/" + rest
    return None


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def no_function() -> AwsError:
    return resource_not_found("Function does not exist")


def no_config() -> AwsError:
    return resource_not_found("The resource you requested does not exist.")


class FunctionUrlsApi:
    """Mixed into LambdaService (which provides ``functions``, ``invoker``, ``clock``, ``region``,
    ``account_id``, ``endpoint``)."""

    functions: FunctionRegistry
    invoker: Invoker
    region: str
    account_id: str
    endpoint: Callable[[], str]

    # ---- the configuration operations ----

    def _url_function(self, params: dict[str, Any], *, missing: Callable[[], AwsError]) -> tuple[Function, str]:
        """The function a URL operation names and its qualifier ("" unqualified)."""
        name, found = self.functions.qualified(params["FunctionName"], params.get("Qualifier"))
        qualifier = found or ""
        function = self.functions.find(name)
        if function is None:
            raise missing()
        # A URL is the function's ("" or $LATEST) or an alias's; the configuration lives on the function.
        if qualifier not in ("", "$LATEST") and self.functions.alias(name, qualifier) is None:
            raise missing()
        return function, qualifier

    def _url_shape(self, function: Function, qualifier: str, *keys: str) -> dict[str, Any]:
        config = function.url_configs[qualifier]
        shape: dict[str, Any] = {
            "FunctionUrl": f"{self.endpoint()}{PATH_PREFIX}{config['UrlId']}/",
            "FunctionArn": function.arn + (f":{qualifier}" if qualifier else ""),
            "AuthType": config["AuthType"],
        }
        if config.get("Cors"):
            shape["Cors"] = config["Cors"]
        shape["CreationTime"] = config["CreationTime"]
        for key in keys:
            if config.get(key) is not None:
                shape[key] = config[key]
        return shape

    def CreateFunctionUrlConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._url_function(params, missing=no_function)
        if qualifier in function.url_configs:
            arn = function.arn + (f":{qualifier}" if qualifier else "")
            raise resource_conflict(f"Failed to create function url config for [functionArn = {arn}]. Error message:"
                                    "  FunctionUrlConfig exists for this Lambda function")
        now = _timestamp(time.time())
        function.url_configs[qualifier] = {
            "UrlId": "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32)),
            "AuthType": params["AuthType"], "Cors": params.get("Cors") or None, "CreationTime": now,
            "LastModifiedTime": now, "InvokeMode": params.get("InvokeMode") or "BUFFERED",
            "InvokeModeGiven": bool(params.get("InvokeMode")),
        }
        self.functions.saved(function)
        shape = self._url_shape(function, qualifier)
        if params.get("InvokeMode"):
            shape["InvokeMode"] = params["InvokeMode"]
        return shape

    def GetFunctionUrlConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._url_function(params, missing=no_config)
        if qualifier not in function.url_configs:
            raise no_config()
        return self._url_shape(function, qualifier, "LastModifiedTime", "InvokeMode")

    def UpdateFunctionUrlConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._url_function(params, missing=no_function)
        config = function.url_configs.get(qualifier)
        if config is None:
            raise no_config()
        for key in ("AuthType", "Cors", "InvokeMode"):
            if key in params:
                config[key] = params[key] or None
        config["InvokeMode"] = config.get("InvokeMode") or "BUFFERED"
        config["InvokeModeGiven"] = bool(config.get("InvokeModeGiven") or params.get("InvokeMode"))
        config["LastModifiedTime"] = _timestamp(time.time())
        self.functions.saved(function)
        shape = self._url_shape(function, qualifier, "LastModifiedTime")
        if config["InvokeModeGiven"]:
            # Once an InvokeMode was given, AWS's update answers carry it, even an update that names none
            # (recorded in LocalStack's test_lambda_update_function_url_config); never given: absent.
            shape["InvokeMode"] = config["InvokeMode"]
        return shape

    def DeleteFunctionUrlConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._url_function(params, missing=no_config)
        if function.url_configs.pop(qualifier, None) is None:
            raise no_config()
        self.functions.saved(function)
        return {}

    def ListFunctionUrlConfigs(self, params: dict[str, Any]) -> dict[str, Any]:
        function, _ = self._url_function({"FunctionName": params["FunctionName"]}, missing=no_function)
        qualifiers = sorted(function.url_configs)
        return pagination.listing("FunctionUrlConfigs", qualifiers, params, 50,
                                  lambda q: self._url_shape(function, q, "LastModifiedTime", "InvokeMode"))

    # ---- the URL ----

    def _by_url_id(self, url_id: str) -> tuple[Function, str] | None:
        for function in self.functions:
            for qualifier, config in function.url_configs.items():
                if config["UrlId"] == url_id:
                    return function, qualifier
        return None

    def serve_url(self, request: web.Request) -> Awaitable[web.StreamResponse] | None:
        """The front door's hook: a function URL's answer (to await), or None for any other request, told
        without a coroutine: every request of every service passes here."""
        target = url_id_of(request)
        if target is None:
            return None
        return self._serve_url(request, *target)

    async def _serve_url(self, request: web.Request, url_id: str, path: str) -> web.StreamResponse:
        found = self._by_url_id(url_id)
        request_id = context.request_id.get() or context.new_request_id()
        headers = {"x-amzn-RequestId": request_id}
        if found is None:
            return web.json_response({"Message": None}, status=403, headers={**headers, "x-amzn-ErrorType":
                                                                            "AccessDeniedException"})
        function, qualifier = found
        body = await request.read()
        event = url_event(request, url_id, path, body, region=self.region, request_id=request_id)
        invoked_arn = function.arn + (f":{qualifier}" if qualifier else "")
        if qualifier not in ("", "$LATEST"):
            # An alias's URL runs the alias's version (a weighted alias draws it, as Invoke does).
            function = self.functions.pick(self.functions.resolve(function.name, qualifier))
        result = await self.invoker.invoke(function, json.dumps(event).encode(), request_id=request_id,
                                           source="sync", invoked_arn=invoked_arn,
                                           source_detail={"functionUrl": str(request.url)})
        if result.kind == "throttled":
            return web.json_response({"Message": "Rate Exceeded."}, status=429, headers=headers)
        if result.kind != "success" or result.function_error:
            return web.Response(status=502, text="Internal Server Error", content_type="text/plain",
                                headers=headers)
        return url_response(result.payload or b"", headers)


def url_event(request: web.Request, url_id: str, path: str, body: bytes, *, region: str,
              request_id: str) -> dict[str, Any]:
    """AWS's function URL event (payload format 2.0); ``accountId`` is "anonymous", as for AuthType NONE
    (lambda-emu authenticates no caller, AWS_IAM included)."""
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        name = key.lower()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    # AWS's front end ends the client's connection itself (no hop-by-hop `connection` reaches the function)
    # and says how the client came in; AWS's front end also merges repeated slashes in the path.
    headers.pop("connection", None)
    headers.setdefault("x-forwarded-proto", request.scheme)
    port = request.url.port
    if port is not None:
        headers.setdefault("x-forwarded-port", str(port))
    path = re.sub(r"/{2,}", "/", path)
    now = time.time()
    raw_query = request.query_string
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if request.query:
        query: dict[str, str] = {}
        for key, value in request.query.items():
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": "anonymous", "apiId": url_id, "domainName": f"{url_id}.lambda-url.{region}.on.aws",
        "domainPrefix": url_id,
        "http": {"method": request.method, "path": path, "protocol": f"HTTP/{request.version.major}."
                 f"{request.version.minor}", "sourceIp": request.remote or "127.0.0.1",
                 "userAgent": request.headers.get("User-Agent", "")},
        "requestId": request_id, "routeKey": "$default", "stage": "$default",
        "time": datetime.fromtimestamp(now, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if body:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        text = _TEXT_TYPES.match(content_type) is not None
        if text:
            try:
                event["body"] = body.decode()
            except UnicodeDecodeError:
                text = False
        if not text:
            event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    return event


def url_response(payload: bytes, headers: dict[str, str]) -> web.Response:
    """The function's result as AWS maps it: a dict with statusCode is a response; anything else is the
    body of a 200 application/json response."""
    try:
        result = json.loads(payload) if payload else None
    except ValueError:
        result = None
    if not isinstance(result, dict) or "statusCode" not in result:
        # AWS writes the value back out: a string as its bare text, anything else as compact JSON
        # (LocalStack's AWS-recorded test_lambda_url_invocation: "hello", ["hello",3,true], {"hello":"world"}).
        if isinstance(result, str):
            payload = result.encode()
        elif isinstance(result, (dict, list)):
            payload = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
        return web.Response(status=200, body=payload, headers={**headers, "Content-Type": "application/json"})
    out = dict(headers)
    for key, value in (result.get("headers") or {}).items():
        out[str(key)] = str(value)
    body = result.get("body")
    data: bytes
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        data = base64.b64decode(str(body))
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    if not any(k.lower() == "content-type" for k in out):
        out["Content-Type"] = "application/json"
    response = web.Response(status=int(result["statusCode"]), body=data, headers=out)
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    return response
