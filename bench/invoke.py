"""Issue 2: warm sync invokes, one environment, one caller at a time.

(a) the ceiling: awslambdaric looping against a minimal Runtime API (bench/mini_runtime.py);
(b) lambda-emu (a `lambda-emu up` subprocess) driven by aiohttp on the Invoke API, sequentially;
(c) the same, driven by boto3. The three are interleaved in rounds; each rate is the median over rounds.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp

from bench.common import EmuServer, Result, create_function, median, rate, verdict
from bench.mini_runtime import MiniRuntimeApi

NAME = "invoke"
TITLE = "Warm sync invoke, one environment, one caller (issue 2)"


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


def run(quick: bool = False) -> list[Result]:
    rounds, seconds = (1, 1.0) if quick else (3, 4.0)
    ceiling: list[float] = []
    light: list[float] = []
    boto: list[float] = []
    with MiniRuntimeApi() as mini, EmuServer() as server:
        lam = server.client("lambda")
        name = create_function(lam, f"bench-warm-{uuid.uuid4().hex[:8]}")
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
        environments = [a for a in server.emu_get(f"/_emu/invocations?functionName={name}")["invocations"]
                        if a.get("coldStart")]

    a, b, c = median(ceiling), median(light), median(boto)
    ratio = b / a * 100
    note_rounds = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)  # noqa: E731
    return [
        Result(NAME, "(a) ceiling: awslambdaric ↔ minimal Runtime API", a, "invokes/s", verdict="info",
               note=f"rounds: {note_rounds(ceiling)}; {1000 / a:.2f} ms per loop"),
        Result(NAME, "(b) lambda-emu, aiohttp client, sequential", b, "invokes/s", verdict="info",
               note=f"rounds: {note_rounds(light)}; {1000 / b:.2f} ms per invoke; cold starts seen: "
                    f"{len(environments)} (one environment)"),
        Result(NAME, "(c) lambda-emu, boto3 client, sequential", c, "invokes/s", verdict="info",
               note=f"rounds: {note_rounds(boto)}; {1000 / c:.2f} ms per invoke"),
        Result(NAME, "(b) / (a)", ratio, "%", target="≥ 70 %", baseline=f"(a) {a:,.0f} invokes/s",
               verdict=verdict(ratio >= 70), note=f"(c) / (a) = {c / a * 100:.0f} %"),
    ]
