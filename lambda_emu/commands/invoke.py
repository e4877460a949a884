"""`lambda-emu invoke`: one Invoke, printed like `sam local invoke` (payload to stdout, log to stderr)."""

from __future__ import annotations

import argparse
import base64
import json
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

from lambda_emu.commands.client import Client, EmuError, add_endpoint, endpoint_of


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "invoke", help="invoke a function and print its response",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Invoke FUNCTION on a running lambda-emu. The response payload goes to stdout, the "
                    "function's log tail to stderr; a function error prints AWS's error payload and exits 1.",
        epilog=textwrap.dedent("""\
            examples:
              lambda-emu invoke HelloFunction --payload '{"name": "Ada"}'
              lambda-emu invoke HelloFunction --event events/order.json
              echo '{"fail": true}' | lambda-emu invoke HelloFunction --event - --async
            """))
    parser.add_argument("function", metavar="FUNCTION", help="function name or ARN")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--payload", help="the event, as JSON text")
    source.add_argument("--event", metavar="FILE", help="a file holding the event ('-': stdin)")
    parser.add_argument("--async", action="store_true", dest="is_async",
                        help="InvocationType=Event: queue it (retries, destinations) and print the request ID")
    parser.add_argument("--qualifier", help="version or alias")
    add_endpoint(parser)


def event_of(args: argparse.Namespace) -> bytes:
    if args.payload is not None:
        return str(args.payload).encode()
    if args.event == "-":
        return sys.stdin.buffer.read()
    if args.event is not None:
        try:
            return Path(args.event).read_bytes()
        except OSError as exc:
            raise EmuError(f"cannot read {args.event}: {exc.strerror or exc}") from exc
    return b"{}"


def run(args: argparse.Namespace) -> int:
    client = Client(endpoint_of(args))
    path = f"/2015-03-31/functions/{quote(args.function, safe='')}/invocations"
    if args.qualifier:
        path += f"?Qualifier={quote(args.qualifier, safe='')}"
    headers = {"Content-Type": "application/json",
               "X-Amz-Invocation-Type": "Event" if args.is_async else "RequestResponse"}
    if not args.is_async:
        headers["X-Amz-Log-Type"] = "Tail"
    status, reply_headers, body = client.request("POST", path, event_of(args), headers)
    if status >= 400:
        raise EmuError(_aws_error(status, reply_headers, body))
    if args.is_async:
        print(reply_headers.get("x-amzn-requestid", ""))
        return 0
    log = reply_headers.get("x-amz-log-result")
    if log:
        sys.stderr.write(base64.b64decode(log).decode(errors="replace"))
        sys.stderr.flush()
    sys.stdout.write(body.decode(errors="replace") + "\n")
    sys.stdout.flush()
    return 1 if reply_headers.get("x-amz-function-error") else 0


def _aws_error(status: int, headers: dict[str, str], body: bytes) -> str:
    """AWS's error as one line: its type and message."""
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    kind = headers.get("x-amzn-errortype", "").split(":")[0] or document.get("Type") or str(status)
    message = document.get("message") or document.get("Message") or body.decode(errors="replace")
    return f"{kind}: {message}"
