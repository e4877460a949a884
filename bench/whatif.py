"""Experiments, not lambda-emu: start `lambda-emu up` with a proposed change monkeypatched in.

`BENCH_WHATIF=watcher-sleep-first python bench/run.py --only invoke` runs every benchmark server
through this launcher, to measure a proposal from BENCHMARKS.md ("Where the time goes") before
anyone changes lambda_emu/. Numbers from such a run are not results.

Patches:
- ``watcher-sleep-first``: the per-invocation memory watcher waits one sampling interval before its
  first sample (before 2863c70 it walked every /proc entry via psutil ``children(recursive=True)``
  at the start of every invocation; 2863c70 made that change, so on today's code this only adds a pause).
- ``watcher-off``: no memory watcher (the upper bound of any watcher fix).
"""

from __future__ import annotations

import asyncio
import os
import sys


def watcher_sleep_first() -> None:
    from lambda_emu.emulator.invocation import environments

    original = environments.ExecutionEnvironment._watch_memory

    async def _watch_memory(self: environments.ExecutionEnvironment) -> None:
        await asyncio.sleep(environments.MEMORY_SAMPLE_SECONDS)
        await original(self)

    environments.ExecutionEnvironment._watch_memory = _watch_memory  # type: ignore[method-assign]


def watcher_off() -> None:
    from lambda_emu.emulator.invocation import environments

    async def _watch_memory(self: environments.ExecutionEnvironment) -> None:
        return None

    environments.ExecutionEnvironment._watch_memory = _watch_memory  # type: ignore[method-assign]


PATCHES = {"watcher-sleep-first": watcher_sleep_first, "watcher-off": watcher_off}


def main() -> int:
    for name in filter(None, os.environ.get("BENCH_WHATIF", "").split(",")):
        PATCHES[name]()
    from lambda_emu.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
