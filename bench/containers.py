"""Issue 11: the container runner next to the process runner, in the same run.

Two `lambda-emu up` servers, one per runner (`--runner docker --image python3.11=lambda-emu/python:3.11`,
the local base image from docker/build-base-images.sh), each with the same python3.11 function:
(a) cold start: CreateFunction, then the first Invoke → response (a new container per round);
(b) warm sync invokes, one caller, one environment, interleaved between the two runners in rounds.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from bench.common import EmuServer, Result, create_function, median, spread, verdict
from bench.invoke import _aiohttp_rate

NAME = "containers"
TITLE = "Container runner vs process runner (issue 11)"
IMAGE = "lambda-emu/python:3.11"


def _docker_ready() -> str | None:
    """Why the container benchmark can't run here (None: it can)."""
    try:
        from docker.client import DockerClient

        client = DockerClient.from_env(timeout=10)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:  # noqa: BLE001 - any reason is reported, not raised
        return f"{type(exc).__name__}: {exc} (run `make docker-ready`)"
    return None


def _cold(server: EmuServer, rounds: int) -> tuple[list[float], str]:
    lam = server.client("lambda")
    # One throwaway cold start first (page cache, the docker SDK's import and connection).
    name = create_function(lam, f"bench-ctr-{uuid.uuid4().hex[:8]}", Runtime="python3.11")
    lam.invoke(FunctionName=name, Payload=b"{}")
    times: list[float] = []
    for _ in range(rounds):
        name = f"bench-ctr-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, Runtime="python3.11")
        t0 = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        times.append(time.perf_counter() - t0)
        lam.delete_function(FunctionName=name)
    warm_name = create_function(lam, f"bench-ctr-warm-{uuid.uuid4().hex[:8]}", Runtime="python3.11")
    lam.invoke(FunctionName=warm_name, Payload=b"{}")
    return times, warm_name


def run(quick: bool = False) -> list[Result]:
    reason = _docker_ready()
    if reason is not None:
        return [Result(NAME, "container runner", None, "", verdict="n/a", note=reason)]
    rounds, seconds, cold_rounds = (1, 1.0, 2) if quick else (3, 4.0, 6)
    with EmuServer() as process, EmuServer("--runner", "docker", "--image", f"python3.11={IMAGE}") as docker:
        process_cold, process_fn = _cold(process, cold_rounds)
        docker_cold, docker_fn = _cold(docker, cold_rounds)
        process_rates: list[float] = []
        docker_rates: list[float] = []
        for _ in range(rounds):
            process_rates.append(asyncio.run(_aiohttp_rate(process.endpoint, process_fn, seconds, warmup=20))[0])
            docker_rates.append(asyncio.run(_aiohttp_rate(docker.endpoint, docker_fn, seconds, warmup=20))[0])
    ratio = median(docker_rates) / median(process_rates)
    cold = median(docker_cold)
    return [
        Result(NAME, "container cold start: CreateFunction, then first Invoke → response (median)", cold * 1000,
               "ms", target="≤ 1 s with the image present",
               baseline=f"process runner {median(process_cold) * 1000:.0f} ms",
               verdict=verdict(cold <= 1.0), note=spread(docker_cold, "ms", 1000)),
        Result(NAME, "warm sync Invoke through a container, one caller (median)", median(docker_rates), "invokes/s",
               target="≥ 80 % of the process runner", baseline=f"process runner {median(process_rates):,.0f} invokes/s",
               verdict=verdict(ratio >= 0.8),
               note=f"{ratio * 100:.0f} % of the process runner; rounds {', '.join(f'{r:,.0f}' for r in docker_rates)}"
                    f" vs {', '.join(f'{r:,.0f}' for r in process_rates)}"),
    ]
