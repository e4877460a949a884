"""Event source mappings in motion: the registry of the run's mappings and the driver polling for each.

A mapping's configuration, as Lambda's API keeps and reports it, is
:class:`~lambda_emu.emulator.services.lambda_.mappings.EventSourceMapping`.

A driver is started per mapping (``EventSourceDriver``): SQS queues get an SQS poller, Kinesis
streams a stream poller. Drivers are event-driven: they wake on new data or on a clock timer and run
their work as tracked clock tasks, so a manual clock can settle. Each owns its retry policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Protocol

from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.logging import get_logger
from lambda_emu.emulator.services.lambda_.mappings import EventSourceMapping

if TYPE_CHECKING:
    from lambda_emu.emulator.platform.state import StateStore

log = get_logger("mappings")


class EventSourceDriver(Protocol):
    def start(self) -> None:
        """Begin polling (called when the mapping is enabled)."""

    async def stop(self) -> None:
        """Stop polling and cancel timers; in-flight batches may finish."""

    def reconfigure(self) -> None:
        """The mapping's settings changed (UpdateEventSourceMapping)."""


class EventSourceMappings:
    """Every mapping of the run, and the driver polling for each enabled one."""

    def __init__(self, clock: Clock, driver: Callable[[EventSourceMapping], EventSourceDriver],
                 state: StateStore | None = None) -> None:
        self.clock = clock
        self._state = state
        #: Builds the driver of an enabled mapping (the composition root hands each what it uses).
        self.driver = driver
        self.mappings: dict[str, EventSourceMapping] = {}
        self.drivers: dict[str, EventSourceDriver] = {}

    def __iter__(self) -> Iterator[EventSourceMapping]:
        return iter(list(self.mappings.values()))

    def get(self, uuid: str) -> EventSourceMapping | None:
        return self.mappings.get(uuid)

    # ---- the state directory (--state-dir) ----

    def saved(self, mapping: EventSourceMapping) -> None:
        """Write the mapping through (settings, state, and a stream mapping's checkpoints)."""
        state = self._state
        if state is not None and self.mappings.get(mapping.uuid) is mapping:
            state.put("esm", mapping.uuid, lambda: asdict(mapping))

    def restore(self) -> None:
        """Mappings of the state directory; each enabled one starts polling again (a stream mapping from
        its checkpoints, an SQS mapping from whatever its queue holds)."""
        state = self._state
        if state is None:
            return
        known = {f.name for f in fields(EventSourceMapping)}
        for _key, record in state.load("esm"):
            mapping = EventSourceMapping(**{k: v for k, v in record.items() if k in known})
            self.mappings[mapping.uuid] = mapping
            self.clock.spawn(self._settle_state(mapping), name=f"esm-state:{mapping.uuid}")

    def add(self, mapping: EventSourceMapping) -> None:
        self.mappings[mapping.uuid] = mapping
        if not mapping.enabled:
            mapping.state = "Disabled"  # AWS answers a mapping created with Enabled=False as Disabled at once
        self.saved(mapping)
        # Creating → Enabled/Disabled right after the response, as AWS does within seconds.
        self.clock.spawn(self._settle_state(mapping), name=f"esm-state:{mapping.uuid}")

    async def _settle_state(self, mapping: EventSourceMapping) -> None:
        if mapping.uuid not in self.mappings:
            return
        mapping.state = "Enabled" if mapping.enabled else "Disabled"
        self.saved(mapping)
        driver = self.drivers.get(mapping.uuid)
        if mapping.enabled and driver is None:
            driver = self.driver(mapping)
            self.drivers[mapping.uuid] = driver
            driver.start()
        elif mapping.enabled and driver is not None:
            driver.reconfigure()
        elif not mapping.enabled and driver is not None:
            del self.drivers[mapping.uuid]
            await driver.stop()

    def updated(self, mapping: EventSourceMapping) -> None:
        # AWS answers an update that turns the mapping on as Enabling, one that turns it off as
        # Disabling, and any other as Updating; the settled state follows.
        if mapping.enabled and mapping.state == "Disabled":
            mapping.state = "Enabling"
        elif not mapping.enabled and mapping.state == "Enabled":
            mapping.state = "Disabling"
        else:
            mapping.state = "Updating"
        self.saved(mapping)
        self.clock.spawn(self._settle_state(mapping), name=f"esm-state:{mapping.uuid}")

    async def remove(self, mapping: EventSourceMapping) -> None:
        mapping.state = "Deleting"
        self.mappings.pop(mapping.uuid, None)
        if self._state is not None:
            self._state.delete("esm", mapping.uuid)
        driver = self.drivers.pop(mapping.uuid, None)
        if driver is not None:
            await driver.stop()

    async def reset(self) -> None:
        """Stop every driver and forget every mapping (``POST /_emu/reset``)."""
        await self.stop()
        self.mappings = {}

    async def stop(self) -> None:
        drivers = list(self.drivers.values())
        self.drivers.clear()
        for driver in drivers:
            try:
                await driver.stop()
            except Exception:  # noqa: BLE001 - shutdown reaches every driver
                log.exception("driver stop failed")
