"""`lambda-emu up`: serve every API on one endpoint until Ctrl-C / SIGTERM. The other commands
(invoke, timeline, logs, clock, replay) talk to a running lambda-emu: lambda_emu/commands/."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_emu import __version__
from lambda_emu.config import CLOCK_MODES, RUNNERS, EmulatorConfig

if TYPE_CHECKING:
    from lambda_emu.app import Emulator
    from lambda_emu.emulator.platform.clock import ClockMode


def parser() -> argparse.ArgumentParser:
    # Every default is EmulatorConfig's: one source of truth for `lambda-emu up` and for code.
    default = EmulatorConfig()
    root = argparse.ArgumentParser(prog="lambda-emu", description="Local AWS Lambda with AWS's retry semantics")
    root.add_argument("--version", action="version", version=f"lambda-emu {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="serve the Lambda, SQS and Kinesis APIs on one endpoint",
                             epilog="example: lambda-emu up --template template.yaml --clock manual")
    up.add_argument("--host", default=default.host)
    up.add_argument("--port", type=int, default=default.port, help="0 picks a free port (printed)")
    up.add_argument("--region", default=default.region)
    up.add_argument("--account-id", default=default.account_id)
    up.add_argument("--template", type=Path, default=None,
                    help="SAM/CloudFormation template (default: ./template.yaml or ./template.yml when present)")
    up.add_argument("--clock", choices=CLOCK_MODES, default=None,
                    help="real (default), scaled (with --time-scale) or manual (moves only via /_emu/clock)")
    up.add_argument("--time-scale", type=float, default=None, help="run platform time N x wall time")
    up.add_argument("--seed", type=int, default=default.seed,
                    help="seed of the one RNG for jitter and injected faults")
    up.add_argument("--duplicate-rate", type=float, default=default.duplicate_rate,
                    help=f"probability of delivering an extra copy of an event (default {default.duplicate_rate:g})")
    up.add_argument("--fault", action="append", default=[], metavar="NAME=P",
                    help="inject a platform fault with probability P for every function (repeatable): "
                         "duplicateRate, throttleRate, serviceErrorRate, lostResponseRate, initFailureRate, "
                         "redeliverDuringProcessingRate")
    up.add_argument("--idle-timeout", type=float, default=default.idle_timeout,
                    help="wall seconds before an idle execution environment is shut down")
    up.add_argument("--account-concurrency", type=int, default=default.account_concurrency)
    up.add_argument("--async-concurrency", type=int, default=default.async_concurrency,
                    help="pollers serving each function's async event queue")
    up.add_argument("--runner", choices=RUNNERS, default=default.runner,
                    help="docker: every function runs in a container (image functions always do)")
    up.add_argument("--image", action="append", default=[], metavar="RUNTIME=IMAGE",
                    help="the container image of a runtime, e.g. python3.11=lambda-emu/python:3.11 (repeatable)")
    up.add_argument("--container-host", default=default.container_host, metavar="ADDRESS",
                    help="the address containers reach lambda-emu at (Docker Desktop: host.docker.internal)")
    up.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                    help="values for the template's Parameters (as `sam deploy --parameter-overrides`)")
    up.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                    help="level of lambda-emu's own (structured, stderr) log")
    up.add_argument("--log-format", default="console", choices=["console", "json"],
                    help="lambda-emu's own log as key=value lines or JSON lines")
    up.add_argument("--quiet", action="store_true", help="don't echo function logs (nor narrate decisions)")
    up.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="also accept requests whose Host is NAME (besides loopback and --host); repeatable")
    up.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                    help="also accept requests a web page at ORIGIN sends (e.g. https://app.example); repeatable")
    up.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                    help="keep everything accepted in DIR (SQLite) so a restart, even after kill -9, goes on "
                         "where it stopped; without it nothing is written")
    up.add_argument("--python", action="append", default=[], metavar="3.X=PATH",
                    help="the interpreter of python3.X functions (repeatable); default: python3.X on PATH, "
                         "pyenv or uv, else the nearest version with a warning")
    up.add_argument("--cache-dir", type=Path, default=None,
                    help="runtime directories and installed requirements (default: ~/.cache/lambda-emu)")
    up.add_argument("--no-install", action="store_true",
                    help="don't install template functions' requirements.txt")
    up.add_argument("--no-reload", action="store_true",
                    help="don't watch template code folders for edits")
    up.add_argument("--creation-delays", action="store_true",
                    help="resources pass through AWS's transitional states (stream CREATING/UPDATING, function "
                         "Pending/InProgress, table CREATING) for AWS-like durations on the platform clock; "
                         "without it they are ready at once")
    up.add_argument("--record", type=Path, default=None, metavar="FILE",
                    help="append every event entering lambda-emu to FILE as JSON lines (for `lambda-emu replay`)")
    up.add_argument("--journal-size", type=int, default=default.journal_size,
                    help="attempts the journal keeps, oldest dropped first (default 10000)")
    up.add_argument("--journal-payload-limit", type=int, default=default.journal_payload_limit,
                    help="bytes of an event or response the journal keeps (default 262144)")
    from lambda_emu.commands import add_parsers

    add_parsers(commands)
    return root


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    from lambda_emu.runtime_api.runners.interpreters import parse_python_options

    template = args.template
    if template is None:
        # `sam` finds template.yaml or template.yml in the current directory.
        template = next((Path(name) for name in ("template.yaml", "template.yml") if Path(name).is_file()), None)
    clock: ClockMode = args.clock or ("scaled" if args.time_scale not in (None, 1.0) else "real")
    faults: dict[str, float] = {}
    if args.fault:
        from lambda_emu.emulator.platform.faults import parse_fault

        faults = dict(parse_fault(text) for text in args.fault)
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        region=args.region,
        account_id=args.account_id,
        clock=clock,
        time_scale=args.time_scale or EmulatorConfig.time_scale,
        seed=args.seed,
        duplicate_rate=args.duplicate_rate,
        faults=faults,
        idle_timeout=args.idle_timeout,
        account_concurrency=args.account_concurrency,
        async_concurrency=args.async_concurrency,
        runner=args.runner,
        images=image_overrides(args.image),
        container_host=args.container_host,
        template=template,
        state_dir=args.state_dir,
        echo_function_logs=not args.quiet,
        allow_hosts=tuple(args.allow_host),
        allow_origins=tuple(args.allow_origin),
        journal_size=args.journal_size,
        journal_payload_limit=args.journal_payload_limit,
        record=args.record,
        cache_dir=args.cache_dir,
        pythons=parse_python_options(args.python),
        install_requirements=not args.no_install,
        reload=not args.no_reload,
        creation_delays=args.creation_delays,
    )


def image_overrides(pairs: list[str]) -> dict[str, str]:
    images: dict[str, str] = {}
    for pair in pairs:
        runtime, sep, image = pair.partition("=")
        if not sep or not runtime or not image:
            raise ValueError(f"--image takes RUNTIME=IMAGE, not {pair!r}")
        images[runtime] = image
    return images


def parameter_overrides(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--parameter-overrides takes KEY=VALUE, not {pair!r}")
        values[key] = value
    return values


def _import_aiohttp() -> None:
    """Import aiohttp without loading the system's CA bundle.

    aiohttp.connector builds two default SSL contexts when it is imported, for its HTTPS client, and
    loading the CA bundle into them is ~50 ms of CPU, the largest single cost of `up`'s start-up.
    lambda-emu only serves plain HTTP on 127.0.0.1 and is no aiohttp client, so they are built with
    OpenSSL's CA file pointed nowhere (its CA directory still answers lookups, lazily); the environment
    is restored at once, so every process started later sees it unchanged.
    """
    if "aiohttp" in sys.modules:
        return
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = os.path.join(os.path.dirname(__file__), "no-ca-file-at-import")
    try:
        import aiohttp  # noqa: F401
    finally:
        if saved is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = saved


async def run_up(config: EmulatorConfig, log_level: str = "info", log_format: str = "console",
                 parameters: dict[str, str] | None = None) -> int:
    """Serve until SIGINT / SIGTERM; the exit status of `lambda-emu up`."""
    _import_aiohttp()
    from lambda_emu.app import Emulator
    from lambda_emu.emulator.platform import logging as emu_logging
    from lambda_emu.emulator.server import stop_serving
    from lambda_emu.serving import serve

    emu_logging.configure(log_level, json=log_format == "json")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Handlers first: a SIGTERM during start-up still ends in a clean stop, never a half-started run.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from lambda_emu.emulator.platform.state import StateError

    try:
        emu = Emulator(config)
    except StateError as exc:
        print(f"lambda-emu: {exc}", file=sys.stderr, flush=True)
        return 2
    terminal = None
    if config.echo_function_logs:
        from lambda_emu.emulator.invocation.narration import Terminal

        terminal = emu.narration.terminal = Terminal()
        emu.add_log_listener(emu.narration.function_output)
    from lambda_emu.runtime_api.runners.docker.engine import DockerUnavailable

    try:
        runner = await serve(emu)
    except DockerUnavailable as exc:
        await _stop_unserved(emu)
        print(f"lambda-emu: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        await _stop_unserved(emu)
        print(f"lambda-emu: cannot serve on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        if config.template is not None and emu.restored:
            # The restored state came from that template (and from every call since): loading it again
            # would create its resources twice. Said, not silently skipped.
            print(f"lambda-emu: restored the state in {config.state_dir}; {config.template} is not loaded again "
                  "(remove the state directory to start from the template)", file=sys.stderr, flush=True)
        elif config.template is not None:
            # Imported only when needed: the template machinery (YAML, pydantic models) costs start-up time.
            from lambda_emu.emulator.template.loader import TemplateError, load_template

            try:
                load_template(emu.stack, config.template, parameters)
            except TemplateError as exc:
                print(f"lambda-emu: {exc}", file=sys.stderr, flush=True)
                return 1
        if not stop.is_set():
            # The one line scripts wait for: printed only once the endpoint answers.
            print(f"lambda-emu {__version__} ready at {emu.endpoint}", flush=True)
            if terminal is not None:
                from lambda_emu.summary import print_summary, resolve_interpreters

                print_summary(emu, terminal, await resolve_interpreters(emu, stop))
            await stop.wait()
        print("lambda-emu stopping", flush=True)
        return 0
    finally:
        # Closes every open connection at once and stops every execution environment (and every process
        # it started) before the process ends.
        await stop_serving(runner)
        emu.narration.flush()


async def _stop_unserved(emu: Emulator) -> None:
    """Undo what the Emulator made before the port could be bound (its state directory)."""
    with contextlib.suppress(Exception):
        await emu.stop()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "up":
        from lambda_emu.commands import run

        return run(args)
    try:
        config = config_from(args)
        parameters = parameter_overrides(args.parameter_overrides)
        if config.pythons:
            from lambda_emu.runtime_api.runners.interpreters import Interpreters

            Interpreters(config.pythons).check_explicit()  # a wrong --python is an error, not a fallback
    except ValueError as exc:  # ConfigError, InterpreterError and bad overrides: the message is the user's answer
        print(f"lambda-emu: {exc}", file=sys.stderr)
        return 2
    if config.template is not None and not config.template.is_file():
        print(f"lambda-emu: no template at {config.template}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run_up(config, args.log_level, args.log_format, parameters))
    except KeyboardInterrupt:
        # A second Ctrl-C while stopping: leave now (runtimes die with us: PR_SET_PDEATHSIG).
        return 130


def entry() -> None:
    """The `lambda-emu` console script: main(), then out without the interpreter's teardown.

    It first gives itself a private mount namespace (where allowed; still single-threaded here), so the
    size-limited /tmp mounts of its environments never outlive it on the host.

    By the time main() returns, everything lambda-emu started is stopped and its files are gone; what
    is left is Python freeing every loaded module (botocore's models...), which takes seconds on a busy
    machine, and a SIGTERM must end lambda-emu within 2 s.
    """
    from lambda_emu.runtime_api.runners.scratch import private_mounts

    private_mounts()
    code = main()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
