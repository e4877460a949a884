"""`lambda-emu up`: serve every API on one endpoint until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from lambda_emu import __version__
from lambda_emu.config import EmulatorConfig


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="lambda-emu", description="Local AWS Lambda with AWS's retry semantics")
    root.add_argument("--version", action="version", version=f"lambda-emu {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="serve the Lambda, SQS and Kinesis APIs on one endpoint")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=3001, help="0 picks a free port (printed)")
    up.add_argument("--region", default="us-east-1")
    up.add_argument("--account-id", default="000000000000")
    up.add_argument("--template", type=Path, default=None,
                    help="SAM/CloudFormation template (default: ./template.yaml when present)")
    up.add_argument("--clock", choices=["real", "scaled", "manual"], default=None,
                    help="real (default), scaled (with --time-scale) or manual (moves only via /_emu/clock)")
    up.add_argument("--time-scale", type=float, default=None, help="run platform time N x wall time")
    up.add_argument("--seed", type=int, default=0, help="seed of the one RNG for jitter and injected faults")
    up.add_argument("--duplicate-rate", type=float, default=0.0,
                    help="probability of delivering an extra copy of an event (default 0)")
    up.add_argument("--idle-timeout", type=float, default=300.0,
                    help="wall seconds before an idle execution environment is shut down")
    up.add_argument("--account-concurrency", type=int, default=1000)
    up.add_argument("--runner", choices=["process", "docker"], default="process")
    up.add_argument("--log-level", default="info")
    up.add_argument("--quiet", action="store_true", help="don't echo function logs")
    return root


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    template = args.template
    if template is None and Path("template.yaml").is_file():
        template = Path("template.yaml")
    clock = args.clock or ("scaled" if args.time_scale not in (None, 1.0) else "real")
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        region=args.region,
        account_id=args.account_id,
        clock=clock,
        time_scale=args.time_scale or 1.0,
        seed=args.seed,
        duplicate_rate=args.duplicate_rate,
        idle_timeout=args.idle_timeout,
        account_concurrency=args.account_concurrency,
        runner=args.runner,
        template=template,
        echo_function_logs=not args.quiet,
    )


async def run_up(config: EmulatorConfig, log_level: str = "info") -> None:
    from lambda_emu.emulator import logging as emu_logging
    from lambda_emu.emulator.core import Emulator
    from lambda_emu.emulator.server import serve

    emu_logging.configure(log_level)
    emu = Emulator(config)
    if config.echo_function_logs:
        emu.add_log_listener(_echo)
    runner = await serve(emu)
    if config.template is not None:
        from lambda_emu.emulator.template import load_template

        load_template(emu, config.template)
    print(f"lambda-emu {__version__} ready at {emu.endpoint}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        print("lambda-emu stopping", flush=True)
        await runner.cleanup()


_partial: dict[str, bytes] = {}


def _echo(function_name: str, chunk: bytes) -> None:
    data = _partial.pop(function_name, b"") + chunk
    *lines, rest = data.split(b"\n")
    if rest:
        _partial[function_name] = rest
    for line in lines:
        sys.stdout.write(f"[{function_name}] {line.decode(errors='replace')}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "up":
        try:
            config = config_from(args)
        except Exception as exc:  # noqa: BLE001 - pydantic's message is the user's answer
            print(f"lambda-emu: {exc}", file=sys.stderr)
            return 2
        try:
            asyncio.run(run_up(config, args.log_level))
        except KeyboardInterrupt:
            pass
        except OSError as exc:
            print(f"lambda-emu: cannot serve on {config.host}:{config.port}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
