"""The commands that talk to a running lambda-emu (everything but `up`), one module per command.

Each module has ``add_parser(subparsers)`` and ``run(args) -> exit status``, and imports only the
standard library at module level, so a command starts fast: they speak HTTP to ``--endpoint``
(default ``$LAMBDA_EMU_ENDPOINT``, else http://127.0.0.1:3001) through :mod:`.client`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lambda_emu.commands.client import EmuError, Unreachable

NAMES = ("invoke", "timeline", "logs", "clock", "replay")


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in NAMES:
        importlib.import_module(f"lambda_emu.commands.{name}").add_parser(subparsers)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"lambda_emu.commands.{args.command}")
    try:
        return int(module.run(args))
    except Unreachable as exc:
        print(f"lambda-emu: {exc}", file=sys.stderr)
        return 3
    except EmuError as exc:
        print(f"lambda-emu: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
