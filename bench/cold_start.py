"""Issue 2: cold start of a python environment to its first response.

Two ways to get a cold environment: a new function (CreateFunction, then the first Invoke) and a
configuration change (UpdateFunctionConfiguration retires the warm environment; the next Invoke is
cold). The Invoke is timed from a light keep-alive HTTP client; a warm Invoke is timed alongside.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.common import EmuServer, KeepAlive, Result, create_function, median, spread, verdict

NAME = "cold_start"
TITLE = "Cold start of a python environment (issue 2)"


def run(quick: bool = False) -> list[Result]:
    rounds = 3 if quick else 10
    created: list[float] = []
    create_calls: list[float] = []
    updated: list[float] = []
    warm: list[float] = []
    with EmuServer() as server:
        lam = server.client("lambda")
        http = KeepAlive(server.endpoint)
        try:
            # One throwaway cold start first: the OS page cache holds Python and awslambdaric afterwards.
            name = create_function(lam, f"bench-cold-{uuid.uuid4().hex[:8]}")
            http.invoke(name)
            for i in range(rounds):
                name = f"bench-cold-{uuid.uuid4().hex[:8]}"
                t0 = time.perf_counter()
                create_function(lam, name)
                t1 = time.perf_counter()
                http.invoke(name)
                t2 = time.perf_counter()
                create_calls.append(t1 - t0)
                created.append(t2 - t1)
                t0 = time.perf_counter()
                http.invoke(name)
                warm.append(time.perf_counter() - t0)
                lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"ROUND": str(i)}})
                t0 = time.perf_counter()
                http.invoke(name)
                updated.append(time.perf_counter() - t0)
                lam.delete_function(FunctionName=name)
        finally:
            http.close()
    new = median(created)
    upd = median(updated)
    before, after = _runtime_starts(rounds)
    return [
        Result(NAME, "CreateFunction, then first Invoke → response (median)", new * 1000, "ms", target="≤ 150 ms",
               baseline=f"warm Invoke {median(warm) * 1000:.1f} ms", verdict=verdict(new <= 0.150),
               note=f"{spread(created, 'ms', 1000)}; the CreateFunction call itself "
                    f"{median(create_calls) * 1000:.1f} ms (not counted)"),
        Result(NAME, "UpdateFunctionConfiguration, then Invoke → response (median)", upd * 1000, "ms",
               target="≤ 150 ms", baseline=f"warm Invoke {median(warm) * 1000:.1f} ms",
               verdict=verdict(upd <= 0.150), note=spread(updated, "ms", 1000)),
        Result(NAME, "python3.12 runtime process start → awslambdaric imported (median)", median(after) * 1000, "ms",
               baseline=f"before the sandbox (lambda-emu's venv Python 3.11, -m awslambdaric) "
                        f"{median(before) * 1000:.1f} ms", verdict="info",
               note=f"sandbox: {spread(after, 'ms', 1000)}; before: {spread(before, 'ms', 1000)}"),
    ]


def _runtime_starts(rounds: int) -> tuple[list[float], list[float]]:
    """The part of a cold start the sandbox changed, same run: starting the runtime process up to
    awslambdaric imported, the old way (lambda-emu's own venv Python) and the sandbox's (a Python of the
    runtime's version, -S, the cached runtime directory on PYTHONPATH)."""
    from lambda_emu.runtime_api.runners.interpreters import Interpreters
    from lambda_emu.runtime_api.runners.sandbox import RuntimeDirectories

    resolution = Interpreters().for_runtime("python3.12")
    assert resolution is not None
    runtime_dir = RuntimeDirectories(Path.home() / ".cache" / "lambda-emu").path(resolution.interpreter)
    code = "import awslambdaric.bootstrap"
    old = [sys.executable, "-c", code]
    new = [str(resolution.interpreter.path), "-S", "-u", "-B", "-c", code]
    before: list[float] = []
    after: list[float] = []
    for _ in range(rounds):
        for argv, env, sink in ((old, {}, before), (new, {"PYTHONPATH": str(runtime_dir)}, after)):
            t0 = time.perf_counter()
            subprocess.run(argv, env={"PATH": "/usr/bin:/bin", **env}, check=True, timeout=60)
            sink.append(time.perf_counter() - t0)
    return before, after
