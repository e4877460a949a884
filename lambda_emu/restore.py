"""--state-dir: opening DIR/state.db, writing the clock and the journal through to it, and a run's state
rebuilt from it before any request is served.

The composition root (app.py) decides which room restores which kinds of record; this module holds the
mechanism and the order (layers, functions, the services that hold records, the journal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.invocation.layers import LayerStore
    from lambda_emu.emulator.platform.clock import Clock
    from lambda_emu.emulator.platform.journal import Attempt, Journal, JournalEvent
    from lambda_emu.emulator.platform.state import StateStore

#: A service's kinds of record and how it restores them (its store is built only when it holds some).
ServiceRestore = tuple[tuple[str, ...], Callable[[], None]]


def open_state(state_dir: Path, clock: Clock) -> tuple[StateStore, bool]:
    """DIR/state.db and whether it held an earlier run's state; the clock is back where that run left
    it, and saved with every commit from now on."""
    from lambda_emu import __version__
    from lambda_emu.emulator.platform.state import StateStore

    state = StateStore(state_dir, __version__)
    restored = not state.empty()
    saved = state.get("meta", "clock")
    if saved is not None:
        clock.restore_time(saved)
    state.on_commit.append(_ClockSaver(state, clock))
    state.commit()
    return state, restored


class _ClockSaver:
    """The clock, written at a commit when it moved (a scaled clock: whenever anything else is written)."""

    def __init__(self, state: StateStore, clock: Clock) -> None:
        self.state = state
        self.clock = clock
        self._clock_mark: tuple[float | None, float] | None = None

    def __call__(self) -> None:
        saved = self.clock.saved_time()
        mark = (saved["now"] if self.clock.mode == "manual" else None, saved["offset"])
        if mark != self._clock_mark or (self.clock.mode == "scaled" and self.state.pending):
            self._clock_mark = mark
            self.state.put("meta", "clock", lambda: saved)


def attempt_saver(state: StateStore, journal: Journal) -> Callable[[JournalEvent, Attempt], None]:
    """The journal, written through: each attempt as it begins, finishes and gets its decision."""

    def save_attempt(what: JournalEvent, attempt: Attempt) -> None:
        from lambda_emu.emulator.platform.journal import attempt_record

        state.put("attempt", f"{attempt.sequence:012d}", lambda: attempt_record(attempt))
        if what == "begin" and attempt.sequence > journal.size:
            # The journal is bounded: the attempt that just rolled out of it goes from the state too.
            state.delete("attempt", f"{attempt.sequence - journal.size:012d}")

    return save_attempt


def restore_state(state: StateStore, layers: LayerStore, functions: FunctionRegistry, journal: Journal,
                  services: Sequence[ServiceRestore]) -> None:
    """What the state directory holds, rebuilt in dependency order: layers, functions (with their layer
    versions), each service that holds records (in the order given), the journal."""
    layers.restore()
    functions.restore(layers.restored_layers)
    for kinds, restore in services:
        if any(next(state.load(kind), None) is not None for kind in kinds):
            restore()
    from lambda_emu.emulator.platform.journal import attempt_from_record

    journal.restore([attempt_from_record(record) for _key, record in state.load("attempt")])
