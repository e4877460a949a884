"""lambda-emu's own configuration (CLI flags and defaults).

A dataclass with explicit checks rather than a pydantic model: importing pydantic costs ~75 ms, a
quarter of the start-up budget (`lambda-emu up` to healthy ≤ 0.3 s), and every value here comes from
argparse or from code. pydantic still validates what users send to /_emu and templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CLOCK_MODES = ("real", "scaled", "manual")
RUNNERS = ("process", "docker")


class ConfigError(ValueError):
    """A setting out of range; the message names it."""


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    # 3001 is `sam local start-lambda`'s default, so existing test setups keep working.
    port: int = 3001
    region: str = "us-east-1"
    account_id: str = "000000000000"
    clock: Literal["real", "scaled", "manual"] = "real"
    time_scale: float = 1.0
    seed: int = 0
    duplicate_rate: float = 0.0
    #: Injected platform faults from the start (``--fault NAME=P``), by name (platform/faults.py).
    faults: dict[str, float] = field(default_factory=dict)
    # Wall seconds an execution environment may sit idle before it is shut down.
    idle_timeout: float = 300.0
    # The account-level concurrency limit (AWS's default quota is 1,000).
    account_concurrency: int = 1000
    # Pollers serving each function's async queue (each may hold an execution environment).
    async_concurrency: int = 5
    # process: runtimes as local processes; docker: every function in a container (runners/docker.py).
    # PackageType Image functions run in containers whatever the runner.
    runner: Literal["process", "docker"] = "process"
    #: --image RUNTIME=IMAGE: the container image of a runtime (default AWS's base image).
    images: dict[str, str] = field(default_factory=dict)
    #: The address containers reach lambda-emu at: 127.0.0.1 on the host network (Linux); Docker
    #: Desktop users set host.docker.internal (containers then use Docker's default network).
    container_host: str = "127.0.0.1"
    template: Path | None = None
    # Where extracted code and the run's bookkeeping live; a temporary directory when unset.
    state_dir: Path | None = None
    # Print function output (prefixed by function name) to the terminal.
    echo_function_logs: bool = False
    # Host names besides loopback and --host that requests may name (--allow-host, repeatable).
    allow_hosts: tuple[str, ...] = ()
    # Web origins besides loopback ones that may call lambda-emu (--allow-origin, repeatable).
    allow_origins: tuple[str, ...] = ()
    # The journal keeps this many attempts (oldest dropped first) and payloads up to this many bytes.
    journal_size: int = 10_000
    journal_payload_limit: int = 262_144
    # Append every event entering lambda-emu to this file as JSON lines (`up --record`).
    record: Path | None = None
    # Where runtime directories and installed requirements are cached across runs (default ~/.cache/lambda-emu).
    cache_dir: Path | None = None
    # --python 3.X=PATH: the interpreter of a python3.X runtime, instead of searching for one.
    pythons: dict[str, Path] = field(default_factory=dict)
    # Install a template function's requirements.txt (--no-install turns it off).
    install_requirements: bool = True
    # Watch template code folders and retire environments after an edit (--no-reload turns it off).
    reload: bool = True
    #: --creation-delays: resources go through AWS's transitional states (streams CREATING/UPDATING,
    #: functions Pending/InProgress, tables CREATING) for AWS-like durations on the platform clock;
    #: without it they are ready at once.
    creation_delays: bool = False

    @property
    def cache_root(self) -> Path:
        return self.cache_dir or Path.home() / ".cache" / "lambda-emu"

    def __post_init__(self) -> None:
        _check(0 <= self.port <= 65535, f"port must be 0-65535, not {self.port}")
        _check(bool(re.fullmatch(r"\d{12}", self.account_id)), f"account id must be 12 digits, not {self.account_id!r}")
        _check(bool(re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region)), f"not a region name: {self.region!r}")
        _check(self.clock in CLOCK_MODES, f"clock must be one of {', '.join(CLOCK_MODES)}, not {self.clock!r}")
        _check(self.time_scale > 0, f"time scale must be positive, not {self.time_scale}")
        _check(0.0 <= self.duplicate_rate <= 1.0, f"duplicate rate must be 0-1, not {self.duplicate_rate}")
        for name, rate in self.faults.items():
            _check(0.0 <= rate <= 1.0, f"fault {name} must be a probability 0-1, not {rate}")
        _check(self.idle_timeout > 0, f"idle timeout must be positive, not {self.idle_timeout}")
        _check(self.account_concurrency >= 1, f"account concurrency must be >= 1, not {self.account_concurrency}")
        _check(1 <= self.async_concurrency <= 1000, f"async concurrency must be 1-1000, not {self.async_concurrency}")
        _check(self.journal_size >= 1, f"journal size must be >= 1, not {self.journal_size}")
        _check(self.journal_payload_limit >= 0,
               f"journal payload limit must be >= 0, not {self.journal_payload_limit}")
        for version in self.pythons:
            _check(bool(re.fullmatch(r"3\.\d+", version)), f"--python takes 3.X=PATH, not {version!r}")
        _check(self.runner in RUNNERS, f"runner must be one of {', '.join(RUNNERS)}, not {self.runner!r}")
        for runtime, image in self.images.items():
            _check(bool(runtime) and bool(image), f"--image takes RUNTIME=IMAGE, not {runtime}={image}")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
