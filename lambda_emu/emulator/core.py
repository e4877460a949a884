"""The emulator: one object that owns every room (clock, journal, functions, services) for one run."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_emu.config import EmulatorConfig
from lambda_emu.emulator.clock import Clock
from lambda_emu.emulator.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.services.base import Service

log = get_logger("emulator")


class Emulator:
    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.region = self.config.region
        self.account_id = self.config.account_id
        self.clock = Clock(self.config.clock, self.config.time_scale)
        # One seeded RNG for jitter and injected faults: same seed, same run.
        self.rng = random.Random(self.config.seed)
        self._own_state_dir = self.config.state_dir is None
        self.state_dir = Path(self.config.state_dir or tempfile.mkdtemp(prefix="lambda-emu-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Set once the HTTP server is bound (port 0 picks a free port).
        self.host = self.config.host
        self.port = self.config.port
        self.services: dict[str, Service] = {}
        self._build_rooms()

    def _build_rooms(self) -> None:
        from lambda_emu.emulator.journal import Journal

        self.journal = Journal(self.clock)
        self._build_services()

    def _build_services(self) -> None:
        from lambda_emu.emulator.services.kinesis import KinesisService
        from lambda_emu.emulator.services.sqs import SqsService

        for service in (SqsService(self), KinesisService(self)):
            self.services[service.service_name] = service

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    async def start(self) -> None:
        for service in self.services.values():
            await service.start()

    async def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - shutdown must reach every room
                log.exception("service stop failed", service=service.service_name)
        self.clock.close()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
