"""Who may talk to lambda-emu: the check every listener (the main port, every Runtime API port) runs
before anything else.

lambda-emu runs code it is given, so a web page the developer visits must not be able to reach it:

- a DNS-rebinding page reaches 127.0.0.1 under its own name, so the ``Host`` header must be a loopback
  name or address, the ``--host`` lambda-emu serves on, or a name allowed with ``--allow-host``;
- a browser names the page that sent a request in ``Origin`` and, in ``Sec-Fetch-Site``, whether it
  came from another site: a non-loopback origin (unless allowed with ``--allow-origin``) and any
  cross-site request are refused.

Refusals are a 403 with a plain-text message naming the flag that would allow the request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_MAX_REMEMBERED_HOSTS = 256



def _hostname(value: str) -> str:
    """The name in a Host header or an origin's authority, without port or IPv6 brackets, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RequestGuard:
    """The Host / Origin / Sec-Fetch-Site policy of one run."""

    def __init__(self, serve_host: str = "127.0.0.1", allow_hosts: Iterable[str] = (),
                 allow_origins: Iterable[str] = ()) -> None:
        self.hosts = {_hostname(serve_host)} | {_hostname(host) for host in allow_hosts}
        # Unspecified addresses are where lambda-emu listens, never a name a client asks for.
        self.hosts -= {"0.0.0.0", "::", ""}
        self.origins = {origin.strip().rstrip("/").lower() for origin in allow_origins}
        #: Host header -> verdict: every request carries one of a few (127.0.0.1:PORT), and parsing it
        #: as an address each time was a measurable share of a warm invoke's three requests.
        self._host_verdicts: dict[str, bool] = {}

    def host_allowed(self, host: str | None) -> bool:
        if host is None:
            return True  # HTTP/1.0 without Host: no browser sends that
        allowed = self._host_verdicts.get(host)
        if allowed is None:
            name = _hostname(host)
            allowed = is_loopback(name) or name in self.hosts
            if len(self._host_verdicts) >= _MAX_REMEMBERED_HOSTS:
                self._host_verdicts.clear()  # a client inventing names never grows it without bound
            self._host_verdicts[host] = allowed
        return allowed

    def origin_allowed(self, origin: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and is_loopback(_hostname(parts.netloc))

    def refusal(self, request: web.Request) -> str | None:
        """Why the request is refused (the message the caller gets), or None when it may proceed."""
        host = request.headers.get("Host")
        if not self.host_allowed(host):
            name = _hostname(host or "")
            return (f"lambda-emu refused this request: its Host header {host!r} is not a loopback name or "
                    f"address, nor the --host lambda-emu serves on (a DNS-rebinding web page looks like this). "
                    f"If you reach lambda-emu under this name on purpose, start it with --allow-host {name}\n")
        origin = request.headers.get("Origin")
        if origin is not None:
            if self.origin_allowed(origin):
                return None  # an allowed page may call from its own site
            return (f"lambda-emu refused this request: it was sent by a web page at Origin {origin!r}, which is "
                    f"not a loopback origin. If that page may call lambda-emu, start it with "
                    f"--allow-origin {origin.strip()}\n")
        if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
            return ("lambda-emu refused this request: a browser sent it from another site "
                    "(Sec-Fetch-Site: cross-site). If that page may call lambda-emu, start lambda-emu with "
                    "--allow-origin ORIGIN (the page's origin)\n")
        return None

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` behind the guard: every route of a listener is wrapped (a catch-all route takes
        what no other does), which checks every request as an aiohttp middleware would, without
        aiohttp's per-request middleware chain (two more coroutine layers on every call, a measurable
        share of a warm invoke)."""
        refusal_of = self.refusal
        verdicts = self._host_verdicts

        async def guard(request: web.Request) -> web.StreamResponse:
            headers = request.headers
            # The usual request (a remembered loopback Host, no browser headers) goes straight through;
            # anything else gets the whole check.
            host = headers.get("Host")
            if ((host is None or verdicts.get(host) is True) and "Origin" not in headers
                    and "Sec-Fetch-Site" not in headers):
                return await handler(request)
            refusal = refusal_of(request)
            if refusal is not None:
                return web.Response(status=403, text=refusal, content_type="text/plain")
            return await handler(request)

        return guard
