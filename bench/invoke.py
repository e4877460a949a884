"""Issue 2: warm sync invokes, one environment, one caller at a time.

(a) the ceiling: awslambdaric looping against a minimal Runtime API (bench/mini_runtime.py);
(b) lambda-emu (a `lambda-emu up` subprocess) driven by aiohttp on the Invoke API, sequentially;
(c) the same, driven by boto3. The three are interleaved in rounds; each rate is the median over rounds.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp

from bench.common import EmuServer, Result, _read_line, create_function, median, rate, server_env, stop_process, verdict
from bench.mini_runtime import MiniRuntimeApi

NAME = "invoke"
TITLE = "Warm sync invoke, one environment, one caller (issue 2)"
#: The function's runtime: the ceiling's Python (see run()).
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


async def _aiohttp_rate(endpoint: str, function_name: str, seconds: float, warmup: int,
                        max_count: int = 1_000_000) -> tuple[float, int]:
    url = f"{endpoint}/2015-03-31/functions/{function_name}/invocations"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:

        async def one() -> None:
            async with session.post(url, data=b"{}") as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"Invoke: HTTP {response.status}")

        deadline = time.perf_counter() + seconds
        for _ in range(warmup):
            if time.perf_counter() >= deadline:
                break
            await one()
        count = 0
        started = time.perf_counter()
        deadline = started + seconds
        while count < max_count and time.perf_counter() < deadline:
            await one()
            count += 1
        return count / (time.perf_counter() - started), count


class EchoServer:
    """bench/echo_server.py in its own process: one aiohttp round trip and nothing else."""

    def __enter__(self) -> EchoServer:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("echo_server.py"))],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     env=server_env())
        assert self.proc.stdout is not None
        line = _read_line(self.proc.stdout, time.perf_counter() + 30)
        if b"ready at " not in line:
            stop_process(self.proc)
            raise RuntimeError(f"echo server did not start: {line!r}")
        self.endpoint = line.split(b"ready at ", 1)[1].strip().decode()
        return self

    def __exit__(self, *exc: object) -> None:
        stop_process(self.proc)


def run(quick: bool = False) -> list[Result]:
    rounds, seconds = (1, 1.0) if quick else (3, 4.0)
    ceiling: list[float] = []
    light: list[float] = []
    boto: list[float] = []
    floor: list[float] = []
    with MiniRuntimeApi() as mini, EmuServer() as server, EchoServer() as echo:
        lam = server.client("lambda")
        # The function runs on the Python version the ceiling's awslambdaric runs on (this one): since the
        # isolated sandbox a function runs on its runtime's own interpreter, and a python3.12 function's
        # runtime costs ~2x the CPU of 3.11's per loop, which (b) / (a) would otherwise count as overhead.
        name = create_function(lam, f"bench-warm-{uuid.uuid4().hex[:8]}", Runtime=RUNTIME)
        lam.invoke(FunctionName=name, Payload=b"{}")  # cold start outside the windows

        def boto_invoke() -> None:
            response = lam.invoke(FunctionName=name, Payload=b"{}")
            response["Payload"].read()
            if response.get("FunctionError"):
                raise RuntimeError(f"function error: {response}")

        for _ in range(rounds):
            ceiling.append(mini.measure(seconds)[0])
            light.append(asyncio.run(_aiohttp_rate(server.endpoint, name, seconds, warmup=50))[0])
            boto.append(rate(boto_invoke, seconds, 1_000_000, warmup=20)[0])
            floor.append(asyncio.run(_aiohttp_rate(echo.endpoint, "echo", seconds / 2, warmup=50))[0])
        environments = [a for a in server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
                        if a.get("coldStart")]

    a, b, c, d = median(ceiling), median(light), median(boto), median(floor)
    ratio = b / a * 100
    # If lambda-emu added nothing but the caller's HTTP round trip, one invoke would take (a) + (d).
    best = 1 / (1 / a + 1 / d)
    note_rounds = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)  # noqa: E731
    return [
        Result(NAME, "(a) ceiling: awslambdaric ↔ minimal Runtime API", a, "invokes/s", verdict="info",
               note=f"rounds: {note_rounds(ceiling)}; {1000 / a:.2f} ms per loop"),
        Result(NAME, "(b) lambda-emu, aiohttp client, sequential", b, "invokes/s", verdict="info",
               note=f"rounds: {note_rounds(light)}; {1000 / b:.2f} ms per invoke; cold starts seen: "
                    f"{len(environments)} (one environment); runtime {RUNTIME}"),
        Result(NAME, "(c) lambda-emu, boto3 client, sequential", c, "invokes/s", verdict="info",
               note=f"rounds: {note_rounds(boto)}; {1000 / c:.2f} ms per invoke"),
        Result(NAME, "(d) floor: the same aiohttp client → a do-nothing aiohttp server", d, "requests/s",
               verdict="info", note=f"rounds: {note_rounds(floor)}; {1000 / d:.2f} ms per request"),
        Result(NAME, "(b) / (a)", ratio, "%", target="≥ 70 %", baseline=f"(a) {a:,.0f} invokes/s",
               verdict=verdict(ratio >= 70),
               note=f"(c) / (a) = {c / a * 100:.0f} %; with zero lambda-emu overhead, (a) plus one (d) round trip "
                    f"per invoke would give {best:,.0f} invokes/s = {best / a * 100:.0f} % of (a); lambda-emu's own "
                    f"share per invoke: {(1 / b - 1 / best) * 1000:.2f} ms"),
    ]
