"""The emulator: one object that owns every room (clock, journal, functions, services) for one run."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from lambda_emu.config import EmulatorConfig
from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.logs import LogListener
    from lambda_emu.emulator.services.base import Service
    from lambda_emu.emulator.services.lambda_.functions import Function

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
        self.services = Services(self)
        self._build_rooms()

    def _build_rooms(self) -> None:
        from lambda_emu.emulator.invocation.destinations import Destinations
        from lambda_emu.emulator.invocation.environments import Environments
        from lambda_emu.emulator.invocation.invoker import Invoker
        from lambda_emu.emulator.platform.faults import Faults
        from lambda_emu.emulator.platform.journal import Journal
        from lambda_emu.emulator.services.control.api import ControlService
        from lambda_emu.emulator.services.lambda_.functions import FunctionRegistry
        from lambda_emu.event_sources.async_queue import AsyncQueue
        from lambda_emu.event_sources.mappings import EventSourceMappings
        from lambda_emu.runtime_api.api import RuntimeApiServer
        from lambda_emu.runtime_api.runners.orphans import OrphanRegistry
        from lambda_emu.runtime_api.runners.process import ProcessRunner

        self.journal = Journal(self.clock)
        self.functions = FunctionRegistry(self.region, self.account_id, self.state_dir / "code")
        self.orphans = OrphanRegistry()
        self.runner = ProcessRunner(self.orphans)
        self.runtime_api = RuntimeApiServer("127.0.0.1")
        self.environments = Environments(self)
        self.invoker = Invoker(self)
        self.async_queue = AsyncQueue(self)
        self.destinations = Destinations(self)
        self.faults = Faults(self)
        self.event_source_mappings = EventSourceMappings(self)
        self.control = ControlService(self)
        self._log_listeners: list[LogListener] = []
        self._build_services()

    def _build_services(self) -> None:
        from lambda_emu.emulator.services.lambda_.api import LambdaService

        self.services["lambda"] = LambdaService(self)

    # ---- hooks between rooms ----

    def add_log_listener(self, listener: LogListener) -> None:
        self._log_listeners.append(listener)

    def function_output(self, function_name: str, chunk: bytes) -> None:
        """Function output as it happens (the terminal view listens here)."""
        for listener in self._log_listeners:
            listener(function_name, chunk)

    def function_deleted(self, function: Function) -> None:
        self.async_queue.function_deleted(function)
        self.faults.function_deleted(function.name)

    def concurrency_changed(self, function: Function) -> None:
        self.async_queue.wake(function)

    def check_dead_letter_target(self, function: Function, target: str | None) -> None:
        """DLQ targets must be SQS queues or SNS topics (spec §2.3)."""
        if target is None:
            return
        from lambda_emu.emulator.invocation.destinations import check_dead_letter_target

        check_dead_letter_target(self, function, target)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    async def start(self) -> None:
        killed = self.orphans.reap_stale()
        if killed:
            log.info("killed runtime processes a previous run left behind", count=killed)
        await self.runtime_api.start()
        for service in self.services.values():
            await service.start()

    async def stop(self) -> None:
        await self.event_source_mappings.stop()
        await self.async_queue.stop()
        await self.environments.shutdown_all()
        await self.runtime_api.stop()
        self.orphans.close()
        for service in reversed(list(self.services.values())):
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - shutdown must reach every room
                log.exception("service stop failed", service=service.service_name)
        self.clock.close()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


class Services(dict[str, "Service"]):
    """The AWS services of the run. SQS and Kinesis (and their stores) are built on first use, which
    keeps them off the start-up path; a service built that way must not need ``start()``."""

    def __init__(self, emu: Emulator) -> None:
        super().__init__()
        self._emu = emu

    def __missing__(self, name: str) -> Service:
        if name == "sqs":
            from lambda_emu.emulator.services.sqs.api import SqsService

            service: Service = SqsService(self._emu)
        elif name == "kinesis":
            from lambda_emu.emulator.services.kinesis.api import KinesisService

            service = KinesisService(self._emu)
        else:
            raise KeyError(name)
        self[name] = service
        return service

    def get(self, name: str, default: Service | None = None) -> Service | None:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default
