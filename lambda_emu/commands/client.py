"""HTTP to a running lambda-emu with the standard library (no boto3: commands start in milliseconds)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:3001"


class Unreachable(Exception):
    """No lambda-emu answers at the endpoint (exit status 3)."""


class EmuError(Exception):
    """lambda-emu answered with an error, or the command cannot go on (exit status 1)."""


def add_endpoint(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    # A nested parser (`clock advance`) must not reset what its parent parsed: no default of its own.
    parser.add_argument("--endpoint", default=argparse.SUPPRESS if nested else None,
                        help=f"lambda-emu's endpoint (default: $LAMBDA_EMU_ENDPOINT, else {DEFAULT_ENDPOINT})")


def endpoint_of(args: argparse.Namespace) -> str:
    chosen = getattr(args, "endpoint", None)
    return (chosen or os.environ.get("LAMBDA_EMU_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


class Client:
    def __init__(self, endpoint: str, timeout: float = 900.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body); 4xx / 5xx are answers, not exceptions."""
        # Imported here: building the parser (which `lambda-emu up` does too) must not pay for urllib.
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.endpoint + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"no lambda-emu at {self.endpoint} ({reason}); start one with `lambda-emu up` "
                              "or point --endpoint / LAMBDA_EMU_ENDPOINT at it") from None

    def get(self, path: str) -> Any:
        return self._json("GET", path, None)

    def post(self, path: str, document: Any) -> Any:
        return self._json("POST", path, json.dumps(document).encode())

    def _json(self, method: str, path: str, body: bytes | None) -> Any:
        status, _, data = self.request(method, path, body, {"Content-Type": "application/json"})
        try:
            document = json.loads(data) if data else None
        except ValueError:
            document = None
        if status >= 400:
            error = (document or {}).get("error") if isinstance(document, dict) else None
            if isinstance(error, dict):
                raise EmuError(f"{error.get('code')}: {error.get('message')}")
            raise EmuError(f"{method} {path} answered {status}: {data[:200].decode(errors='replace')}")
        if document is None and data:
            raise EmuError(f"{self.endpoint} is not lambda-emu ({method} {path} did not answer JSON)")
        return document

    def invocations(self, function_name: str | None = None, request_id: str | None = None,
                    after: int = 0) -> list[dict[str, Any]]:
        """Every journal attempt (all pages) after sequence number ``after``."""
        from urllib.parse import urlencode

        attempts: list[dict[str, Any]] = []
        token = str(after) if after else None
        while True:
            query = {k: v for k, v in (("functionName", function_name), ("requestId", request_id),
                                       ("limit", "1000"), ("nextToken", token)) if v}
            page = self.get("/_emu/invocations?" + urlencode(query))
            attempts.extend(page["invocations"])
            token = page.get("nextToken")
            if not token:
                return attempts
