"""Issue 2: `lambda-emu up --port 0` to healthy, against moto's server in the same run; idle RSS."""

from __future__ import annotations

import time

from bench.common import EmuServer, MotoServer, Result, http_json, median, rss_mb, spread, verdict
from bench.invoke import EchoServer

NAME = "startup"
TITLE = "Start-up and idle memory (issue 2)"


def _emu_to_healthy(bytecode_cache: bool = True) -> tuple[float, float, float]:
    """(spawn → ready line, spawn → GET /_emu/health answered, idle RSS MB or -1)."""
    server = EmuServer(bytecode_cache=bytecode_cache)
    started = time.perf_counter()
    try:
        server.start()
        health = http_json("GET", server.endpoint + "/_emu/health", timeout=10)
        healthy = time.perf_counter() - started
        if health.get("status") != "ok":
            raise RuntimeError(f"unhealthy: {health}")
        return server.ready_after, healthy, -1.0
    finally:
        server.stop()


def run(quick: bool = False) -> list[Result]:
    rounds = 3 if quick else 10
    emu_ready: list[float] = []
    emu_healthy: list[float] = []
    moto_healthy: list[float] = []
    # One start of each first: it fills the bytecode cache (and the page cache); not counted.
    _emu_to_healthy()
    MotoServer().start().stop()
    # Interleaved, so both see the same machine state (page cache, CPU frequency).
    for _ in range(rounds):
        ready, healthy, _rss = _emu_to_healthy()
        emu_ready.append(ready)
        emu_healthy.append(healthy)
        with MotoServer() as moto:
            moto_healthy.append(moto.ready_after)

    # The floor: a do-nothing aiohttp server process (same interpreter, same bytecode cache) to its ready line.
    floor: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        with EchoServer():
            floor.append(time.perf_counter() - started)

    # Idle RSS: a fresh server, left alone for a second after it answered.
    rss: list[float] = []
    moto_rss: list[float] = []
    for _ in range(1 if quick else 3):
        with EmuServer() as server:
            http_json("GET", server.endpoint + "/_emu/health")
            time.sleep(1.0)
            rss.append(rss_mb(server.pid, children=True))
    with MotoServer() as moto:
        time.sleep(1.0)
        moto_rss.append(rss_mb(moto.pid, children=True))

    # What a shell with PYTHONDONTWRITEBYTECODE=1 (or a read-only install) sees: lambda_emu compiled at every start.
    no_cache = [_emu_to_healthy(bytecode_cache=False)[1] for _ in range(2 if quick else 5)]

    up = median(emu_healthy)
    moto_up = median(moto_healthy)
    idle = median(rss)
    return [
        Result(NAME, "`lambda-emu up --port 0` → GET /_emu/health answered (median)", up, "s",
               target="≤ 0.3 s", baseline=f"moto_server {moto_up:.3f} s (median, same run)",
               verdict=verdict(up <= 0.3),
               note=f"lambda-emu {spread(emu_healthy, 'ms', 1000)}; ready line printed after "
                    f"{median(emu_ready) * 1000:.0f} ms; moto {spread(moto_healthy, 'ms', 1000)}"),
        Result(NAME, "floor: a do-nothing aiohttp server process → ready", median(floor), "s", verdict="info",
               note=spread(floor, "ms", 1000)),
        Result(NAME, "… the same without a bytecode cache (PYTHONDONTWRITEBYTECODE=1)", median(no_cache), "s",
               verdict="info", note=spread(no_cache, "ms", 1000)),
        Result(NAME, "Idle server RSS after start (psutil, process + children)", idle, "MB",
               target="≤ 60 MB", baseline=f"moto_server {median(moto_rss):.1f} MB",
               verdict=verdict(idle <= 60), note=spread(rss, "MB")),
    ]
