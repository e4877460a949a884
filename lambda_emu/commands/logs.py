"""`lambda-emu logs`: a function's log lines (START / END / REPORT included), as CloudWatch would show them."""

from __future__ import annotations

import argparse
import textwrap
import time
from urllib.parse import urlencode

from lambda_emu.commands.client import Client, add_endpoint, endpoint_of

POLL_SECONDS = 0.5


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "logs", help="a function's log lines",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print FUNCTION's log lines (its output with START, END and REPORT), oldest first.",
        epilog=textwrap.dedent("""\
            examples:
              lambda-emu logs HelloFunction
              lambda-emu logs HelloFunction --follow
              lambda-emu logs HelloFunction --since 2026-01-01T00:00:00Z
            """))
    parser.add_argument("function", metavar="FUNCTION")
    parser.add_argument("--since", help="only lines from this platform time (ISO-8601) on")
    parser.add_argument("--follow", action="store_true", help="keep printing new lines")
    add_endpoint(parser)


def run(args: argparse.Namespace) -> int:
    client = Client(endpoint_of(args))
    since = args.since
    while True:
        query = {"functionName": args.function, **({"since": since} if since else {})}
        page = client.get("/_emu/logs?" + urlencode(query))
        for line in page["lines"]:
            print(line["message"], flush=True)
        since = page["nextSince"]
        if not args.follow:
            return 0
        time.sleep(POLL_SECONDS)
