"""lambda-emu's own configuration (CLI flags and defaults), validated with pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class EmulatorConfig(BaseModel):
    host: str = "127.0.0.1"
    # 3001 is `sam local start-lambda`'s default, so existing test setups keep working.
    port: int = Field(3001, ge=0, le=65535)
    region: str = "us-east-1"
    account_id: str = Field("000000000000", pattern=r"^\d{12}$")
    clock: Literal["real", "scaled", "manual"] = "real"
    time_scale: float = Field(1.0, gt=0)
    seed: int = 0
    duplicate_rate: float = Field(0.0, ge=0.0, le=1.0)
    # Wall seconds an execution environment may sit idle before it is shut down.
    idle_timeout: float = Field(300.0, gt=0)
    # The account-level concurrency limit (AWS's default quota is 1,000).
    account_concurrency: int = Field(1000, ge=1)
    # Pollers serving each function's async queue (each may hold an execution environment).
    async_concurrency: int = Field(5, ge=1, le=1000)
    runner: Literal["process", "docker"] = "process"
    template: Path | None = None
    # Where extracted code and the run's bookkeeping live; a temporary directory when unset.
    state_dir: Path | None = None
    # Print function output (prefixed by function name) to the terminal.
    echo_function_logs: bool = False
