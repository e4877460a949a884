"""What `lambda-emu up` prints once it serves: endpoint, clock, runner, and what the template made —
functions, queues, streams, mappings, async settings — then a command to try."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_emu.app import Emulator
    from lambda_emu.emulator.invocation.functions import Function
    from lambda_emu.emulator.invocation.narration import Terminal
    from lambda_emu.runtime_api.runners.interpreters import Resolution

#: How long the summary waits for the interpreters to be found. Probing one runs it (usually tens of
#: milliseconds; a pyenv shim, up to a second). The ready line is printed before and the probes run in
#: threads, so nothing but the summary waits for them; past this a runtime reads "(still resolving)".
RESOLVE_SECONDS = 10.0


async def resolve_interpreters(emu: Emulator, stop: asyncio.Event | None = None) -> dict[str, Resolution | None]:
    """The interpreter each python runtime of the run's functions will run on — the resolution the
    process runner itself uses (``Interpreters.for_runtime``, cached) — found off the event loop. A
    runtime not resolved within RESOLVE_SECONDS (or before ``stop`` is set) is left out."""
    if emu.runner is not emu.process_runner:
        return {}
    runtimes = sorted({f.runtime for f in emu.functions
                       if f.package_type == "Zip" and f.runtime.startswith("python3.")})
    tasks = {runtime: asyncio.ensure_future(asyncio.to_thread(emu.interpreters.for_runtime, runtime))
             for runtime in runtimes}
    if tasks:
        waiting: list[asyncio.Future[Any]] = [asyncio.gather(*tasks.values(), return_exceptions=True)]
        if stop is not None:
            waiting.append(asyncio.ensure_future(stop.wait()))
        await asyncio.wait(waiting, timeout=RESOLVE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        for future in waiting[1:]:
            future.cancel()
    return {runtime: task.result() for runtime, task in tasks.items()
            if task.done() and not task.cancelled() and task.exception() is None}


def interpreter(emu: Emulator, function: Function, resolved: dict[str, Resolution | None]) -> str:
    """What runs the function: the interpreter its runtime resolves to (its path and version; a
    fallback of another version says so), a provided.* function's own bootstrap, or the container."""
    if function.package_type == "Image":
        return "its container image"
    if emu.runner is not emu.process_runner:
        return f"container ({emu.config.runner} runner)"
    if emu.process_runner.refusal(function.runtime) is not None:
        return "none: needs --runner docker"
    if not function.runtime.startswith("python3."):
        return "the code's bootstrap"
    if function.runtime not in resolved:
        return f"{function.runtime} (still resolving)"
    resolution = resolved[function.runtime]
    if resolution is None:
        return "-"
    found = resolution.interpreter
    if resolution.exact:
        return f"{found.path} ({found.version})"
    return f"{found.path} ({found.version}; no {resolution.requested} found)"


def sections(emu: Emulator, resolved: dict[str, Resolution | None] | None = None,
             ) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, column names, rows) for each table of the summary (``resolved``: resolve_interpreters)."""
    functions = sorted(emu.functions, key=lambda f: f.name)
    out: list[tuple[str, list[str], list[list[str]]]] = [
        ("Functions", ["name", "runtime", "handler", "interpreter"],
         [[f.name, f.runtime, f.handler, interpreter(emu, f, resolved or {})] for f in functions]),
    ]
    built = vars(emu)  # SQS and Kinesis are built on first use: only what exists is shown
    if "sqs" in built:
        queues = emu.sqs.store.queues.values()
        out.append(("Queues", ["name", "visibility timeout", "redrive"],
                    [[q.name, str(q.visibility_timeout), _redrive(q.redrive_policy)]
                     for q in sorted(queues, key=lambda q: q.name)]))
    if "kinesis" in built:
        streams = emu.kinesis.store.streams()
        out.append(("Streams", ["name", "shards"], [[s.name, str(len(s.list_shards()))] for s in streams]))
    mappings = list(emu.event_source_mappings.mappings.values())
    if mappings:
        out.append(("Mappings", ["function", "source", "batch size", "uuid"],
                    [[m.function_name, m.event_source_arn.rsplit(":", 1)[-1], str(m.batch_size), m.uuid]
                     for m in mappings]))
    async_rows = [_async_row(f) for f in functions if f.event_invoke_config or f.dead_letter_target]
    if async_rows:
        out.append(("Async settings", ["function", "max retries", "max event age", "on success", "on failure",
                                       "dead-letter queue"], async_rows))
    return out


def _redrive(policy: dict[str, Any] | None) -> str:
    if not policy:
        return "-"
    return f"{policy['deadLetterTargetArn'].rsplit(':', 1)[-1]} after {policy['maxReceiveCount']}"


def _async_row(function: Function) -> list[str]:
    config = function.event_invoke_config or {}
    destinations = config.get("DestinationConfig") or {}
    return [function.name, str(config.get("MaximumRetryAttempts", 2)),
            f"{config.get('MaximumEventAgeInSeconds', 21600)}s",
            (destinations.get("OnSuccess") or {}).get("Destination") or "-",
            (destinations.get("OnFailure") or {}).get("Destination") or "-",
            function.dead_letter_target or "-"]


def hint(emu: Emulator) -> str:
    names = sorted(f.name for f in emu.functions)
    name = names[0] if names else "FUNCTION"
    endpoint = "" if emu.endpoint == "http://127.0.0.1:3001" else f" --endpoint {emu.endpoint}"
    return f"try: lambda-emu invoke {name} --payload '{{}}'{endpoint}"


def print_summary(emu: Emulator, terminal: Terminal, resolved: dict[str, Resolution | None] | None = None) -> None:
    clock = emu.clock.describe()
    head = f"endpoint {emu.endpoint} · clock {clock['mode']}" + (
        f" x{clock['scale']:g}" if clock["mode"] == "scaled" else "") + f" · runner {emu.config.runner}"
    if terminal.color:
        from rich.table import Table

        terminal.print(head)
        for title, columns, rows in sections(emu, resolved):
            if not rows:
                continue
            table = Table(title=title, title_justify="left", show_edge=False)
            for column in columns:
                table.add_column(column)
            for row in rows:
                table.add_row(*row)
            terminal.print(table)
        terminal.print(f"[bold]{hint(emu)}[/bold]")
        return
    lines = [head]
    for title, columns, rows in sections(emu, resolved):
        if not rows:
            continue
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
        lines.append(f"{title}:")
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        lines.extend("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows)
    lines.append(hint(emu))
    terminal.print("\n".join(lines))
