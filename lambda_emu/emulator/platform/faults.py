"""Injected platform faults, decided by the run's one seeded RNG (same seed, same run → same decisions).

Lambda runs code at least once, and these are the ways AWS makes that visible, on purpose:

- ``duplicateRate``: an event is delivered once more (same request ID and payload) with nothing failing.
- ``throttleRate``: an attempt is throttled before it runs (429 ``ConcurrentInvocationLimitExceeded``).
- ``serviceErrorRate``: Lambda's own 5xx before the function runs (``ServiceException``).
- ``lostResponseRate``: the function runs to completion, side effects and all, but the platform reports
  the attempt as timed out (``Sandbox.Timedout``), so every retry rule applies.
- ``initFailureRate``: a cold start fails with ``Runtime.ExitError`` before the handler runs.
- ``redeliverDuringProcessingRate`` (SQS mappings): a batch's messages become visible again while the
  function still runs, so a second, concurrent batch receives them.

Each is a probability per attempt, for every function or for one; the RNG is drawn only for a fault
whose rate is above 0, so a run without faults draws nothing. The attempt a fault hit carries
``"fault": "<name>"`` in the journal, and the fault is narrated on lambda-emu's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from lambda_emu.emulator.platform.logging import get_logger

if TYPE_CHECKING:
    import random

FaultName = Literal["duplicateRate", "throttleRate", "serviceErrorRate", "lostResponseRate", "initFailureRate",
                    "redeliverDuringProcessingRate"]
FAULTS: tuple[FaultName, ...] = ("duplicateRate", "throttleRate", "serviceErrorRate", "lostResponseRate",
                                 "initFailureRate", "redeliverDuringProcessingRate")

#: The 500 Lambda answers when its own service fails (botocore's model documents ServiceException so).
SERVICE_ERROR_MESSAGE = "The Lambda service encountered an internal error."
#: What an injected init failure reports: the runtime's process ended during init with status 1.
INIT_FAILURE_STATUS = 1

#: What each fault did, for the narration line.
EFFECTS: dict[str, str] = {
    "duplicateRate": "the event is delivered once more (same request ID and payload)",
    "throttleRate": "the attempt is throttled before it runs",
    "serviceErrorRate": "Lambda's own 5xx (ServiceException) before the function runs",
    "lostResponseRate": "the function completed, but its response is lost: reported as Sandbox.Timedout",
    "initFailureRate": "the cold start fails with Runtime.ExitError before the handler runs",
    "redeliverDuringProcessingRate": "the batch's messages are visible again while the function still runs",
}

log = get_logger("faults")


def parse_fault(text: str) -> tuple[FaultName, float]:
    """``NAME=P`` as ``--fault`` takes it; ValueError names what is wrong."""
    name, sep, value = text.partition("=")
    if not sep or name not in FAULTS:
        raise ValueError(f"--fault takes NAME=P with NAME one of {', '.join(FAULTS)}, not {text!r}")
    try:
        rate = float(value)
    except ValueError:
        raise ValueError(f"--fault {name} must be a probability 0-1, not {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"--fault {name} must be a probability 0-1, not {value}")
    return name, rate


class Faults:
    def __init__(self, rng: random.Random, initial: dict[str, float] | None = None) -> None:
        self.rng = rng
        #: Rates for every function; a function's own rates (only those set for it) override them.
        self.defaults: dict[str, float] = {name: 0.0 for name in FAULTS}
        self.defaults.update(initial or {})
        self.per_function: dict[str, dict[str, float]] = {}
        #: Whether any rate is above 0: without one, an invocation rolls nothing (no RNG is drawn then
        #: either), so the invoker skips its three rolls. Kept by every method that changes a rate.
        self.active = self._any_rate()

    def _any_rate(self) -> bool:
        return any(rate > 0 for rate in self.defaults.values()) or any(
            rate > 0 for rates in self.per_function.values() for rate in rates.values())

    # ---- configuration ----

    def set_rates(self, function_name: str | None, rates: Mapping[str, float]) -> None:
        if function_name is None:
            self.defaults.update(rates)
        else:
            self.per_function.setdefault(function_name, {}).update(rates)
        self.active = self._any_rate()

    def rate(self, function_name: str, fault: FaultName) -> float:
        own = self.per_function.get(function_name)
        if own is not None and fault in own:
            return own[fault]
        return self.defaults[fault]

    def rates_for(self, function_name: str) -> dict[str, float]:
        return {name: self.rate(function_name, name) for name in FAULTS}

    def clear(self, function_name: str | None = None) -> None:
        """No fault (DELETE /_emu/faults, POST /_emu/reset: the rates of ``--fault`` go too); with a name,
        that function's own rates only."""
        if function_name is not None:
            self.per_function.pop(function_name, None)
            self.active = self._any_rate()
            return
        self.defaults = {name: 0.0 for name in FAULTS}
        self.per_function = {}
        self.active = False

    def function_deleted(self, function_name: str) -> None:
        self.per_function.pop(function_name, None)
        self.active = self._any_rate()

    # ---- decisions ----

    def roll(self, function_name: str, fault: FaultName) -> bool:
        """Does ``fault`` hit this attempt? (The RNG is drawn only when its rate is above 0.)"""
        rate = self.rate(function_name, fault)
        return rate > 0 and self.rng.random() < rate

    def roll_duplicate(self, function_name: str) -> bool:
        return self.roll(function_name, "duplicateRate")

    @staticmethod
    def narrate(fault: FaultName, function_name: str, request_id: str) -> None:
        """The terminal line for an injected fault (lambda-emu's own log, on stderr)."""
        log.info(f"fault {fault}: {EFFECTS[fault]}", function=function_name, request_id=request_id)

    # ---- /_emu/faults ----

    def to_json(self) -> dict[str, Any]:
        return {
            **self.defaults,
            "functions": [{"functionName": name, **rates} for name, rates in sorted(self.per_function.items())],
        }
