"""`lambda-emu clock`: show the platform clock, move a manual one on, or let it settle."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from lambda_emu.commands.client import Client, add_endpoint, endpoint_of


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "clock", help="show the platform clock; advance or settle a manual one",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Show lambda-emu's platform clock, or move a manual clock (`up --clock manual`) on.",
        epilog=textwrap.dedent("""\
            examples:
              lambda-emu clock                      # mode and time now
              lambda-emu clock advance 60           # one minute on: the retries due by then run
              lambda-emu clock settle --max 3600    # run until nothing is left to do (at most an hour)
            """))
    add_endpoint(parser)
    actions = parser.add_subparsers(dest="clock_action")
    advance = actions.add_parser("advance", help="move a manual clock on by SECONDS",
                                 epilog="example: lambda-emu clock advance 120")
    advance.add_argument("seconds", type=float)
    add_endpoint(advance, nested=True)
    settle = actions.add_parser("settle", help="run a manual clock until nothing is left to do",
                                epilog="example: lambda-emu clock settle --max 3600")
    settle.add_argument("--max", type=float, default=86400.0, dest="max_seconds",
                        help="stop after this many platform seconds (default 86400)")
    add_endpoint(settle, nested=True)


def run(args: argparse.Namespace) -> int:
    client = Client(endpoint_of(args))
    action = getattr(args, "clock_action", None)
    if action == "advance":
        answer: Any = client.post("/_emu/clock/advance", {"seconds": args.seconds})
    elif action == "settle":
        answer = client.post("/_emu/clock/settle", {"maxSeconds": args.max_seconds})
    else:
        answer = None
    clock = client.get("/_emu/clock")
    now = answer["now"] if answer else clock["now"]
    scale = f" x{clock['scale']:g}" if clock.get("mode") == "scaled" else ""
    print(f"{clock['mode']}{scale} clock: {now}")
    return 0
